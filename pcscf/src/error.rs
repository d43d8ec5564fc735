//! Why the P-CSCF refuses a request, and the SIP answer each reason gets.

use ims_sip::proxy::ProxyError;
use ims_sip::StatusCode;

use crate::outbound::FlowLookupError;

/// A P-CSCF procedure failure; [`PcscfError::status`] is the response sent for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcscfError {
    /// A request other than REGISTER from a source with no registration (TS 24.229 §5.2.6.3.1:
    /// only registered UEs originate).
    #[error("not registered from this address")]
    NotRegistered,
    /// The registration has no Service-Route to enforce (TS 24.229 §5.2.6.3.2).
    #[error("no Service-Route stored for this registration")]
    NoServiceRoute,
    /// A flow token from a Route that we did not issue, or whose flow ended (RFC 5626 §5.3).
    #[error(transparent)]
    Flow(#[from] FlowLookupError),
    /// A request for the UE whose Request-URI is no registered contact.
    #[error("{0} is not a registered contact")]
    UnknownContact(String),
    /// The registered UE's connection has closed (without RFC 5626 outbound, so no 430).
    #[error("the UE's connection has closed")]
    ConnectionClosed,
    /// No next hop could be found (no address for the host; RFC 3263 DNS not used yet).
    #[error("no route: {0}")]
    NoRoute(String),
    /// A header the procedure needs is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The proxy core refused to forward.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

impl PcscfError {
    /// The status code of the answer (RFC 3261 §21, RFC 5626 §5.3).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotRegistered | Self::NoServiceRoute => StatusCode::FORBIDDEN,
            Self::Flow(e) => e.status_code(),
            Self::UnknownContact(_) | Self::ConnectionClosed => StatusCode::TEMPORARILY_UNAVAILABLE,
            Self::NoRoute(_) => StatusCode::SERVER_INTERNAL_ERROR,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Proxy(e) => e.status(),
        }
    }
}
