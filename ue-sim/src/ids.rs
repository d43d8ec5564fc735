//! Fresh identifiers: tags (RFC 3261 §19.3), branches (§8.1.1.7), Call-IDs (§8.1.1.4) and
//! cnonces (RFC 2617 §3.2.2), from one seedable generator so test runs are reproducible.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use ims_sip::header::BRANCH_MAGIC_COOKIE;

/// The UE's random source.
#[derive(Debug, Clone)]
pub struct Ids {
    rng: StdRng,
}

impl Ids {
    /// Seeded with `seed`, or from the operating system.
    pub fn new(seed: Option<u64>) -> Ids {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        Ids { rng }
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.random()
    }

    /// A tag: 32 bits of randomness are what §19.3 asks for at least; we use 64.
    pub fn tag(&mut self) -> String {
        format!("{:016x}", self.next_u64())
    }

    /// An RFC 3261 branch, unique in space and time (§8.1.1.7).
    pub fn branch(&mut self) -> String {
        format!(
            "{BRANCH_MAGIC_COOKIE}{:016x}{:08x}",
            self.next_u64(),
            self.rng.random::<u32>()
        )
    }

    /// A globally unique Call-ID: randomness `@` our host (§8.1.1.4).
    pub fn call_id(&mut self, host: &str) -> String {
        format!("{:016x}{:016x}@{host}", self.next_u64(), self.next_u64())
    }

    /// A client nonce.
    pub fn cnonce(&mut self) -> String {
        format!("{:016x}", self.next_u64())
    }
}
