//! What the transport layer reports to the SIP layer above it, and the names it uses.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::framing::FramingError;

/// Names one connection (a TCP or TLS stream) or one UDP socket for the life of the process.
///
/// Ids are never reused within a process, so a stale id can never reach a newer connection that
/// happens to have the same remote address. RFC 5626 §5.2 flow tokens must also survive a
/// restart without aliasing: the outbound layer combines this id with a per-process random value
/// (and an HMAC) when it builds a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl ConnectionId {
    /// A fresh id, distinct from every id handed out before in this process.
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// The transport protocol, as named in the Via `transport` (RFC 3261 §18, §20.42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams (RFC 3261 §18.1.1, §18.2.1).
    Udp,
    /// A TCP stream (RFC 3261 §18.3 framing).
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2; RFC 5246/8446).
    Tls,
}

impl Transport {
    /// The Via transport token: `UDP`, `TCP` or `TLS`.
    pub fn as_via_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// Whether messages are framed by `Content-Length` on a stream.
    pub fn is_stream(self) -> bool {
        !matches!(self, Self::Udp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_via_str())
    }
}

/// Who opened a connection. An RFC 5626 edge proxy keeps flows only for connections the UA
/// opened (inbound); outbound connections go to other proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Accepted by one of our listeners, or a UDP socket we bound.
    Inbound,
    /// Opened by us as a client.
    Outbound,
}

/// The addresses of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionInfo {
    /// Its id.
    pub conn: ConnectionId,
    /// Its transport.
    pub transport: Transport,
    /// Who opened it.
    pub direction: Direction,
    /// Our address.
    pub local: SocketAddr,
    /// The peer's address; for a UDP socket, the unspecified address.
    pub remote: SocketAddr,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed the stream between messages.
    PeerClosed,
    /// The peer closed the stream in the middle of a message.
    PeerClosedMidMessage,
    /// No bytes in either direction for the configured idle timeout.
    IdleTimeout,
    /// The framer found a fatal error (RFC 3261 §18.3); the stream cannot be resynchronised.
    Framing(FramingError),
    /// A read or write failed.
    Io(std::io::ErrorKind),
    /// The TLS handshake failed or timed out.
    TlsHandshake(String),
    /// Closed locally through [`crate::TransportLayer::close`].
    Local,
    /// The transport layer shut down.
    Shutdown,
    /// Nobody receives events any more.
    EventsDropped,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed => f.write_str("closed by peer"),
            Self::PeerClosedMidMessage => f.write_str("closed by peer inside a message"),
            Self::IdleTimeout => f.write_str("idle timeout"),
            Self::Framing(e) => write!(f, "framing error: {e}"),
            Self::Io(kind) => write!(f, "I/O error: {kind}"),
            Self::TlsHandshake(e) => write!(f, "TLS handshake failed: {e}"),
            Self::Local => f.write_str("closed locally"),
            Self::Shutdown => f.write_str("transport shut down"),
            Self::EventsDropped => f.write_str("event receiver dropped"),
        }
    }
}

/// An event from the transport layer, delivered on the channel returned by
/// [`crate::TransportLayer::new`].
///
/// For RFC 5626 the edge proxy needs: `Opened` (a flow exists, with its direction), `Message`
/// (requests name the flow they came on), `KeepAlivePing` (the UA's CRLF keep-alive, to enforce
/// Flow-Timer, §5.4), `KeepAlivePong` (liveness of flows we ping, §4.4.1) and `Closed` (the flow
/// failed: later requests for it get 430 Flow Failed, §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection was accepted or opened (after the TLS handshake, for TLS), or a UDP socket
    /// was bound.
    Opened(ConnectionInfo),
    /// A complete SIP message: one datagram, or one framed message from a stream.
    Message {
        /// The connection or UDP socket it arrived on.
        conn: ConnectionId,
        /// Its transport.
        transport: Transport,
        /// Our address it arrived on.
        local: SocketAddr,
        /// The address it came from (RFC 3581 `received`/`rport` use this).
        remote: SocketAddr,
        /// The message bytes, not parsed.
        data: Bytes,
    },
    /// A CRLFCRLF keep-alive ping arrived and was answered with a CRLF pong (RFC 5626 §4.4.1).
    KeepAlivePing {
        /// The connection.
        conn: ConnectionId,
        /// Its peer.
        remote: SocketAddr,
    },
    /// A CRLF keep-alive pong arrived (RFC 5626 §4.4.1): the flow is alive.
    KeepAlivePong {
        /// The connection.
        conn: ConnectionId,
        /// Its peer.
        remote: SocketAddr,
    },
    /// The connection ended; its id is dead and sends to it fail.
    Closed {
        /// The connection.
        conn: ConnectionId,
        /// Its transport.
        transport: Transport,
        /// Its peer.
        remote: SocketAddr,
        /// Why it ended.
        reason: CloseReason,
    },
}
