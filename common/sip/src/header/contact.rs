//! The Contact header (RFC 3261 §20.10) with the registration parameters of RFC 3261 §10.2.1
//! (`expires`, `q`) and RFC 5626 §4.2 (`+sip.instance`, `reg-id`).

use std::fmt;

use crate::error::HeaderError;
use crate::header::cseq::parse_u32_max;
use crate::header::name_addr::NameAddr;
use crate::uri::Uri;

/// One Contact value: `*` or an address.
// Boxing the address would cost an allocation per contact for no gain: contacts are
// short-lived values and the wildcard is rare.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `Contact: *`, only valid in a REGISTER with `Expires: 0` (§10.2.2).
    Wildcard,
    /// A contact address.
    Address(NameAddr),
}

impl Contact {
    /// Parses one element of a Contact line.
    pub fn parse(s: &str) -> Result<Contact, HeaderError> {
        if s.trim_matches([' ', '\t']) == "*" {
            return Ok(Contact::Wildcard);
        }
        NameAddr::parse(s).map(Contact::Address)
    }

    /// The syntax check of [`Contact::parse`] without building the value (no allocation).
    pub(crate) fn check(s: &str) -> Result<(), HeaderError> {
        if s.trim_matches([' ', '\t']) == "*" {
            return Ok(());
        }
        NameAddr::check(s)
    }

    /// Parses a whole Contact line (comma-separated values).
    pub fn parse_list(s: &str) -> Result<Vec<Contact>, HeaderError> {
        crate::scan::split_commas(s).map(Contact::parse).collect()
    }

    /// The address, unless this is the wildcard.
    pub fn name_addr(&self) -> Option<&NameAddr> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }

    /// The URI, unless this is the wildcard.
    pub fn uri(&self) -> Option<&Uri> {
        self.name_addr().map(|a| &a.uri)
    }

    /// `expires` parameter in seconds (`delta-seconds`, values above 2^32-1 are an error).
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        match self.name_addr().and_then(|a| a.params.get("expires")) {
            None => Ok(None),
            Some(None) => Err(HeaderError::BadNumber),
            Some(Some(v)) => parse_u32_max(v, u64::from(u32::MAX)).map(Some),
        }
    }

    /// `q` parameter in thousandths (`qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`).
    pub fn q(&self) -> Result<Option<u16>, HeaderError> {
        match self.name_addr().and_then(|a| a.params.get("q")) {
            None => Ok(None),
            Some(None) => Err(HeaderError::BadNumber),
            Some(Some(v)) => parse_qvalue(v).map(Some),
        }
    }

    /// `+sip.instance` (RFC 5626 §4.1), quotes and the `<>` of the URN removed.
    pub fn instance(&self) -> Option<&str> {
        let v = self.name_addr()?.params.get("+sip.instance")??;
        Some(
            v.strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(v),
        )
    }

    /// `reg-id` (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Result<Option<u32>, HeaderError> {
        match self.name_addr().and_then(|a| a.params.get("reg-id")) {
            None => Ok(None),
            Some(None) => Err(HeaderError::BadNumber),
            Some(Some(v)) => parse_u32_max(v, u64::from(u32::MAX)).map(Some),
        }
    }
}

/// Parses a `qvalue` into thousandths (0..=1000).
pub fn parse_qvalue(v: &str) -> Result<u16, HeaderError> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::BadNumber);
    }
    let mut thousandths: u16 = 0;
    for (i, d) in frac.bytes().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    match int {
        "0" => Ok(thousandths),
        "1" if thousandths == 0 => Ok(1000),
        _ => Err(HeaderError::NumberOutOfRange),
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Address(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_contact() {
        let c = Contact::parse(
            "<sip:ue@192.0.2.4:5060;transport=tcp;ob>;expires=600000;q=0.7;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"",
        )
        .unwrap();
        assert_eq!(c.expires(), Ok(Some(600000)));
        assert_eq!(c.q(), Ok(Some(700)));
        assert_eq!(c.reg_id(), Ok(Some(1)));
        assert_eq!(
            c.instance(),
            Some("urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF")
        );
        assert_eq!(c.uri().unwrap().param("ob"), Some(None));
    }

    #[test]
    fn wildcard_and_lists() {
        assert_eq!(Contact::parse(" * "), Ok(Contact::Wildcard));
        let l = Contact::parse_list("<sip:a@b>, \"x,y\" <sip:c@d>;q=1").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.get(1).unwrap().q(), Ok(Some(1000)));
    }

    #[test]
    fn bad_numbers() {
        let c = Contact::parse("<sip:a@b>;expires=280297596632815;q=1.5").unwrap();
        assert_eq!(c.expires(), Err(HeaderError::NumberOutOfRange));
        assert_eq!(c.q(), Err(HeaderError::NumberOutOfRange));
        assert_eq!(parse_qvalue("0.3333"), Err(HeaderError::BadNumber));
    }
}
