//! The tokio runner over real loopback sockets: requests reach the function and answers come
//! back over UDP and TCP, unparsable requests get a 400, Cx outcomes reach the function, and
//! shutdown ends `run`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ims_node::function::{CxOutcome, CxToken, Effects, Function};
use ims_node::runner::{Runner, RunnerConfig};
use ims_sip::proxy::{ContextId, Proxy, ProxyConfig, ProxyEvent};
use ims_sip::{Host, Message, StatusCode};
use ims_transport::{Target, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Answers every request 200, or, when it carries `X-Cx`, asks Cx first and answers 500
/// with the failure's result code.
#[derive(Default)]
struct Answerer {
    waiting: HashMap<CxToken, ContextId>,
    next: u64,
}

impl Function for Answerer {
    fn handle_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: ProxyEvent<Target>,
        effects: &mut Effects,
    ) {
        if let ProxyEvent::Request {
            context, request, ..
        } = event
        {
            if request.headers().contains("X-Cx") {
                self.next += 1;
                let token = CxToken(self.next);
                self.waiting.insert(token, context);
                let header = ims_diameter::Header::request(
                    ims_diameter::CommandCode::LOCATION_INFO,
                    ims_diameter::ApplicationId::CX,
                    true,
                    0,
                    0,
                );
                effects.send_cx(token, ims_diameter::Message::new(header));
                return;
            }
            let response = proxy.response(context, StatusCode::OK).unwrap();
            proxy.respond(now, context, response).unwrap();
        }
    }

    fn handle_cx(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        token: CxToken,
        outcome: CxOutcome,
        _effects: &mut Effects,
    ) {
        let Some(context) = self.waiting.remove(&token) else {
            return;
        };
        let code = match outcome {
            CxOutcome::Failed { result_code, .. } => result_code,
            CxOutcome::Answer(_) => 0,
        };
        let mut response = proxy
            .response(context, StatusCode::SERVER_INTERNAL_ERROR)
            .unwrap();
        response.set_reason(&format!("Cx {code}"));
        proxy.respond(now, context, response).unwrap();
    }
}

fn request(from: std::net::SocketAddr, transport: &str, extra: &str) -> String {
    format!(
        "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {from};branch=z9hG4bK{}\r\n\
         Max-Forwards: 70\r\nTo: <sip:x@127.0.0.1>\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\n\
         Call-ID: {}@test\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n",
        extra.len(),
        extra.len()
    )
}

async fn recv(socket: &UdpSocket) -> Message {
    let mut buf = vec![0; 65_535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    Message::parse(&buf[..n]).unwrap()
}

#[tokio::test]
async fn runner_answers_over_udp_and_tcp_and_shuts_down() {
    let proxy = ProxyConfig::new(Host::Ipv4("127.0.0.1".parse().unwrap()), Some(5999));
    let mut config = RunnerConfig::new(proxy);
    config.udp.push("127.0.0.1:0".parse().unwrap());
    config.tcp.push("127.0.0.1:0".parse().unwrap());
    config.shutdown_grace = Duration::from_millis(100);
    let runner = Runner::bind(config).await.unwrap();
    let udp_addr = runner.local_addrs()[0].1;
    let (transport, tcp_addr) = runner.local_addrs()[1];
    assert_eq!(transport, Transport::Tcp);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(Answerer::default(), async {
        let _ = stopped.await;
    }));

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();

    client
        .send_to(request(me, "UDP", "").as_bytes(), udp_addr)
        .await
        .unwrap();
    let ok = recv(&client).await;
    assert_eq!(ok.status(), Some(StatusCode::OK));

    // Unparsable (bad Content-Length): a 400 naming the problem.
    let bad = request(me, "UDP", "").replace("Content-Length: 0", "Content-Length: x");
    client.send_to(bad.as_bytes(), udp_addr).await.unwrap();
    let rejected = recv(&client).await;
    assert_eq!(rejected.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(
        rejected.reason(),
        Some("Bad Request - invalid Content-Length")
    );

    // Cx without a Diameter node: the outcome comes back as a failure with 3002.
    client
        .send_to(request(me, "UDP", "X-Cx: 1\r\n").as_bytes(), udp_addr)
        .await
        .unwrap();
    let failed = recv(&client).await;
    assert_eq!(failed.status(), Some(StatusCode::SERVER_INTERNAL_ERROR));
    assert_eq!(failed.reason(), Some("Cx 3002"));

    // TCP: the answer comes back on the same connection.
    let mut stream = TcpStream::connect(tcp_addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream
        .write_all(request(local, "TCP", "X-Tcp: 1\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a TCP answer")
            .unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    let answer = Message::parse(&got).unwrap();
    assert_eq!(answer.status(), Some(StatusCode::OK));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("run returns after shutdown")
        .unwrap();
}
