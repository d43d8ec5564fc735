//! One connection (TCP, or whatever the [`super::Transport`] made): a reader task that frames Diameter messages (RFC 6733 §3: the Message
//! Length of the header delimits messages on a stream) and a writer task that writes what the
//! node hands it, then closes its half when the node drops the sender.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use super::transport::BoxStream;
use crate::codec::message_length;
use crate::header::{HEADER_LEN, MAX_MESSAGE_LEN};
use crate::peer::ConnectionId;

/// What a reader task reports to the node.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One complete message (undecoded).
    Frame(ConnectionId, Bytes),
    /// The connection ended (EOF, error, or a length that breaks framing).
    Closed(ConnectionId),
}

/// Reads frames until EOF or a broken stream. A Message Length below the header size, not a
/// multiple of 4, or above the 24-bit maximum cannot be resynchronised on a stream, so the
/// connection is given up (RFC 6733 §7.1.5, DIAMETER_INVALID_MESSAGE_LENGTH: the peer cannot be
/// answered reliably either).
pub(crate) async fn read_loop(
    id: ConnectionId,
    mut read: ReadHalf<BoxStream>,
    to_node: mpsc::UnboundedSender<Inbound>,
) {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        match message_length(&buf) {
            Some(len) if len < HEADER_LEN || !len.is_multiple_of(4) || len > MAX_MESSAGE_LEN => {
                tracing::warn!(connection = id.0, len, "broken Diameter framing, closing");
                break;
            }
            Some(len) if buf.len() >= len => {
                let frame = buf.split_to(len).freeze();
                if to_node.send(Inbound::Frame(id, frame)).is_err() {
                    return;
                }
                continue;
            }
            _ => {}
        }
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = to_node.send(Inbound::Closed(id));
}

/// Writes every payload in order; when the node drops the sender (Disconnect) the queue is
/// flushed first, then the write half is shut down so the peer sees the close.
pub(crate) async fn write_loop(
    mut write: WriteHalf<BoxStream>,
    mut from_node: mpsc::UnboundedReceiver<Bytes>,
) {
    while let Some(payload) = from_node.recv().await {
        if write.write_all(&payload).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}
