//! The INVITE client transaction: RFC 3261 §17.1.1 as corrected by RFC 6026 §7.2 and §8.4
//! (the Accepted state, Timer M).
//!
//! ```text
//! Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
//!    |                 |
//!    +---300-699-------+--> Completed --Timer D--> Terminated
//! Calling --Timer B / transport error--> Terminated
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::key::{cseq_of, top_via_value};
use super::timers::TimerSet;
use super::{response_class, ResponseClass, Timer, TimerConfig, TransactionError, TuEvent};
use crate::{Message, Method};

/// States of Figure 5 of RFC 3261 with the Accepted state of RFC 6026 §7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    /// The INVITE was sent; retransmitted on Timer A (unreliable transports).
    Calling,
    /// A provisional response arrived; the request is no longer retransmitted.
    Proceeding,
    /// A 300–699 arrived and was ACKed; retransmissions of it are re-ACKed until Timer D.
    Completed,
    /// A 2xx arrived (RFC 6026 §7.2); further 2xx retransmissions and 2xx from other forks are
    /// passed to the TU, which ACKs them, until Timer M.
    Accepted,
    /// Final: the transaction can be destroyed.
    Terminated,
}

/// One INVITE client transaction.
#[derive(Debug)]
pub struct InviteClient {
    state: InviteClientState,
    request: Message,
    reliable: bool,
    config: TimerConfig,
    timers: TimerSet,
    /// The interval Timer A is re-armed with next; doubles on each firing (§17.1.1.2).
    timer_a_interval: Duration,
    /// The ACK for the non-2xx final response, re-sent for each retransmission of it.
    ack: Option<Message>,
    transmits: VecDeque<Message>,
    events: VecDeque<TuEvent>,
}

impl InviteClient {
    /// Starts the transaction in Calling: the INVITE is queued for sending, Timer A is armed
    /// on unreliable transports and Timer B always (§17.1.1.2).
    pub fn new(
        now: Instant,
        request: Message,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        if !request.is_request() {
            return Err(TransactionError::WrongMessageKind {
                expected: "request",
            });
        }
        if request.method() != Some(&Method::INVITE) {
            return Err(TransactionError::WrongMethod {
                method: request
                    .method()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default(),
                machine: "INVITE client",
            });
        }
        let mut timers = TimerSet::default();
        timers.arm_for(&config, Timer::A, reliable, now);
        timers.arm_for(&config, Timer::B, reliable, now);
        let mut transmits = VecDeque::new();
        transmits.push_back(request.clone());
        Ok(InviteClient {
            state: InviteClientState::Calling,
            request,
            reliable,
            config,
            timers,
            timer_a_interval: config.t1,
            ack: None,
            transmits,
            events: VecDeque::new(),
        })
    }

    pub fn state(&self) -> InviteClientState {
        self.state
    }

    /// The INVITE this transaction sends.
    pub fn request(&self) -> &Message {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteClientState::Terminated
    }

    /// Starts Timer C, for a stateful proxy (RFC 3261 §16.6 step 11): it is reset by every
    /// provisional response (§16.7 step 2), stopped by a final one, and its expiry is
    /// reported as [`TuEvent::Timeout`]`(Timer::C)` without changing state, since §16.8 leaves
    /// the reaction (CANCEL, or acting as if a 408 arrived) to the proxy core.
    pub fn start_timer_c(&mut self, now: Instant) {
        if matches!(
            self.state,
            InviteClientState::Calling | InviteClientState::Proceeding
        ) {
            self.timers.arm(Timer::C, now + self.config.timer_c);
        }
    }

    /// A response matched to this transaction (§17.1.3) arrived.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: Message,
    ) -> Result<(), TransactionError> {
        let class = response_class(&response).ok_or(TransactionError::WrongMessageKind {
            expected: "response with a 100-699 status",
        })?;
        use InviteClientState::*;
        match (self.state, class) {
            (Calling | Proceeding, ResponseClass::Provisional) => {
                // §17.1.1.2: no more retransmissions once a provisional arrived, and Timer B
                // only applies to Calling (a proxy runs Timer C instead).
                self.timers.disarm(Timer::A);
                self.timers.disarm(Timer::B);
                // §16.7 step 2: a provisional resets a proxy's Timer C.
                if self.timers.deadline(Timer::C).is_some() {
                    self.timers.arm(Timer::C, now + self.config.timer_c);
                }
                self.state = Proceeding;
                self.events.push_back(TuEvent::Response(response));
            }
            (Calling | Proceeding, ResponseClass::Success) => {
                // RFC 6026 §8.4: Accepted, not Terminated, so 2xx retransmissions still match.
                self.timers.disarm(Timer::A);
                self.timers.disarm(Timer::B);
                self.timers.disarm(Timer::C);
                self.timers
                    .arm_for(&self.config, Timer::M, self.reliable, now);
                self.state = Accepted;
                self.events.push_back(TuEvent::Response(response));
            }
            (Calling | Proceeding, ResponseClass::Failure) => {
                // Built first so that a response it cannot ACK leaves the state untouched.
                let ack = build_ack_for_non_2xx(&self.request, &response)?;
                self.timers.disarm(Timer::A);
                self.timers.disarm(Timer::B);
                self.timers.disarm(Timer::C);
                self.transmits.push_back(ack.clone());
                self.ack = Some(ack);
                self.timers
                    .arm_for(&self.config, Timer::D, self.reliable, now);
                self.state = Completed;
                self.events.push_back(TuEvent::Response(response));
            }
            (Completed, ResponseClass::Failure) => {
                // §17.1.1.2: a retransmitted final response is re-ACKed, not passed up.
                if let Some(ack) = &self.ack {
                    self.transmits.push_back(ack.clone());
                }
            }
            (Accepted, ResponseClass::Success) => {
                // RFC 6026 §8.4: the TU ACKs every 2xx itself (§13.2.2.4).
                self.events.push_back(TuEvent::Response(response));
            }
            // Everything else that matches is a late or out-of-order response: absorbed.
            _ => {}
        }
        self.handle_timeout(now);
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::A, InviteClientState::Calling) => {
                    // §17.1.1.2: retransmit and double the interval; B bounds the total.
                    self.transmits.push_back(self.request.clone());
                    self.timer_a_interval = self.timer_a_interval.saturating_mul(2);
                    self.timers.arm(Timer::A, now + self.timer_a_interval);
                }
                (Timer::B, InviteClientState::Calling) => {
                    self.events.push_back(TuEvent::Timeout(Timer::B));
                    self.terminate();
                }
                (Timer::C, InviteClientState::Calling | InviteClientState::Proceeding) => {
                    // §16.8: the proxy core CANCELs (after a provisional) or acts as if a 408
                    // arrived (before one); the transaction itself stays as it is.
                    self.events.push_back(TuEvent::Timeout(Timer::C));
                }
                (Timer::D, InviteClientState::Completed)
                | (Timer::M, InviteClientState::Accepted) => self.terminate(),
                // A timer left over from an earlier state has no effect.
                _ => {}
            }
        }
    }

    /// The transport failed to send this transaction's INVITE or ACK (§17.1.1.2, §18.4).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != InviteClientState::Terminated {
            self.events.push_back(TuEvent::TransportError);
            self.terminate();
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TuEvent> {
        self.events.pop_front()
    }

    fn terminate(&mut self) {
        self.state = InviteClientState::Terminated;
        self.timers.clear();
    }
}

/// Builds the ACK for a 300–699 response to `invite`, per RFC 3261 §17.1.1.3: the
/// Request-URI, Call-ID and From of the INVITE, the To of the response (it carries the tag the
/// UAS chose), the CSeq number of the INVITE with method ACK, a single Via equal to the top
/// Via of the INVITE (so the ACK matches the server transaction, §17.2.3), and the INVITE's
/// Route header fields. Max-Forwards is copied from the INVITE (70 if it had none, §8.1.1.6).
pub fn build_ack_for_non_2xx(
    invite: &Message,
    response: &Message,
) -> Result<Message, TransactionError> {
    let uri = invite
        .request_uri()
        .cloned()
        .ok_or(TransactionError::WrongMessageKind {
            expected: "request",
        })?;
    let via = top_via_value(invite)?;
    let (seq, _) = cseq_of(invite)?;
    let call_id = invite
        .headers()
        .get("Call-ID")
        .ok_or(TransactionError::MissingHeader("Call-ID"))?;
    let from = invite
        .headers()
        .get("From")
        .ok_or(TransactionError::MissingHeader("From"))?;
    let to = response
        .headers()
        .get("To")
        .ok_or(TransactionError::MissingHeader("To"))?;
    let max_forwards = invite.headers().get("Max-Forwards").unwrap_or("70");

    let mut ack = Message::request(Method::ACK, uri);
    let headers = ack.headers_mut();
    headers.push("Via", &via);
    for route in invite.headers().get_all("Route") {
        headers.push("Route", route);
    }
    headers.push("Max-Forwards", max_forwards);
    headers.push("From", from);
    headers.push("To", to);
    headers.push("Call-ID", call_id);
    headers.push("CSeq", &format!("{seq} ACK"));
    Ok(ack)
}

/// Builds the CANCEL for a pending `invite`, per RFC 3261 §9.1: the same Request-URI, Call-ID,
/// To, From and CSeq number (method CANCEL), a single Via equal to the INVITE's top Via (so
/// the server matches it to the INVITE, §9.2), and the INVITE's Route header fields.
pub fn build_cancel(invite: &Message) -> Result<Message, TransactionError> {
    let uri = invite
        .request_uri()
        .cloned()
        .ok_or(TransactionError::WrongMessageKind {
            expected: "request",
        })?;
    let via = top_via_value(invite)?;
    let (seq, _) = cseq_of(invite)?;
    let mut cancel = Message::request(Method::CANCEL, uri);
    let headers = cancel.headers_mut();
    headers.push("Via", &via);
    for route in invite.headers().get_all("Route") {
        headers.push("Route", route);
    }
    headers.push(
        "Max-Forwards",
        invite.headers().get("Max-Forwards").unwrap_or("70"),
    );
    for name in ["From", "To", "Call-ID"] {
        let value = invite
            .headers()
            .get(name)
            .ok_or(TransactionError::MissingHeader(name))?;
        headers.push(name, value);
    }
    headers.push("CSeq", &format!("{seq} CANCEL"));
    Ok(cancel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{ms, request, response, secs};
    use crate::StatusCode;

    fn calling(reliable: bool) -> (Instant, InviteClient) {
        let t0 = Instant::now();
        let tx = InviteClient::new(
            t0,
            request("INVITE", "z9hG4bKinv1"),
            reliable,
            TimerConfig::default(),
        )
        .unwrap();
        (t0, tx)
    }

    /// Runs the machine's timers up to `until`; returns when (ms after t0) the INVITE was
    /// sent, and the events.
    fn run(t0: Instant, tx: &mut InviteClient, until: Instant) -> (Vec<u128>, Vec<TuEvent>) {
        let mut sent = Vec::new();
        let mut events = Vec::new();
        let mut now = t0;
        loop {
            while let Some(m) = tx.poll_transmit() {
                assert_eq!(m.method(), Some(&Method::INVITE));
                sent.push(ms(t0, now));
            }
            while let Some(e) = tx.poll_event() {
                events.push(e);
            }
            match tx.poll_timeout() {
                Some(at) if at <= until => {
                    now = at;
                    tx.handle_timeout(now);
                }
                _ => return (sent, events),
            }
        }
    }

    #[test]
    fn timer_a_doubles_until_timer_b() {
        let (t0, mut tx) = calling(false);
        let (sent, events) = run(t0, &mut tx, t0 + secs(60));
        // Sent at 0, then after 500 ms, 1 s, 2 s, 4 s, 8 s, 16 s; B fires at 64*T1 = 32 s.
        assert_eq!(sent, [0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert!(matches!(events.as_slice(), [TuEvent::Timeout(Timer::B)]));
        assert_eq!(tx.state(), InviteClientState::Terminated);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn configured_t1_scales_timers_a_and_b() {
        let t0 = Instant::now();
        let config = TimerConfig {
            t1: Duration::from_secs(1),
            ..TimerConfig::default()
        };
        let mut tx = InviteClient::new(t0, request("INVITE", "z9hG4bKt1"), false, config).unwrap();
        let (sent, events) = run(t0, &mut tx, t0 + secs(100));
        assert_eq!(sent, [0, 1000, 3000, 7000, 15000, 31000, 63000]);
        assert!(matches!(events.as_slice(), [TuEvent::Timeout(Timer::B)]));
    }

    #[test]
    fn reliable_transport_sends_once_and_times_out_on_b() {
        let (t0, mut tx) = calling(true);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32)));
        let (sent, events) = run(t0, &mut tx, t0 + secs(60));
        assert_eq!(sent, [0]);
        assert!(matches!(events.as_slice(), [TuEvent::Timeout(Timer::B)]));
    }

    #[test]
    fn provisional_stops_retransmissions_and_timer_b() {
        let (t0, mut tx) = calling(false);
        let _ = tx.poll_transmit();
        let ringing = response(tx.request(), 180, Some("b1"));
        tx.handle_response(t0 + secs(1), ringing).unwrap();
        assert_eq!(tx.state(), InviteClientState::Proceeding);
        assert!(
            matches!(tx.poll_event(), Some(TuEvent::Response(r)) if r.status() == Some(StatusCode::RINGING))
        );
        assert_eq!(tx.poll_timeout(), None);
        let (sent, events) = run(t0, &mut tx, t0 + secs(100));
        assert!(sent.is_empty() && events.is_empty());
    }

    #[test]
    fn non_2xx_is_acked_per_17_1_1_3_and_reacked_on_retransmission() {
        let (t0, mut tx) = calling(false);
        let invite = tx.poll_transmit().unwrap();
        let busy = response(&invite, 486, Some("uas-tag"));
        tx.handle_response(t0 + secs(1), busy.clone()).unwrap();
        assert_eq!(tx.state(), InviteClientState::Completed);
        assert!(
            matches!(tx.poll_event(), Some(TuEvent::Response(r)) if r.status() == Some(StatusCode(486)))
        );

        let ack = tx.poll_transmit().unwrap();
        assert_eq!(ack.method(), Some(&Method::ACK));
        assert_eq!(ack.request_uri(), invite.request_uri());
        let h = ack.headers();
        assert_eq!(h.get("Call-ID"), invite.headers().get("Call-ID"));
        assert_eq!(h.get("From"), invite.headers().get("From"));
        assert_eq!(h.get("To"), busy.headers().get("To"));
        assert!(h.get("To").unwrap().contains("tag=uas-tag"));
        assert_eq!(h.get("CSeq"), Some("314159 ACK"));
        let vias: Vec<&str> = h.values("Via").collect();
        assert_eq!(
            vias,
            ["SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKinv1"]
        );
        let routes: Vec<&str> = h.get_all("Route").collect();
        assert_eq!(
            routes,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(h.get("Max-Forwards"), Some("69"));
        assert!(ack.body().is_empty());

        // A retransmitted 486 gets the same ACK again and is not passed up.
        tx.handle_response(t0 + secs(2), busy).unwrap();
        let again = tx.poll_transmit().unwrap();
        assert_eq!(again.to_bytes(), ack.to_bytes());
        assert!(tx.poll_event().is_none());

        // Timer D (32 s on UDP) then ends the transaction.
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(1) + secs(32)));
        tx.handle_timeout(t0 + secs(33));
        assert_eq!(tx.state(), InviteClientState::Terminated);
    }

    #[test]
    fn timer_d_is_zero_on_reliable_transports() {
        let (t0, mut tx) = calling(true);
        let invite = tx.poll_transmit().unwrap();
        tx.handle_response(t0, response(&invite, 603, Some("x")))
            .unwrap();
        assert!(tx.poll_transmit().is_some(), "ACK still sent");
        assert_eq!(tx.state(), InviteClientState::Terminated);
    }

    #[test]
    fn accepted_state_passes_2xx_retransmissions_until_timer_m() {
        let (t0, mut tx) = calling(false);
        let invite = tx.poll_transmit().unwrap();
        let ok = response(&invite, 200, Some("a"));
        tx.handle_response(t0 + secs(1), ok.clone()).unwrap();
        assert_eq!(tx.state(), InviteClientState::Accepted);
        assert!(matches!(tx.poll_event(), Some(TuEvent::Response(_))));
        // The transaction never ACKs a 2xx: that is the TU's job (§13.2.2.4).
        assert!(tx.poll_transmit().is_none());

        tx.handle_response(t0 + secs(2), ok.clone()).unwrap();
        assert!(matches!(tx.poll_event(), Some(TuEvent::Response(_))));
        // A late non-2xx is absorbed in Accepted.
        tx.handle_response(t0 + secs(3), response(&invite, 500, Some("b")))
            .unwrap();
        assert!(tx.poll_event().is_none());

        assert_eq!(tx.poll_timeout(), Some(t0 + secs(1) + secs(32)));
        tx.handle_timeout(t0 + secs(33));
        assert_eq!(tx.state(), InviteClientState::Terminated);
    }

    #[test]
    fn proxy_timer_c_is_reset_by_provisionals_and_reported() {
        let (t0, mut tx) = calling(true);
        let invite = tx.poll_transmit().unwrap();
        tx.start_timer_c(t0);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32)), "B first");
        tx.handle_response(t0 + secs(10), response(&invite, 180, Some("p")))
            .unwrap();
        let _ = tx.poll_event();
        // Reset to 180 s from the provisional.
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(190)));
        tx.handle_timeout(t0 + secs(190));
        assert!(matches!(tx.poll_event(), Some(TuEvent::Timeout(Timer::C))));
        assert_eq!(tx.state(), InviteClientState::Proceeding);
        // The core may restart it; a final response stops it.
        tx.start_timer_c(t0 + secs(190));
        tx.handle_response(t0 + secs(200), response(&invite, 487, Some("p")))
            .unwrap();
        assert!(tx.is_terminated(), "Timer D is zero on reliable transports");
    }

    #[test]
    fn transport_error_is_reported() {
        let (t0, mut tx) = calling(false);
        tx.handle_transport_error(t0);
        assert!(matches!(tx.poll_event(), Some(TuEvent::TransportError)));
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn only_invite_starts_an_invite_client() {
        let err = InviteClient::new(
            Instant::now(),
            request("BYE", "z9hG4bK1"),
            false,
            TimerConfig::default(),
        )
        .unwrap_err();
        assert!(matches!(err, TransactionError::WrongMethod { .. }));
    }
}
