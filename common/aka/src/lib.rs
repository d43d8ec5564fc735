//! IMS-AKA building blocks, all sans-IO (bytes and values in, bytes and values out):
//!
//! * [`milenage`]: MILENAGE f1, f1*, f2, f3, f4, f5, f5* (3GPP TS 35.206) with OP or OPc;
//! * [`vector`]: AUTN, AUTS, authentication vectors and HE-side AUTS verification
//!   (TS 33.102 §6.3.2, §6.3.5);
//! * [`sqn`]: SQN = SEQ ‖ IND management for HE and USIM (TS 33.102 Annex C);
//! * [`usim`]: the USIM authentication function (TS 33.102 §6.3.3);
//! * [`digest`]: HTTP Digest MD5 computations (RFC 2617, RFC 7616);
//! * [`digest_aka`]: Digest AKAv1-MD5 / AKAv2-MD5 (RFC 3310, RFC 4169) for UE and S-CSCF.
//!
//! The caller supplies RAND (or an rng), the stored SQN state and the request strings; nothing
//! here reads clocks, files or sockets.
//!
//! # Example: HSS vector, UE answer, S-CSCF check
//!
//! ```
//! use ims_aka::{answer_challenge, AkaChallenge, Amf, AuthVector, DigestAlgorithm, DigestParams,
//!     Milenage, Qop, QopParams, Sqn, SqnGenerator, SqnScheme, Usim};
//!
//! let (k, opc) = ([0x11; 16], [0x22; 16]);
//! // HSS: load the stored SQN, draw RAND, persist `gen.last()` afterwards.
//! let mut gen = SqnGenerator::new(SqnScheme::default(), Sqn::default())?;
//! let av = AuthVector::generate(&Milenage::with_opc(&k, &opc), [7; 16], gen.next_sqn()?,
//!     Amf::SEPARATION_BIT);
//! // S-CSCF: 401 with the nonce.
//! let challenge = AkaChallenge::from_auth_vector(DigestAlgorithm::AkaV1Md5, &av)?;
//! // UE: run the USIM, compute the digest response.
//! let mut usim = Usim::new(Milenage::with_opc(&k, &opc), SqnScheme::default())?;
//! let answer = answer_challenge(&mut usim, DigestAlgorithm::AkaV1Md5, challenge.nonce())?;
//! let params = DigestParams {
//!     username: "alice@ims.example", realm: "ims.example", nonce: challenge.nonce(),
//!     uri: "sip:ims.example", method: "REGISTER", algorithm: DigestAlgorithm::AkaV1Md5,
//!     qop: Some(QopParams { qop: Qop::Auth, nc: "00000001", cnonce: "c0ffee" }), body: b"",
//! };
//! let response = params.response(&answer.password)?;
//! // S-CSCF: check it against XRES.
//! challenge.verify(&params, response.as_str())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod digest;
pub mod digest_aka;
pub mod error;
pub mod milenage;
pub mod sqn;
pub mod usim;
pub mod vector;

pub use digest::{DigestAlgorithm, DigestParams, HexDigest, Qop, QopParams};
pub use digest_aka::{answer_challenge, AkaAnswer, AkaChallenge, AkaNonce};
pub use error::{AkaError, DigestError};
pub use milenage::{compute_opc, Milenage};
pub use sqn::{Freshness, Resynchronisation, Sqn, SqnArray, SqnGenerator, SqnScheme};
pub use usim::{Usim, UsimKeys, UsimOutcome};
pub use vector::{Amf, AuthVector, Autn, Auts, ResynchronisationInfo};

/// Constant-time equality for MACs and digests: the running time depends on the length only,
/// not on where the first differing octet is.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
