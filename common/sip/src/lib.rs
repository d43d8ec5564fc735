//! SIP message model and codec (RFC 3261 §7, §20, §25), typed IMS headers, and the sans-IO
//! transaction layer (RFC 3261 §17 with RFC 6026).
//!
//! Messages are raw-preserving: [`Message::parse`] indexes the header section in one pass
//! (ranges of one shared buffer), checks the headers every element needs (RFC 3261 §16.3
//! step 1), and leaves the rest as text that the typed parsers in [`header`] read on demand.
//! Unknown headers are forwarded untouched; serialisation always writes an exact
//! Content-Length. [`frame_len`] cuts messages out of a stream; [`Limits`] bounds what a peer
//! can make the parser hold; [`semantic::expected_response`] tells which error response a
//! well-formed request still calls for (RFC 4475 §3.2-§3.4).

pub mod error;
pub mod header;
pub mod headers;
pub mod limits;
pub mod message;
pub mod method;
mod parser;
pub mod proxy;
mod scan;
pub mod semantic;
pub mod status;
pub mod uri;
mod validate;

pub use error::{HeaderError, ParseError, UriError};
pub use header::{CSeq, Contact, From, NameAddr, To, Via};
pub use headers::Headers;
pub use limits::Limits;
pub use message::{Message, StartLine};
pub use method::Method;
pub use parser::frame_len;
pub use semantic::{expected_response, rfc4475_expected_response, ServerPolicy};
pub use status::StatusCode;
pub use uri::{Host, Scheme, Uri};
pub mod transaction;
