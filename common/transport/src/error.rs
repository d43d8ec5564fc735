//! Errors of the transport layer. Each maps to what the SIP layer does on the wire: a request
//! that cannot be sent is a transport error (RFC 3261 §8.1.3.1, §17.1.4), which a client
//! transaction turns into a 503 (or, for a dead RFC 5626 flow, a 430 Flow Failed).

use std::net::SocketAddr;

use crate::event::{ConnectionId, Transport};

/// Why a send, bind or connect failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The connection does not exist (never did, or closed). For an RFC 5626 flow: 430.
    #[error("{0} is closed")]
    ConnectionClosed(ConnectionId),
    /// The connection's outbound queue is full (only from `try_send`).
    #[error("{0}: outbound queue full")]
    QueueFull(ConnectionId),
    /// No socket of this transport (and address family) is bound, or TLS has no client config.
    #[error("no {transport} transport available for {remote}")]
    NoTransport {
        /// The transport asked for.
        transport: Transport,
        /// The destination.
        remote: SocketAddr,
    },
    /// A UDP socket needs a destination: use [`crate::Target::Datagram`].
    #[error("{0} is a datagram socket; a remote address is required")]
    DatagramNeedsRemote(ConnectionId),
    /// The TLS server name is not a valid DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// Opening the connection took longer than the configured limit.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(SocketAddr),
    /// The TLS handshake failed or timed out.
    #[error("TLS handshake with {remote} failed: {reason}")]
    TlsHandshake {
        /// The peer.
        remote: SocketAddr,
        /// What rustls said.
        reason: String,
    },
    /// The limit on open streams is reached.
    #[error("connection limit of {0} reached")]
    TooManyConnections(usize),
    /// The transport layer is shutting down.
    #[error("transport layer is shutting down")]
    ShuttingDown,
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
