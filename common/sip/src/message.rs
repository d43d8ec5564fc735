//! SIP messages: requests and responses (RFC 3261 §7), parsing and serialisation.

use std::fmt;

use bytes::Bytes;

use crate::error::{HeaderError, ParseError};
use crate::header::{CSeq, Contact, From, MaxForwards, NameAddr, To, Via};
use crate::headers::Headers;
use crate::limits::Limits;
use crate::method::Method;
use crate::parser::{self, Input, Transport};
use crate::status::StatusCode;
use crate::uri::Uri;

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version` (§7.1).
    Request {
        /// The method.
        method: Method,
        /// The Request-URI.
        uri: Uri,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase` (§7.2).
    Response {
        /// The status code.
        status: StatusCode,
        /// The reason phrase as received (may be empty).
        reason: String,
    },
}

/// A SIP request or response; headers are kept as received and parsed on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    start: StartLine,
    headers: Headers,
    body: Bytes,
}

impl Message {
    pub(crate) fn from_parts(start: StartLine, headers: Headers, body: Bytes) -> Message {
        Message {
            start,
            headers,
            body,
        }
    }

    /// Parses one whole message (a datagram, or a message already framed by
    /// [`frame_len`](crate::frame_len)) with the default [`Limits`].
    ///
    /// Besides framing, the headers every element relies on are checked (RFC 3261 §16.3 step 1:
    /// Via, From, To, Call-ID, CSeq and its method, Max-Forwards, Contact, Content-Length, Date);
    /// all others stay raw until asked for.
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        Self::parse_with_limits(bytes, &Limits::DEFAULT)
    }

    /// [`Message::parse`] with explicit limits.
    pub fn parse_with_limits(bytes: &[u8], limits: &Limits) -> Result<Message, ParseError> {
        if bytes.len() > limits.max_message_len {
            return Err(ParseError::MessageTooLarge {
                max: limits.max_message_len,
            });
        }
        parser::parse(Input::Borrowed(bytes), limits, Transport::Datagram, true)
    }

    /// Parses a message from a buffer the caller already owns, without copying it; header
    /// values and the body are slices of `bytes`.
    pub fn parse_bytes(bytes: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        parser::parse(Input::Shared(bytes), limits, Transport::Datagram, true)
    }

    /// Parses one message framed on a stream transport: Content-Length is then mandatory
    /// (§18.3). Use [`frame_len`](crate::frame_len) first to cut the message out of the stream.
    pub fn parse_stream(bytes: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        parser::parse(Input::Shared(bytes), limits, Transport::Stream, true)
    }

    /// Frames and indexes a message (start line, header lines, Content-Length, body) without
    /// the header checks of [`Message::parse`]: every header stays raw until a typed getter
    /// parses it (and reports its [`HeaderError`]). For hot paths that parse the few headers
    /// they need anyway; call [`Message::check_headers`] to get the full check later.
    pub fn parse_lazy(bytes: &[u8], limits: &Limits) -> Result<Message, ParseError> {
        parser::parse(Input::Borrowed(bytes), limits, Transport::Datagram, false)
    }

    /// The header checks [`Message::parse`] applies (RFC 3261 §16.3 step 1), for a message
    /// obtained with [`Message::parse_lazy`] or built locally.
    pub fn check_headers(&self) -> Result<(), ParseError> {
        crate::validate::check_essential_headers(self)
    }

    /// A request with no headers and no body.
    pub fn request(method: Method, uri: Uri) -> Message {
        Message {
            start: StartLine::Request { method, uri },
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response with the canonical reason phrase, no headers and no body.
    pub fn response(status: StatusCode) -> Message {
        Message {
            start: StartLine::Response {
                status,
                reason: status.canonical_reason().to_owned(),
            },
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response to `request` per RFC 3261 §8.2.6: copies every Via (in order), From, To,
    /// Call-ID and CSeq. No To tag is added; the caller adds one when it is needed (§8.2.6.2).
    pub fn response_to(request: &Message, status: StatusCode) -> Message {
        let mut resp = Message::response(status);
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for value in request.headers.get_all(name) {
                resp.headers.push(name, value);
            }
        }
        resp
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }
    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }
    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }
    /// Replaces the Request-URI of a request (e.g. retargeting, §16.5); no effect on a response.
    pub fn set_request_uri(&mut self, new: Uri) {
        if let StartLine::Request { uri, .. } = &mut self.start {
            *uri = new;
        }
    }
    /// The status code of a response.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }
    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }
    /// Sets the reason phrase of a response.
    pub fn set_reason(&mut self, new: &str) {
        if let StartLine::Response { reason, .. } = &mut self.start {
            *reason = new.to_owned();
        }
    }
    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
    /// The header fields, mutable.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The body as shared bytes.
    pub fn body_bytes(&self) -> &Bytes {
        &self.body
    }
    /// Replaces the body; Content-Length is recomputed on output.
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = body.into();
    }

    /// The topmost Via value (§8.1.1.7).
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        let v = self
            .headers
            .values("Via")
            .next()
            .ok_or(HeaderError::Missing("Via"))?;
        Via::parse(v)
    }
    /// Every Via value, top first.
    pub fn vias(&self) -> Result<Vec<Via>, HeaderError> {
        self.headers.values("Via").map(Via::parse).collect()
    }
    /// The CSeq (§8.1.1.5).
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        CSeq::parse(
            self.headers
                .get("CSeq")
                .ok_or(HeaderError::Missing("CSeq"))?,
        )
    }
    /// The Call-ID (§8.1.1.4).
    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.headers
            .get("Call-ID")
            .ok_or(HeaderError::Missing("Call-ID"))
    }
    /// The From header (§8.1.1.3).
    pub fn from(&self) -> Result<From, HeaderError> {
        From::parse(
            self.headers
                .get("From")
                .ok_or(HeaderError::Missing("From"))?,
        )
    }
    /// The To header (§8.1.1.2).
    pub fn to(&self) -> Result<To, HeaderError> {
        To::parse(self.headers.get("To").ok_or(HeaderError::Missing("To"))?)
    }
    /// Max-Forwards (§8.1.1.6).
    pub fn max_forwards(&self) -> Result<MaxForwards, HeaderError> {
        MaxForwards::parse(
            self.headers
                .get("Max-Forwards")
                .ok_or(HeaderError::Missing("Max-Forwards"))?,
        )
    }
    /// Every Contact value across all Contact lines (§8.1.1.8, §10.2.1).
    pub fn contacts(&self) -> Result<Vec<Contact>, HeaderError> {
        self.headers.values("Contact").map(Contact::parse).collect()
    }

    /// Every comma-separated name-addr of header `name` across all its lines, in order: for
    /// Route, Record-Route, Path, Service-Route, P-Asserted-Identity, P-Associated-URI.
    pub fn name_addrs(&self, name: &str) -> Result<Vec<NameAddr>, HeaderError> {
        self.headers.values(name).map(NameAddr::parse).collect()
    }

    /// Serialises the message; Content-Length always equals the body length (§20.14): the
    /// first Content-Length field is rewritten, others dropped, one added if absent.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len_hint());
        match &self.start {
            StartLine::Request { method, uri } => {
                out.extend_from_slice(method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(uri.to_string().as_bytes());
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { status, reason } => {
                out.extend_from_slice(b"SIP/2.0 ");
                out.extend_from_slice(status.to_string().as_bytes());
                out.push(b' ');
                out.extend_from_slice(reason.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        let mut wrote_length = false;
        for (canon, name, value) in self.headers.iter_canon() {
            if canon == Some("Content-Length") {
                if wrote_length {
                    continue;
                }
                wrote_length = true;
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(self.body.len().to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !wrote_length {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(self.body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    /// The wire form (see [`Message::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    fn encoded_len_hint(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        64 + headers + self.body.len()
    }
}

impl fmt::Display for Message {
    /// The wire form; a binary body is shown lossily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame_len;
    use proptest::prelude::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK5, SIP/2.0/TCP [2001:db8::7]:5070;branch=z9hG4bK6\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
X-Unknown: a, \"b,c\" ;; odd\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn parse_and_getters() {
        let m = Message::parse(INVITE).unwrap();
        assert!(m.is_request());
        assert_eq!(m.method(), Some(&Method::INVITE));
        assert_eq!(m.request_uri().unwrap().user(), Some("bob"));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.vias().unwrap().len(), 3);
        assert_eq!(m.cseq().unwrap().seq, 314159);
        assert_eq!(m.call_id(), Ok("a84b4c76e66710@pc33.atlanta.example.com"));
        assert_eq!(m.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.max_forwards().unwrap().0, 70);
        assert_eq!(m.headers().get("x-unknown"), Some("a, \"b,c\" ;; odd"));
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(m.status(), None);
    }

    #[test]
    fn serialise_fixes_content_length() {
        let mut m = Message::parse(INVITE).unwrap();
        let sdp: &[u8] = b"v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\n";
        m.set_body(sdp);
        let wire = m.to_bytes();
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", sdp.len())));
        assert_eq!(text.matches("Content-Length").count(), 1);
        let again = Message::parse(&wire).unwrap();
        assert_eq!(again.body(), sdp);
        // Unknown header forwarded untouched.
        assert!(text.contains("X-Unknown: a, \"b,c\" ;; odd\r\n"));

        let mut r = Message::response(StatusCode::OK);
        r.headers_mut().push("Content-Length", "99");
        r.headers_mut().push("l", "98");
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(text, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        let empty = Message::request(Method::OPTIONS, Uri::parse("sip:x").unwrap());
        assert_eq!(
            String::from_utf8(empty.to_bytes()).unwrap(),
            "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn response_to_copies_8_2_6_headers() {
        let req = Message::parse(INVITE).unwrap();
        let resp = Message::response_to(&req, StatusCode::RINGING);
        assert_eq!(resp.status(), Some(StatusCode::RINGING));
        assert_eq!(resp.reason(), Some("Ringing"));
        assert_eq!(resp.vias().unwrap().len(), 3);
        assert_eq!(resp.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(resp.to().unwrap().tag(), None);
        assert_eq!(resp.call_id(), req.call_id());
        assert_eq!(resp.cseq(), req.cseq());
        assert!(!resp.headers().contains("Contact"));
        assert!(!resp.headers().contains("Max-Forwards"));
        let back = Message::parse(&resp.to_bytes()).unwrap();
        // The wire form adds Content-Length: 0 after the copied fields.
        assert_eq!(back.headers().len(), resp.headers().len() + 1);
        assert_eq!(back.headers().get("Content-Length"), Some("0"));
        assert!(back
            .headers()
            .iter()
            .zip(resp.headers().iter())
            .all(|(a, b)| a == b));
    }

    #[test]
    fn limits_name_the_limit() {
        let small = Limits {
            max_headers: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Message::parse_with_limits(INVITE, &small).err(),
            Some(ParseError::TooManyHeaders { max: 3 })
        );
        let short = Limits {
            max_line_len: 40,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Message::parse_with_limits(INVITE, &short).err(),
            Some(ParseError::LineTooLong { max: 40 })
        );
        let body = Limits {
            max_body_len: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Message::parse_with_limits(INVITE, &body).err(),
            Some(ParseError::BodyTooLarge { max: 3 })
        );
        let total = Limits {
            max_message_len: 100,
            ..Limits::DEFAULT
        };
        let err = Message::parse_with_limits(INVITE, &total).err();
        assert_eq!(err, Some(ParseError::MessageTooLarge { max: 100 }));
        assert_eq!(err.map(|e| e.status()), Some(StatusCode::MESSAGE_TOO_LARGE));
    }

    #[test]
    fn framing_on_streams() {
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(INVITE);
        let full = stream.len();
        stream.extend_from_slice(b"OPTIONS sip:x SIP/2.0\r\n");
        assert_eq!(frame_len(&stream, &Limits::DEFAULT), Ok(Some(full)));
        assert_eq!(frame_len(&stream[..full - 1], &Limits::DEFAULT), Ok(None));
        assert_eq!(frame_len(&stream[..20], &Limits::DEFAULT), Ok(None));
        let m = Message::parse_stream(Bytes::copy_from_slice(&stream[..full]), &Limits::DEFAULT)
            .unwrap();
        assert_eq!(m.body(), b"v=0\n");
        let no_cl = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n";
        assert_eq!(
            frame_len(no_cl, &Limits::DEFAULT),
            Err(ParseError::MissingContentLength)
        );
        assert_eq!(
            Message::parse_stream(Bytes::from_static(no_cl), &Limits::DEFAULT).err(),
            Some(ParseError::MissingContentLength)
        );
        let two = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab";
        assert_eq!(
            frame_len(two, &Limits::DEFAULT),
            Err(ParseError::ConflictingContentLength)
        );
    }

    #[test]
    fn lazy_parse_defers_header_checks() {
        let bad = b"OPTIONS sip:a@b SIP/2.0\r\nTo: \"unterminated <sip:a@b>\r\nl: 0\r\n\r\n";
        let m = Message::parse_lazy(bad, &Limits::DEFAULT).unwrap();
        assert_eq!(m.to().err(), Some(HeaderError::UnterminatedQuote));
        let expected = ParseError::BadHeader {
            name: "To",
            error: HeaderError::UnterminatedQuote,
        };
        assert_eq!(m.check_headers().err(), Some(expected.clone()));
        assert_eq!(Message::parse(bad).err(), Some(expected));
        // Framing errors are still reported.
        assert_eq!(
            Message::parse_lazy(
                b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nab",
                &Limits::DEFAULT
            )
            .err(),
            Some(ParseError::BodyTruncated {
                declared: 5,
                available: 2
            })
        );
    }

    #[test]
    fn start_line_errors() {
        assert_eq!(Message::parse(b"").err(), Some(ParseError::Empty));
        assert_eq!(Message::parse(b"\r\n\r\n").err(), Some(ParseError::Empty));
        assert_eq!(
            Message::parse(b"SIP/2.0 99 Low\r\n\r\n").err(),
            Some(ParseError::BadStatusCode)
        );
        assert_eq!(
            Message::parse(b"SIP/3.0 200 OK\r\n\r\n").err(),
            Some(ParseError::BadVersion)
        );
        assert_eq!(
            Message::parse(b"INV<ITE sip:a@b SIP/2.0\r\n\r\n").err(),
            Some(ParseError::BadMethod)
        );
        assert_eq!(
            Message::parse(b"INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n").err(),
            Some(ParseError::BadHeaderLine { line: 2 })
        );
        assert_eq!(
            Message::parse(b"INVITE sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n").err(),
            Some(ParseError::NotUtf8 { line: 2 })
        );
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!%*_+`'~.-]{1,12}"
    }

    proptest! {
        /// Any message built from arbitrary tokens and body bytes serialises and parses back to
        /// the same start line, headers and body.
        #[test]
        fn round_trip(
            method in "[A-Z]{1,10}",
            user in "[a-z0-9._-]{1,10}",
            host in "[a-z]{1,10}(\\.[a-z]{1,8}){0,2}",
            port in proptest::option::of(1u16..),
            seq in 0u32..=CSeq::MAX_SEQ,
            extra in proptest::collection::vec((token(), "[ -~]{0,30}"), 0..6),
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut uri = Uri::sip(crate::uri::Host::parse(&host).unwrap());
            uri.set_user(Some(&user));
            uri.set_port(port);
            let method = Method::from_token(&method).unwrap();
            let mut m = Message::request(method.clone(), uri);
            m.headers_mut().push("Via", "SIP/2.0/UDP h.example.com;branch=z9hG4bKx");
            m.headers_mut().push("CSeq", &format!("{seq} {method}"));
            for (n, v) in &extra {
                // Skip names that the parser checks so random values cannot make it invalid.
                if crate::headers::canonical_name(n).is_none() {
                    m.headers_mut().push(n, v.trim());
                }
            }
            m.set_body(body.clone());
            let wire = m.to_bytes();
            let back = Message::parse(&wire).unwrap();
            prop_assert_eq!(back.start_line(), m.start_line());
            prop_assert_eq!(back.headers().len(), m.headers().len() + 1);
            prop_assert_eq!(back.body(), &body[..]);
            prop_assert_eq!(back.cseq().unwrap().seq, seq);
            prop_assert_eq!(back.to_bytes(), wire);
        }

        /// The parser never panics, whatever the input.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Message::parse(&bytes);
            let _ = frame_len(&bytes, &Limits::DEFAULT);
        }

        /// Mutating one byte of a valid message gives a message or an error, never a panic.
        #[test]
        fn mutated_invite_never_panics(i in 0usize..INVITE.len(), b in any::<u8>()) {
            let mut v = INVITE.to_vec();
            v[i] = b;
            if let Ok(m) = Message::parse(&v) {
                let _ = m.to_bytes();
                let _ = crate::rfc4475_expected_response(&m);
            }
        }
    }
}
