//! Originating calls (TS 24.229 §5.1.2A, RFC 3261 §13.2 UAC core): INVITE with an SDP offer
//! and the Service-Route as preloaded Route, provisional and final responses, the ACK for
//! 2xx (§13.2.2.4), CANCEL (§9.1) and BYE (§15.1.1, both sides).

use std::time::Instant;

use ims_sip::transaction::build_cancel;
use ims_sip::{Message, Method, StatusCode, Uri};

use crate::call::{Call, CallState, Role};
use crate::dialog::Dialog;
use crate::error::UeError;
use crate::event::{CallHandle, EndReason, UeEvent};
use crate::register::{via_value, ALLOW};
use crate::sdp;
use crate::ue::{TxOwner, Ue};

impl Ue {
    /// Calls `target` (§13.2.1): INVITE with an SDP offer, routed via the Service-Route
    /// learnt at registration (TS 24.229 §5.1.2A.1.1), sent to the P-CSCF.
    pub fn call(&mut self, now: Instant, target: Uri) -> Result<CallHandle, UeError> {
        let handle = self.new_call_handle();
        let call_id = self.ids.call_id(&self.config.local_addr.ip().to_string());
        let from_tag = self.ids.tag();
        let mut invite = Message::request(Method::INVITE, target.clone());
        let h = invite.headers_mut();
        h.push("Via", &via_value(&self.config, &self.ids.branch()));
        h.push("Max-Forwards", "70");
        for route in self.registration.service_route() {
            h.push("Route", &route.to_string());
        }
        h.push("From", &format!("<{}>;tag={from_tag}", self.config.impu));
        h.push("To", &format!("<{target}>"));
        h.push("Call-ID", &call_id);
        h.push("CSeq", "1 INVITE");
        h.push("Contact", &format!("<{}>", self.dialog_contact()));
        h.push("P-Preferred-Identity", &format!("<{}>", self.config.impu));
        h.push("Allow", ALLOW);
        h.push("User-Agent", &self.config.user_agent);
        h.push("Content-Type", "application/sdp");
        let origin = sdp::Origin {
            address: self.config.local_addr.ip(),
            port: self.config.media_port,
            session_id: self.ids.next_u64() >> 1,
        };
        invite.set_body(sdp::offer(&origin).into_bytes());

        let mut call = Call::new(
            handle,
            Role::Caller,
            CallState::Calling,
            call_id.clone(),
            invite.clone(),
            self.config.pcscf,
        );
        let tx = self.send_request(now, invite, TxOwner::Invite(handle))?;
        call.invite_tx = Some(tx);
        self.by_call_id.insert(call_id, handle);
        self.calls.insert(handle, call);
        self.process(now);
        Ok(handle)
    }

    /// Cancels our pending INVITE (§9.1). Before any provisional arrived the CANCEL waits
    /// for one, as §9.1 requires.
    pub fn cancel(&mut self, now: Instant, handle: CallHandle) -> Result<(), UeError> {
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(UeError::UnknownCall(handle))?;
        if call.role != Role::Caller
            || !matches!(call.state, CallState::Calling | CallState::Ringing)
        {
            return Err(UeError::InvalidState {
                command: "cancel",
                state: call.state.name(),
            });
        }
        call.cancel_requested = true;
        self.send_cancel_if_allowed(now, handle)?;
        self.process(now);
        Ok(())
    }

    /// Ends a call: BYE on a confirmed dialog (§15.1.1), CANCEL for our unanswered INVITE,
    /// 603 for an incoming one still ringing; a callee that answered but has no ACK yet sends
    /// BYE once the ACK arrives (§15).
    pub fn hangup(&mut self, now: Instant, handle: CallHandle) -> Result<(), UeError> {
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(UeError::UnknownCall(handle))?;
        match (call.role, call.state) {
            (_, CallState::Confirmed) => self.send_bye(now, handle)?,
            (Role::Caller, CallState::Calling | CallState::Ringing) => {
                return self.cancel(now, handle)
            }
            (Role::Callee, CallState::Incoming) => {
                return self.reject(now, handle, StatusCode::DECLINE)
            }
            (Role::Callee, CallState::Answered) => call.bye_pending = true,
            (_, state) => {
                return Err(UeError::InvalidState {
                    command: "hangup",
                    state: state.name(),
                })
            }
        }
        self.process(now);
        Ok(())
    }

    fn send_cancel_if_allowed(&mut self, now: Instant, handle: CallHandle) -> Result<(), UeError> {
        let Some(call) = self.calls.get_mut(&handle) else {
            return Ok(());
        };
        if !call.cancel_requested || call.cancel_sent || !call.got_provisional {
            return Ok(());
        }
        call.cancel_sent = true;
        let cancel = build_cancel(&call.invite)?;
        self.send_request(now, cancel, TxOwner::Cancel(handle))?;
        Ok(())
    }

    /// BYE within the dialog (§15.1.1).
    pub(crate) fn send_bye(&mut self, now: Instant, handle: CallHandle) -> Result<(), UeError> {
        let branch = self.ids.branch();
        let via = via_value(&self.config, &branch);
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(UeError::UnknownCall(handle))?;
        let dialog = call.dialog.as_mut().ok_or(UeError::InvalidState {
            command: "BYE",
            state: "no dialog",
        })?;
        let seq = dialog.next_seq();
        let bye = dialog.request(Method::BYE, seq, &via);
        call.state = CallState::Terminating;
        call.retransmit = None;
        self.send_request(now, bye, TxOwner::Bye(handle))?;
        Ok(())
    }

    /// A response to our INVITE (§13.2.2).
    pub(crate) fn on_invite_response(
        &mut self,
        now: Instant,
        handle: CallHandle,
        response: Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if status.is_provisional() {
            call.got_provisional = true;
            let has_tag = response.to().ok().is_some_and(|t| t.0.tag().is_some());
            if status != StatusCode::TRYING && has_tag && call.state == CallState::Calling {
                // §12.1.2: a provisional with a To tag creates an early dialog.
                if let Ok(dialog) = Dialog::from_uac(&call.invite, &response) {
                    call.dialog = Some(dialog);
                }
                call.state = CallState::Ringing;
            }
            if matches!(status.0, 180 | 183) && !call.ringing_reported {
                call.ringing_reported = true;
                self.events.push_back(UeEvent::CallRinging { call: handle });
            }
            if let Err(e) = self.send_cancel_if_allowed(now, handle) {
                tracing::warn!(error = %e, "CANCEL could not be sent");
            }
        } else if status.is_success() {
            self.on_invite_2xx(now, handle, &response);
        } else {
            // The INVITE client transaction ACKed it (§17.1.1.3).
            let cancelled = call.cancel_requested && status == StatusCode::REQUEST_TERMINATED;
            if cancelled {
                self.end_call(now, handle, EndReason::Cancelled);
            } else {
                self.fail_call(now, handle, status);
            }
        }
    }

    /// §13.2.2.4: a 2xx creates (or confirms) the dialog and is ACKed by the core; its
    /// retransmissions get the same ACK again.
    fn on_invite_2xx(&mut self, now: Instant, handle: CallHandle, response: &Message) {
        let branch = self.ids.branch();
        let via = via_value(&self.config, &branch);
        let peer = self.config.pcscf;
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let to_tag = response
            .to()
            .ok()
            .and_then(|t| t.0.tag().map(str::to_owned));
        if let (Some(ack), Some(dialog)) = (&call.ack, &call.dialog) {
            if to_tag.as_deref() == Some(dialog.remote_tag.as_str()) {
                // A retransmission of the 2xx we already ACKed.
                self.layer.send_stateless(peer, ack.clone());
                return;
            }
        }
        if call.ack.is_some() || call.state == CallState::Ended {
            // A 2xx from a second fork, or one arriving after we gave the call up (Timer B):
            // §13.2.2.4 says ACK it, then end that dialog with BYE.
            let invite = call.invite.clone();
            if let Err(e) = self.ack_and_bye(now, &invite, response) {
                tracing::warn!(error = %e, "unwanted 2xx could not be closed");
            }
            return;
        }
        let dialog = match Dialog::from_uac(&call.invite, response) {
            Ok(d) => d,
            Err(e) => {
                // No To tag or Contact: no dialog can be formed, so nothing can be ACKed.
                // The call cannot go on; report it like a broken next hop.
                tracing::warn!(error = %e, "2xx without a usable dialog");
                self.fail_call(now, handle, StatusCode::BAD_GATEWAY);
                return;
            }
        };
        let seq = call.invite.cseq().map(|c| c.seq).unwrap_or(1);
        let ack = dialog.request(Method::ACK, seq, &via);
        call.dialog = Some(dialog);
        call.ack = Some(ack.clone());
        self.layer.send_stateless(peer, ack);
        let cancel_raced = call.cancel_requested;
        call.state = CallState::Confirmed;
        self.events
            .push_back(UeEvent::CallEstablished { call: handle });
        if cancel_raced {
            // §9.1: the CANCEL lost the race against the 2xx; end the call with BYE.
            if let Err(e) = self.send_bye(now, handle) {
                tracing::warn!(error = %e, "BYE could not be sent");
            }
        }
    }

    /// ACK and BYE for a 2xx whose dialog we do not want (§13.2.2.4). The BYE's outcome
    /// is not reported: the call it would belong to is already over or established elsewhere.
    fn ack_and_bye(
        &mut self,
        now: Instant,
        invite: &Message,
        response: &Message,
    ) -> Result<(), UeError> {
        let mut dialog = Dialog::from_uac(invite, response)?;
        let seq = invite.cseq()?.seq;
        let ack_via = via_value(&self.config, &self.ids.branch());
        self.layer.send_stateless(
            self.config.pcscf,
            dialog.request(Method::ACK, seq, &ack_via),
        );
        let bye_seq = dialog.next_seq();
        let bye_via = via_value(&self.config, &self.ids.branch());
        let bye = dialog.request(Method::BYE, bye_seq, &bye_via);
        self.send_request(now, bye, TxOwner::Other)?;
        Ok(())
    }

    /// A 2xx that matched no transaction (the INVITE client transaction already ended):
    /// handled as any 2xx of the call, i.e. re-ACKed, or ACKed and ended with BYE when the
    /// call is over (§13.2.2.4, §18.1.2).
    pub(crate) fn on_stray_response(&mut self, now: Instant, response: &Message) {
        let is_invite_2xx = response.status().is_some_and(|s| s.is_success())
            && response.cseq().is_ok_and(|c| c.method == Method::INVITE);
        if !is_invite_2xx {
            return;
        }
        let Some(handle) = self.call_for(response) else {
            return;
        };
        if self
            .calls
            .get(&handle)
            .is_some_and(|c| c.role == Role::Caller)
        {
            self.on_invite_2xx(now, handle, response);
        }
    }
}
