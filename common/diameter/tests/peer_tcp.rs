//! The tokio driver over real loopback TCP: CER/CEA, DWR/DWA, requests, watchdog failover when
//! the primary server dies, failback when it returns, and requests in flight across failover.
//!
//! Timers are shortened (Tw 250 ms) so the tests run quickly; no test asserts how long anything
//! took, they only wait (bounded) for the states the RFCs prescribe.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ims_diameter::avp::{code, Avp, VendorId};
use ims_diameter::driver::{
    handler, BoxFuture, BoxStream, DiameterClient, DiameterNode, NodeConfig, PeerSpec, PeerStatus,
    Tcp, Timers, Transport,
};
use ims_diameter::header::{ApplicationId, CommandCode, Header};
use ims_diameter::message::Message;
use ims_diameter::peer::{
    node_capabilities, wire, with_cx, Capabilities, DisconnectCause, PeerState, WatchdogState,
};
use ims_diameter::result::ResultCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

const REALM: &str = "example.net";

fn caps(host: &str) -> Capabilities {
    with_cx(node_capabilities(
        host,
        REALM,
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    ))
}

fn timers() -> Timers {
    Timers {
        tw_init: Duration::from_millis(250),
        tw_jitter: Duration::from_millis(20),
        reconnect_initial: Duration::from_millis(50),
        tc: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(2),
        cea_timeout: Duration::from_secs(2),
        dpa_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(10),
    }
}

/// What a test server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    retransmitted: AtomicUsize,
}

/// An HSS-like server named `host`; requests whose Session-Id starts with "hold" are never
/// answered when `hold` is set (so they stay in flight).
fn server(host: &'static str, listener: TcpListener, seen: Arc<Seen>, hold: bool) -> DiameterNode {
    let mut config = NodeConfig::new(caps(host));
    config.accept_unknown_peers = true;
    config.timers = timers();
    config.seed = Some(1);
    config.handler = Some(handler(move |request: Message| {
        let seen = seen.clone();
        async move {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            if request.header.flags.is_retransmit() {
                seen.retransmitted.fetch_add(1, Ordering::SeqCst);
            }
            let held = request.session_id().is_some_and(|s| s.starts_with("hold"));
            if hold && held {
                std::future::pending::<()>().await;
            }
            Message::answer_to(&request)
                .with(Avp::unsigned32(code::RESULT_CODE, VendorId::IETF, 2001))
                .with(Avp::diameter_identity(
                    code::ORIGIN_HOST,
                    VendorId::IETF,
                    host,
                ))
                .with(Avp::diameter_identity(
                    code::ORIGIN_REALM,
                    VendorId::IETF,
                    REALM,
                ))
        }
    }));
    DiameterNode::start(config, Some(listener))
}

fn client(servers: &[(&str, SocketAddr)]) -> DiameterNode {
    let mut config = NodeConfig::new(caps("scscf.example.net"));
    config.timers = timers();
    config.seed = Some(2);
    for (host, addr) in servers {
        config.peers.push(PeerSpec {
            host: (*host).to_owned(),
            address: Some(*addr),
        });
    }
    config.routes.add_route(
        REALM,
        ApplicationId::CX.0,
        servers.iter().map(|(h, _)| (*h).to_owned()),
    );
    DiameterNode::start(config, None)
}

fn uar(session: &str) -> Message {
    Message::new(Header::request(
        CommandCode::USER_AUTHORIZATION,
        ApplicationId::CX,
        true,
        0,
        0,
    ))
    .with(Avp::utf8_string(code::SESSION_ID, VendorId::IETF, session))
    .with(Avp::diameter_identity(
        code::ORIGIN_HOST,
        VendorId::IETF,
        "scscf.example.net",
    ))
    .with(Avp::diameter_identity(
        code::ORIGIN_REALM,
        VendorId::IETF,
        REALM,
    ))
    .with(Avp::diameter_identity(
        code::DESTINATION_REALM,
        VendorId::IETF,
        REALM,
    ))
}

fn answered_by(answer: &Message) -> String {
    wire::origin_host(answer).unwrap_or_default().to_owned()
}

/// Waits (bounded) until `pred` holds for the client's peer table.
async fn wait_for(client: &DiameterClient, what: &str, pred: impl Fn(&[PeerStatus]) -> bool) {
    for _ in 0..500 {
        let peers = client.peers().await;
        if pred(&peers) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {:?}", client.peers().await);
}

fn available(peers: &[PeerStatus], host: &str) -> bool {
    peers.iter().any(|p| p.host == host && p.available)
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback")
}

#[tokio::test]
async fn cer_cea_watchdog_and_many_requests_in_flight() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let hss = server("hss1.example.net", l, seen.clone(), false);
    let node = client(&[("hss1.example.net", addr)]);
    let c = node.client();
    wait_for(&c, "hss1 open", |p| available(p, "hss1.example.net")).await;
    let status = c.peers().await;
    assert_eq!(status[0].state, PeerState::IOpen);

    let mut set = JoinSet::new();
    for i in 0..100 {
        let c = c.clone();
        set.spawn(async move {
            let session = format!("s;{i}");
            let answer = c.request(uar(&session)).await.expect("answer");
            (session, answer)
        });
    }
    let mut n = 0;
    let mut end_to_end = std::collections::HashSet::new();
    while let Some(joined) = set.join_next().await {
        let (session, answer) = joined.unwrap();
        // RFC 6733 §3: each originated request has its own End-to-End Identifier.
        assert!(end_to_end.insert(answer.header.end_to_end));
        assert_eq!(answer.session_id(), Some(session.as_str()));
        assert_eq!(answer.result_code(), Some(ResultCode::SUCCESS));
        assert!(!answer.header.is_request());
        n += 1;
    }
    assert_eq!(n, 100);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 100);

    // Idle: both sides send DWRs every Tw and get DWAs.
    wait_for(&c, "DWAs from hss1", |p| {
        p[0].watchdog_counts.dwa_received >= 2
    })
    .await;
    let server_side = hss.client().peers().await;
    assert_eq!(server_side.len(), 1);
    assert_eq!(server_side[0].host, "scscf.example.net");
    assert_eq!(server_side[0].state, PeerState::ROpen);
    assert!(server_side[0].watchdog_counts.dwr_received >= 1);

    node.shutdown().await;
    hss.shutdown().await;
}

#[tokio::test]
async fn unknown_peer_gets_3010_and_is_disconnected() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let mut config = NodeConfig::new(caps("hss1.example.net"));
    config.timers = timers();
    let hss = DiameterNode::start(config, Some(l));

    let mut stream = TcpStream::connect(addr).await.unwrap();
    let cer = wire::cer(&caps("stranger.example.net"), 9, 10);
    stream.write_all(&cer.encode()).await.unwrap();
    let mut buf = Vec::new();
    // The server answers and closes: read to EOF.
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("server closes the connection")
        .unwrap();
    let cea = Message::decode(&buf).expect("one CEA");
    assert_eq!(cea.header.command_code, CommandCode::CAPABILITIES_EXCHANGE);
    assert_eq!(cea.result_code(), Some(ResultCode::UNKNOWN_PEER));
    assert!(cea.header.flags.is_error());
    assert_eq!(cea.header.hop_by_hop, 9);
    hss.shutdown().await;
}

#[tokio::test]
async fn no_common_application_gets_5010() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let hss = server("hss1.example.net", l, Arc::new(Seen::default()), false);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut other = node_capabilities(
        "ocs.example.net",
        REALM,
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    );
    other.auth_application_ids.push(ApplicationId(4));
    stream
        .write_all(&wire::cer(&other, 1, 2).encode())
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("server closes the connection")
        .unwrap();
    let cea = Message::decode(&buf).expect("one CEA");
    assert_eq!(cea.result_code(), Some(ResultCode::NO_COMMON_APPLICATION));
    hss.shutdown().await;
}

#[tokio::test]
async fn failover_to_secondary_and_failback_to_primary() {
    let l1 = listener().await;
    let addr1 = l1.local_addr().unwrap();
    let l2 = listener().await;
    let addr2 = l2.local_addr().unwrap();
    let hss1 = server("hss1.example.net", l1, Arc::new(Seen::default()), false);
    let hss2 = server("hss2.example.net", l2, Arc::new(Seen::default()), false);
    let node = client(&[("hss1.example.net", addr1), ("hss2.example.net", addr2)]);
    let c = node.client();
    wait_for(&c, "both open", |p| {
        available(p, "hss1.example.net") && available(p, "hss2.example.net")
    })
    .await;
    let a = c.request(uar("before")).await.unwrap();
    assert_eq!(answered_by(&a), "hss1.example.net", "primary first");

    // The primary dies: its task, listener and connections go away without DPR.
    hss1.abort();
    wait_for(&c, "hss1 down", |p| !available(p, "hss1.example.net")).await;
    let a = c.request(uar("during")).await.unwrap();
    assert_eq!(answered_by(&a), "hss2.example.net", "failover to secondary");

    // It comes back on the same address: the client reconnects (backoff), goes through
    // REOPEN (three DWAs) and fails back.
    let l1 = TcpListener::bind(addr1)
        .await
        .expect("rebind primary address");
    let hss1 = server("hss1.example.net", l1, Arc::new(Seen::default()), false);
    wait_for(&c, "hss1 reconnected in REOPEN", |p| {
        p.iter().any(|p| {
            p.host == "hss1.example.net"
                && p.state == PeerState::IOpen
                && p.watchdog == WatchdogState::Reopen
                && !p.available
        })
    })
    .await;
    let a = c.request(uar("reopen")).await.unwrap();
    assert_eq!(
        answered_by(&a),
        "hss2.example.net",
        "no traffic before failback"
    );
    wait_for(&c, "hss1 failback", |p| available(p, "hss1.example.net")).await;
    let status = c.peers().await;
    let primary = status
        .iter()
        .find(|p| p.host == "hss1.example.net")
        .unwrap();
    assert!(primary.watchdog_counts.dwa_received >= 3);
    let a = c.request(uar("after")).await.unwrap();
    assert_eq!(answered_by(&a), "hss1.example.net", "failback to primary");

    node.shutdown().await;
    hss1.shutdown().await;
    hss2.shutdown().await;
}

#[tokio::test]
async fn requests_in_flight_are_retransmitted_to_the_alternate_with_t_flag() {
    let l1 = listener().await;
    let addr1 = l1.local_addr().unwrap();
    let l2 = listener().await;
    let addr2 = l2.local_addr().unwrap();
    let seen1 = Arc::new(Seen::default());
    let seen2 = Arc::new(Seen::default());
    let hss1 = server("hss1.example.net", l1, seen1.clone(), true);
    let hss2 = server("hss2.example.net", l2, seen2.clone(), false);
    let node = client(&[("hss1.example.net", addr1), ("hss2.example.net", addr2)]);
    let c = node.client();
    wait_for(&c, "both open", |p| {
        available(p, "hss1.example.net") && available(p, "hss2.example.net")
    })
    .await;

    let mut set = JoinSet::new();
    for i in 0..5 {
        let c = c.clone();
        // The primary holds these; only the alternate answers them.
        set.spawn(async move { c.request(uar(&format!("hold;{i}"))).await });
    }
    for _ in 0..500 {
        if seen1.requests.load(Ordering::SeqCst) == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen1.requests.load(Ordering::SeqCst),
        5,
        "all five held by hss1"
    );
    assert_eq!(seen2.requests.load(Ordering::SeqCst), 0);
    hss1.abort();
    while let Some(joined) = set.join_next().await {
        let answer = joined.unwrap().expect("answered after failover");
        assert_eq!(answered_by(&answer), "hss2.example.net");
    }
    assert_eq!(
        seen2.retransmitted.load(Ordering::SeqCst),
        5,
        "T flag on each"
    );
    node.shutdown().await;
    hss2.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_sends_dpr_and_unroutable_requests_get_3002_3003() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let hss = server("hss1.example.net", l, Arc::new(Seen::default()), false);
    let node = client(&[("hss1.example.net", addr)]);
    let c = node.client();
    wait_for(&c, "open", |p| available(p, "hss1.example.net")).await;
    let h = hss.client();
    for _ in 0..500 {
        if h.peers().await.iter().any(|p| p.state == PeerState::ROpen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Unknown realm: 3003.
    let mut other = uar("x");
    other
        .avps
        .retain(|a| !a.is(code::DESTINATION_REALM, VendorId::IETF));
    other.push(Avp::diameter_identity(
        code::DESTINATION_REALM,
        VendorId::IETF,
        "elsewhere.net",
    ));
    let err = c.request(other.clone()).await.unwrap_err();
    assert_eq!(err.result_code(), ResultCode::REALM_NOT_SERVED);
    let relayed = err.answer_to(&other, &caps("icscf.example.net"));
    assert_eq!(relayed.result_code(), Some(ResultCode::REALM_NOT_SERVED));
    assert!(relayed.header.flags.is_error());
    assert_eq!(relayed.session_id(), Some("x"));

    // The server leaves with DPR (DO_NOT_WANT_TO_TALK_TO_YOU): the client answers DPA, closes,
    // and requests to the realm now get 3002.
    hss.shutdown_with(DisconnectCause::DO_NOT_WANT_TO_TALK_TO_YOU)
        .await;
    wait_for(&c, "client closed", |p| p[0].state == PeerState::Closed).await;
    let err = c.request(uar("y")).await.unwrap_err();
    assert_eq!(err.result_code(), ResultCode::UNABLE_TO_DELIVER);
    node.shutdown().await;
}

#[tokio::test]
async fn server_sends_requests_to_a_connected_client_by_destination_host() {
    // The HSS direction of Cx (RTR, PPR): the server originates a request towards the client
    // that connected to it, addressed by Destination-Host.
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let hss = server("hss1.example.net", l, Arc::new(Seen::default()), false);
    let mut config = NodeConfig::new(caps("scscf.example.net"));
    config.timers = timers();
    config.peers.push(PeerSpec {
        host: "hss1.example.net".into(),
        address: Some(addr),
    });
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    config.handler = Some(handler(move |request: Message| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            Message::answer_to(&request)
                .with(Avp::unsigned32(code::RESULT_CODE, VendorId::IETF, 2001))
                .with(Avp::diameter_identity(
                    code::ORIGIN_HOST,
                    VendorId::IETF,
                    "scscf.example.net",
                ))
                .with(Avp::diameter_identity(
                    code::ORIGIN_REALM,
                    VendorId::IETF,
                    REALM,
                ))
        }
    }));
    let scscf = DiameterNode::start(config, None);
    let h = hss.client();
    assert!(
        h.wait_available("scscf.example.net", Duration::from_secs(10))
            .await
    );
    let rtr = Message::new(Header::request(
        CommandCode::REGISTRATION_TERMINATION,
        ApplicationId::CX,
        true,
        0,
        0,
    ))
    .with(Avp::utf8_string(code::SESSION_ID, VendorId::IETF, "hss;1"))
    .with(Avp::diameter_identity(
        code::DESTINATION_HOST,
        VendorId::IETF,
        "scscf.example.net",
    ))
    .with(Avp::diameter_identity(
        code::DESTINATION_REALM,
        VendorId::IETF,
        REALM,
    ));
    let answer = h.request(rtr).await.expect("RTA");
    assert_eq!(
        answer.header.command_code,
        CommandCode::REGISTRATION_TERMINATION
    );
    assert_eq!(answer.result_code(), Some(ResultCode::SUCCESS));
    assert_eq!(answered_by(&answer), "scscf.example.net");
    assert_eq!(got.load(Ordering::SeqCst), 1);
    scscf.shutdown().await;
    hss.shutdown().await;
}

#[tokio::test]
async fn node_without_handler_answers_3001() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let mut config = NodeConfig::new(caps("hss1.example.net"));
    config.accept_unknown_peers = true;
    config.timers = timers();
    let hss = DiameterNode::start(config, Some(l));
    let node = client(&[("hss1.example.net", addr)]);
    let c = node.client();
    assert!(
        c.wait_available("hss1.example.net", Duration::from_secs(10))
            .await
    );
    let answer = c.request(uar("nobody")).await.unwrap();
    assert_eq!(answer.result_code(), Some(ResultCode::COMMAND_UNSUPPORTED));
    assert!(answer.header.flags.is_error());
    node.shutdown().await;
    hss.shutdown().await;
}

/// Reads one Diameter message from a raw stream (framing by the header's Message Length).
async fn read_message(stream: &mut TcpStream) -> Message {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.unwrap();
    let len = ims_diameter::message_length(&head).unwrap();
    let mut buf = head.to_vec();
    buf.resize(len, 0);
    stream.read_exact(&mut buf[4..]).await.unwrap();
    Message::decode(&buf).unwrap()
}

#[tokio::test]
async fn malformed_request_gets_precise_error_and_broken_framing_closes() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let hss = server("hss1.example.net", l, seen.clone(), false);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let me = caps("raw.example.net");
    stream
        .write_all(&wire::cer(&me, 1, 1).encode())
        .await
        .unwrap();
    let cea = read_message(&mut stream).await;
    assert_eq!(cea.result_code(), Some(ResultCode::SUCCESS));

    // A request whose first AVP claims more octets than the message holds: 5014.
    let mut request = uar("bad");
    request.header.hop_by_hop = 0xABCD;
    let mut bytes = request.encode();
    bytes[25..28].copy_from_slice(&[0xff, 0xff, 0xff]);
    stream.write_all(&bytes).await.unwrap();
    let answer = read_message(&mut stream).await;
    assert_eq!(answer.header.hop_by_hop, 0xABCD);
    assert_eq!(answer.result_code(), Some(ResultCode::INVALID_AVP_LENGTH));
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        0,
        "never reaches the application"
    );

    // The connection survives: a DWR still gets its DWA.
    stream
        .write_all(&wire::dwr(&me, 7, 7).encode())
        .await
        .unwrap();
    let dwa = read_message(&mut stream).await;
    assert_eq!(dwa.header.command_code, CommandCode::DEVICE_WATCHDOG);
    assert_eq!(dwa.header.hop_by_hop, 7);

    // A Message Length below the header size cannot be framed: the server closes.
    stream.write_all(&[1, 0, 0, 8, 0, 0, 0, 0]).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("server closes the connection")
        .unwrap();
    hss.shutdown().await;
}

/// A transport that delegates to TCP and counts its use, standing in for a TLS wrapper.
#[derive(Default)]
struct Counting {
    connects: AtomicUsize,
    accepts: AtomicUsize,
}

impl Transport for Counting {
    fn connect(&self, address: SocketAddr) -> BoxFuture<std::io::Result<BoxStream>> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        Tcp.connect(address)
    }
    fn accept(&self, stream: TcpStream) -> BoxFuture<std::io::Result<BoxStream>> {
        self.accepts.fetch_add(1, Ordering::SeqCst);
        Tcp.accept(stream)
    }
}

#[tokio::test]
async fn pluggable_transport_carries_both_sides() {
    let transport = Arc::new(Counting::default());
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let mut config = NodeConfig::new(caps("hss1.example.net"));
    config.accept_unknown_peers = true;
    config.timers = timers();
    config.transport = Some(transport.clone());
    let hss = DiameterNode::start(config, Some(l));
    let mut config = NodeConfig::new(caps("scscf.example.net"));
    config.timers = timers();
    config.transport = Some(transport.clone());
    config.peers.push(PeerSpec {
        host: "hss1.example.net".into(),
        address: Some(addr),
    });
    let node = DiameterNode::start(config, None);
    assert!(
        node.client()
            .wait_available("hss1.example.net", Duration::from_secs(10))
            .await
    );
    assert_eq!(transport.connects.load(Ordering::SeqCst), 1);
    assert_eq!(transport.accepts.load(Ordering::SeqCst), 1);
    node.shutdown().await;
    hss.shutdown().await;
}

/// Load figure, not a check: `cargo test --release -p ims-diameter --test peer_tcp --
/// --ignored --nocapture throughput` prints requests/s over one loopback connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints a throughput figure; run by hand"]
async fn throughput() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let hss = server("hss1.example.net", l, Arc::new(Seen::default()), false);
    let node = client(&[("hss1.example.net", addr)]);
    let c = node.client();
    assert!(
        c.wait_available("hss1.example.net", Duration::from_secs(10))
            .await
    );
    let total = 50_000usize;
    let workers = 64usize;
    let start = std::time::Instant::now();
    let mut set = JoinSet::new();
    for w in 0..workers {
        let c = c.clone();
        set.spawn(async move {
            for i in 0..total / workers {
                let a = c.request(uar(&format!("{w};{i}"))).await.expect("answer");
                assert_eq!(a.result_code(), Some(ResultCode::SUCCESS));
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let done = total / workers * workers;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{done} requests, {workers} in flight: {:.0} requests/s",
        done as f64 / secs
    );
    node.shutdown().await;
    hss.shutdown().await;
}

#[tokio::test]
async fn connection_without_cer_is_closed() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let hss = server("hss1.example.net", l, Arc::new(Seen::default()), false);
    // Silent: closed after the CEA timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Not a CER first: closed at once.
    let mut rude = TcpStream::connect(addr).await.unwrap();
    rude.write_all(&wire::dwr(&caps("rude.example.net"), 1, 1).encode())
        .await
        .unwrap();
    for stream in [&mut rude, &mut silent] {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
            .await
            .expect("server closes the connection")
            .unwrap();
        assert!(rest.is_empty(), "nothing is answered before CER");
    }
    hss.shutdown().await;
}
