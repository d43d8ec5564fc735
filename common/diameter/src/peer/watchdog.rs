//! The transport failure detection algorithm of RFC 3539 §3.4 (device watchdog, DWR/DWA).
//!
//! The watchdog runs beside the RFC 6733 §5.6 peer state machine: "connection up" is the peer
//! reaching I-Open or R-Open, "connection down" is it leaving them. Its actions are returned to
//! the peer machine, which owns the connection and the pending requests.
//!
//! One deliberate difference: in DOWN the RFC 3539 timer drives `AttemptOpen()` every Tw; here
//! the peer machine's reconnect backoff (see [`super::backoff`]) decides when to reconnect, so
//! the watchdog has no timer in DOWN.

use std::time::{Duration, Instant};

use super::ids::SeededRng;

/// RFC 3539 §3.4.1 watchdog states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogState {
    /// No connection has been up yet.
    Initial,
    /// The connection is believed to work; requests are routed to it.
    Okay,
    /// A DWR went unanswered for Tw; requests fail over to alternates.
    Suspect,
    /// The connection is closed.
    Down,
    /// A new connection is up but must answer three DWRs before it is trusted (failback).
    Reopen,
}

/// What the watchdog asks the peer machine to do (RFC 3539 §3.4.1 action names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchdogActions {
    /// `SendWatchdog()`: send a DWR.
    pub send_watchdog: bool,
    /// `Failover()`: move pending requests to an alternate peer.
    pub failover: bool,
    /// `Failback()`: the peer may carry requests again.
    pub failback: bool,
    /// `CloseConnection()`: close the transport connection.
    pub close_connection: bool,
    /// `Throwaway()`: discard the received message (non-DWA in REOPEN).
    pub throwaway: bool,
}

/// Default Twinit (RFC 3539 §3.4.1: "Twinit ... SHOULD be set to 30 seconds").
pub const DEFAULT_TW_INIT: Duration = Duration::from_secs(30);
/// The jitter RFC 3539 §3.4.1 adds to Twinit: "random number between -2 and 2 seconds".
pub const DEFAULT_TW_JITTER: Duration = Duration::from_secs(2);

/// RFC 3539 §3.4 watchdog for one peer.
#[derive(Debug, Clone)]
pub struct Watchdog {
    state: WatchdogState,
    /// A DWR was sent and its DWA has not arrived.
    pending: bool,
    /// DWAs received in REOPEN (-1 once a DWR went unanswered there).
    num_dwa: i8,
    deadline: Option<Instant>,
    tw_init: Duration,
    tw_jitter: Duration,
}

impl Watchdog {
    /// `tw_init` is Twinit; RFC 3539 says it MUST NOT be below 6 s on a real network, but tests
    /// and labs may use less, so it is not clamped. `tw_jitter` is the ± jitter span.
    pub fn new(tw_init: Duration, tw_jitter: Duration) -> Self {
        Self {
            state: WatchdogState::Initial,
            pending: false,
            num_dwa: 0,
            deadline: None,
            tw_init,
            tw_jitter,
        }
    }

    /// The current state.
    pub fn state(&self) -> WatchdogState {
        self.state
    }

    /// When [`Watchdog::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// `SetWatchdog()`: Tw = Twinit ± jitter from the injected rng.
    fn set_watchdog(&mut self, now: Instant, rng: &mut SeededRng) {
        let span = self.tw_jitter.as_nanos().min(u128::from(u64::MAX)) as u64;
        let tw = self.tw_init.as_nanos() as i128 + rng.symmetric_nanos(span);
        let tw = Duration::from_nanos(tw.clamp(0, i128::from(u64::MAX)) as u64);
        self.deadline = Some(now + tw);
    }

    /// Connection up: INITIAL goes to OKAY; DOWN (a reconnection) goes to REOPEN and sends a DWR.
    pub fn connection_up(&mut self, now: Instant, rng: &mut SeededRng) -> WatchdogActions {
        let mut actions = WatchdogActions::default();
        match self.state {
            WatchdogState::Down => {
                self.num_dwa = 0;
                actions.send_watchdog = true;
                self.pending = true;
                self.state = WatchdogState::Reopen;
            }
            // RFC 3539 lists INITIAL; a connection coming up in any other state (it cannot while
            // one is up, the peer machine rejects a second one) is treated the same way.
            _ => {
                self.pending = false;
                self.state = WatchdogState::Okay;
            }
        }
        self.set_watchdog(now, rng);
        actions
    }

    /// Connection down (transport closed, DPR/DPA, or the peer machine closed it).
    pub fn connection_down(&mut self) -> WatchdogActions {
        let mut actions = WatchdogActions::default();
        match self.state {
            WatchdogState::Okay => actions.failover = true,
            WatchdogState::Suspect | WatchdogState::Reopen => actions.close_connection = true,
            WatchdogState::Initial | WatchdogState::Down => {}
        }
        if self.state != WatchdogState::Initial {
            self.state = WatchdogState::Down;
        }
        self.pending = false;
        self.deadline = None;
        actions
    }

    /// A DWA arrived.
    pub fn receive_dwa(&mut self, now: Instant, rng: &mut SeededRng) -> WatchdogActions {
        let mut actions = WatchdogActions::default();
        match self.state {
            WatchdogState::Okay => {
                self.pending = false;
                self.set_watchdog(now, rng);
            }
            WatchdogState::Suspect => {
                self.pending = false;
                actions.failback = true;
                self.state = WatchdogState::Okay;
                self.set_watchdog(now, rng);
            }
            WatchdogState::Reopen => {
                self.pending = false;
                // RFC 3539: "NumDWA < 2: NumDWA++" stays in REOPEN; the third DWA fails back.
                if self.num_dwa < 2 {
                    self.num_dwa += 1;
                } else {
                    self.num_dwa += 1;
                    actions.failback = true;
                    self.state = WatchdogState::Okay;
                }
                // The RFC does not re-arm the timer here: the next expiry sends the next DWR.
            }
            WatchdogState::Initial | WatchdogState::Down => {}
        }
        actions
    }

    /// Any other message arrived on the connection.
    pub fn receive_non_dwa(&mut self, now: Instant, rng: &mut SeededRng) -> WatchdogActions {
        let mut actions = WatchdogActions::default();
        match self.state {
            WatchdogState::Okay => self.set_watchdog(now, rng),
            WatchdogState::Suspect => {
                actions.failback = true;
                self.state = WatchdogState::Okay;
                self.set_watchdog(now, rng);
            }
            WatchdogState::Reopen => actions.throwaway = true,
            WatchdogState::Initial | WatchdogState::Down => {}
        }
        actions
    }

    /// The Tw timer fired (the caller checks [`Watchdog::poll_timeout`] `<= now`).
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut SeededRng) -> WatchdogActions {
        let mut actions = WatchdogActions::default();
        match self.deadline {
            Some(deadline) if deadline <= now => {}
            _ => return actions,
        }
        match self.state {
            WatchdogState::Okay => {
                if self.pending {
                    actions.failover = true;
                    self.state = WatchdogState::Suspect;
                } else {
                    actions.send_watchdog = true;
                    self.pending = true;
                }
                self.set_watchdog(now, rng);
            }
            WatchdogState::Suspect => {
                actions.close_connection = true;
                self.state = WatchdogState::Down;
                self.pending = false;
                self.deadline = None;
            }
            WatchdogState::Reopen => {
                if !self.pending {
                    actions.send_watchdog = true;
                    self.pending = true;
                    self.set_watchdog(now, rng);
                } else if self.num_dwa < 0 {
                    actions.close_connection = true;
                    self.state = WatchdogState::Down;
                    self.pending = false;
                    self.deadline = None;
                } else {
                    // One DWR may go unanswered in REOPEN; a second closes the connection.
                    self.num_dwa = -1;
                    self.set_watchdog(now, rng);
                }
            }
            WatchdogState::Initial | WatchdogState::Down => self.deadline = None,
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dog() -> (Watchdog, SeededRng, Instant) {
        (
            Watchdog::new(Duration::from_secs(30), Duration::from_secs(2)),
            SeededRng::new(42),
            Instant::now(),
        )
    }

    fn fire(w: &mut Watchdog, rng: &mut SeededRng) -> (Instant, WatchdogActions) {
        let at = w.poll_timeout().expect("timer armed");
        (at, w.handle_timeout(at, rng))
    }

    #[test]
    fn tw_has_jitter_within_two_seconds() {
        let (mut w, mut rng, t0) = dog();
        w.connection_up(t0, &mut rng);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let d = w.poll_timeout().unwrap() - t0;
            assert!(d >= Duration::from_secs(28) && d <= Duration::from_secs(32));
            seen.insert(d);
            w.receive_non_dwa(t0, &mut rng);
        }
        assert!(seen.len() > 1, "jitter varies Tw");
    }

    #[test]
    fn okay_sends_dwr_then_suspect_then_down() {
        let (mut w, mut rng, t0) = dog();
        assert!(!w.connection_up(t0, &mut rng).send_watchdog);
        assert_eq!(w.state(), WatchdogState::Okay);
        let (_, a) = fire(&mut w, &mut rng);
        assert!(a.send_watchdog && !a.failover);
        let (_, a) = fire(&mut w, &mut rng);
        assert!(a.failover);
        assert_eq!(w.state(), WatchdogState::Suspect);
        let (_, a) = fire(&mut w, &mut rng);
        assert!(a.close_connection);
        assert_eq!(w.state(), WatchdogState::Down);
        assert_eq!(w.poll_timeout(), None);
    }

    #[test]
    fn suspect_fails_back_on_any_message() {
        let (mut w, mut rng, t0) = dog();
        w.connection_up(t0, &mut rng);
        fire(&mut w, &mut rng);
        let (at, _) = fire(&mut w, &mut rng);
        assert_eq!(w.state(), WatchdogState::Suspect);
        assert!(w.receive_dwa(at, &mut rng).failback);
        assert_eq!(w.state(), WatchdogState::Okay);
    }

    #[test]
    fn reopen_needs_three_dwas_to_fail_back() {
        let (mut w, mut rng, t0) = dog();
        w.connection_up(t0, &mut rng);
        assert!(w.connection_down().failover);
        let a = w.connection_up(t0, &mut rng);
        assert!(a.send_watchdog);
        assert_eq!(w.state(), WatchdogState::Reopen);
        assert!(w.receive_non_dwa(t0, &mut rng).throwaway);
        for _ in 0..2 {
            assert!(!w.receive_dwa(t0, &mut rng).failback);
            assert_eq!(w.state(), WatchdogState::Reopen);
            let (_, a) = fire(&mut w, &mut rng);
            assert!(a.send_watchdog);
        }
        assert!(w.receive_dwa(t0, &mut rng).failback);
        assert_eq!(w.state(), WatchdogState::Okay);
    }

    #[test]
    fn reopen_tolerates_one_missing_dwa_then_closes() {
        let (mut w, mut rng, t0) = dog();
        w.connection_up(t0, &mut rng);
        w.connection_down();
        w.connection_up(t0, &mut rng);
        let (_, a) = fire(&mut w, &mut rng);
        assert_eq!(a, WatchdogActions::default());
        assert_eq!(w.state(), WatchdogState::Reopen);
        let (_, a) = fire(&mut w, &mut rng);
        assert!(a.close_connection);
        assert_eq!(w.state(), WatchdogState::Down);
    }
}
