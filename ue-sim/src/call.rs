//! The per-call state of the UA core (RFC 3261 §13): which side we are, where the INVITE
//! transaction and the dialog stand, and the 2xx retransmission a UAS owes (§13.3.1.4).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ims_sip::transaction::TransactionId;
use ims_sip::Message;

use crate::dialog::Dialog;
use crate::event::{CallHandle, EndReason};
use crate::sdp::AudioMedia;

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Caller: INVITE sent, no provisional with a tag yet.
    Calling,
    /// Caller: 180/183 received (early dialog).
    Ringing,
    /// Callee: 180 sent, waiting for `answer` or `reject`.
    Incoming,
    /// Callee: 2xx sent and being retransmitted, waiting for the ACK (§13.3.1.4).
    Answered,
    /// Both sides agree the call is up.
    Confirmed,
    /// We sent BYE and wait for its answer (§15.1.1).
    Terminating,
    /// Over; kept a while (64·T1) to absorb retransmissions, then forgotten.
    Ended,
}

impl CallState {
    /// The state's name, for errors.
    pub fn name(self) -> &'static str {
        match self {
            CallState::Calling => "Calling",
            CallState::Ringing => "Ringing",
            CallState::Incoming => "Incoming",
            CallState::Answered => "Answered",
            CallState::Confirmed => "Confirmed",
            CallState::Terminating => "Terminating",
            CallState::Ended => "Ended",
        }
    }
}

/// Which side of the INVITE we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE (UAC, §13.2).
    Caller,
    /// We received it (UAS, §13.3).
    Callee,
}

/// The UAS core's 2xx retransmission schedule (§13.3.1.4): T1, doubling up to T2, for 64·T1.
#[derive(Debug, Clone, Copy)]
pub struct Retransmit2xx {
    /// Next retransmission.
    pub next: Instant,
    /// Current interval.
    pub interval: Duration,
    /// When to give up and send BYE.
    pub give_up: Instant,
}

/// One call.
#[derive(Debug)]
pub struct Call {
    /// Its handle.
    pub handle: CallHandle,
    /// Caller or callee.
    pub role: Role,
    /// State.
    pub state: CallState,
    /// The SIP Call-ID.
    pub call_id: String,
    /// The INVITE (ours as caller, the peer's as callee).
    pub invite: Message,
    /// The INVITE client or server transaction, while it lives.
    pub invite_tx: Option<TransactionId>,
    /// Where requests of this call go (the P-CSCF), or where the INVITE came from.
    pub peer: SocketAddr,
    /// The dialog once a response with a To tag created it.
    pub dialog: Option<Dialog>,
    /// Callee: the offer of the INVITE (None when the INVITE had no body).
    pub offer: Option<AudioMedia>,
    /// Caller: the ACK for the 2xx, resent when the 2xx is retransmitted (§13.2.2.4).
    pub ack: Option<Message>,
    /// Callee: the 2xx, for retransmission.
    pub ok: Option<Message>,
    /// Callee: the retransmission schedule of `ok`.
    pub retransmit: Option<Retransmit2xx>,
    /// Caller: `cancel` was called (§9.1: sent once a provisional arrived).
    pub cancel_requested: bool,
    /// Caller: the CANCEL went out.
    pub cancel_sent: bool,
    /// Caller: some provisional arrived, so a CANCEL may be sent.
    pub got_provisional: bool,
    /// Caller: CallRinging was reported.
    pub ringing_reported: bool,
    /// Callee: `hangup` came before the ACK; BYE goes out once the ACK arrives (§15).
    pub bye_pending: bool,
    /// When the ended call is forgotten.
    pub linger_until: Option<Instant>,
}

impl Call {
    /// A new call in `state`.
    pub fn new(
        handle: CallHandle,
        role: Role,
        state: CallState,
        call_id: String,
        invite: Message,
        peer: SocketAddr,
    ) -> Call {
        Call {
            handle,
            role,
            state,
            call_id,
            invite,
            invite_tx: None,
            peer,
            dialog: None,
            offer: None,
            ack: None,
            ok: None,
            retransmit: None,
            cancel_requested: false,
            cancel_sent: false,
            got_provisional: false,
            ringing_reported: false,
            bye_pending: false,
            linger_until: None,
        }
    }

    /// Moves to Ended and schedules forgetting the call; returns the event to report, or
    /// `None` when it had already ended.
    pub fn end(&mut self, now: Instant, linger: Duration, reason: EndReason) -> Option<EndReason> {
        if self.state == CallState::Ended {
            return None;
        }
        self.state = CallState::Ended;
        self.retransmit = None;
        self.linger_until = Some(now + linger);
        Some(reason)
    }

    /// The earliest timer of this call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (
            self.retransmit.map(|r| r.next.min(r.give_up)),
            self.linger_until,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
