//! Headers whose value is one number, one token or a token list: Max-Forwards (§20.22),
//! Expires (§20.19), Min-Expires (§20.23), Flow-Timer (RFC 5626 §11.2), Content-Length (§20.14),
//! Call-ID (§20.8), Supported / Require / Proxy-Require / Unsupported (§20.37, §20.32,
//! §20.29, §20.40) and Allow (§20.5).

use std::fmt;

use crate::error::HeaderError;
use crate::header::cseq::parse_u32_max;
use crate::method::{is_token, Method};
use crate::scan::split_commas;

fn digits(s: &str) -> Result<&str, HeaderError> {
    let v = s.trim_matches([' ', '\t']);
    if v.is_empty() {
        return Err(HeaderError::Empty);
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::BadNumber);
    }
    Ok(v)
}

/// `Max-Forwards = 1*DIGIT`, limited to 0..=255 (§8.1.1.6 recommends 70; RFC 4475 §3.1.2.4
/// treats larger values as invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MaxForwards(pub u8);

impl MaxForwards {
    /// Parses the value.
    pub fn parse(s: &str) -> Result<MaxForwards, HeaderError> {
        let v = parse_u32_max(digits(s)?, 255)?;
        u8::try_from(v)
            .map(MaxForwards)
            .map_err(|_| HeaderError::NumberOutOfRange)
    }
}

impl fmt::Display for MaxForwards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! delta_seconds {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// Parses `delta-seconds` (values above 2^32-1 are an error).
            pub fn parse(s: &str) -> Result<$name, HeaderError> {
                parse_u32_max(digits(s)?, u64::from(u32::MAX)).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

delta_seconds!(
    /// `Expires = delta-seconds` (§20.19).
    Expires
);
delta_seconds!(
    /// `Min-Expires = delta-seconds` (§20.23).
    MinExpires
);
delta_seconds!(
    /// `Flow-Timer = 1*DIGIT`: seconds between keep-alives the server expects (RFC 5626 §11.2).
    FlowTimer
);

/// `Content-Length = 1*DIGIT` (§20.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLength(pub usize);

impl ContentLength {
    /// Parses the value.
    pub fn parse(s: &str) -> Result<ContentLength, HeaderError> {
        crate::parser::parse_content_length(s)
            .map(ContentLength)
            .map_err(|_| HeaderError::BadNumber)
    }
}

impl fmt::Display for ContentLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `Call-ID = callid`, `callid = word [ "@" word ]` (§20.8, §25.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

/// `word` characters (§25.1): token characters plus `( ) < > : \ " / [ ] ? { }`.
fn is_word_char(b: u8) -> bool {
    crate::method::is_token_char(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

impl CallId {
    /// Parses and checks a Call-ID.
    pub fn parse(s: &str) -> Result<CallId, HeaderError> {
        Self::check(s).map(|v| CallId(v.to_owned()))
    }

    /// Checks a Call-ID without copying it; returns the trimmed value.
    pub fn check(s: &str) -> Result<&str, HeaderError> {
        let v = s.trim_matches([' ', '\t']);
        if v.is_empty() {
            return Err(HeaderError::Empty);
        }
        let mut parts = v.splitn(2, '@');
        if parts.all(|w| !w.is_empty() && w.bytes().all(is_word_char)) {
            Ok(v)
        } else {
            Err(HeaderError::BadToken)
        }
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A list of option tags: Supported, Require, Proxy-Require, Unsupported (§19.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionTags(pub Vec<String>);

impl OptionTags {
    /// Parses `option-tag *(COMMA option-tag)`; Supported may be empty (§20.37).
    pub fn parse(s: &str) -> Result<OptionTags, HeaderError> {
        if s.trim_matches([' ', '\t']).is_empty() {
            return Ok(OptionTags::default());
        }
        split_commas(s)
            .map(|t| {
                if is_token(t) {
                    Ok(t.to_owned())
                } else {
                    Err(HeaderError::BadToken)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(OptionTags)
    }

    /// Whether `tag` is listed (option tags compare case-sensitively, §19.2... in practice
    /// all registered tags are lower case, so an exact comparison is used).
    pub fn contains(&self, tag: &str) -> bool {
        self.0.iter().any(|t| t == tag)
    }
}

impl fmt::Display for OptionTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// `Allow = [Method *(COMMA Method)]` (§20.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allow(pub Vec<Method>);

impl Allow {
    /// Parses the value.
    pub fn parse(s: &str) -> Result<Allow, HeaderError> {
        if s.trim_matches([' ', '\t']).is_empty() {
            return Ok(Allow::default());
        }
        split_commas(s)
            .map(|t| Method::from_token(t).ok_or(HeaderError::BadToken))
            .collect::<Result<Vec<_>, _>>()
            .map(Allow)
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_forwards() {
        assert_eq!(MaxForwards::parse("0068"), Ok(MaxForwards(68)));
        assert_eq!(MaxForwards::parse("255"), Ok(MaxForwards(255)));
        assert_eq!(
            MaxForwards::parse("300"),
            Err(HeaderError::NumberOutOfRange)
        );
        assert_eq!(MaxForwards::parse("-1"), Err(HeaderError::BadNumber));
        assert_eq!(MaxForwards::parse(""), Err(HeaderError::Empty));
    }

    #[test]
    fn expires_and_flow_timer() {
        assert_eq!(Expires::parse("3600"), Ok(Expires(3600)));
        assert_eq!(
            Expires::parse("1".repeat(100).as_str()),
            Err(HeaderError::NumberOutOfRange)
        );
        assert_eq!(FlowTimer::parse(" 120 "), Ok(FlowTimer(120)));
    }

    #[test]
    fn call_id() {
        assert!(CallId::parse("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert_eq!(CallId::parse("a b"), Err(HeaderError::BadToken));
        assert_eq!(CallId::parse("a@"), Err(HeaderError::BadToken));
        assert_eq!(CallId::parse(""), Err(HeaderError::Empty));
    }

    #[test]
    fn option_tags_and_allow() {
        let t = OptionTags::parse("path, sec-agree ,outbound").unwrap();
        assert!(t.contains("sec-agree") && t.contains("outbound"));
        assert_eq!(t.to_string(), "path, sec-agree, outbound");
        assert_eq!(OptionTags::parse(""), Ok(OptionTags::default()));
        assert_eq!(OptionTags::parse("a b"), Err(HeaderError::BadToken));
        let a = Allow::parse("INVITE, ACK,BYE").unwrap();
        assert_eq!(a.0, vec![Method::INVITE, Method::ACK, Method::BYE]);
    }
}
