//! The one error type of the UE core.

use ims_sip::transaction::TransactionError;
use ims_sip::{HeaderError, ParseError, StatusCode, UriError};

use crate::event::CallHandle;

/// Why the UE refused a command or a message.
///
/// Errors from the network side carry the SIP status the UE answers a request with
/// ([`UeError::status`]); command errors (wrong state, unknown call) are local and answer
/// nothing on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UeError {
    /// The bytes are not a SIP message (RFC 3261 §7); a datagram is dropped, a request that
    /// parsed far enough would get 400.
    #[error("unparsable SIP message: {0}")]
    Parse(#[from] ParseError),
    /// A header the UE needs is missing or malformed.
    #[error("bad header: {0}")]
    Header(#[from] HeaderError),
    /// A URI in the configuration or a message is malformed.
    #[error("bad URI: {0}")]
    Uri(#[from] UriError),
    /// The transaction layer refused the message.
    #[error("transaction layer: {0}")]
    Transaction(#[from] TransactionError),
    /// The USIM could not be created from the configured credentials.
    #[error("credentials: {0}")]
    Credentials(String),
    /// No call with this handle.
    #[error("no call {0:?}")]
    UnknownCall(CallHandle),
    /// The command does not fit the current state (e.g. `answer` on an outgoing call).
    #[error("{command} not possible in state {state}")]
    InvalidState {
        /// The command.
        command: &'static str,
        /// The state it found.
        state: &'static str,
    },
    /// A registration procedure is already running.
    #[error("a registration transaction is already in progress")]
    RegistrationInProgress,
    /// The SDP offer cannot be answered (RFC 3264 §6: no common codec).
    #[error("SDP: {0}")]
    Sdp(#[from] crate::sdp::SdpError),
}

impl UeError {
    /// The status a request that caused this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            UeError::Parse(_) | UeError::Header(_) | UeError::Uri(_) => StatusCode::BAD_REQUEST,
            UeError::Transaction(e) => e.status(),
            UeError::Sdp(_) => StatusCode::NOT_ACCEPTABLE_HERE,
            UeError::UnknownCall(_) => StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
            UeError::Credentials(_)
            | UeError::InvalidState { .. }
            | UeError::RegistrationInProgress => StatusCode::SERVER_INTERNAL_ERROR,
        }
    }
}
