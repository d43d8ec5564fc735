//! The I-CSCF as the binary runs it (configuration file, tokio runner, Diameter driver) over
//! loopback sockets: a REGISTER from a P-CSCF socket, a UAR to a fake HSS speaking real
//! Diameter, the REGISTER at a fake S-CSCF socket, and its 200 back at the P-CSCF.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use icscf::{FileConfig, Icscf};
use ims_diameter::base::ExperimentalResult;
use ims_diameter::cx::{AnswerCommon, UserAuthorizationAnswer, UserAuthorizationRequest};
use ims_diameter::driver::{handler, DiameterNode, NodeConfig};
use ims_diameter::peer::{node_capabilities, with_cx};
use ims_diameter::{Command, ExperimentalResultCode};
use ims_node::runner::Runner;
use ims_node::testing::Network;
use ims_sip::{Message, StatusCode};
use tokio::net::{TcpListener, UdpSocket};

async fn recv(socket: &UdpSocket) -> (Message, std::net::SocketAddr) {
    let mut buf = vec![0; 65_535];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
        .await
        .expect("a message")
        .unwrap();
    (Message::parse(&buf[..n]).unwrap(), from)
}

#[tokio::test]
async fn register_crosses_the_real_icscf() {
    // The S-CSCF the HSS will name, by IP literal (no host table needed).
    let scscf = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server_name = format!("sip:{}", scscf.local_addr().unwrap());

    // A fake HSS over real Diameter: every UAR gets SUBSEQUENT_REGISTRATION + Server-Name.
    let localhost = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let mut hss = NodeConfig::new(with_cx(node_capabilities(
        "hss.ims.test",
        "ims.test",
        localhost,
    )));
    hss.accept_unknown_peers = true;
    let name = server_name.clone();
    hss.handler = Some(handler(move |request: ims_diameter::Message| {
        let name = name.clone();
        async move {
            let uar = UserAuthorizationRequest::from_message(&request).expect("a valid UAR");
            let result =
                ExperimentalResult::tgpp(ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION);
            UserAuthorizationAnswer {
                common: AnswerCommon::answering(&uar.common, result, "hss.ims.test", "ims.test"),
                server_name: Some(name),
                server_capabilities: None,
                extra: Vec::new(),
            }
            .to_answer_of(&request.header)
        }
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hss_addr = listener.local_addr().unwrap();
    let hss = DiameterNode::start(hss, Some(listener));

    let text = format!(
        r#"
home_domains = ["ims.test"]
[sip]
host = "127.0.0.1"
port = 5999
udp = ["127.0.0.1:0"]
[diameter]
origin_host = "icscf.ims.test"
origin_realm = "ims.test"
hss_host = "hss.ims.test"
hss_address = "{hss_addr}"
"#
    );
    let config = FileConfig::parse("test.toml", &text).unwrap();
    let runner = Runner::bind(config.runner_config()).await.unwrap();
    let icscf_addr = runner.local_addrs()[0].1;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(Icscf::new(config.settings(), 1), async {
        let _ = stopped.await;
    }));

    let pcscf = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = pcscf.local_addr().unwrap();
    let register = format!(
        "REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKsock1\r\n\
         Max-Forwards: 70\r\nTo: <sip:alice@ims.test>\r\nFrom: <sip:alice@ims.test>;tag=a\r\n\
         Call-ID: sock1@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{me}>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    pcscf
        .send_to(register.as_bytes(), icscf_addr)
        .await
        .unwrap();

    let (at_scscf, from) = recv(&scscf).await;
    assert_eq!(
        from, icscf_addr,
        "the I-CSCF sends from its listening socket"
    );
    assert_eq!(at_scscf.headers().values("Via").count(), 2);
    let ok = Network::response(&at_scscf, StatusCode::OK);
    scscf.send_to(&ok.to_bytes(), from).await.unwrap();

    let (answer, _) = recv(&pcscf).await;
    assert_eq!(answer.status(), Some(StatusCode::OK));
    assert_eq!(answer.call_id().unwrap(), "sock1@test");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("run returns after shutdown")
        .unwrap();
    hss.shutdown().await;
}
