//! The CSeq header (RFC 3261 §20.16, §8.1.1.5).

use std::fmt;

use crate::error::HeaderError;
use crate::method::Method;
use crate::scan::Cursor;

/// `CSeq = 1*DIGIT LWS Method`; the number must be below 2^31 (§8.1.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Largest sequence number RFC 3261 §8.1.1.5 allows.
    pub const MAX_SEQ: u32 = (1 << 31) - 1;

    /// Parses a CSeq value.
    pub fn parse(s: &str) -> Result<CSeq, HeaderError> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(HeaderError::BadNumber);
        }
        let seq = parse_u32_max(digits, u64::from(Self::MAX_SEQ))?;
        let before = c.rest().len();
        c.skip_ws();
        if c.rest().len() == before {
            return Err(HeaderError::BadToken);
        }
        let method = c.token()?;
        c.finish()?;
        let method = Method::from_token(method).ok_or(HeaderError::BadToken)?;
        Ok(CSeq { seq, method })
    }
}

/// Parses decimal digits (leading zeros allowed) with an upper bound.
pub(crate) fn parse_u32_max(digits: &str, max: u64) -> Result<u32, HeaderError> {
    let significant = digits.trim_start_matches('0');
    if significant.len() > 10 {
        return Err(HeaderError::NumberOutOfRange);
    }
    let v: u64 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| HeaderError::BadNumber)?
    };
    if v > max {
        return Err(HeaderError::NumberOutOfRange);
    }
    u32::try_from(v).map_err(|_| HeaderError::NumberOutOfRange)
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_leading_zeros() {
        let c = CSeq::parse("0009 INVITE").unwrap();
        assert_eq!(
            c,
            CSeq {
                seq: 9,
                method: Method::INVITE
            }
        );
        assert_eq!(c.to_string(), "9 INVITE");
    }

    #[test]
    fn range_and_syntax() {
        assert_eq!(CSeq::parse("2147483647 ACK").unwrap().seq, CSeq::MAX_SEQ);
        assert_eq!(
            CSeq::parse("2147483648 ACK"),
            Err(HeaderError::NumberOutOfRange)
        );
        assert_eq!(
            CSeq::parse("36893488147419103232 REGISTER"),
            Err(HeaderError::NumberOutOfRange)
        );
        assert_eq!(CSeq::parse("INVITE"), Err(HeaderError::BadNumber));
        assert_eq!(CSeq::parse("1INVITE"), Err(HeaderError::BadToken));
        assert_eq!(CSeq::parse("1 INVITE x"), Err(HeaderError::Trailing));
    }
}
