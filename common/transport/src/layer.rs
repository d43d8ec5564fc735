//! The transport layer (RFC 3261 §18): listeners, the table of live connections, sending to a
//! connection or to an address (reusing a connection to it, RFC 3261 §18.1.1, or opening one),
//! and graceful shutdown.
//!
//! Every connection and socket runs in its own task; this table only holds cheap handles to
//! them, so others reach a connection only through a [`ConnectionHandle`] or a [`Target`].

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::TransportConfig;
use crate::connection::{
    run_stream, CloseOnDrop, ConnectionHandle, Outgoing, StreamContext, UdpShared,
};
use crate::error::TransportError;
use crate::event::{CloseReason, ConnectionId, ConnectionInfo, Direction, Event, Transport};
use crate::framing::StreamFramer;
use crate::outbox::Outbox;
use crate::udp::run_udp;

/// Where to send a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An existing TCP or TLS connection (e.g. the one a request arrived on, RFC 3261
    /// §18.2.2, or an RFC 5626 flow). Fails if it has closed; never opens a new one.
    Connection(ConnectionId),
    /// A datagram from a given UDP socket (responses leave from the socket the request arrived
    /// on, RFC 3261 §18.2.2).
    Datagram {
        /// The UDP socket's id.
        socket: ConnectionId,
        /// The destination.
        remote: SocketAddr,
    },
    /// Any connection to `remote` over `transport`: an open one is reused, otherwise one is
    /// opened (RFC 3261 §18.1.1). For UDP, the first bound socket of the same address family.
    Remote {
        /// The transport.
        transport: Transport,
        /// The destination.
        remote: SocketAddr,
        /// For TLS, the name the server certificate must match (RFC 3261 §26.3.1); without
        /// one, the certificate must match the IP address.
        server_name: Option<String>,
    },
}

/// One async lock per (transport, remote) being dialled.
type DialLocks = HashMap<(Transport, SocketAddr), Arc<tokio::sync::Mutex<()>>>;

/// The connection table.
#[derive(Default)]
struct Table {
    conns: HashMap<ConnectionId, ConnectionHandle>,
    /// Streams by remote address, for reuse.
    by_remote: HashMap<(Transport, SocketAddr), ConnectionId>,
    /// Bound UDP sockets, in bind order.
    udp: Vec<ConnectionId>,
    /// Open streams (counted against `max_connections`).
    streams: usize,
    /// Every running task, so shutdown can abort what outlives the deadline.
    tasks: HashMap<u64, AbortHandle>,
    next_task: u64,
}

struct Inner {
    config: TransportConfig,
    events: mpsc::Sender<Event>,
    tls_client: Option<Arc<ClientConfig>>,
    /// `true` once shutdown began. Every task holds a receiver, so `closed()` on this sender
    /// tells when all tasks have ended.
    shutdown_tx: watch::Sender<bool>,
    shutting_down: AtomicBool,
    table: Mutex<Table>,
    /// One lock per address being connected to, so concurrent sends open one connection.
    dialing: Mutex<DialLocks>,
}

impl Inner {
    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters more than losing the whole transport, so poisoning is ignored.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dialing(&self) -> MutexGuard<'_, DialLocks> {
        self.dialing.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The transport layer: cheap to clone, shared by everything that sends.
#[derive(Clone)]
pub struct TransportLayer {
    inner: Arc<Inner>,
}

impl TransportLayer {
    /// A transport layer with no sockets yet, and the channel its events arrive on.
    /// `tls_client` is needed to open TLS connections (see [`crate::tls::client_config`]).
    pub fn new(
        config: TransportConfig,
        tls_client: Option<Arc<ClientConfig>>,
    ) -> (Self, mpsc::Receiver<Event>) {
        let (events, events_rx) = mpsc::channel(config.event_queue.max(1));
        let (shutdown_tx, _) = watch::channel(false);
        let inner = Inner {
            config,
            events,
            tls_client,
            shutdown_tx,
            shutting_down: AtomicBool::new(false),
            table: Mutex::new(Table::default()),
            dialing: Mutex::new(HashMap::new()),
        };
        (
            Self {
                inner: Arc::new(inner),
            },
            events_rx,
        )
    }

    /// The settings in use.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// Binds a UDP socket and starts receiving on it.
    pub async fn bind_udp(&self, addr: SocketAddr) -> Result<ConnectionHandle, TransportError> {
        self.check_running()?;
        let socket = UdpSocket::bind(addr).await?;
        let info = ConnectionInfo {
            conn: ConnectionId::next(),
            transport: Transport::Udp,
            direction: Direction::Inbound,
            local: socket.local_addr()?,
            remote: unspecified_like(addr),
        };
        let shared = Arc::new(UdpShared {
            socket,
            closed: AtomicBool::new(false),
        });
        let handle = ConnectionHandle::datagram(info, shared.clone());
        {
            let mut table = self.inner.table();
            table.conns.insert(info.conn, handle.clone());
            table.udp.push(info.conn);
        }
        let events = self.inner.events.clone();
        let shutdown = self.inner.shutdown_tx.subscribe();
        let max_datagram = self.inner.config.max_datagram;
        let layer = self.clone();
        self.spawn_tracked(async move {
            if events.send(Event::Opened(info)).await.is_err() {
                layer.unregister(&info);
                return;
            }
            let reason = run_udp(shared, info, events, shutdown, max_datagram).await;
            layer.unregister(&info);
            layer.report_closed(info, reason).await;
        });
        Ok(handle)
    }

    /// Listens for TCP connections; returns the bound address.
    pub async fn listen_tcp(&self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        self.listen(addr, None).await
    }

    /// Listens for TLS connections with the given server configuration (see
    /// [`crate::tls::server_config`]); returns the bound address.
    pub async fn listen_tls(
        &self,
        addr: SocketAddr,
        config: Arc<ServerConfig>,
    ) -> Result<SocketAddr, TransportError> {
        self.listen(addr, Some(TlsAcceptor::from(config))).await
    }

    async fn listen(
        &self,
        addr: SocketAddr,
        tls: Option<TlsAcceptor>,
    ) -> Result<SocketAddr, TransportError> {
        self.check_running()?;
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let mut shutdown = self.inner.shutdown_tx.subscribe();
        let layer = self.clone();
        self.spawn_tracked(async move {
            if *shutdown.borrow_and_update() {
                return;
            }
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.changed() => return,
                    r = listener.accept() => r,
                };
                match accepted {
                    Ok((tcp, remote)) => layer.accepted(tcp, local, remote, tls.clone()),
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(%local, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(local)
    }

    /// Starts the task of an accepted stream (the TLS handshake runs inside it).
    fn accepted(
        &self,
        tcp: TcpStream,
        local: SocketAddr,
        remote: SocketAddr,
        tls: Option<TlsAcceptor>,
    ) {
        let limit = self.inner.config.max_connections;
        if self.inner.table().streams >= limit {
            tracing::warn!(%remote, limit, "connection limit reached; closing accepted connection");
            return;
        }
        if let Err(e) = tcp.set_nodelay(self.inner.config.tcp_nodelay) {
            tracing::debug!(%remote, error = %e, "set_nodelay failed");
        }
        let transport = if tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        };
        let info = ConnectionInfo {
            conn: ConnectionId::next(),
            transport,
            direction: Direction::Inbound,
            // The listener may be bound to a wildcard; the connection knows its real address.
            local: tcp.local_addr().unwrap_or(local),
            remote,
        };
        let layer = self.clone();
        match tls {
            None => {
                let queue = self.register_stream(info);
                self.spawn_tracked(layer.drive_stream(tcp, info, queue));
            }
            Some(acceptor) => {
                let limit = self.inner.config.tls_handshake_timeout;
                self.spawn_tracked(async move {
                    // The handshake state and the TLS stream are large; the stream moves into
                    // the split halves. Built in a block so neither stays part of the task's
                    // size (a future keeps every local that is live across an await).
                    let handshake = Box::pin(timeout(limit, acceptor.accept(tcp)));
                    let drive = match handshake.await {
                        Ok(Ok(stream)) => {
                            let queue = layer.register_stream(info);
                            layer.drive_stream(stream, info, queue)
                        }
                        Ok(Err(e)) => {
                            tracing::info!(%remote, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::info!(%remote, "TLS handshake timed out");
                            return;
                        }
                    };
                    drive.await;
                });
            }
        }
    }

    /// Puts a stream in the table and returns the receiving end of its queue.
    fn register_stream(&self, info: ConnectionInfo) -> Arc<Outbox<Outgoing>> {
        let queue = Arc::new(Outbox::new(self.inner.config.outbound_queue));
        let handle = ConnectionHandle::stream(info, queue.clone());
        let mut table = self.inner.table();
        table.conns.insert(info.conn, handle);
        table
            .by_remote
            .insert((info.transport, info.remote), info.conn);
        table.streams += 1;
        queue
    }

    fn unregister(&self, info: &ConnectionInfo) {
        let mut table = self.inner.table();
        if table.conns.remove(&info.conn).is_none() {
            return;
        }
        if info.transport.is_stream() {
            table.streams = table.streams.saturating_sub(1);
        } else {
            table.udp.retain(|c| *c != info.conn);
        }
        let key = (info.transport, info.remote);
        if table.by_remote.get(&key) == Some(&info.conn) {
            table.by_remote.remove(&key);
        }
    }

    /// The task of a registered stream: reports `Opened`, runs it to its end, reports `Closed`.
    ///
    /// The stream is split before the future is built, so the future does not also keep a
    /// (moved-out) copy of it.
    fn drive_stream<S>(
        self,
        stream: S,
        info: ConnectionInfo,
        queue: Arc<Outbox<Outgoing>>,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut ctx = StreamContext {
            info,
            framer: StreamFramer::new(self.inner.config.framing_limits()),
            queue,
            events: self.inner.events.clone(),
            shutdown: self.inner.shutdown_tx.subscribe(),
            idle_timeout: self.inner.config.idle_timeout,
        };
        async move {
            // Whatever way this ends (even aborted), senders must see the connection closed.
            let _closer = CloseOnDrop(ctx.queue.clone());
            if ctx.events.send(Event::Opened(info)).await.is_err() {
                self.unregister(&info);
                return;
            }
            let reason = run_stream(&mut rd, &mut wr, &mut ctx).await;
            tracing::debug!(conn = %info.conn, remote = %info.remote, %reason, "connection closed");
            // Out of the table first, so that whoever sees `Closed` can no longer reach it.
            ctx.queue.close_and_clear();
            self.unregister(&info);
            self.report_closed(info, reason).await;
        }
    }

    async fn report_closed(&self, info: ConnectionInfo, reason: CloseReason) {
        let event = Event::Closed {
            conn: info.conn,
            transport: info.transport,
            remote: info.remote,
            reason,
        };
        if self.inner.shutting_down.load(Ordering::Acquire) {
            // The consumer may have stopped reading; do not hold shutdown up.
            let _ = self.inner.events.try_send(event);
        } else {
            let _ = self.inner.events.send(event).await;
        }
    }

    fn spawn_tracked<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Held until the task ends: `shutdown_tx.closed()` waits for every such receiver.
        let alive = self.inner.shutdown_tx.subscribe();
        let inner = self.inner.clone();
        let mut table = self.inner.table();
        let key = table.next_task;
        table.next_task += 1;
        // The table lock is held across spawn so the task's own removal (which takes the same
        // lock) cannot run before its insertion.
        let handle = tokio::spawn(async move {
            task.await;
            inner.table().tasks.remove(&key);
            drop(alive);
        });
        table.tasks.insert(key, handle.abort_handle());
    }

    fn check_running(&self) -> Result<(), TransportError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Err(TransportError::ShuttingDown);
        }
        Ok(())
    }

    /// The handle of a live connection or UDP socket.
    pub fn connection(&self, conn: ConnectionId) -> Option<ConnectionHandle> {
        self.inner.table().conns.get(&conn).cloned()
    }

    /// The live stream to `remote` over `transport`, if any.
    pub fn find(&self, transport: Transport, remote: SocketAddr) -> Option<ConnectionHandle> {
        let table = self.inner.table();
        let conn = table.by_remote.get(&(transport, remote))?;
        table.conns.get(conn).cloned()
    }

    /// Open streams.
    pub fn stream_count(&self) -> usize {
        self.inner.table().streams
    }

    /// Asks a stream to write what is queued and close. Returns false if it is not open.
    pub fn close(&self, conn: ConnectionId) -> bool {
        match self.connection(conn) {
            Some(handle) if handle.info().transport.is_stream() => {
                handle.request_close();
                true
            }
            _ => false,
        }
    }

    /// Sends one message; returns the connection or socket it was queued on. For streams the
    /// message is queued (waiting while the queue is full) and written by the connection task.
    pub async fn send(&self, target: Target, data: Bytes) -> Result<ConnectionId, TransportError> {
        self.check_running()?;
        match target {
            Target::Connection(conn) => {
                let handle = self
                    .connection(conn)
                    .ok_or(TransportError::ConnectionClosed(conn))?;
                handle.send(data).await?;
                Ok(conn)
            }
            Target::Datagram { socket, remote } => {
                let handle = self
                    .connection(socket)
                    .ok_or(TransportError::ConnectionClosed(socket))?;
                handle.send_to(remote, data).await?;
                Ok(socket)
            }
            Target::Remote {
                transport: Transport::Udp,
                remote,
                ..
            } => {
                let handle = self.udp_for(remote)?;
                handle.send_to(remote, data).await?;
                Ok(handle.id())
            }
            Target::Remote {
                transport,
                remote,
                server_name,
            } => {
                let handle = self
                    .stream_to(transport, remote, server_name.as_deref())
                    .await?;
                match handle.send(data.clone()).await {
                    Err(TransportError::ConnectionClosed(_)) => {
                        // It closed between lookup and send: open a fresh one, once.
                        let handle = self
                            .stream_to(transport, remote, server_name.as_deref())
                            .await?;
                        handle.send(data).await?;
                        Ok(handle.id())
                    }
                    Err(e) => Err(e),
                    Ok(()) => Ok(handle.id()),
                }
            }
        }
    }

    fn udp_for(&self, remote: SocketAddr) -> Result<ConnectionHandle, TransportError> {
        let table = self.inner.table();
        table
            .udp
            .iter()
            .filter_map(|c| table.conns.get(c))
            .find(|h| h.info().local.is_ipv4() == remote.is_ipv4())
            .cloned()
            .ok_or(TransportError::NoTransport {
                transport: Transport::Udp,
                remote,
            })
    }

    /// An open stream to `remote`, or a new one (one dial at a time per address).
    pub async fn stream_to(
        &self,
        transport: Transport,
        remote: SocketAddr,
        server_name: Option<&str>,
    ) -> Result<ConnectionHandle, TransportError> {
        if let Some(handle) = self.find(transport, remote).filter(|h| !h.is_closed()) {
            return Ok(handle);
        }
        let key = (transport, remote);
        let dial_lock = self.inner.dialing().entry(key).or_default().clone();
        let result = {
            let _dialing = dial_lock.lock().await;
            match self.find(transport, remote).filter(|h| !h.is_closed()) {
                Some(handle) => Ok(handle),
                None => self.connect(transport, remote, server_name).await,
            }
        };
        let mut dialing = self.inner.dialing();
        // Ours and the map's reference: nobody else waits on this address.
        if Arc::strong_count(&dial_lock) == 2 {
            dialing.remove(&key);
        }
        result
    }

    /// Opens a TCP or TLS client connection and starts its task.
    async fn connect(
        &self,
        transport: Transport,
        remote: SocketAddr,
        server_name: Option<&str>,
    ) -> Result<ConnectionHandle, TransportError> {
        self.check_running()?;
        let config = &self.inner.config;
        if self.stream_count() >= config.max_connections {
            return Err(TransportError::TooManyConnections(config.max_connections));
        }
        let tls = match transport {
            Transport::Udp => {
                return Err(TransportError::NoTransport { transport, remote });
            }
            Transport::Tcp => None,
            Transport::Tls => {
                let client = self
                    .inner
                    .tls_client
                    .clone()
                    .ok_or(TransportError::NoTransport { transport, remote })?;
                let name = match server_name {
                    Some(name) => ServerName::try_from(name.to_owned())
                        .map_err(|_| TransportError::InvalidServerName(name.to_owned()))?,
                    None => ServerName::IpAddress(remote.ip().into()),
                };
                Some((TlsConnector::from(client), name))
            }
        };
        let tcp = timeout(config.connect_timeout, TcpStream::connect(remote))
            .await
            .map_err(|_| TransportError::ConnectTimeout(remote))??;
        if let Err(e) = tcp.set_nodelay(config.tcp_nodelay) {
            tracing::debug!(%remote, error = %e, "set_nodelay failed");
        }
        let info = ConnectionInfo {
            conn: ConnectionId::next(),
            transport,
            direction: Direction::Outbound,
            local: tcp.local_addr()?,
            remote,
        };
        let layer = self.clone();
        match tls {
            None => {
                let queue = self.register_stream(info);
                self.spawn_tracked(layer.drive_stream(tcp, info, queue));
            }
            Some((connector, name)) => {
                let stream = timeout(config.tls_handshake_timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|_| TransportError::TlsHandshake {
                        remote,
                        reason: "timed out".into(),
                    })?
                    .map_err(|e| TransportError::TlsHandshake {
                        remote,
                        reason: e.to_string(),
                    })?;
                let queue = self.register_stream(info);
                self.spawn_tracked(layer.drive_stream(stream, info, queue));
            }
        }
        self.connection(info.conn)
            .ok_or(TransportError::ConnectionClosed(info.conn))
    }

    /// Graceful shutdown: listeners stop accepting, sends fail with
    /// [`TransportError::ShuttingDown`], every connection writes what was already queued,
    /// closes (TLS with close_notify) and ends. Tasks still running after `deadline` are
    /// aborted. Returns true when everything ended before the deadline.
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        self.inner.shutting_down.store(true, Ordering::Release);
        self.inner.shutdown_tx.send_replace(true);
        let graceful = timeout(deadline, self.inner.shutdown_tx.closed())
            .await
            .is_ok();
        if !graceful {
            let tasks: Vec<AbortHandle> =
                self.inner.table().tasks.drain().map(|(_, h)| h).collect();
            tracing::warn!(
                remaining = tasks.len(),
                "shutdown deadline passed; aborting tasks"
            );
            for task in tasks {
                task.abort();
            }
            // Aborted tasks never reach their own unregistering; empty the table for them.
            {
                let mut table = self.inner.table();
                for handle in table.conns.values() {
                    handle.mark_closed();
                }
                table.conns.clear();
                table.by_remote.clear();
                table.udp.clear();
                table.streams = 0;
            }
            // Aborted tasks drop their sockets when the runtime next polls them.
            let _ = timeout(Duration::from_secs(1), self.inner.shutdown_tx.closed()).await;
        }
        graceful
    }
}

/// The unspecified address of the same family, used as the "remote" of a UDP socket.
fn unspecified_like(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}
