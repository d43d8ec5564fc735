//! Typed Cx/Dx commands (3GPP TS 29.229 §6.1) and their Grouped and Enumerated AVPs
//! (§6.3). Application 16777216, vendor 10415; every request is `REQ, PXY`.
//!
//! Each command struct has the CCF's AVPs as fields; whatever the CCF lists as
//! `*[ AVP ]` (and `*[ Proxy-Info ]`, `*[ Route-Record ]`, OC-*, DRMP, which are not
//! modelled) is kept in `extra` in wire order, so a relay loses nothing. The fixed
//! AVPs `{ Vendor-Specific-Application-Id }` = {10415, 16777216} and
//! `{ Auth-Session-State }` = NO_STATE_MAINTAINED are written by `to_message` and
//! required (5005) by `from_message`.

use bytes::Bytes;

use crate::avp::{code, Avp, DiameterUri, VendorId};
use crate::base::{
    failed_avp_to_avp, take_failed_avp, wrap_unless_grouped, AnswerResult, AuthSessionState,
    VendorSpecificApplicationId,
};
use crate::command::{Command, Fields};
use crate::dictionary;
use crate::error::DecodeError;
use crate::header::{ApplicationId, CommandCode};

const IETF: VendorId = VendorId::IETF;
const TGPP: VendorId = VendorId::TGPP;

macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $var:ident = $val:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i32);
        impl $name {
            $($(#[$vdoc])* pub const $var: Self = Self($val);)*
        }
    };
}

open_enum!(
    /// Server-Assignment-Type (TS 29.229 §6.3.15). Open newtype.
    ServerAssignmentType {
        NO_ASSIGNMENT = 0,
        REGISTRATION = 1,
        RE_REGISTRATION = 2,
        UNREGISTERED_USER = 3,
        TIMEOUT_DEREGISTRATION = 4,
        USER_DEREGISTRATION = 5,
        TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME = 6,
        USER_DEREGISTRATION_STORE_SERVER_NAME = 7,
        ADMINISTRATIVE_DEREGISTRATION = 8,
        AUTHENTICATION_FAILURE = 9,
        AUTHENTICATION_TIMEOUT = 10,
        DEREGISTRATION_TOO_MUCH_DATA = 11,
        AAA_USER_DATA_REQUEST = 12,
        PGW_UPDATE = 13,
        RESTORATION = 14,
    }
);

open_enum!(
    /// User-Authorization-Type (TS 29.229 §6.3.24). Open newtype.
    UserAuthorizationType {
        REGISTRATION = 0,
        DE_REGISTRATION = 1,
        REGISTRATION_AND_CAPABILITIES = 2,
    }
);

open_enum!(
    /// User-Data-Already-Available (TS 29.229 §6.3). Open newtype.
    UserDataAlreadyAvailable {
        USER_DATA_NOT_AVAILABLE = 0,
        USER_DATA_ALREADY_AVAILABLE = 1,
    }
);

open_enum!(
    /// Reason-Code inside Deregistration-Reason (TS 29.229 §6.3.17). Open newtype.
    ReasonCode {
        PERMANENT_TERMINATION = 0,
        NEW_SERVER_ASSIGNED = 1,
        SERVER_CHANGE = 2,
        REMOVE_S_CSCF = 3,
    }
);

open_enum!(
    /// Originating-Request (TS 29.229 §6.3). Open newtype.
    OriginatingRequest { ORIGINATING = 0 }
);

open_enum!(
    /// Loose-Route-Indication (TS 29.229 §6.3). Open newtype.
    LooseRouteIndication {
        LOOSE_ROUTE_NOT_REQUIRED = 0,
        LOOSE_ROUTE_REQUIRED = 1,
    }
);

open_enum!(
    /// Multiple-Registration-Indication (TS 29.229 §6.3). Open newtype.
    MultipleRegistrationIndication {
        NOT_MULTIPLE_REGISTRATION = 0,
        MULTIPLE_REGISTRATION = 1,
    }
);

open_enum!(
    /// Session-Priority (TS 29.229 §6.3). Open newtype.
    SessionPriority {
        PRIORITY_0 = 0,
        PRIORITY_1 = 1,
        PRIORITY_2 = 2,
        PRIORITY_3 = 3,
        PRIORITY_4 = 4,
    }
);

open_enum!(
    /// Priviledged-Sender-Indication (TS 29.229 §6.3, spelled as in the TS).
    PriviledgedSenderIndication {
        NOT_PRIVILEDGED_SENDER = 0,
        PRIVILEDGED_SENDER = 1,
    }
);

/// Authentication schemes carried in SIP-Authentication-Scheme (TS 29.229 §6.3.9,
/// TS 33.203): the exact strings the HSS and S-CSCF exchange.
pub mod auth_scheme {
    pub const DIGEST_AKAV1_MD5: &str = "Digest-AKAv1-MD5";
    pub const DIGEST_AKAV2_MD5: &str = "Digest-AKAv2-MD5";
    pub const SIP_DIGEST: &str = "SIP Digest";
    pub const NASS_BUNDLED: &str = "NASS-Bundled";
    pub const EARLY_IMS_SECURITY: &str = "Early-IMS-Security";
    /// Used in a MAR when the S-CSCF leaves the choice to the HSS.
    pub const UNKNOWN: &str = "Unknown";
}

// ---------------------------------------------------------------------------
// Grouped AVPs
// ---------------------------------------------------------------------------

fn grouped_err(parent: &Avp) -> impl Fn(DecodeError) -> DecodeError + '_ {
    move |e| wrap_unless_grouped(e, parent)
}

/// SIP-Digest-Authenticate (TS 29.229 §6.3):
/// `{ Digest-Realm } [ Digest-Algorithm ] { Digest-QoP } { Digest-HA1 } *[ AVP ]`
/// (the Digest AVPs are RFC 4740's, vendor 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SipDigestAuthenticate {
    pub digest_realm: String,
    pub digest_algorithm: Option<String>,
    pub digest_qop: String,
    pub digest_ha1: String,
    pub extra: Vec<Avp>,
}

impl SipDigestAuthenticate {
    pub fn to_avp(&self) -> Avp {
        let mut c = vec![Avp::utf8_string(
            code::DIGEST_REALM,
            IETF,
            &self.digest_realm,
        )];
        if let Some(a) = &self.digest_algorithm {
            c.push(Avp::utf8_string(code::DIGEST_ALGORITHM, IETF, a));
        }
        c.push(Avp::utf8_string(code::DIGEST_QOP, IETF, &self.digest_qop));
        c.push(Avp::utf8_string(code::DIGEST_HA1, IETF, &self.digest_ha1));
        c.extend(self.extra.iter().cloned());
        Avp::grouped(code::SIP_DIGEST_AUTHENTICATE, TGPP, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                digest_realm: f.req_utf8(code::DIGEST_REALM, IETF)?,
                digest_algorithm: f.opt_utf8(code::DIGEST_ALGORITHM, IETF)?,
                digest_qop: f.req_utf8(code::DIGEST_QOP, IETF)?,
                digest_ha1: f.req_utf8(code::DIGEST_HA1, IETF)?,
                extra: f.rest(),
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

/// SIP-Auth-Data-Item (TS 29.229 §6.3.13):
///
/// ```text
/// < SIP-Auth-Data-Item > ::= < AVP Header : 612 10415 >
///     [ SIP-Item-Number ] [ SIP-Authentication-Scheme ] [ SIP-Authenticate ]
///     [ SIP-Authorization ] [ SIP-Authentication-Context ] [ Confidentiality-Key ]
///     [ Integrity-Key ] [ SIP-Digest-Authenticate ] [ Framed-IP-Address ]
///     [ Framed-IPv6-Prefix ] [ Framed-Interface-Id ] *[ Line-Identifier ] *[ AVP ]
/// ```
///
/// For IMS-AKA, SIP-Authenticate is RAND||AUTN and SIP-Authorization XRES (§6.3.10,
/// §6.3.11); in a MAR, SIP-Authorization carries RAND||AUTS for resynchronisation.
/// The Framed-*/Line-Identifier AVPs (NASS bundled) stay in `extra`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SipAuthDataItem {
    pub sip_item_number: Option<u32>,
    pub sip_authentication_scheme: Option<String>,
    pub sip_authenticate: Option<Bytes>,
    pub sip_authorization: Option<Bytes>,
    pub sip_authentication_context: Option<Bytes>,
    pub confidentiality_key: Option<Bytes>,
    pub integrity_key: Option<Bytes>,
    pub sip_digest_authenticate: Option<SipDigestAuthenticate>,
    pub extra: Vec<Avp>,
}

impl SipAuthDataItem {
    pub fn to_avp(&self) -> Avp {
        let mut c = Vec::with_capacity(8);
        if let Some(n) = self.sip_item_number {
            c.push(Avp::unsigned32(code::SIP_ITEM_NUMBER, TGPP, n));
        }
        if let Some(s) = &self.sip_authentication_scheme {
            c.push(Avp::utf8_string(code::SIP_AUTHENTICATION_SCHEME, TGPP, s));
        }
        let octets = [
            (code::SIP_AUTHENTICATE, &self.sip_authenticate),
            (code::SIP_AUTHORIZATION, &self.sip_authorization),
            (
                code::SIP_AUTHENTICATION_CONTEXT,
                &self.sip_authentication_context,
            ),
            (code::CONFIDENTIALITY_KEY, &self.confidentiality_key),
            (code::INTEGRITY_KEY, &self.integrity_key),
        ];
        for (code, v) in octets {
            if let Some(v) = v {
                c.push(Avp::octet_string(code, TGPP, v.clone()));
            }
        }
        if let Some(d) = &self.sip_digest_authenticate {
            c.push(d.to_avp());
        }
        c.extend(self.extra.iter().cloned());
        Avp::grouped(code::SIP_AUTH_DATA_ITEM, TGPP, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                sip_item_number: f.opt_u32(code::SIP_ITEM_NUMBER, TGPP)?,
                sip_authentication_scheme: f.opt_utf8(code::SIP_AUTHENTICATION_SCHEME, TGPP)?,
                sip_authenticate: f.opt_octets(code::SIP_AUTHENTICATE, TGPP)?,
                sip_authorization: f.opt_octets(code::SIP_AUTHORIZATION, TGPP)?,
                sip_authentication_context: f.opt_octets(code::SIP_AUTHENTICATION_CONTEXT, TGPP)?,
                confidentiality_key: f.opt_octets(code::CONFIDENTIALITY_KEY, TGPP)?,
                integrity_key: f.opt_octets(code::INTEGRITY_KEY, TGPP)?,
                sip_digest_authenticate: f
                    .opt(code::SIP_DIGEST_AUTHENTICATE, TGPP)?
                    .map(|a| SipDigestAuthenticate::from_avp(&a))
                    .transpose()?,
                extra: f.rest(),
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

/// Server-Capabilities (TS 29.229 §6.3.4):
/// `*[ Mandatory-Capability ] *[ Optional-Capability ] *[ Server-Name ] *[ AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerCapabilities {
    pub mandatory_capabilities: Vec<u32>,
    pub optional_capabilities: Vec<u32>,
    pub server_names: Vec<String>,
    pub extra: Vec<Avp>,
}

impl ServerCapabilities {
    pub fn to_avp(&self) -> Avp {
        let mut c = Vec::new();
        for m in &self.mandatory_capabilities {
            c.push(Avp::unsigned32(code::MANDATORY_CAPABILITY, TGPP, *m));
        }
        for o in &self.optional_capabilities {
            c.push(Avp::unsigned32(code::OPTIONAL_CAPABILITY, TGPP, *o));
        }
        for s in &self.server_names {
            c.push(Avp::utf8_string(code::SERVER_NAME, TGPP, s));
        }
        c.extend(self.extra.iter().cloned());
        Avp::grouped(code::SERVER_CAPABILITIES, TGPP, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                mandatory_capabilities: f.all_u32(code::MANDATORY_CAPABILITY, TGPP)?,
                optional_capabilities: f.all_u32(code::OPTIONAL_CAPABILITY, TGPP)?,
                server_names: f.all_utf8(code::SERVER_NAME, TGPP)?,
                extra: f.rest(),
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

/// Deregistration-Reason (TS 29.229 §6.3.16): `{ Reason-Code } [ Reason-Info ] *[ AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeregistrationReason {
    pub reason_code: ReasonCode,
    pub reason_info: Option<String>,
    pub extra: Vec<Avp>,
}

impl DeregistrationReason {
    pub fn to_avp(&self) -> Avp {
        let mut c = vec![Avp::enumerated(code::REASON_CODE, TGPP, self.reason_code.0)];
        if let Some(i) = &self.reason_info {
            c.push(Avp::utf8_string(code::REASON_INFO, TGPP, i));
        }
        c.extend(self.extra.iter().cloned());
        Avp::grouped(code::DEREGISTRATION_REASON, TGPP, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                reason_code: ReasonCode(f.req_i32(code::REASON_CODE, TGPP)?),
                reason_info: f.opt_utf8(code::REASON_INFO, TGPP)?,
                extra: f.rest(),
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

/// Charging-Information (TS 29.229 §6.3.19): the four optional DiameterURI names of
/// the event charging functions and charging collection functions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChargingInformation {
    pub primary_event_charging_function_name: Option<DiameterUri>,
    pub secondary_event_charging_function_name: Option<DiameterUri>,
    pub primary_charging_collection_function_name: Option<DiameterUri>,
    pub secondary_charging_collection_function_name: Option<DiameterUri>,
    pub extra: Vec<Avp>,
}

impl ChargingInformation {
    fn fields(&self) -> [(crate::avp::AvpCode, &Option<DiameterUri>); 4] {
        [
            (
                code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME,
                &self.primary_event_charging_function_name,
            ),
            (
                code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME,
                &self.secondary_event_charging_function_name,
            ),
            (
                code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
                &self.primary_charging_collection_function_name,
            ),
            (
                code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
                &self.secondary_charging_collection_function_name,
            ),
        ]
    }

    pub fn to_avp(&self) -> Avp {
        let mut c: Vec<Avp> = self
            .fields()
            .into_iter()
            .filter_map(|(code, v)| v.as_ref().map(|u| Avp::diameter_uri(code, TGPP, u)))
            .collect();
        c.extend(self.extra.iter().cloned());
        Avp::grouped(code::CHARGING_INFORMATION, TGPP, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            let mut uri = |c| -> Result<Option<DiameterUri>, DecodeError> {
                f.opt(c, TGPP)?.map(|a| a.as_diameter_uri()).transpose()
            };
            let p_ecf = uri(code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME)?;
            let s_ecf = uri(code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME)?;
            let p_ccf = uri(code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME)?;
            let s_ccf = uri(code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME)?;
            Ok(Self {
                primary_event_charging_function_name: p_ecf,
                secondary_event_charging_function_name: s_ecf,
                primary_charging_collection_function_name: p_ccf,
                secondary_charging_collection_function_name: s_ccf,
                extra: f.rest(),
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

/// Supported-Features (TS 29.229 §6.3):
/// `{ Vendor-Id } { Feature-List-ID } { Feature-List } *[ AVP ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SupportedFeatures {
    pub vendor_id: VendorId,
    pub feature_list_id: u32,
    pub feature_list: u32,
}

impl SupportedFeatures {
    pub fn to_avp(&self) -> Avp {
        Avp::grouped(
            code::SUPPORTED_FEATURES,
            TGPP,
            &[
                Avp::unsigned32(code::VENDOR_ID, IETF, self.vendor_id.0),
                Avp::unsigned32(code::FEATURE_LIST_ID, TGPP, self.feature_list_id),
                Avp::unsigned32(code::FEATURE_LIST, TGPP, self.feature_list),
            ],
        )
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                vendor_id: VendorId(f.req_u32(code::VENDOR_ID, IETF)?),
                feature_list_id: f.req_u32(code::FEATURE_LIST_ID, TGPP)?,
                feature_list: f.req_u32(code::FEATURE_LIST, TGPP)?,
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

/// Associated-Identities (TS 29.229 §6.3): `*[ User-Name ] *[ AVP ]`, the private
/// identities sharing the public identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssociatedIdentities {
    pub user_names: Vec<String>,
    pub extra: Vec<Avp>,
}

impl AssociatedIdentities {
    pub fn to_avp(&self) -> Avp {
        let mut c: Vec<Avp> = self
            .user_names
            .iter()
            .map(|u| Avp::utf8_string(code::USER_NAME, IETF, u))
            .collect();
        c.extend(self.extra.iter().cloned());
        Avp::grouped(code::ASSOCIATED_IDENTITIES, TGPP, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                user_names: f.all_utf8(code::USER_NAME, IETF)?,
                extra: f.rest(),
            })
        };
        inner().map_err(grouped_err(avp))
    }
}

// ---------------------------------------------------------------------------
// What all Cx requests and answers share
// ---------------------------------------------------------------------------

/// The routing AVPs every Cx request carries (TS 29.229 §6.1.1 ff.), plus
/// `*[ Supported-Features ]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestCommon {
    pub session_id: String,
    pub origin_host: String,
    pub origin_realm: String,
    /// `[ Destination-Host ]`; `{ }` (required) in RTR and PPR.
    pub destination_host: Option<String>,
    pub destination_realm: String,
    pub supported_features: Vec<SupportedFeatures>,
}

impl RequestCommon {
    fn push_head(&self, avps: &mut Vec<Avp>) {
        avps.push(Avp::utf8_string(code::SESSION_ID, IETF, &self.session_id));
        avps.push(VendorSpecificApplicationId::CX.to_avp());
        avps.push(auth_session_state());
        avps.push(Avp::diameter_identity(
            code::ORIGIN_HOST,
            IETF,
            &self.origin_host,
        ));
        avps.push(Avp::diameter_identity(
            code::ORIGIN_REALM,
            IETF,
            &self.origin_realm,
        ));
        if let Some(h) = &self.destination_host {
            avps.push(Avp::diameter_identity(code::DESTINATION_HOST, IETF, h));
        }
        avps.push(Avp::diameter_identity(
            code::DESTINATION_REALM,
            IETF,
            &self.destination_realm,
        ));
        avps.extend(
            self.supported_features
                .iter()
                .map(SupportedFeatures::to_avp),
        );
    }

    fn take(f: &mut Fields, destination_host_required: bool) -> Result<Self, DecodeError> {
        let session_id = f.req_utf8(code::SESSION_ID, IETF)?;
        take_fixed(f)?;
        let origin_host = f.req_identity(code::ORIGIN_HOST, IETF)?;
        let origin_realm = f.req_identity(code::ORIGIN_REALM, IETF)?;
        let destination_host = if destination_host_required {
            Some(f.req_identity(code::DESTINATION_HOST, IETF)?)
        } else {
            f.opt_identity(code::DESTINATION_HOST, IETF)?
        };
        Ok(Self {
            session_id,
            origin_host,
            origin_realm,
            destination_host,
            destination_realm: f.req_identity(code::DESTINATION_REALM, IETF)?,
            supported_features: take_supported_features(f)?,
        })
    }
}

/// The AVPs every Cx answer carries: Session-Id, the result (Result-Code or
/// Experimental-Result), Origin-Host/-Realm, `*[ Supported-Features ]` and
/// `[ Failed-AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerCommon {
    pub session_id: String,
    pub result: AnswerResult,
    pub origin_host: String,
    pub origin_realm: String,
    pub supported_features: Vec<SupportedFeatures>,
    pub failed_avp: Option<Vec<Avp>>,
}

impl AnswerCommon {
    /// A Cx answer common part that answers `request`.
    pub fn answering(
        request: &RequestCommon,
        result: impl Into<AnswerResult>,
        origin_host: &str,
        origin_realm: &str,
    ) -> Self {
        Self {
            session_id: request.session_id.clone(),
            result: result.into(),
            origin_host: origin_host.to_owned(),
            origin_realm: origin_realm.to_owned(),
            supported_features: Vec::new(),
            failed_avp: None,
        }
    }

    fn push_head(&self, avps: &mut Vec<Avp>) {
        avps.push(Avp::utf8_string(code::SESSION_ID, IETF, &self.session_id));
        avps.push(VendorSpecificApplicationId::CX.to_avp());
        avps.push(self.result.to_avp());
        avps.push(auth_session_state());
        avps.push(Avp::diameter_identity(
            code::ORIGIN_HOST,
            IETF,
            &self.origin_host,
        ));
        avps.push(Avp::diameter_identity(
            code::ORIGIN_REALM,
            IETF,
            &self.origin_realm,
        ));
        avps.extend(
            self.supported_features
                .iter()
                .map(SupportedFeatures::to_avp),
        );
    }

    fn push_tail(&self, avps: &mut Vec<Avp>) {
        if let Some(fa) = &self.failed_avp {
            avps.push(failed_avp_to_avp(fa));
        }
    }

    fn take(f: &mut Fields) -> Result<Self, DecodeError> {
        let session_id = f.req_utf8(code::SESSION_ID, IETF)?;
        take_fixed(f)?;
        let result = AnswerResult::take(f)?;
        Ok(Self {
            session_id,
            result,
            origin_host: f.req_identity(code::ORIGIN_HOST, IETF)?,
            origin_realm: f.req_identity(code::ORIGIN_REALM, IETF)?,
            supported_features: take_supported_features(f)?,
            failed_avp: take_failed_avp(f)?,
        })
    }

    fn is_protocol_error(&self) -> bool {
        self.result
            .result_code()
            .is_some_and(|r| r.is_protocol_error())
    }
}

fn auth_session_state() -> Avp {
    Avp::enumerated(
        code::AUTH_SESSION_STATE,
        IETF,
        AuthSessionState::NO_STATE_MAINTAINED.0,
    )
}

/// `{ Vendor-Specific-Application-Id } { Auth-Session-State }`: required and well
/// formed, values not stored (they are fixed for Cx).
fn take_fixed(f: &mut Fields) -> Result<(), DecodeError> {
    let vsai = f.req(code::VENDOR_SPECIFIC_APPLICATION_ID, IETF)?;
    VendorSpecificApplicationId::from_avp(&vsai)?;
    f.req_i32(code::AUTH_SESSION_STATE, IETF)?;
    Ok(())
}

fn take_supported_features(f: &mut Fields) -> Result<Vec<SupportedFeatures>, DecodeError> {
    f.all(code::SUPPORTED_FEATURES, TGPP)
        .iter()
        .map(SupportedFeatures::from_avp)
        .collect()
}

fn opt_enum<T>(
    f: &mut Fields,
    c: crate::avp::AvpCode,
    wrap: fn(i32) -> T,
) -> Result<Option<T>, DecodeError> {
    Ok(f.opt_i32(c, TGPP)?.map(wrap))
}

fn push_opt_enum(avps: &mut Vec<Avp>, c: crate::avp::AvpCode, v: Option<i32>) {
    if let Some(v) = v {
        avps.push(Avp::enumerated(c, TGPP, v));
    }
}

fn push_opt_utf8(
    avps: &mut Vec<Avp>,
    c: crate::avp::AvpCode,
    vendor: VendorId,
    v: &Option<String>,
) {
    if let Some(v) = v {
        avps.push(Avp::utf8_string(c, vendor, v));
    }
}

fn push_opt_u32(avps: &mut Vec<Avp>, c: crate::avp::AvpCode, v: Option<u32>) {
    if let Some(v) = v {
        avps.push(Avp::unsigned32(c, TGPP, v));
    }
}

macro_rules! cx_command {
    (@impl $ty:ident, $code:expr, $req:expr, $($error_bit:tt)*) => {
        impl Command for $ty {
            const COMMAND_CODE: CommandCode = $code;
            const APPLICATION_ID: ApplicationId = ApplicationId::CX;
            const IS_REQUEST: bool = $req;
            const PROXIABLE: bool = true;

            fn to_avps(&self) -> Vec<Avp> {
                self.avps()
            }
            fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
                Self::parse(Fields::new(avps))
            }
            $($error_bit)*
        }
    };
    ($ty:ident, $code:expr, request) => {
        cx_command!(@impl $ty, $code, true,);
    };
    // Answers with a 3xxx Result-Code set the E bit (RFC 6733 §7.1.3).
    ($ty:ident, $code:expr, answer) => {
        cx_command!(@impl $ty, $code, false,
            fn error_bit(&self) -> bool {
                self.common.is_protocol_error()
            }
        );
    };
}

// ---------------------------------------------------------------------------
// UAR / UAA
// ---------------------------------------------------------------------------

/// User-Authorization-Request (TS 29.229 §6.1.1):
///
/// ```text
/// < User-Authorization-Request> ::= < Diameter Header: 300, REQ, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
///     { Origin-Host } { Origin-Realm } [ Destination-Host ] { Destination-Realm }
///     { User-Name } [ OC-Supported-Features ] *[ Supported-Features ]
///     { Public-Identity } { Visited-Network-Identifier } [ User-Authorization-Type ]
///     [ UAR-Flags ] *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserAuthorizationRequest {
    pub common: RequestCommon,
    pub user_name: String,
    pub public_identity: String,
    pub visited_network_identifier: Bytes,
    pub user_authorization_type: Option<UserAuthorizationType>,
    pub uar_flags: Option<u32>,
    pub extra: Vec<Avp>,
}

cx_command!(
    UserAuthorizationRequest,
    CommandCode::USER_AUTHORIZATION,
    request
);

impl UserAuthorizationRequest {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(12 + self.extra.len());
        self.common.push_head(&mut a);
        a.push(Avp::utf8_string(code::USER_NAME, IETF, &self.user_name));
        a.push(Avp::utf8_string(
            code::PUBLIC_IDENTITY,
            TGPP,
            &self.public_identity,
        ));
        a.push(Avp::octet_string(
            code::VISITED_NETWORK_IDENTIFIER,
            TGPP,
            self.visited_network_identifier.clone(),
        ));
        push_opt_enum(
            &mut a,
            code::USER_AUTHORIZATION_TYPE,
            self.user_authorization_type.map(|t| t.0),
        );
        push_opt_u32(&mut a, code::UAR_FLAGS, self.uar_flags);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: RequestCommon::take(&mut f, false)?,
            user_name: f.req_utf8(code::USER_NAME, IETF)?,
            public_identity: f.req_utf8(code::PUBLIC_IDENTITY, TGPP)?,
            visited_network_identifier: f.req_octets(code::VISITED_NETWORK_IDENTIFIER, TGPP)?,
            user_authorization_type: opt_enum(
                &mut f,
                code::USER_AUTHORIZATION_TYPE,
                UserAuthorizationType,
            )?,
            uar_flags: f.opt_u32(code::UAR_FLAGS, TGPP)?,
            extra: f.rest(),
        })
    }
}

/// User-Authorization-Answer (TS 29.229 §6.1.2):
///
/// ```text
/// < User-Authorization-Answer> ::= < Diameter Header: 300, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
///     [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }
///     [ OC-Supported-Features ] [ OC-OLR ] *[ Supported-Features ] [ Server-Name ]
///     [ Server-Capabilities ] [ Failed-AVP ] *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuthorizationAnswer {
    pub common: AnswerCommon,
    pub server_name: Option<String>,
    pub server_capabilities: Option<ServerCapabilities>,
    pub extra: Vec<Avp>,
}

cx_command!(
    UserAuthorizationAnswer,
    CommandCode::USER_AUTHORIZATION,
    answer
);

impl UserAuthorizationAnswer {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(10 + self.extra.len());
        self.common.push_head(&mut a);
        push_opt_utf8(&mut a, code::SERVER_NAME, TGPP, &self.server_name);
        if let Some(c) = &self.server_capabilities {
            a.push(c.to_avp());
        }
        self.common.push_tail(&mut a);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: AnswerCommon::take(&mut f)?,
            server_name: f.opt_utf8(code::SERVER_NAME, TGPP)?,
            server_capabilities: f
                .opt(code::SERVER_CAPABILITIES, TGPP)?
                .map(|a| ServerCapabilities::from_avp(&a))
                .transpose()?,
            extra: f.rest(),
        })
    }
}

// ---------------------------------------------------------------------------
// SAR / SAA
// ---------------------------------------------------------------------------

/// Server-Assignment-Request (TS 29.229 §6.1.3):
///
/// ```text
/// < Server-Assignment-Request> ::= < Diameter Header: 301, REQ, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
///     { Origin-Host } { Origin-Realm } [ Destination-Host ] { Destination-Realm }
///     [ User-Name ] [ OC-Supported-Features ] *[ Supported-Features ]
///     *[ Public-Identity ] [ Wildcarded-Public-Identity ] { Server-Name }
///     { Server-Assignment-Type } { User-Data-Already-Available }
///     [ SCSCF-Restoration-Info ] [ Multiple-Registration-Indication ]
///     [ Session-Priority ] [ SAR-Flags ] *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
///
/// SCSCF-Restoration-Info is not modelled (kept in `extra`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAssignmentRequest {
    pub common: RequestCommon,
    pub user_name: Option<String>,
    pub public_identities: Vec<String>,
    pub wildcarded_public_identity: Option<String>,
    pub server_name: String,
    pub server_assignment_type: ServerAssignmentType,
    pub user_data_already_available: UserDataAlreadyAvailable,
    pub multiple_registration_indication: Option<MultipleRegistrationIndication>,
    pub session_priority: Option<SessionPriority>,
    pub sar_flags: Option<u32>,
    pub extra: Vec<Avp>,
}

cx_command!(
    ServerAssignmentRequest,
    CommandCode::SERVER_ASSIGNMENT,
    request
);

impl ServerAssignmentRequest {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(14 + self.extra.len());
        self.common.push_head(&mut a);
        push_opt_utf8(&mut a, code::USER_NAME, IETF, &self.user_name);
        for p in &self.public_identities {
            a.push(Avp::utf8_string(code::PUBLIC_IDENTITY, TGPP, p));
        }
        push_opt_utf8(
            &mut a,
            code::WILDCARDED_PUBLIC_IDENTITY,
            TGPP,
            &self.wildcarded_public_identity,
        );
        a.push(Avp::utf8_string(code::SERVER_NAME, TGPP, &self.server_name));
        a.push(Avp::enumerated(
            code::SERVER_ASSIGNMENT_TYPE,
            TGPP,
            self.server_assignment_type.0,
        ));
        a.push(Avp::enumerated(
            code::USER_DATA_ALREADY_AVAILABLE,
            TGPP,
            self.user_data_already_available.0,
        ));
        push_opt_enum(
            &mut a,
            code::MULTIPLE_REGISTRATION_INDICATION,
            self.multiple_registration_indication.map(|v| v.0),
        );
        push_opt_enum(
            &mut a,
            code::SESSION_PRIORITY,
            self.session_priority.map(|v| v.0),
        );
        push_opt_u32(&mut a, code::SAR_FLAGS, self.sar_flags);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: RequestCommon::take(&mut f, false)?,
            user_name: f.opt_utf8(code::USER_NAME, IETF)?,
            public_identities: f.all_utf8(code::PUBLIC_IDENTITY, TGPP)?,
            wildcarded_public_identity: f.opt_utf8(code::WILDCARDED_PUBLIC_IDENTITY, TGPP)?,
            server_name: f.req_utf8(code::SERVER_NAME, TGPP)?,
            server_assignment_type: ServerAssignmentType(
                f.req_i32(code::SERVER_ASSIGNMENT_TYPE, TGPP)?,
            ),
            user_data_already_available: UserDataAlreadyAvailable(
                f.req_i32(code::USER_DATA_ALREADY_AVAILABLE, TGPP)?,
            ),
            multiple_registration_indication: opt_enum(
                &mut f,
                code::MULTIPLE_REGISTRATION_INDICATION,
                MultipleRegistrationIndication,
            )?,
            session_priority: opt_enum(&mut f, code::SESSION_PRIORITY, SessionPriority)?,
            sar_flags: f.opt_u32(code::SAR_FLAGS, TGPP)?,
            extra: f.rest(),
        })
    }
}

/// Server-Assignment-Answer (TS 29.229 §6.1.4):
///
/// ```text
/// < Server-Assignment-Answer> ::= < Diameter Header: 301, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
///     [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }
///     [ User-Name ] [ OC-Supported-Features ] [ OC-OLR ] *[ Supported-Features ]
///     [ User-Data ] [ Charging-Information ] [ Associated-Identities ]
///     [ Loose-Route-Indication ] *[ SCSCF-Restoration-Info ]
///     [ Associated-Registered-Identities ] [ Server-Name ]
///     [ Wildcarded-Public-Identity ] [ Priviledged-Sender-Indication ]
///     [ Allowed-WAF-WWSF-Identities ] [ Failed-AVP ] *[ AVP ] *[ Proxy-Info ]
///     *[ Route-Record ]
/// ```
///
/// User-Data is the IMS subscription XML (TS 29.228 Annex E) as raw octets.
/// SCSCF-Restoration-Info, Associated-Registered-Identities and
/// Allowed-WAF-WWSF-Identities stay in `extra`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAssignmentAnswer {
    pub common: AnswerCommon,
    pub user_name: Option<String>,
    pub user_data: Option<Bytes>,
    pub charging_information: Option<ChargingInformation>,
    pub associated_identities: Option<AssociatedIdentities>,
    pub loose_route_indication: Option<LooseRouteIndication>,
    pub server_name: Option<String>,
    pub wildcarded_public_identity: Option<String>,
    pub priviledged_sender_indication: Option<PriviledgedSenderIndication>,
    pub extra: Vec<Avp>,
}

cx_command!(
    ServerAssignmentAnswer,
    CommandCode::SERVER_ASSIGNMENT,
    answer
);

impl ServerAssignmentAnswer {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(14 + self.extra.len());
        self.common.push_head(&mut a);
        push_opt_utf8(&mut a, code::USER_NAME, IETF, &self.user_name);
        if let Some(d) = &self.user_data {
            a.push(Avp::octet_string(code::USER_DATA, TGPP, d.clone()));
        }
        if let Some(c) = &self.charging_information {
            a.push(c.to_avp());
        }
        if let Some(ai) = &self.associated_identities {
            a.push(ai.to_avp());
        }
        push_opt_enum(
            &mut a,
            code::LOOSE_ROUTE_INDICATION,
            self.loose_route_indication.map(|v| v.0),
        );
        push_opt_utf8(&mut a, code::SERVER_NAME, TGPP, &self.server_name);
        push_opt_utf8(
            &mut a,
            code::WILDCARDED_PUBLIC_IDENTITY,
            TGPP,
            &self.wildcarded_public_identity,
        );
        push_opt_enum(
            &mut a,
            code::PRIVILEDGED_SENDER_INDICATION,
            self.priviledged_sender_indication.map(|v| v.0),
        );
        self.common.push_tail(&mut a);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: AnswerCommon::take(&mut f)?,
            user_name: f.opt_utf8(code::USER_NAME, IETF)?,
            user_data: f.opt_octets(code::USER_DATA, TGPP)?,
            charging_information: f
                .opt(code::CHARGING_INFORMATION, TGPP)?
                .map(|a| ChargingInformation::from_avp(&a))
                .transpose()?,
            associated_identities: f
                .opt(code::ASSOCIATED_IDENTITIES, TGPP)?
                .map(|a| AssociatedIdentities::from_avp(&a))
                .transpose()?,
            loose_route_indication: opt_enum(
                &mut f,
                code::LOOSE_ROUTE_INDICATION,
                LooseRouteIndication,
            )?,
            server_name: f.opt_utf8(code::SERVER_NAME, TGPP)?,
            wildcarded_public_identity: f.opt_utf8(code::WILDCARDED_PUBLIC_IDENTITY, TGPP)?,
            priviledged_sender_indication: opt_enum(
                &mut f,
                code::PRIVILEDGED_SENDER_INDICATION,
                PriviledgedSenderIndication,
            )?,
            extra: f.rest(),
        })
    }
}

// ---------------------------------------------------------------------------
// LIR / LIA
// ---------------------------------------------------------------------------

/// Location-Info-Request (TS 29.229 §6.1.5):
///
/// ```text
/// < Location-Info-Request> ::= < Diameter Header: 302, REQ, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
///     { Origin-Host } { Origin-Realm } [ Destination-Host ] { Destination-Realm }
///     [ Originating-Request ] [ OC-Supported-Features ] *[ Supported-Features ]
///     { Public-Identity } [ User-Authorization-Type ] [ Session-Priority ]
///     *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocationInfoRequest {
    pub common: RequestCommon,
    pub originating_request: Option<OriginatingRequest>,
    pub public_identity: String,
    pub user_authorization_type: Option<UserAuthorizationType>,
    pub session_priority: Option<SessionPriority>,
    pub extra: Vec<Avp>,
}

cx_command!(LocationInfoRequest, CommandCode::LOCATION_INFO, request);

impl LocationInfoRequest {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(11 + self.extra.len());
        self.common.push_head(&mut a);
        push_opt_enum(
            &mut a,
            code::ORIGINATING_REQUEST,
            self.originating_request.map(|v| v.0),
        );
        a.push(Avp::utf8_string(
            code::PUBLIC_IDENTITY,
            TGPP,
            &self.public_identity,
        ));
        push_opt_enum(
            &mut a,
            code::USER_AUTHORIZATION_TYPE,
            self.user_authorization_type.map(|v| v.0),
        );
        push_opt_enum(
            &mut a,
            code::SESSION_PRIORITY,
            self.session_priority.map(|v| v.0),
        );
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: RequestCommon::take(&mut f, false)?,
            originating_request: opt_enum(&mut f, code::ORIGINATING_REQUEST, OriginatingRequest)?,
            public_identity: f.req_utf8(code::PUBLIC_IDENTITY, TGPP)?,
            user_authorization_type: opt_enum(
                &mut f,
                code::USER_AUTHORIZATION_TYPE,
                UserAuthorizationType,
            )?,
            session_priority: opt_enum(&mut f, code::SESSION_PRIORITY, SessionPriority)?,
            extra: f.rest(),
        })
    }
}

/// Location-Info-Answer (TS 29.229 §6.1.6):
///
/// ```text
/// < Location-Info-Answer> ::= < Diameter Header: 302, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
///     [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }
///     [ OC-Supported-Features ] [ OC-OLR ] *[ Supported-Features ] [ Server-Name ]
///     [ Server-Capabilities ] [ Wildcarded-Public-Identity ] [ LIA-Flags ]
///     [ Failed-AVP ] *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationInfoAnswer {
    pub common: AnswerCommon,
    pub server_name: Option<String>,
    pub server_capabilities: Option<ServerCapabilities>,
    pub wildcarded_public_identity: Option<String>,
    pub lia_flags: Option<u32>,
    pub extra: Vec<Avp>,
}

cx_command!(LocationInfoAnswer, CommandCode::LOCATION_INFO, answer);

impl LocationInfoAnswer {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(12 + self.extra.len());
        self.common.push_head(&mut a);
        push_opt_utf8(&mut a, code::SERVER_NAME, TGPP, &self.server_name);
        if let Some(c) = &self.server_capabilities {
            a.push(c.to_avp());
        }
        push_opt_utf8(
            &mut a,
            code::WILDCARDED_PUBLIC_IDENTITY,
            TGPP,
            &self.wildcarded_public_identity,
        );
        push_opt_u32(&mut a, code::LIA_FLAGS, self.lia_flags);
        self.common.push_tail(&mut a);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: AnswerCommon::take(&mut f)?,
            server_name: f.opt_utf8(code::SERVER_NAME, TGPP)?,
            server_capabilities: f
                .opt(code::SERVER_CAPABILITIES, TGPP)?
                .map(|a| ServerCapabilities::from_avp(&a))
                .transpose()?,
            wildcarded_public_identity: f.opt_utf8(code::WILDCARDED_PUBLIC_IDENTITY, TGPP)?,
            lia_flags: f.opt_u32(code::LIA_FLAGS, TGPP)?,
            extra: f.rest(),
        })
    }
}

// ---------------------------------------------------------------------------
// MAR / MAA
// ---------------------------------------------------------------------------

/// Multimedia-Auth-Request (TS 29.229 §6.1.7):
///
/// ```text
/// < Multimedia-Auth-Request > ::= < Diameter Header: 303, REQ, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
///     { Origin-Host } { Origin-Realm } { Destination-Realm } [ Destination-Host ]
///     { User-Name } [ OC-Supported-Features ] *[ Supported-Features ]
///     { Public-Identity } { SIP-Auth-Data-Item } { SIP-Number-Auth-Items }
///     { Server-Name } *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultimediaAuthRequest {
    pub common: RequestCommon,
    pub user_name: String,
    pub public_identity: String,
    pub sip_auth_data_item: SipAuthDataItem,
    pub sip_number_auth_items: u32,
    pub server_name: String,
    pub extra: Vec<Avp>,
}

cx_command!(MultimediaAuthRequest, CommandCode::MULTIMEDIA_AUTH, request);

impl MultimediaAuthRequest {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(12 + self.extra.len());
        self.common.push_head(&mut a);
        a.push(Avp::utf8_string(code::USER_NAME, IETF, &self.user_name));
        a.push(Avp::utf8_string(
            code::PUBLIC_IDENTITY,
            TGPP,
            &self.public_identity,
        ));
        a.push(self.sip_auth_data_item.to_avp());
        a.push(Avp::unsigned32(
            code::SIP_NUMBER_AUTH_ITEMS,
            TGPP,
            self.sip_number_auth_items,
        ));
        a.push(Avp::utf8_string(code::SERVER_NAME, TGPP, &self.server_name));
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: RequestCommon::take(&mut f, false)?,
            user_name: f.req_utf8(code::USER_NAME, IETF)?,
            public_identity: f.req_utf8(code::PUBLIC_IDENTITY, TGPP)?,
            sip_auth_data_item: SipAuthDataItem::from_avp(&f.req(code::SIP_AUTH_DATA_ITEM, TGPP)?)?,
            sip_number_auth_items: f.req_u32(code::SIP_NUMBER_AUTH_ITEMS, TGPP)?,
            server_name: f.req_utf8(code::SERVER_NAME, TGPP)?,
            extra: f.rest(),
        })
    }
}

/// Multimedia-Auth-Answer (TS 29.229 §6.1.8):
///
/// ```text
/// < Multimedia-Auth-Answer> ::= < Diameter Header: 303, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
///     [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }
///     [ User-Name ] [ OC-Supported-Features ] [ OC-OLR ] *[ Supported-Features ]
///     [ Public-Identity ] [ SIP-Number-Auth-Items ] *[ SIP-Auth-Data-Item ]
///     [ Failed-AVP ] *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultimediaAuthAnswer {
    pub common: AnswerCommon,
    pub user_name: Option<String>,
    pub public_identity: Option<String>,
    pub sip_number_auth_items: Option<u32>,
    pub sip_auth_data_items: Vec<SipAuthDataItem>,
    pub extra: Vec<Avp>,
}

cx_command!(MultimediaAuthAnswer, CommandCode::MULTIMEDIA_AUTH, answer);

impl MultimediaAuthAnswer {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(12 + self.sip_auth_data_items.len() + self.extra.len());
        self.common.push_head(&mut a);
        push_opt_utf8(&mut a, code::USER_NAME, IETF, &self.user_name);
        push_opt_utf8(&mut a, code::PUBLIC_IDENTITY, TGPP, &self.public_identity);
        push_opt_u32(
            &mut a,
            code::SIP_NUMBER_AUTH_ITEMS,
            self.sip_number_auth_items,
        );
        a.extend(self.sip_auth_data_items.iter().map(SipAuthDataItem::to_avp));
        self.common.push_tail(&mut a);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: AnswerCommon::take(&mut f)?,
            user_name: f.opt_utf8(code::USER_NAME, IETF)?,
            public_identity: f.opt_utf8(code::PUBLIC_IDENTITY, TGPP)?,
            sip_number_auth_items: f.opt_u32(code::SIP_NUMBER_AUTH_ITEMS, TGPP)?,
            sip_auth_data_items: f
                .all(code::SIP_AUTH_DATA_ITEM, TGPP)
                .iter()
                .map(SipAuthDataItem::from_avp)
                .collect::<Result<_, _>>()?,
            extra: f.rest(),
        })
    }
}

// ---------------------------------------------------------------------------
// RTR / RTA
// ---------------------------------------------------------------------------

/// Registration-Termination-Request (TS 29.229 §6.1.9), HSS -> S-CSCF:
///
/// ```text
/// < Registration-Termination-Request > ::= < Diameter Header: 304, REQ, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
///     { Origin-Host } { Origin-Realm } { Destination-Host } { Destination-Realm }
///     { User-Name } [ Associated-Identities ] *[ Supported-Features ]
///     *[ Public-Identity ] { Deregistration-Reason } *[ AVP ] *[ Proxy-Info ]
///     *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTerminationRequest {
    pub common: RequestCommon,
    pub user_name: String,
    pub associated_identities: Option<AssociatedIdentities>,
    pub public_identities: Vec<String>,
    pub deregistration_reason: DeregistrationReason,
    pub extra: Vec<Avp>,
}

cx_command!(
    RegistrationTerminationRequest,
    CommandCode::REGISTRATION_TERMINATION,
    request
);

impl RegistrationTerminationRequest {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(12 + self.public_identities.len() + self.extra.len());
        self.common.push_head(&mut a);
        a.push(Avp::utf8_string(code::USER_NAME, IETF, &self.user_name));
        if let Some(ai) = &self.associated_identities {
            a.push(ai.to_avp());
        }
        for p in &self.public_identities {
            a.push(Avp::utf8_string(code::PUBLIC_IDENTITY, TGPP, p));
        }
        a.push(self.deregistration_reason.to_avp());
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: RequestCommon::take(&mut f, true)?,
            user_name: f.req_utf8(code::USER_NAME, IETF)?,
            associated_identities: f
                .opt(code::ASSOCIATED_IDENTITIES, TGPP)?
                .map(|a| AssociatedIdentities::from_avp(&a))
                .transpose()?,
            public_identities: f.all_utf8(code::PUBLIC_IDENTITY, TGPP)?,
            deregistration_reason: DeregistrationReason::from_avp(
                &f.req(code::DEREGISTRATION_REASON, TGPP)?,
            )?,
            extra: f.rest(),
        })
    }
}

/// Registration-Termination-Answer (TS 29.229 §6.1.10):
///
/// ```text
/// < Registration-Termination-Answer > ::= < Diameter Header: 304, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
///     [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }
///     [ Associated-Identities ] *[ Supported-Features ]
///     *[ Identity-with-Emergency-Registration ] [ Failed-AVP ] *[ AVP ]
///     *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTerminationAnswer {
    pub common: AnswerCommon,
    pub associated_identities: Option<AssociatedIdentities>,
    pub extra: Vec<Avp>,
}

cx_command!(
    RegistrationTerminationAnswer,
    CommandCode::REGISTRATION_TERMINATION,
    answer
);

impl RegistrationTerminationAnswer {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(9 + self.extra.len());
        self.common.push_head(&mut a);
        if let Some(ai) = &self.associated_identities {
            a.push(ai.to_avp());
        }
        self.common.push_tail(&mut a);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: AnswerCommon::take(&mut f)?,
            associated_identities: f
                .opt(code::ASSOCIATED_IDENTITIES, TGPP)?
                .map(|a| AssociatedIdentities::from_avp(&a))
                .transpose()?,
            extra: f.rest(),
        })
    }
}

// ---------------------------------------------------------------------------
// PPR / PPA
// ---------------------------------------------------------------------------

/// Push-Profile-Request (TS 29.229 §6.1.11), HSS -> S-CSCF:
///
/// ```text
/// < Push-Profile-Request > ::= < Diameter Header: 305, REQ, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
///     { Origin-Host } { Origin-Realm } { Destination-Host } { Destination-Realm }
///     { User-Name } *[ Supported-Features ] [ User-Data ] [ Charging-Information ]
///     [ SIP-Auth-Data-Item ] [ Allowed-WAF-WWSF-Identities ] *[ AVP ]
///     *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushProfileRequest {
    pub common: RequestCommon,
    pub user_name: String,
    pub user_data: Option<Bytes>,
    pub charging_information: Option<ChargingInformation>,
    pub sip_auth_data_item: Option<SipAuthDataItem>,
    pub extra: Vec<Avp>,
}

cx_command!(PushProfileRequest, CommandCode::PUSH_PROFILE, request);

impl PushProfileRequest {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(12 + self.extra.len());
        self.common.push_head(&mut a);
        a.push(Avp::utf8_string(code::USER_NAME, IETF, &self.user_name));
        if let Some(d) = &self.user_data {
            a.push(Avp::octet_string(code::USER_DATA, TGPP, d.clone()));
        }
        if let Some(c) = &self.charging_information {
            a.push(c.to_avp());
        }
        if let Some(s) = &self.sip_auth_data_item {
            a.push(s.to_avp());
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: RequestCommon::take(&mut f, true)?,
            user_name: f.req_utf8(code::USER_NAME, IETF)?,
            user_data: f.opt_octets(code::USER_DATA, TGPP)?,
            charging_information: f
                .opt(code::CHARGING_INFORMATION, TGPP)?
                .map(|a| ChargingInformation::from_avp(&a))
                .transpose()?,
            sip_auth_data_item: f
                .opt(code::SIP_AUTH_DATA_ITEM, TGPP)?
                .map(|a| SipAuthDataItem::from_avp(&a))
                .transpose()?,
            extra: f.rest(),
        })
    }
}

/// Push-Profile-Answer (TS 29.229 §6.1.12):
///
/// ```text
/// < Push-Profile-Answer > ::= < Diameter Header: 305, PXY, 16777216 >
///     < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
///     [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }
///     *[ Supported-Features ] [ Failed-AVP ] *[ AVP ] *[ Proxy-Info ] *[ Route-Record ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushProfileAnswer {
    pub common: AnswerCommon,
    pub extra: Vec<Avp>,
}

cx_command!(PushProfileAnswer, CommandCode::PUSH_PROFILE, answer);

impl PushProfileAnswer {
    fn avps(&self) -> Vec<Avp> {
        let mut a = Vec::with_capacity(8 + self.extra.len());
        self.common.push_head(&mut a);
        self.common.push_tail(&mut a);
        a.extend(self.extra.iter().cloned());
        a
    }

    fn parse(mut f: Fields) -> Result<Self, DecodeError> {
        Ok(Self {
            common: AnswerCommon::take(&mut f)?,
            extra: f.rest(),
        })
    }
}

/// The dictionary check (RFC 6733 §7: 3001, 3007, 3009, 5001, 5004, 5014) a Cx server
/// runs on every request before typed decoding (which adds 5005 and 5009).
pub fn validate_request(msg: &crate::message::Message) -> Result<(), DecodeError> {
    dictionary::validate(
        msg.header.application_id,
        msg.header.command_code,
        &msg.avps,
    )
}
