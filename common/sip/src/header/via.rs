//! The Via header (RFC 3261 §20.42, §25.1 `via-parm`; RFC 3581 `rport`).

use std::fmt;

use crate::error::HeaderError;
use crate::scan::{Cursor, Params};
use crate::uri::{parse_port, Host, HostRef};

/// The magic cookie that starts an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

/// One `via-parm`: `sent-protocol LWS sent-by *( SEMI via-params )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `protocol-name`, normally `SIP`.
    pub protocol_name: String,
    /// `protocol-version`, normally `2.0`.
    pub protocol_version: String,
    /// The transport token as received (`UDP`, `TCP`, `TLS`, `SCTP`, `WS` or an extension).
    pub transport: String,
    /// sent-by host.
    pub host: Host,
    /// sent-by port, if given.
    pub port: Option<u16>,
    /// `via-params` in order (branch, received, rport, maddr, ttl and extensions).
    pub params: Params,
}

impl Via {
    /// A Via for `transport` and sent-by, with a `branch`.
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Via {
        let mut params = Params::default();
        params.set("branch", Some(branch));
        Via {
            protocol_name: "SIP".into(),
            protocol_version: "2.0".into(),
            transport: transport.into(),
            host,
            port,
            params,
        }
    }

    /// Parses one Via value (one element of a comma-separated Via line).
    pub fn parse(s: &str) -> Result<Via, HeaderError> {
        let (parts, params) = scan(s, Params::parse_semi)?;
        Ok(Via {
            protocol_name: parts.protocol_name.to_owned(),
            protocol_version: parts.protocol_version.to_owned(),
            transport: parts.transport.to_owned(),
            host: parts.host.to_owned(),
            port: parts.port,
            params,
        })
    }

    /// The syntax check of [`Via::parse`] without building the value (no allocation): what a
    /// message parse does for every Via.
    pub(crate) fn check(s: &str) -> Result<(), HeaderError> {
        scan(s, Params::check_semi).map(|_| ())
    }

    /// The branch parameter (transaction id, §17.2.3).
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }
    /// Whether the branch carries the RFC 3261 magic cookie *and* something after it.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .and_then(|b| b.strip_prefix(BRANCH_MAGIC_COOKIE))
            .is_some_and(|rest| !rest.is_empty())
    }
    /// The `received` parameter (§18.2.1).
    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }
    /// `rport` (RFC 3581): `None` absent, `Some(None)` requested, `Some(Some(port))` filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.get("maddr").flatten()
    }
    /// Sets `received` (a server does this when the source address differs, §18.2.1).
    pub fn set_received(&mut self, addr: &str) {
        self.params.set("received", Some(addr));
    }
    /// Fills in `rport` with the source port (RFC 3581 §4).
    pub fn set_rport(&mut self, port: u16) {
        self.params.set("rport", Some(&port.to_string()));
    }
}

/// A `via-parm` up to its parameters, as slices of the input.
struct ViaParts<'a> {
    protocol_name: &'a str,
    protocol_version: &'a str,
    transport: &'a str,
    host: HostRef<'a>,
    port: Option<u16>,
}

/// The grammar of [`Via::parse`], generic over what is made of the parameters, so that the
/// typed parse and the allocation-free check cannot diverge.
fn scan<'a, P>(
    s: &'a str,
    params: impl FnOnce(&mut Cursor<'a>) -> Result<P, HeaderError>,
) -> Result<(ViaParts<'a>, P), HeaderError> {
    let mut c = Cursor::new(s);
    c.skip_ws();
    if c.is_empty() {
        return Err(HeaderError::Empty);
    }
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS
    let name = c.token().map_err(|_| HeaderError::BadProtocol)?;
    if !c.eat_sep(b'/') {
        return Err(HeaderError::BadProtocol);
    }
    let version = c.token().map_err(|_| HeaderError::BadProtocol)?;
    if !c.eat_sep(b'/') {
        return Err(HeaderError::BadProtocol);
    }
    let transport = c.token().map_err(|_| HeaderError::BadProtocol)?;
    let before = c.rest().len();
    c.skip_ws();
    if c.rest().len() == before {
        return Err(HeaderError::BadProtocol);
    }
    // sent-by = host [ COLON port ]
    let start = c.pos();
    if c.peek() == Some(b'[') {
        c.take_until(b']');
        if !c.eat(b']') {
            return Err(HeaderError::BadUri(crate::error::UriError::BadHost));
        }
    } else {
        c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    }
    let host_text = s.get(start..c.pos()).unwrap_or("");
    let host = HostRef::scan(host_text)?;
    let port = if c.eat_sep(b':') {
        let p = c.take_while(|b| b.is_ascii_digit());
        Some(parse_port(p)?)
    } else {
        None
    };
    let params = params(&mut c)?;
    c.finish()?;
    Ok((
        ViaParts {
            protocol_name: name,
            protocol_version: version,
            transport,
            host,
            port,
        },
        params,
    ))
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol_name, self.protocol_version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_via() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::Ipv4("192.0.2.1".parse().unwrap()));
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK77"));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77;rport"
        );
    }

    #[test]
    fn whitespace_everywhere_and_ipv6() {
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        let v6 =
            Via::parse("SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;received=[2001:db8::1]")
                .unwrap();
        assert_eq!(v6.port, Some(5061));
        assert_eq!(v6.received(), Some("[2001:db8::1]"));
        assert_eq!(
            v6.to_string(),
            "SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;received=[2001:db8::1]"
        );
    }

    #[test]
    fn bare_cookie_is_not_an_rfc3261_branch() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").unwrap();
        assert!(!v.has_rfc3261_branch());
    }

    #[test]
    fn malformed() {
        assert_eq!(
            Via::parse("SIP/2.0/UDP 192.0.2.15;;"),
            Err(HeaderError::BadParam)
        );
        assert_eq!(Via::parse(""), Err(HeaderError::Empty));
        assert_eq!(Via::parse("SIP/2.0 host"), Err(HeaderError::BadProtocol));
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
        assert_eq!(
            Via::parse("SIP/2.0/UDP host junk"),
            Err(HeaderError::Trailing)
        );
    }
}
