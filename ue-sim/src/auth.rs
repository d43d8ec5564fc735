//! The UE side of HTTP Digest in IMS registration: the empty Authorization of the initial
//! REGISTER (TS 24.229 §5.1.1.2.1), answers to AKAv1/AKAv2 challenges (RFC 3310, RFC 4169,
//! TS 24.229 §5.1.1.5) and to MD5 challenges (RFC 2617, TS 24.229 §5.1.1.2.3).

use ims_aka::{
    answer_challenge, AkaError, DigestAlgorithm, DigestError, DigestParams, Milenage, Qop,
    QopParams, Usim,
};
use ims_sip::header::{AuthParams, Challenge};

use crate::config::{Credentials, OperatorKey};

/// What the UE authenticates with.
#[derive(Clone)]
enum Secret {
    /// The USIM (K, OPc, SEQ_MS array).
    Usim(Box<Usim>),
    /// A Digest password.
    Password(Vec<u8>),
}

/// The challenge last answered, kept so refreshes and de-registration can carry an
/// Authorization with the same nonce and the next nonce-count (RFC 2617 §3.2.2).
#[derive(Clone)]
struct LastChallenge {
    realm: String,
    nonce: String,
    algorithm: DigestAlgorithm,
    opaque: Option<String>,
    qop: Option<Qop>,
    password: Vec<u8>,
    nc: u32,
}

/// How the UE answers a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeAnswer {
    /// A normal answer: the Authorization header value.
    Authorized(String),
    /// SQN out of range: Authorization with `auts` and a response over an empty password
    /// (RFC 3310 §3.4).
    SynchronisationFailure(String),
    /// MAC failure: Authorization with an empty `response` and no `auts` (TS 24.229
    /// §5.1.1.5.3), telling the S-CSCF the challenge was deemed invalid.
    NetworkAuthenticationFailure(String),
}

/// Why a challenge cannot be answered at all (the registration fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No Digest challenge we can compute (RFC 7616 §3.3: ignore unknown algorithms).
    #[error("no usable Digest challenge")]
    NoUsableChallenge,
    /// AKA challenge for an MD5 subscriber or the reverse.
    #[error("challenge algorithm {0} does not match the credentials")]
    CredentialsMismatch(&'static str),
    /// The digest computation failed (malformed nonce…).
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// The Digest client of one UE.
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    secret: Secret,
    last: Option<LastChallenge>,
}

impl std::fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn quoted(p: &mut AuthParams, name: &str, value: &str) {
    p.set(name, value, true);
}

impl DigestClient {
    /// A client for IMPI `username` with `credentials`.
    pub fn new(username: &str, credentials: &Credentials) -> Result<DigestClient, AkaError> {
        let secret = match credentials {
            Credentials::Aka {
                k,
                operator_key,
                sqn_scheme,
                ..
            } => {
                let milenage = match operator_key {
                    OperatorKey::Op(op) => Milenage::with_op(k, op),
                    OperatorKey::Opc(opc) => Milenage::with_opc(k, opc),
                };
                Secret::Usim(Box::new(Usim::new(milenage, *sqn_scheme)?))
            }
            Credentials::Md5 { password } => Secret::Password(password.as_bytes().to_vec()),
        };
        Ok(DigestClient {
            username: username.to_owned(),
            secret,
            last: None,
        })
    }

    /// Replaces the USIM (e.g. one restored with a saved SEQ_MS array); no effect for MD5.
    pub fn set_usim(&mut self, usim: Usim) {
        if let Secret::Usim(u) = &mut self.secret {
            **u = usim;
        }
    }

    /// The USIM, for inspection.
    pub fn usim(&self) -> Option<&Usim> {
        match &self.secret {
            Secret::Usim(u) => Some(u),
            Secret::Password(_) => None,
        }
    }

    /// The Authorization of a REGISTER before any challenge, or after a failed one (TS 24.229
    /// §5.1.1.2.1): username = IMPI, realm = home domain, uri, empty nonce and response.
    pub fn initial(&self, realm: &str, uri: &str) -> String {
        let mut p = AuthParams::new("Digest");
        quoted(&mut p, "username", &self.username);
        quoted(&mut p, "realm", realm);
        quoted(&mut p, "uri", uri);
        quoted(&mut p, "nonce", "");
        quoted(&mut p, "response", "");
        p.to_string()
    }

    /// The Authorization of a refresh or de-registration: the last challenge again with the
    /// next nonce-count (the S-CSCF may accept it or challenge anew, TS 24.229 §5.4.1.2.1);
    /// the initial form when nothing was answered yet.
    pub fn refresh(
        &mut self,
        realm: &str,
        uri: &str,
        method: &str,
        cnonce: &str,
    ) -> Result<String, AuthError> {
        let Some(last) = self.last.as_mut() else {
            return Ok(self.initial(realm, uri));
        };
        last.nc = last.nc.saturating_add(1);
        let last = last.clone();
        self.build(&last, uri, method, cnonce, None)
    }

    /// Forgets the last challenge (after a failure, the next REGISTER starts afresh).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Picks the first Digest challenge with an algorithm we can compute among the
    /// WWW-Authenticate values of a 401.
    pub fn select<'a>(
        challenges: impl IntoIterator<Item = &'a str>,
    ) -> Result<(Challenge, DigestAlgorithm), AuthError> {
        challenges
            .into_iter()
            .filter_map(|c| Challenge::parse(c).ok())
            .filter(|c| c.0.is_digest())
            .find_map(|c| {
                let alg = DigestAlgorithm::parse(c.algorithm().unwrap_or("MD5")).ok()?;
                Some((c, alg))
            })
            .ok_or(AuthError::NoUsableChallenge)
    }

    /// Answers `challenge` for a request `method` to digest-uri `uri` (TS 24.229 §5.1.1.5.1).
    pub fn answer(
        &mut self,
        challenge: &Challenge,
        algorithm: DigestAlgorithm,
        uri: &str,
        method: &str,
        cnonce: &str,
    ) -> Result<ChallengeAnswer, AuthError> {
        let nonce = challenge.nonce().unwrap_or("").to_owned();
        let realm = challenge.realm().unwrap_or("").to_owned();
        // RFC 2617 §3.2.1: qop is a list; we only do "auth" (auth-int would digest the body,
        // which REGISTER does not have, but not every server accepts it).
        let qop = challenge.qop().and_then(|list| {
            list.split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
                .then_some(Qop::Auth)
        });
        let mut last = LastChallenge {
            realm,
            nonce,
            algorithm,
            opaque: challenge.opaque().map(str::to_owned),
            qop,
            password: Vec::new(),
            nc: 1,
        };
        match (&mut self.secret, algorithm.is_aka()) {
            (Secret::Usim(usim), true) => match answer_challenge(usim, algorithm, &last.nonce) {
                Ok(answer) => {
                    last.password = answer.password;
                    let header = self.build(&last, uri, method, cnonce, answer.auts.as_deref())?;
                    if answer.auts.is_some() {
                        // The next challenge comes with a fresh vector; nothing to reuse.
                        self.last = None;
                        Ok(ChallengeAnswer::SynchronisationFailure(header))
                    } else {
                        self.last = Some(last);
                        Ok(ChallengeAnswer::Authorized(header))
                    }
                }
                Err(DigestError::Aka(AkaError::MacFailure)) => {
                    self.last = None;
                    let mut p = AuthParams::new("Digest");
                    quoted(&mut p, "username", &self.username);
                    quoted(&mut p, "realm", &last.realm);
                    quoted(&mut p, "uri", uri);
                    quoted(&mut p, "nonce", &last.nonce);
                    quoted(&mut p, "response", "");
                    p.set("algorithm", algorithm.as_str(), false);
                    Ok(ChallengeAnswer::NetworkAuthenticationFailure(p.to_string()))
                }
                Err(e) => Err(e.into()),
            },
            (Secret::Password(pw), false) => {
                last.password = pw.clone();
                let header = self.build(&last, uri, method, cnonce, None)?;
                self.last = Some(last);
                Ok(ChallengeAnswer::Authorized(header))
            }
            _ => Err(AuthError::CredentialsMismatch(algorithm.as_str())),
        }
    }

    fn build(
        &self,
        last: &LastChallenge,
        uri: &str,
        method: &str,
        cnonce: &str,
        auts: Option<&str>,
    ) -> Result<String, AuthError> {
        let nc = format!("{:08x}", last.nc);
        let params = DigestParams {
            username: &self.username,
            realm: &last.realm,
            nonce: &last.nonce,
            uri,
            method,
            algorithm: last.algorithm,
            qop: last.qop.map(|qop| QopParams {
                qop,
                nc: &nc,
                cnonce,
            }),
            body: b"",
        };
        let response = params.response(&last.password)?;
        let mut p = AuthParams::new("Digest");
        quoted(&mut p, "username", &self.username);
        quoted(&mut p, "realm", &last.realm);
        quoted(&mut p, "nonce", &last.nonce);
        quoted(&mut p, "uri", uri);
        quoted(&mut p, "response", response.as_str());
        p.set("algorithm", last.algorithm.as_str(), false);
        if let Some(qop) = last.qop {
            p.set("qop", qop.as_str(), false);
            p.set("nc", &nc, false);
            quoted(&mut p, "cnonce", cnonce);
        }
        if let Some(opaque) = &last.opaque {
            quoted(&mut p, "opaque", opaque);
        }
        if let Some(auts) = auts {
            quoted(&mut p, "auts", auts);
        }
        Ok(p.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_sip::header::Credentials as Authorization;

    fn md5_client() -> DigestClient {
        DigestClient::new(
            "alice@ims.example",
            &Credentials::Md5 {
                password: "pw".into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn initial_authorization_has_empty_nonce_and_response() {
        let a =
            Authorization::parse(&md5_client().initial("ims.example", "sip:ims.example")).unwrap();
        assert_eq!(a.username(), Some("alice@ims.example"));
        assert_eq!(a.realm(), Some("ims.example"));
        assert_eq!(a.uri(), Some("sip:ims.example"));
        assert_eq!(a.nonce(), Some(""));
        assert_eq!(a.response(), Some(""));
    }

    #[test]
    fn select_skips_unknown_schemes_and_algorithms() {
        let (c, alg) = DigestClient::select([
            "Bearer realm=\"x\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"n2\", algorithm=AKAv2-MD5",
        ])
        .unwrap();
        assert_eq!(alg, DigestAlgorithm::AkaV2Md5);
        assert_eq!(c.nonce(), Some("n2"));
        assert_eq!(
            DigestClient::select(["Basic realm=\"x\""]).map(|(_, a)| a),
            Err(AuthError::NoUsableChallenge)
        );
    }

    #[test]
    fn md5_answer_verifies_and_refresh_counts_nonces() {
        let mut client = md5_client();
        let challenge =
            Challenge::parse("Digest realm=\"ims.example\", nonce=\"abc\", qop=\"auth\"").unwrap();
        let ChallengeAnswer::Authorized(header) = client
            .answer(
                &challenge,
                DigestAlgorithm::Md5,
                "sip:ims.example",
                "REGISTER",
                "c1",
            )
            .unwrap()
        else {
            panic!("not authorized");
        };
        let a = Authorization::parse(&header).unwrap();
        let params = DigestParams {
            username: "alice@ims.example",
            realm: "ims.example",
            nonce: "abc",
            uri: "sip:ims.example",
            method: "REGISTER",
            algorithm: DigestAlgorithm::Md5,
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: "00000001",
                cnonce: "c1",
            }),
            body: b"",
        };
        assert!(params
            .response(b"pw")
            .unwrap()
            .matches(a.response().unwrap()));
        let refreshed = Authorization::parse(
            &client
                .refresh("ims.example", "sip:ims.example", "REGISTER", "c2")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(refreshed.nc(), Some("00000002"));
        assert_eq!(refreshed.nonce(), Some("abc"));
        // An AKA challenge cannot be answered with a password.
        assert_eq!(
            client.answer(
                &challenge,
                DigestAlgorithm::AkaV1Md5,
                "sip:x",
                "REGISTER",
                "c"
            ),
            Err(AuthError::CredentialsMismatch("AKAv1-MD5"))
        );
    }
}
