//! Settings of the transport layer. A plain struct: configuration files are parsed elsewhere.

use std::time::Duration;

use crate::framing::FramingLimits;

/// Settings of a [`crate::TransportLayer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Largest header block accepted on a stream (RFC 3261 §18.3 framing).
    pub max_header_block: usize,
    /// Largest body accepted on a stream; larger messages are skipped.
    pub max_body: usize,
    /// Largest datagram received on UDP (bytes beyond it are truncated by the kernel and the
    /// datagram is dropped).
    pub max_datagram: usize,
    /// Messages queued per connection before senders wait (backpressure).
    pub outbound_queue: usize,
    /// Events queued before connection tasks stop reading (backpressure towards peers).
    pub event_queue: usize,
    /// Close a stream after this long without bytes in either direction. RFC 5626 clients send
    /// keep-alives every 95-120 s by default (§4.4.1), so this must be well above that.
    pub idle_timeout: Option<Duration>,
    /// Limit for opening a TCP connection.
    pub connect_timeout: Duration,
    /// Limit for a TLS handshake, in either role.
    pub tls_handshake_timeout: Duration,
    /// Streams open at once; accepts beyond it are closed immediately.
    pub max_connections: usize,
    /// Disable Nagle on streams: SIP messages are small and latency matters.
    pub tcp_nodelay: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        let framing = FramingLimits::default();
        Self {
            max_header_block: framing.max_header_block,
            max_body: framing.max_body,
            max_datagram: 65_535,
            outbound_queue: 32,
            event_queue: 4096,
            idle_timeout: Some(Duration::from_secs(300)),
            connect_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 100_000,
            tcp_nodelay: true,
        }
    }
}

impl TransportConfig {
    /// The framing limits these settings imply.
    pub fn framing_limits(&self) -> FramingLimits {
        FramingLimits {
            max_header_block: self.max_header_block,
            max_body: self.max_body,
        }
    }
}
