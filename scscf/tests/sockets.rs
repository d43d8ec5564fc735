//! The S-CSCF as the binary runs it (configuration file, tokio runner, Diameter driver) over
//! loopback sockets: IMS-AKA registration from a P-CSCF socket with a fake HSS speaking real
//! Diameter (MAR/MAA with MILENAGE vectors, SAR/SAA), then a terminating INVITE from an
//! I-CSCF socket that reaches the P-CSCF socket through the stored Path. Then the `scscf`
//! binary itself with SQLite storage: a registration made before a restart still routes a
//! call after it.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ims_diameter::cx::ServerAssignmentType;
use ims_diameter::driver::{handler, DiameterNode, NodeConfig};
use ims_diameter::peer::{node_capabilities, with_cx};
use ims_node::runner::Runner;
use ims_node::testing::Network;
use ims_sip::{Message, StatusCode};
use scscf::{FileConfig, Registrar, Scscf};
use support::{FakeHss, Ue};
use tokio::net::{TcpListener, UdpSocket};

async fn recv(socket: &UdpSocket) -> (Message, SocketAddr) {
    let mut buf = vec![0; 65_535];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
        .await
        .expect("a message")
        .unwrap();
    (Message::parse(&buf[..n]).unwrap(), from)
}

/// The next final response (provisional ones skipped).
async fn recv_final(socket: &UdpSocket) -> Message {
    loop {
        let (message, _) = recv(socket).await;
        if message.status().is_some_and(StatusCode::is_final) {
            return message;
        }
    }
}

fn register(pcscf: SocketAddr, n: u32, auth: &str) -> String {
    format!(
        "REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP {pcscf};branch=z9hG4bKreg{n}\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@ims.test>\r\nFrom: <sip:bob@ims.test>;tag=r\r\n\
         Call-ID: reg@test\r\nCSeq: {n} REGISTER\r\nContact: <sip:bob@192.0.2.20:5070>\r\n\
         Path: <sip:term@{pcscf};lr>\r\nAuthorization: {auth}\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A fake HSS over real Diameter, knowing bob.
async fn start_hss() -> (DiameterNode, SocketAddr, Arc<Mutex<FakeHss>>) {
    let hss_state = Arc::new(Mutex::new(FakeHss::new(&["sip:bob@ims.test"], None)));
    let localhost = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let mut hss = NodeConfig::new(with_cx(node_capabilities(
        "hss.ims.test",
        "ims.test",
        localhost,
    )));
    hss.accept_unknown_peers = true;
    let state = hss_state.clone();
    hss.handler = Some(handler(move |request: ims_diameter::Message| {
        let state = state.clone();
        async move { state.lock().unwrap().answer(&request) }
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hss_addr = listener.local_addr().unwrap();
    (
        DiameterNode::start(hss, Some(listener)),
        hss_addr,
        hss_state,
    )
}

#[tokio::test]
async fn registration_and_terminating_call_over_real_sockets() {
    let (hss, hss_addr, hss_state) = start_hss().await;

    let text = format!(
        r#"
home_domains = ["ims.test"]
[sip]
host = "127.0.0.1"
port = 5999
udp = ["127.0.0.1:0"]
[registrar]
min_expires = 60
[diameter]
origin_host = "scscf.ims.test"
origin_realm = "ims.test"
hss_host = "hss.ims.test"
hss_address = "{hss_addr}"
"#
    );
    let config = FileConfig::parse("test.toml", &text).unwrap();
    let registrar = Registrar::new(config.registrar_config()).unwrap();
    let function = Scscf::new(
        config.routing_config(),
        registrar,
        Instant::now(),
        SystemTime::now(),
    );
    let runner = Runner::bind(config.runner_config()).await.unwrap();
    let scscf_addr = runner.local_addrs()[0].1;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(function, async {
        let _ = stopped.await;
    }));

    // Registration: 401 with an AKA challenge, then 200 with our Service-Route.
    let pcscf = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = pcscf.local_addr().unwrap();
    let mut bob = Ue::new("bob");
    let first = register(me, 1, &bob.initial_authorization());
    pcscf.send_to(first.as_bytes(), scscf_addr).await.unwrap();
    let challenge = recv_final(&pcscf).await;
    assert_eq!(challenge.status(), Some(StatusCode::UNAUTHORIZED));
    let second = register(me, 2, &bob.answer(&challenge));
    pcscf.send_to(second.as_bytes(), scscf_addr).await.unwrap();
    let ok = recv_final(&pcscf).await;
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert_eq!(
        ok.headers().get("Service-Route"),
        Some("<sip:orig@127.0.0.1:5999;lr>")
    );
    assert_eq!(
        hss_state.lock().unwrap().sar_types,
        [ServerAssignmentType::REGISTRATION]
    );

    // A terminating INVITE from the I-CSCF reaches the P-CSCF through the Path.
    let icscf = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let i = icscf.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@ims.test SIP/2.0\r\nVia: SIP/2.0/UDP {i};branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:5999;lr>\r\nTo: <sip:bob@ims.test>\r\n\
         From: <sip:alice@ims.test>;tag=a\r\nCall-ID: inv@test\r\nCSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    icscf.send_to(invite.as_bytes(), scscf_addr).await.unwrap();
    let (at_pcscf, from) = recv(&pcscf).await;
    assert_eq!(from, scscf_addr);
    assert_eq!(
        at_pcscf.request_uri().map(ToString::to_string).as_deref(),
        Some("sip:bob@192.0.2.20:5070")
    );
    assert_eq!(
        at_pcscf.headers().get("Route").map(str::to_owned),
        Some(format!("<sip:term@{me};lr>"))
    );
    let answer = Network::response(&at_pcscf, StatusCode::OK);
    pcscf.send_to(&answer.to_bytes(), from).await.unwrap();
    let final_answer = recv_final(&icscf).await;
    assert_eq!(final_answer.status(), Some(StatusCode::OK));
    assert_eq!(final_answer.call_id().unwrap(), "inv@test");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("run returns after shutdown")
        .unwrap();
    hss.shutdown().await;
}

/// The `scscf` binary, stopped (SIGTERM, then reaped) when dropped.
struct Binary(std::process::Child);

impl Binary {
    fn start(config: &std::path::Path) -> Binary {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_scscf"))
            .arg("--config")
            .arg(config)
            .arg("--log")
            .arg("warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the scscf binary starts");
        Binary(child)
    }

    /// SIGTERM: the graceful shutdown that lets the store writer finish.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        self.0.wait().expect("the binary exits")
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// Sends `message` to `to` until `socket` receives something (the binary may not listen yet),
/// and returns the first message received.
async fn send_until_answered(socket: &UdpSocket, message: &str, to: SocketAddr) -> Message {
    let mut buf = vec![0; 65_535];
    for _ in 0..100 {
        socket.send_to(message.as_bytes(), to).await.unwrap();
        let wait = tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf));
        if let Ok(Ok((n, _))) = wait.await {
            return Message::parse(&buf[..n]).unwrap();
        }
    }
    panic!("no answer from {to}");
}

async fn until_final(socket: &UdpSocket, first: Message) -> Message {
    if first.status().is_some_and(StatusCode::is_final) {
        return first;
    }
    recv_final(socket).await
}

#[tokio::test]
async fn the_binary_keeps_registrations_across_a_restart() {
    let (hss, hss_addr, hss_state) = start_hss().await;
    let dir = std::env::temp_dir().join(format!("scscf-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("scscf.db");
    let _ = std::fs::remove_file(&db);
    // A free port for the binary (its Service-Route and Record-Route name it).
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scscf_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = dir.join("scscf.toml");
    std::fs::write(
        &config,
        format!(
            r#"
home_domains = ["ims.test"]
[sip]
host = "127.0.0.1"
port = {port}
udp = ["{scscf_addr}"]
[diameter]
origin_host = "scscf.ims.test"
origin_realm = "ims.test"
hss_host = "hss.ims.test"
hss_address = "{hss_addr}"
[storage]
url = "sqlite:{}"
"#,
            db.display()
        ),
    )
    .unwrap();

    let pcscf = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = pcscf.local_addr().unwrap();
    let mut bob = Ue::new("bob");
    let mut binary = Binary::start(&config);
    let first = register(me, 1, &bob.initial_authorization());
    let challenge = until_final(
        &pcscf,
        send_until_answered(&pcscf, &first, scscf_addr).await,
    )
    .await;
    assert_eq!(challenge.status(), Some(StatusCode::UNAUTHORIZED));
    let second = register(me, 2, &bob.answer(&challenge));
    pcscf.send_to(second.as_bytes(), scscf_addr).await.unwrap();
    assert_eq!(recv_final(&pcscf).await.status(), Some(StatusCode::OK));
    assert!(binary.stop().success());

    // After the restart the registration comes from SQLite: no new REGISTER, no new SAR.
    let _binary = Binary::start(&config);
    let icscf = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let i = icscf.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@ims.test SIP/2.0\r\nVia: SIP/2.0/UDP {i};branch=z9hG4bKrestart\r\n\
         Max-Forwards: 70\r\nRoute: <sip:{scscf_addr};lr>\r\nTo: <sip:bob@ims.test>\r\n\
         From: <sip:alice@ims.test>;tag=a\r\nCall-ID: restart@test\r\nCSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // The 100 Trying tells the binary is up; then the INVITE reaches the P-CSCF.
    let trying = send_until_answered(&icscf, &invite, scscf_addr).await;
    assert_eq!(trying.status(), Some(StatusCode::TRYING));
    let (at_pcscf, from) = recv(&pcscf).await;
    assert_eq!(
        at_pcscf.request_uri().map(ToString::to_string).as_deref(),
        Some("sip:bob@192.0.2.20:5070")
    );
    let answer = Network::response(&at_pcscf, StatusCode::OK);
    pcscf.send_to(&answer.to_bytes(), from).await.unwrap();
    assert_eq!(recv_final(&icscf).await.status(), Some(StatusCode::OK));
    assert_eq!(
        hss_state.lock().unwrap().sar_types,
        [ServerAssignmentType::REGISTRATION]
    );
    hss.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
