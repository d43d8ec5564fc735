//! The non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).
//!
//! ```text
//! Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
//!   |                                                        ^
//!   +------------------200-699 from TU-----------------------+
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use super::timers::TimerSet;
use super::{response_class, ResponseClass, Timer, TimerConfig, TransactionError, TuEvent};
use crate::{Message, Method};

/// States of Figure 8 of RFC 3261.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    /// The request went to the TU; retransmissions are absorbed (nothing to re-send yet).
    Trying,
    /// A provisional was sent; retransmissions get it again.
    Proceeding,
    /// The final response was sent; retransmissions get it again until Timer J.
    Completed,
    /// Final: the transaction can be destroyed.
    Terminated,
}

impl NonInviteServerState {
    fn name(self) -> &'static str {
        match self {
            NonInviteServerState::Trying => "Trying",
            NonInviteServerState::Proceeding => "Proceeding",
            NonInviteServerState::Completed => "Completed",
            NonInviteServerState::Terminated => "Terminated",
        }
    }
}

/// One non-INVITE server transaction (any method but INVITE and ACK).
#[derive(Debug)]
pub struct NonInviteServer {
    state: NonInviteServerState,
    request: Message,
    reliable: bool,
    config: TimerConfig,
    timers: TimerSet,
    last_response: Option<Message>,
    transmits: VecDeque<Message>,
    events: VecDeque<TuEvent>,
}

impl NonInviteServer {
    /// Starts the transaction in Trying (§17.2.2); the caller passes the request to the TU.
    pub fn new(
        _now: Instant,
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
                machine: "non-INVITE server",
            });
        }
        Ok(NonInviteServer {
            state: NonInviteServerState::Trying,
            request,
            reliable,
            config,
            timers: TimerSet::default(),
            last_response: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    pub fn state(&self) -> NonInviteServerState {
        self.state
    }

    /// The request that created this transaction.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// The last response sent, if any.
    pub fn last_response(&self) -> Option<&Message> {
        self.last_response.as_ref()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteServerState::Terminated
    }

    /// A retransmission of the request arrived (§17.2.2): absorbed in Trying, answered with
    /// the last response in Proceeding and Completed.
    pub fn handle_request(&mut self, now: Instant, _request: Message) {
        if matches!(
            self.state,
            NonInviteServerState::Proceeding | NonInviteServerState::Completed
        ) {
            if let Some(response) = &self.last_response {
                self.transmits.push_back(response.clone());
            }
        }
        self.handle_timeout(now);
    }

    /// The TU passes a response to send (§17.2.2).
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Message,
    ) -> Result<(), TransactionError> {
        let class = response_class(&response).ok_or(TransactionError::WrongMessageKind {
            expected: "response with a 100-699 status",
        })?;
        use NonInviteServerState::*;
        match (self.state, class) {
            (Trying | Proceeding, ResponseClass::Provisional) => self.state = Proceeding,
            (Trying | Proceeding, ResponseClass::Success | ResponseClass::Failure) => {
                self.timers
                    .arm_for(&self.config, Timer::J, self.reliable, now);
                self.state = Completed;
            }
            // §17.2.2: "any other final responses passed by the TU ... MUST be discarded".
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
            if (timer, self.state) == (Timer::J, NonInviteServerState::Completed) {
                self.terminate();
            }
        }
    }

    /// The transport failed to send a response (§17.2.2, §18.4).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != NonInviteServerState::Terminated {
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
        self.state = NonInviteServerState::Terminated;
        self.timers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{request, response, secs};

    fn trying(reliable: bool) -> (Instant, NonInviteServer) {
        let t0 = Instant::now();
        let tx = NonInviteServer::new(
            t0,
            request("OPTIONS", "z9hG4bKopt"),
            reliable,
            TimerConfig::default(),
        )
        .unwrap();
        (t0, tx)
    }

    #[test]
    fn retransmissions_absorbed_in_trying_and_answered_later() {
        let (t0, mut tx) = trying(false);
        let req = tx.request().clone();
        tx.handle_request(t0 + secs(1), req.clone());
        assert!(tx.poll_transmit().is_none(), "nothing to re-send in Trying");

        tx.send_response(t0 + secs(1), response(&req, 183, Some("s")))
            .unwrap();
        assert_eq!(tx.state(), NonInviteServerState::Proceeding);
        assert_eq!(tx.poll_transmit().unwrap().status().map(|s| s.0), Some(183));
        tx.handle_request(t0 + secs(2), req.clone());
        assert_eq!(tx.poll_transmit().unwrap().status().map(|s| s.0), Some(183));

        tx.send_response(t0 + secs(2), response(&req, 200, Some("s")))
            .unwrap();
        assert_eq!(tx.state(), NonInviteServerState::Completed);
        assert_eq!(tx.poll_transmit().unwrap().status().map(|s| s.0), Some(200));
        tx.handle_request(t0 + secs(3), req.clone());
        assert_eq!(tx.poll_transmit().unwrap().status().map(|s| s.0), Some(200));
    }

    #[test]
    fn second_final_response_is_refused() {
        let (t0, mut tx) = trying(false);
        let req = tx.request().clone();
        tx.send_response(t0, response(&req, 404, Some("s")))
            .unwrap();
        let err = tx
            .send_response(t0, response(&req, 200, Some("s")))
            .unwrap_err();
        assert_eq!(
            err,
            TransactionError::ResponseNotAllowed {
                status: 200,
                state: "Completed"
            }
        );
    }

    #[test]
    fn timer_j_is_64_t1_on_udp() {
        let (t0, mut tx) = trying(false);
        let req = tx.request().clone();
        tx.send_response(t0 + secs(1), response(&req, 200, Some("s")))
            .unwrap();
        assert_eq!(tx.poll_timeout(), Some(t0 + secs(33)));
        tx.handle_timeout(t0 + secs(32));
        assert_eq!(tx.state(), NonInviteServerState::Completed);
        tx.handle_timeout(t0 + secs(33));
        assert!(tx.is_terminated());
    }

    #[test]
    fn timer_j_is_zero_on_reliable_transports() {
        let (t0, mut tx) = trying(true);
        let req = tx.request().clone();
        tx.send_response(t0, response(&req, 200, Some("s")))
            .unwrap();
        assert!(tx.poll_transmit().is_some());
        assert!(tx.is_terminated());
    }

    #[test]
    fn transport_error_terminates() {
        let (t0, mut tx) = trying(false);
        tx.handle_transport_error(t0);
        assert!(matches!(tx.poll_event(), Some(TuEvent::TransportError)));
        assert!(tx.is_terminated());
    }
}
