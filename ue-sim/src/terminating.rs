//! Terminating calls (TS 24.229 §5.1.4, RFC 3261 §13.3 UAS core): an incoming INVITE is
//! answered 180 at once, then 2xx with the SDP answer on [`Ue::answer`] (retransmitted until
//! the ACK, §13.3.1.4) or a final error on [`Ue::reject`]; CANCEL (§9.2) and BYE (§15.1.2).

use std::net::SocketAddr;
use std::time::Instant;

use ims_sip::transaction::TransactionId;
use ims_sip::{Message, StatusCode};

use crate::call::{Call, CallState, Retransmit2xx, Role};
use crate::dialog::Dialog;
use crate::error::UeError;
use crate::event::{CallHandle, EndReason, UeEvent};
use crate::register::ALLOW;
use crate::sdp::{self, AudioMedia};
use crate::ue::{TxOwner, Ue};

/// A response of the UAS to `request` carrying our To tag (§8.2.6.2) and, for dialog-creating
/// responses, Contact and the Record-Route of the request (§12.1.1).
fn uas_response(request: &Message, status: StatusCode, to_tag: &str, contact: &str) -> Message {
    let mut resp = Message::response_to(request, status);
    if let Ok(mut to) = request.to() {
        if to.0.tag().is_none() {
            to.0.set_tag(to_tag);
        }
        resp.headers_mut().set("To", &to.0.to_string());
    }
    if status.0 > 100 && status.0 < 300 {
        for rr in request.headers().get_all("Record-Route") {
            resp.headers_mut().push("Record-Route", rr);
        }
        resp.headers_mut().push("Contact", &format!("<{contact}>"));
    }
    resp
}

impl Ue {
    /// Answers an incoming call (§13.3.1.4): 200 with the SDP answer, retransmitted until the
    /// ACK arrives.
    pub fn answer(&mut self, now: Instant, handle: CallHandle) -> Result<(), UeError> {
        let contact = self.dialog_contact();
        let session_id = self.ids.next_u64() >> 1;
        let origin = sdp::Origin {
            address: self.config.local_addr.ip(),
            port: self.config.media_port,
            session_id,
        };
        let t1 = self.config.timers.t1;
        let give_up = now + self.config.timers.t1_x64();
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(UeError::UnknownCall(handle))?;
        if call.role != Role::Callee || call.state != CallState::Incoming {
            return Err(UeError::InvalidState {
                command: "answer",
                state: call.state.name(),
            });
        }
        let body = match &call.offer {
            Some(offer) => sdp::answer(&origin, offer)?,
            // No offer in the INVITE: the 2xx carries the offer, the ACK the answer (§13.2.1).
            None => sdp::offer(&origin),
        };
        let tag = call
            .dialog
            .as_ref()
            .map(|d| d.local_tag.clone())
            .unwrap_or_default();
        let mut ok = uas_response(&call.invite, StatusCode::OK, &tag, &contact);
        ok.headers_mut().push("Allow", ALLOW);
        ok.headers_mut().push("Content-Type", "application/sdp");
        ok.set_body(body.into_bytes());
        call.state = CallState::Answered;
        call.ok = Some(ok.clone());
        call.retransmit = Some(Retransmit2xx {
            next: now + t1,
            interval: t1,
            give_up,
        });
        if let Some(tx) = call.invite_tx {
            self.respond(now, tx, ok);
        }
        self.process(now);
        Ok(())
    }

    /// Rejects an incoming call with a final status 300-699 (e.g. 486 Busy Here, 480, 404).
    pub fn reject(
        &mut self,
        now: Instant,
        handle: CallHandle,
        status: StatusCode,
    ) -> Result<(), UeError> {
        let contact = self.dialog_contact();
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(UeError::UnknownCall(handle))?;
        if call.role != Role::Callee
            || call.state != CallState::Incoming
            || !(300..700).contains(&status.0)
        {
            return Err(UeError::InvalidState {
                command: "reject",
                state: call.state.name(),
            });
        }
        let tag = call
            .dialog
            .as_ref()
            .map(|d| d.local_tag.clone())
            .unwrap_or_default();
        let resp = uas_response(&call.invite, status, &tag, &contact);
        if let Some(tx) = call.invite_tx {
            self.respond(now, tx, resp);
        }
        self.end_call(now, handle, EndReason::Rejected(status));
        self.process(now);
        Ok(())
    }

    /// A new INVITE (§13.3.1): 180 with our tag, IncomingCall event. A re-INVITE (To tag
    /// present) is refused with 488: session modification is not implemented.
    pub(crate) fn on_invite(
        &mut self,
        now: Instant,
        id: TransactionId,
        invite: Message,
        source: SocketAddr,
    ) {
        let contact = self.dialog_contact();
        let has_to_tag = invite.to().ok().is_some_and(|t| t.0.tag().is_some());
        if has_to_tag {
            let resp = Message::response_to(&invite, StatusCode::NOT_ACCEPTABLE_HERE);
            self.tx_owner.insert(id, TxOwner::Other);
            self.respond(now, id, resp);
            return;
        }
        let tag = self.ids.tag();
        let offer = if invite.body().is_empty() {
            None
        } else {
            match AudioMedia::parse(invite.body())
                .and_then(|offer| offer.check_answerable().map(|()| offer))
            {
                Ok(offer) => Some(offer),
                Err(e) => {
                    // RFC 3264 §6: an offer we cannot use is answered with 488.
                    let mut resp =
                        uas_response(&invite, StatusCode::NOT_ACCEPTABLE_HERE, &tag, &contact);
                    resp.set_reason(&e.to_string());
                    self.tx_owner.insert(id, TxOwner::Other);
                    self.respond(now, id, resp);
                    return;
                }
            }
        };
        let (Ok(call_id), Ok(dialog)) = (invite.call_id(), Dialog::from_uas(&invite, &tag)) else {
            // §8.2: without Call-ID or Contact no dialog can exist.
            let resp = Message::response_to(&invite, StatusCode::BAD_REQUEST);
            self.tx_owner.insert(id, TxOwner::Other);
            self.respond(now, id, resp);
            return;
        };
        let call_id = call_id.to_owned();
        let handle = self.new_call_handle();
        let ringing = uas_response(&invite, StatusCode::RINGING, &tag, &contact);
        let from = invite
            .from()
            .map(|f| f.0.uri.to_string())
            .unwrap_or_default();
        let to = invite
            .request_uri()
            .map(|u| u.to_string())
            .unwrap_or_default();
        let mut call = Call::new(
            handle,
            Role::Callee,
            CallState::Incoming,
            call_id.clone(),
            invite,
            source,
        );
        call.invite_tx = Some(id);
        call.dialog = Some(dialog);
        call.offer = offer;
        self.tx_owner.insert(id, TxOwner::InviteServer(handle));
        self.by_call_id.insert(call_id, handle);
        self.calls.insert(handle, call);
        self.respond(now, id, ringing);
        self.events.push_back(UeEvent::IncomingCall {
            call: handle,
            from,
            to,
        });
    }

    /// CANCEL (§9.2): 200 for the CANCEL; 487 for the INVITE if it is still unanswered.
    pub(crate) fn on_cancel(
        &mut self,
        now: Instant,
        id: TransactionId,
        cancel: &Message,
        cancels: Option<TransactionId>,
    ) {
        self.tx_owner.insert(id, TxOwner::Other);
        let Some(invite_tx) = cancels else {
            let resp = Message::response_to(cancel, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
            self.respond(now, id, resp);
            return;
        };
        self.respond(now, id, Message::response_to(cancel, StatusCode::OK));
        let Some(TxOwner::InviteServer(handle)) = self.tx_owner.get(&invite_tx).copied() else {
            return;
        };
        let contact = self.dialog_contact();
        let Some(call) = self.calls.get(&handle) else {
            return;
        };
        if call.state != CallState::Incoming {
            return;
        }
        let tag = call
            .dialog
            .as_ref()
            .map(|d| d.local_tag.clone())
            .unwrap_or_default();
        let terminated = uas_response(&call.invite, StatusCode::REQUEST_TERMINATED, &tag, &contact);
        self.respond(now, invite_tx, terminated);
        self.end_call(now, handle, EndReason::CancelledByCaller);
    }

    /// BYE (§15.1.2): 200 and the call ends; 481 when no dialog matches.
    pub(crate) fn on_bye(&mut self, now: Instant, id: TransactionId, bye: &Message) {
        self.tx_owner.insert(id, TxOwner::Other);
        let handle = self.call_for(bye).filter(|h| {
            self.calls
                .get(h)
                .and_then(|c| c.dialog.as_ref())
                .is_some_and(|d| d.matches_request(bye))
        });
        let Some(handle) = handle else {
            let resp = Message::response_to(bye, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
            self.respond(now, id, resp);
            return;
        };
        self.respond(now, id, Message::response_to(bye, StatusCode::OK));
        self.end_call(now, handle, EndReason::RemoteHangup);
    }

    /// The ACK for our 2xx (§13.3.1.4): stop retransmitting, the call is confirmed.
    pub(crate) fn on_ack(&mut self, now: Instant, ack: &Message) {
        let Some(handle) = self.call_for(ack) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let matches = call.dialog.as_ref().is_some_and(|d| d.matches_request(ack));
        if call.state != CallState::Answered || !matches {
            return;
        }
        call.retransmit = None;
        call.state = CallState::Confirmed;
        let bye_pending = call.bye_pending;
        self.events
            .push_back(UeEvent::CallEstablished { call: handle });
        if bye_pending {
            if let Err(e) = self.send_bye(now, handle) {
                tracing::warn!(error = %e, "BYE could not be sent");
            }
        }
    }

    /// Timer of the 2xx retransmission (§13.3.1.4): resend, doubling up to T2; after 64·T1
    /// without ACK, end the dialog with BYE.
    pub(crate) fn retransmit_2xx(&mut self, now: Instant, handle: CallHandle) {
        let t2 = self.config.timers.t2;
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let Some(mut r) = call.retransmit else {
            return;
        };
        if now >= r.give_up {
            call.retransmit = None;
            call.state = CallState::Confirmed;
            if let Err(e) = self.send_bye(now, handle) {
                tracing::warn!(error = %e, "BYE could not be sent");
            }
            self.end_call(now, handle, EndReason::AckTimeout);
            return;
        }
        if r.next > now {
            return;
        }
        r.interval = r.interval.saturating_mul(2).min(t2);
        r.next = now + r.interval;
        call.retransmit = Some(r);
        let (Some(ok), tx, peer) = (call.ok.clone(), call.invite_tx, call.peer) else {
            return;
        };
        match tx {
            // While the server transaction is Accepted it passes the 2xx on (RFC 6026 §8.7).
            Some(tx) if self.layer.contains(tx) => self.respond(now, tx, ok),
            _ => self.layer.send_stateless(peer, ok),
        }
    }
}
