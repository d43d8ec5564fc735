//! Reconnection timing (RFC 6733 §2.1, the Tc timer) with exponential backoff.
//!
//! RFC 6733 §2.1 recommends retrying a failed peer connection every Tc (30 s). Retrying at a
//! fixed Tc is slow to recover from a short outage and, with many clients, synchronises their
//! retries, so the delay starts small and doubles up to Tc after each failed attempt, with a
//! jitter of up to a quarter of the delay. A successful open (CEA) resets it.

use std::time::Duration;

use super::ids::SeededRng;

/// Exponential backoff between connection attempts, capped at Tc.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// `initial` is the first delay, `max` the cap (Tc).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let max = max.max(initial);
        Self {
            initial,
            max,
            current: initial,
        }
    }

    /// The delay before the next attempt; doubles the following one (up to Tc).
    pub fn next_delay(&mut self, rng: &mut SeededRng) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let span = (base / 4).as_nanos().min(u128::from(u64::MAX)) as u64;
        let offset = rng.symmetric_nanos(span);
        let nanos = (base.as_nanos() as i128 + offset).max(0);
        Duration::from_nanos(nanos.min(i128::from(u64::MAX)) as u64)
    }

    /// The delay the next attempt would use, without jitter (for introspection and tests).
    pub fn current(&self) -> Duration {
        self.current
    }

    /// Back to the initial delay, after a connection reached an open state.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut rng = SeededRng::new(1);
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let d1 = b.next_delay(&mut rng);
        assert!(d1 >= Duration::from_millis(750) && d1 <= Duration::from_millis(1250));
        assert_eq!(b.current(), Duration::from_secs(2));
        b.next_delay(&mut rng);
        assert_eq!(b.current(), Duration::from_secs(4));
        b.next_delay(&mut rng);
        assert_eq!(b.current(), Duration::from_secs(5));
        b.next_delay(&mut rng);
        assert_eq!(b.current(), Duration::from_secs(5));
        b.reset();
        assert_eq!(b.current(), Duration::from_secs(1));
    }
}
