//! Transaction timers: RFC 3261 §17 (summarised in Appendix A, Table 4) and the two timers
//! RFC 6026 §8.11 adds (L and M).
//!
//! The machines never read a clock: every deadline is computed from an injected `now`, so a
//! test drives time by adding [`Duration`]s to one `Instant`.

use std::time::{Duration, Instant};

/// The transaction timers, named as in RFC 3261 Appendix A and RFC 6026 §8.11.
///
/// | Timer | Value (unreliable / reliable) | Meaning |
/// |-------|-------------------------------|---------|
/// | A | T1, doubling / not started | INVITE request retransmit (§17.1.1.2) |
/// | B | 64·T1 | INVITE transaction timeout (§17.1.1.2) |
/// | C | > 3 min | proxy INVITE timeout (§16.6 step 11); only when the proxy starts it |
/// | D | ≥ 32 s / 0 | wait time for response retransmits (§17.1.1.2) |
/// | E | T1, doubling to T2 / not started | non-INVITE request retransmit (§17.1.2.2) |
/// | F | 64·T1 | non-INVITE transaction timeout (§17.1.2.2) |
/// | G | T1, doubling to T2 / not started | INVITE response retransmit (§17.2.1) |
/// | H | 64·T1 | wait time for ACK receipt (§17.2.1) |
/// | I | T4 / 0 | wait time for ACK retransmits (§17.2.1) |
/// | J | 64·T1 / 0 | wait time for non-INVITE request retransmits (§17.2.2) |
/// | K | T4 / 0 | wait time for response retransmits (§17.1.2.2) |
/// | L | 64·T1 | wait time for accepted INVITE request retransmits (RFC 6026 §8.7) |
/// | M | 64·T1 | wait time for retransmission of 2xx to INVITE (RFC 6026 §8.4) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    L,
    M,
}

/// The base timer values of RFC 3261 §17.1.1.1 and Table 4, configurable because RFC 3261
/// allows a network to choose other values (e.g. a larger T1 on high-latency links) and
/// TS 24.229 §7.7 gives its own values for the UE–P-CSCF hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1, the RTT estimate (default 500 ms).
    pub t1: Duration,
    /// T2, the maximum retransmit interval for non-INVITE requests and INVITE responses
    /// (default 4 s).
    pub t2: Duration,
    /// T4, the maximum duration a message remains in the network (default 5 s).
    pub t4: Duration,
    /// Timer C for proxies (§16.6 step 11; "MUST be greater than 3 minutes"), default 180 s.
    /// Only runs where a proxy starts it ([`InviteClient::start_timer_c`](super::InviteClient::start_timer_c)).
    pub timer_c: Duration,
    /// Timer D on unreliable transports ("at least 32 seconds", Table 4), default 32 s.
    pub timer_d: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(180),
            timer_d: Duration::from_secs(32),
        }
    }
}

impl TimerConfig {
    /// 64·T1, the value of timers B, F, H, J (unreliable), L and M.
    pub fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// The (initial) duration of `timer` on a transport that is `reliable` or not, per Table 4.
    ///
    /// `None` means the timer is not started at all: the retransmission timers A, E and G
    /// only run on unreliable transports (§17.1.1.2, §17.1.2.2, §17.2.1). A zero duration
    /// (D, I, J, K on reliable transports) means the transition happens at once.
    pub fn duration(&self, timer: Timer, reliable: bool) -> Option<Duration> {
        match timer {
            Timer::A | Timer::E | Timer::G => (!reliable).then_some(self.t1),
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M => Some(self.t1_x64()),
            Timer::C => Some(self.timer_c),
            Timer::D => Some(if reliable {
                Duration::ZERO
            } else {
                self.timer_d
            }),
            Timer::I | Timer::K => Some(if reliable { Duration::ZERO } else { self.t4 }),
            Timer::J => Some(if reliable {
                Duration::ZERO
            } else {
                self.t1_x64()
            }),
        }
    }

    /// The next retransmit interval after `current` for a timer that doubles up to T2
    /// (E in Trying, §17.1.2.2; G, §17.2.1).
    pub fn backoff_capped(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.t2)
    }
}

/// The armed timers of one transaction with their deadlines.
///
/// A transaction has at most four timers armed at once, so a small vector beats a map.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerSet {
    armed: Vec<(Timer, Instant)>,
}

impl TimerSet {
    /// Arms `timer` to fire at `deadline`, replacing an earlier deadline of the same timer.
    pub(crate) fn arm(&mut self, timer: Timer, deadline: Instant) {
        self.disarm(timer);
        self.armed.push((timer, deadline));
    }

    /// Arms `timer` for `duration` from `now` if the timer runs on this transport.
    pub(crate) fn arm_for(
        &mut self,
        config: &TimerConfig,
        timer: Timer,
        reliable: bool,
        now: Instant,
    ) {
        if let Some(duration) = config.duration(timer, reliable) {
            self.arm(timer, now + duration);
        }
    }

    /// When `timer` fires, if armed.
    pub(crate) fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.armed
            .iter()
            .find_map(|(t, at)| (*t == timer).then_some(*at))
    }

    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.armed.retain(|(t, _)| *t != timer);
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// The earliest deadline, if any timer is armed.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.armed.iter().map(|(_, at)| *at).min()
    }

    /// Removes and returns the timer that expired first at `now` (ties broken by the timer
    /// order, so e.g. A's retransmission is handled before B's timeout at the same instant).
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (index, _) = self
            .armed
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(_, (timer, at))| (*at, *timer))?;
        Some(self.armed.swap_remove(index).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_4_defaults() {
        let c = TimerConfig::default();
        assert_eq!(
            c.duration(Timer::A, false),
            Some(Duration::from_millis(500))
        );
        assert_eq!(c.duration(Timer::A, true), None);
        assert_eq!(c.duration(Timer::E, true), None);
        assert_eq!(c.duration(Timer::G, true), None);
        assert_eq!(c.duration(Timer::B, true), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::F, false), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::H, false), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::L, false), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::M, false), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::D, false), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::D, true), Some(Duration::ZERO));
        assert_eq!(c.duration(Timer::I, false), Some(Duration::from_secs(5)));
        assert_eq!(c.duration(Timer::K, true), Some(Duration::ZERO));
        assert_eq!(c.duration(Timer::J, false), Some(Duration::from_secs(32)));
        assert_eq!(c.duration(Timer::J, true), Some(Duration::ZERO));
        assert!(c.duration(Timer::C, false) > Some(Duration::from_secs(179)));
    }

    #[test]
    fn configured_t1_scales_64_t1_timers() {
        let c = TimerConfig {
            t1: Duration::from_secs(2),
            ..TimerConfig::default()
        };
        assert_eq!(c.duration(Timer::B, false), Some(Duration::from_secs(128)));
        assert_eq!(c.duration(Timer::A, false), Some(Duration::from_secs(2)));
    }

    #[test]
    fn backoff_caps_at_t2() {
        let c = TimerConfig::default();
        let steps: Vec<u64> = std::iter::successors(Some(c.t1), |d| Some(c.backoff_capped(*d)))
            .take(6)
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(steps, [500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn timer_set_pops_earliest_first() {
        let t0 = Instant::now();
        let mut set = TimerSet::default();
        set.arm(Timer::B, t0 + Duration::from_secs(32));
        set.arm(Timer::A, t0 + Duration::from_millis(500));
        assert_eq!(set.next_deadline(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(set.pop_expired(t0), None);
        assert_eq!(
            set.pop_expired(t0 + Duration::from_secs(40)),
            Some(Timer::A)
        );
        assert_eq!(
            set.pop_expired(t0 + Duration::from_secs(40)),
            Some(Timer::B)
        );
        assert_eq!(set.pop_expired(t0 + Duration::from_secs(40)), None);
        assert_eq!(set.next_deadline(), None);
    }

    #[test]
    fn rearming_replaces_the_deadline() {
        let t0 = Instant::now();
        let mut set = TimerSet::default();
        set.arm(Timer::E, t0 + Duration::from_millis(500));
        set.arm(Timer::E, t0 + Duration::from_secs(4));
        assert_eq!(set.next_deadline(), Some(t0 + Duration::from_secs(4)));
        set.disarm(Timer::E);
        assert_eq!(set.next_deadline(), None);
    }
}
