//! Resource limits applied while parsing untrusted input.

/// Bounds on what the parser accepts; each violation has its own [`ParseError`](crate::ParseError)
/// variant naming the limit (answered with 513, RFC 3261 §21.4.13).
///
/// The defaults fit IMS signalling: registrations with long Path/Service-Route sets and
/// multipart bodies stay well below them, while a hostile peer cannot make one message cost
/// more than about 64 KiB of memory (the largest UDP datagram is 65,535 bytes anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of header fields (lines after unfolding).
    pub max_headers: usize,
    /// Maximum length of one line of the start line or header section, in bytes, including
    /// folded continuation lines of one header field.
    pub max_line_len: usize,
    /// Maximum body size in bytes.
    pub max_body_len: usize,
    /// Maximum size of the whole message in bytes.
    pub max_message_len: usize,
}

impl Limits {
    /// The default limits as a constant.
    pub const DEFAULT: Limits = Limits {
        max_headers: 128,
        max_line_len: 8 * 1024,
        max_body_len: 48 * 1024,
        max_message_len: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
