//! Stream framing of SIP messages (RFC 3261 §18.3) and CRLF keep-alives (RFC 5626 §3.5.1, §4.4.1).
//!
//! [`StreamFramer`] is sans-IO: bytes read from a TCP or TLS stream are pushed in with
//! [`StreamFramer::push`], and complete items are pulled out with [`StreamFramer::next_frame`].
//! It only finds message boundaries: the end of the header block (the first empty line) and the
//! body length from `Content-Length` (long form or compact `l`, case-insensitive, folding
//! allowed). Parsing the message is the SIP crate's job.
//!
//! Between messages, CRLFs are keep-alives (RFC 5626 §3.5.1): a double CRLF is a *ping* that the
//! connection answers with a single CRLF *pong*; a lone CRLF is a pong. RFC 3261 §7.5 also lets a
//! peer put stray CRLFs before a start line; such a lone CRLF is reported as a pong too, which is
//! harmless: it still proves the peer is alive.
//!
//! Errors are either recoverable (the framer resynchronised and keeps going) or fatal (the
//! message boundary is unknown, the connection must be closed); see [`FramingError::is_fatal`].

use bytes::{Buf, Bytes, BytesMut};

/// The RFC 5626 §3.5.1 keep-alive ping: a double CRLF.
pub const PING: &[u8] = b"\r\n\r\n";
/// The RFC 5626 §3.5.1 keep-alive pong: a single CRLF.
pub const PONG: &[u8] = b"\r\n";

/// Size limits applied while framing, so a peer cannot make a connection hold unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingLimits {
    /// Largest header block (start line, header fields and the empty line) accepted.
    pub max_header_block: usize,
    /// Largest body (`Content-Length` value) accepted; larger bodies are skipped.
    pub max_body: usize,
}

impl Default for FramingLimits {
    fn default() -> Self {
        Self {
            max_header_block: 32 * 1024,
            max_body: 256 * 1024,
        }
    }
}

/// One item found on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete SIP message: header block and exactly `Content-Length` bytes of body.
    Message(Bytes),
    /// A double-CRLF keep-alive ping (RFC 5626 §4.4.1); the receiver must answer with [`PONG`].
    Ping,
    /// A single-CRLF keep-alive pong (RFC 5626 §4.4.1), or a stray CRLF before a start line.
    Pong,
}

/// Why the framer could not deliver a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The bytes at a message boundary do not start a SIP request or status line (RFC 3261 §7.1,
    /// §7.2). Recoverable: the framer skips lines until the next plausible start line.
    #[error("start line is not SIP; skipping to the next start line")]
    NotSipStartLine,
    /// No empty line within the header block limit. Fatal: the message end is unknown.
    #[error("header block exceeds the limit of {limit} bytes")]
    HeaderBlockTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// A message on a stream without `Content-Length` (RFC 3261 §18.3, §20.14). Fatal: the body
    /// length is unknown, and guessing could turn body bytes (e.g. a `message/sipfrag`) into
    /// messages.
    #[error("message on a stream transport has no Content-Length (RFC 3261 §18.3)")]
    MissingContentLength,
    /// `Content-Length` is not `1*DIGIT`, overflows, or two values disagree. Fatal.
    #[error("invalid Content-Length: {0}")]
    InvalidContentLength(&'static str),
    /// The body is larger than allowed. Recoverable: its length is known, so the framer skips
    /// exactly that many bytes (the message is dropped).
    #[error("body of {length} bytes exceeds the limit of {limit} bytes; message skipped")]
    BodyTooLarge {
        /// The announced `Content-Length`.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
}

impl FramingError {
    /// Whether the connection must be closed: after a fatal error the framer stays failed.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::NotSipStartLine | Self::BodyTooLarge { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Between messages: keep-alive CRLFs or a start line.
    Boundary,
    /// Inside a header block. `scanned` bytes were already searched for the empty line;
    /// `start_line_ok` is set once the first line was checked.
    Header { scanned: usize, start_line_ok: bool },
    /// Header block complete; the message is `total` bytes long.
    Body { total: usize },
    /// Discarding the body of an oversized message.
    SkipBody { remaining: usize },
    /// Discarding garbage until a plausible start line. `at_line_start` is false while in the
    /// middle of a discarded line.
    Resync { at_line_start: bool },
    /// A fatal error happened; the connection must be closed.
    Failed(FramingError),
}

/// Sans-IO framer for SIP over a byte stream (RFC 3261 §18.3).
///
/// Its buffer grows as needed for the message in progress and is released whenever it is empty
/// at a message boundary, so an idle connection holds no buffer.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    state: State,
    limits: FramingLimits,
    /// A lone CRLF was just reported as a pong; if the next two bytes are CRLF, the two form a
    /// ping that arrived split over two reads.
    lone_crlf: bool,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(limits: FramingLimits) -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::Boundary,
            limits,
            lone_crlf: false,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if matches!(self.state, State::Failed(_)) {
            return;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Capacity currently allocated for the buffer (for footprint measurements).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether a message is partly received (used to decide whether a close is clean).
    pub fn in_message(&self) -> bool {
        !self.buf.is_empty() || !matches!(self.state, State::Boundary)
    }

    /// Returns the next complete item, `Ok(None)` when more bytes are needed, or an error.
    /// After a recoverable error, call again to continue; after a fatal one the framer keeps
    /// returning that error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        loop {
            match self.state {
                State::Failed(ref e) => return Err(e.clone()),
                State::Boundary => {
                    if let Some(item) = self.boundary()? {
                        return Ok(Some(item));
                    }
                    if matches!(self.state, State::Boundary) {
                        return Ok(None);
                    }
                }
                State::Header {
                    scanned,
                    start_line_ok,
                } => {
                    if !self.header(scanned, start_line_ok)? {
                        return Ok(None);
                    }
                }
                State::Body { total } => {
                    if self.buf.len() < total {
                        return Ok(None);
                    }
                    // A message that shares a much larger allocation would pin all of it for as
                    // long as the SIP layer keeps the message; copy it out instead.
                    let message = if self.buf.capacity() > 2 * total {
                        let copy = Bytes::copy_from_slice(&self.buf[..total]);
                        self.buf.advance(total);
                        copy
                    } else {
                        self.buf.split_to(total).freeze()
                    };
                    self.state = State::Boundary;
                    self.release_if_empty();
                    return Ok(Some(Frame::Message(message)));
                }
                State::SkipBody { remaining } => {
                    let n = remaining.min(self.buf.len());
                    self.buf.advance(n);
                    self.release_if_empty();
                    if n < remaining {
                        self.state = State::SkipBody {
                            remaining: remaining - n,
                        };
                        return Ok(None);
                    }
                    self.state = State::Boundary;
                }
                State::Resync { at_line_start } => {
                    if !self.resync(at_line_start) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Drops the allocation once everything was consumed, so idle connections hold no buffer.
    fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    fn fail(&mut self, e: FramingError) -> FramingError {
        self.state = State::Failed(e.clone());
        self.buf = BytesMut::new();
        e
    }

    /// At a message boundary: keep-alives (RFC 5626 §3.5.1) or the start of a message.
    fn boundary(&mut self) -> Result<Option<Frame>, FramingError> {
        let b = &self.buf[..];
        let Some(&first) = b.first() else {
            self.release_if_empty();
            return Ok(None);
        };
        if first != b'\r' {
            self.lone_crlf = false;
            if is_token_char(first) {
                self.state = State::Header {
                    scanned: 0,
                    start_line_ok: false,
                };
                return Ok(None);
            }
            self.state = State::Resync {
                at_line_start: false,
            };
            return Err(FramingError::NotSipStartLine);
        }
        match b.get(1) {
            None => return Ok(None),
            Some(b'\n') => {}
            Some(_) => {
                self.lone_crlf = false;
                self.state = State::Resync {
                    at_line_start: false,
                };
                return Err(FramingError::NotSipStartLine);
            }
        }
        if self.lone_crlf {
            // The second half of a ping whose first CRLF arrived alone.
            self.lone_crlf = false;
            self.buf.advance(2);
            self.release_if_empty();
            return Ok(Some(Frame::Ping));
        }
        match b.get(2) {
            Some(b'\r') => match b.get(3) {
                None => Ok(None),
                Some(b'\n') => {
                    self.buf.advance(4);
                    self.release_if_empty();
                    Ok(Some(Frame::Ping))
                }
                Some(_) => {
                    // CRLF then a stray CR: report the pong; the CR is garbage next time.
                    self.buf.advance(2);
                    Ok(Some(Frame::Pong))
                }
            },
            next => {
                // A lone CRLF: a pong, or a stray CRLF before a start line (RFC 3261 §7.5).
                self.lone_crlf = next.is_none();
                self.buf.advance(2);
                self.release_if_empty();
                Ok(Some(Frame::Pong))
            }
        }
    }

    /// Inside a header block. Returns `Ok(true)` when the state advanced.
    fn header(&mut self, scanned: usize, start_line_ok: bool) -> Result<bool, FramingError> {
        let limit = self.limits.max_header_block;
        let mut start_line_ok = start_line_ok;
        if !start_line_ok {
            match find_byte(&self.buf, b'\n', 0) {
                Some(end) => {
                    if !is_plausible_start_line(&self.buf[..end]) {
                        self.state = State::Resync {
                            at_line_start: false,
                        };
                        return Err(FramingError::NotSipStartLine);
                    }
                    start_line_ok = true;
                }
                None if self.buf.len() > limit => {
                    return Err(self.fail(FramingError::HeaderBlockTooLarge { limit }));
                }
                None => return Ok(false),
            }
        }
        match find_header_end(&self.buf, scanned) {
            Ok(end) if end > limit => Err(self.fail(FramingError::HeaderBlockTooLarge { limit })),
            Ok(end) => {
                let length = match content_length(&self.buf[..end]) {
                    Ok(Some(length)) => length,
                    Ok(None) => return Err(self.fail(FramingError::MissingContentLength)),
                    Err(e) => return Err(self.fail(e)),
                };
                if length > self.limits.max_body {
                    self.buf.advance(end);
                    self.state = State::SkipBody { remaining: length };
                    return Err(FramingError::BodyTooLarge {
                        length,
                        limit: self.limits.max_body,
                    });
                }
                // No reservation for the announced body: a peer could announce the maximum on
                // every connection and send nothing. The buffer grows as bytes arrive.
                self.state = State::Body {
                    total: end + length,
                };
                Ok(true)
            }
            Err(_) if self.buf.len() > limit => {
                Err(self.fail(FramingError::HeaderBlockTooLarge { limit }))
            }
            Err(resume) => {
                self.state = State::Header {
                    scanned: resume,
                    start_line_ok,
                };
                Ok(false)
            }
        }
    }

    /// Skips lines until one is a plausible start line. Returns true when resynchronised.
    fn resync(&mut self, mut at_line_start: bool) -> bool {
        loop {
            if !at_line_start {
                match find_byte(&self.buf, b'\n', 0) {
                    Some(end) => {
                        self.buf.advance(end + 1);
                        at_line_start = true;
                    }
                    None => {
                        self.buf.clear();
                        self.release_if_empty();
                        self.state = State::Resync {
                            at_line_start: false,
                        };
                        return false;
                    }
                }
            }
            match find_byte(&self.buf, b'\n', 0) {
                Some(end) => {
                    if is_plausible_start_line(&self.buf[..end]) {
                        self.state = State::Header {
                            scanned: 0,
                            start_line_ok: true,
                        };
                        return true;
                    }
                    at_line_start = false;
                }
                None => {
                    // A partial line longer than any start line we accept is garbage too.
                    if self.buf.len() > self.limits.max_header_block {
                        at_line_start = false;
                        continue;
                    }
                    self.release_if_empty();
                    self.state = State::Resync { at_line_start };
                    return false;
                }
            }
        }
    }
}

impl Default for StreamFramer {
    fn default() -> Self {
        Self::new(FramingLimits::default())
    }
}

fn find_byte(buf: &[u8], needle: u8, from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    tail.iter().position(|&b| b == needle).map(|i| i + from)
}

/// Finds the empty line ending the header block (RFC 3261 §7: CRLF CRLF; a bare LF is
/// tolerated as a line end). Returns the header block length including the empty line, or the
/// offset from which to resume searching once more bytes arrive.
fn find_header_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut i = from;
    while let Some(nl) = find_byte(buf, b'\n', i) {
        match buf.get(nl + 1) {
            Some(b'\n') => return Ok(nl + 2),
            Some(b'\r') => match buf.get(nl + 2) {
                Some(b'\n') => return Ok(nl + 3),
                None => return Err(nl),
                Some(_) => {}
            },
            None => return Err(nl),
            Some(_) => {}
        }
        i = nl + 1;
    }
    Err(buf.len())
}

/// `token` characters of RFC 3261 §25.1.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` (RFC 3261 §25.1, case-insensitive). Any
/// version is accepted here so the SIP layer can answer 505 to versions it does not support.
fn is_sip_version(v: &[u8]) -> bool {
    let Some(rest) = v.get(..4).filter(|p| p.eq_ignore_ascii_case(b"SIP/")) else {
        return false;
    };
    let rest = &v[rest.len()..];
    let mut parts = rest.splitn(2, |&b| b == b'.');
    let all_digits = |p: &[u8]| !p.is_empty() && p.iter().all(u8::is_ascii_digit);
    matches!((parts.next(), parts.next()), (Some(major), Some(minor)) if all_digits(major) && all_digits(minor))
}

/// Whether a line (without its LF) looks like a Request-Line or Status-Line (RFC 3261 §7.1,
/// §7.2): `Method SP Request-URI SP SIP-Version` or `SIP-Version SP 3DIGIT [SP Reason]`.
fn is_plausible_start_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut words = line.splitn(3, |&b| b == b' ');
    let (Some(first), Some(second)) = (words.next(), words.next()) else {
        return false;
    };
    let third = words.next();
    if is_sip_version(first) {
        return second.len() == 3 && second.iter().all(u8::is_ascii_digit);
    }
    let Some(version) = third else {
        return false;
    };
    !first.is_empty()
        && first.iter().all(|&b| is_token_char(b))
        && !second.is_empty()
        && second.iter().all(|&b| b.is_ascii_graphic() || b >= 0x80)
        && is_sip_version(version)
}

/// Accumulates one `Content-Length` value (`1*DIGIT`, RFC 3261 §20.14) across folded lines.
#[derive(Default)]
struct LengthValue {
    value: Option<usize>,
    after_digits: bool,
    invalid: Option<&'static str>,
}

impl LengthValue {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'0'..=b'9' if self.after_digits => self.invalid = Some("whitespace inside"),
                b'0'..=b'9' => {
                    let digit = usize::from(b - b'0');
                    self.value = match self.value.unwrap_or(0).checked_mul(10) {
                        Some(v) => v.checked_add(digit),
                        None => None,
                    };
                    if self.value.is_none() {
                        self.invalid = Some("value overflows");
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => self.after_digits = self.value.is_some(),
                _ => self.invalid = Some("not 1*DIGIT"),
            }
        }
    }

    fn finish(self) -> Result<usize, FramingError> {
        if let Some(reason) = self.invalid {
            return Err(FramingError::InvalidContentLength(reason));
        }
        self.value
            .ok_or(FramingError::InvalidContentLength("empty value"))
    }
}

/// Finds `Content-Length` (or compact `l`, RFC 3261 §7.3.3) in a complete header block.
/// Several header fields with the same value are tolerated; differing values are an error
/// (they are a classic request-smuggling vector).
fn content_length(block: &[u8]) -> Result<Option<usize>, FramingError> {
    let mut found: Option<usize> = None;
    let mut current: Option<LengthValue> = None;
    let mut finish = |current: &mut Option<LengthValue>| -> Result<(), FramingError> {
        if let Some(v) = current.take() {
            let v = v.finish()?;
            if found.is_some_and(|f| f != v) {
                return Err(FramingError::InvalidContentLength("conflicting values"));
            }
            found = Some(v);
        }
        Ok(())
    };
    // Skip the start line; the block ends with an empty line.
    for line in block.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.first() {
            None => break,
            Some(b' ' | b'\t') => {
                // Folded continuation (RFC 3261 §7.3.1) of the previous field.
                if let Some(v) = current.as_mut() {
                    v.feed(b" ");
                    v.feed(line);
                }
            }
            Some(_) => {
                finish(&mut current)?;
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    continue;
                };
                let name = line[..colon].trim_ascii_end();
                if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                    let mut v = LengthValue::default();
                    v.feed(&line[colon + 1..]);
                    current = Some(v);
                }
            }
        }
    }
    finish(&mut current)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut StreamFramer) -> Vec<Result<Frame, FramingError>> {
        let mut out = Vec::new();
        loop {
            match framer.next_frame() {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => return out,
                Err(e) => {
                    let fatal = e.is_fatal();
                    out.push(Err(e));
                    if fatal {
                        return out;
                    }
                }
            }
        }
    }

    fn msg(s: &str) -> Result<Frame, FramingError> {
        Ok(Frame::Message(Bytes::copy_from_slice(s.as_bytes())))
    }

    const OPTIONS: &str = "OPTIONS sip:p.example.com SIP/2.0\r\nVia: SIP/2.0/TCP ue;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
    const WITH_BODY: &str =
        "MESSAGE sip:bob@example.com SIP/2.0\r\nl: 5\r\nContent-Type: text/plain\r\n\r\nhello";
    const RESPONSE: &str = "SIP/2.0 200 OK\r\nCONTENT-LENGTH :\r\n  3\r\n\r\nabc";

    #[test]
    fn single_message_without_body() {
        let mut f = StreamFramer::default();
        f.push(OPTIONS.as_bytes());
        assert_eq!(frames(&mut f), vec![msg(OPTIONS)]);
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.capacity(), 0, "buffer is released when idle");
    }

    #[test]
    fn compact_form_and_folded_content_length() {
        let mut f = StreamFramer::default();
        f.push(format!("{WITH_BODY}{RESPONSE}").as_bytes());
        assert_eq!(frames(&mut f), vec![msg(WITH_BODY), msg(RESPONSE)]);
    }

    #[test]
    fn leading_crlfs_keepalives() {
        let mut f = StreamFramer::default();
        f.push(format!("\r\n\r\n\r\n{OPTIONS}").as_bytes());
        assert_eq!(
            frames(&mut f),
            vec![Ok(Frame::Ping), Ok(Frame::Pong), msg(OPTIONS)]
        );
    }

    #[test]
    fn ping_split_over_two_reads() {
        let mut f = StreamFramer::default();
        f.push(b"\r\n");
        assert_eq!(frames(&mut f), vec![Ok(Frame::Pong)]);
        f.push(b"\r\n");
        assert_eq!(frames(&mut f), vec![Ok(Frame::Ping)]);
        f.push(b"\r\n");
        assert_eq!(frames(&mut f), vec![Ok(Frame::Pong)]);
    }

    #[test]
    fn partial_ping_waits() {
        let mut f = StreamFramer::default();
        f.push(b"\r\n\r");
        assert_eq!(frames(&mut f), vec![]);
        f.push(b"\n");
        assert_eq!(frames(&mut f), vec![Ok(Frame::Ping)]);
    }

    #[test]
    fn missing_content_length_is_fatal() {
        let mut f = StreamFramer::default();
        f.push(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(
            frames(&mut f),
            vec![Err(FramingError::MissingContentLength)]
        );
        f.push(OPTIONS.as_bytes());
        assert_eq!(
            f.next_frame(),
            Err(FramingError::MissingContentLength),
            "a failed framer stays failed"
        );
    }

    #[test]
    fn invalid_content_lengths_are_fatal() {
        for (value, reason) in [
            ("abc", "not 1*DIGIT"),
            ("1 2", "whitespace inside"),
            ("", "empty value"),
            ("-1", "not 1*DIGIT"),
            ("99999999999999999999999", "value overflows"),
        ] {
            let mut f = StreamFramer::default();
            f.push(format!("SIP/2.0 200 OK\r\nContent-Length: {value}\r\n\r\n").as_bytes());
            assert_eq!(
                frames(&mut f),
                vec![Err(FramingError::InvalidContentLength(reason))],
                "value {value:?}"
            );
        }
        let mut f = StreamFramer::default();
        f.push(b"SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 2\r\n\r\nab");
        assert_eq!(
            frames(&mut f),
            vec![Err(FramingError::InvalidContentLength(
                "conflicting values"
            ))]
        );
    }

    #[test]
    fn repeated_equal_content_length_is_accepted() {
        let m = "SIP/2.0 200 OK\r\nContent-Length: 2\r\nl:2\r\n\r\nab";
        let mut f = StreamFramer::default();
        f.push(m.as_bytes());
        assert_eq!(frames(&mut f), vec![msg(m)]);
    }

    #[test]
    fn content_length_lookalikes_are_not_matched() {
        // `X-Content-Length` and `lx` are other headers; the real one is 0.
        let m = "SIP/2.0 200 OK\r\nX-Content-Length: 9\r\nlx: 9\r\nContent-Length: 0\r\n\r\n";
        let mut f = StreamFramer::default();
        f.push(m.as_bytes());
        assert_eq!(frames(&mut f), vec![msg(m)]);
    }

    #[test]
    fn garbage_resynchronises_to_next_start_line() {
        let mut f = StreamFramer::default();
        f.push(format!("\x16\x03\x01garbage\r\nmore junk here\r\n{OPTIONS}").as_bytes());
        assert_eq!(
            frames(&mut f),
            vec![Err(FramingError::NotSipStartLine), msg(OPTIONS)]
        );
    }

    #[test]
    fn token_start_but_not_sip_resynchronises() {
        let mut f = StreamFramer::default();
        f.push(format!("GET / HTTP/1.1\r\nHost: x\r\n\r\n{WITH_BODY}").as_bytes());
        assert_eq!(
            frames(&mut f),
            vec![Err(FramingError::NotSipStartLine), msg(WITH_BODY)]
        );
    }

    #[test]
    fn resync_across_reads_keeps_memory_bounded() {
        let limits = FramingLimits {
            max_header_block: 64,
            max_body: 64,
        };
        let mut f = StreamFramer::new(limits);
        f.push(b"\x00");
        assert_eq!(frames(&mut f), vec![Err(FramingError::NotSipStartLine)]);
        for _ in 0..100 {
            f.push(&[b'x'; 50]);
            assert_eq!(frames(&mut f), vec![]);
            assert!(f.buffered() <= 128, "garbage is discarded as it arrives");
        }
        f.push(b"\r\n");
        f.push(RESPONSE.as_bytes());
        assert_eq!(frames(&mut f), vec![msg(RESPONSE)]);
    }

    #[test]
    fn header_block_limit_is_fatal() {
        let limits = FramingLimits {
            max_header_block: 100,
            max_body: 1000,
        };
        let mut f = StreamFramer::new(limits);
        f.push(b"OPTIONS sip:a SIP/2.0\r\n");
        for _ in 0..10 {
            f.push(b"Subject: aaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(
            frames(&mut f),
            vec![Err(FramingError::HeaderBlockTooLarge { limit: 100 })]
        );
        assert_eq!(f.buffered(), 0, "a failed framer frees its buffer");
    }

    #[test]
    fn oversized_body_is_skipped_exactly() {
        let limits = FramingLimits {
            max_header_block: 1000,
            max_body: 4,
        };
        let mut f = StreamFramer::new(limits);
        f.push(b"MESSAGE sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\n0123");
        assert_eq!(
            frames(&mut f),
            vec![Err(FramingError::BodyTooLarge {
                length: 10,
                limit: 4
            })]
        );
        // The rest of the body looks like a start line but must be skipped, not framed.
        f.push(b"SIP/2.");
        assert_eq!(frames(&mut f), vec![]);
        f.push(RESPONSE.as_bytes());
        assert_eq!(frames(&mut f), vec![msg(RESPONSE)]);
    }

    #[test]
    fn announced_body_is_not_reserved_up_front() {
        let mut f = StreamFramer::default();
        f.push(b"MESSAGE sip:a SIP/2.0\r\nContent-Length: 200000\r\n\r\nabc");
        assert_eq!(frames(&mut f), vec![]);
        assert!(f.capacity() < 4096, "capacity {}", f.capacity());
    }

    #[test]
    fn bare_lf_line_ends_are_tolerated() {
        let m = "SIP/2.0 180 Ringing\nContent-Length: 1\n\nx";
        let mut f = StreamFramer::default();
        f.push(m.as_bytes());
        assert_eq!(frames(&mut f), vec![msg(m)]);
    }

    #[test]
    fn start_line_checks() {
        assert!(is_plausible_start_line(
            b"INVITE sip:bob@b.example SIP/2.0\r"
        ));
        assert!(is_plausible_start_line(b"SIP/2.0 430 Flow Failed"));
        assert!(is_plausible_start_line(b"sip/2.0 200"));
        assert!(is_plausible_start_line(b"NEWMETHOD sip:x SIP/3.0"));
        assert!(!is_plausible_start_line(b"INVITE sip:bob SIP/2"));
        assert!(!is_plausible_start_line(b"GET / HTTP/1.1"));
        assert!(!is_plausible_start_line(b"SIP/2.0 20 OK"));
        assert!(!is_plausible_start_line(b"Via: SIP/2.0/TCP x"));
        assert!(!is_plausible_start_line(b""));
    }

    /// What must not depend on how the stream is split: the messages and errors in order, and
    /// the number of pings (each must be answered). A ping whose two CRLFs arrive in separate
    /// reads is additionally preceded by a pong, which is harmless (the peer is alive).
    fn invariant(
        items: &[Result<Frame, FramingError>],
    ) -> (Vec<Result<Frame, FramingError>>, usize) {
        let pings = items.iter().filter(|f| **f == Ok(Frame::Ping)).count();
        let rest = items
            .iter()
            .filter(|f| !matches!(f, Ok(Frame::Ping | Frame::Pong)))
            .cloned()
            .collect();
        (rest, pings)
    }

    /// A stream of several items, split at every offset into two reads and byte by byte, must
    /// give the same messages, errors and pings as one read.
    #[test]
    fn splitting_at_every_offset_gives_the_same_frames() {
        let stream = format!("\r\n\r\n{OPTIONS}{WITH_BODY}\r\n\r\n{RESPONSE}junk\r\n{OPTIONS}");
        let stream = stream.as_bytes();
        let mut whole = StreamFramer::default();
        whole.push(stream);
        let expected = frames(&mut whole);
        assert_eq!(
            expected,
            vec![
                Ok(Frame::Ping),
                msg(OPTIONS),
                msg(WITH_BODY),
                Ok(Frame::Ping),
                msg(RESPONSE),
                Err(FramingError::NotSipStartLine),
                msg(OPTIONS),
            ]
        );
        let expected = invariant(&expected);

        for cut in 0..=stream.len() {
            let mut f = StreamFramer::default();
            f.push(&stream[..cut]);
            let mut got = frames(&mut f);
            f.push(&stream[cut..]);
            got.extend(frames(&mut f));
            assert_eq!(invariant(&got), expected, "split at {cut}");
        }

        let mut f = StreamFramer::default();
        let mut got = Vec::new();
        for b in stream {
            f.push(std::slice::from_ref(b));
            got.extend(frames(&mut f));
        }
        assert_eq!(invariant(&got), expected);
        assert_eq!(f.capacity(), 0, "buffer released at the end");
    }

    /// Pseudo-random splits into many reads (deterministic xorshift, no wall clock).
    #[test]
    fn random_multi_splits_give_the_same_frames() {
        let stream = format!("{OPTIONS}{WITH_BODY}{RESPONSE}{OPTIONS}");
        let stream = stream.as_bytes();
        let expected = vec![msg(OPTIONS), msg(WITH_BODY), msg(RESPONSE), msg(OPTIONS)];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..500 {
            let mut f = StreamFramer::default();
            let mut got = Vec::new();
            let mut rest = stream;
            while !rest.is_empty() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed % 40) as usize + 1;
                let (head, tail) = rest.split_at(n.min(rest.len()));
                f.push(head);
                got.extend(frames(&mut f));
                rest = tail;
            }
            assert_eq!(got, expected);
        }
    }

    /// Arbitrary bytes (biased towards CR, LF, digits and header names) never panic the framer,
    /// and it never buffers more than one header block plus one body.
    #[test]
    fn arbitrary_input_stays_bounded_and_never_panics() {
        let limits = FramingLimits {
            max_header_block: 256,
            max_body: 256,
        };
        let alphabet: &[&[u8]] = &[
            b"\r",
            b"\n",
            b"\r\n",
            b"\r\n\r\n",
            b" ",
            b":",
            b"1",
            b"9",
            b"l",
            b"Content-Length",
            b"SIP/2.0 200 OK",
            b"INVITE sip:a SIP/2.0",
            b"\x00",
            b"\xff",
            b"x",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut f = StreamFramer::new(limits);
            for _ in 0..200 {
                let piece = alphabet[(next() % alphabet.len() as u64) as usize];
                f.push(piece);
                for item in frames(&mut f) {
                    if let Ok(Frame::Message(m)) = item {
                        assert!(m.len() <= limits.max_header_block + limits.max_body);
                    }
                }
                assert!(f.buffered() <= limits.max_header_block + limits.max_body + 32);
            }
        }
    }
}
