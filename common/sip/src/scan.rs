//! Small lexical helpers shared by the header and URI grammars (RFC 3261 §25.1 basic rules).
//!
//! Header values reach these helpers already unfolded (the message parser turns `LWS` that
//! spans lines into one SP), so "whitespace" here is only SP and HTAB.

use crate::error::HeaderError;
use crate::method::is_token_char;

/// A cursor over one header value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Consumes `c` (after optional whitespace, and whitespace after it): SWS c SWS.
    pub(crate) fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes `c` exactly at the current position.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Takes bytes while `f` holds.
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..).unwrap_or_default();
        self.pos = start + rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        // Only ASCII predicates are used, so the cut is on a char boundary.
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// Takes bytes up to (not including) the ASCII byte `stop`, or all that remain:
    /// `take_while(|b| b != stop)` with a vectorised search.
    pub(crate) fn take_until(&mut self, stop: u8) -> &'a str {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..).unwrap_or_default();
        self.pos = start + memchr::memchr(stop, rest).unwrap_or(rest.len());
        // `stop` is ASCII, so the cut is on a char boundary.
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// A `token`.
    pub(crate) fn token(&mut self) -> Result<&'a str, HeaderError> {
        let t = self.take_while(is_token_char);
        if t.is_empty() {
            Err(HeaderError::BadToken)
        } else {
            Ok(t)
        }
    }

    /// A `quoted-string`, returned with its quotes (raw). Must start at `"`.
    pub(crate) fn quoted(&mut self) -> Result<&'a str, HeaderError> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(HeaderError::BadToken);
        }
        let bytes = self.s.as_bytes();
        // Jump from one `\\` or `"` to the next; a `\\` escapes the byte after it.
        while let Some(off) = bytes
            .get(self.pos..)
            .and_then(|rest| memchr::memchr2(b'\\', b'"', rest))
        {
            self.pos += off;
            if bytes.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                return Ok(self.s.get(start..self.pos).unwrap_or(""));
            }
            self.pos += 2;
        }
        self.pos = self.pos.max(bytes.len());
        Err(HeaderError::UnterminatedQuote)
    }

    /// `token / quoted-string` (raw).
    pub(crate) fn token_or_quoted(&mut self) -> Result<&'a str, HeaderError> {
        if self.peek() == Some(b'"') {
            self.quoted()
        } else {
            self.token()
        }
    }

    /// Succeeds when only whitespace remains.
    pub(crate) fn finish(&mut self) -> Result<(), HeaderError> {
        self.skip_ws();
        if self.is_empty() {
            Ok(())
        } else {
            Err(HeaderError::Trailing)
        }
    }
}

/// Characters allowed in a `gen-value` that is a host (besides token chars): IPv6 references.
fn is_gen_value_char(b: u8) -> bool {
    is_token_char(b) || matches!(b, b'[' | b']' | b':')
}

/// One `generic-param` (`token [ EQUAL gen-value ]`) as raw name and raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter name as received.
    pub name: String,
    /// Raw value (quotes kept for a quoted-string), `None` for a flag parameter.
    pub value: Option<String>,
}

/// A list of `generic-param`s in order, looked up case-insensitively by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// The value of parameter `name`: `Some(None)` for a flag, surrounding quotes removed.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref().map(unquote))
    }

    /// Whether parameter `name` is present (with or without value).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Sets (replaces or appends) a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        if let Some(p) = self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.0.push(Param {
                name: name.to_owned(),
                value,
            });
        }
    }

    /// Removes parameter `name`; returns whether it was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
        before != self.0.len()
    }

    /// Iterates `(name, raw value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|p| (p.name.as_str(), p.value.as_deref()))
    }

    /// Parses `*( SEMI generic-param )` from the cursor until something else comes.
    pub(crate) fn parse_semi(c: &mut Cursor<'_>) -> Result<Params, HeaderError> {
        let mut out = Vec::new();
        while c.eat_sep(b';') {
            let (name, value) = scan_generic_param(c)?;
            out.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        }
        Ok(Params(out))
    }

    /// The syntax check of [`Params::parse_semi`] without building the list (no allocation).
    pub(crate) fn check_semi(c: &mut Cursor<'_>) -> Result<(), HeaderError> {
        while c.eat_sep(b';') {
            scan_generic_param(c)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Params {
    /// Writes `;name=value` for each parameter.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            match &p.value {
                Some(v) => write!(f, ";{}={}", p.name, v)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        Ok(())
    }
}

/// `generic-param = token [ EQUAL gen-value ]`, `gen-value = token / host / quoted-string`.
pub(crate) fn parse_generic_param(c: &mut Cursor<'_>) -> Result<Param, HeaderError> {
    let (name, value) = scan_generic_param(c)?;
    Ok(Param {
        name: name.to_owned(),
        value: value.map(str::to_owned),
    })
}

/// [`parse_generic_param`] as slices of the input: raw name and raw value.
pub(crate) fn scan_generic_param<'a>(
    c: &mut Cursor<'a>,
) -> Result<(&'a str, Option<&'a str>), HeaderError> {
    let name = c.token().map_err(|_| HeaderError::BadParam)?;
    let value = if c.eat_sep(b'=') {
        let v = if c.peek() == Some(b'"') {
            c.quoted()?
        } else {
            c.take_while(is_gen_value_char)
        };
        if v.is_empty() {
            return Err(HeaderError::BadParam);
        }
        Some(v)
    } else {
        None
    };
    Ok((name, value))
}

/// Strips the quotes of a raw quoted-string (escapes stay as they are); other text unchanged.
pub fn unquote(s: &str) -> &str {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s.get(1..s.len() - 1).unwrap_or(s)
    } else {
        s
    }
}

/// Splits a header value at top-level commas (§7.3.1), ignoring commas inside quoted strings
/// and `<...>`. Elements are trimmed; empty elements are yielded (callers reject them where the
/// grammar does not allow them).
pub fn split_commas(value: &str) -> SplitCommas<'_> {
    SplitCommas {
        s: value,
        pos: 0,
        done: false,
    }
}

/// Iterator returned by [`split_commas`].
#[derive(Debug, Clone)]
pub struct SplitCommas<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for SplitCommas<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut in_quote = false;
        let mut in_angle = false;
        // Only a few bytes matter in each state (never inside quotes and angles at once), so
        // jump from one to the next instead of looking at every byte.
        while let Some(rest) = bytes.get(i..) {
            let next = if in_quote {
                memchr::memchr2(b'"', b'\\', rest)
            } else if in_angle {
                memchr::memchr(b'>', rest)
            } else {
                memchr::memchr3(b',', b'"', b'<', rest)
            };
            let Some(off) = next else { break };
            i += off;
            match bytes.get(i) {
                Some(b'\\') if in_quote => i += 1,
                Some(b'"') if !in_angle => in_quote = !in_quote,
                Some(b'<') if !in_quote => in_angle = true,
                Some(b'>') if !in_quote => in_angle = false,
                Some(b',') if !in_quote && !in_angle => {
                    self.pos = i + 1;
                    return Some(self.s.get(start..i).unwrap_or("").trim_matches(is_ws));
                }
                _ => {}
            }
            i += 1;
        }
        self.done = true;
        Some(self.s.get(start..).unwrap_or("").trim_matches(is_ws))
    }
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_quotes_and_angles_do_not_split() {
        let v: Vec<_> = split_commas(r#""Bell, A." <sip:a@b;x=1,2>;p, <sip:c@d> , e"#).collect();
        assert_eq!(v, vec![r#""Bell, A." <sip:a@b;x=1,2>;p"#, "<sip:c@d>", "e"]);
    }

    /// The byte-at-a-time definition of [`split_commas`] (§7.3.1) the fast version must match.
    fn split_commas_reference(s: &str) -> Vec<&str> {
        let (mut out, mut start) = (Vec::new(), 0);
        let (mut in_quote, mut in_angle, mut escaped) = (false, false, false);
        for (i, b) in s.bytes().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' if in_quote => escaped = true,
                b'"' if !in_angle => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => {
                    out.push(s[start..i].trim_matches(is_ws));
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(s[start..].trim_matches(is_ws));
        out
    }

    /// The byte-at-a-time definition of [`Cursor::quoted`]: result and final position.
    fn quoted_reference(s: &str) -> (Result<&str, HeaderError>, usize) {
        let b = s.as_bytes();
        if b.first() != Some(&b'"') {
            return (Err(HeaderError::BadToken), 0);
        }
        let mut pos = 1;
        while let Some(&c) = b.get(pos) {
            match c {
                b'\\' => pos += 2,
                b'"' => return (Ok(&s[..pos + 1]), pos + 1),
                _ => pos += 1,
            }
        }
        (Err(HeaderError::UnterminatedQuote), pos)
    }

    proptest::proptest! {
        /// The skipping quoted-string reader agrees with the byte-at-a-time definition.
        #[test]
        fn quoted_matches_reference(s in "\"[a\"\\\\ ]{0,12}") {
            let mut c = Cursor::new(&s);
            let got = c.quoted();
            proptest::prop_assert_eq!((got, c.pos()), quoted_reference(&s));
        }

        /// The skipping splitter agrees with the byte-at-a-time definition.
        #[test]
        fn split_commas_matches_reference(s in "[a,\"<>\\\\ ;=]{0,30}") {
            let fast: Vec<&str> = split_commas(&s).collect();
            proptest::prop_assert_eq!(fast, split_commas_reference(&s));
        }
    }

    #[test]
    fn empty_elements_are_kept() {
        let v: Vec<_> = split_commas(";;,,;").collect();
        assert_eq!(v, vec![";;", "", ";"]);
    }

    #[test]
    fn escaped_quote_does_not_close() {
        let v: Vec<_> = split_commas(r#""a\",b" x, y"#).collect();
        assert_eq!(v, vec![r#""a\",b" x"#, "y"]);
    }

    #[test]
    fn params_with_spaces_and_quotes() {
        let mut c = Cursor::new(" ;  tag = 19n ; q=0.3;lr; x=\"a;b\"");
        let p = Params::parse_semi(&mut c).unwrap();
        assert!(c.is_empty());
        assert_eq!(p.get("TAG"), Some(Some("19n")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("x"), Some(Some("a;b")));
        assert_eq!(p.get("nope"), None);
    }

    #[test]
    fn empty_param_is_an_error() {
        let mut c = Cursor::new(";;");
        assert_eq!(Params::parse_semi(&mut c), Err(HeaderError::BadParam));
    }

    #[test]
    fn unterminated_quote() {
        let mut c = Cursor::new("\"abc");
        assert_eq!(c.quoted(), Err(HeaderError::UnterminatedQuote));
    }
}
