//! The SIP transaction layer of RFC 3261 §17, with the corrections of RFC 6026, as sans-IO
//! state machines.
//!
//! Nothing here reads a clock or touches a socket (the quinn-proto model): every input
//! carries the caller's `now`, and outputs are pulled with `poll_transmit()` (what to send),
//! `poll_event()` (what to tell the transaction user, "TU") and `poll_timeout()` (when to call
//! `handle_timeout(now)` next).
//!
//! - [`InviteClient`] — §17.1.1 (Calling, Proceeding, Completed, RFC 6026 Accepted,
//!   Terminated), builds the ACK for non-2xx finals (§17.1.1.3, [`build_ack_for_non_2xx`]);
//!   [`build_cancel`] builds the CANCEL of §9.1 for the TU.
//! - [`NonInviteClient`] — §17.1.2 (Trying, Proceeding, Completed, Terminated).
//! - [`InviteServer`] — §17.2.1 (Proceeding, Completed, Confirmed, RFC 6026 Accepted,
//!   Terminated).
//! - [`NonInviteServer`] — §17.2.2 (Trying, Proceeding, Completed, Terminated).
//! - [`TransactionLayer`] — owns many transactions, matches messages to them (§17.1.3,
//!   §17.2.3, with the RFC 2543 fallback), matches CANCEL to the INVITE it cancels (§9.2)
//!   and schedules all timers.
//!
//! Timers are named after the spec ([`Timer`]); the retransmission timers A, E, G never run
//! on reliable transports, and D, I, J, K are zero there (Table 4). Timer C (§16.6) runs only
//! for proxies that ask for it ([`InviteClient::start_timer_c`],
//! [`TransactionLayer::start_timer_c`]).
//!
//! Not done here: the 2xx retransmission of a UAS core (§13.3.1.4) and the 2xx ACK of a UAC
//! core (§13.2.2.4) belong to the TU; the layer passes 2xx and their ACKs up for that.

mod error;
mod invite_client;
mod invite_server;
mod key;
mod layer;
mod non_invite_client;
mod non_invite_server;
#[cfg(test)]
mod test_support;
mod timers;

pub use error::TransactionError;
pub use invite_client::{build_ack_for_non_2xx, build_cancel, InviteClient, InviteClientState};
pub use invite_server::{InviteServer, InviteServerState};
pub use key::{ClientKey, ServerKey, MAGIC_COOKIE};
pub use layer::{Event, TransactionLayer, Transmit};
pub use non_invite_client::{NonInviteClient, NonInviteClientState};
pub use non_invite_server::{NonInviteServer, NonInviteServerState};
pub use timers::{Timer, TimerConfig};

use crate::Message;

/// Names one transaction inside a [`TransactionLayer`]; never reused by that layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u64);

/// What a single transaction machine tells its transaction user.
#[derive(Debug, Clone)]
pub enum TuEvent {
    /// A response for the TU (client transactions; §17.1.1.2, §17.1.2.2, RFC 6026 §8.4 for
    /// 2xx retransmissions in the Accepted state).
    Response(Message),
    /// An ACK that matched an INVITE server transaction in the Accepted state, which RFC 6026
    /// §8.7 says is passed to the TU.
    Ack(Message),
    /// The named timer expired: B or F on a client ("the TU synthesizes a 408", §8.1.3.1),
    /// H on an INVITE server (the ACK never arrived, §17.2.1), or C on a proxy's INVITE
    /// client (§16.8).
    Timeout(Timer),
    /// The transport could not send (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2, §18.4).
    TransportError,
}

/// The three response classes the state machines branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseClass {
    /// 1xx
    Provisional,
    /// 2xx
    Success,
    /// 3xx–6xx
    Failure,
}

/// Classifies a response by its status code; `None` for requests and codes outside 100–699.
pub(crate) fn response_class(message: &Message) -> Option<ResponseClass> {
    match message.status()?.0 {
        100..=199 => Some(ResponseClass::Provisional),
        200..=299 => Some(ResponseClass::Success),
        300..=699 => Some(ResponseClass::Failure),
        _ => None,
    }
}
