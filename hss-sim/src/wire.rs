//! Cx on the wire: decodes requests with the diameter crate's typed commands (TS 29.229 §6.1),
//! runs the [`Hss`] procedure and encodes the answer; builds the HSS-initiated RTR and PPR.
//!
//! [`CxServer::handle`] is a plain async function from request [`Message`] to answer
//! [`Message`], so the whole Diameter path is testable without sockets; [`crate::server`] plugs
//! it into the diameter crate's tokio node.

use crate::config::ServerCapabilities;
use crate::cx::{self, AuthData, CxError, Hss, WireResult};
use bytes::Bytes;
use ims_diameter::base::{AnswerResult, ExperimentalResult};
use ims_diameter::cx::{
    auth_scheme, AnswerCommon, DeregistrationReason, LocationInfoAnswer, LocationInfoRequest,
    MultimediaAuthAnswer, MultimediaAuthRequest, OriginatingRequest, PushProfileRequest,
    ReasonCode, RegistrationTerminationRequest, RequestCommon, ServerAssignmentAnswer,
    ServerAssignmentRequest, SipAuthDataItem, SipDigestAuthenticate, UserAuthorizationAnswer,
    UserAuthorizationRequest, UserAuthorizationType, UserDataAlreadyAvailable,
};
use ims_diameter::{
    ApplicationId, Command, CommandCode, DecodeError, ExperimentalResultCode, Message, ResultCode,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The Cx application of the HSS: identity plus the procedures.
#[derive(Clone)]
pub struct CxServer {
    hss: Hss,
    origin_host: Arc<str>,
    origin_realm: Arc<str>,
    session_counter: Arc<AtomicU64>,
}

impl CxServer {
    pub fn new(hss: Hss, origin_host: &str, origin_realm: &str) -> Self {
        Self {
            hss,
            origin_host: origin_host.into(),
            origin_realm: origin_realm.into(),
            session_counter: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn hss(&self) -> &Hss {
        &self.hss
    }

    pub fn origin_host(&self) -> &str {
        &self.origin_host
    }

    /// Answers one request. Never fails: malformed requests get the RFC 6733 §7 error answer
    /// (3001, 3007, 5004, 5005, ... with Failed-AVP), procedure failures their Cx code.
    pub async fn handle(&self, request: Message) -> Message {
        if request.header.application_id != ApplicationId::CX {
            let err = DecodeError::ApplicationUnsupported {
                application_id: request.header.application_id,
            };
            return request.error_answer(&err, &self.origin_host, &self.origin_realm);
        }
        if let Err(e) = ims_diameter::cx::validate_request(&request) {
            return request.error_answer(&e, &self.origin_host, &self.origin_realm);
        }
        let answer = match request.header.command_code {
            CommandCode::USER_AUTHORIZATION => self.uar(&request).await,
            CommandCode::SERVER_ASSIGNMENT => self.sar(&request).await,
            CommandCode::LOCATION_INFO => self.lir(&request).await,
            CommandCode::MULTIMEDIA_AUTH => self.mar(&request).await,
            other => Err(DecodeError::CommandUnsupported {
                command_code: other,
                application_id: request.header.application_id,
            }),
        };
        answer.unwrap_or_else(|e| request.error_answer(&e, &self.origin_host, &self.origin_realm))
    }

    fn common(&self, req: &RequestCommon, result: AnswerResult) -> AnswerCommon {
        AnswerCommon::answering(req, result, &self.origin_host, &self.origin_realm)
    }

    fn failure(&self, req: &RequestCommon, command: &str, e: &CxError) -> AnswerCommon {
        match e {
            CxError::Store(_) | CxError::UnableToComply(_) => {
                tracing::error!(command, error = %e, "Cx request failed")
            }
            _ => tracing::info!(command, error = %e, "Cx request refused"),
        }
        self.common(req, answer_result(e.wire()))
    }

    /// UAR → UAA (TS 29.229 §6.1.1-6.1.2).
    async fn uar(&self, msg: &Message) -> Result<Message, DecodeError> {
        let r = UserAuthorizationRequest::from_message(msg)?;
        let req = cx::UserAuthorizationRequest {
            user_name: r.user_name.clone(),
            public_identity: r.public_identity.clone(),
            visited_network_identifier: String::from_utf8_lossy(&r.visited_network_identifier)
                .into_owned(),
            authorization_type: r
                .user_authorization_type
                .unwrap_or(UserAuthorizationType::REGISTRATION),
        };
        let answer = match self.hss.user_authorization(&req).await {
            Ok(a) => UserAuthorizationAnswer {
                common: self.common(&r.common, answer_result(a.result.wire())),
                server_name: a.server_name,
                server_capabilities: a.server_capabilities.as_ref().map(capabilities),
                extra: Vec::new(),
            },
            Err(e) => UserAuthorizationAnswer {
                common: self.failure(&r.common, "UAR", &e),
                server_name: None,
                server_capabilities: None,
                extra: Vec::new(),
            },
        };
        Ok(answer.to_answer_of(&msg.header))
    }

    /// SAR → SAA (TS 29.229 §6.1.3-6.1.4).
    async fn sar(&self, msg: &Message) -> Result<Message, DecodeError> {
        let r = ServerAssignmentRequest::from_message(msg)?;
        let req = cx::ServerAssignmentRequest {
            user_name: r.user_name.clone(),
            public_identities: r.public_identities.clone(),
            server_name: r.server_name.clone(),
            assignment_type: r.server_assignment_type,
            user_data_already_available: r.user_data_already_available
                == UserDataAlreadyAvailable::USER_DATA_ALREADY_AVAILABLE,
        };
        let mut answer = ServerAssignmentAnswer {
            common: self.common(&r.common, AnswerResult::Base(ResultCode::SUCCESS)),
            user_name: None,
            user_data: None,
            charging_information: None,
            associated_identities: None,
            loose_route_indication: None,
            server_name: None,
            wildcarded_public_identity: None,
            priviledged_sender_indication: None,
            extra: Vec::new(),
        };
        match self.hss.server_assignment(&req).await {
            Ok(a) => {
                // Learn where this S-CSCF is reachable for RTR/PPR; failure to record it must
                // not fail the registration.
                if let Err(e) = self
                    .hss
                    .store()
                    .remember_scscf_host(&r.server_name, &r.common.origin_host)
                    .await
                {
                    tracing::warn!(error = %e, "could not record the S-CSCF's Diameter identity");
                }
                answer.common = self.common(&r.common, answer_result(a.result.wire()));
                answer.user_name = Some(a.user_name);
                answer.user_data = a.user_data.map(Bytes::from);
            }
            Err(e) => answer.common = self.failure(&r.common, "SAR", &e),
        }
        Ok(answer.to_answer_of(&msg.header))
    }

    /// LIR → LIA (TS 29.229 §6.1.5-6.1.6).
    async fn lir(&self, msg: &Message) -> Result<Message, DecodeError> {
        let r = LocationInfoRequest::from_message(msg)?;
        let req = cx::LocationInfoRequest {
            public_identity: r.public_identity.clone(),
            originating_request: r.originating_request == Some(OriginatingRequest::ORIGINATING),
        };
        let answer = match self.hss.location_info(&req).await {
            Ok(a) => LocationInfoAnswer {
                common: self.common(&r.common, answer_result(a.result.wire())),
                server_name: a.server_name,
                server_capabilities: a.server_capabilities.as_ref().map(capabilities),
                ..empty_lia(self.common(&r.common, AnswerResult::Base(ResultCode::SUCCESS)))
            },
            Err(e) => empty_lia(self.failure(&r.common, "LIR", &e)),
        };
        Ok(answer.to_answer_of(&msg.header))
    }

    /// MAR → MAA (TS 29.229 §6.1.7-6.1.8).
    async fn mar(&self, msg: &Message) -> Result<Message, DecodeError> {
        let r = MultimediaAuthRequest::from_message(msg)?;
        let item = &r.sip_auth_data_item;
        let req = cx::MultimediaAuthRequest {
            user_name: r.user_name.clone(),
            public_identity: r.public_identity.clone(),
            server_name: r.server_name.clone(),
            authentication_scheme: item
                .sip_authentication_scheme
                .clone()
                .unwrap_or_else(|| auth_scheme::UNKNOWN.to_owned()),
            number_auth_items: r.sip_number_auth_items,
            authorization: item.sip_authorization.as_ref().map(|b| b.to_vec()),
        };
        let answer = match self.hss.multimedia_auth(&req).await {
            Ok(a) => MultimediaAuthAnswer {
                common: self.common(&r.common, AnswerResult::Base(ResultCode::SUCCESS)),
                user_name: Some(a.user_name),
                public_identity: Some(a.public_identity),
                sip_number_auth_items: Some(a.items.len() as u32),
                sip_auth_data_items: a.items.iter().map(auth_data_item).collect(),
                extra: Vec::new(),
            },
            Err(e) => MultimediaAuthAnswer {
                common: self.failure(&r.common, "MAR", &e),
                user_name: Some(r.user_name.clone()),
                public_identity: Some(r.public_identity.clone()),
                sip_number_auth_items: None,
                sip_auth_data_items: Vec::new(),
                extra: Vec::new(),
            },
        };
        Ok(answer.to_answer_of(&msg.header))
    }

    /// A Session-Id for an HSS-initiated request (RFC 6733 §8.8:
    /// `<DiameterIdentity>;<high 32 bits>;<low 32 bits>`).
    fn new_session_id(&self) -> String {
        let n = self.session_counter.fetch_add(1, Ordering::Relaxed);
        format!("{};{};{}", self.origin_host, n >> 32, n & 0xffff_ffff)
    }

    fn request_common(&self, destination_host: &str) -> RequestCommon {
        RequestCommon {
            session_id: self.new_session_id(),
            origin_host: self.origin_host.to_string(),
            origin_realm: self.origin_realm.to_string(),
            destination_host: Some(destination_host.to_owned()),
            destination_realm: realm_of(destination_host).to_owned(),
            supported_features: Vec::new(),
        }
    }

    /// An RTR (TS 29.229 §6.1.9) de-registering `public_identities` of `user_name` at the
    /// S-CSCF `destination_host`. Identifiers are 0: the driver assigns them.
    pub fn registration_termination_request(
        &self,
        destination_host: &str,
        user_name: &str,
        public_identities: Vec<String>,
        reason_code: ReasonCode,
        reason_info: Option<String>,
    ) -> Message {
        RegistrationTerminationRequest {
            common: self.request_common(destination_host),
            user_name: user_name.to_owned(),
            associated_identities: None,
            public_identities,
            deregistration_reason: DeregistrationReason {
                reason_code,
                reason_info,
                extra: Vec::new(),
            },
            extra: Vec::new(),
        }
        .to_message(0, 0)
    }

    /// A PPR (TS 29.229 §6.1.11) pushing `user_data` (the IMS subscription XML).
    pub fn push_profile_request(
        &self,
        destination_host: &str,
        user_name: &str,
        user_data: String,
    ) -> Message {
        PushProfileRequest {
            common: self.request_common(destination_host),
            user_name: user_name.to_owned(),
            user_data: Some(Bytes::from(user_data)),
            charging_information: None,
            sip_auth_data_item: None,
            extra: Vec::new(),
        }
        .to_message(0, 0)
    }
}

fn empty_lia(common: AnswerCommon) -> LocationInfoAnswer {
    LocationInfoAnswer {
        common,
        server_name: None,
        server_capabilities: None,
        wildcarded_public_identity: None,
        lia_flags: None,
        extra: Vec::new(),
    }
}

/// The Diameter realm of a host name: everything after the first label.
fn realm_of(host: &str) -> &str {
    host.split_once('.').map_or(host, |(_, realm)| realm)
}

/// The Diameter host serving a SIP URI such as `sip:scscf.ims.example:6060;transport=tcp`:
/// its host part. Used for RTR/PPR when the S-CSCF's Origin-Host was not recorded.
pub fn host_of_sip_uri(uri: &str) -> &str {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = rest.find([':', ';', '>', '?']).unwrap_or(rest.len());
    &rest[..end]
}

fn answer_result(w: WireResult) -> AnswerResult {
    match w {
        WireResult::Base(c) => AnswerResult::Base(ResultCode(c)),
        WireResult::Experimental(c) => {
            AnswerResult::Experimental(ExperimentalResult::tgpp(ExperimentalResultCode(c)))
        }
    }
}

fn capabilities(c: &ServerCapabilities) -> ims_diameter::cx::ServerCapabilities {
    ims_diameter::cx::ServerCapabilities {
        mandatory_capabilities: c.mandatory.clone(),
        optional_capabilities: c.optional.clone(),
        server_names: c.server_names.clone(),
        extra: Vec::new(),
    }
}

fn auth_data_item(item: &cx::SipAuthDataItem) -> SipAuthDataItem {
    let mut out = SipAuthDataItem {
        sip_item_number: Some(item.item_number),
        sip_authentication_scheme: Some(item.scheme.as_str().to_owned()),
        ..Default::default()
    };
    match &item.data {
        AuthData::Aka { xres, ck, ik, .. } => {
            out.sip_authenticate = item
                .data
                .sip_authenticate()
                .map(|b| Bytes::copy_from_slice(&b));
            out.sip_authorization = Some(Bytes::copy_from_slice(xres));
            out.confidentiality_key = Some(Bytes::copy_from_slice(ck));
            out.integrity_key = Some(Bytes::copy_from_slice(ik));
        }
        AuthData::Digest {
            realm,
            algorithm,
            qop,
            ha1,
        } => {
            out.sip_digest_authenticate = Some(SipDigestAuthenticate {
                digest_realm: realm.clone(),
                digest_algorithm: Some(algorithm.clone()),
                digest_qop: qop.clone(),
                digest_ha1: ha1.clone(),
                extra: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::test_support::hss;
    use ims_diameter::cx::SipAuthDataItem as WireItem;
    use ims_diameter::{CommandFlags, Header};

    fn request_common() -> RequestCommon {
        RequestCommon {
            session_id: "scscf.ims.example;1;2".into(),
            origin_host: "scscf.ims.example".into(),
            origin_realm: "ims.example".into(),
            destination_host: None,
            destination_realm: "ims.example".into(),
            supported_features: Vec::new(),
        }
    }

    #[tokio::test]
    async fn sip_digest_maa_carries_ha1_without_sockets() {
        let server = CxServer::new(hss().await, "hss.ims.example", "ims.example");
        let mar = MultimediaAuthRequest {
            common: request_common(),
            user_name: "carol@ims.example".into(),
            public_identity: "sip:carol@ims.example".into(),
            sip_auth_data_item: WireItem {
                sip_authentication_scheme: Some("SIP Digest".into()),
                ..Default::default()
            },
            sip_number_auth_items: 1,
            server_name: "sip:scscf.ims.example".into(),
            extra: Vec::new(),
        }
        .to_message(7, 9);
        let answer = server.handle(mar).await;
        assert_eq!((answer.header.hop_by_hop, answer.header.end_to_end), (7, 9));
        let maa = MultimediaAuthAnswer::from_message(&answer).unwrap();
        assert_eq!(maa.common.session_id, "scscf.ims.example;1;2");
        let digest = maa.sip_auth_data_items[0]
            .sip_digest_authenticate
            .clone()
            .unwrap();
        let expected = ims_aka::digest::ha1("carol@ims.example", "ims.example", b"carol-secret");
        assert_eq!(digest.digest_ha1, expected.as_str());
        assert_eq!(digest.digest_qop, "auth");
        assert_eq!(digest.digest_algorithm.as_deref(), Some("MD5"));
    }

    #[tokio::test]
    async fn wrong_application_is_3007_with_e_bit() {
        let server = CxServer::new(hss().await, "hss.ims.example", "ims.example");
        let mut m = Message::new(Header::request(
            CommandCode::USER_AUTHORIZATION,
            ApplicationId(4),
            true,
            1,
            1,
        ));
        m.push(ims_diameter::Avp::utf8_string(
            ims_diameter::code::SESSION_ID,
            ims_diameter::VendorId::IETF,
            "s;1",
        ));
        let answer = server.handle(m).await;
        assert_eq!(
            answer.result_code(),
            Some(ResultCode::APPLICATION_UNSUPPORTED)
        );
        assert!(answer.header.flags.0 & CommandFlags::ERROR != 0);
        assert!(!answer.is_request());
    }

    #[test]
    fn rtr_and_ppr_are_well_formed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = CxServer::new(rt.block_on(hss()), "hss.ims.example", "ims.example");
        let m = server.registration_termination_request(
            "scscf.ims.example",
            "alice@ims.example",
            vec!["sip:alice@ims.example".into()],
            ReasonCode::PERMANENT_TERMINATION,
            Some("admin".into()),
        );
        let rtr = RegistrationTerminationRequest::from_message(&m).unwrap();
        assert_eq!(
            rtr.common.destination_host.as_deref(),
            Some("scscf.ims.example")
        );
        assert_eq!(rtr.common.destination_realm, "ims.example");
        assert_eq!(
            rtr.deregistration_reason.reason_info.as_deref(),
            Some("admin")
        );
        let m2 = server.registration_termination_request(
            "scscf.ims.example",
            "alice@ims.example",
            vec![],
            ReasonCode::SERVER_CHANGE,
            None,
        );
        assert_ne!(
            m.session_id(),
            m2.session_id(),
            "fresh Session-Id per request"
        );
        let ppr = PushProfileRequest::from_message(&server.push_profile_request(
            "scscf.ims.example",
            "alice@ims.example",
            "<IMSSubscription/>".into(),
        ))
        .unwrap();
        assert_eq!(ppr.user_data.as_deref(), Some(&b"<IMSSubscription/>"[..]));
    }

    #[test]
    fn sip_uri_hosts() {
        assert_eq!(
            host_of_sip_uri("sip:scscf.ims.example:6060"),
            "scscf.ims.example"
        );
        assert_eq!(
            host_of_sip_uri("sip:scscf.ims.example;transport=tcp"),
            "scscf.ims.example"
        );
        assert_eq!(host_of_sip_uri("sips:u@s.example"), "s.example");
        assert_eq!(realm_of("scscf.ims.example"), "ims.example");
    }
}
