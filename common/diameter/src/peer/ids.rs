//! Identifier generation for the Diameter header (RFC 6733 §3) and the deterministic random
//! source the peer machine uses for jitter.
//!
//! The peer machine is sans-IO and must be reproducible in tests, so randomness is injected as a
//! seed and expanded with SplitMix64 (a small, well-distributed generator; cryptographic strength
//! is not needed for identifiers that only have to be unique, nor for timer jitter).

/// Deterministic pseudo-random source (SplitMix64), seeded by the embedder.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// Creates the generator from an embedder-chosen seed (the tokio driver seeds it from the
    /// system clock and process id; tests use a constant).
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Next 32 pseudo-random bits.
    pub fn next_u32(&mut self) -> u32 {
        // The high half of SplitMix64 output is as good as the low half; take it.
        (self.next_u64() >> 32) as u32
    }

    /// A value uniformly spread in `[-span, +span]` nanoseconds, as a signed offset.
    pub fn symmetric_nanos(&mut self, span_nanos: u64) -> i128 {
        if span_nanos == 0 {
            return 0;
        }
        let width = u128::from(span_nanos) * 2 + 1;
        let pick = u128::from(self.next_u64()) % width;
        pick as i128 - i128::from(span_nanos)
    }
}

/// End-to-End Identifier generator (RFC 6733 §3).
///
/// "Upon reboot, implementations MAY set the high order 12 bits to contain the low order 12 bits
/// of current time, and the low order 20 bits to a random value", then each request takes the
/// next value, so identifiers stay unique for at least 4 minutes even across reboots.
#[derive(Debug, Clone)]
pub struct EndToEndIds {
    next: u32,
}

impl EndToEndIds {
    /// `unix_seconds` is the current time at start (the caller reads the clock, keeping this
    /// sans-IO); `random` supplies the low 20 bits.
    pub fn new(unix_seconds: u64, random: u32) -> Self {
        let high = ((unix_seconds & 0xFFF) as u32) << 20;
        Self {
            next: high | (random & 0x000F_FFFF),
        }
    }

    /// The identifier for the next locally originated request.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }
}

/// Hop-by-Hop Identifier generator (RFC 6733 §3): "a monotonically increasing number, whose start
/// value was randomly generated".
#[derive(Debug, Clone)]
pub struct HopByHopIds {
    next: u32,
}

impl HopByHopIds {
    /// Starts at a random value.
    pub fn new(random: u32) -> Self {
        Self { next: random }
    }

    /// The identifier for the next request sent on this hop.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_high_bits_come_from_time_low_bits_from_random() {
        let mut ids = EndToEndIds::new(0x1234_5ABC, 0xFFF0_0007);
        let first = ids.next_id();
        assert_eq!(first >> 20, 0xABC);
        assert_eq!(first & 0xF_FFFF, 0x0_0007);
        assert_eq!(ids.next_id(), first + 1);
    }

    #[test]
    fn hop_by_hop_increases_and_wraps() {
        let mut ids = HopByHopIds::new(u32::MAX);
        assert_eq!(ids.next_id(), u32::MAX);
        assert_eq!(ids.next_id(), 0);
    }

    #[test]
    fn rng_is_deterministic_per_seed_and_jitter_stays_in_span() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        for _ in 0..1000 {
            let j = a.symmetric_nanos(2_000);
            assert!((-2_000..=2_000).contains(&j));
        }
        assert_eq!(a.symmetric_nanos(0), 0);
    }
}
