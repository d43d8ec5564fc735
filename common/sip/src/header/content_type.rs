//! Content-Type (RFC 3261 §20.15) and Accept (§20.1) media types.

use std::fmt;

use crate::error::HeaderError;
use crate::scan::{split_commas, Cursor, Params};

/// `media-type = m-type SLASH m-subtype *(SEMI m-parameter)`; in Accept, either part may be `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Type, e.g. `application`.
    pub mtype: String,
    /// Subtype, e.g. `sdp`.
    pub subtype: String,
    /// Parameters, e.g. `boundary`.
    pub params: Params,
}

/// The Content-Type header.
pub type ContentType = MediaType;

impl MediaType {
    /// Parses a media type (also a media-range with `*`).
    pub fn parse(s: &str) -> Result<MediaType, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let mtype = c.token().map_err(|_| HeaderError::BadMediaType)?;
        if !c.eat_sep(b'/') {
            return Err(HeaderError::BadMediaType);
        }
        let subtype = c.token().map_err(|_| HeaderError::BadMediaType)?;
        let params = Params::parse_semi(&mut c)?;
        c.finish()?;
        Ok(MediaType {
            mtype: mtype.to_owned(),
            subtype: subtype.to_owned(),
            params,
        })
    }

    /// `type/subtype` compared case-insensitively (RFC 2045 §5.1), parameters ignored.
    pub fn is(&self, essence: &str) -> bool {
        essence.split_once('/').is_some_and(|(t, s)| {
            self.mtype.eq_ignore_ascii_case(t) && self.subtype.eq_ignore_ascii_case(s)
        })
    }

    /// Whether this media range (from Accept) covers `essence` (`type/subtype`).
    pub fn accepts(&self, essence: &str) -> bool {
        let Some((t, s)) = essence.split_once('/') else {
            return false;
        };
        (self.mtype == "*" || self.mtype.eq_ignore_ascii_case(t))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
    }
}

/// `Accept = [ accept-range *(COMMA accept-range) ]` (§20.1); empty means nothing is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accept(pub Vec<MediaType>);

impl Accept {
    /// Parses an Accept value.
    pub fn parse(s: &str) -> Result<Accept, HeaderError> {
        if s.trim_matches([' ', '\t']).is_empty() {
            return Ok(Accept::default());
        }
        split_commas(s)
            .map(MediaType::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Accept)
    }

    /// Whether any range covers `essence`.
    pub fn accepts(&self, essence: &str) -> bool {
        self.0.iter().any(|m| m.accepts(essence))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type() {
        let c = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(c.is("Multipart/Mixed"));
        assert_eq!(c.params.get("boundary"), Some(Some("7a9cbec02ceef655")));
        assert_eq!(
            MediaType::parse("application"),
            Err(HeaderError::BadMediaType)
        );
    }

    #[test]
    fn accept() {
        let a = Accept::parse("application/sdp, application/pkcs7-mime, multipart/*").unwrap();
        assert!(a.accepts("application/sdp"));
        assert!(a.accepts("multipart/mixed"));
        assert!(!a.accepts("text/plain"));
    }
}
