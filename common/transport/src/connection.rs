//! One task per stream connection (TCP or TLS): it owns the socket, frames what it reads
//! (RFC 3261 §18.3), answers CRLF keep-alive pings (RFC 5626 §4.4.1) and writes what others
//! queue through its [`ConnectionHandle`]. Nothing else touches the socket.
//!
//! Footprint: the task keeps no read buffer (reads go through a stack buffer and the framer's
//! buffer is released between messages), a bounded queue of outgoing messages, and the stream
//! itself (for TLS, the rustls connection with its own buffers).

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::outbox::{Outbox, TryPushError};
use tokio::time::{sleep, Instant};

use crate::error::TransportError;
use crate::event::{CloseReason, ConnectionId, ConnectionInfo, Event};
use crate::framing::{Frame, StreamFramer, PONG};

/// Bytes read per read call. The buffer lives on the stack only during the read, so it costs
/// nothing per idle connection.
const READ_CHUNK: usize = 4096;

/// What a handle puts in a connection's queue.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Data(Bytes),
    /// Write what is queued before this, then close.
    Close,
}

/// A UDP socket shared by its receive task and every sender.
#[derive(Debug)]
pub(crate) struct UdpShared {
    pub(crate) socket: UdpSocket,
    pub(crate) closed: AtomicBool,
}

#[derive(Debug, Clone)]
enum HandleKind {
    Stream(Arc<Outbox<Outgoing>>),
    Datagram(Arc<UdpShared>),
}

/// A cheap, cloneable way to reach one connection or UDP socket. Sending after the connection
/// ended fails with [`TransportError::ConnectionClosed`].
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    info: ConnectionInfo,
    kind: HandleKind,
}

impl ConnectionHandle {
    pub(crate) fn stream(info: ConnectionInfo, tx: Arc<Outbox<Outgoing>>) -> Self {
        Self {
            info,
            kind: HandleKind::Stream(tx),
        }
    }

    pub(crate) fn datagram(info: ConnectionInfo, socket: Arc<UdpShared>) -> Self {
        Self {
            info,
            kind: HandleKind::Datagram(socket),
        }
    }

    /// Its id, transport and addresses.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Its id.
    pub fn id(&self) -> ConnectionId {
        self.info.conn
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        match &self.kind {
            HandleKind::Stream(queue) => queue.is_closed(),
            HandleKind::Datagram(shared) => shared.closed.load(Ordering::Acquire),
        }
    }

    /// Queues a message on a stream, waiting while the queue is full (backpressure).
    pub async fn send(&self, data: Bytes) -> Result<(), TransportError> {
        match &self.kind {
            HandleKind::Stream(queue) => queue
                .push(Outgoing::Data(data))
                .await
                .map_err(|_| TransportError::ConnectionClosed(self.info.conn)),
            HandleKind::Datagram(_) => Err(TransportError::DatagramNeedsRemote(self.info.conn)),
        }
    }

    /// Queues a message on a stream without waiting; fails with
    /// [`TransportError::QueueFull`] when the queue is full.
    pub fn try_send(&self, data: Bytes) -> Result<(), TransportError> {
        match &self.kind {
            HandleKind::Stream(queue) => {
                queue.try_push(Outgoing::Data(data)).map_err(|e| match e {
                    TryPushError::Full(_) => TransportError::QueueFull(self.info.conn),
                    TryPushError::Closed(_) => TransportError::ConnectionClosed(self.info.conn),
                })
            }
            HandleKind::Datagram(_) => Err(TransportError::DatagramNeedsRemote(self.info.conn)),
        }
    }

    /// Sends one datagram from this UDP socket to `remote` (RFC 3261 §18.2.2: a response
    /// leaves from the socket the request arrived on). On a stream, `remote` must be the peer.
    pub async fn send_to(
        &self,
        remote: std::net::SocketAddr,
        data: Bytes,
    ) -> Result<(), TransportError> {
        match &self.kind {
            HandleKind::Datagram(shared) => {
                if shared.closed.load(Ordering::Acquire) {
                    return Err(TransportError::ConnectionClosed(self.info.conn));
                }
                shared.socket.send_to(&data, remote).await?;
                Ok(())
            }
            HandleKind::Stream(_) if remote == self.info.remote => self.send(data).await,
            HandleKind::Stream(_) => Err(TransportError::NoTransport {
                transport: self.info.transport,
                remote,
            }),
        }
    }

    /// Makes every later send fail (used when a task was aborted).
    pub(crate) fn mark_closed(&self) {
        match &self.kind {
            HandleKind::Stream(queue) => queue.close_and_clear(),
            HandleKind::Datagram(shared) => shared.closed.store(true, Ordering::Release),
        }
    }

    /// Asks the connection to write what is queued and close.
    pub(crate) fn request_close(&self) {
        if let HandleKind::Stream(queue) = &self.kind {
            // The close goes behind what is queued, and may exceed the queue's capacity: a
            // close must not wait for room.
            queue.push_close(Outgoing::Close);
        }
    }
}

/// What a stream task needs besides its socket.
pub(crate) struct StreamContext {
    pub(crate) info: ConnectionInfo,
    pub(crate) framer: StreamFramer,
    pub(crate) queue: Arc<Outbox<Outgoing>>,
    pub(crate) events: mpsc::Sender<Event>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) idle_timeout: Option<Duration>,
}

/// Reads once into a stack buffer and pushes the bytes into the framer. Cancel-safe: nothing is
/// read unless the poll completes.
async fn read_some<S: AsyncRead>(
    rd: &mut ReadHalf<S>,
    framer: &mut StreamFramer,
) -> std::io::Result<usize> {
    poll_fn(|cx| {
        let mut chunk = [0u8; READ_CHUNK];
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut *rd).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                framer.push(buf.filled());
                Poll::Ready(Ok(buf.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Writes some of `current`, or flushes when it is empty (TLS needs the flush to emit records).
async fn write_some<S: AsyncWrite>(
    wr: &mut WriteHalf<S>,
    current: &mut Bytes,
    needs_flush: &mut bool,
) -> std::io::Result<()> {
    if current.has_remaining() {
        let n = wr.write(current).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        current.advance(n);
        *needs_flush = true;
    } else {
        wr.flush().await?;
        *needs_flush = false;
    }
    Ok(())
}

/// Runs one stream connection until it ends, and returns why.
///
/// Everything lives in the caller's future and is borrowed here, so nothing is stored twice in
/// the task (the task's size is most of an idle connection's footprint).
pub(crate) async fn run_stream<S>(
    rd: &mut ReadHalf<S>,
    wr: &mut WriteHalf<S>,
    ctx: &mut StreamContext,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let StreamContext {
        info,
        framer,
        queue,
        events,
        shutdown,
        idle_timeout,
    } = ctx;
    let idle_timeout = *idle_timeout;
    let mut current = Bytes::new();
    let mut needs_flush = false;
    let mut pending_pong = false;
    let mut pending_event: Option<Event> = None;
    // Set when the connection is closing: reading stops, the queue is closed and drained.
    let mut draining: Option<CloseReason> = None;
    let mut queue_done = false;
    let idle = sleep(idle_timeout.unwrap_or(Duration::from_secs(86_400)));
    tokio::pin!(idle);
    // A subscription taken after shutdown began never sees a change: check the value once.
    if *shutdown.borrow_and_update() {
        draining = Some(CloseReason::Shutdown);
        queue.close();
    }

    loop {
        // Hand every complete frame to the event channel; stop at the first one that does not
        // fit, so a slow consumer slows the peer down (we stop reading) instead of costing memory.
        while pending_event.is_none() {
            let event = match framer.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::Message(data))) => Event::Message {
                    conn: info.conn,
                    transport: info.transport,
                    local: info.local,
                    remote: info.remote,
                    data,
                },
                Ok(Some(Frame::Ping)) => {
                    pending_pong = true;
                    Event::KeepAlivePing {
                        conn: info.conn,
                        remote: info.remote,
                    }
                }
                Ok(Some(Frame::Pong)) => Event::KeepAlivePong {
                    conn: info.conn,
                    remote: info.remote,
                },
                Err(e) if e.is_fatal() => {
                    tracing::warn!(conn = %info.conn, remote = %info.remote, error = %e, "closing connection");
                    return CloseReason::Framing(e);
                }
                Err(e) => {
                    tracing::warn!(conn = %info.conn, remote = %info.remote, error = %e, "framing");
                    continue;
                }
            };
            match events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => pending_event = Some(event),
                Err(mpsc::error::TrySendError::Closed(_)) => return CloseReason::EventsDropped,
            }
        }

        // A pong goes out between messages (RFC 5626 §3.5.1), never inside one.
        if pending_pong && !current.has_remaining() {
            current = Bytes::from_static(PONG);
            pending_pong = false;
        }

        if let Some(reason) = &draining {
            if queue_done && !current.has_remaining() && !needs_flush {
                // Orderly close; for TLS this sends close_notify.
                let _ = wr.shutdown().await;
                return reason.clone();
            }
        }

        let writing = current.has_remaining() || needs_flush;
        // Unbiased: a peer that floods us must not starve our writes, nor our writes its reads.
        tokio::select! {
            _ = shutdown.changed(), if draining.is_none() => {
                draining = Some(CloseReason::Shutdown);
                queue.close();
            }
            r = write_some(wr, &mut current, &mut needs_flush), if writing => {
                if let Err(e) = r {
                    return CloseReason::Io(e.kind());
                }
                if let Some(d) = idle_timeout {
                    idle.as_mut().reset(Instant::now() + d);
                }
            }
            m = queue.pop(), if !current.has_remaining() && !queue_done => match m {
                Some(Outgoing::Data(data)) => current = data,
                Some(Outgoing::Close) => {
                    draining.get_or_insert(CloseReason::Local);
                    queue.close();
                }
                None => {
                    queue_done = true;
                    draining.get_or_insert(CloseReason::Local);
                }
            },
            p = events.reserve(), if pending_event.is_some() => match (p, pending_event.take()) {
                (Ok(permit), Some(event)) => permit.send(event),
                _ => return CloseReason::EventsDropped,
            },
            r = read_some(rd, framer), if draining.is_none() && pending_event.is_none() => match r {
                Ok(0) if framer.in_message() => return CloseReason::PeerClosedMidMessage,
                Ok(0) => return CloseReason::PeerClosed,
                Ok(_) => {
                    if let Some(d) = idle_timeout {
                        idle.as_mut().reset(Instant::now() + d);
                    }
                }
                Err(e) => return CloseReason::Io(e.kind()),
            },
            _ = &mut idle, if idle_timeout.is_some() && draining.is_none() => {
                return CloseReason::IdleTimeout;
            }
        }
    }
}

/// Closes a connection's queue when its task ends or is dropped.
pub(crate) struct CloseOnDrop(pub(crate) Arc<Outbox<Outgoing>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close_and_clear();
    }
}
