//! HTTP Digest AKA: AKAv1-MD5 (RFC 3310) and AKAv2-MD5 (RFC 4169).
//!
//! Digest AKA is RFC 2617 Digest ([`crate::digest`]) where
//! * the `nonce` carries the AKA challenge: base64(RAND ‖ AUTN [‖ server data]) (RFC 3310 §3.2);
//! * the password is derived from RES (XRES on the server): the raw RES octets for AKAv1
//!   (RFC 3310 §3.3), base64(HMAC-MD5(RES ‖ IK ‖ CK, "http-digest-akav2-password")) for AKAv2
//!   (RFC 4169 §3);
//! * on a synchronisation failure the client adds `auts` = base64(AUTS) and computes `response`
//!   with an empty password (RFC 3310 §3.4). RFC 4169 is assumed to keep that rule for AKAv2
//!   [recalled, not re-read: check RFC 4169 if an AKAv2 peer disagrees].
//!
//! Server side (S-CSCF, which holds XRES but never the password): [`AkaChallenge`].
//! Client side (UE): [`answer_challenge`].

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use crate::digest::{DigestAlgorithm, DigestParams, HexDigest};
use crate::error::DigestError;
use crate::milenage::{Ck, Ik, Rand};
use crate::usim::{Usim, UsimKeys, UsimOutcome};
use crate::vector::{AuthVector, Autn, Auts, ResynchronisationInfo};

/// The PRF input string of RFC 4169 §3 (26 octets).
pub const AKAV2_PASSWORD_LABEL: &[u8] = b"http-digest-akav2-password";

/// Password used with `auts` on a synchronisation failure (RFC 3310 §3.4): empty.
pub const RESYNC_PASSWORD: &[u8] = b"";

/// Base64 decoding that accepts a missing or present padding: peers differ, and the octets are
/// what matters.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// RES is 32..128 bits (TS 33.102 §6.3.2); anything else is not a RES.
const RES_LEN: std::ops::RangeInclusive<usize> = 4..=16;

/// AKAv1-MD5 password: the RES octets themselves (RFC 3310 §3.3), not their hex form.
pub fn akav1_password(res: &[u8]) -> Vec<u8> {
    res.to_vec()
}

/// AKAv2-MD5 password (RFC 4169 §3): base64(HMAC-MD5(key = RES ‖ IK ‖ CK,
/// "http-digest-akav2-password")), the 24 base64 characters being the password.
pub fn akav2_password(res: &[u8], ik: &Ik, ck: &Ck) -> Result<String, DigestError> {
    if !RES_LEN.contains(&res.len()) {
        return Err(DigestError::MalformedParameter("RES"));
    }
    // RES ‖ IK ‖ CK is at most 48 octets, below MD5's 64-octet block, and HMAC zero-pads short
    // keys to the block size (RFC 2104 §2); padding here lets us use the infallible fixed-size
    // key constructor.
    let mut key = [0u8; 64];
    let parts = res.iter().chain(ik).chain(ck);
    for (k, b) in key.iter_mut().zip(parts) {
        *k = *b;
    }
    let mut mac = <Hmac<Md5> as KeyInit>::new(&key.into());
    mac.update(AKAV2_PASSWORD_LABEL);
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// The password `algorithm` derives from RES (or XRES), IK and CK.
pub fn aka_password(
    algorithm: DigestAlgorithm,
    res: &[u8],
    ik: &Ik,
    ck: &Ck,
) -> Result<Vec<u8>, DigestError> {
    if !RES_LEN.contains(&res.len()) {
        return Err(DigestError::MalformedParameter("RES"));
    }
    match algorithm {
        DigestAlgorithm::AkaV1Md5 => Ok(akav1_password(res)),
        DigestAlgorithm::AkaV2Md5 => Ok(akav2_password(res, ik, ck)?.into_bytes()),
        other => Err(DigestError::WrongAlgorithm(other.as_str())),
    }
}

/// The AKA `nonce`: RAND ‖ AUTN ‖ optional server data, base64 (RFC 3310 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AkaNonce {
    /// RAND.
    pub rand: Rand,
    /// AUTN.
    pub autn: Autn,
    /// Server-specific data after AUTN (RFC 3310 §3.2), usually empty.
    pub server_data: Vec<u8>,
}

impl AkaNonce {
    /// The nonce directive value.
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(32 + self.server_data.len());
        raw.extend_from_slice(&self.rand);
        raw.extend_from_slice(&self.autn.to_bytes());
        raw.extend_from_slice(&self.server_data);
        STANDARD.encode(raw)
    }

    /// Parses a nonce directive value (padding optional).
    pub fn parse(nonce: &str) -> Result<Self, DigestError> {
        let raw = LENIENT_BASE64
            .decode(nonce.trim())
            .map_err(|_| DigestError::MalformedNonce)?;
        Self::from_bytes(&raw)
    }

    /// Splits RAND ‖ AUTN ‖ server data (also the layout of the Cx SIP-Authenticate AVP).
    pub fn from_bytes(raw: &[u8]) -> Result<Self, DigestError> {
        if raw.len() < 32 {
            return Err(DigestError::MalformedNonce);
        }
        let (rand, rest) = raw.split_at(16);
        let (autn, server_data) = rest.split_at(16);
        Ok(AkaNonce {
            rand: rand.try_into().map_err(|_| DigestError::MalformedNonce)?,
            autn: Autn::from_bytes(autn).map_err(|_| DigestError::MalformedNonce)?,
            server_data: server_data.to_vec(),
        })
    }
}

/// The `auts` directive value: base64(AUTS) (RFC 3310 §3.4).
pub fn encode_auts(auts: &Auts) -> String {
    STANDARD.encode(auts.to_bytes())
}

/// Parses an `auts` directive value (padding optional).
pub fn parse_auts(value: &str) -> Result<Auts, DigestError> {
    let raw = LENIENT_BASE64
        .decode(value.trim())
        .map_err(|_| DigestError::MalformedAuts)?;
    Auts::from_bytes(&raw).map_err(|_| DigestError::MalformedAuts)
}

/// One Digest AKA challenge as the S-CSCF keeps it between the 401 and the next REGISTER
/// (TS 24.229 §5.4.1.2): the vector from the HSS and the nonce it was sent as.
///
/// It answers "is this Authorization correct?" from XRES alone. Replay protection (nc
/// tracking, one use per vector) is the registrar's state, not this type's.
#[derive(Clone, PartialEq, Eq)]
pub struct AkaChallenge {
    algorithm: DigestAlgorithm,
    rand: Rand,
    xres: Vec<u8>,
    ck: Ck,
    ik: Ik,
    nonce: String,
}

impl std::fmt::Debug for AkaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AkaChallenge")
            .field("algorithm", &self.algorithm)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl AkaChallenge {
    /// A challenge from the parts of a vector; `server_data` is appended to the nonce (empty
    /// for none).
    pub fn new(
        algorithm: DigestAlgorithm,
        rand: Rand,
        autn: Autn,
        xres: &[u8],
        ck: Ck,
        ik: Ik,
        server_data: &[u8],
    ) -> Result<Self, DigestError> {
        if !algorithm.is_aka() {
            return Err(DigestError::WrongAlgorithm(algorithm.as_str()));
        }
        if !RES_LEN.contains(&xres.len()) {
            return Err(DigestError::MalformedParameter("XRES"));
        }
        let nonce = AkaNonce {
            rand,
            autn,
            server_data: server_data.to_vec(),
        }
        .encode();
        Ok(AkaChallenge {
            algorithm,
            rand,
            xres: xres.to_vec(),
            ck,
            ik,
            nonce,
        })
    }

    /// A challenge from a locally generated [`AuthVector`].
    pub fn from_auth_vector(
        algorithm: DigestAlgorithm,
        av: &AuthVector,
    ) -> Result<Self, DigestError> {
        Self::new(algorithm, av.rand, av.autn, &av.xres, av.ck, av.ik, &[])
    }

    /// A challenge from a Cx SIP-Auth-Data-Item (TS 29.229): SIP-Authenticate (RAND ‖ AUTN
    /// [‖ server data]), SIP-Authorization (XRES), Confidentiality-Key, Integrity-Key.
    pub fn from_cx(
        algorithm: DigestAlgorithm,
        sip_authenticate: &[u8],
        xres: &[u8],
        ck: Ck,
        ik: Ik,
    ) -> Result<Self, DigestError> {
        let n = AkaNonce::from_bytes(sip_authenticate)?;
        Self::new(algorithm, n.rand, n.autn, xres, ck, ik, &n.server_data)
    }

    /// The `nonce` directive for the WWW-Authenticate header.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The `algorithm` directive.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// CK, for the `ck` parameter the S-CSCF gives the P-CSCF (TS 24.229 §5.4.1.2.1).
    pub fn ck(&self) -> &Ck {
        &self.ck
    }

    /// IK, for the `ik` parameter the S-CSCF gives the P-CSCF.
    pub fn ik(&self) -> &Ik {
        &self.ik
    }

    fn check_binding(&self, params: &DigestParams<'_>) -> Result<(), DigestError> {
        if params.algorithm != self.algorithm {
            return Err(DigestError::WrongAlgorithm(params.algorithm.as_str()));
        }
        if params.nonce != self.nonce {
            return Err(DigestError::NonceMismatch);
        }
        Ok(())
    }

    fn ha1(&self, params: &DigestParams<'_>) -> Result<HexDigest, DigestError> {
        let password = aka_password(self.algorithm, &self.xres, &self.ik, &self.ck)?;
        params.ha1(&password)
    }

    /// Verifies an Authorization answering this challenge: same algorithm and nonce, and
    /// `response` computed with the password derived from XRES (TS 24.229 §5.4.1.2.2).
    pub fn verify(&self, params: &DigestParams<'_>, response: &str) -> Result<(), DigestError> {
        self.check_binding(params)?;
        params.verify_with_ha1(&self.ha1(params)?, response)
    }

    /// Verifies an Authorization carrying `auts` (RFC 3310 §3.4: `response` computed with an
    /// empty password) and returns RAND ‖ AUTS for the MAR to the HSS.
    pub fn verify_resynchronisation(
        &self,
        params: &DigestParams<'_>,
        response: &str,
        auts: &str,
    ) -> Result<ResynchronisationInfo, DigestError> {
        self.check_binding(params)?;
        let auts = parse_auts(auts)?;
        params.verify_with_ha1(&params.ha1(RESYNC_PASSWORD)?, response)?;
        Ok(ResynchronisationInfo {
            rand: self.rand,
            auts,
        })
    }

    /// `rspauth` for Authentication-Info on the 200 OK (RFC 2617 §3.2.3, RFC 3310 §3.5).
    pub fn rspauth(
        &self,
        params: &DigestParams<'_>,
        response_body: &[u8],
    ) -> Result<HexDigest, DigestError> {
        self.check_binding(params)?;
        params.rspauth_with_ha1(&self.ha1(params)?, response_body)
    }
}

/// What a UE puts in its Authorization after running the USIM on a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AkaAnswer {
    /// Digest password: derived from RES, or empty on synchronisation failure.
    pub password: Vec<u8>,
    /// `auts` directive value on synchronisation failure.
    pub auts: Option<String>,
    /// RES/CK/IK when the network was authenticated (CK/IK feed the IPsec SAs).
    pub keys: Option<UsimKeys>,
}

/// UE side: parses `nonce`, runs the USIM and derives the digest password (RFC 3310 §3.3, §3.4).
///
/// A MAC failure is returned as [`DigestError::Aka`] with
/// [`crate::AkaError::MacFailure`]: the network is not authentic and the challenge must not be
/// answered with a RES.
pub fn answer_challenge(
    usim: &mut Usim,
    algorithm: DigestAlgorithm,
    nonce: &str,
) -> Result<AkaAnswer, DigestError> {
    if !algorithm.is_aka() {
        return Err(DigestError::WrongAlgorithm(algorithm.as_str()));
    }
    let n = AkaNonce::parse(nonce)?;
    match usim.authenticate(&n.rand, &n.autn)? {
        UsimOutcome::Authenticated(keys) => Ok(AkaAnswer {
            password: aka_password(algorithm, &keys.res, &keys.ik, &keys.ck)?,
            auts: None,
            keys: Some(keys),
        }),
        UsimOutcome::SynchronisationFailure(auts) => Ok(AkaAnswer {
            password: RESYNC_PASSWORD.to_vec(),
            auts: Some(encode_auts(&auts)),
            keys: None,
        }),
    }
}
