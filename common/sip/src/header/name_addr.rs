//! `name-addr / addr-spec` with header parameters (RFC 3261 §20.10, §20.20, §20.39, §25.1),
//! the shape shared by From, To, Contact, Route, Record-Route, Path, Service-Route and the
//! P-headers carrying identities.

use std::fmt;

use crate::error::HeaderError;
use crate::method::is_token_char;
use crate::scan::{unquote, Cursor, Params};
use crate::uri::Uri;

/// An address with optional display name and header parameters (`;tag=`, `;expires=`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name as received: a quoted-string keeps its quotes, tokens their single spaces.
    pub display_name: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters (after the `>`, or after the bare addr-spec).
    pub params: Params,
}

impl NameAddr {
    /// A name-addr for `uri` without display name or parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display_name: None,
            uri,
            params: Params::default(),
        }
    }

    /// Parses `( name-addr / addr-spec ) *( SEMI generic-param )`.
    ///
    /// In the addr-spec form the URI ends at the first `;` (those parameters belong to the
    /// header, §20) and must not contain `,` or `?` (§20: such URIs need `<>`).
    pub fn parse(s: &str) -> Result<NameAddr, HeaderError> {
        let (display_name, uri, params) = scan(s, Uri::parse, Params::parse_semi)?;
        Ok(NameAddr {
            display_name: display_name.map(str::to_owned),
            uri,
            params,
        })
    }

    /// The syntax check of [`NameAddr::parse`] without building the value (no allocation):
    /// what a message parse does for From, To and Contact.
    pub(crate) fn check(s: &str) -> Result<(), HeaderError> {
        scan(s, crate::uri::check_uri, Params::check_semi).map(|_| ())
    }

    /// The display name without surrounding quotes.
    pub fn display(&self) -> Option<&str> {
        self.display_name.as_deref().map(unquote)
    }
    /// A header parameter (`Some(None)` for a flag).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.get(name)
    }
    /// The `tag` parameter (§19.3).
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
    /// Sets the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag));
    }
    /// Parses a comma-separated list of name-addrs (Route, Path, P-Asserted-Identity, ...).
    pub fn parse_list(s: &str) -> Result<Vec<NameAddr>, HeaderError> {
        crate::scan::split_commas(s).map(NameAddr::parse).collect()
    }
}

/// The grammar of [`NameAddr::parse`], generic over what is made of the URI and the
/// parameters, so that the typed parse and the allocation-free check cannot diverge.
/// Returns the display name as received (quotes kept).
fn scan<'a, U, P>(
    s: &'a str,
    uri: impl FnOnce(&'a str) -> Result<U, crate::error::UriError>,
    params: impl FnOnce(&mut Cursor<'a>) -> Result<P, HeaderError>,
) -> Result<(Option<&'a str>, U, P), HeaderError> {
    let mut c = Cursor::new(s);
    c.skip_ws();
    if c.is_empty() {
        return Err(HeaderError::Empty);
    }
    let display_name = match c.peek() {
        Some(b'"') => {
            let q = c.quoted()?;
            c.skip_ws();
            if c.peek() != Some(b'<') {
                return Err(HeaderError::BadDisplayName);
            }
            Some(q)
        }
        Some(b'<') => None,
        _ => {
            // Either `*(token LWS) <addr-spec>` or a bare addr-spec.
            match c.rest().find('<') {
                Some(lt) => {
                    let dn = c
                        .rest()
                        .get(..lt)
                        .unwrap_or("")
                        .trim_end_matches([' ', '\t']);
                    let ok = dn
                        .split([' ', '\t'])
                        .filter(|t| !t.is_empty())
                        .all(|t| t.bytes().all(is_token_char));
                    if !ok {
                        return Err(HeaderError::BadDisplayName);
                    }
                    c.take_until(b'<');
                    (!dn.is_empty()).then_some(dn)
                }
                None => {
                    let spec = c.take_while(|b| b != b';' && b != b' ' && b != b'\t');
                    if spec.contains(['?', ',']) {
                        return Err(HeaderError::AddrSpecNeedsAngleBrackets);
                    }
                    let uri = uri(spec)?;
                    let params = params(&mut c)?;
                    c.finish()?;
                    return Ok((None, uri, params));
                }
            }
        }
    };
    if !c.eat(b'<') {
        return Err(HeaderError::BadDisplayName);
    }
    if matches!(c.peek(), Some(b' ' | b'\t')) {
        return Err(HeaderError::WhitespaceInAngleBrackets);
    }
    let spec = c.take_until(b'>');
    if !c.eat(b'>') {
        return Err(HeaderError::UnterminatedAngle);
    }
    if spec.ends_with([' ', '\t']) {
        return Err(HeaderError::WhitespaceInAngleBrackets);
    }
    let uri = uri(spec)?;
    let params = params(&mut c)?;
    c.finish()?;
    Ok((display_name, uri, params))
}

impl fmt::Display for NameAddr {
    /// Always the name-addr form (`<...>`), which is valid for every URI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

macro_rules! name_addr_header {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub NameAddr);

        impl $name {
            /// Parses the header value.
            pub fn parse(s: &str) -> Result<Self, HeaderError> {
                NameAddr::parse(s).map($name)
            }
            /// The `tag` parameter.
            pub fn tag(&self) -> Option<&str> {
                self.0.tag()
            }
            /// The URI.
            pub fn uri(&self) -> &Uri {
                &self.0.uri
            }
            /// Parses a comma-separated list of values of this header.
            pub fn parse_list(s: &str) -> Result<Vec<Self>, HeaderError> {
                crate::scan::split_commas(s).map(Self::parse).collect()
            }
        }

        impl std::ops::Deref for $name {
            type Target = NameAddr;
            fn deref(&self) -> &NameAddr {
                &self.0
            }
        }

        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut NameAddr {
                &mut self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

name_addr_header!(
    /// The From header (§20.20): the request's originator, with the local `tag`.
    From
);
name_addr_header!(
    /// The To header (§20.39): the logical recipient; the UAS adds its `tag`.
    To
);

name_addr_header!(
    /// One Route entry (§20.34): `name-addr *( SEMI rr-param )`; loose routing uses `;lr`.
    Route
);
name_addr_header!(
    /// One Record-Route entry (§20.30).
    RecordRoute
);
name_addr_header!(
    /// One Path entry (RFC 3327 §4): proxies on the REGISTER path, used for terminating requests.
    Path
);
name_addr_header!(
    /// One Service-Route entry (RFC 3608 §5): the route the registrar gives for originating requests.
    ServiceRoute
);
name_addr_header!(
    /// One P-Asserted-Identity entry (RFC 3325 §9.1): at most one SIP/SIPS and one tel identity.
    PAssertedIdentity
);
name_addr_header!(
    /// One P-Preferred-Identity entry (RFC 3325 §9.2).
    PPreferredIdentity
);
name_addr_header!(
    /// One P-Associated-URI entry (RFC 7315 §4.1): a public identity of the registered user.
    PAssociatedUri
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ;  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(a.display(), Some("J Rosenberg \\\\\\\""));
        assert_eq!(a.tag(), Some("98asjd8"));
        let b = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(b.display(), Some("caller"));
        let c = NameAddr::parse("sip:user@example.com;tag=1;x").unwrap();
        assert_eq!(c.uri.to_string(), "sip:user@example.com");
        assert_eq!(c.tag(), Some("1"));
        assert!(c.uri.params().0.is_empty());
        let d = NameAddr::parse("A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe").unwrap();
        assert_eq!(d.display(), Some("A. Bell"));
        assert_eq!(
            d.to_string(),
            "A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe"
        );
    }

    #[test]
    fn torture_errors() {
        assert_eq!(
            NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>"),
            Err(HeaderError::UnterminatedQuote)
        );
        assert_eq!(
            NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
            Err(HeaderError::BadDisplayName)
        );
        assert_eq!(
            NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >"),
            Err(HeaderError::WhitespaceInAngleBrackets)
        );
        assert_eq!(
            NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
            Err(HeaderError::AddrSpecNeedsAngleBrackets)
        );
        assert_eq!(
            NameAddr::parse("<sip:a@b"),
            Err(HeaderError::UnterminatedAngle)
        );
        assert_eq!(NameAddr::parse("<sip:a@b>;;"), Err(HeaderError::BadParam));
    }

    #[test]
    fn ims_identity_lists() {
        let pai = PAssertedIdentity::parse_list(
            "\"John Doe\" <sip:user1_public1@home1.net>, <tel:+1-212-555-1111>",
        )
        .unwrap();
        assert_eq!(pai.len(), 2);
        assert_eq!(pai[0].display(), Some("John Doe"));
        assert_eq!(pai[1].uri().scheme(), &crate::uri::Scheme::Tel);
        let pau = PAssociatedUri::parse_list("<sip:user1_public2@home1.net>").unwrap();
        assert_eq!(pau[0].uri().user(), Some("user1_public2"));
        let path = Path::parse_list("<sip:term@pcscf1.visited1.net;lr>").unwrap();
        assert_eq!(path[0].uri().param("lr"), Some(None));
        let sr = ServiceRoute::parse("<sip:orig@scscf1.home1.net;lr>").unwrap();
        assert_eq!(sr.uri().user(), Some("orig"));
        let rr =
            RecordRoute::parse_list("<sip:p1.example.com;lr>,<sip:[2001:db8::1]:5070;lr>").unwrap();
        assert_eq!(rr[1].uri().port(), Some(5070));
        assert!(Route::parse("<sip:a@b;lr").is_err());
    }

    #[test]
    fn to_with_tag() {
        let mut t = To::parse("<sip:bob@example.com>").unwrap();
        assert_eq!(t.tag(), None);
        t.set_tag("abc");
        assert_eq!(t.to_string(), "<sip:bob@example.com>;tag=abc");
    }
}
