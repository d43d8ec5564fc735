//! Authentication headers (RFC 3261 §20.7, §20.27, §20.28, §20.44, §25.1 `credentials` and
//! `challenge`), with the Digest parameters of RFC 2617, the AKA parameters of RFC 3310
//! (`auts`) and the IMS additions of TS 24.229 §7.2A.1 (`ck`, `ik`, `integrity-protected`).
//!
//! One value holds comma-separated parameters, so these headers must be read with
//! [`Headers::get_all`](crate::Headers::get_all), never split at commas.

use std::fmt;

use crate::error::HeaderError;
use crate::scan::{unquote, Cursor};

/// A scheme followed by `name=value` parameters, values kept raw (quotes included).
///
/// Schemes with a `token68` payload (not used by SIP) are not supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    /// The auth-scheme, e.g. `Digest`.
    pub scheme: String,
    /// Parameters in order, values raw.
    pub params: Vec<(String, String)>,
}

impl AuthParams {
    /// A value with `scheme` and no parameters.
    pub fn new(scheme: &str) -> AuthParams {
        AuthParams {
            scheme: scheme.to_owned(),
            params: Vec::new(),
        }
    }

    /// Parses `auth-scheme LWS auth-param *(COMMA auth-param)`.
    pub fn parse(s: &str) -> Result<AuthParams, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let scheme = c.token().map_err(|_| HeaderError::BadAuth)?;
        let before = c.rest().len();
        c.skip_ws();
        if c.rest().len() == before && !c.is_empty() {
            return Err(HeaderError::BadAuth);
        }
        let mut params = Vec::new();
        while !c.is_empty() {
            let name = c.token().map_err(|_| HeaderError::BadAuth)?;
            if !c.eat_sep(b'=') {
                return Err(HeaderError::BadAuth);
            }
            let value = c.token_or_quoted().map_err(|e| match e {
                HeaderError::UnterminatedQuote => e,
                _ => HeaderError::BadAuth,
            })?;
            params.push((name.to_owned(), value.to_owned()));
            c.skip_ws();
            if c.is_empty() {
                break;
            }
            if !c.eat_sep(b',') {
                return Err(HeaderError::BadAuth);
            }
        }
        Ok(AuthParams {
            scheme: scheme.to_owned(),
            params,
        })
    }

    /// Whether the scheme is Digest (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// A parameter value with quotes removed (backslash escapes are kept).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| unquote(v))
    }

    /// Sets a parameter; `quoted` writes it as a quoted-string.
    pub fn set(&mut self, name: &str, value: &str, quoted: bool) {
        let raw = if quoted {
            format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            value.to_owned()
        };
        match self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = raw,
            None => self.params.push((name.to_owned(), raw)),
        }
    }

    /// Removes a parameter (a P-CSCF strips `ck`/`ik` before forwarding a 401, TS 33.203 §7.1).
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.params.len();
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before != self.params.len()
    }
}

impl fmt::Display for AuthParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, (n, v)) in self.params.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { " " } else { ", " })?;
        }
        Ok(())
    }
}

macro_rules! accessors {
    ($($(#[$doc:meta])* $fn:ident => $param:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(&self) -> Option<&str> {
                self.0.get($param)
            }
        )*
    };
}

/// Credentials: the value of Authorization / Proxy-Authorization (`credentials`, §25.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials(pub AuthParams);

impl Credentials {
    /// Parses a credentials value.
    pub fn parse(s: &str) -> Result<Credentials, HeaderError> {
        AuthParams::parse(s).map(Credentials)
    }

    accessors! {
        /// `username` (for IMS the private user identity).
        username => "username";
        /// `realm`.
        realm => "realm";
        /// `nonce`.
        nonce => "nonce";
        /// `uri` (digest-uri).
        uri => "uri";
        /// `response` (32 hex digits for MD5).
        response => "response";
        /// `algorithm` (`MD5`, `AKAv1-MD5`, `AKAv2-MD5`).
        algorithm => "algorithm";
        /// `cnonce`.
        cnonce => "cnonce";
        /// `nc` (nonce count, 8 hex digits).
        nc => "nc";
        /// `qop` (`auth` or `auth-int`).
        qop => "qop";
        /// `opaque`.
        opaque => "opaque";
        /// `auts`: AKA resynchronisation token (RFC 3310 §3.4).
        auts => "auts";
        /// `integrity-protected` (TS 24.229 §7.2A.1): `yes`, `no`, `tls-yes`, `ip-assoc-yes`...
        integrity_protected => "integrity-protected";
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A challenge: the value of WWW-Authenticate / Proxy-Authenticate (`challenge`, §25.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge(pub AuthParams);

impl Challenge {
    /// Parses a challenge value.
    pub fn parse(s: &str) -> Result<Challenge, HeaderError> {
        AuthParams::parse(s).map(Challenge)
    }

    accessors! {
        /// `realm`.
        realm => "realm";
        /// `nonce` (for AKA: base64 of RAND || AUTN || server data, RFC 3310 §3.2).
        nonce => "nonce";
        /// `algorithm`.
        algorithm => "algorithm";
        /// `qop` options (quoted, comma-separated).
        qop => "qop";
        /// `opaque`.
        opaque => "opaque";
        /// `domain`.
        domain => "domain";
        /// `ck`: cipher key the S-CSCF passes to the P-CSCF (TS 24.229 §7.2A.1, TS 33.203).
        ck => "ck";
        /// `ik`: integrity key the S-CSCF passes to the P-CSCF (TS 24.229 §7.2A.1, TS 33.203).
        ik => "ik";
    }

    /// `stale=true` (RFC 2617 §3.2.1).
    pub fn stale(&self) -> bool {
        self.0
            .get("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The Authorization header (§20.7).
pub type Authorization = Credentials;
/// The Proxy-Authorization header (§20.28).
pub type ProxyAuthorization = Credentials;
/// The WWW-Authenticate header (§20.44).
pub type WwwAuthenticate = Challenge;
/// The Proxy-Authenticate header (§20.27).
pub type ProxyAuthenticate = Challenge;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ims_challenge_with_keys() {
        let c = Challenge::parse(
            "Digest realm=\"ims.example.com\", nonce=\"A34Cm+Fva37UYWpGNB34JP\", algorithm=AKAv1-MD5, qop=\"auth,auth-int\", ck=\"00112233445566778899aabbccddeeff\", ik=\"ffeeddccbbaa99887766554433221100\"",
        )
        .unwrap();
        assert!(c.0.is_digest());
        assert_eq!(c.realm(), Some("ims.example.com"));
        assert_eq!(c.algorithm(), Some("AKAv1-MD5"));
        assert_eq!(c.qop(), Some("auth,auth-int"));
        assert_eq!(c.ck(), Some("00112233445566778899aabbccddeeff"));
        let mut stripped = c.clone();
        assert!(stripped.0.remove("ck") && stripped.0.remove("ik"));
        assert!(!stripped.to_string().contains("ck="));
        assert_eq!(Challenge::parse(&stripped.to_string()).unwrap(), stripped);
    }

    #[test]
    fn credentials_with_auts() {
        let a = Credentials::parse(
            "Digest username=\"user1@ims.example.com\",realm=\"ims.example.com\", nonce=\"abc\", uri=\"sip:ims.example.com\", response=\"\", auts=\"CjkyMzRmMjM0\", nc=00000001, integrity-protected=\"no\"",
        )
        .unwrap();
        assert_eq!(a.username(), Some("user1@ims.example.com"));
        assert_eq!(a.uri(), Some("sip:ims.example.com"));
        assert_eq!(a.response(), Some(""));
        assert_eq!(a.auts(), Some("CjkyMzRmMjM0"));
        assert_eq!(a.nc(), Some("00000001"));
        assert_eq!(a.integrity_protected(), Some("no"));
    }

    #[test]
    fn unknown_scheme_and_errors() {
        let a = Credentials::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!a.0.is_digest());
        assert_eq!(a.0.get("opaque-data"), Some("here"));
        assert_eq!(
            Credentials::parse("Digest realm"),
            Err(HeaderError::BadAuth)
        );
        assert_eq!(
            Credentials::parse("Digest realm=\"x"),
            Err(HeaderError::UnterminatedQuote)
        );
        assert_eq!(
            Credentials::parse("Digest a=b c=d"),
            Err(HeaderError::BadAuth)
        );
    }

    #[test]
    fn build() {
        let mut p = AuthParams::new("Digest");
        p.set("username", "alice", true);
        p.set("algorithm", "MD5", false);
        assert_eq!(p.to_string(), "Digest username=\"alice\", algorithm=MD5");
    }
}
