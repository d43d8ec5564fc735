//! The one error type of the proxy core and the SIP status each error answers with.

use crate::transaction::TransactionError;
use crate::StatusCode;

use super::ContextId;

/// Why the proxy refused a request, or why the application's call was refused.
///
/// The first group are the request validation failures of RFC 3261 §16.3; their
/// [`status`](ProxyError::status) is the response the proxy sends upstream and their `Display`
/// text is its reason phrase. The second group are mistakes of the application driving the
/// proxy; they map to `500` because no peer is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// §16.3 step 1: a header field the proxy needs is absent or does not parse.
    #[error("Bad Request - {0}")]
    Malformed(String),
    /// §16.3 step 2: the Request-URI scheme is not one the proxy understands.
    #[error("Unsupported URI Scheme {0}")]
    UnsupportedUriScheme(String),
    /// §16.3 step 3: Max-Forwards is zero (the request may not be forwarded).
    #[error("Too Many Hops")]
    TooManyHops,
    /// §16.3 step 4 / §16.6 step 8: the request already passed through this proxy with the
    /// same loop-relevant fields.
    #[error("Loop Detected")]
    LoopDetected,
    /// §16.3 step 5: Proxy-Require lists option-tags this proxy does not support; the 420
    /// lists them in Unsupported (§20.40).
    #[error("Bad Extension")]
    BadExtension(Vec<String>),
    /// The transaction layer refused a message (see [`TransactionError::status`]).
    #[error("{0}")]
    Transaction(#[from] TransactionError),

    /// The context is unknown or already finished.
    #[error("no response context {0:?}")]
    UnknownContext(ContextId),
    /// The context already sent its final response, was cancelled, or is forwarding and the
    /// call needs a context that is still waiting for the application's decision.
    #[error("response context {0:?} cannot take this action now")]
    WrongContextState(ContextId),
    /// `forward` was called with no target.
    #[error("no target to forward to")]
    NoTargets,
    /// The application passed a message of the wrong kind (e.g. a request to `respond`).
    #[error("expected a {0}")]
    WrongMessageKind(&'static str),
}

impl ProxyError {
    /// The SIP status that answers this error on the wire.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Malformed(_) => StatusCode::BAD_REQUEST,
            ProxyError::UnsupportedUriScheme(_) => StatusCode::UNSUPPORTED_URI_SCHEME,
            ProxyError::TooManyHops => StatusCode::TOO_MANY_HOPS,
            ProxyError::LoopDetected => StatusCode::LOOP_DETECTED,
            ProxyError::BadExtension(_) => StatusCode::BAD_EXTENSION,
            ProxyError::Transaction(e) => e.status(),
            ProxyError::UnknownContext(_)
            | ProxyError::WrongContextState(_)
            | ProxyError::NoTargets
            | ProxyError::WrongMessageKind(_) => StatusCode::SERVER_INTERNAL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_map_to_their_section_16_3_codes() {
        assert_eq!(ProxyError::TooManyHops.status().0, 483);
        assert_eq!(ProxyError::LoopDetected.status().0, 482);
        assert_eq!(ProxyError::BadExtension(vec!["x".into()]).status().0, 420);
        assert_eq!(
            ProxyError::UnsupportedUriScheme("im".into()).status().0,
            416
        );
        let malformed = ProxyError::Malformed("Max-Forwards: invalid number".into());
        assert_eq!(malformed.status().0, 400);
        assert_eq!(
            malformed.to_string(),
            "Bad Request - Max-Forwards: invalid number"
        );
        assert_eq!(ProxyError::NoTargets.status().0, 500);
    }
}
