//! IMS P-headers without an address: P-Visited-Network-ID (RFC 7315 §4.3) and
//! P-Charging-Vector (RFC 7315 §4.6, TS 24.229 §7.2A.5).
//!
//! The address-carrying P-headers (P-Asserted-Identity, P-Associated-URI) are in
//! [`name_addr`](super::name_addr).

use std::fmt;

use crate::error::HeaderError;
use crate::scan::{parse_generic_param, split_commas, unquote, Cursor, Params};

/// One P-Visited-Network-ID entry: `(token / quoted-string) *(SEMI vnetwork-param)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitedNetwork {
    /// The network identifier as received (quotes kept when quoted).
    pub id: String,
    /// Parameters.
    pub params: Params,
}

impl VisitedNetwork {
    /// Parses one entry.
    pub fn parse(s: &str) -> Result<VisitedNetwork, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let id = c.token_or_quoted()?;
        let params = Params::parse_semi(&mut c)?;
        c.finish()?;
        Ok(VisitedNetwork {
            id: id.to_owned(),
            params,
        })
    }

    /// Parses a whole header line.
    pub fn parse_list(s: &str) -> Result<Vec<VisitedNetwork>, HeaderError> {
        split_commas(s).map(VisitedNetwork::parse).collect()
    }

    /// The identifier without quotes.
    pub fn name(&self) -> &str {
        unquote(&self.id)
    }
}

impl fmt::Display for VisitedNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.id, self.params)
    }
}

/// `P-Charging-Vector = icid-value *(SEMI charge-params)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PChargingVector {
    /// All parameters in order, starting with `icid-value`.
    pub params: Params,
}

impl PChargingVector {
    /// A vector with just an IMS charging identifier.
    pub fn new(icid: &str) -> PChargingVector {
        let mut params = Params::default();
        params.set("icid-value", Some(icid));
        PChargingVector { params }
    }

    /// Parses the value; `icid-value` must come first.
    pub fn parse(s: &str) -> Result<PChargingVector, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let first = parse_generic_param(&mut c)?;
        if !first.name.eq_ignore_ascii_case("icid-value") || first.value.is_none() {
            return Err(HeaderError::BadParam);
        }
        let mut params = Params::parse_semi(&mut c)?;
        c.finish()?;
        params.0.insert(0, first);
        Ok(PChargingVector { params })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).flatten()
    }
    /// `icid-value`: the IMS charging identifier.
    pub fn icid_value(&self) -> Option<&str> {
        self.get("icid-value")
    }
    /// `icid-generated-at`.
    pub fn icid_generated_at(&self) -> Option<&str> {
        self.get("icid-generated-at")
    }
    /// `orig-ioi`: originating inter-operator identifier.
    pub fn orig_ioi(&self) -> Option<&str> {
        self.get("orig-ioi")
    }
    /// `term-ioi`: terminating inter-operator identifier.
    pub fn term_ioi(&self) -> Option<&str> {
        self.get("term-ioi")
    }
    /// Sets a parameter (e.g. `orig-ioi` at the S-CSCF).
    pub fn set(&mut self, name: &str, value: &str) {
        self.params.set(name, Some(value));
    }
}

impl fmt::Display for PChargingVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.params.to_string();
        f.write_str(s.strip_prefix(';').unwrap_or(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charging_vector() {
        let v = PChargingVector::parse(
            "icid-value=\"AyretyU0dm+6O2IrT5tAFrbHLso=023551024\"; icid-generated-at=192.0.6.8; orig-ioi=home1.net",
        )
        .unwrap();
        assert_eq!(
            v.icid_value(),
            Some("AyretyU0dm+6O2IrT5tAFrbHLso=023551024")
        );
        assert_eq!(v.icid_generated_at(), Some("192.0.6.8"));
        assert_eq!(v.orig_ioi(), Some("home1.net"));
        assert_eq!(v.term_ioi(), None);
        let mut n = PChargingVector::new("1234bc9876e");
        n.set("term-ioi", "visited2.net");
        assert_eq!(
            n.to_string(),
            "icid-value=1234bc9876e;term-ioi=visited2.net"
        );
        assert_eq!(PChargingVector::parse(&n.to_string()).unwrap(), n);
        assert_eq!(
            PChargingVector::parse("orig-ioi=x"),
            Err(HeaderError::BadParam)
        );
    }

    #[test]
    fn visited_network() {
        let l = VisitedNetwork::parse_list("\"Visited network number 1\", other.net;x=1").unwrap();
        assert_eq!(l[0].name(), "Visited network number 1");
        assert_eq!(l[1].name(), "other.net");
        assert_eq!(l[1].params.get("x"), Some(Some("1")));
    }
}
