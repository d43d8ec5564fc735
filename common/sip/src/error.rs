//! Errors of the SIP codec layer.
//!
//! One enum per concern: [`UriError`] for RFC 3261 §19.1 / RFC 3966 URIs, [`HeaderError`] for typed
//! header values (§20, §25.1) and [`ParseError`] for whole messages (§7). Every message-level
//! error maps to the response a server sends back ([`ParseError::status`]), normally
//! 400 Bad Request with the error text as reason phrase (§21.4.1), 513 for oversized messages.

use crate::status::StatusCode;

/// A URI that does not follow RFC 3261 §25.1 (`SIP-URI`, `SIPS-URI`, `absoluteURI`) or RFC 3966.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Nothing to parse.
    #[error("empty URI")]
    Empty,
    /// The scheme is missing or contains characters outside `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    #[error("invalid URI scheme")]
    BadScheme,
    /// The user or password part holds a character the grammar forbids.
    #[error("invalid user part")]
    BadUser,
    /// The host is not a hostname, IPv4address or IPv6reference.
    #[error("invalid host")]
    BadHost,
    /// The port is not a decimal number in 0..=65535.
    #[error("invalid port")]
    BadPort,
    /// A `uri-parameter` is empty or holds a forbidden character.
    #[error("invalid URI parameter")]
    BadParam,
    /// A `header` (after `?`) is malformed.
    #[error("invalid URI header")]
    BadHeader,
    /// A `%` escape is not followed by two hex digits where the grammar requires an escape.
    #[error("invalid %-escape")]
    BadEscape,
    /// Whitespace or a control character inside the URI.
    #[error("whitespace or control character in URI")]
    IllegalChar,
    /// URI headers (`?name=value`) where RFC 3261 §19.1.1 (table 1) forbids them, e.g. in a
    /// Request-URI.
    #[error("URI headers not allowed here")]
    HeadersNotAllowed,
    /// A tel URI whose number is neither a global (`+digits`) nor a local number.
    #[error("invalid telephone-subscriber")]
    BadTelNumber,
}

/// A header value that does not match its RFC 3261 §25.1 (or extension) grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A header required for the operation is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The value is empty where the grammar needs content.
    #[error("empty value")]
    Empty,
    /// A `quoted-string` has no closing `"`.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// A display name that is neither `*(token LWS)` nor a quoted-string (RFC 3261 §25.1).
    #[error("invalid display name")]
    BadDisplayName,
    /// `<` without matching `>`.
    #[error("missing '>'")]
    UnterminatedAngle,
    /// LWS directly inside `<` `>`; LAQUOT/RAQUOT only allow it outside (RFC 3261 §25.1).
    #[error("whitespace inside <>")]
    WhitespaceInAngleBrackets,
    /// An addr-spec outside `<>` containing `,`, `?` or `;` in its URI (RFC 3261 §20).
    #[error("URI with ',', '?' or ';' must be enclosed in <>")]
    AddrSpecNeedsAngleBrackets,
    /// The URI inside the value is malformed.
    #[error("bad URI: {0}")]
    BadUri(#[from] UriError),
    /// A `generic-param` is empty (`;;`) or malformed.
    #[error("invalid parameter")]
    BadParam,
    /// A token was expected.
    #[error("expected a token")]
    BadToken,
    /// A number was expected.
    #[error("invalid number")]
    BadNumber,
    /// A number above the maximum its grammar allows (e.g. CSeq ≥ 2^31, Max-Forwards > 255).
    #[error("number out of range")]
    NumberOutOfRange,
    /// Characters left over after a complete value.
    #[error("unexpected trailing characters")]
    Trailing,
    /// The sent-protocol of a Via is not `SIP/2.0/transport`.
    #[error("invalid sent-protocol")]
    BadProtocol,
    /// A Date header that is not an RFC 1123 date in GMT (RFC 3261 §20.17).
    #[error("invalid Date (RFC 1123 date in GMT required)")]
    BadDate,
    /// A `media-type` that is not `type/subtype`.
    #[error("invalid media type")]
    BadMediaType,
    /// Digest or other credentials/challenges that do not match §25.1 `credentials`/`challenge`.
    #[error("invalid authentication parameters")]
    BadAuth,
}

/// A message that cannot be framed or fails the syntax checks of RFC 3261 §7, §16.3 step 1 and §25.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No start line at all.
    #[error("empty message")]
    Empty,
    /// The header section is not closed by an empty line (§7.5).
    #[error("header section not terminated by an empty line")]
    MissingEmptyLine,
    /// A Request-Line that is not `Method SP Request-URI SP SIP-Version` (§7.1, §25.1).
    #[error("malformed Request-Line")]
    BadRequestLine,
    /// A Status-Line that is not `SIP-Version SP Status-Code SP Reason-Phrase` (§7.2).
    #[error("malformed Status-Line")]
    BadStatusLine,
    /// A method that is not a `token`.
    #[error("invalid method")]
    BadMethod,
    /// A SIP-Version other than `SIP/2.0` (§7.1; answered with 505).
    #[error("unsupported SIP version")]
    BadVersion,
    /// A Status-Code that is not three digits (§7.2, §25.1 `extension-code`).
    #[error("invalid status code")]
    BadStatusCode,
    /// A Reason-Phrase with control characters or invalid UTF-8.
    #[error("invalid reason phrase")]
    BadReasonPhrase,
    /// The Request-URI is malformed.
    #[error("bad Request-URI: {0}")]
    BadRequestUri(UriError),
    /// A line of the header section that is not `field-name HCOLON field-value`.
    #[error("malformed header line {line}")]
    BadHeaderLine {
        /// 1-based line number within the message.
        line: usize,
    },
    /// Bytes that are not UTF-8 in the start line or header section (§7.3 TEXT-UTF8).
    #[error("invalid UTF-8 in line {line}")]
    NotUtf8 {
        /// 1-based line number within the message.
        line: usize,
    },
    /// A header every element needs is syntactically wrong.
    #[error("bad {name} header: {error}")]
    BadHeader {
        /// Canonical header name.
        name: &'static str,
        /// What is wrong with it.
        error: HeaderError,
    },
    /// Content-Length is not a non-negative decimal number (§20.14).
    #[error("invalid Content-Length")]
    BadContentLength,
    /// Content-Length asks for more bytes than the message has (§18.3).
    #[error("Content-Length {declared} larger than the {available} body bytes present")]
    BodyTruncated {
        /// Value of Content-Length.
        declared: usize,
        /// Bytes present after the header section.
        available: usize,
    },
    /// Two Content-Length headers with different values (§20.14); fatal on streams.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Content-Length is mandatory on stream transports (§18.3, §20.14).
    #[error("missing Content-Length on a stream")]
    MissingContentLength,
    /// The CSeq method differs from the request method (§8.1.1.5).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// More header fields than [`Limits::max_headers`](crate::Limits::max_headers).
    #[error("more than {max} header fields (limit max_headers)")]
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// A line longer than [`Limits::max_line_len`](crate::Limits::max_line_len).
    #[error("line longer than {max} bytes (limit max_line_len)")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A body larger than [`Limits::max_body_len`](crate::Limits::max_body_len).
    #[error("body larger than {max} bytes (limit max_body_len)")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// A message larger than [`Limits::max_message_len`](crate::Limits::max_message_len).
    #[error("message larger than {max} bytes (limit max_message_len)")]
    MessageTooLarge {
        /// The limit.
        max: usize,
    },
}

impl ParseError {
    /// The response a UAS or proxy sends for a request that fails this way.
    ///
    /// RFC 3261 §21.4.1 (400) for syntax, §21.5.6 (505) for the version and §21.4.13 (513) for
    /// size limits.
    pub fn status(&self) -> StatusCode {
        match self {
            ParseError::BadVersion => StatusCode::VERSION_NOT_SUPPORTED,
            ParseError::MessageTooLarge { .. }
            | ParseError::BodyTooLarge { .. }
            | ParseError::LineTooLong { .. }
            | ParseError::TooManyHeaders { .. } => StatusCode::MESSAGE_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
