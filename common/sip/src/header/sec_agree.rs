//! Security-Client, Security-Server and Security-Verify (RFC 3329 §2.2) with the
//! `ipsec-3gpp` parameters of TS 33.203 Annex H.

use std::fmt;

use crate::error::HeaderError;
use crate::header::contact::parse_qvalue;
use crate::header::cseq::parse_u32_max;
use crate::scan::{split_commas, Cursor, Params};

/// The mechanism name IMS uses for IPsec (TS 33.203 Annex H).
pub const IPSEC_3GPP: &str = "ipsec-3gpp";

/// One `sec-mechanism = mechanism-name *(SEMI mech-parameters)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecMechanism {
    /// `digest`, `tls`, `ipsec-ike`, `ipsec-man`, `ipsec-3gpp` or an extension.
    pub mechanism: String,
    /// Parameters: `q`, `d-alg`, `d-qop`, `d-ver` (RFC 3329) and the Annex H ones.
    pub params: Params,
}

impl SecMechanism {
    /// An `ipsec-3gpp` mechanism as a UE or P-CSCF offers it (TS 33.203 §7.1, Annex H).
    #[allow(clippy::too_many_arguments)]
    pub fn ipsec_3gpp(
        alg: &str,
        ealg: Option<&str>,
        spi_c: u32,
        spi_s: u32,
        port_c: u16,
        port_s: u16,
    ) -> SecMechanism {
        let mut params = Params::default();
        params.set("alg", Some(alg));
        if let Some(e) = ealg {
            params.set("ealg", Some(e));
        }
        params.set("spi-c", Some(&spi_c.to_string()));
        params.set("spi-s", Some(&spi_s.to_string()));
        params.set("port-c", Some(&port_c.to_string()));
        params.set("port-s", Some(&port_s.to_string()));
        SecMechanism {
            mechanism: IPSEC_3GPP.to_owned(),
            params,
        }
    }

    /// Parses one mechanism.
    pub fn parse(s: &str) -> Result<SecMechanism, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let mechanism = c.token()?;
        let params = Params::parse_semi(&mut c)?;
        c.finish()?;
        Ok(SecMechanism {
            mechanism: mechanism.to_owned(),
            params,
        })
    }

    /// Parses a whole header line (comma-separated mechanisms).
    pub fn parse_list(s: &str) -> Result<Vec<SecMechanism>, HeaderError> {
        split_commas(s).map(SecMechanism::parse).collect()
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.params.get(name).flatten()
    }

    fn number(&self, name: &str, max: u32) -> Result<Option<u32>, HeaderError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(None) => Err(HeaderError::BadNumber),
            Some(Some(v)) => {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeaderError::BadNumber);
                }
                parse_u32_max(v, u64::from(max)).map(Some)
            }
        }
    }

    /// Whether this is `ipsec-3gpp`.
    pub fn is_ipsec_3gpp(&self) -> bool {
        self.mechanism.eq_ignore_ascii_case(IPSEC_3GPP)
    }
    /// `q` preference in thousandths (RFC 3329 §2.2).
    pub fn q(&self) -> Result<Option<u16>, HeaderError> {
        match self.params.get("q") {
            None => Ok(None),
            Some(None) => Err(HeaderError::BadNumber),
            Some(Some(v)) => parse_qvalue(v).map(Some),
        }
    }
    /// Integrity algorithm `alg` (`hmac-md5-96`, `hmac-sha-1-96`).
    pub fn alg(&self) -> Option<&str> {
        self.text("alg")
    }
    /// Encryption algorithm `ealg` (`null`, `des-ede3-cbc`, `aes-cbc`); absent means `null`.
    pub fn ealg(&self) -> Option<&str> {
        self.text("ealg")
    }
    /// `prot` (`esp`, `ah`); absent means `esp`.
    pub fn prot(&self) -> Option<&str> {
        self.text("prot")
    }
    /// `mod` (`trans`, `tun`, `UDP-enc-tun`); absent means `trans`.
    pub fn mode(&self) -> Option<&str> {
        self.text("mod")
    }
    /// `spi-c`: SPI of the inbound SA at the protected client port (32 bits).
    pub fn spi_c(&self) -> Result<Option<u32>, HeaderError> {
        self.number("spi-c", u32::MAX)
    }
    /// `spi-s`: SPI of the inbound SA at the protected server port.
    pub fn spi_s(&self) -> Result<Option<u32>, HeaderError> {
        self.number("spi-s", u32::MAX)
    }
    /// `port-c`: protected client port.
    pub fn port_c(&self) -> Result<Option<u16>, HeaderError> {
        self.number("port-c", u32::from(u16::MAX))
            .map(|p| p.and_then(|p| u16::try_from(p).ok()))
    }
    /// `port-s`: protected server port.
    pub fn port_s(&self) -> Result<Option<u16>, HeaderError> {
        self.number("port-s", u32::from(u16::MAX))
            .map(|p| p.and_then(|p| u16::try_from(p).ok()))
    }
}

impl fmt::Display for SecMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.mechanism, self.params)
    }
}

/// Security-Client (RFC 3329 §2.2): mechanisms the UE supports.
pub type SecurityClient = Vec<SecMechanism>;
/// Security-Server (RFC 3329 §2.2): mechanisms the server supports.
pub type SecurityServer = Vec<SecMechanism>;
/// Security-Verify (RFC 3329 §2.2): the Security-Server list echoed back.
pub type SecurityVerify = Vec<SecMechanism>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_h_example() {
        let l = SecMechanism::parse_list(
            "ipsec-3gpp; alg=hmac-sha-1-96; ealg=aes-cbc; spi-c=3929102; spi-s=2877131; port-c=5062; port-s=5064, ipsec-3gpp;alg=hmac-md5-96;prot=esp;mod=trans;spi-c=1;spi-s=2;port-c=1;port-s=2;q=0.1",
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        let m = &l[0];
        assert!(m.is_ipsec_3gpp());
        assert_eq!(m.alg(), Some("hmac-sha-1-96"));
        assert_eq!(m.ealg(), Some("aes-cbc"));
        assert_eq!(m.spi_c(), Ok(Some(3929102)));
        assert_eq!(m.spi_s(), Ok(Some(2877131)));
        assert_eq!(m.port_c(), Ok(Some(5062)));
        assert_eq!(m.port_s(), Ok(Some(5064)));
        assert_eq!(l[1].prot(), Some("esp"));
        assert_eq!(l[1].mode(), Some("trans"));
        assert_eq!(l[1].q(), Ok(Some(100)));
    }

    #[test]
    fn build_and_reparse() {
        let m = SecMechanism::ipsec_3gpp("hmac-sha-1-96", Some("null"), 4294967295, 7, 5062, 5064);
        let s = m.to_string();
        assert_eq!(
            s,
            "ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=4294967295;spi-s=7;port-c=5062;port-s=5064"
        );
        assert_eq!(SecMechanism::parse(&s).unwrap(), m);
    }

    #[test]
    fn bad_numbers() {
        let m = SecMechanism::parse("ipsec-3gpp;spi-c=4294967296;port-s=70000;port-c=x").unwrap();
        assert_eq!(m.spi_c(), Err(HeaderError::NumberOutOfRange));
        assert_eq!(m.port_s(), Err(HeaderError::NumberOutOfRange));
        assert_eq!(m.port_c(), Err(HeaderError::BadNumber));
    }
}
