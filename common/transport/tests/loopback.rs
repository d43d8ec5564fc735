//! The transports over real loopback sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ims_transport::{
    tls, CloseReason, ConnectionId, Direction, Event, FramingError, Target, Transport,
    TransportConfig, TransportError, TransportLayer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Guards against hangs only; no test asserts how long anything takes.
const PATIENCE: Duration = Duration::from_secs(20);

const OPTIONS: &str =
    "OPTIONS sip:p.example.com SIP/2.0\r\nVia: SIP/2.0/TCP ue;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
const MESSAGE: &str =
    "MESSAGE sip:bob@example.com SIP/2.0\r\nCall-ID: 1\r\nl: 12\r\n\r\nhello, world";

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn next_event(rx: &mut mpsc::Receiver<Event>) -> Event {
    match tokio::time::timeout(PATIENCE, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("event channel closed"),
        Err(_) => panic!("no event"),
    }
}

/// The next event other than `Opened`.
async fn next_non_open(rx: &mut mpsc::Receiver<Event>) -> Event {
    loop {
        match next_event(rx).await {
            Event::Opened(_) => continue,
            other => return other,
        }
    }
}

async fn next_message(rx: &mut mpsc::Receiver<Event>) -> (ConnectionId, SocketAddr, Bytes) {
    match next_non_open(rx).await {
        Event::Message {
            conn, remote, data, ..
        } => (conn, remote, data),
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn tcp_server() -> (TransportLayer, mpsc::Receiver<Event>, SocketAddr) {
    let (layer, rx) = TransportLayer::new(TransportConfig::default(), None);
    let addr = layer.listen_tcp(any_port()).await.expect("listen");
    (layer, rx, addr)
}

#[tokio::test]
async fn udp_send_and_receive_both_ways() {
    let (a, mut a_rx) = TransportLayer::new(TransportConfig::default(), None);
    let (b, mut b_rx) = TransportLayer::new(TransportConfig::default(), None);
    let a_sock = a.bind_udp(any_port()).await.expect("bind a");
    let b_sock = b.bind_udp(any_port()).await.expect("bind b");
    let a_addr = a_sock.info().local;
    let b_addr = b_sock.info().local;
    assert!(matches!(next_event(&mut a_rx).await, Event::Opened(i) if i.conn == a_sock.id()));

    let sent_on = b
        .send(
            Target::Remote {
                transport: Transport::Udp,
                remote: a_addr,
                server_name: None,
            },
            Bytes::from_static(OPTIONS.as_bytes()),
        )
        .await
        .expect("send");
    assert_eq!(sent_on, b_sock.id());

    let (conn, remote, data) = next_message(&mut a_rx).await;
    assert_eq!(conn, a_sock.id());
    assert_eq!(remote, b_addr);
    assert_eq!(&data[..], OPTIONS.as_bytes());

    // A CRLF keep-alive datagram is not a message; the answer arrives next.
    a.send(
        Target::Datagram {
            socket: conn,
            remote,
        },
        Bytes::from_static(b"\r\n\r\n"),
    )
    .await
    .expect("keep-alive");
    a.send(
        Target::Datagram {
            socket: conn,
            remote,
        },
        Bytes::from_static(MESSAGE.as_bytes()),
    )
    .await
    .expect("answer");
    let (conn, remote, data) = next_message(&mut b_rx).await;
    assert_eq!((conn, remote), (b_sock.id(), a_addr));
    assert_eq!(&data[..], MESSAGE.as_bytes());
}

#[tokio::test]
async fn tcp_several_messages_in_one_write() {
    let (_server, mut rx, addr) = tcp_server().await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    let local = client.local_addr().expect("local");
    client
        .write_all(format!("{OPTIONS}{MESSAGE}{OPTIONS}").as_bytes())
        .await
        .expect("write");
    match next_event(&mut rx).await {
        Event::Opened(info) => {
            assert_eq!(info.transport, Transport::Tcp);
            assert_eq!(info.direction, Direction::Inbound);
            assert_eq!(info.remote, local);
        }
        other => panic!("expected Opened, got {other:?}"),
    }
    let mut conns = Vec::new();
    for expected in [OPTIONS, MESSAGE, OPTIONS] {
        let (conn, remote, data) = next_message(&mut rx).await;
        assert_eq!(remote, local);
        assert_eq!(&data[..], expected.as_bytes());
        conns.push(conn);
    }
    assert!(conns.windows(2).all(|w| w[0] == w[1]), "one connection");
}

#[tokio::test]
async fn tcp_one_message_split_over_many_writes() {
    let (_server, mut rx, addr) = tcp_server().await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    for chunk in MESSAGE.as_bytes().chunks(3) {
        client.write_all(chunk).await.expect("write");
        client.flush().await.expect("flush");
        tokio::task::yield_now().await;
    }
    let (_, _, data) = next_message(&mut rx).await;
    assert_eq!(&data[..], MESSAGE.as_bytes());
    assert!(
        data.ends_with(b"\r\n\r\nhello, world"),
        "body by Content-Length"
    );
}

#[tokio::test]
async fn crlf_ping_is_answered_with_pong_between_layers() {
    let (server, mut s_rx, addr) = tcp_server().await;
    let (client, mut c_rx) = TransportLayer::new(TransportConfig::default(), None);
    let target = Target::Remote {
        transport: Transport::Tcp,
        remote: addr,
        server_name: None,
    };
    let conn = client
        .send(target, Bytes::from_static(b"\r\n\r\n"))
        .await
        .expect("ping");
    let server_conn = match next_non_open(&mut s_rx).await {
        Event::KeepAlivePing { conn, .. } => conn,
        other => panic!("expected a ping, got {other:?}"),
    };
    match next_non_open(&mut c_rx).await {
        Event::KeepAlivePong { conn: c, remote } => {
            assert_eq!(c, conn);
            assert_eq!(remote, addr);
        }
        other => panic!("expected a pong, got {other:?}"),
    }
    // The pong did not disturb framing: a message still gets through afterwards.
    server
        .send(
            Target::Connection(server_conn),
            Bytes::from_static(OPTIONS.as_bytes()),
        )
        .await
        .expect("send");
    let (c, _, data) = next_message(&mut c_rx).await;
    assert_eq!(c, conn);
    assert_eq!(&data[..], OPTIONS.as_bytes());
}

#[tokio::test]
async fn raw_ping_gets_exactly_one_crlf() {
    let (_server, _rx, addr) = tcp_server().await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client.write_all(b"\r\n\r\n").await.expect("ping");
    let mut pong = [0u8; 2];
    tokio::time::timeout(PATIENCE, client.read_exact(&mut pong))
        .await
        .expect("pong in time")
        .expect("read");
    assert_eq!(&pong, b"\r\n");
}

#[tokio::test]
async fn garbage_resynchronises_then_missing_content_length_closes() {
    let (server, mut rx, addr) = tcp_server().await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(format!("\x16\x03\x01 binary junk\r\nGET / HTTP/1.1\r\n{MESSAGE}").as_bytes())
        .await
        .expect("write");
    let (conn, _, data) = next_message(&mut rx).await;
    assert_eq!(&data[..], MESSAGE.as_bytes());

    client
        .write_all(b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\n")
        .await
        .expect("write");
    match next_non_open(&mut rx).await {
        Event::Closed {
            conn: c, reason, ..
        } => {
            assert_eq!(c, conn);
            assert_eq!(
                reason,
                CloseReason::Framing(FramingError::MissingContentLength)
            );
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    let mut rest = Vec::new();
    let n = tokio::time::timeout(PATIENCE, client.read_to_end(&mut rest))
        .await
        .expect("eof in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "the server closed the connection without writing");
    assert!(server.connection(conn).is_none());
}

#[tokio::test]
async fn send_to_a_closed_connection_fails_cleanly() {
    let (server, mut rx, addr) = tcp_server().await;
    let client = TcpStream::connect(addr).await.expect("connect");
    let conn = match next_event(&mut rx).await {
        Event::Opened(info) => info.conn,
        other => panic!("expected Opened, got {other:?}"),
    };
    let handle = server.connection(conn).expect("handle");
    drop(client);
    match next_event(&mut rx).await {
        Event::Closed {
            conn: c, reason, ..
        } => {
            assert_eq!(c, conn);
            assert_eq!(reason, CloseReason::PeerClosed);
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    let err = server
        .send(
            Target::Connection(conn),
            Bytes::from_static(OPTIONS.as_bytes()),
        )
        .await
        .expect_err("dead connection");
    assert!(
        matches!(err, TransportError::ConnectionClosed(c) if c == conn),
        "{err}"
    );
    assert!(handle.is_closed());
    let err = handle
        .send(Bytes::from_static(OPTIONS.as_bytes()))
        .await
        .expect_err("dead handle");
    assert!(
        matches!(err, TransportError::ConnectionClosed(c) if c == conn),
        "{err}"
    );
    let never = ConnectionId(u64::MAX);
    assert!(matches!(
        server.send(Target::Connection(never), Bytes::new()).await,
        Err(TransportError::ConnectionClosed(c)) if c == never
    ));
}

#[tokio::test]
async fn connections_are_reused_for_the_same_remote() {
    let (server, mut s_rx, addr) = tcp_server().await;
    let (client, _c_rx) = TransportLayer::new(TransportConfig::default(), None);
    let target = Target::Remote {
        transport: Transport::Tcp,
        remote: addr,
        server_name: None,
    };
    // Two concurrent sends and a later one all use one connection.
    let (a, b) = tokio::join!(
        client.send(target.clone(), Bytes::from_static(OPTIONS.as_bytes())),
        client.send(target.clone(), Bytes::from_static(MESSAGE.as_bytes())),
    );
    let c = client
        .send(target, Bytes::from_static(OPTIONS.as_bytes()))
        .await
        .expect("third");
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(client.stream_count(), 1);

    let mut opened = 0;
    let mut messages = 0;
    while messages < 3 {
        match next_event(&mut s_rx).await {
            Event::Opened(_) => opened += 1,
            Event::Message { .. } => messages += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(opened, 1);
    assert_eq!(server.stream_count(), 1);
}

#[tokio::test]
async fn graceful_shutdown_flushes_queued_messages() {
    let (server, mut s_rx, addr) = tcp_server().await;
    let (client, mut c_rx) = TransportLayer::new(TransportConfig::default(), None);
    client
        .send(
            Target::Remote {
                transport: Transport::Tcp,
                remote: addr,
                server_name: None,
            },
            Bytes::from_static(OPTIONS.as_bytes()),
        )
        .await
        .expect("send");
    let (conn, _, _) = next_message(&mut s_rx).await;

    // Queue several messages, then shut down at once: all of them must still arrive.
    for _ in 0..5 {
        server
            .send(
                Target::Connection(conn),
                Bytes::from_static(MESSAGE.as_bytes()),
            )
            .await
            .expect("queue");
    }
    assert!(server.shutdown(PATIENCE).await, "ended before the deadline");
    for _ in 0..5 {
        let (_, _, data) = next_message(&mut c_rx).await;
        assert_eq!(&data[..], MESSAGE.as_bytes());
    }
    match next_non_open(&mut c_rx).await {
        Event::Closed { reason, .. } => assert_eq!(reason, CloseReason::PeerClosed),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(matches!(
        server.send(Target::Connection(conn), Bytes::new()).await,
        Err(TransportError::ShuttingDown)
    ));
    assert_eq!(server.stream_count(), 0);
    // The listener is gone: connecting is refused.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let config = TransportConfig {
        idle_timeout: Some(Duration::from_millis(100)),
        ..TransportConfig::default()
    };
    let (server, mut rx) = TransportLayer::new(config, None);
    let addr = server.listen_tcp(any_port()).await.expect("listen");
    let _client = TcpStream::connect(addr).await.expect("connect");
    match next_non_open(&mut rx).await {
        Event::Closed { reason, .. } => assert_eq!(reason, CloseReason::IdleTimeout),
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[tokio::test]
async fn local_close_reports_closed() {
    let (server, mut rx, addr) = tcp_server().await;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    let conn = match next_event(&mut rx).await {
        Event::Opened(info) => info.conn,
        other => panic!("expected Opened, got {other:?}"),
    };
    server
        .send(
            Target::Connection(conn),
            Bytes::from_static(OPTIONS.as_bytes()),
        )
        .await
        .expect("queue");
    assert!(server.close(conn));
    match next_event(&mut rx).await {
        Event::Closed { reason, .. } => assert_eq!(reason, CloseReason::Local),
        other => panic!("expected Closed, got {other:?}"),
    }
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, client.read_to_end(&mut got))
        .await
        .expect("eof in time")
        .expect("read");
    assert_eq!(
        got,
        OPTIONS.as_bytes(),
        "queued message written before the close"
    );
}

#[tokio::test]
async fn outbound_queue_applies_backpressure() {
    let config = TransportConfig {
        outbound_queue: 2,
        ..TransportConfig::default()
    };
    let (server, mut rx) = TransportLayer::new(config, None);
    let addr = server.listen_tcp(any_port()).await.expect("listen");
    // The client never reads, so the kernel buffers fill and the queue behind them too.
    let _client = TcpStream::connect(addr).await.expect("connect");
    let conn = match next_event(&mut rx).await {
        Event::Opened(info) => info.conn,
        other => panic!("expected Opened, got {other:?}"),
    };
    let handle = server.connection(conn).expect("handle");
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    let mut queued = 0usize;
    let full = loop {
        match handle.try_send(big.clone()) {
            Ok(()) => queued += 1,
            Err(TransportError::QueueFull(c)) => break c,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(queued < 1000, "the queue never filled");
        tokio::task::yield_now().await;
        if queued.is_multiple_of(4) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    assert_eq!(full, conn);
}

fn self_signed() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["sip.example.test".to_owned()])
        .expect("certificate");
    let cert = certified.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("key");
    let server = tls::server_config(vec![cert.clone()], key).expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let client = tls::client_config(roots).expect("client config");
    (server, client)
}

#[tokio::test]
async fn tls_messages_both_ways_with_server_name() {
    let (server_tls, client_tls) = self_signed();
    let (server, mut s_rx) = TransportLayer::new(TransportConfig::default(), None);
    let addr = server
        .listen_tls(any_port(), server_tls)
        .await
        .expect("listen");
    let (client, mut c_rx) = TransportLayer::new(TransportConfig::default(), Some(client_tls));
    let target = Target::Remote {
        transport: Transport::Tls,
        remote: addr,
        server_name: Some("sip.example.test".to_owned()),
    };
    let conn = client
        .send(target.clone(), Bytes::from(format!("{OPTIONS}{MESSAGE}")))
        .await
        .expect("send");
    match next_event(&mut s_rx).await {
        Event::Opened(info) => assert_eq!(info.transport, Transport::Tls),
        other => panic!("expected Opened, got {other:?}"),
    }
    let (server_conn, _, first) = next_message(&mut s_rx).await;
    let (_, _, second) = next_message(&mut s_rx).await;
    assert_eq!(&first[..], OPTIONS.as_bytes());
    assert_eq!(&second[..], MESSAGE.as_bytes());

    server
        .send(
            Target::Connection(server_conn),
            Bytes::from_static(MESSAGE.as_bytes()),
        )
        .await
        .expect("answer");
    let (c, _, data) = next_message(&mut c_rx).await;
    assert_eq!(c, conn);
    assert_eq!(&data[..], MESSAGE.as_bytes());

    // Ping inside TLS (RFC 5626 §4.4.1) and reuse of the same connection.
    let again = client
        .send(target, Bytes::from_static(b"\r\n\r\n"))
        .await
        .expect("ping");
    assert_eq!(again, conn);
    assert!(
        matches!(next_non_open(&mut c_rx).await, Event::KeepAlivePong { conn: c, .. } if c == conn)
    );
}

#[tokio::test]
async fn tls_with_wrong_server_name_fails_cleanly() {
    let (server_tls, client_tls) = self_signed();
    let (server, _s_rx) = TransportLayer::new(TransportConfig::default(), None);
    let addr = server
        .listen_tls(any_port(), server_tls)
        .await
        .expect("listen");
    let (client, _c_rx) = TransportLayer::new(TransportConfig::default(), Some(client_tls));
    let err = client
        .send(
            Target::Remote {
                transport: Transport::Tls,
                remote: addr,
                server_name: Some("other.example.test".to_owned()),
            },
            Bytes::from_static(OPTIONS.as_bytes()),
        )
        .await
        .expect_err("certificate does not match");
    assert!(matches!(err, TransportError::TlsHandshake { .. }), "{err}");
    assert_eq!(client.stream_count(), 0);
}

#[tokio::test]
async fn udp_stun_keepalive_is_answered_and_reported() {
    use ims_transport::stun::{binding_request, parse_binding_response, TransactionId};
    let (layer, mut rx) = TransportLayer::new(TransportConfig::default(), None);
    let socket = layer.bind_udp(any_port()).await.expect("bind");
    let server = socket.info().local;
    let ue = tokio::net::UdpSocket::bind(any_port()).await.expect("ue");
    let ue_addr = ue.local_addr().expect("ue addr");
    let id = TransactionId([7; 12]);
    ue.send_to(&binding_request(id), server)
        .await
        .expect("send");
    let mut buf = [0u8; 1500];
    let (n, from) = tokio::time::timeout(PATIENCE, ue.recv_from(&mut buf))
        .await
        .expect("reply in time")
        .expect("recv");
    assert_eq!(from, server);
    let reflexive = parse_binding_response(buf.get(..n).expect("len"), &id).expect("response");
    assert_eq!(reflexive, ue_addr, "XOR-MAPPED-ADDRESS is the UE's address");
    match next_non_open(&mut rx).await {
        Event::KeepAlivePing { conn, remote } => {
            assert_eq!(conn, socket.id());
            assert_eq!(remote, ue_addr);
        }
        other => panic!("expected a keep-alive, got {other:?}"),
    }
}

#[tokio::test]
async fn slow_event_consumer_loses_nothing() {
    let config = TransportConfig {
        event_queue: 1,
        ..TransportConfig::default()
    };
    let (server, mut rx) = TransportLayer::new(config, None);
    let addr = server.listen_tcp(any_port()).await.expect("listen");
    let mut client = TcpStream::connect(addr).await.expect("connect");
    let burst: String = (0..50)
        .map(|i| format!("MESSAGE sip:b SIP/2.0\r\nCSeq: {i} MESSAGE\r\nContent-Length: 0\r\n\r\n"))
        .collect();
    client.write_all(burst.as_bytes()).await.expect("write");
    for i in 0..50 {
        tokio::task::yield_now().await;
        let (_, _, data) = next_message(&mut rx).await;
        let expected = format!("CSeq: {i} MESSAGE\r\n");
        assert!(
            data.windows(expected.len())
                .any(|w| w == expected.as_bytes()),
            "message {i} in order"
        );
    }
}

#[tokio::test]
async fn shutdown_deadline_aborts_stuck_connections() {
    let (server, mut rx, addr) = tcp_server().await;
    // The client never reads: the connection cannot flush before the deadline.
    let _client = TcpStream::connect(addr).await.expect("connect");
    let conn = match next_event(&mut rx).await {
        Event::Opened(info) => info.conn,
        other => panic!("expected Opened, got {other:?}"),
    };
    let handle = server.connection(conn).expect("handle");
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    loop {
        match handle.try_send(big.clone()) {
            Ok(()) => tokio::task::yield_now().await,
            Err(TransportError::QueueFull(_)) => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(
        !server.shutdown(Duration::from_millis(100)).await,
        "a stuck connection cannot end gracefully"
    );
    assert_eq!(server.stream_count(), 0);
    assert!(handle.is_closed());
    assert!(matches!(
        handle.send(Bytes::new()).await,
        Err(TransportError::ConnectionClosed(c)) if c == conn
    ));
}

#[tokio::test]
async fn ipv6_udp_and_tcp() {
    let v6 = SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 0));
    let (server, mut s_rx) = TransportLayer::new(TransportConfig::default(), None);
    let udp = server.bind_udp(v6).await.expect("bind udp");
    let tcp = server.listen_tcp(v6).await.expect("listen tcp");
    let (client, _c_rx) = TransportLayer::new(TransportConfig::default(), None);
    client.bind_udp(v6).await.expect("client udp");
    for (transport, remote) in [(Transport::Udp, udp.info().local), (Transport::Tcp, tcp)] {
        client
            .send(
                Target::Remote {
                    transport,
                    remote,
                    server_name: None,
                },
                Bytes::from_static(OPTIONS.as_bytes()),
            )
            .await
            .expect("send");
        match next_non_open(&mut s_rx).await {
            Event::Message {
                transport: t,
                local,
                remote: from,
                data,
                ..
            } => {
                assert_eq!(t, transport);
                assert_eq!(local, remote);
                assert!(from.is_ipv6());
                assert_eq!(&data[..], OPTIONS.as_bytes());
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
}
