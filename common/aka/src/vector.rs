//! Authentication vectors and the HE/AuC side of AKA (TS 33.102 §6.3.2, §6.3.5).

use rand::RngCore;

use crate::error::AkaError;
use crate::milenage::{Ak, Ck, Ik, Mac, Milenage, Rand, Res};
use crate::sqn::{Sqn, SqnGenerator};

/// Authentication management field AMF (TS 33.102 §6.3.2, Annex F).
///
/// Kept open: any 16-bit value passes through; named constants cover the values this
/// project uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Amf(pub [u8; 2]);

impl Amf {
    /// The dummy AMF of all zeros used for MAC-S in resynchronisation (TS 33.102 §6.3.3).
    pub const RESYNC: Amf = Amf([0x00, 0x00]);
    /// AMF with the "separation bit" (bit 0) set, required for E-UTRAN vectors (TS 33.401
    /// Annex H); harmless for IMS and the usual HSS default.
    pub const SEPARATION_BIT: Amf = Amf([0x80, 0x00]);
}

/// AUTN = SQN ⊕ AK ‖ AMF ‖ MAC-A (TS 33.102 §6.3.2), 16 octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Autn {
    /// SQN ⊕ AK.
    pub sqn_xor_ak: [u8; 6],
    /// AMF.
    pub amf: Amf,
    /// MAC-A = f1_K(SQN ‖ RAND ‖ AMF).
    pub mac_a: Mac,
}

impl Autn {
    /// Wire length.
    pub const LEN: usize = 16;

    /// Builds AUTN for `sqn` (TS 33.102 §6.3.2).
    pub fn build(m: &Milenage, rand: &Rand, sqn: Sqn, amf: Amf) -> Self {
        let ak = m.f5(rand);
        Autn {
            sqn_xor_ak: xor6(&sqn.to_bytes(), &ak),
            amf,
            mac_a: m.f1(rand, &sqn.to_bytes(), &amf.0),
        }
    }

    /// Parses the 16-octet wire form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, AkaError> {
        let b: &[u8; 16] = b.try_into().map_err(|_| AkaError::InvalidLength {
            field: "AUTN",
            expected: Self::LEN,
            actual: b.len(),
        })?;
        let (sqn_xor_ak, rest) = b.split_at(6);
        let (amf, mac_a) = rest.split_at(2);
        Ok(Autn {
            sqn_xor_ak: sqn_xor_ak.try_into().unwrap_or_default(),
            amf: Amf(amf.try_into().unwrap_or_default()),
            mac_a: mac_a.try_into().unwrap_or_default(),
        })
    }

    /// The 16-octet wire form.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&self.sqn_xor_ak);
        b[6..8].copy_from_slice(&self.amf.0);
        b[8..].copy_from_slice(&self.mac_a);
        b
    }

    /// Recovers SQN with AK = f5(RAND) (USIM side, TS 33.102 §6.3.3).
    pub fn sqn(&self, ak: &Ak) -> Sqn {
        Sqn::from_bytes(&xor6(&self.sqn_xor_ak, ak))
    }
}

/// AUTS = SQN_MS ⊕ AK* ‖ MAC-S (TS 33.102 §6.3.3), 14 octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Auts {
    /// Conc(SQN_MS) = SQN_MS ⊕ f5*_K(RAND).
    pub sqn_ms_xor_ak_star: [u8; 6],
    /// MAC-S = f1*_K(SQN_MS ‖ RAND ‖ AMF) with the dummy AMF 0x0000.
    pub mac_s: Mac,
}

impl Auts {
    /// Wire length.
    pub const LEN: usize = 14;

    /// Builds AUTS for the USIM's SQN_MS (TS 33.102 §6.3.3).
    pub fn build(m: &Milenage, rand: &Rand, sqn_ms: Sqn) -> Self {
        Auts {
            sqn_ms_xor_ak_star: xor6(&sqn_ms.to_bytes(), &m.f5_star(rand)),
            mac_s: m.f1_star(rand, &sqn_ms.to_bytes(), &Amf::RESYNC.0),
        }
    }

    /// Parses the 14-octet wire form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, AkaError> {
        let b: &[u8; 14] = b.try_into().map_err(|_| AkaError::InvalidLength {
            field: "AUTS",
            expected: Self::LEN,
            actual: b.len(),
        })?;
        let (conc, mac_s) = b.split_at(6);
        Ok(Auts {
            sqn_ms_xor_ak_star: conc.try_into().unwrap_or_default(),
            mac_s: mac_s.try_into().unwrap_or_default(),
        })
    }

    /// The 14-octet wire form.
    pub fn to_bytes(&self) -> [u8; 14] {
        let mut b = [0u8; 14];
        b[..6].copy_from_slice(&self.sqn_ms_xor_ak_star);
        b[6..].copy_from_slice(&self.mac_s);
        b
    }
}

/// Quintet / authentication vector AV = RAND ‖ XRES ‖ CK ‖ IK ‖ AUTN (TS 33.102 §6.3.2).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthVector {
    /// RAND.
    pub rand: Rand,
    /// XRES = f2_K(RAND).
    pub xres: Res,
    /// CK = f3_K(RAND).
    pub ck: Ck,
    /// IK = f4_K(RAND).
    pub ik: Ik,
    /// AUTN.
    pub autn: Autn,
}

impl std::fmt::Debug for AuthVector {
    // XRES, CK and IK are secrets; RAND and AUTN travel in clear and help debugging.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthVector")
            .field("rand", &self.rand)
            .field("autn", &self.autn)
            .finish_non_exhaustive()
    }
}

impl AuthVector {
    /// Generates a vector for a given RAND and SQN (TS 33.102 §6.3.2, figure 8).
    pub fn generate(m: &Milenage, rand: Rand, sqn: Sqn, amf: Amf) -> Self {
        let f = m.f2345(&rand);
        let autn = Autn {
            sqn_xor_ak: xor6(&sqn.to_bytes(), &f.ak),
            amf,
            mac_a: m.f1(&rand, &sqn.to_bytes(), &amf.0),
        };
        AuthVector {
            rand,
            xres: f.res,
            ck: f.ck,
            ik: f.ik,
            autn,
        }
    }

    /// Generates a vector with a RAND drawn from `rng` and the next SQN of `sqn_gen`.
    /// The caller persists `sqn_gen.last()` afterwards.
    pub fn generate_next<R: RngCore + ?Sized>(
        m: &Milenage,
        rng: &mut R,
        sqn_gen: &mut SqnGenerator,
        amf: Amf,
    ) -> Result<Self, AkaError> {
        let sqn = sqn_gen.next_sqn()?;
        let mut rand = [0u8; 16];
        rng.fill_bytes(&mut rand);
        Ok(Self::generate(m, rand, sqn, amf))
    }
}

/// RAND ‖ AUTS, the resynchronisation information the S-CSCF sends to the HSS (carried in the
/// SIP-Authorization AVP of a Cx MAR, TS 29.229).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResynchronisationInfo {
    /// RAND of the challenge the UE rejected.
    pub rand: Rand,
    /// AUTS the UE returned.
    pub auts: Auts,
}

impl ResynchronisationInfo {
    /// Wire length: 16 + 14 octets.
    pub const LEN: usize = 30;

    /// Parses RAND ‖ AUTS.
    pub fn from_bytes(b: &[u8]) -> Result<Self, AkaError> {
        if b.len() != Self::LEN {
            return Err(AkaError::InvalidLength {
                field: "RAND||AUTS",
                expected: Self::LEN,
                actual: b.len(),
            });
        }
        let (rand, auts) = b.split_at(16);
        Ok(ResynchronisationInfo {
            rand: rand.try_into().unwrap_or_default(),
            auts: Auts::from_bytes(auts)?,
        })
    }

    /// RAND ‖ AUTS.
    pub fn to_bytes(&self) -> [u8; 30] {
        let mut b = [0u8; 30];
        b[..16].copy_from_slice(&self.rand);
        b[16..].copy_from_slice(&self.auts.to_bytes());
        b
    }

    /// HE side of resynchronisation (TS 33.102 §6.3.5): recovers SQN_MS with AK* = f5*(RAND)
    /// and verifies MAC-S = f1*(SQN_MS ‖ RAND ‖ AMF) with the dummy AMF 0x0000 (§6.3.3).
    /// The caller then passes SQN_MS to [`SqnGenerator::resynchronise`].
    pub fn verify(&self, m: &Milenage) -> Result<Sqn, AkaError> {
        let ak_star = m.f5_star(&self.rand);
        let sqn_ms = Sqn::from_bytes(&xor6(&self.auts.sqn_ms_xor_ak_star, &ak_star));
        let xmac_s = m.f1_star(&self.rand, &sqn_ms.to_bytes(), &Amf::RESYNC.0);
        if !crate::ct_eq(&xmac_s, &self.auts.mac_s) {
            return Err(AkaError::MacSFailure);
        }
        Ok(sqn_ms)
    }
}

fn xor6(a: &[u8; 6], b: &[u8; 6]) -> [u8; 6] {
    let mut out = *a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}
