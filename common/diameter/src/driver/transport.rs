//! How the node opens and accepts byte streams. The default is plain TCP (RFC 6733 §2.1);
//! a deployment that needs TLS (RFC 6733 §13, Diameter over TLS/TCP from the first octet, the
//! `aaas` port) plugs a [`Transport`] that wraps the TCP stream, e.g. with tokio-rustls, so this
//! crate needs no TLS dependency.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::BoxFuture;

/// A byte stream Diameter can run over.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;

/// Opens outgoing and wraps accepted connections.
pub trait Transport: Send + Sync + 'static {
    /// Connects to a peer (for a TLS transport: TCP connect, then the client handshake).
    fn connect(&self, address: SocketAddr) -> BoxFuture<io::Result<BoxStream>>;
    /// Wraps an accepted TCP connection (for a TLS transport: the server handshake).
    fn accept(&self, stream: TcpStream) -> BoxFuture<io::Result<BoxStream>>;
}

/// Plain TCP with Nagle disabled (Diameter messages are small and latency matters).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tcp;

impl Transport for Tcp {
    fn connect(&self, address: SocketAddr) -> BoxFuture<io::Result<BoxStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn accept(&self, stream: TcpStream) -> BoxFuture<io::Result<BoxStream>> {
        Box::pin(async move {
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}
