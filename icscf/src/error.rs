//! Why the I-CSCF answers a request itself, and with which SIP status (TS 24.229 §5.3.1.3,
//! §5.3.2.2; TS 29.228 §6.1.1, §6.1.4 for the Cx results behind them).

use ims_sip::StatusCode;

/// A request the I-CSCF ends itself. `status()` is the response; `Display` its reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcscfError {
    /// A header the procedure needs is missing or malformed (To of a REGISTER, ...).
    #[error("Bad Request - {0}")]
    BadRequest(String),
    /// UAA: DIAMETER_ERROR_USER_UNKNOWN, DIAMETER_ERROR_IDENTITIES_DONT_MATCH or
    /// DIAMETER_AUTHORIZATION_REJECTED: the user may not register (TS 24.229 §5.3.1.3).
    #[error("Forbidden - {0}")]
    RegistrationRejected(&'static str),
    /// UAA: DIAMETER_ERROR_ROAMING_NOT_ALLOWED (TS 24.229 §5.3.1.3).
    #[error("Forbidden - roaming not allowed")]
    RoamingNotAllowed,
    /// LIA: DIAMETER_ERROR_USER_UNKNOWN (TS 24.229 §5.3.2.2).
    #[error("Not Found")]
    UserUnknown,
    /// LIA: DIAMETER_ERROR_IDENTITY_NOT_REGISTERED: not registered and no unregistered
    /// services (TS 24.229 §5.3.2.2).
    #[error("Temporarily Unavailable")]
    NotRegistered,
    /// The Request-URI is not a user of a home domain (the I-CSCF only terminates for its own
    /// network).
    #[error("Not Found - not a user of this network")]
    NotHomeUser,
    /// No answer from the HSS (Diameter 3002/3004 or a timeout) while registering: the UE
    /// retries later (TS 24.229 §5.3.1.3).
    #[error("Temporarily Unavailable - HSS not reachable")]
    HssUnreachableRegister,
    /// No answer from the HSS for a terminating request.
    #[error("Server Internal Error - HSS not reachable")]
    HssUnreachable,
    /// An answer the procedure cannot use: an unexpected result code, a malformed answer.
    #[error("Server Internal Error - {0}")]
    UnexpectedCxAnswer(String),
    /// No configured S-CSCF is assigned, named or capable (TS 24.229 §5.3.1.3).
    #[error("Busy Everywhere - no S-CSCF available")]
    NoScscf,
    /// A next hop given by name is neither an IP literal nor in the host table (RFC 3263
    /// DNS resolution is not implemented yet).
    #[error("Service Unavailable - cannot resolve {0}")]
    Unresolvable(String),
}

impl IcscfError {
    /// The SIP status that answers the request.
    pub fn status(&self) -> StatusCode {
        match self {
            IcscfError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IcscfError::RegistrationRejected(_) | IcscfError::RoamingNotAllowed => {
                StatusCode::FORBIDDEN
            }
            IcscfError::UserUnknown | IcscfError::NotHomeUser => StatusCode::NOT_FOUND,
            IcscfError::NotRegistered | IcscfError::HssUnreachableRegister => {
                StatusCode::TEMPORARILY_UNAVAILABLE
            }
            IcscfError::HssUnreachable | IcscfError::UnexpectedCxAnswer(_) => {
                StatusCode::SERVER_INTERNAL_ERROR
            }
            IcscfError::NoScscf => StatusCode(600),
            IcscfError::Unresolvable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status_and_reason() {
        let cases = [
            (IcscfError::RoamingNotAllowed, 403),
            (IcscfError::RegistrationRejected("user unknown"), 403),
            (IcscfError::UserUnknown, 404),
            (IcscfError::NotRegistered, 480),
            (IcscfError::HssUnreachableRegister, 480),
            (IcscfError::HssUnreachable, 500),
            (IcscfError::NoScscf, 600),
            (IcscfError::Unresolvable("x".into()), 503),
        ];
        for (error, code) in cases {
            assert_eq!(error.status().0, code, "{error}");
        }
        assert_eq!(
            IcscfError::RegistrationRejected("user unknown").to_string(),
            "Forbidden - user unknown"
        );
    }
}
