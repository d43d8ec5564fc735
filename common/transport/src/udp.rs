//! The UDP socket task (RFC 3261 §18.1.1, §18.2.1): one task per bound socket, each datagram is
//! one message. Sends do not go through the task: every handle shares the socket.
//!
//! STUN Binding requests (RFC 5626 §4.4.2 keep-alives, §8 server side) are answered here with
//! [`crate::stun::handle_request`] and reported as [`Event::KeepAlivePing`].
//!
//! Partial: UDP "flows" (one per remote 5-tuple) are not tracked yet; every datagram is
//! reported with the socket's id and its source address.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::connection::UdpShared;
use crate::event::{CloseReason, ConnectionInfo, Event};
use crate::stun::{self, ServerAction};

/// Datagrams of only CR/LF: NAT keep-alives some UAs send over UDP (RFC 3261 §7.5 lets
/// receivers ignore CRLFs outside messages). They carry no message.
fn is_crlf_only(datagram: &[u8]) -> bool {
    datagram.iter().all(|&b| b == b'\r' || b == b'\n')
}

/// Receives datagrams until shutdown, and returns why it ended.
pub(crate) async fn run_udp(
    shared: Arc<UdpShared>,
    info: ConnectionInfo,
    events: mpsc::Sender<Event>,
    mut shutdown: watch::Receiver<bool>,
    max_datagram: usize,
) -> CloseReason {
    let reason = receive_loop(&shared, info, &events, &mut shutdown, max_datagram).await;
    shared.closed.store(true, Ordering::Release);
    reason
}

async fn receive_loop(
    shared: &UdpShared,
    info: ConnectionInfo,
    events: &mpsc::Sender<Event>,
    shutdown: &mut watch::Receiver<bool>,
    max_datagram: usize,
) -> CloseReason {
    if *shutdown.borrow_and_update() {
        return CloseReason::Shutdown;
    }
    // One receive buffer per socket (not per peer), so it can hold the largest datagram.
    let mut buf = vec![0u8; max_datagram.max(1)];
    loop {
        let (n, remote) = tokio::select! {
            _ = shutdown.changed() => return CloseReason::Shutdown,
            r = shared.socket.recv_from(&mut buf) => match r {
                Ok(received) => received,
                Err(e) => {
                    // Errors on an unconnected UDP socket concern one peer (e.g. an ICMP
                    // error); the socket itself stays usable.
                    tracing::debug!(conn = %info.conn, error = %e, "UDP receive error");
                    continue;
                }
            },
        };
        let Some(datagram) = buf.get(..n) else {
            continue;
        };
        if is_crlf_only(datagram) {
            continue;
        }
        let event = if stun::is_stun(datagram) {
            match stun::handle_request(datagram, remote) {
                ServerAction::Reply(reply) => {
                    if let Err(e) = shared.socket.send_to(&reply, remote).await {
                        tracing::debug!(conn = %info.conn, %remote, error = %e, "STUN reply not sent");
                    }
                    Event::KeepAlivePing {
                        conn: info.conn,
                        remote,
                    }
                }
                ServerAction::Discard(e) => {
                    tracing::debug!(conn = %info.conn, %remote, error = %e, "STUN datagram dropped");
                    continue;
                }
            }
        } else {
            Event::Message {
                conn: info.conn,
                transport: info.transport,
                local: info.local,
                remote,
                data: Bytes::copy_from_slice(datagram),
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return CloseReason::Shutdown,
            r = events.send(event) => if r.is_err() {
                return CloseReason::EventsDropped;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_keepalive_datagrams() {
        assert!(is_crlf_only(b"\r\n\r\n"));
        assert!(!is_crlf_only(b"\r\nX"));
    }
}
