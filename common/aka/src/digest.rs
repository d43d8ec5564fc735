//! HTTP Digest computations with MD5 (RFC 2617 §3.2.2, §3.2.3; RFC 7616 §3.4), shared by plain
//! SIP Digest and Digest AKA (where only the password differs, see [`crate::digest_aka`]).
//!
//! ```text
//! A1       = username ":" realm ":" password                (algorithm MD5 and AKA*-MD5)
//! HA1      = MD5(A1), or MD5(HA1 ":" nonce ":" cnonce) for MD5-sess
//! A2       = method ":" uri                                 (qop absent or auth)
//!          | method ":" uri ":" MD5(body)                    (qop = auth-int)
//! response = MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" MD5(A2))   (with qop)
//!          | MD5(HA1 ":" nonce ":" MD5(A2))                             (RFC 2069 form, no qop)
//! rspauth  = the same with A2 = ":" uri [":" MD5(response body)]        (RFC 2617 §3.2.3)
//! ```
//!
//! Inputs are strings and bytes as they appear in the SIP headers (unquoted); this module knows
//! nothing about SIP messages.

use md5::{Digest, Md5};

use crate::error::DigestError;

/// The `algorithm` directive (RFC 7616 §3.3, RFC 3310 §3.1, RFC 4169 §3).
///
/// A closed enum on purpose: an algorithm this crate cannot compute cannot be answered, so
/// [`DigestAlgorithm::parse`] rejects unknown tokens with [`DigestError::UnsupportedAlgorithm`]
/// (carrying the token) instead of passing them through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5` (the default when the directive is absent, RFC 2617 §3.2.1).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `AKAv1-MD5` (RFC 3310 §3.1).
    AkaV1Md5,
    /// `AKAv2-MD5` (RFC 4169 §3).
    AkaV2Md5,
}

impl DigestAlgorithm {
    /// Parses the token, case-insensitively (RFC 7616 §3.3 tokens are case-insensitive).
    pub fn parse(token: &str) -> Result<Self, DigestError> {
        let t = token.trim();
        [Self::Md5, Self::Md5Sess, Self::AkaV1Md5, Self::AkaV2Md5]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(t.to_owned()))
    }

    /// The token as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::AkaV1Md5 => "AKAv1-MD5",
            Self::AkaV2Md5 => "AKAv2-MD5",
        }
    }

    /// Whether the password comes from AKA (RES) rather than a stored secret.
    pub fn is_aka(self) -> bool {
        matches!(self, Self::AkaV1Md5 | Self::AkaV2Md5)
    }
}

/// The `qop` value chosen by the client (RFC 2617 §3.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`.
    Auth,
    /// `auth-int`: the body is protected too.
    AuthInt,
}

impl Qop {
    /// Parses one qop token (case-insensitive).
    pub fn parse(token: &str) -> Result<Self, DigestError> {
        let t = token.trim();
        if t.eq_ignore_ascii_case("auth") {
            Ok(Qop::Auth)
        } else if t.eq_ignore_ascii_case("auth-int") {
            Ok(Qop::AuthInt)
        } else {
            Err(DigestError::UnsupportedQop(t.to_owned()))
        }
    }

    /// The token as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// An MD5 digest as 32 lowercase hex characters (RFC 2617 §3.2.1 "request-digest").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HexDigest(String);

impl HexDigest {
    /// MD5 over the concatenation of `parts`.
    pub fn md5(parts: &[&[u8]]) -> Self {
        let mut h = Md5::new();
        for p in parts {
            h.update(p);
        }
        HexDigest(to_hex(&h.finalize()))
    }

    /// Wraps 32 hex characters received e.g. from an HSS as Digest-HA1 (normalised to lowercase).
    pub fn from_hex(s: &str) -> Result<Self, DigestError> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::MalformedParameter("HA1"));
        }
        Ok(HexDigest(s.to_ascii_lowercase()))
    }

    /// The 32 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares with a received hex string in constant time, case-insensitively.
    pub fn matches(&self, received: &str) -> bool {
        received.len() == self.0.len()
            && crate::ct_eq(self.0.as_bytes(), received.to_ascii_lowercase().as_bytes())
    }
}

impl std::fmt::Display for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for HexDigest {
    // An HA1 is password-equivalent: do not log it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HexDigest(..)")
    }
}

/// Lowercase hex encoding.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// HA1 = MD5(username ":" realm ":" password) (RFC 2617 §3.2.2.2). The password is bytes
/// because AKAv1 uses the raw RES octets (RFC 3310 §3.3).
pub fn ha1(username: &str, realm: &str, password: &[u8]) -> HexDigest {
    HexDigest::md5(&[username.as_bytes(), b":", realm.as_bytes(), b":", password])
}

/// HA1 for MD5-sess: MD5(MD5(A1) ":" nonce ":" cnonce) (RFC 2617 §3.2.2.2).
pub fn ha1_sess(ha1: &HexDigest, nonce: &str, cnonce: &str) -> HexDigest {
    HexDigest::md5(&[
        ha1.as_str().as_bytes(),
        b":",
        nonce.as_bytes(),
        b":",
        cnonce.as_bytes(),
    ])
}

/// HA2 = MD5(A2) (RFC 2617 §3.2.2.3); `body` is used only for auth-int.
pub fn ha2(method: &str, uri: &str, qop: Option<Qop>, body: &[u8]) -> HexDigest {
    match qop {
        Some(Qop::AuthInt) => {
            let hbody = HexDigest::md5(&[body]);
            HexDigest::md5(&[
                method.as_bytes(),
                b":",
                uri.as_bytes(),
                b":",
                hbody.as_str().as_bytes(),
            ])
        }
        _ => HexDigest::md5(&[method.as_bytes(), b":", uri.as_bytes()]),
    }
}

/// The qop-related directives of one request: qop, nc (8 hex digits) and cnonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QopParams<'a> {
    /// The chosen qop.
    pub qop: Qop,
    /// nonce-count, 8 hex digits as sent (RFC 2617 §3.2.2).
    pub nc: &'a str,
    /// Client nonce.
    pub cnonce: &'a str,
}

impl QopParams<'_> {
    /// Checks nc is 8 hex digits and cnonce is present (RFC 2617 §3.2.2: both are required with
    /// qop).
    pub fn validate(&self) -> Result<(), DigestError> {
        if self.nc.len() != 8 || !self.nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::MalformedParameter("nc"));
        }
        if self.cnonce.is_empty() {
            return Err(DigestError::MalformedParameter("cnonce"));
        }
        Ok(())
    }
}

/// request-digest from HA1 and HA2 (RFC 2617 §3.2.2.1).
pub fn response(
    ha1: &HexDigest,
    nonce: &str,
    qop: Option<&QopParams<'_>>,
    ha2: &HexDigest,
) -> HexDigest {
    match qop {
        Some(q) => HexDigest::md5(&[
            ha1.as_str().as_bytes(),
            b":",
            nonce.as_bytes(),
            b":",
            q.nc.as_bytes(),
            b":",
            q.cnonce.as_bytes(),
            b":",
            q.qop.as_str().as_bytes(),
            b":",
            ha2.as_str().as_bytes(),
        ]),
        None => HexDigest::md5(&[
            ha1.as_str().as_bytes(),
            b":",
            nonce.as_bytes(),
            b":",
            ha2.as_str().as_bytes(),
        ]),
    }
}

/// Everything an Authorization header contributes to the digest, plus the request's method and
/// body. Strings are the unquoted directive values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestParams<'a> {
    /// `username`.
    pub username: &'a str,
    /// `realm`.
    pub realm: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// `uri` (digest-uri).
    pub uri: &'a str,
    /// Request method (e.g. `REGISTER`).
    pub method: &'a str,
    /// `algorithm`.
    pub algorithm: DigestAlgorithm,
    /// qop, nc and cnonce when qop is used.
    pub qop: Option<QopParams<'a>>,
    /// Request body, used only with qop=auth-int.
    pub body: &'a [u8],
}

impl DigestParams<'_> {
    /// HA1 for `password`, applying MD5-sess when selected.
    pub fn ha1(&self, password: &[u8]) -> Result<HexDigest, DigestError> {
        self.session_ha1(ha1(self.username, self.realm, password))
    }

    /// Applies MD5-sess to a stored HA1 (identity for the other algorithms).
    pub fn session_ha1(&self, base: HexDigest) -> Result<HexDigest, DigestError> {
        match (self.algorithm, &self.qop) {
            (DigestAlgorithm::Md5Sess, Some(q)) => Ok(ha1_sess(&base, self.nonce, q.cnonce)),
            // RFC 2617 §3.2.2.2: MD5-sess needs cnonce, hence qop.
            (DigestAlgorithm::Md5Sess, None) => Err(DigestError::MalformedParameter("cnonce")),
            _ => Ok(base),
        }
    }

    /// The request-digest for `password`.
    pub fn response(&self, password: &[u8]) -> Result<HexDigest, DigestError> {
        let ha1 = self.ha1(password)?;
        self.response_with_ha1(&ha1)
    }

    /// The request-digest from an HA1 already including MD5-sess processing (see
    /// [`DigestParams::session_ha1`]).
    pub fn response_with_ha1(&self, ha1: &HexDigest) -> Result<HexDigest, DigestError> {
        if let Some(q) = &self.qop {
            q.validate()?;
        }
        let qop = self.qop.as_ref().map(|q| q.qop);
        let ha2 = ha2(self.method, self.uri, qop, self.body);
        Ok(response(ha1, self.nonce, self.qop.as_ref(), &ha2))
    }

    /// `rspauth` for the Authentication-Info header (RFC 2617 §3.2.3): as the response but with
    /// an empty method, and for auth-int the digest of the *response* body.
    pub fn rspauth_with_ha1(
        &self,
        ha1: &HexDigest,
        response_body: &[u8],
    ) -> Result<HexDigest, DigestError> {
        DigestParams {
            method: "",
            body: response_body,
            ..*self
        }
        .response_with_ha1(ha1)
    }

    /// Verifies a received `response` directive against `ha1`.
    pub fn verify_with_ha1(&self, ha1: &HexDigest, received: &str) -> Result<(), DigestError> {
        if self.response_with_ha1(ha1)?.matches(received) {
            Ok(())
        } else {
            Err(DigestError::ResponseMismatch)
        }
    }
}
