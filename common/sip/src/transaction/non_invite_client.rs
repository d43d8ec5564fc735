//! The non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).
//!
//! ```text
//! Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//!   |                 |
//!   +---200-699-------+--> Completed
//! Trying/Proceeding --Timer F / transport error--> Terminated
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::TimerSet;
use super::{response_class, ResponseClass, Timer, TimerConfig, TransactionError, TuEvent};
use crate::{Message, Method};

/// States of Figure 6 of RFC 3261.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    /// The request was sent; retransmitted on Timer E, backing off to T2.
    Trying,
    /// A provisional arrived; retransmissions continue every T2.
    Proceeding,
    /// A final response arrived; its retransmissions are absorbed until Timer K.
    Completed,
    /// Final: the transaction can be destroyed.
    Terminated,
}

/// One non-INVITE client transaction (any method but INVITE and ACK).
#[derive(Debug)]
pub struct NonInviteClient {
    state: NonInviteClientState,
    request: Message,
    reliable: bool,
    config: TimerConfig,
    timers: TimerSet,
    /// The interval Timer E is re-armed with next.
    timer_e_interval: Duration,
    transmits: VecDeque<Message>,
    events: VecDeque<TuEvent>,
}

impl NonInviteClient {
    /// Starts the transaction in Trying: the request is queued for sending, Timer E is armed
    /// on unreliable transports and Timer F always (§17.1.2.2).
    pub fn new(
        now: Instant,
        request: Message,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        let method = request.method().ok_or(TransactionError::WrongMessageKind {
            expected: "request",
        })?;
        if *method == Method::INVITE || *method == Method::ACK {
            return Err(TransactionError::WrongMethod {
                method: method.as_str().to_owned(),
                machine: "non-INVITE client",
            });
        }
        let mut timers = TimerSet::default();
        timers.arm_for(&config, Timer::E, reliable, now);
        timers.arm_for(&config, Timer::F, reliable, now);
        let mut transmits = VecDeque::new();
        transmits.push_back(request.clone());
        Ok(NonInviteClient {
            state: NonInviteClientState::Trying,
            request,
            reliable,
            config,
            timers,
            timer_e_interval: config.t1,
            transmits,
            events: VecDeque::new(),
        })
    }

    pub fn state(&self) -> NonInviteClientState {
        self.state
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Message {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteClientState::Terminated
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
        use NonInviteClientState::*;
        match (self.state, class) {
            (Trying | Proceeding, ResponseClass::Provisional) => {
                self.state = Proceeding;
                self.events.push_back(TuEvent::Response(response));
            }
            (Trying | Proceeding, ResponseClass::Success | ResponseClass::Failure) => {
                self.timers.disarm(Timer::E);
                self.timers.disarm(Timer::F);
                self.timers
                    .arm_for(&self.config, Timer::K, self.reliable, now);
                self.state = Completed;
                self.events.push_back(TuEvent::Response(response));
            }
            // §17.1.2.2: in Completed, retransmitted finals are "buffered" (absorbed).
            _ => {}
        }
        self.handle_timeout(now);
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::E, NonInviteClientState::Trying) => {
                    // §17.1.2.2: MIN(2*E, T2) while Trying.
                    self.transmits.push_back(self.request.clone());
                    self.timer_e_interval = self.config.backoff_capped(self.timer_e_interval);
                    self.timers.arm(Timer::E, now + self.timer_e_interval);
                }
                (Timer::E, NonInviteClientState::Proceeding) => {
                    // §17.1.2.2: "reset with a value of T2" once a provisional arrived.
                    self.transmits.push_back(self.request.clone());
                    self.timer_e_interval = self.config.t2;
                    self.timers.arm(Timer::E, now + self.config.t2);
                }
                (Timer::F, NonInviteClientState::Trying | NonInviteClientState::Proceeding) => {
                    self.events.push_back(TuEvent::Timeout(Timer::F));
                    self.terminate();
                }
                (Timer::K, NonInviteClientState::Completed) => self.terminate(),
                _ => {}
            }
        }
    }

    /// The transport failed to send the request (§17.1.2.2, §18.4).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != NonInviteClientState::Terminated {
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
        self.state = NonInviteClientState::Terminated;
        self.timers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{ms, request, response, secs};

    fn trying(reliable: bool) -> (Instant, NonInviteClient) {
        let t0 = Instant::now();
        let tx = NonInviteClient::new(
            t0,
            request("REGISTER", "z9hG4bKreg1"),
            reliable,
            TimerConfig::default(),
        )
        .unwrap();
        (t0, tx)
    }

    /// Drives the timers up to `until` with `inject` called once at `at` (if given); returns
    /// the send times (ms after t0) and the events.
    fn run(
        t0: Instant,
        tx: &mut NonInviteClient,
        until: Instant,
        mut inject: Option<(Instant, Message)>,
    ) -> (Vec<u128>, Vec<TuEvent>) {
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
            let timer = tx.poll_timeout().filter(|at| *at <= until);
            match (timer, inject.take()) {
                (Some(at), Some((when, m))) if when < at => {
                    now = when;
                    tx.handle_response(now, m).unwrap();
                }
                (None, Some((when, m))) => {
                    now = when;
                    tx.handle_response(now, m).unwrap();
                }
                (Some(at), pending) => {
                    inject = pending;
                    now = at;
                    tx.handle_timeout(now);
                }
                (None, None) => return (sent, events),
            }
        }
    }

    #[test]
    fn timer_e_backs_off_to_t2_until_timer_f() {
        let (t0, mut tx) = trying(false);
        let (sent, events) = run(t0, &mut tx, t0 + secs(60), None);
        // 500 ms, 1 s, 2 s, then capped at T2 = 4 s; F fires at 32 s.
        assert_eq!(
            sent,
            [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert!(matches!(events.as_slice(), [TuEvent::Timeout(Timer::F)]));
        assert_eq!(tx.state(), NonInviteClientState::Terminated);
    }

    #[test]
    fn proceeding_retransmits_every_t2() {
        let (t0, mut tx) = trying(false);
        let trying_100 = response(tx.request(), 100, None);
        let (sent, events) = run(
            t0,
            &mut tx,
            t0 + secs(20),
            Some((t0 + Duration::from_millis(700), trying_100)),
        );
        // E was armed for 1500 ms before the 100; from then on it is reset to T2.
        assert_eq!(sent, [0, 500, 1500, 5500, 9500, 13500, 17500]);
        assert!(matches!(events.as_slice(), [TuEvent::Response(_)]));
        assert_eq!(tx.state(), NonInviteClientState::Proceeding);
    }

    #[test]
    fn final_response_completes_and_timer_k_terminates() {
        let (t0, mut tx) = trying(false);
        let _ = tx.poll_transmit();
        let ok = response(tx.request(), 200, Some("r"));
        tx.handle_response(t0 + secs(1), ok.clone()).unwrap();
        assert_eq!(tx.state(), NonInviteClientState::Completed);
        assert!(matches!(tx.poll_event(), Some(TuEvent::Response(_))));
        // Retransmissions of the final response are absorbed.
        tx.handle_response(t0 + secs(2), ok).unwrap();
        assert!(tx.poll_event().is_none());
        assert!(tx.poll_transmit().is_none());
        // Timer K = T4 = 5 s on UDP.
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(6)));
        tx.handle_timeout(t0 + secs(6));
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_transport_sends_once_and_timer_k_is_zero() {
        let (t0, mut tx) = trying(true);
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(32)), "only Timer F");
        let _ = tx.poll_transmit();
        assert!(tx.poll_transmit().is_none());
        let busy = response(tx.request(), 503, Some("r"));
        tx.handle_response(t0 + secs(1), busy).unwrap();
        assert!(matches!(tx.poll_event(), Some(TuEvent::Response(_))));
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_timeout_on_f() {
        let (t0, mut tx) = trying(true);
        let (sent, events) = run(t0, &mut tx, t0 + secs(60), None);
        assert_eq!(sent, [0]);
        assert!(matches!(events.as_slice(), [TuEvent::Timeout(Timer::F)]));
    }

    #[test]
    fn invite_and_ack_are_refused() {
        for method in ["INVITE", "ACK"] {
            let err = NonInviteClient::new(
                Instant::now(),
                request(method, "z9hG4bK1"),
                false,
                TimerConfig::default(),
            )
            .unwrap_err();
            assert!(matches!(err, TransactionError::WrongMethod { .. }));
        }
    }
}
