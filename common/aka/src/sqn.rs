//! Sequence number management, 3GPP TS 33.102 Annex C.
//!
//! # Scheme chosen
//!
//! SQN is 48 bits and is split as `SQN = SEQ ‖ IND` (TS 33.102 Annex C.1), IND being the
//! [`SqnScheme::ind_bits`] least significant bits (5 by default, i.e. an array of a = 32
//! entries in the USIM, the value TS 33.102 Annex C.3 recommends [recalled, not re-read]).
//!
//! * **HE/AuC side** ([`SqnGenerator`]): SEQ is a per-subscriber counter SEQ_HE that is *not*
//!   time based (Annex C.1, profile 1): every new authentication vector takes `SEQ_HE + 1`.
//!   IND is allocated round-robin over `0..a` by default (Annex C.1 leaves the allocation method
//!   to the operator), or chosen by the caller (e.g. one IND value per serving node).
//! * **USIM side** ([`SqnArray`]): the array `SEQ_MS(0..a)` of Annex C.2.2. A received SQN is
//!   accepted when, in this order,
//!   1. `SEQ - SEQ_MS ≤ Δ` where SEQ_MS is the highest accepted SEQ anywhere in the array
//!      (Annex C.2.1; [`SqnScheme::delta`], 2^28 by default), so the counter cannot be pushed
//!      towards its end in one jump;
//!   2. `SEQ_MS - SEQ < L` if an age limit L is configured (Annex C.2.2, optional,
//!      [`SqnScheme::age_limit`], off by default);
//!   3. `SEQ > SEQ_MS(IND)` (Annex C.2.2), after which `SEQ_MS(IND) := SEQ`.
//!
//!   Otherwise the USIM answers with a synchronisation failure carrying SQN_MS, the highest
//!   previously accepted sequence number (its SEQ and the IND of the array entry holding it).
//! * **Resynchronisation** ([`SqnGenerator::resynchronise`], TS 33.102 §6.3.5): when the SQN
//!   the HE would use next (`SEQ_HE + 1`) would not pass checks 1 and 3 against SQN_MS, SEQ_HE
//!   is reset to SEQ_MS so that the next vector carries `SEQ_MS + 1`.

use crate::error::AkaError;
use crate::milenage::SqnBytes;

/// SQN: a 48-bit sequence number (TS 33.102 §6.3.2), kept as an integer below 2^48.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sqn(u64);

impl Sqn {
    /// Largest 48-bit value.
    pub const MAX: Sqn = Sqn((1 << 48) - 1);

    /// SQN from an integer; errors when it does not fit 48 bits.
    pub fn new(value: u64) -> Result<Self, AkaError> {
        if value > Self::MAX.0 {
            return Err(AkaError::SqnOutOfRange(value));
        }
        Ok(Sqn(value))
    }

    /// SQN from its 6-octet wire form (most significant octet first).
    pub fn from_bytes(b: &SqnBytes) -> Self {
        let mut v = [0u8; 8];
        v[2..].copy_from_slice(b);
        Sqn(u64::from_be_bytes(v))
    }

    /// The 6-octet wire form.
    pub fn to_bytes(self) -> SqnBytes {
        let v = self.0.to_be_bytes();
        let mut b = [0u8; 6];
        b.copy_from_slice(&v[2..]);
        b
    }

    /// The integer value.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// Parameters of the SEQ/IND scheme, shared by HE and USIM (TS 33.102 Annex C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqnScheme {
    /// Length of IND in bits (a = 2^ind_bits array entries). 1..=16.
    pub ind_bits: u8,
    /// Δ: the largest forward jump of SEQ over the highest accepted SEQ_MS (Annex C.2.1).
    pub delta: u64,
    /// L: optional age limit, SEQ_MS - SEQ must stay below it (Annex C.2.2).
    pub age_limit: Option<u64>,
}

impl Default for SqnScheme {
    /// IND of 5 bits (a = 32), Δ = 2^28, no age limit.
    fn default() -> Self {
        SqnScheme {
            ind_bits: 5,
            delta: 1 << 28,
            age_limit: None,
        }
    }
}

impl SqnScheme {
    /// Checks the parameters (IND of 1..=16 bits, Δ > 0).
    pub fn validate(&self) -> Result<(), AkaError> {
        if !(1..=16).contains(&self.ind_bits) || self.delta == 0 {
            return Err(AkaError::InvalidSqnScheme);
        }
        Ok(())
    }

    /// Number of IND values (array size a).
    pub fn ind_count(&self) -> u32 {
        1u32 << self.ind_bits
    }

    /// Largest SEQ value that fits next to IND in 48 bits.
    pub fn seq_max(&self) -> u64 {
        Sqn::MAX.0 >> self.ind_bits
    }

    /// SEQ part of `sqn`.
    pub fn seq(&self, sqn: Sqn) -> u64 {
        sqn.0 >> self.ind_bits
    }

    /// IND part of `sqn`.
    pub fn ind(&self, sqn: Sqn) -> u32 {
        // ind_bits <= 16, so the masked value fits u32.
        (sqn.0 & ((1u64 << self.ind_bits) - 1)) as u32
    }

    /// SQN = SEQ ‖ IND; errors when SEQ or IND does not fit.
    pub fn compose(&self, seq: u64, ind: u32) -> Result<Sqn, AkaError> {
        if ind >= self.ind_count() {
            return Err(AkaError::IndOutOfRange(ind));
        }
        if seq > self.seq_max() {
            return Err(AkaError::SqnExhausted);
        }
        Ok(Sqn((seq << self.ind_bits) | u64::from(ind)))
    }

    /// Whether a USIM whose highest accepted SEQ is `seq_ms` accepts a fresh `seq` on the
    /// freshness conditions independent of IND (checks 1 and 2 of the module doc).
    fn within_limits(&self, seq: u64, seq_ms: u64) -> bool {
        if seq > seq_ms && seq - seq_ms > self.delta {
            return false;
        }
        match self.age_limit {
            Some(l) if seq_ms > seq => seq_ms - seq < l,
            _ => true,
        }
    }
}

/// Result of [`SqnGenerator::resynchronise`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resynchronisation {
    /// SQN_HE was already in the range the USIM accepts; it is kept.
    InRange,
    /// SQN_HE was reset to SQN_MS (TS 33.102 §6.3.5 step 5).
    Reset,
}

/// HE/AuC sequence number generator (TS 33.102 Annex C.1, profile 1, not time based).
///
/// The whole state is the last SQN handed out ([`SqnGenerator::last`]); an HSS persists that
/// one value per subscriber and rebuilds the generator with [`SqnGenerator::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqnGenerator {
    scheme: SqnScheme,
    seq_he: u64,
    last_ind: u32,
}

impl SqnGenerator {
    /// A generator continuing after `last` (use `Sqn::default()` for a new subscriber).
    pub fn new(scheme: SqnScheme, last: Sqn) -> Result<Self, AkaError> {
        scheme.validate()?;
        Ok(SqnGenerator {
            scheme,
            seq_he: scheme.seq(last),
            last_ind: scheme.ind(last),
        })
    }

    /// The scheme in use.
    pub fn scheme(&self) -> &SqnScheme {
        &self.scheme
    }

    /// The last SQN generated (or the starting point): the value to persist.
    pub fn last(&self) -> Sqn {
        // seq_he and last_ind only ever come from valid SQNs of this scheme.
        Sqn((self.seq_he << self.scheme.ind_bits) | u64::from(self.last_ind))
    }

    /// Next SQN with IND allocated round-robin: SEQ_HE + 1 ‖ (last IND + 1) mod a.
    pub fn next_sqn(&mut self) -> Result<Sqn, AkaError> {
        let ind = (self.last_ind + 1) % self.scheme.ind_count();
        self.next_sqn_with_ind(ind)
    }

    /// Next SQN with a caller-chosen IND (e.g. one IND per serving network node).
    pub fn next_sqn_with_ind(&mut self, ind: u32) -> Result<Sqn, AkaError> {
        let seq = self.seq_he.checked_add(1).ok_or(AkaError::SqnExhausted)?;
        let sqn = self.scheme.compose(seq, ind)?;
        self.seq_he = seq;
        self.last_ind = ind;
        Ok(sqn)
    }

    /// Resynchronisation with the SQN_MS recovered from AUTS (TS 33.102 §6.3.5): keeps SQN_HE
    /// when its next value would be accepted by the USIM, otherwise sets SEQ_HE := SEQ_MS.
    pub fn resynchronise(&mut self, sqn_ms: Sqn) -> Resynchronisation {
        let seq_ms = self.scheme.seq(sqn_ms);
        let next = self.seq_he.saturating_add(1);
        if next > seq_ms && self.scheme.within_limits(next, seq_ms) {
            Resynchronisation::InRange
        } else {
            self.seq_he = seq_ms;
            self.last_ind = self.scheme.ind(sqn_ms);
            Resynchronisation::Reset
        }
    }
}

/// Outcome of checking a received SQN against the USIM array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// SQN is fresh; the array has been updated.
    Fresh,
    /// SQN is not acceptable; the USIM must send a synchronisation failure with this SQN_MS.
    SynchronisationFailure {
        /// Highest previously accepted sequence number.
        sqn_ms: Sqn,
    },
}

/// USIM sequence number state: the array SEQ_MS(0..a) of TS 33.102 Annex C.2.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqnArray {
    scheme: SqnScheme,
    seq_ms: Vec<u64>,
}

impl SqnArray {
    /// A fresh USIM: every entry zero (Annex C.2.2).
    pub fn new(scheme: SqnScheme) -> Result<Self, AkaError> {
        scheme.validate()?;
        Ok(SqnArray {
            scheme,
            seq_ms: vec![0; scheme.ind_count() as usize],
        })
    }

    /// The scheme in use.
    pub fn scheme(&self) -> &SqnScheme {
        &self.scheme
    }

    /// SQN_MS: the highest accepted SEQ with the IND of the entry holding it (the lowest such
    /// IND when several entries hold it).
    pub fn sqn_ms(&self) -> Sqn {
        let mut best = (0u64, 0u32);
        for (i, &seq) in (0u32..).zip(&self.seq_ms) {
            if seq > best.0 {
                best = (seq, i);
            }
        }
        // Entries come from accepted SQNs of this scheme, so SEQ fits next to IND.
        Sqn((best.0 << self.scheme.ind_bits) | u64::from(best.1))
    }

    /// Checks `sqn` for freshness (Annex C.2) without changing state.
    pub fn check(&self, sqn: Sqn) -> Freshness {
        let seq = self.scheme.seq(sqn);
        let ind = self.scheme.ind(sqn) as usize;
        let sqn_ms = self.sqn_ms();
        let highest = self.scheme.seq(sqn_ms);
        let entry = self.seq_ms.get(ind).copied().unwrap_or(u64::MAX);
        if self.scheme.within_limits(seq, highest) && seq > entry {
            Freshness::Fresh
        } else {
            Freshness::SynchronisationFailure { sqn_ms }
        }
    }

    /// Checks `sqn` and, when fresh, records it: SEQ_MS(IND) := SEQ.
    pub fn accept(&mut self, sqn: Sqn) -> Freshness {
        let verdict = self.check(sqn);
        if verdict == Freshness::Fresh {
            let ind = self.scheme.ind(sqn) as usize;
            if let Some(entry) = self.seq_ms.get_mut(ind) {
                *entry = self.scheme.seq(sqn);
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_ind_split_and_wire_form() {
        let scheme = SqnScheme::default();
        let sqn = scheme.compose(0x1234, 0x1f).unwrap();
        assert_eq!(sqn.value(), (0x1234 << 5) | 0x1f);
        assert_eq!((scheme.seq(sqn), scheme.ind(sqn)), (0x1234, 0x1f));
        assert_eq!(sqn.to_bytes(), [0x00, 0x00, 0x00, 0x02, 0x46, 0x9f]);
        assert_eq!(Sqn::from_bytes(&sqn.to_bytes()), sqn);
        assert_eq!(scheme.compose(0, 32), Err(AkaError::IndOutOfRange(32)));
        assert_eq!(
            scheme.compose(scheme.seq_max() + 1, 0),
            Err(AkaError::SqnExhausted)
        );
    }

    #[test]
    fn delta_limit_is_inclusive() {
        let scheme = SqnScheme {
            delta: 10,
            ..SqnScheme::default()
        };
        assert!(scheme.within_limits(15, 5));
        assert!(!scheme.within_limits(16, 5));
        // Lower SEQs are not limited by Δ, only by the optional L.
        assert!(scheme.within_limits(1, 1000));
    }
}
