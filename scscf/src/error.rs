//! [`RegisterError`]: every way a REGISTER (or a lookup) can fail, each mapped to the SIP
//! response the S-CSCF sends (RFC 3261 §10.3, 3GPP TS 24.229 §5.4.1.2).

use ims_diameter::base::AnswerResult;
use ims_diameter::{ExperimentalResultCode, ResultCode};
use ims_sip::StatusCode;

/// Errors of the registrar layer; [`RegisterError::status`] is the SIP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The request is malformed (RFC 3261 §10.3 steps 1-7): 400 Bad Request.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Authentication failed or the HSS refused the user (TS 24.229 §5.4.1.2.2: RES ≠ XRES,
    /// Cx identities mismatch, roaming not allowed, barred identity): 403 Forbidden.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The HSS does not know the user (Cx DIAMETER_ERROR_USER_UNKNOWN 5001): 404 Not Found.
    #[error("user unknown: {0}")]
    UserUnknown(String),
    /// A contact asked for a registration shorter than the minimum (RFC 3261 §10.3 step 7):
    /// 423 Interval Too Brief with Min-Expires.
    #[error("expiration {requested}s below the minimum {min}s")]
    IntervalTooBrief {
        /// The smallest non-zero expiration requested.
        requested: u32,
        /// Our minimum, sent in Min-Expires.
        min: u32,
    },
    /// The public identity has no binding (terminating request, originating check):
    /// 480 Temporarily Unavailable.
    #[error("{0} is not registered")]
    NotRegistered(String),
    /// A REGISTER for an existing binding with the same Call-ID and a CSeq not higher than the
    /// stored one (RFC 3261 §10.3 step 7: the update is aborted): 500.
    #[error("out-of-order REGISTER: CSeq {received} not above {stored} for Call-ID {call_id}")]
    OutOfOrder {
        /// Call-ID of the binding.
        call_id: String,
        /// CSeq stored.
        stored: u32,
        /// CSeq received.
        received: u32,
    },
    /// The HSS answered with an error we cannot attribute to the user: 500.
    #[error("HSS error: {0}")]
    Hss(String),
    /// The HSS did not answer (Cx timeout, peer down, too busy): 503 Service Unavailable.
    #[error("HSS unavailable")]
    HssUnavailable,
    /// A local invariant failed (e.g. a challenge lost between request and answer): 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegisterError {
    /// The SIP status answering this error.
    pub fn status(&self) -> StatusCode {
        match self {
            RegisterError::BadRequest(_) => StatusCode::BAD_REQUEST,
            RegisterError::Forbidden(_) => StatusCode::FORBIDDEN,
            RegisterError::UserUnknown(_) => StatusCode::NOT_FOUND,
            RegisterError::IntervalTooBrief { .. } => StatusCode::INTERVAL_TOO_BRIEF,
            RegisterError::NotRegistered(_) => StatusCode::TEMPORARILY_UNAVAILABLE,
            RegisterError::OutOfOrder { .. }
            | RegisterError::Hss(_)
            | RegisterError::Internal(_) => StatusCode::SERVER_INTERNAL_ERROR,
            RegisterError::HssUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Maps a Cx answer's result to `Ok` (success) or the error the REGISTER fails with
    /// (TS 29.229 §6.2, TS 24.229 §5.4.1.2.1 and §5.4.1.2.2).
    pub fn check_cx_result(result: &AnswerResult) -> Result<(), RegisterError> {
        match result {
            AnswerResult::Base(rc) if rc.is_success() => Ok(()),
            AnswerResult::Base(rc) => Err(match *rc {
                ResultCode::TOO_BUSY | ResultCode::UNABLE_TO_DELIVER => {
                    RegisterError::HssUnavailable
                }
                ResultCode::AUTHORIZATION_REJECTED | ResultCode::AUTHENTICATION_REJECTED => {
                    RegisterError::Forbidden(format!("HSS Result-Code {}", rc.0))
                }
                other => RegisterError::Hss(format!("Result-Code {}", other.0)),
            }),
            AnswerResult::Experimental(e) if e.code.is_success() => Ok(()),
            AnswerResult::Experimental(e) => Err(match e.code {
                ExperimentalResultCode::ERROR_USER_UNKNOWN => {
                    RegisterError::UserUnknown("DIAMETER_ERROR_USER_UNKNOWN".into())
                }
                ExperimentalResultCode::ERROR_IDENTITIES_DONT_MATCH
                | ExperimentalResultCode::ERROR_ROAMING_NOT_ALLOWED
                | ExperimentalResultCode::ERROR_AUTH_SCHEME_NOT_SUPPORTED
                | ExperimentalResultCode::ERROR_IDENTITY_NOT_REGISTERED => {
                    RegisterError::Forbidden(format!("HSS Experimental-Result-Code {}", e.code.0))
                }
                other => RegisterError::Hss(format!("Experimental-Result-Code {}", other.0)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_diameter::base::ExperimentalResult;

    #[test]
    fn cx_results_map_to_sip() {
        let user_unknown = AnswerResult::Experimental(ExperimentalResult::tgpp(
            ExperimentalResultCode::ERROR_USER_UNKNOWN,
        ));
        assert_eq!(
            RegisterError::check_cx_result(&user_unknown)
                .unwrap_err()
                .status(),
            StatusCode::NOT_FOUND
        );
        let busy = AnswerResult::Base(ResultCode::TOO_BUSY);
        assert_eq!(
            RegisterError::check_cx_result(&busy).unwrap_err().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let roaming = AnswerResult::Experimental(ExperimentalResult::tgpp(
            ExperimentalResultCode::ERROR_ROAMING_NOT_ALLOWED,
        ));
        assert_eq!(
            RegisterError::check_cx_result(&roaming)
                .unwrap_err()
                .status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            RegisterError::check_cx_result(&AnswerResult::Base(ResultCode::UNABLE_TO_COMPLY))
                .unwrap_err()
                .status(),
            StatusCode::SERVER_INTERNAL_ERROR
        );
        assert!(RegisterError::check_cx_result(&AnswerResult::Base(ResultCode::SUCCESS)).is_ok());
        let first = AnswerResult::Experimental(ExperimentalResult::tgpp(
            ExperimentalResultCode::FIRST_REGISTRATION,
        ));
        assert!(RegisterError::check_cx_result(&first).is_ok());
    }
}
