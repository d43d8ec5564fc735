//! One-pass message parser (RFC 3261 §7, §18.3 framing).
//!
//! The parser walks the bytes once: start line, then each header line (unfolding continuation
//! lines), recording each field as ranges of the shared buffer. Only the start line and the
//! headers every element needs are checked eagerly ([`crate::validate`]); every other header is
//! parsed when asked for.

use bytes::Bytes;

use crate::error::{ParseError, UriError};
use std::sync::Arc;

use crate::headers::{canonical, Canon, Field, Headers, RawValue};
use crate::limits::Limits;
use crate::message::{Message, StartLine};
use crate::method::{is_token_char, Method};
use crate::status::StatusCode;
use crate::uri::Uri;

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// One datagram (or an already framed message): without Content-Length the body is the
    /// rest of the buffer; octets after Content-Length are discarded (§18.3).
    Datagram,
    /// A byte stream: Content-Length is mandatory (§18.3).
    Stream,
}

/// Finds the end of the line starting at `from`: (end of content, start of next line).
/// Accepts CRLF and, leniently, a bare LF.
fn line_end(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let rest = b.get(from..)?;
    let nl = memchr::memchr(b'\n', rest)? + from;
    let end = if nl > from && b.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

/// The input of [`parse`]: borrowed bytes (the body gets copied) or a shared buffer (the body
/// becomes a slice of it).
pub(crate) enum Input<'a> {
    Borrowed(&'a [u8]),
    Shared(Bytes),
}

pub(crate) fn parse(
    input: Input<'_>,
    limits: &Limits,
    transport: Transport,
    check_headers: bool,
) -> Result<Message, ParseError> {
    let b: &[u8] = match &input {
        Input::Borrowed(b) => b,
        Input::Shared(b) => b,
    };
    if b.len() > limits.max_message_len {
        return Err(ParseError::MessageTooLarge {
            max: limits.max_message_len,
        });
    }
    // §7.5: CRLFs before the start line are ignored (stream keep-alives).
    let mut pos = 0;
    while matches!(b.get(pos), Some(b'\r' | b'\n')) {
        pos += 1;
    }
    if pos >= b.len() {
        return Err(ParseError::Empty);
    }
    let (sl_end, mut next) = line_end(b, pos).ok_or(ParseError::MissingEmptyLine)?;
    if sl_end - pos > limits.max_line_len {
        return Err(ParseError::LineTooLong {
            max: limits.max_line_len,
        });
    }
    let start_line = b.get(pos..sl_end).unwrap_or_default();
    let start = parse_start_line(start_line)?;

    let mut fields: Vec<Field> = Vec::with_capacity(24);
    let mut line_no = 1;
    let mut content_length: Option<usize> = None;
    loop {
        line_no += 1;
        let (end, after) = line_end(b, next).ok_or(ParseError::MissingEmptyLine)?;
        if end == next {
            next = after;
            break;
        }
        let field_line = line_no;
        // Gather continuation lines (LWS spanning CRLF, §7.3.1).
        let mut field_end = end;
        let mut field_next = after;
        let mut folded = false;
        while matches!(b.get(field_next), Some(b' ' | b'\t')) {
            let (e, a) = line_end(b, field_next).ok_or(ParseError::MissingEmptyLine)?;
            field_end = e;
            field_next = a;
            folded = true;
            line_no += 1;
        }
        if field_end - next > limits.max_line_len {
            return Err(ParseError::LineTooLong {
                max: limits.max_line_len,
            });
        }
        if fields.len() >= limits.max_headers {
            return Err(ParseError::TooManyHeaders {
                max: limits.max_headers,
            });
        }
        let bad_line = ParseError::BadHeaderLine { line: field_line };
        // field-name HCOLON: token *(SP / HTAB) ":".
        let name_start = next;
        let mut i = next;
        while b.get(i).is_some_and(|&c| is_token_char(c)) {
            i += 1;
        }
        let name_end = i;
        if name_end == name_start {
            return Err(bad_line);
        }
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if b.get(i) != Some(&b':') || i >= field_end {
            return Err(bad_line);
        }
        i += 1;
        let raw_value = b.get(i..field_end).unwrap_or_default();
        let value = if folded {
            let v = std::str::from_utf8(raw_value)
                .map_err(|_| ParseError::NotUtf8 { line: field_line })?;
            RawValue::Unfolded(unfold(v))
        } else {
            let mut vs = i;
            let mut ve = field_end;
            while vs < ve && matches!(b.get(vs), Some(b' ' | b'\t')) {
                vs += 1;
            }
            while ve > vs && matches!(b.get(ve - 1), Some(b' ' | b'\t')) {
                ve -= 1;
            }
            RawValue::Range(vs, ve)
        };
        let canon = canonical(b.get(name_start..name_end).unwrap_or_default());
        // Content-Length is needed for framing, so it is read here in the same pass.
        if content_length.is_none() && canon == Some(Canon::CONTENT_LENGTH) {
            let v = std::str::from_utf8(raw_value).map_err(|_| ParseError::BadContentLength)?;
            content_length = Some(parse_content_length(v)?);
        }
        fields.push(Headers::raw_field((name_start, name_end), value, canon));
        next = field_next;
    }

    // One UTF-8 check for the whole head (§7.3 TEXT-UTF8); header text is then shared as `str`.
    let head_bytes = b.get(..next).unwrap_or_default();
    let head = std::str::from_utf8(head_bytes).map_err(|e| ParseError::NotUtf8 {
        line: 1 + head_bytes
            .get(pos..e.valid_up_to())
            .map_or(0, |h| h.iter().filter(|&&c| c == b'\n').count()),
    })?;
    check_controls(head, pos)?;
    let headers = Headers::from_fields(Arc::from(head), fields);

    let available = b.len().saturating_sub(next);
    let body_len = match content_length {
        Some(declared) => {
            if declared > limits.max_body_len {
                return Err(ParseError::BodyTooLarge {
                    max: limits.max_body_len,
                });
            }
            if declared > available {
                return Err(ParseError::BodyTruncated {
                    declared,
                    available,
                });
            }
            declared
        }
        None if transport == Transport::Stream => return Err(ParseError::MissingContentLength),
        None => {
            if available > limits.max_body_len {
                return Err(ParseError::BodyTooLarge {
                    max: limits.max_body_len,
                });
            }
            available
        }
    };
    let body = match input {
        Input::Borrowed(b) => {
            Bytes::copy_from_slice(b.get(next..next + body_len).unwrap_or_default())
        }
        Input::Shared(b) => b.slice(next..next + body_len),
    };
    let msg = Message::from_parts(start, headers, body);
    if check_headers {
        crate::validate::check_essential_headers(&msg)?;
    }
    Ok(msg)
}

/// NUL and other control characters are not TEXT-UTF8 (§25.1); only a quoted-pair may carry
/// them (RFC 4475 §3.1.1.2 puts BEL, NUL and DEL in a quoted display name), so a line holding
/// one is refused unless it also holds a quoted string. The fast scan over the whole head
/// finds nothing in normal traffic, so the per-line work is only done for suspicious input.
fn check_controls(head: &str, skip: usize) -> Result<(), ParseError> {
    let is_ctl = |c: u8| (c < 0x20 && c != b'\t' && c != b'\r' && c != b'\n') || c == 0x7f;
    let body = head.get(skip..).unwrap_or_default();
    // A branch-free fold so the compiler can vectorise the common all-clean case.
    let any_ctl = body.as_bytes().iter().fold(false, |acc, &c| {
        acc | ((c < 0x20) & (c != b'\t') & (c != b'\r') & (c != b'\n')) | (c == 0x7f)
    });
    if !any_ctl {
        return Ok(());
    }
    for (n, line) in body.split('\n').enumerate() {
        if line.bytes().any(is_ctl) && !line.contains('"') {
            return Err(ParseError::BadHeaderLine { line: n + 1 });
        }
    }
    Ok(())
}

/// `Content-Length = 1*DIGIT` (§20.14).
pub(crate) fn parse_content_length(value: &str) -> Result<usize, ParseError> {
    let v = value.trim_matches([' ', '\t', '\r', '\n']);
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::BadContentLength);
    }
    v.parse().map_err(|_| ParseError::BadContentLength)
}

/// Replaces each run of LWS that spans a line break by one SP and trims the ends (§7.3.1).
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (n, piece) in value.split('\n').enumerate() {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        let piece = if n == 0 {
            piece.trim_start_matches([' ', '\t'])
        } else {
            piece.trim_matches([' ', '\t'])
        };
        let piece = piece.trim_end_matches([' ', '\t']);
        if piece.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; anything but 2.0 is [`ParseError::BadVersion`].
fn check_version(v: &[u8], otherwise: ParseError) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let looks_like_version = v.len() > 4
        && v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && v.get(4..).is_some_and(|n| {
            n.iter().all(|c| c.is_ascii_digit() || *c == b'.')
                && n.iter().filter(|c| **c == b'.').count() == 1
        });
    if looks_like_version {
        Err(ParseError::BadVersion)
    } else {
        Err(otherwise)
    }
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, ParseError> {
    let is_response = line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
    if is_response {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let mut parts = line.splitn(3, |&c| c == b' ');
        let version = parts.next().unwrap_or_default();
        check_version(version, ParseError::BadStatusLine)?;
        let code = parts.next().ok_or(ParseError::BadStatusLine)?;
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadStatusCode);
        }
        let code = code
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&code) {
            return Err(ParseError::BadStatusCode);
        }
        let reason = parts.next().unwrap_or_default();
        let reason = std::str::from_utf8(reason).map_err(|_| ParseError::BadReasonPhrase)?;
        if reason.bytes().any(|c| c < 0x20 && c != b'\t' || c == 0x7f) {
            return Err(ParseError::BadReasonPhrase);
        }
        return Ok(StartLine::Response {
            status: StatusCode(code),
            reason: reason.to_owned(),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly single SPs (§7.1).
    let mut parts = line.split(|&c| c == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequestLine);
    };
    if method.is_empty() || uri.is_empty() {
        return Err(ParseError::BadRequestLine);
    }
    check_version(version, ParseError::BadRequestLine)?;
    let method = std::str::from_utf8(method)
        .ok()
        .and_then(Method::from_token)
        .ok_or(ParseError::BadMethod)?;
    let uri =
        std::str::from_utf8(uri).map_err(|_| ParseError::BadRequestUri(UriError::IllegalChar))?;
    let uri = Uri::parse(uri).map_err(ParseError::BadRequestUri)?;
    if !uri.headers().is_empty() {
        return Err(ParseError::BadRequestUri(UriError::HeadersNotAllowed));
    }
    Ok(StartLine::Request { method, uri })
}

/// Stream framing (§18.3): the length of the first complete message in `buf`, `Ok(None)` when
/// more bytes are needed. Leading CRLFs (§7.5) count as part of the frame.
///
/// Content-Length is mandatory on streams; two different values are refused because a peer
/// that disagrees with us about framing could smuggle a message.
pub fn frame_len(buf: &[u8], limits: &Limits) -> Result<Option<usize>, ParseError> {
    let mut pos = 0;
    while matches!(buf.get(pos), Some(b'\r' | b'\n')) {
        pos += 1;
    }
    let mut content_length: Option<usize> = None;
    let mut first = true;
    let mut line_start = pos;
    let header_end = loop {
        let Some((end, next)) = line_end(buf, line_start) else {
            if buf.len() - pos > limits.max_message_len {
                return Err(ParseError::MessageTooLarge {
                    max: limits.max_message_len,
                });
            }
            if buf.len() - line_start > limits.max_line_len {
                return Err(ParseError::LineTooLong {
                    max: limits.max_line_len,
                });
            }
            return Ok(None);
        };
        if end == line_start {
            break next;
        }
        let line = buf.get(line_start..end).unwrap_or_default();
        if !first && !matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(colon) = line.iter().position(|&c| c == b':') {
                let name = line.get(..colon).unwrap_or_default().trim_ascii_end();
                if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                    let v = std::str::from_utf8(line.get(colon + 1..).unwrap_or_default())
                        .map_err(|_| ParseError::BadContentLength)?;
                    let v = parse_content_length(v)?;
                    if content_length.is_some_and(|c| c != v) {
                        return Err(ParseError::ConflictingContentLength);
                    }
                    content_length = Some(v);
                }
            }
        }
        first = false;
        line_start = next;
    };
    let cl = content_length.ok_or(ParseError::MissingContentLength)?;
    if cl > limits.max_body_len {
        return Err(ParseError::BodyTooLarge {
            max: limits.max_body_len,
        });
    }
    let total = header_end + cl;
    if total - pos > limits.max_message_len {
        return Err(ParseError::MessageTooLarge {
            max: limits.max_message_len,
        });
    }
    Ok((buf.len() >= total).then_some(total))
}
