//! Authentication of REGISTER requests by the S-CSCF (3GPP TS 24.229 §5.4.1.2, TS 33.203 §6.1):
//! the credentials a REGISTER carries, the challenges we issued (one per Cx
//! SIP-Auth-Data-Item), and the verdict on an answer.
//!
//! * IMS-AKA (Digest AKAv1-MD5, RFC 3310; AKAv2-MD5, RFC 4169): nonce = base64(RAND ‖ AUTN),
//!   `ck`/`ik` for the P-CSCF in the challenge (TS 24.229 §5.4.1.2.1), XRES checked by
//!   [`ims_aka::AkaChallenge`]; a vector is used once (TS 33.102 §6.3.1).
//! * SIP Digest (RFC 2617 MD5, TS 33.203 Annex N): our own random nonce and the HA1 from the
//!   HSS; the nonce can be reused with a strictly increasing nc until it expires.
//!
//! A nonce that is ours and answered correctly but expired, already used or replayed (nc not
//! increasing) gets a fresh challenge with `stale=TRUE` (RFC 2617 §3.2.1); a wrong answer is
//! a failure (403).

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ims_aka::milenage::{Ck, Ik};
use ims_aka::{
    AkaChallenge, DigestAlgorithm, DigestError, DigestParams, HexDigest, Qop, QopParams,
    ResynchronisationInfo,
};
use ims_diameter::cx::{auth_scheme, SipAuthDataItem};
use ims_sip::header::{AuthParams, Credentials};
use ims_sip::Message;
use rand::RngCore;

use crate::config::RegistrarConfig;
use crate::error::RegisterError;

/// The Digest credentials of a REGISTER's Authorization header (TS 24.229 §5.1.1.2.1 and
/// §7.2A.1: `username` is the IMPI; `integrity-protected` is added by the P-CSCF).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestCredentials {
    /// `username`: the private user identity.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`; empty in the initial REGISTER.
    pub nonce: String,
    /// `uri`.
    pub uri: String,
    /// `response`; empty in the initial REGISTER.
    pub response: String,
    /// `algorithm`.
    pub algorithm: Option<String>,
    /// `qop`.
    pub qop: Option<String>,
    /// `nc`.
    pub nc: Option<String>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `auts` (RFC 3310 §3.4).
    pub auts: Option<String>,
    /// `integrity-protected` (TS 24.229 §7.2A.1).
    pub integrity_protected: Option<String>,
}

impl DigestCredentials {
    /// The first Digest Authorization of `request` (other schemes are ignored), if any.
    pub fn from_request(request: &Message) -> Result<Option<Self>, RegisterError> {
        for value in request.headers().get_all("Authorization") {
            let c = Credentials::parse(value)
                .map_err(|e| RegisterError::BadRequest(format!("Authorization: {e}")))?;
            if !c.0.is_digest() {
                continue;
            }
            let s = |v: Option<&str>| v.unwrap_or("").to_owned();
            let o = |v: Option<&str>| v.map(str::to_owned);
            return Ok(Some(DigestCredentials {
                username: s(c.username()),
                realm: s(c.realm()),
                nonce: s(c.nonce()),
                uri: s(c.uri()),
                response: s(c.response()),
                algorithm: o(c.algorithm()),
                qop: o(c.qop()),
                nc: o(c.nc()),
                cnonce: o(c.cnonce()),
                auts: o(c.auts()),
                integrity_protected: o(c.integrity_protected()),
            }));
        }
        Ok(None)
    }

    /// Whether the P-CSCF says the request came over a protected channel: an IPsec SA, TLS or
    /// an IP association (TS 24.229 §5.2.2.1, §7.2A.1 `yes`, `tls-yes`, `ip-assoc-yes`).
    pub fn integrity_protected(&self) -> bool {
        self.integrity_protected.as_deref().is_some_and(|v| {
            ["yes", "tls-yes", "ip-assoc-yes"]
                .iter()
                .any(|p| v.eq_ignore_ascii_case(p))
        })
    }

    /// The `algorithm` directive, MD5 when absent (RFC 2617 §3.2.1).
    pub fn algorithm(&self) -> Result<DigestAlgorithm, DigestError> {
        self.algorithm
            .as_deref()
            .map_or(Ok(DigestAlgorithm::Md5), DigestAlgorithm::parse)
    }

    fn digest_params<'a>(
        &'a self,
        algorithm: DigestAlgorithm,
        method: &'a str,
        body: &'a [u8],
    ) -> Result<DigestParams<'a>, DigestError> {
        let qop = match &self.qop {
            None => None,
            Some(q) => Some(QopParams {
                qop: Qop::parse(q)?,
                nc: self.nc.as_deref().unwrap_or(""),
                cnonce: self.cnonce.as_deref().unwrap_or(""),
            }),
        };
        if let Some(q) = &qop {
            q.validate()?;
        }
        Ok(DigestParams {
            username: &self.username,
            realm: &self.realm,
            nonce: &self.nonce,
            uri: &self.uri,
            method,
            algorithm,
            qop,
            body,
        })
    }
}

/// The SIP-Authentication-Scheme (TS 29.229 §6.3.9) for a Digest algorithm the UE named.
pub fn auth_scheme_for(algorithm: DigestAlgorithm) -> &'static str {
    match algorithm {
        DigestAlgorithm::AkaV1Md5 => auth_scheme::DIGEST_AKAV1_MD5,
        DigestAlgorithm::AkaV2Md5 => auth_scheme::DIGEST_AKAV2_MD5,
        DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => auth_scheme::SIP_DIGEST,
    }
}

/// What the S-CSCF keeps of one authentication vector between the 401 and the answer.
#[derive(Clone, PartialEq, Eq)]
pub enum ChallengeSecret {
    /// IMS-AKA: the Cx SIP-Auth-Data-Item (TS 29.229 §6.3.10, §6.3.11, §6.3.20, §6.3.21).
    Aka {
        /// SIP-Authenticate: RAND ‖ AUTN [‖ server data].
        sip_authenticate: Vec<u8>,
        /// SIP-Authorization: XRES.
        xres: Vec<u8>,
        /// Confidentiality-Key.
        ck: Ck,
        /// Integrity-Key.
        ik: Ik,
    },
    /// SIP Digest: Digest-HA1 of SIP-Digest-Authenticate (32 hex digits).
    Digest {
        /// HA1.
        ha1: String,
    },
}

impl std::fmt::Debug for ChallengeSecret {
    // XRES, keys and HA1 are secrets: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChallengeSecret::Aka { .. } => f.write_str("Aka(..)"),
            ChallengeSecret::Digest { .. } => f.write_str("Digest(..)"),
        }
    }
}

/// Life cycle of a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeState {
    /// Issued, may be answered.
    Pending,
    /// Answered successfully; kept until purged so a replay is recognised as stale.
    Consumed,
    /// reg-await-auth ran out; kept until purged for the same reason.
    Expired,
}

impl ChallengeState {
    /// Name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeState::Pending => "pending",
            ChallengeState::Consumed => "consumed",
            ChallengeState::Expired => "expired",
        }
    }

    /// Parses [`ChallengeState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ChallengeState::Pending),
            "consumed" => Some(ChallengeState::Consumed),
            "expired" => Some(ChallengeState::Expired),
            _ => None,
        }
    }
}

/// One challenge we sent in a 401 (TS 24.229 §5.4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    /// The nonce: base64(RAND ‖ AUTN) for AKA, random for Digest.
    pub nonce: String,
    /// Private identity challenged.
    pub impi: String,
    /// Public identity (key) being registered.
    pub impu: String,
    /// Algorithm offered.
    pub algorithm: DigestAlgorithm,
    /// Realm offered.
    pub realm: String,
    /// qop offered (`auth`).
    pub qop: String,
    /// The vector.
    pub secret: ChallengeSecret,
    /// End of validity (reg-await-auth for AKA, the nonce lifetime for Digest).
    pub expires_at: SystemTime,
    /// When a consumed or expired challenge is forgotten.
    pub purge_at: SystemTime,
    /// State.
    pub state: ChallengeState,
    /// Highest nc accepted (RFC 2617 §3.2.2: nc must increase).
    pub last_nc: u32,
}

/// The outcome of checking an Authorization against a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Correct and fresh: the UE is authenticated.
    Authenticated,
    /// Correct `auts` answer (RFC 3310 §3.4): resynchronise with RAND ‖ AUTS.
    Resynchronise(ResynchronisationInfo),
    /// Correct but expired, already used or replayed: challenge again with stale=TRUE.
    Stale,
    /// Wrong response (RES ≠ XRES or wrong password): 403 (TS 24.229 §5.4.1.2.2).
    WrongResponse,
    /// The answer cannot be checked against this challenge.
    Unusable(DigestError),
}

impl PendingChallenge {
    /// A challenge from a SIP-Auth-Data-Item of an MAA (TS 29.229 §6.1.8): AKA challenges
    /// live for reg-await-auth and use our realm; Digest ones live for the nonce lifetime and
    /// use the HSS's Digest-Realm.
    pub fn from_cx_item<R: RngCore + ?Sized>(
        item: &SipAuthDataItem,
        impi: &str,
        impu: &str,
        config: &RegistrarConfig,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Self, RegisterError> {
        let (default_realm, aka_lifetime, digest_lifetime) = (
            config.realm.as_str(),
            config.reg_await_auth,
            config.digest_nonce_lifetime,
        );
        let hss = |what: &str| RegisterError::Hss(format!("MAA: {what}"));
        let scheme = item
            .sip_authentication_scheme
            .as_deref()
            .ok_or_else(|| hss("SIP-Auth-Data-Item without SIP-Authentication-Scheme"))?;
        let aka = |algorithm: DigestAlgorithm| -> Result<Self, RegisterError> {
            let sip_authenticate = item
                .sip_authenticate
                .as_ref()
                .ok_or_else(|| hss("no SIP-Authenticate"))?
                .to_vec();
            let xres = item
                .sip_authorization
                .as_ref()
                .ok_or_else(|| hss("no SIP-Authorization (XRES)"))?
                .to_vec();
            let key = |k: &Option<bytes::Bytes>, what: &str| -> Result<[u8; 16], RegisterError> {
                k.as_deref()
                    .and_then(|k| <[u8; 16]>::try_from(k).ok())
                    .ok_or_else(|| hss(what))
            };
            let ck = key(
                &item.confidentiality_key,
                "Confidentiality-Key missing or not 16 octets",
            )?;
            let ik = key(
                &item.integrity_key,
                "Integrity-Key missing or not 16 octets",
            )?;
            let challenge = AkaChallenge::from_cx(algorithm, &sip_authenticate, &xres, ck, ik)
                .map_err(|e| hss(&e.to_string()))?;
            let expires_at = now + aka_lifetime;
            Ok(PendingChallenge {
                nonce: challenge.nonce().to_owned(),
                impi: impi.to_owned(),
                impu: impu.to_owned(),
                algorithm,
                realm: default_realm.to_owned(),
                qop: "auth".to_owned(),
                secret: ChallengeSecret::Aka {
                    sip_authenticate,
                    xres,
                    ck,
                    ik,
                },
                expires_at,
                purge_at: expires_at + aka_lifetime,
                state: ChallengeState::Pending,
                last_nc: 0,
            })
        };
        if scheme.eq_ignore_ascii_case(auth_scheme::DIGEST_AKAV1_MD5) {
            aka(DigestAlgorithm::AkaV1Md5)
        } else if scheme.eq_ignore_ascii_case(auth_scheme::DIGEST_AKAV2_MD5) {
            aka(DigestAlgorithm::AkaV2Md5)
        } else if scheme.eq_ignore_ascii_case(auth_scheme::SIP_DIGEST)
            || scheme.eq_ignore_ascii_case("Digest")
        {
            let d = item
                .sip_digest_authenticate
                .as_ref()
                .ok_or_else(|| hss("SIP Digest item without SIP-Digest-Authenticate"))?;
            let ha1 = HexDigest::from_hex(&d.digest_ha1).map_err(|_| hss("bad Digest-HA1"))?;
            let algorithm = match d.digest_algorithm.as_deref() {
                None => DigestAlgorithm::Md5,
                Some(a) => match DigestAlgorithm::parse(a) {
                    Ok(a @ (DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess)) => a,
                    _ => return Err(hss("unsupported Digest-Algorithm")),
                },
            };
            let mut raw = [0u8; 24];
            rng.fill_bytes(&mut raw);
            let expires_at = now + digest_lifetime;
            Ok(PendingChallenge {
                nonce: STANDARD.encode(raw),
                impi: impi.to_owned(),
                impu: impu.to_owned(),
                algorithm,
                realm: if d.digest_realm.is_empty() {
                    default_realm.to_owned()
                } else {
                    d.digest_realm.clone()
                },
                // Digest-QoP may list several; we offer auth only (auth-int needs the body
                // digest, which REGISTER rarely has and the HSS rarely asks for).
                qop: "auth".to_owned(),
                secret: ChallengeSecret::Digest {
                    ha1: ha1.as_str().to_owned(),
                },
                expires_at,
                purge_at: expires_at + digest_lifetime,
                state: ChallengeState::Pending,
                last_nc: 0,
            })
        } else {
            Err(RegisterError::Forbidden(format!(
                "authentication scheme {scheme:?} not supported"
            )))
        }
    }

    /// The WWW-Authenticate value of the 401 (TS 24.229 §5.4.1.2.1: realm, nonce, algorithm,
    /// qop, and for AKA `ck`/`ik` in hex for the P-CSCF, which removes them).
    pub fn www_authenticate(&self, stale: bool) -> String {
        let mut p = AuthParams::new("Digest");
        p.set("realm", &self.realm, true);
        p.set("nonce", &self.nonce, true);
        p.set("algorithm", self.algorithm.as_str(), false);
        p.set("qop", &self.qop, true);
        if let ChallengeSecret::Aka { ck, ik, .. } = &self.secret {
            p.set("ck", &hex(ck), true);
            p.set("ik", &hex(ik), true);
        }
        if stale {
            p.set("stale", "TRUE", false);
        }
        p.to_string()
    }

    /// CK and IK, for AKA challenges.
    pub fn keys(&self) -> Option<(&Ck, &Ik)> {
        match &self.secret {
            ChallengeSecret::Aka { ck, ik, .. } => Some((ck, ik)),
            ChallengeSecret::Digest { .. } => None,
        }
    }

    /// Checks `creds` (whose nonce is ours) for `method`/`body` at `now`, and records a
    /// successful use (consumes an AKA vector, advances nc).
    pub fn check(
        &mut self,
        creds: &DigestCredentials,
        method: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Verdict {
        // A missing algorithm directive means MD5 (RFC 2617), but some UEs omit it in AKA
        // answers: the algorithm of our own challenge is the only sensible reading then.
        let algorithm = match creds.algorithm {
            None => self.algorithm,
            Some(_) => match creds.algorithm() {
                Ok(a) => a,
                Err(e) => return Verdict::Unusable(e),
            },
        };
        if algorithm != self.algorithm {
            return Verdict::Unusable(DigestError::WrongAlgorithm(algorithm.as_str()));
        }
        let params = match creds.digest_params(algorithm, method, body) {
            Ok(p) => p,
            Err(e) => return Verdict::Unusable(e),
        };
        let outcome = match &self.secret {
            ChallengeSecret::Aka {
                sip_authenticate,
                xres,
                ck,
                ik,
            } => {
                let challenge =
                    match AkaChallenge::from_cx(algorithm, sip_authenticate, xres, *ck, *ik) {
                        Ok(c) => c,
                        Err(e) => return Verdict::Unusable(e),
                    };
                match &creds.auts {
                    Some(auts) => challenge
                        .verify_resynchronisation(&params, &creds.response, auts)
                        .map(Some),
                    None => challenge.verify(&params, &creds.response).map(|()| None),
                }
            }
            ChallengeSecret::Digest { ha1 } => HexDigest::from_hex(ha1)
                .and_then(|h| params.session_ha1(h))
                .and_then(|h| params.verify_with_ha1(&h, &creds.response))
                .map(|()| None),
        };
        let resync = match outcome {
            Ok(r) => r,
            Err(DigestError::ResponseMismatch) => return Verdict::WrongResponse,
            Err(e) => return Verdict::Unusable(e),
        };
        if self.state != ChallengeState::Pending || now >= self.expires_at {
            return Verdict::Stale;
        }
        if let Some(info) = resync {
            // The vector is dead: the UE rejected its SQN.
            self.consume(now);
            return Verdict::Resynchronise(info);
        }
        if let Some(nc) = &creds.nc {
            match u32::from_str_radix(nc, 16) {
                Ok(n) if n > self.last_nc => self.last_nc = n,
                Ok(_) => return Verdict::Stale,
                Err(_) => return Verdict::Unusable(DigestError::MalformedParameter("nc")),
            }
        }
        let reusable = matches!(self.secret, ChallengeSecret::Digest { .. }) && creds.qop.is_some();
        if !reusable {
            // TS 33.102 §6.3.1: an AKA vector authenticates once; a Digest nonce without
            // qop has no nc to detect replays, so it is single-use too.
            self.consume(now);
        }
        Verdict::Authenticated
    }

    /// Marks the challenge used; it stays known until its purge time.
    pub fn consume(&mut self, now: SystemTime) {
        self.state = ChallengeState::Consumed;
        self.purge_at = self.purge_at.max(now);
    }

    /// The next instant this challenge needs attention (expiry while pending, purge after).
    pub fn deadline(&self) -> SystemTime {
        match self.state {
            ChallengeState::Pending => self.expires_at,
            ChallengeState::Consumed | ChallengeState::Expired => self.purge_at,
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inverse of [`hex`].
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn credentials_from_request() {
        let raw = "REGISTER sip:ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@ims.example>;tag=1\r\nTo: <sip:a@ims.example>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nAuthorization: Digest username=\"a@ims.example\", realm=\"ims.example\", nonce=\"\", uri=\"sip:ims.example\", response=\"\", integrity-protected=\"ip-assoc-yes\"\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(raw.as_bytes()).unwrap();
        let c = DigestCredentials::from_request(&m).unwrap().unwrap();
        assert_eq!(c.username, "a@ims.example");
        assert!(c.nonce.is_empty());
        assert!(c.integrity_protected());
        assert_eq!(c.algorithm(), Ok(DigestAlgorithm::Md5));
        assert_eq!(
            auth_scheme_for(DigestAlgorithm::AkaV2Md5),
            "Digest-AKAv2-MD5"
        );
    }
}
