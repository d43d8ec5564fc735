//! SIP request methods (RFC 3261 §7.1, §25.1 `Method`).

use std::borrow::Cow;
use std::fmt;

/// A request method: an open newtype over the `token`, so extension methods pass through.
///
/// Methods are case-sensitive (RFC 3261 §7.1). The well-known ones are associated constants that
/// do not allocate; [`Method::from_token`] maps them back to those constants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(Cow<'static, str>);

macro_rules! methods {
    ($($name:ident),* $(,)?) => {
        impl Method {
            $(
                #[doc = concat!("The `", stringify!($name), "` method.")]
                pub const $name: Method = Method(Cow::Borrowed(stringify!($name)));
            )*

            /// Builds a method from its token (case-sensitive); `None` if it is not a `token`.
            pub fn from_token(token: &str) -> Option<Method> {
                match token {
                    $(stringify!($name) => Some(Method::$name),)*
                    _ if is_token(token) => Some(Method(Cow::Owned(token.to_owned()))),
                    _ => None,
                }
            }
        }
    };
}

methods!(
    INVITE, ACK, BYE, CANCEL, REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, PRACK, UPDATE, INFO, REFER,
    MESSAGE, PUBLISH
);

impl Method {
    /// The method token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({})", self.0)
    }
}

impl std::str::FromStr for Method {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_token(s).ok_or(crate::ParseError::BadMethod)
    }
}

/// `token` characters of RFC 3261 §25.1: `alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"`.
const fn token_char_rule(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// [`token_char_rule`] as a table: header names are scanned byte by byte on every message.
static TOKEN_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = token_char_rule(i as u8);
        i += 1;
    }
    t
};

/// Whether `b` is a `token` character (RFC 3261 §25.1).
#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS.get(usize::from(b)).copied().unwrap_or(false)
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_map_to_constants() {
        assert_eq!(Method::from_token("INVITE"), Some(Method::INVITE));
        assert_eq!(Method::from_token("PUBLISH").unwrap().as_str(), "PUBLISH");
    }

    #[test]
    fn methods_are_case_sensitive_and_open() {
        let m = Method::from_token("invite").unwrap();
        assert_ne!(m, Method::INVITE);
        assert_eq!(m.to_string(), "invite");
        let odd = Method::from_token("!interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert_eq!(odd.as_str(), "!interesting-Method0123456789_*+`.%indeed'~");
    }

    #[test]
    fn non_tokens_are_rejected() {
        assert_eq!(Method::from_token(""), None);
        assert_eq!(Method::from_token("IN VITE"), None);
        assert_eq!(Method::from_token("<INVITE>"), None);
    }
}
