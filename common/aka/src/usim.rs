//! The USIM authentication function (TS 33.102 §6.3.3): verify AUTN, check SQN freshness,
//! compute RES/CK/IK or the resynchronisation token AUTS.
//!
//! Sans-IO: the USIM is a value holding K/OPc (as [`Milenage`]) and the SEQ_MS array; the caller
//! feeds it RAND and AUTN and persists [`Usim::sqn_array`] if it wants the state to survive.

use crate::error::AkaError;
use crate::milenage::{Ck, Ik, Milenage, Rand, Res};
use crate::sqn::{Freshness, SqnArray, SqnScheme};
use crate::vector::{Autn, Auts};

/// Successful authentication: RES for the network and the session keys.
#[derive(Clone, PartialEq, Eq)]
pub struct UsimKeys {
    /// RES = f2_K(RAND).
    pub res: Res,
    /// CK = f3_K(RAND).
    pub ck: Ck,
    /// IK = f4_K(RAND).
    pub ik: Ik,
}

impl std::fmt::Debug for UsimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsimKeys").finish_non_exhaustive()
    }
}

/// What the USIM answers to an authentication request whose MAC verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsimOutcome {
    /// AUTN accepted: user authentication response.
    Authenticated(UsimKeys),
    /// SQN not fresh (TS 33.102 §6.3.3, Annex C.2): synchronisation failure with AUTS.
    SynchronisationFailure(Auts),
}

/// USIM state for one subscription.
#[derive(Clone, Debug)]
pub struct Usim {
    milenage: Milenage,
    sqn: SqnArray,
}

impl Usim {
    /// A USIM with a fresh SEQ_MS array (all zero).
    pub fn new(milenage: Milenage, scheme: SqnScheme) -> Result<Self, AkaError> {
        Ok(Usim {
            milenage,
            sqn: SqnArray::new(scheme)?,
        })
    }

    /// A USIM restored with a saved SEQ_MS array.
    pub fn with_sqn_array(milenage: Milenage, sqn: SqnArray) -> Self {
        Usim { milenage, sqn }
    }

    /// The SEQ_MS array (to persist or inspect).
    pub fn sqn_array(&self) -> &SqnArray {
        &self.sqn
    }

    /// Processes an authentication challenge (TS 33.102 §6.3.3):
    ///
    /// 1. AK = f5(RAND), SQN = (SQN ⊕ AK) ⊕ AK;
    /// 2. XMAC = f1(SQN ‖ RAND ‖ AMF); XMAC ≠ MAC → [`AkaError::MacFailure`], state unchanged;
    /// 3. SQN not fresh (Annex C.2) → AUTS = SQN_MS ⊕ f5*(RAND) ‖ f1*(SQN_MS ‖ RAND ‖ 0x0000);
    /// 4. otherwise record SQN and return RES, CK, IK.
    pub fn authenticate(&mut self, rand: &Rand, autn: &Autn) -> Result<UsimOutcome, AkaError> {
        let f = self.milenage.f2345(rand);
        let sqn = autn.sqn(&f.ak);
        let xmac = self.milenage.f1(rand, &sqn.to_bytes(), &autn.amf.0);
        if !crate::ct_eq(&xmac, &autn.mac_a) {
            return Err(AkaError::MacFailure);
        }
        match self.sqn.accept(sqn) {
            Freshness::Fresh => Ok(UsimOutcome::Authenticated(UsimKeys {
                res: f.res,
                ck: f.ck,
                ik: f.ik,
            })),
            Freshness::SynchronisationFailure { sqn_ms } => Ok(
                UsimOutcome::SynchronisationFailure(Auts::build(&self.milenage, rand, sqn_ms)),
            ),
        }
    }
}
