//! SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966) and any other `absoluteURI`.
//!
//! Components are kept in their escaped (wire) form so that a URI prints back as received;
//! [`pct_decode`] gives the unescaped bytes where a comparison or lookup needs them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::UriError;
use crate::scan::{Param, Params};

/// The URI scheme; compared case-insensitively (RFC 3261 §19.1.4), printed in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:` (§19.1.1).
    Sip,
    /// `sips:` (§19.1.1).
    Sips,
    /// `tel:` (RFC 3966).
    Tel,
    /// Any other scheme, lower-cased; the URI is then opaque.
    Other(String),
}

impl Scheme {
    /// The scheme name in lower case.
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        }
    }
}

/// `host = hostname / IPv4address / IPv6reference` (RFC 3261 §25.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name as received (compare with `eq_ignore_ascii_case`).
    Domain(String),
    /// A dotted IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written as `[...]` on the wire.
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host; IPv6 addresses must be bracketed (`IPv6reference`).
    pub fn parse(s: &str) -> Result<Host, UriError> {
        HostRef::scan(s).map(HostRef::to_owned)
    }
}

/// A [`Host`] that borrows its name from the input: what the syntax checks of a parse
/// produce without allocating (a message parse checks many hosts it never hands out).
#[derive(Debug, Clone, Copy)]
pub(crate) enum HostRef<'a> {
    Domain(&'a str),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl<'a> HostRef<'a> {
    /// The syntax of [`Host::parse`], without the allocation of a domain name.
    pub(crate) fn scan(s: &'a str) -> Result<HostRef<'a>, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(UriError::BadHost)?;
            return parse_ipv6(inner)
                .map(HostRef::Ipv6)
                .ok_or(UriError::BadHost);
        }
        if s.is_empty() {
            return Err(UriError::BadHost);
        }
        // Only a name of digits and dots can be an IPv4address; most hosts are names, which
        // fail this test on their first letter.
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            if let Ok(v4) = s.parse::<Ipv4Addr>() {
                return Ok(HostRef::Ipv4(v4));
            }
        }
        if is_hostname(s) {
            Ok(HostRef::Domain(s))
        } else {
            Err(UriError::BadHost)
        }
    }

    pub(crate) fn to_owned(self) -> Host {
        match self {
            HostRef::Domain(d) => Host::Domain(d.to_owned()),
            HostRef::Ipv4(a) => Host::Ipv4(a),
            HostRef::Ipv6(a) => Host::Ipv6(a),
        }
    }
}

/// `IPv6address` (RFC 3261 §25.1, RFC 4291 §2.2), accepting exactly what
/// `Ipv6Addr::from_str` accepts. The common all-hex form (no embedded IPv4 part) is read here
/// in one pass, which costs a fraction of the general parser; a `.` defers to the standard
/// library.
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    let b = s.as_bytes();
    if b.contains(&b'.') {
        return s.parse().ok();
    }
    let mut pos = 0;
    let mut head = [0u16; 8];
    let head_len = hex_groups(b, &mut pos, &mut head);
    if head_len == 8 {
        return (pos == b.len()).then(|| Ipv6Addr::from(head));
    }
    // "::" stands for at least one group of zeros.
    if b.get(pos..pos + 2) != Some(b"::".as_slice()) {
        return None;
    }
    pos += 2;
    let mut tail = [0u16; 7];
    let tail_len = hex_groups(b, &mut pos, tail.get_mut(..7 - head_len)?);
    if pos != b.len() {
        return None;
    }
    let mut groups = head;
    for (dst, src) in groups
        .iter_mut()
        .skip(8 - tail_len)
        .zip(tail.iter().take(tail_len))
    {
        *dst = *src;
    }
    Some(Ipv6Addr::from(groups))
}

/// Reads up to `out.len()` `h16` groups separated by single colons; returns how many were read
/// and leaves `pos` after the last one (a colon not followed by a group is not consumed).
fn hex_groups(b: &[u8], pos: &mut usize, out: &mut [u16]) -> usize {
    let mut n = 0;
    for slot in out.iter_mut() {
        let mut p = *pos;
        if n > 0 {
            if b.get(p) != Some(&b':') {
                break;
            }
            p += 1;
        }
        let mut value = 0u16;
        let mut digits = 0;
        while digits < 4 {
            match b.get(p).and_then(|&c| char::from(c).to_digit(16)) {
                Some(d) => value = value << 4 | d as u16,
                None => break,
            }
            p += 1;
            digits += 1;
        }
        if digits == 0 {
            break;
        }
        *slot = value;
        *pos = p;
        n += 1;
    }
    n
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`; labels are alphanum and "-", not
/// starting with "-". "_" is tolerated because deployed SRV-style names use it. One pass over
/// the bytes: an empty label is only allowed as the trailing "." of a name longer than ".".
fn is_hostname(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() == Some(&b'.') {
        return false;
    }
    let mut label_len = 0usize;
    for &c in b {
        if c == b'.' {
            if label_len == 0 {
                return false;
            }
            label_len = 0;
        } else if in_class(&HOST_LABEL_CHARS, c) || (c == b'-' && label_len > 0) {
            label_len += 1;
        } else {
            return false;
        }
    }
    // A trailing "." leaves an empty last label, which is allowed (the name is not ".").
    label_len > 0 || b.len() > 1
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A URI as used in SIP: Request-URI, name-addr, Route sets.
///
/// For `sip`/`sips` all accessors apply; for `tel` the number is [`Uri::user`] and there is no
/// host; for other schemes only [`Uri::scheme`] and [`Uri::opaque`] are meaningful.
///
/// `Display` rebuilds the URI from its (escaped) components: it equals the input except that
/// the scheme is lower-cased and an IPv6 address is printed in its canonical form.
/// Derived `PartialEq` is structural; use [`Uri::equivalent`] for RFC 3261 §19.1.4 comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    scheme: Scheme,
    user: Option<String>,
    password: Option<String>,
    host: Option<Host>,
    port: Option<u16>,
    params: Params,
    headers: Vec<(String, String)>,
    opaque: Option<String>,
}

impl Uri {
    /// A `sip:` URI for `host` without user, port or parameters.
    pub fn sip(host: Host) -> Uri {
        Uri {
            scheme: Scheme::Sip,
            user: None,
            password: None,
            host: Some(host),
            port: None,
            params: Params::default(),
            headers: Vec::new(),
            opaque: None,
        }
    }

    /// Parses a URI (RFC 3261 §25.1 `SIP-URI / SIPS-URI / absoluteURI`, RFC 3966 `telephone-uri`).
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let mut params = Vec::new();
        let mut headers = Vec::new();
        let parts = scan_uri(
            s,
            |name, value| {
                params.push(Param {
                    name: name.to_owned(),
                    value: value.map(str::to_owned),
                })
            },
            |name, value| headers.push((name.to_owned(), value.to_owned())),
        )?;
        Ok(Uri {
            scheme: match parts.scheme {
                SchemeRef::Sip => Scheme::Sip,
                SchemeRef::Sips => Scheme::Sips,
                SchemeRef::Tel => Scheme::Tel,
                SchemeRef::Other(o) => Scheme::Other(o.to_ascii_lowercase()),
            },
            user: parts.user.map(str::to_owned),
            password: parts.password.map(str::to_owned),
            host: parts.host.map(HostRef::to_owned),
            port: parts.port,
            params: Params(params),
            headers,
            opaque: parts.opaque.map(str::to_owned),
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }
    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }
    /// The user part (escaped form); the number of a tel URI.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The password (escaped form); RFC 3261 §19.1.1 discourages its use.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
    /// The host (sip/sips only).
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }
    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// Everything after `scheme:` for schemes other than sip/sips/tel.
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }
    /// A `uri-parameter`: `Some(None)` for a flag like `lr`, names compared case-insensitively.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.get(name)
    }
    /// All URI parameters in order.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Mutable URI parameters (e.g. to add `lr` or `ob`).
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    /// The `?` headers as (name, escaped value).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
    /// Sets the user part (must already be escaped).
    pub fn set_user(&mut self, user: Option<&str>) {
        self.user = user.map(str::to_owned);
    }
    /// Sets the port.
    pub fn set_port(&mut self, port: Option<u16>) {
        self.port = port;
    }
    /// Sets the host.
    pub fn set_host(&mut self, host: Host) {
        self.host = Some(host);
    }
    /// Removes all `?` headers (e.g. before using a URI as a Request-URI, §19.1.5).
    pub fn clear_headers(&mut self) {
        self.headers.clear();
    }

    /// URI equivalence per RFC 3261 §19.1.4 (for sip/sips): same scheme; user and password
    /// equal after unescaping (case-sensitive); host case-insensitive; ports equal (an absent
    /// port does not equal an explicit 5060); `user`, `ttl`, `method`, `maddr` and `transport`
    /// present in both or neither and equal; other parameters equal when present in both; the
    /// same headers. tel URIs compare their numbers without visual separators and their
    /// parameters case-insensitively (RFC 3966 §4); other schemes compare textually.
    pub fn equivalent(&self, other: &Uri) -> bool {
        if self.scheme != other.scheme {
            return false;
        }
        match self.scheme {
            Scheme::Sip | Scheme::Sips => self.sip_equivalent(other),
            Scheme::Tel => {
                let digits = |u: &Uri| -> String {
                    u.user
                        .as_deref()
                        .unwrap_or("")
                        .chars()
                        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
                        .collect::<String>()
                        .to_ascii_lowercase()
                };
                digits(self) == digits(other)
                    && self.params.0.len() == other.params.0.len()
                    && self.params.iter().all(|(n, v)| {
                        other.params.get(n).is_some_and(|ov| match (v, ov) {
                            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                            (None, None) => true,
                            _ => false,
                        })
                    })
            }
            Scheme::Other(_) => self.opaque == other.opaque,
        }
    }

    fn sip_equivalent(&self, other: &Uri) -> bool {
        let dec = |s: &Option<String>| s.as_deref().map(pct_decode);
        if dec(&self.user) != dec(&other.user) || dec(&self.password) != dec(&other.password) {
            return false;
        }
        let host_eq = match (&self.host, &other.host) {
            (Some(Host::Domain(a)), Some(Host::Domain(b))) => {
                pct_decode(a).eq_ignore_ascii_case(&pct_decode(b))
            }
            (a, b) => a == b,
        };
        if !host_eq || self.port != other.port {
            return false;
        }
        let value_eq = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (Some(a), Some(b)) => pct_decode(a).eq_ignore_ascii_case(&pct_decode(b)),
            (None, None) => true,
            _ => false,
        };
        for name in ["user", "ttl", "method", "maddr", "transport"] {
            match (self.params.get(name), other.params.get(name)) {
                (None, None) => {}
                (Some(a), Some(b)) if value_eq(a, b) => {}
                _ => return false,
            }
        }
        let params_ok = self.params.iter().all(|(n, v)| match other.params.get(n) {
            None => true,
            Some(ov) => value_eq(v, ov),
        });
        let headers_ok = self.headers.len() == other.headers.len()
            && self.headers.iter().all(|(n, v)| {
                other
                    .headers
                    .iter()
                    .any(|(on, ov)| on.eq_ignore_ascii_case(n) && pct_decode(ov) == pct_decode(v))
            });
        params_ok && headers_ok
    }
}

/// The scheme of a [`UriParts`].
enum SchemeRef<'a> {
    Sip,
    Sips,
    Tel,
    Other(&'a str),
}

/// A URI's components as slices of the input; parameters and headers go to the callbacks of
/// [`scan_uri`] so that a syntax check ([`check_uri`]) needs no allocation.
struct UriParts<'a> {
    scheme: SchemeRef<'a>,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<HostRef<'a>>,
    port: Option<u16>,
    opaque: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    fn sip(scheme: SchemeRef<'a>) -> UriParts<'a> {
        UriParts {
            scheme,
            user: None,
            password: None,
            host: None,
            port: None,
            opaque: None,
        }
    }
}

/// The whole syntax of [`Uri::parse`]: `on_param` gets each uri-parameter and `on_header` each
/// header of a SIP URI, in order, as they are accepted.
fn scan_uri<'a>(
    s: &'a str,
    on_param: impl FnMut(&'a str, Option<&'a str>),
    on_header: impl FnMut(&'a str, &'a str),
) -> Result<UriParts<'a>, UriError> {
    if s.is_empty() {
        return Err(UriError::Empty);
    }
    // A branch-free fold the compiler vectorises: URIs are checked by the dozen per message.
    let illegal = s
        .bytes()
        .fold(false, |acc, b| acc | (b <= b' ') | (b == 0x7f));
    if illegal {
        return Err(UriError::IllegalChar);
    }
    let (scheme, rest) = split_once_byte(s, b':').ok_or(UriError::BadScheme)?;
    let valid_scheme = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return Err(UriError::BadScheme);
    }
    if scheme.eq_ignore_ascii_case("sip") {
        scan_sip(SchemeRef::Sip, rest, on_param, on_header)
    } else if scheme.eq_ignore_ascii_case("sips") {
        scan_sip(SchemeRef::Sips, rest, on_param, on_header)
    } else if scheme.eq_ignore_ascii_case("tel") {
        scan_tel(rest, on_param)
    } else {
        // absoluteURI = scheme ":" ( hier-part / opaque-part ); only its characters are checked.
        if rest.is_empty() || rest.bytes().any(|b| matches!(b, b'<' | b'>' | b'"')) {
            return Err(UriError::IllegalChar);
        }
        Ok(UriParts {
            opaque: Some(rest),
            ..UriParts::sip(SchemeRef::Other(scheme))
        })
    }
}

/// The syntax check of [`Uri::parse`] without building the [`Uri`] (no allocation).
pub(crate) fn check_uri(s: &str) -> Result<(), UriError> {
    scan_uri(s, |_, _| {}, |_, _| {}).map(|_| ())
}

/// `SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]` (§25.1).
fn scan_sip<'a>(
    scheme: SchemeRef<'a>,
    rest: &'a str,
    mut on_param: impl FnMut(&'a str, Option<&'a str>),
    mut on_header: impl FnMut(&'a str, &'a str),
) -> Result<UriParts<'a>, UriError> {
    // '@' cannot appear unescaped in params or headers, so the first one ends the userinfo.
    let (userinfo, hostpart) = match split_once_byte(rest, b'@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        Some(ui) => {
            let (u, p) = match split_once_byte(ui, b':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if u.is_empty() || !valid_chars(u, &USER_CHARS)? {
                return Err(UriError::BadUser);
            }
            if let Some(p) = p {
                if !valid_chars(p, &PASSWORD_CHARS)? {
                    return Err(UriError::BadUser);
                }
            }
            (Some(u), p)
        }
        None => (None, None),
    };
    let (before_headers, headers_part) = match split_once_byte(hostpart, b'?') {
        Some((a, b)) => (a, Some(b)),
        None => (hostpart, None),
    };
    let mut parts = SplitByte::new(before_headers, b';');
    let hostport = parts.next().unwrap_or("");
    let (host, port) = split_hostport_ref(hostport)?;
    for p in parts {
        let (name, value) = check_uri_param(p)?;
        on_param(name, value);
    }
    if let Some(hp) = headers_part {
        for h in hp.split('&') {
            let (n, v) = h.split_once('=').ok_or(UriError::BadHeader)?;
            if n.is_empty() || !valid_chars(n, &HEADER_CHARS)? || !valid_chars(v, &HEADER_CHARS)? {
                return Err(UriError::BadHeader);
            }
            on_header(n, v);
        }
    }
    Ok(UriParts {
        user,
        password,
        host: Some(host),
        port,
        ..UriParts::sip(scheme)
    })
}

/// `uri-parameter` (RFC 3261 §25.1) or a tel `parameter` (RFC 3966): `pname [ "=" pvalue ]`.
fn check_uri_param(p: &str) -> Result<(&str, Option<&str>), UriError> {
    let (name, value) = match split_once_byte(p, b'=') {
        Some((n, v)) => (n, Some(v)),
        None => (p, None),
    };
    if name.is_empty() || !valid_chars(name, &PARAM_CHARS)? {
        return Err(UriError::BadParam);
    }
    if let Some(v) = value {
        if v.is_empty() || !valid_chars(v, &PARAM_CHARS)? {
            return Err(UriError::BadParam);
        }
    }
    Ok((name, value))
}

/// `hostport = host [ ":" port ]`.
fn split_hostport_ref(s: &str) -> Result<(HostRef<'_>, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or(UriError::BadHost)?;
        let (h, rest) = s.split_at(end + 1);
        match rest {
            "" => (h, None),
            _ => (h, Some(rest.strip_prefix(':').ok_or(UriError::BadHost)?)),
        }
    } else {
        match split_once_byte(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Ok((HostRef::scan(host)?, port))
}

pub(crate) fn parse_port(p: &str) -> Result<u16, UriError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UriError::BadPort);
    }
    p.parse().map_err(|_| UriError::BadPort)
}

/// RFC 3966: `telephone-uri = "tel:" telephone-subscriber`, parameters after `;`.
fn scan_tel<'a>(
    rest: &'a str,
    mut on_param: impl FnMut(&'a str, Option<&'a str>),
) -> Result<UriParts<'a>, UriError> {
    let mut parts = rest.split(';');
    let number = parts.next().unwrap_or("");
    let visual = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')');
    let global = number.strip_prefix('+');
    let ok = match global {
        Some(digits) => {
            digits.bytes().any(|b| b.is_ascii_digit())
                && digits.bytes().all(|b| b.is_ascii_digit() || visual(b))
        }
        None => {
            number
                .bytes()
                .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
                && number
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b'*' | b'#') || visual(b))
        }
    };
    if !ok {
        return Err(UriError::BadTelNumber);
    }
    let mut phone_context = false;
    for p in parts {
        let (name, value) = check_uri_param(p)?;
        phone_context |= name.eq_ignore_ascii_case("phone-context");
        on_param(name, value);
    }
    // RFC 3966 §5.1.5: a local number needs a phone-context.
    if global.is_none() && !phone_context {
        return Err(UriError::BadTelNumber);
    }
    Ok(UriParts {
        user: Some(number),
        ..UriParts::sip(SchemeRef::Tel)
    })
}

/// `str::split_once` for an ASCII delimiter; `memchr` is cheaper than the generic char
/// searcher (and than a byte loop) on the strings URIs are made of.
fn split_once_byte(s: &str, delim: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(delim, s.as_bytes())?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `str::split` for an ASCII delimiter (see [`split_once_byte`]).
struct SplitByte<'a> {
    rest: Option<&'a str>,
    delim: u8,
}

impl<'a> SplitByte<'a> {
    fn new(s: &'a str, delim: u8) -> Self {
        SplitByte {
            rest: Some(s),
            delim,
        }
    }
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match split_once_byte(s, self.delim) {
            Some((head, tail)) => {
                self.rest = Some(tail);
                Some(head)
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// A byte class as a lookup table (one load per byte instead of a chain of compares).
type CharClass = [bool; 256];

/// The table of a `const fn` byte predicate.
macro_rules! char_class {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

const USER_CHARS: CharClass = char_class!(is_user_char);
const PASSWORD_CHARS: CharClass = char_class!(is_password_char);
const PARAM_CHARS: CharClass = char_class!(is_param_char);
const HEADER_CHARS: CharClass = char_class!(is_header_char);
/// Letters, digits and "_" (see [`is_hostname`]).
const HOST_LABEL_CHARS: CharClass = char_class!(is_host_label_char);

const fn is_host_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn in_class(class: &CharClass, b: u8) -> bool {
    class.get(usize::from(b)).copied().unwrap_or(false)
}

/// Checks every byte against `allowed`, with `%` requiring two hex digits.
fn valid_chars(s: &str, allowed: &CharClass) -> Result<bool, UriError> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(UriError::BadEscape);
            }
            i += 3;
        } else if in_class(allowed, c) {
            i += 1;
        } else {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `unreserved = alphanum / mark`, `mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"`.
const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}
/// `user = 1*( unreserved / escaped / user-unreserved )`.
const fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}
/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`.
const fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}
/// `paramchar = param-unreserved / unreserved / escaped`.
const fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}
/// `hname`/`hvalue` characters: `hnv-unreserved / unreserved / escaped`.
const fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Decodes `%HH` escapes (RFC 3261 §19.1.2); a `%` not followed by two hex digits stays as is.
pub fn pct_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hi = b.get(i + 1).and_then(|h| (*h as char).to_digit(16));
            let lo = b.get(i + 2).and_then(|h| (*h as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme.as_str())?;
        if let Some(o) = &self.opaque {
            return f.write_str(o);
        }
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            if self.host.is_some() {
                f.write_str("@")?;
            }
        }
        if let Some(h) = &self.host {
            write!(f, "{h}")?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_sip_uri() {
        let u = Uri::parse("sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=%20")
            .unwrap();
        assert_eq!(u.scheme(), &Scheme::Sips);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), Some(&Host::Ipv6("2001:db8::1".parse().unwrap())));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.param("TRANSPORT"), Some(Some("tcp")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers().len(), 2);
        assert_eq!(
            u.to_string(),
            "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=%20"
        );
    }

    #[test]
    fn torture_user_parts() {
        let u = Uri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        let s = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(s.user(), Some("user;par=u%40example.net"));
        assert_eq!(pct_decode(s.user().unwrap()), b"user;par=u@example.net");
        let n = Uri::parse("sip:null-%00-null@example.com").unwrap();
        assert_eq!(pct_decode(n.user().unwrap()), b"null-\0-null");
    }

    #[test]
    fn tel_uris() {
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(t.scheme(), &Scheme::Tel);
        assert_eq!(t.user(), Some("+1-201-555-0123"));
        assert!(t.host().is_none());
        assert!(Uri::parse("tel:7042;phone-context=example.com").is_ok());
        assert_eq!(Uri::parse("tel:7042"), Err(UriError::BadTelNumber));
        assert_eq!(Uri::parse("tel:+"), Err(UriError::BadTelNumber));
    }

    #[test]
    fn other_schemes_are_opaque() {
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme(), &Scheme::Other("soap.beep".into()));
        assert_eq!(u.to_string(), "soap.beep://192.0.2.103:3002");
    }

    #[test]
    fn equivalence_rfc3261_19_1_4() {
        let eq = |a: &str, b: &str| Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap());
        // The equivalent pairs listed in §19.1.4.
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        // The non-equivalent pairs listed in §19.1.4.
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:a@b", "sips:a@b"));
        assert!(eq("tel:+1-201-555-0123", "tel:+12015550123"));
    }

    #[test]
    fn ipv6_matches_the_standard_parser() {
        let cases = [
            "::",
            "::1",
            "1::",
            "2001:db8::7",
            "2001:db8:20::a1",
            "2001:DB8:0:0:8:800:200C:417A",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4::5:6:7:8",
            "1::2::3",
            ":::",
            ":1::",
            "1:",
            "12345::",
            "0000:0:00:000::ffff",
            "g::",
            "",
            ":",
            "::ffff:192.0.2.1",
            "1:2:3:4:5:6:1.2.3.4",
            "::01.2.3.4",
        ];
        for c in cases {
            assert_eq!(parse_ipv6(c), c.parse::<Ipv6Addr>().ok(), "{c:?}");
        }
    }

    proptest::proptest! {
        /// The one-pass IPv6 reader accepts and reads exactly what the standard parser does.
        #[test]
        fn ipv6_agrees_with_std(s in "[0-9a-fA-F:]{0,40}") {
            proptest::prop_assert_eq!(parse_ipv6(&s), s.parse::<Ipv6Addr>().ok());
        }
        /// Same for well-formed groups (random strings are mostly invalid).
        #[test]
        fn ipv6_agrees_with_std_on_groups(
            groups in proptest::collection::vec("[0-9a-f]{1,5}", 0..9),
            gap in proptest::option::of(0usize..9),
        ) {
            let mut parts: Vec<String> = groups;
            if let Some(g) = gap {
                parts.insert(g.min(parts.len()), String::new());
            }
            let mut s = parts.join(":");
            if s.starts_with(':') { s.insert(0, ':'); }
            if s.ends_with(':') { s.push(':'); }
            proptest::prop_assert_eq!(parse_ipv6(&s), s.parse::<Ipv6Addr>().ok());
        }
    }

    #[test]
    fn errors() {
        assert_eq!(Uri::parse("<sip:a@b>"), Err(UriError::BadScheme));
        assert_eq!(Uri::parse("sip:a b@c"), Err(UriError::IllegalChar));
        assert_eq!(Uri::parse("sip:a@b:99999"), Err(UriError::BadPort));
        assert_eq!(Uri::parse("sip:a@b;;"), Err(UriError::BadParam));
        assert_eq!(Uri::parse("sip:a@[::1"), Err(UriError::BadHost));
        assert_eq!(Uri::parse("sip:%zz@b"), Err(UriError::BadEscape));
        assert_eq!(Uri::parse("sip:a@b?x"), Err(UriError::BadHeader));
        assert_eq!(Uri::parse(""), Err(UriError::Empty));
    }
}
