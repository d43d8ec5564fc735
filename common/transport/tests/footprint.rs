//! Memory held per idle TCP connection, measured with a counting allocator.
//!
//! Run `cargo test -p ims-transport --test footprint -- --nocapture` to see the figure. The
//! kernel's socket buffers are not counted (they are not heap memory of this process).

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ims_transport::{tls, Event, Target, Transport, TransportConfig, TransportLayer};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNECTIONS: usize = 500;

/// One test function, so the two measurements never run at once against the global counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_footprint() {
    idle_tcp_connection_footprint().await;
    idle_tls_connection_pair_footprint().await;
}

async fn idle_tcp_connection_footprint() {
    let (layer, mut rx) = TransportLayer::new(TransportConfig::default(), None);
    let addr = layer
        .listen_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("listen");
    let mut clients = Vec::with_capacity(CONNECTIONS + 1);
    // One warm-up connection, so one-time allocations are not counted per connection.
    clients.push(std::net::TcpStream::connect(addr).expect("connect"));
    assert!(matches!(recv(&mut rx).await, Event::Opened(_)));

    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..CONNECTIONS {
        clients.push(std::net::TcpStream::connect(addr).expect("connect"));
    }
    for _ in 0..CONNECTIONS {
        assert!(matches!(recv(&mut rx).await, Event::Opened(_)));
    }
    // Let every connection task reach its idle wait.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = LIVE.load(Ordering::Relaxed);
    let per_connection = (after - before) / CONNECTIONS as isize;
    println!("heap per idle TCP connection: {per_connection} bytes ({CONNECTIONS} connections)");
    assert_eq!(layer.stream_count(), CONNECTIONS + 1);
    assert!(
        per_connection < 4096,
        "an idle connection holds {per_connection} bytes"
    );
    drop(clients);
}

/// Both ends of TLS connections in one process: a client layer and a server layer. Reported,
/// with a loose bound: rustls keeps per-connection state (keys, buffers) that TCP does not have.
async fn idle_tls_connection_pair_footprint() {
    const PAIRS: usize = 100;
    let certified = rcgen::generate_simple_self_signed(vec!["sip.example.test".to_owned()])
        .expect("certificate");
    let cert = certified.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("key");
    let server_config = tls::server_config(vec![cert.clone()], key).expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let client_config = tls::client_config(roots).expect("client config");

    let (server, mut s_rx) = TransportLayer::new(TransportConfig::default(), None);
    let addr = server
        .listen_tls(SocketAddr::from(([127, 0, 0, 1], 0)), server_config)
        .await
        .expect("listen");
    let mut clients: Vec<(TransportLayer, tokio::sync::mpsc::Receiver<Event>)> = (0..=PAIRS)
        .map(|_| TransportLayer::new(TransportConfig::default(), Some(client_config.clone())))
        .collect();
    let target = Target::Remote {
        transport: Transport::Tls,
        remote: addr,
        server_name: Some("sip.example.test".to_owned()),
    };
    let ping = Bytes::from_static(b"\r\n\r\n");
    // Warm-up pair.
    clients[0]
        .0
        .send(target.clone(), ping.clone())
        .await
        .expect("send");
    while !matches!(recv(&mut s_rx).await, Event::KeepAlivePing { .. }) {}

    let before = LIVE.load(Ordering::Relaxed);
    for (client, _) in &clients[1..] {
        client
            .send(target.clone(), ping.clone())
            .await
            .expect("send");
    }
    let mut pings = 0;
    while pings < PAIRS {
        if let Event::KeepAlivePing { .. } = recv(&mut s_rx).await {
            pings += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (_, rx) in &mut clients {
        while rx.try_recv().is_ok() {}
    }
    let after = LIVE.load(Ordering::Relaxed);
    let per_pair = (after - before) / PAIRS as isize;
    println!(
        "heap per idle TLS connection pair (client + server): {per_pair} bytes ({PAIRS} pairs)"
    );
    assert_eq!(server.stream_count(), PAIRS + 1);
    assert!(
        per_pair < 256 * 1024,
        "an idle TLS pair holds {per_pair} bytes"
    );
}

async fn recv(rx: &mut tokio::sync::mpsc::Receiver<Event>) -> Event {
    match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        Ok(Some(e)) => e,
        other => panic!("no event: {other:?}"),
    }
}
