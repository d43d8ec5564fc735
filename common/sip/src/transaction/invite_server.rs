//! The INVITE server transaction: RFC 3261 §17.2.1 as corrected by RFC 6026 §7.1 and §8.5–8.7
//! (the Accepted state, Timer L).
//!
//! ```text
//! Proceeding --2xx from TU--> Accepted --Timer L--> Terminated
//!     |
//!     +--300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated
//!                               |
//!                               +--Timer H (no ACK) / transport error--> Terminated
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::TimerSet;
use super::{response_class, ResponseClass, Timer, TimerConfig, TransactionError, TuEvent};
use crate::{Message, Method, StatusCode};

/// States of Figure 7 of RFC 3261 with the Accepted state of RFC 6026 §7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    /// The INVITE was passed to the TU; retransmissions get the last provisional again.
    Proceeding,
    /// A 300–699 was sent; it is retransmitted on Timer G until the ACK (or Timer H).
    Completed,
    /// The ACK arrived; further ACKs are absorbed until Timer I.
    Confirmed,
    /// A 2xx was sent (RFC 6026 §7.1): INVITE retransmissions are absorbed, the TU
    /// retransmits the 2xx through the transaction, ACKs go to the TU, until Timer L.
    Accepted,
    /// Final: the transaction can be destroyed.
    Terminated,
}

impl InviteServerState {
    fn name(self) -> &'static str {
        match self {
            InviteServerState::Proceeding => "Proceeding",
            InviteServerState::Completed => "Completed",
            InviteServerState::Confirmed => "Confirmed",
            InviteServerState::Accepted => "Accepted",
            InviteServerState::Terminated => "Terminated",
        }
    }
}

/// One INVITE server transaction.
#[derive(Debug)]
pub struct InviteServer {
    state: InviteServerState,
    request: Message,
    reliable: bool,
    config: TimerConfig,
    timers: TimerSet,
    /// The interval Timer G is re-armed with next (§17.2.1: MIN(2*G, T2)).
    timer_g_interval: Duration,
    /// The last response sent, re-sent for each retransmitted INVITE in Proceeding and
    /// Completed.
    last_response: Option<Message>,
    transmits: VecDeque<Message>,
    events: VecDeque<TuEvent>,
}

impl InviteServer {
    /// Starts the transaction in Proceeding with a 100 (Trying) queued for sending.
    ///
    /// §17.2.1 requires the 100 "unless it knows that the TU will generate a provisional or
    /// final response within 200 ms"; the transaction cannot know that, so it always sends
    /// it. The 100 has no To tag (§8.2.6.2 allows that) and copies Timestamp (§8.2.6.1).
    pub fn new(
        _now: Instant,
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
                machine: "INVITE server",
            });
        }
        let mut trying = Message::response_to(&request, StatusCode::TRYING);
        if trying.headers().get("Timestamp").is_none() {
            if let Some(timestamp) = request.headers().get("Timestamp") {
                let timestamp = timestamp.to_owned();
                trying.headers_mut().push("Timestamp", &timestamp);
            }
        }
        let mut transmits = VecDeque::new();
        transmits.push_back(trying.clone());
        Ok(InviteServer {
            state: InviteServerState::Proceeding,
            request,
            reliable,
            config,
            timers: TimerSet::default(),
            timer_g_interval: config.t1,
            last_response: Some(trying),
            transmits,
            events: VecDeque::new(),
        })
    }

    pub fn state(&self) -> InviteServerState {
        self.state
    }

    /// The INVITE that created this transaction.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// The last response sent (the 100 Trying until the TU answers).
    pub fn last_response(&self) -> Option<&Message> {
        self.last_response.as_ref()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteServerState::Terminated
    }

    /// A request matched to this transaction (§17.2.3) arrived: a retransmitted INVITE or an
    /// ACK.
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
    ) -> Result<(), TransactionError> {
        let is_ack = match request.method() {
            Some(m) if *m == Method::ACK => true,
            Some(m) if *m == Method::INVITE => false,
            Some(m) => {
                return Err(TransactionError::WrongMethod {
                    method: m.as_str().to_owned(),
                    machine: "INVITE server",
                })
            }
            None => {
                return Err(TransactionError::WrongMessageKind {
                    expected: "request",
                })
            }
        };
        use InviteServerState::*;
        match (self.state, is_ack) {
            // §17.2.1: a retransmitted INVITE gets the most recent response again.
            (Proceeding | Completed, false) => {
                if let Some(response) = &self.last_response {
                    self.transmits.push_back(response.clone());
                }
            }
            (Completed, true) => {
                self.timers.disarm(Timer::G);
                self.timers.disarm(Timer::H);
                self.timers
                    .arm_for(&self.config, Timer::I, self.reliable, now);
                self.state = Confirmed;
            }
            // RFC 6026 §7.1: an ACK in Accepted is for the 2xx and belongs to the TU.
            (Accepted, true) => self.events.push_back(TuEvent::Ack(request)),
            // INVITE retransmissions in Accepted (RFC 6026 §8.7: the TU retransmits the 2xx
            // on its own schedule), ACK retransmissions in Confirmed, and an ACK before any
            // final response are all absorbed.
            _ => {}
        }
        self.handle_timeout(now);
        Ok(())
    }

    /// The TU passes a response to send (§17.2.1).
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Message,
    ) -> Result<(), TransactionError> {
        let class = response_class(&response).ok_or(TransactionError::WrongMessageKind {
            expected: "response with a 100-699 status",
        })?;
        use InviteServerState::*;
        match (self.state, class) {
            (Proceeding, ResponseClass::Provisional) => {}
            (Proceeding, ResponseClass::Success) => {
                // RFC 6026 §8.5: Accepted instead of Terminated.
                self.timers
                    .arm_for(&self.config, Timer::L, self.reliable, now);
                self.state = Accepted;
            }
            (Proceeding, ResponseClass::Failure) => {
                self.timers
                    .arm_for(&self.config, Timer::G, self.reliable, now);
                self.timers
                    .arm_for(&self.config, Timer::H, self.reliable, now);
                self.state = Completed;
            }
            // RFC 6026 §8.7: 2xx retransmissions from the TU pass through Accepted.
            (Accepted, ResponseClass::Success) => {}
            (state, _) => {
                return Err(TransactionError::ResponseNotAllowed {
                    status: response.status().map_or(0, |s| s.0),
                    state: state.name(),
                })
            }
        }
        self.transmits.push_back(response.clone());
        self.last_response = Some(response);
        self.handle_timeout(now);
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::G, InviteServerState::Completed) => {
                    if let Some(response) = &self.last_response {
                        self.transmits.push_back(response.clone());
                    }
                    self.timer_g_interval = self.config.backoff_capped(self.timer_g_interval);
                    self.timers.arm(Timer::G, now + self.timer_g_interval);
                }
                (Timer::H, InviteServerState::Completed) => {
                    // §17.2.1: the ACK never came; "a transaction failure has occurred".
                    self.events.push_back(TuEvent::Timeout(Timer::H));
                    self.terminate();
                }
                (Timer::I, InviteServerState::Confirmed)
                | (Timer::L, InviteServerState::Accepted) => self.terminate(),
                _ => {}
            }
        }
    }

    /// The transport failed to send a response (§17.2.1, §18.4). RFC 6026 Figure 7 keeps
    /// the transaction in Accepted (the TU owns the 2xx); every other state terminates.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.state {
            InviteServerState::Terminated => {}
            InviteServerState::Accepted => self.events.push_back(TuEvent::TransportError),
            _ => {
                self.events.push_back(TuEvent::TransportError);
                self.terminate();
            }
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
        self.state = InviteServerState::Terminated;
        self.timers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{ms, request, response, secs};

    fn proceeding(reliable: bool) -> (Instant, InviteServer, Message) {
        let t0 = Instant::now();
        let invite = request("INVITE", "z9hG4bKsrv");
        let tx = InviteServer::new(t0, invite.clone(), reliable, TimerConfig::default()).unwrap();
        (t0, tx, invite)
    }

    fn ack_for(invite: &Message, response: &Message) -> Message {
        crate::transaction::build_ack_for_non_2xx(invite, response).unwrap()
    }

    fn status(m: Option<Message>) -> Option<u16> {
        m.and_then(|m| m.status()).map(|s| s.0)
    }

    #[test]
    fn sends_100_trying_and_repeats_the_last_provisional() {
        let (t0, mut tx, invite) = proceeding(false);
        assert_eq!(status(tx.poll_transmit()), Some(100));
        tx.handle_request(t0 + secs(1), invite.clone()).unwrap();
        assert_eq!(status(tx.poll_transmit()), Some(100));
        tx.send_response(t0 + secs(1), response(&invite, 180, Some("t")))
            .unwrap();
        assert_eq!(status(tx.poll_transmit()), Some(180));
        tx.handle_request(t0 + secs(2), invite).unwrap();
        assert_eq!(status(tx.poll_transmit()), Some(180));
        assert_eq!(tx.poll_timeout(), None, "no timer runs in Proceeding");
    }

    #[test]
    fn timer_g_backs_off_to_t2_until_timer_h() {
        let (t0, mut tx, invite) = proceeding(false);
        let _ = tx.poll_transmit();
        tx.send_response(t0, response(&invite, 486, Some("t")))
            .unwrap();
        let mut sent = Vec::new();
        let mut events = Vec::new();
        let mut now = t0;
        loop {
            while tx.poll_transmit().is_some() {
                sent.push(ms(t0, now));
            }
            while let Some(e) = tx.poll_event() {
                events.push(e);
            }
            let Some(at) = tx.poll_timeout() else { break };
            now = at;
            tx.handle_timeout(now);
        }
        assert_eq!(
            sent,
            [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        // Timer H: the ACK never came, the TU hears of the failure.
        assert!(matches!(events.as_slice(), [TuEvent::Timeout(Timer::H)]));
        assert_eq!(ms(t0, now), 32_000);
        assert!(tx.is_terminated());
    }

    #[test]
    fn completed_resends_final_and_ack_confirms_until_timer_i() {
        let (t0, mut tx, invite) = proceeding(false);
        let _ = tx.poll_transmit();
        let busy = response(&invite, 486, Some("t"));
        tx.send_response(t0, busy.clone()).unwrap();
        let _ = tx.poll_transmit();
        tx.handle_request(t0 + secs(1), invite.clone()).unwrap();
        assert_eq!(status(tx.poll_transmit()), Some(486));

        let ack = ack_for(&invite, &busy);
        tx.handle_request(t0 + secs(1), ack.clone()).unwrap();
        assert_eq!(tx.state(), InviteServerState::Confirmed);
        assert!(tx.poll_event().is_none(), "the ACK of a non-2xx stays here");
        // G and H stopped: only Timer I (T4 = 5 s) is left; ACK retransmissions absorbed.
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(6)));
        // (Timer G was overdue at 1 s, so a 486 retransmission is queued too.)
        while tx.poll_transmit().is_some() {}
        tx.handle_request(t0 + secs(2), ack).unwrap();
        assert!(tx.poll_transmit().is_none());
        tx.handle_timeout(t0 + secs(6));
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_transport_no_timer_g_and_timer_i_zero() {
        let (t0, mut tx, invite) = proceeding(true);
        let _ = tx.poll_transmit();
        let busy = response(&invite, 486, Some("t"));
        tx.send_response(t0, busy.clone()).unwrap();
        let _ = tx.poll_transmit();
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32)), "only Timer H");
        tx.handle_request(t0 + secs(1), ack_for(&invite, &busy))
            .unwrap();
        assert!(tx.is_terminated());
    }

    #[test]
    fn accepted_absorbs_invites_passes_acks_and_2xx_until_timer_l() {
        let (t0, mut tx, invite) = proceeding(false);
        let _ = tx.poll_transmit();
        let ok = response(&invite, 200, Some("t"));
        tx.send_response(t0, ok.clone()).unwrap();
        assert_eq!(tx.state(), InviteServerState::Accepted);
        assert_eq!(status(tx.poll_transmit()), Some(200));

        // A retransmitted INVITE is absorbed: the TU retransmits the 2xx itself.
        tx.handle_request(t0 + secs(1), invite.clone()).unwrap();
        assert!(tx.poll_transmit().is_none());
        tx.send_response(t0 + secs(1), ok.clone()).unwrap();
        assert_eq!(status(tx.poll_transmit()), Some(200));
        let err = tx
            .send_response(t0 + secs(1), response(&invite, 500, Some("t")))
            .unwrap_err();
        assert!(matches!(
            err,
            TransactionError::ResponseNotAllowed { status: 500, .. }
        ));

        // An ACK matching the transaction goes to the TU (RFC 6026 §7.1).
        tx.handle_request(t0 + secs(2), ack_for(&invite, &ok))
            .unwrap();
        assert!(matches!(tx.poll_event(), Some(TuEvent::Ack(_))));
        assert_eq!(tx.state(), InviteServerState::Accepted);

        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32)));
        tx.handle_timeout(t0 + secs(32));
        assert!(tx.is_terminated());
    }

    #[test]
    fn transport_error_keeps_accepted_but_ends_proceeding() {
        let (t0, mut tx, invite) = proceeding(false);
        tx.send_response(t0, response(&invite, 200, Some("t")))
            .unwrap();
        tx.handle_transport_error(t0);
        assert!(matches!(tx.poll_event(), Some(TuEvent::TransportError)));
        assert_eq!(tx.state(), InviteServerState::Accepted);

        let (t0, mut tx, _) = proceeding(false);
        tx.handle_transport_error(t0);
        assert!(matches!(tx.poll_event(), Some(TuEvent::TransportError)));
        assert!(tx.is_terminated());
    }

    #[test]
    fn trying_copies_timestamp() {
        let t0 = Instant::now();
        let mut invite = request("INVITE", "z9hG4bKts");
        invite.headers_mut().push("Timestamp", "54.2");
        let mut tx = InviteServer::new(t0, invite, false, TimerConfig::default()).unwrap();
        let trying = tx.poll_transmit().unwrap();
        assert_eq!(trying.headers().get("Timestamp"), Some("54.2"));
    }
}
