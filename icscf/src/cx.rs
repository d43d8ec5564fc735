//! The I-CSCF's side of Cx (TS 29.228 §6.1.1, §6.1.4; TS 29.229 §6.1.1–§6.1.6): building
//! UAR and LIR, and turning UAA and LIA into a decision or an [`IcscfError`].

use bytes::Bytes;
use ims_diameter::base::AnswerResult;
use ims_diameter::cx::{
    LocationInfoAnswer, LocationInfoRequest, RequestCommon, ServerCapabilities,
    UserAuthorizationAnswer, UserAuthorizationRequest, UserAuthorizationType,
};
use ims_diameter::{Command, ExperimentalResultCode, ResultCode};
use ims_node::function::CxOutcome;

use crate::config::Settings;
use crate::error::IcscfError;

/// Where the HSS says the request goes (Server-Name and/or Server-Capabilities).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerAssignment {
    pub server_name: Option<String>,
    pub capabilities: Option<ServerCapabilities>,
    /// UAA DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED: a de-registration for a user no S-CSCF
    /// serves.
    pub not_stored: bool,
}

/// The common AVPs of a request from this I-CSCF.
fn common(settings: &Settings, session_id: String) -> RequestCommon {
    RequestCommon {
        session_id,
        origin_host: settings.origin_host.clone(),
        origin_realm: settings.origin_realm.clone(),
        destination_host: None,
        destination_realm: settings.destination_realm.clone(),
        supported_features: Vec::new(),
    }
}

/// User-Authorization-Request (TS 29.228 §6.1.1).
pub fn uar(
    settings: &Settings,
    session_id: String,
    query: &crate::register::RegisterQuery,
    authorization_type: UserAuthorizationType,
) -> ims_diameter::Message {
    UserAuthorizationRequest {
        common: common(settings, session_id),
        user_name: query.private_identity.clone(),
        public_identity: query.public_identity.clone(),
        visited_network_identifier: Bytes::from(query.visited_network.clone().into_bytes()),
        user_authorization_type: Some(authorization_type),
        uar_flags: None,
        extra: Vec::new(),
    }
    .to_message(0, 0)
}

/// Location-Info-Request (TS 29.228 §6.1.4) for a terminating request.
pub fn lir(
    settings: &Settings,
    session_id: String,
    public_identity: &str,
) -> ims_diameter::Message {
    LocationInfoRequest {
        common: common(settings, session_id),
        originating_request: None,
        public_identity: public_identity.to_owned(),
        user_authorization_type: None,
        session_priority: None,
        extra: Vec::new(),
    }
    .to_message(0, 0)
}

/// No answer at all (3002 UNABLE_TO_DELIVER, 3004 TOO_BUSY, a timeout), or a relay's
/// protocol error in the answer.
fn unreachable_code(code: u32) -> bool {
    (3000..4000).contains(&code)
}

/// The UAA (TS 29.228 §6.1.1, Table 6.1.1.2 ff.): success codes give the assignment, the
/// errors map to SIP per TS 24.229 §5.3.1.3.
pub fn interpret_uaa(outcome: &CxOutcome) -> Result<ServerAssignment, IcscfError> {
    let answer = match outcome {
        CxOutcome::Answer(answer) => answer,
        CxOutcome::Failed {
            result_code,
            reason,
        } => {
            tracing::warn!(result_code, reason, "UAR got no answer");
            return Err(IcscfError::HssUnreachableRegister);
        }
    };
    if let Some(code) = answer.result_code().filter(|c| unreachable_code(c.0)) {
        tracing::warn!(code = code.0, "UAR answered with a protocol error");
        return Err(IcscfError::HssUnreachableRegister);
    }
    let uaa = UserAuthorizationAnswer::from_message(answer)
        .map_err(|e| IcscfError::UnexpectedCxAnswer(format!("malformed UAA: {e}")))?;
    let assignment = ServerAssignment {
        server_name: uaa.server_name,
        capabilities: uaa.server_capabilities,
        not_stored: false,
    };
    match uaa.common.result {
        AnswerResult::Base(ResultCode::SUCCESS) => Ok(assignment),
        AnswerResult::Base(ResultCode::AUTHORIZATION_REJECTED) => {
            Err(IcscfError::RegistrationRejected("authorization rejected"))
        }
        AnswerResult::Experimental(e) => match e.code {
            ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION
            | ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION => Ok(assignment),
            ExperimentalResultCode::DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED => {
                Ok(ServerAssignment {
                    not_stored: true,
                    ..assignment
                })
            }
            ExperimentalResultCode::DIAMETER_ERROR_USER_UNKNOWN => {
                Err(IcscfError::RegistrationRejected("user unknown"))
            }
            ExperimentalResultCode::DIAMETER_ERROR_IDENTITIES_DONT_MATCH => {
                Err(IcscfError::RegistrationRejected("identities don't match"))
            }
            ExperimentalResultCode::DIAMETER_ERROR_ROAMING_NOT_ALLOWED => {
                Err(IcscfError::RoamingNotAllowed)
            }
            other => Err(IcscfError::UnexpectedCxAnswer(format!(
                "UAA Experimental-Result-Code {}",
                other.0
            ))),
        },
        AnswerResult::Base(other) => Err(IcscfError::UnexpectedCxAnswer(format!(
            "UAA Result-Code {}",
            other.0
        ))),
    }
}

/// The LIA (TS 29.228 §6.1.4): the assigned S-CSCF or capabilities; user unknown → 404,
/// not registered without unregistered services → 480 (TS 24.229 §5.3.2.2).
pub fn interpret_lia(outcome: &CxOutcome) -> Result<ServerAssignment, IcscfError> {
    let answer = match outcome {
        CxOutcome::Answer(answer) => answer,
        CxOutcome::Failed {
            result_code,
            reason,
        } => {
            tracing::warn!(result_code, reason, "LIR got no answer");
            return Err(IcscfError::HssUnreachable);
        }
    };
    if let Some(code) = answer.result_code().filter(|c| unreachable_code(c.0)) {
        tracing::warn!(code = code.0, "LIR answered with a protocol error");
        return Err(IcscfError::HssUnreachable);
    }
    let lia = LocationInfoAnswer::from_message(answer)
        .map_err(|e| IcscfError::UnexpectedCxAnswer(format!("malformed LIA: {e}")))?;
    let assignment = ServerAssignment {
        server_name: lia.server_name,
        capabilities: lia.server_capabilities,
        not_stored: false,
    };
    match lia.common.result {
        AnswerResult::Base(ResultCode::SUCCESS) => Ok(assignment),
        AnswerResult::Experimental(e) => match e.code {
            ExperimentalResultCode::DIAMETER_UNREGISTERED_SERVICE => Ok(assignment),
            ExperimentalResultCode::DIAMETER_ERROR_USER_UNKNOWN => Err(IcscfError::UserUnknown),
            ExperimentalResultCode::DIAMETER_ERROR_IDENTITY_NOT_REGISTERED => {
                Err(IcscfError::NotRegistered)
            }
            other => Err(IcscfError::UnexpectedCxAnswer(format!(
                "LIA Experimental-Result-Code {}",
                other.0
            ))),
        },
        AnswerResult::Base(other) => Err(IcscfError::UnexpectedCxAnswer(format!(
            "LIA Result-Code {}",
            other.0
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_diameter::base::ExperimentalResult;
    use ims_diameter::cx::AnswerCommon;

    fn uaa(result: AnswerResult, server_name: Option<&str>) -> CxOutcome {
        let request = RequestCommon {
            session_id: "s;1".into(),
            ..RequestCommon::default()
        };
        let answer = UserAuthorizationAnswer {
            common: AnswerCommon::answering(&request, result, "hss", "ims.test"),
            server_name: server_name.map(str::to_owned),
            server_capabilities: None,
            extra: Vec::new(),
        };
        CxOutcome::Answer(answer.to_message(1, 1))
    }

    fn exp(code: ExperimentalResultCode) -> AnswerResult {
        ExperimentalResult::tgpp(code).into()
    }

    #[test]
    fn uaa_results_map_to_decisions_and_errors() {
        let ok = interpret_uaa(&uaa(
            exp(ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION),
            Some("sip:s1.ims.test"),
        ))
        .unwrap();
        assert_eq!(ok.server_name.as_deref(), Some("sip:s1.ims.test"));
        let status = |r| interpret_uaa(&uaa(r, None)).unwrap_err().status().0;
        assert_eq!(
            status(exp(ExperimentalResultCode::DIAMETER_ERROR_USER_UNKNOWN)),
            403
        );
        assert_eq!(
            status(exp(
                ExperimentalResultCode::DIAMETER_ERROR_IDENTITIES_DONT_MATCH
            )),
            403
        );
        assert_eq!(
            status(exp(
                ExperimentalResultCode::DIAMETER_ERROR_ROAMING_NOT_ALLOWED
            )),
            403
        );
        assert_eq!(status(ResultCode::AUTHORIZATION_REJECTED.into()), 403);
        assert_eq!(status(ResultCode::UNABLE_TO_DELIVER.into()), 480);
        assert_eq!(status(ResultCode::UNABLE_TO_COMPLY.into()), 500);
        let failed = CxOutcome::Failed {
            result_code: 3002,
            reason: "timeout".into(),
        };
        assert_eq!(interpret_uaa(&failed).unwrap_err().status().0, 480);
        assert_eq!(interpret_lia(&failed).unwrap_err().status().0, 500);
        let not_stored = interpret_uaa(&uaa(
            exp(ExperimentalResultCode::DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED),
            None,
        ))
        .unwrap();
        assert!(not_stored.not_stored);
    }
}
