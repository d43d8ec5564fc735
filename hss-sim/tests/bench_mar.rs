//! Load benchmark, ignored by default: MAR/MAA round trips per second over loopback TCP between
//! the diameter crate's client node and hss-sim, with many requests in flight.
//!
//! ```text
//! cargo test -p hss-sim --release --test bench_mar -- --ignored --nocapture
//! ```
//!
//! Knobs (environment): `HSS_BENCH_REQUESTS` (default 20000), `HSS_BENCH_IN_FLIGHT` (256),
//! `HSS_BENCH_USERS` (200), `HSS_BENCH_DB_URL` (default: an SQLite file in the temp directory).
//! It prints the rate; it asserts only that every answer was DIAMETER_SUCCESS.

use bytes::Bytes;
use hss_sim::config::{AuthenticationConfig, ServerCapabilities};
use hss_sim::cx::Hss;
use hss_sim::server::start_diameter;
use hss_sim::store::{Store, WriteMode};
use hss_sim::subscriber::Subscriber;
use hss_sim::wire::CxServer;
use ims_diameter::base::AnswerResult;
use ims_diameter::cx::{
    MultimediaAuthAnswer, MultimediaAuthRequest, RequestCommon, SipAuthDataItem,
};
use ims_diameter::driver::{DiameterNode, NodeConfig, PeerSpec};
use ims_diameter::peer::capabilities::{node_capabilities, with_cx};
use ims_diameter::{ApplicationId, Command, ResultCode};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn user(i: usize) -> Subscriber {
    serde_json::from_value(serde_json::json!({
        "impi": format!("bench{i}@ims.example"),
        "k": "a54dca182530bb1d6d132cded6237b2e",
        "opc": "7c2999fdafe593253cd654af4dfad714",
        "service_profiles": [{ "public_identities": [{ "identity": format!("sip:bench{i}@ims.example") }] }]
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn mar_round_trips_per_second() {
    let requests = env("HSS_BENCH_REQUESTS", 20_000);
    let in_flight = env("HSS_BENCH_IN_FLIGHT", 256);
    let users = env("HSS_BENCH_USERS", 200).max(1);
    let temp_db = std::env::temp_dir().join(format!("hss-bench-{}.db", std::process::id()));
    let url = std::env::var("HSS_BENCH_DB_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", temp_db.display()));
    let store = Store::connect(&url).await.unwrap();
    for i in 0..users {
        store
            .put_subscriber(&user(i), WriteMode::Upsert)
            .await
            .unwrap();
    }
    let hss = Hss::new(
        store,
        ServerCapabilities::default(),
        AuthenticationConfig::default(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hss_node = start_diameter(
        CxServer::new(hss, "hss.ims.example", "ims.example"),
        listener,
        "ims.example",
    );

    let mut config = NodeConfig::new(with_cx(node_capabilities(
        "scscf.ims.example",
        "ims.example",
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    )));
    config.peers.push(PeerSpec {
        host: "hss.ims.example".into(),
        address: Some(addr),
    });
    config
        .routes
        .add_route("ims.example", ApplicationId::CX.0, ["hss.ims.example"]);
    let scscf = DiameterNode::start(config, None);
    let client = scscf.client();
    for _ in 0..500 {
        if client.peers().await.iter().any(|p| p.available) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let limit = Arc::new(Semaphore::new(in_flight));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(requests);
    for n in 0..requests {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let i = n % users;
            let mar = MultimediaAuthRequest {
                common: RequestCommon {
                    session_id: format!("scscf.ims.example;bench;{n}"),
                    origin_host: "scscf.ims.example".into(),
                    origin_realm: "ims.example".into(),
                    destination_host: None,
                    destination_realm: "ims.example".into(),
                    supported_features: Vec::new(),
                },
                user_name: format!("bench{i}@ims.example"),
                public_identity: format!("sip:bench{i}@ims.example"),
                sip_auth_data_item: SipAuthDataItem {
                    sip_authentication_scheme: Some("Digest-AKAv1-MD5".into()),
                    ..Default::default()
                },
                sip_number_auth_items: 1,
                server_name: "sip:scscf.ims.example:6060".into(),
                extra: Vec::new(),
            };
            let answer = client.request(mar.to_message(0, 0)).await.unwrap();
            drop(permit);
            let maa = MultimediaAuthAnswer::from_message(&answer).unwrap();
            let ok = maa.common.result == AnswerResult::Base(ResultCode::SUCCESS)
                && maa
                    .sip_auth_data_items
                    .first()
                    .and_then(|i| i.sip_authenticate.as_ref())
                    .map(Bytes::len)
                    == Some(32);
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    let rate = requests as f64 / elapsed.as_secs_f64();
    println!(
        "MAR/MAA: {requests} round trips, {in_flight} in flight, {users} users, {url}: {:.2?} => {rate:.0}/s",
        elapsed
    );
    assert_eq!(ok, requests);
    scscf.shutdown().await;
    hss_node.shutdown().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", temp_db.display()));
    }
}
