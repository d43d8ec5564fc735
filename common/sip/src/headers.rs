//! The header section of a message, kept as received (RFC 3261 §7.3).
//!
//! Fields are stored in order as ranges into one shared, reference-counted copy of the received
//! start line and header section (validated as UTF-8 once), so parsing costs one index entry
//! per field and no per-field allocation; fields added or replaced later own their text.
//! Folded values (LWS spanning lines, §7.3.1) are the exception: they are stored unfolded, each
//! line break with its surrounding whitespace replaced by one SP, which is equivalent on the wire. Names are matched case-insensitively and compact forms (§7.3.3) are equivalent to the
//! long ones, but each field keeps the spelling it arrived with, so a proxy forwards unknown
//! and known headers untouched.

use std::fmt;

use std::sync::Arc;

use crate::scan::split_commas;

/// Text of a header name or value: a range of the shared buffer, or owned.
#[derive(Clone, Debug)]
enum Text {
    Shared { start: u32, end: u32 },
    Owned(Box<str>),
}

#[derive(Clone, Debug)]
pub(crate) struct Field {
    name: Text,
    value: Text,
    /// The known header this is (under its long or compact name), if any.
    canon: Option<Canon>,
}

/// An ordered list of header fields.
#[derive(Clone, Default)]
pub struct Headers {
    /// The received start line and header section, validated as UTF-8 once when parsed.
    buf: Arc<str>,
    fields: Vec<Field>,
}

/// The value of a field as the parser found it: a range of the header section, or unfolded.
pub(crate) enum RawValue {
    Range(usize, usize),
    Unfolded(String),
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// A field the parser found: the name is `name` (a range of the header section) and is the
    /// known header `canon`, if any.
    pub(crate) fn raw_field(name: (usize, usize), value: RawValue, canon: Option<Canon>) -> Field {
        let value = match value {
            RawValue::Range(s, e) => Text::Shared {
                start: s as u32,
                end: e as u32,
            },
            RawValue::Unfolded(v) => Text::Owned(v.into_boxed_str()),
        };
        Field {
            name: Text::Shared {
                start: name.0 as u32,
                end: name.1 as u32,
            },
            value,
            canon,
        }
    }

    /// The index over `head` (start line and header section) from the parser's fields.
    pub(crate) fn from_fields(head: Arc<str>, fields: Vec<Field>) -> Headers {
        Headers { buf: head, fields }
    }

    fn text<'a>(&'a self, t: &'a Text) -> &'a str {
        match t {
            Text::Owned(s) => s,
            // Ranges come from the parser and lie on char boundaries of `buf`.
            Text::Shared { start, end } => {
                self.buf.get(*start as usize..*end as usize).unwrap_or("")
            }
        }
    }

    fn find<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a Field> + use<'a, 'n> {
        let qcanon = canonical(name.as_bytes());
        self.fields
            .iter()
            .filter(move |f| field_is(&self.buf, f, name, qcanon))
    }

    /// The fields that are the known header `canon`.
    fn find_canon(&self, canon: Canon) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |f| f.canon == Some(canon))
    }

    /// [`Headers::get`] for a known header.
    pub(crate) fn get_canon(&self, canon: Canon) -> Option<&str> {
        self.find_canon(canon).next().map(|f| self.text(&f.value))
    }

    /// [`Headers::get_all`] for a known header.
    pub(crate) fn get_all_canon(&self, canon: Canon) -> impl Iterator<Item = &str> {
        self.find_canon(canon).map(|f| self.text(&f.value))
    }

    /// [`Headers::values`] for a known header.
    pub(crate) fn values_canon(&self, canon: Canon) -> impl Iterator<Item = &str> {
        self.get_all_canon(canon).flat_map(split_commas)
    }

    /// The value of the first field named `name` (case-insensitive, compact forms equivalent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).next().map(|f| self.text(&f.value))
    }

    /// The values of every field (header line) named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.find(name).map(|f| self.text(&f.value))
    }

    /// Every comma-separated element of every field named `name` (§7.3.1), respecting quoted
    /// strings and `<...>`. Not for headers whose grammar has commas inside one value
    /// (Authorization, WWW-Authenticate, Date...): use [`Headers::get_all`] for those.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(split_commas)
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).next().is_some()
    }

    /// Number of fields named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.find(name).count()
    }

    fn owned_field(name: &str, value: &str) -> Field {
        Field {
            canon: canonical(name.as_bytes()),
            name: Text::Owned(name.into()),
            value: Text::Owned(value.into()),
        }
    }

    /// Appends a field at the end.
    pub fn push(&mut self, name: &str, value: &str) {
        self.fields.push(Self::owned_field(name, value));
    }

    /// Inserts a field before all others (e.g. a proxy's Via, §16.6 step 8).
    pub fn push_front(&mut self, name: &str, value: &str) {
        self.fields.insert(0, Self::owned_field(name, value));
    }

    /// Inserts a field before the first field named `name`, or at the end when there is none.
    /// Keeps multi-line headers such as Route or Via contiguous.
    pub fn insert_first(&mut self, name: &str, value: &str) {
        let idx = self.position(name).unwrap_or(self.fields.len());
        self.fields.insert(idx, Self::owned_field(name, value));
    }

    fn position(&self, name: &str) -> Option<usize> {
        let qcanon = canonical(name.as_bytes());
        self.fields
            .iter()
            .position(|f| field_is(&self.buf, f, name, qcanon))
    }

    /// Replaces all fields named `name` by one field with `value`, at the place of the first.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(idx) => {
                if let Some(f) = self.fields.get_mut(idx) {
                    f.value = Text::Owned(value.into());
                }
                let qcanon = canonical(name.as_bytes());
                let mut i = 0;
                let buf = self.buf.clone();
                self.fields.retain(|f| {
                    let keep = i <= idx || !field_is(&buf, f, name, qcanon);
                    i += 1;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let qcanon = canonical(name.as_bytes());
        let before = self.fields.len();
        let buf = self.buf.clone();
        self.fields.retain(|f| !field_is(&buf, f, name, qcanon));
        before - self.fields.len()
    }

    /// Removes the first field named `name` and returns its value.
    pub fn remove_first(&mut self, name: &str) -> Option<String> {
        let idx = self.position(name)?;
        let f = self.fields.remove(idx);
        Some(self.text(&f.value).to_owned())
    }

    /// Removes the first comma-separated element of the first field named `name` (e.g. the top
    /// Via of a combined `Via: a, b` line, §16.7 step 3). Returns the removed element.
    pub fn remove_first_value(&mut self, name: &str) -> Option<String> {
        let idx = self.position(name)?;
        let value = self.text(&self.fields.get(idx)?.value).to_owned();
        let mut parts = split_commas(&value);
        let first = parts.next()?.to_owned();
        let rest: Vec<&str> = parts.collect();
        if rest.is_empty() {
            self.fields.remove(idx);
        } else if let Some(f) = self.fields.get_mut(idx) {
            f.value = Text::Owned(rest.join(", ").into());
        }
        Some(first)
    }

    /// Iterates `(name as received, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|f| (self.text(&f.name), self.text(&f.value)))
    }

    /// Iterates `(canonical name if known, name as received, value)` in order.
    pub(crate) fn iter_canon(&self) -> impl Iterator<Item = (Option<&'static str>, &str, &str)> {
        self.fields.iter().map(|f| {
            (
                f.canon.map(Canon::name),
                self.text(&f.name),
                self.text(&f.value),
            )
        })
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

fn field_is(buf: &str, f: &Field, name: &str, qcanon: Option<Canon>) -> bool {
    match qcanon {
        Some(q) => f.canon == Some(q),
        None => {
            f.canon.is_none()
                && match &f.name {
                    Text::Owned(s) => s.eq_ignore_ascii_case(name),
                    Text::Shared { start, end } => buf
                        .get(*start as usize..*end as usize)
                        .is_some_and(|b| b.eq_ignore_ascii_case(name)),
                }
        }
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Headers {
    /// Same fields in the same order, names compared by their canonical form.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter_canon()
                .zip(other.iter_canon())
                .all(|((ca, na, va), (cb, nb, vb))| {
                    va == vb
                        && match (ca, cb) {
                            (Some(a), Some(b)) => a == b,
                            (None, None) => na.eq_ignore_ascii_case(nb),
                            _ => false,
                        }
                })
    }
}

/// A known header, by its position in [`KNOWN`]: comparing two of these is one byte compare,
/// where comparing names would be a case-insensitive string compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canon(u8);

impl Canon {
    pub(crate) const VIA: Canon = Canon(0);
    pub(crate) const FROM: Canon = Canon(1);
    pub(crate) const TO: Canon = Canon(2);
    pub(crate) const CALL_ID: Canon = Canon(3);
    pub(crate) const CSEQ: Canon = Canon(4);
    pub(crate) const MAX_FORWARDS: Canon = Canon(5);
    pub(crate) const CONTACT: Canon = Canon(6);
    pub(crate) const CONTENT_LENGTH: Canon = Canon(7);
    pub(crate) const DATE: Canon = Canon(43);

    /// The canonical long name.
    pub(crate) fn name(self) -> &'static str {
        KNOWN.get(usize::from(self.0)).copied().unwrap_or("")
    }
}

/// Canonical long names of the known headers, indexed by [`Canon`].
const KNOWN: [&str; 67] = [
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Contact",
    "Content-Length",
    "Content-Type",
    "Content-Encoding",
    "Route",
    "Record-Route",
    "Path",
    "Service-Route",
    "Authorization",
    "WWW-Authenticate",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Authentication-Info",
    "Security-Client",
    "Security-Server",
    "Security-Verify",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "P-Associated-URI",
    "P-Visited-Network-ID",
    "P-Charging-Vector",
    "P-Charging-Function-Addresses",
    "P-Access-Network-Info",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Expires",
    "Min-Expires",
    "Flow-Timer",
    "Event",
    "Allow-Events",
    "Subscription-State",
    "Allow",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Date",
    "Subject",
    "User-Agent",
    "Server",
    "Warning",
    "Retry-After",
    "Timestamp",
    "Session-Expires",
    "Refer-To",
    "Referred-By",
    "Identity",
    "Accept-Contact",
    "Reject-Contact",
    "Request-Disposition",
    "Content-Disposition",
    "MIME-Version",
    "Organization",
    "In-Reply-To",
    "Reply-To",
    "Priority",
    "RSeq",
    "RAck",
    "Privacy",
    "Reason",
];

/// The canonical long name of a known header, mapping compact forms (RFC 3261 §7.3.3 and the
/// IANA registry) to it. `None` for unknown headers.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    canonical(name.as_bytes()).map(Canon::name)
}

/// [`canonical_name`] as a [`Canon`], from the bytes of a name.
pub(crate) fn canonical(b: &[u8]) -> Option<Canon> {
    if b.len() == 1 {
        return Some(Canon(match b.first()?.to_ascii_lowercase() {
            b'a' => 54, // Accept-Contact
            b'b' => 52, // Referred-By
            b'c' => 8,  // Content-Type
            b'd' => 56, // Request-Disposition
            b'e' => 9,  // Content-Encoding
            b'f' => 1,  // From
            b'i' => 3,  // Call-ID
            b'j' => 55, // Reject-Contact
            b'k' => 29, // Supported
            b'l' => 7,  // Content-Length
            b'm' => 6,  // Contact
            b'o' => 36, // Event
            b'r' => 51, // Refer-To
            b's' => 44, // Subject
            b't' => 2,  // To
            b'u' => 37, // Allow-Events
            b'v' => 0,  // Via
            b'x' => 50, // Session-Expires
            b'y' => 53, // Identity
            _ => return None,
        }));
    }
    // Most names arrive in their canonical spelling: match those without lower-casing a copy.
    let exact = match b {
        b"Via" => Some(0),
        b"From" => Some(1),
        b"To" => Some(2),
        b"Call-ID" => Some(3),
        b"CSeq" => Some(4),
        b"Max-Forwards" => Some(5),
        b"Contact" => Some(6),
        b"Content-Length" => Some(7),
        b"Content-Type" => Some(8),
        b"Content-Encoding" => Some(9),
        b"Route" => Some(10),
        b"Record-Route" => Some(11),
        b"Path" => Some(12),
        b"Service-Route" => Some(13),
        b"Authorization" => Some(14),
        b"WWW-Authenticate" => Some(15),
        b"Proxy-Authenticate" => Some(16),
        b"Proxy-Authorization" => Some(17),
        b"Authentication-Info" => Some(18),
        b"Security-Client" => Some(19),
        b"Security-Server" => Some(20),
        b"Security-Verify" => Some(21),
        b"P-Asserted-Identity" => Some(22),
        b"P-Preferred-Identity" => Some(23),
        b"P-Associated-URI" => Some(24),
        b"P-Visited-Network-ID" => Some(25),
        b"P-Charging-Vector" => Some(26),
        b"P-Charging-Function-Addresses" => Some(27),
        b"P-Access-Network-Info" => Some(28),
        b"Supported" => Some(29),
        b"Require" => Some(30),
        b"Proxy-Require" => Some(31),
        b"Unsupported" => Some(32),
        b"Expires" => Some(33),
        b"Min-Expires" => Some(34),
        b"Flow-Timer" => Some(35),
        b"Event" => Some(36),
        b"Allow-Events" => Some(37),
        b"Subscription-State" => Some(38),
        b"Allow" => Some(39),
        b"Accept" => Some(40),
        b"Accept-Encoding" => Some(41),
        b"Accept-Language" => Some(42),
        b"Date" => Some(43),
        b"Subject" => Some(44),
        b"User-Agent" => Some(45),
        b"Server" => Some(46),
        b"Warning" => Some(47),
        b"Retry-After" => Some(48),
        b"Timestamp" => Some(49),
        b"Session-Expires" => Some(50),
        b"Refer-To" => Some(51),
        b"Referred-By" => Some(52),
        b"Identity" => Some(53),
        b"Accept-Contact" => Some(54),
        b"Reject-Contact" => Some(55),
        b"Request-Disposition" => Some(56),
        b"Content-Disposition" => Some(57),
        b"MIME-Version" => Some(58),
        b"Organization" => Some(59),
        b"In-Reply-To" => Some(60),
        b"Reply-To" => Some(61),
        b"Priority" => Some(62),
        b"RSeq" => Some(63),
        b"RAck" => Some(64),
        b"Privacy" => Some(65),
        b"Reason" => Some(66),
        _ => None,
    };
    if let Some(i) = exact {
        return Some(Canon(i));
    }
    let mut lower = [0u8; 32];
    let dst = lower.get_mut(..b.len())?;
    dst.copy_from_slice(b);
    dst.make_ascii_lowercase();
    Some(Canon(match &*dst {
        b"via" => 0,
        b"from" => 1,
        b"to" => 2,
        b"call-id" => 3,
        b"cseq" => 4,
        b"max-forwards" => 5,
        b"contact" => 6,
        b"content-length" => 7,
        b"content-type" => 8,
        b"content-encoding" => 9,
        b"route" => 10,
        b"record-route" => 11,
        b"path" => 12,
        b"service-route" => 13,
        b"authorization" => 14,
        b"www-authenticate" => 15,
        b"proxy-authenticate" => 16,
        b"proxy-authorization" => 17,
        b"authentication-info" => 18,
        b"security-client" => 19,
        b"security-server" => 20,
        b"security-verify" => 21,
        b"p-asserted-identity" => 22,
        b"p-preferred-identity" => 23,
        b"p-associated-uri" => 24,
        b"p-visited-network-id" => 25,
        b"p-charging-vector" => 26,
        b"p-charging-function-addresses" => 27,
        b"p-access-network-info" => 28,
        b"supported" => 29,
        b"require" => 30,
        b"proxy-require" => 31,
        b"unsupported" => 32,
        b"expires" => 33,
        b"min-expires" => 34,
        b"flow-timer" => 35,
        b"event" => 36,
        b"allow-events" => 37,
        b"subscription-state" => 38,
        b"allow" => 39,
        b"accept" => 40,
        b"accept-encoding" => 41,
        b"accept-language" => 42,
        b"date" => 43,
        b"subject" => 44,
        b"user-agent" => 45,
        b"server" => 46,
        b"warning" => 47,
        b"retry-after" => 48,
        b"timestamp" => 49,
        b"session-expires" => 50,
        b"refer-to" => 51,
        b"referred-by" => 52,
        b"identity" => 53,
        b"accept-contact" => 54,
        b"reject-contact" => 55,
        b"request-disposition" => 56,
        b"content-disposition" => 57,
        b"mime-version" => 58,
        b"organization" => 59,
        b"in-reply-to" => 60,
        b"reply-to" => 61,
        b"priority" => 62,
        b"rseq" => 63,
        b"rack" => 64,
        b"privacy" => 65,
        b"reason" => 66,
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.push(
            "v",
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        h.push("VIA", "SIP/2.0/TCP c;branch=z9hG4bK3");
        h.push("From", "\"x, y\" <sip:a@b>;tag=1");
        h.push("X-Custom", "keep me, untouched");
        h
    }

    #[test]
    fn compact_and_case_insensitive_lookup() {
        let h = sample();
        assert_eq!(
            h.get("Via"),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")
        );
        assert_eq!(h.get_all("v").count(), 2);
        assert_eq!(h.values("via").count(), 3);
        assert_eq!(h.get("f"), Some("\"x, y\" <sip:a@b>;tag=1"));
        assert_eq!(h.values("From").count(), 1);
        assert_eq!(h.get("x-custom"), Some("keep me, untouched"));
        assert_eq!(h.get("X-Other"), None);
        // Names keep their received spelling.
        assert_eq!(h.iter().next().map(|(n, _)| n), Some("v"));
    }

    #[test]
    fn mutations() {
        let mut h = sample();
        h.push_front("Via", "SIP/2.0/UDP p;branch=z9hG4bKp");
        assert_eq!(
            h.values("Via").next(),
            Some("SIP/2.0/UDP p;branch=z9hG4bKp")
        );
        assert_eq!(
            h.remove_first("Via").as_deref(),
            Some("SIP/2.0/UDP p;branch=z9hG4bKp")
        );
        assert_eq!(
            h.remove_first_value("Via").as_deref(),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1")
        );
        assert_eq!(h.values("Via").count(), 2);
        h.set("v", "SIP/2.0/UDP only");
        assert_eq!(
            h.get_all("Via").collect::<Vec<_>>(),
            vec!["SIP/2.0/UDP only"]
        );
        assert_eq!(h.remove("x-CUSTOM"), 1);
        assert!(!h.contains("X-Custom"));
        h.set("Max-Forwards", "70");
        assert_eq!(h.get("max-forwards"), Some("70"));
    }

    #[test]
    fn every_known_name_maps_to_itself_in_any_case() {
        for name in KNOWN {
            assert_eq!(canonical_name(name), Some(name));
            assert_eq!(canonical_name(&name.to_ascii_lowercase()), Some(name));
            assert_eq!(canonical_name(&name.to_ascii_uppercase()), Some(name));
        }
        assert_eq!(canonical_name("v"), Some("Via"));
        assert_eq!(canonical_name("L"), Some("Content-Length"));
        assert_eq!(canonical_name("X-Via"), None);
        assert_eq!(canonical(b"f").map(Canon::name), Some("From"));
        let constants = [
            (Canon::VIA, "Via"),
            (Canon::FROM, "From"),
            (Canon::TO, "To"),
            (Canon::CALL_ID, "Call-ID"),
            (Canon::CSEQ, "CSeq"),
            (Canon::MAX_FORWARDS, "Max-Forwards"),
            (Canon::CONTACT, "Contact"),
            (Canon::CONTENT_LENGTH, "Content-Length"),
            (Canon::DATE, "Date"),
        ];
        for (canon, name) in constants {
            assert_eq!(canon.name(), name);
        }
    }

    #[test]
    fn unknown_name_does_not_match_known() {
        let mut h = Headers::new();
        h.push("C%6Fntact", "<sip:a@b>");
        assert!(!h.contains("Contact"));
        assert!(h.contains("c%6fntact"));
    }
}
