//! Typed base protocol commands for peer management (RFC 6733 §5): CER/CEA (§5.3),
//! DPR/DPA (§5.4), DWR/DWA (§5.5), the generic error answer-message (§7.2), and the
//! base Grouped AVPs every application uses (Vendor-Specific-Application-Id §6.11,
//! Experimental-Result §7.6).

use std::net::IpAddr;

use crate::avp::{code, Address, Avp, VendorId};
use crate::command::{Command, Fields};
use crate::error::DecodeError;
use crate::header::{ApplicationId, CommandCode};
use crate::result::{ExperimentalResultCode, ResultCode};

const IETF: VendorId = VendorId::IETF;

/// Disconnect-Cause (RFC 6733 §5.4.3). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DisconnectCause(pub i32);

impl DisconnectCause {
    pub const REBOOTING: Self = Self(0);
    pub const BUSY: Self = Self(1);
    pub const DO_NOT_WANT_TO_TALK_TO_YOU: Self = Self(2);
}

/// Inband-Security-Id (RFC 6733 §6.10). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InbandSecurityId(pub u32);

impl InbandSecurityId {
    pub const NO_INBAND_SECURITY: Self = Self(0);
    pub const TLS: Self = Self(1);
}

/// Auth-Session-State (RFC 6733 §8.11). Open newtype. Cx uses NO_STATE_MAINTAINED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthSessionState(pub i32);

impl AuthSessionState {
    pub const STATE_MAINTAINED: Self = Self(0);
    pub const NO_STATE_MAINTAINED: Self = Self(1);
}

/// Vendor-Specific-Application-Id (RFC 6733 §6.11):
/// `{ Vendor-Id } [ Auth-Application-Id ] [ Acct-Application-Id ]`, exactly one of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorSpecificApplicationId {
    pub vendor_id: VendorId,
    pub auth_application_id: Option<ApplicationId>,
    pub acct_application_id: Option<ApplicationId>,
}

impl VendorSpecificApplicationId {
    /// `{Vendor-Id = 10415, Auth-Application-Id = 16777216}`, what Cx messages carry
    /// (TS 29.229 §6.1).
    pub const CX: Self = Self {
        vendor_id: VendorId::TGPP,
        auth_application_id: Some(ApplicationId::CX),
        acct_application_id: None,
    };

    pub fn to_avp(&self) -> Avp {
        let mut c = vec![Avp::unsigned32(code::VENDOR_ID, IETF, self.vendor_id.0)];
        if let Some(a) = self.auth_application_id {
            c.push(Avp::unsigned32(code::AUTH_APPLICATION_ID, IETF, a.0));
        }
        if let Some(a) = self.acct_application_id {
            c.push(Avp::unsigned32(code::ACCT_APPLICATION_ID, IETF, a.0));
        }
        Avp::grouped(code::VENDOR_SPECIFIC_APPLICATION_ID, IETF, &c)
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            let vendor_id = VendorId(f.req_u32(code::VENDOR_ID, IETF)?);
            let auth = f
                .opt_u32(code::AUTH_APPLICATION_ID, IETF)?
                .map(ApplicationId);
            let acct = f
                .opt_u32(code::ACCT_APPLICATION_ID, IETF)?
                .map(ApplicationId);
            if auth.is_none() && acct.is_none() {
                return Err(DecodeError::MissingAvp {
                    failed_avp: crate::dictionary::missing_avp(code::AUTH_APPLICATION_ID, IETF),
                });
            }
            Ok(Self {
                vendor_id,
                auth_application_id: auth,
                acct_application_id: acct,
            })
        };
        inner().map_err(|e| wrap_unless_grouped(e, avp))
    }
}

/// Errors raised while reading a Grouped AVP's children are reported with the
/// Grouped AVP around the child (RFC 6733 §7.5); errors that already came from
/// [`Avp::as_grouped`] are wrapped once there.
pub(crate) fn wrap_unless_grouped(e: DecodeError, parent: &Avp) -> DecodeError {
    match e.failed_avp() {
        Some(f) if f.code == parent.code && f.vendor_id == parent.vendor_id => e,
        _ => e.within(parent),
    }
}

/// Experimental-Result (RFC 6733 §7.6): `{ Vendor-Id } { Experimental-Result-Code }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExperimentalResult {
    pub vendor_id: VendorId,
    pub code: ExperimentalResultCode,
}

impl ExperimentalResult {
    /// A 3GPP (vendor 10415) experimental result, as Cx uses (TS 29.229 §6.2).
    pub fn tgpp(code: ExperimentalResultCode) -> Self {
        Self {
            vendor_id: VendorId::TGPP,
            code,
        }
    }

    pub fn to_avp(&self) -> Avp {
        Avp::grouped(
            code::EXPERIMENTAL_RESULT,
            IETF,
            &[
                Avp::unsigned32(code::VENDOR_ID, IETF, self.vendor_id.0),
                Avp::unsigned32(code::EXPERIMENTAL_RESULT_CODE, IETF, self.code.0),
            ],
        )
    }

    pub fn from_avp(avp: &Avp) -> Result<Self, DecodeError> {
        let inner = || -> Result<Self, DecodeError> {
            let mut f = Fields::grouped(avp)?;
            Ok(Self {
                vendor_id: VendorId(f.req_u32(code::VENDOR_ID, IETF)?),
                code: ExperimentalResultCode(f.req_u32(code::EXPERIMENTAL_RESULT_CODE, IETF)?),
            })
        };
        inner().map_err(|e| wrap_unless_grouped(e, avp))
    }
}

/// The outcome of an answer: `[ Result-Code ] [ Experimental-Result ]`, one of them
/// present (TS 29.229 §6.1 answers; base answers always use Result-Code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerResult {
    Base(ResultCode),
    Experimental(ExperimentalResult),
}

impl AnswerResult {
    pub fn is_success(&self) -> bool {
        match self {
            Self::Base(r) => r.is_success(),
            Self::Experimental(e) => e.code.is_success(),
        }
    }

    /// The base Result-Code, if that is what the answer carries.
    pub fn result_code(&self) -> Option<ResultCode> {
        match self {
            Self::Base(r) => Some(*r),
            Self::Experimental(_) => None,
        }
    }

    pub(crate) fn to_avp(self) -> Avp {
        match self {
            Self::Base(r) => Avp::unsigned32(code::RESULT_CODE, IETF, r.0),
            Self::Experimental(e) => e.to_avp(),
        }
    }

    /// Reads Result-Code or Experimental-Result; neither is 5005 (Result-Code).
    pub(crate) fn take(f: &mut Fields) -> Result<Self, DecodeError> {
        let rc = f.opt_u32(code::RESULT_CODE, IETF)?;
        let er = f.opt(code::EXPERIMENTAL_RESULT, IETF)?;
        match (rc, er) {
            (Some(rc), _) => Ok(Self::Base(ResultCode(rc))),
            (None, Some(er)) => Ok(Self::Experimental(ExperimentalResult::from_avp(&er)?)),
            (None, None) => Err(DecodeError::MissingAvp {
                failed_avp: crate::dictionary::missing_avp(code::RESULT_CODE, IETF),
            }),
        }
    }
}

impl From<ResultCode> for AnswerResult {
    fn from(r: ResultCode) -> Self {
        Self::Base(r)
    }
}

impl From<ExperimentalResult> for AnswerResult {
    fn from(e: ExperimentalResult) -> Self {
        Self::Experimental(e)
    }
}

/// Failed-AVP (RFC 6733 §7.5): the offending AVPs.
pub(crate) fn failed_avp_to_avp(avps: &[Avp]) -> Avp {
    Avp::grouped(code::FAILED_AVP, IETF, avps)
}

pub(crate) fn take_failed_avp(f: &mut Fields) -> Result<Option<Vec<Avp>>, DecodeError> {
    f.opt(code::FAILED_AVP, IETF)?
        .map(|a| a.as_grouped())
        .transpose()
}

fn host_ips(f: &mut Fields) -> Result<Vec<IpAddr>, DecodeError> {
    f.all(code::HOST_IP_ADDRESS, IETF)
        .iter()
        .map(Avp::as_ip_address)
        .collect()
}

fn require_host_ip(ips: &[IpAddr]) -> Result<(), DecodeError> {
    if ips.is_empty() {
        return Err(DecodeError::MissingAvp {
            failed_avp: crate::dictionary::missing_avp(code::HOST_IP_ADDRESS, IETF),
        });
    }
    Ok(())
}

/// The capability AVPs CER and CEA share (RFC 6733 §5.3.1, §5.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub origin_host: String,
    pub origin_realm: String,
    /// `1* { Host-IP-Address }`.
    pub host_ip_addresses: Vec<IpAddr>,
    pub vendor_id: VendorId,
    pub product_name: String,
    pub origin_state_id: Option<u32>,
    pub supported_vendor_ids: Vec<VendorId>,
    pub auth_application_ids: Vec<ApplicationId>,
    pub inband_security_ids: Vec<InbandSecurityId>,
    pub acct_application_ids: Vec<ApplicationId>,
    pub vendor_specific_application_ids: Vec<VendorSpecificApplicationId>,
    pub firmware_revision: Option<u32>,
}

impl Capabilities {
    /// Appends the AVPs after Origin-Realm (and, in a CEA, after Failed-AVP) in CCF
    /// order. `between` goes after Origin-State-Id: CEA's Error-Message/Failed-AVP.
    fn push_avps(&self, avps: &mut Vec<Avp>, between: Vec<Avp>) {
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
        for ip in &self.host_ip_addresses {
            avps.push(Avp::address(code::HOST_IP_ADDRESS, IETF, Address::Ip(*ip)));
        }
        avps.push(Avp::unsigned32(code::VENDOR_ID, IETF, self.vendor_id.0));
        avps.push(Avp::utf8_string(
            code::PRODUCT_NAME,
            IETF,
            &self.product_name,
        ));
        if let Some(s) = self.origin_state_id {
            avps.push(Avp::unsigned32(code::ORIGIN_STATE_ID, IETF, s));
        }
        avps.extend(between);
        for v in &self.supported_vendor_ids {
            avps.push(Avp::unsigned32(code::SUPPORTED_VENDOR_ID, IETF, v.0));
        }
        for a in &self.auth_application_ids {
            avps.push(Avp::unsigned32(code::AUTH_APPLICATION_ID, IETF, a.0));
        }
        for i in &self.inband_security_ids {
            avps.push(Avp::unsigned32(code::INBAND_SECURITY_ID, IETF, i.0));
        }
        for a in &self.acct_application_ids {
            avps.push(Avp::unsigned32(code::ACCT_APPLICATION_ID, IETF, a.0));
        }
        for v in &self.vendor_specific_application_ids {
            avps.push(v.to_avp());
        }
        if let Some(fw) = self.firmware_revision {
            avps.push(Avp::unsigned32(code::FIRMWARE_REVISION, IETF, fw));
        }
    }

    fn take(f: &mut Fields) -> Result<Self, DecodeError> {
        let origin_host = f.req_identity(code::ORIGIN_HOST, IETF)?;
        let origin_realm = f.req_identity(code::ORIGIN_REALM, IETF)?;
        let host_ip_addresses = host_ips(f)?;
        require_host_ip(&host_ip_addresses)?;
        Ok(Self {
            origin_host,
            origin_realm,
            host_ip_addresses,
            vendor_id: VendorId(f.req_u32(code::VENDOR_ID, IETF)?),
            product_name: f.req_utf8(code::PRODUCT_NAME, IETF)?,
            origin_state_id: f.opt_u32(code::ORIGIN_STATE_ID, IETF)?,
            supported_vendor_ids: f
                .all_u32(code::SUPPORTED_VENDOR_ID, IETF)?
                .into_iter()
                .map(VendorId)
                .collect(),
            auth_application_ids: f
                .all_u32(code::AUTH_APPLICATION_ID, IETF)?
                .into_iter()
                .map(ApplicationId)
                .collect(),
            inband_security_ids: f
                .all_u32(code::INBAND_SECURITY_ID, IETF)?
                .into_iter()
                .map(InbandSecurityId)
                .collect(),
            acct_application_ids: f
                .all_u32(code::ACCT_APPLICATION_ID, IETF)?
                .into_iter()
                .map(ApplicationId)
                .collect(),
            vendor_specific_application_ids: f
                .all(code::VENDOR_SPECIFIC_APPLICATION_ID, IETF)
                .iter()
                .map(VendorSpecificApplicationId::from_avp)
                .collect::<Result<_, _>>()?,
            firmware_revision: f.opt_u32(code::FIRMWARE_REVISION, IETF)?,
        })
    }

    /// Every application this side advertises, auth or acct, plain or vendor-specific
    /// (what RFC 6733 §5.3 compares to find common applications).
    pub fn application_ids(&self) -> impl Iterator<Item = ApplicationId> + '_ {
        self.auth_application_ids
            .iter()
            .chain(&self.acct_application_ids)
            .copied()
            .chain(self.vendor_specific_application_ids.iter().flat_map(|v| {
                v.auth_application_id
                    .into_iter()
                    .chain(v.acct_application_id)
            }))
    }
}

/// Capabilities-Exchange-Request (RFC 6733 §5.3.1):
///
/// ```text
/// <CER> ::= < Diameter Header: 257, REQ >
///           { Origin-Host } { Origin-Realm } 1* { Host-IP-Address } { Vendor-Id }
///           { Product-Name } [ Origin-State-Id ] * [ Supported-Vendor-Id ]
///           * [ Auth-Application-Id ] * [ Inband-Security-Id ] * [ Acct-Application-Id ]
///           * [ Vendor-Specific-Application-Id ] [ Firmware-Revision ] * [ AVP ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapabilitiesExchangeRequest {
    pub capabilities: Capabilities,
    pub extra: Vec<Avp>,
}

impl Command for CapabilitiesExchangeRequest {
    const COMMAND_CODE: CommandCode = CommandCode::CAPABILITIES_EXCHANGE;
    const APPLICATION_ID: ApplicationId = ApplicationId::COMMON;
    const IS_REQUEST: bool = true;
    const PROXIABLE: bool = false;

    fn to_avps(&self) -> Vec<Avp> {
        let mut avps = Vec::new();
        self.capabilities.push_avps(&mut avps, Vec::new());
        avps.extend(self.extra.iter().cloned());
        avps
    }

    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
        let mut f = Fields::new(avps);
        let capabilities = Capabilities::take(&mut f)?;
        Ok(Self {
            capabilities,
            extra: f.rest(),
        })
    }
}

/// Capabilities-Exchange-Answer (RFC 6733 §5.3.2):
///
/// ```text
/// <CEA> ::= < Diameter Header: 257 >
///           { Result-Code } { Origin-Host } { Origin-Realm } 1* { Host-IP-Address }
///           { Vendor-Id } { Product-Name } [ Origin-State-Id ] [ Error-Message ]
///           [ Failed-AVP ] * [ Supported-Vendor-Id ] * [ Auth-Application-Id ]
///           * [ Inband-Security-Id ] * [ Acct-Application-Id ]
///           * [ Vendor-Specific-Application-Id ] [ Firmware-Revision ] * [ AVP ]
/// ```
///
/// A CEA with the E bit (e.g. 3010 UNKNOWN_PEER) may use the generic layout of
/// [`AnswerMessage`] instead; decode it with that type when `header.flags` has E.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilitiesExchangeAnswer {
    pub result_code: ResultCode,
    pub capabilities: Capabilities,
    pub error_message: Option<String>,
    pub failed_avp: Option<Vec<Avp>>,
    pub extra: Vec<Avp>,
}

impl Command for CapabilitiesExchangeAnswer {
    const COMMAND_CODE: CommandCode = CommandCode::CAPABILITIES_EXCHANGE;
    const APPLICATION_ID: ApplicationId = ApplicationId::COMMON;
    const IS_REQUEST: bool = false;
    const PROXIABLE: bool = false;

    fn error_bit(&self) -> bool {
        self.result_code.is_protocol_error()
    }

    fn to_avps(&self) -> Vec<Avp> {
        let mut avps = vec![Avp::unsigned32(code::RESULT_CODE, IETF, self.result_code.0)];
        let mut between = Vec::new();
        if let Some(m) = &self.error_message {
            between.push(Avp::utf8_string(code::ERROR_MESSAGE, IETF, m));
        }
        if let Some(fa) = &self.failed_avp {
            between.push(failed_avp_to_avp(fa));
        }
        self.capabilities.push_avps(&mut avps, between);
        avps.extend(self.extra.iter().cloned());
        avps
    }

    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
        let mut f = Fields::new(avps);
        let result_code = ResultCode(f.req_u32(code::RESULT_CODE, IETF)?);
        let capabilities = Capabilities::take(&mut f)?;
        Ok(Self {
            result_code,
            capabilities,
            error_message: f.opt_utf8(code::ERROR_MESSAGE, IETF)?,
            failed_avp: take_failed_avp(&mut f)?,
            extra: f.rest(),
        })
    }
}

/// Disconnect-Peer-Request (RFC 6733 §5.4.1):
/// `< Diameter Header: 282, REQ > { Origin-Host } { Origin-Realm } { Disconnect-Cause } * [ AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisconnectPeerRequest {
    pub origin_host: String,
    pub origin_realm: String,
    pub disconnect_cause: DisconnectCause,
    pub extra: Vec<Avp>,
}

impl Command for DisconnectPeerRequest {
    const COMMAND_CODE: CommandCode = CommandCode::DISCONNECT_PEER;
    const APPLICATION_ID: ApplicationId = ApplicationId::COMMON;
    const IS_REQUEST: bool = true;
    const PROXIABLE: bool = false;

    fn to_avps(&self) -> Vec<Avp> {
        let mut avps = vec![
            Avp::diameter_identity(code::ORIGIN_HOST, IETF, &self.origin_host),
            Avp::diameter_identity(code::ORIGIN_REALM, IETF, &self.origin_realm),
            Avp::enumerated(code::DISCONNECT_CAUSE, IETF, self.disconnect_cause.0),
        ];
        avps.extend(self.extra.iter().cloned());
        avps
    }

    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
        let mut f = Fields::new(avps);
        Ok(Self {
            origin_host: f.req_identity(code::ORIGIN_HOST, IETF)?,
            origin_realm: f.req_identity(code::ORIGIN_REALM, IETF)?,
            disconnect_cause: DisconnectCause(f.req_i32(code::DISCONNECT_CAUSE, IETF)?),
            extra: f.rest(),
        })
    }
}

/// Disconnect-Peer-Answer (RFC 6733 §5.4.2):
/// `< Diameter Header: 282 > { Result-Code } { Origin-Host } { Origin-Realm }
/// [ Error-Message ] [ Failed-AVP ] * [ AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisconnectPeerAnswer {
    pub result_code: ResultCode,
    pub origin_host: String,
    pub origin_realm: String,
    pub error_message: Option<String>,
    pub failed_avp: Option<Vec<Avp>>,
    pub extra: Vec<Avp>,
}

/// Device-Watchdog-Request (RFC 6733 §5.5.1):
/// `< Diameter Header: 280, REQ > { Origin-Host } { Origin-Realm } [ Origin-State-Id ] * [ AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceWatchdogRequest {
    pub origin_host: String,
    pub origin_realm: String,
    pub origin_state_id: Option<u32>,
    pub extra: Vec<Avp>,
}

impl Command for DeviceWatchdogRequest {
    const COMMAND_CODE: CommandCode = CommandCode::DEVICE_WATCHDOG;
    const APPLICATION_ID: ApplicationId = ApplicationId::COMMON;
    const IS_REQUEST: bool = true;
    const PROXIABLE: bool = false;

    fn to_avps(&self) -> Vec<Avp> {
        let mut avps = vec![
            Avp::diameter_identity(code::ORIGIN_HOST, IETF, &self.origin_host),
            Avp::diameter_identity(code::ORIGIN_REALM, IETF, &self.origin_realm),
        ];
        if let Some(s) = self.origin_state_id {
            avps.push(Avp::unsigned32(code::ORIGIN_STATE_ID, IETF, s));
        }
        avps.extend(self.extra.iter().cloned());
        avps
    }

    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
        let mut f = Fields::new(avps);
        Ok(Self {
            origin_host: f.req_identity(code::ORIGIN_HOST, IETF)?,
            origin_realm: f.req_identity(code::ORIGIN_REALM, IETF)?,
            origin_state_id: f.opt_u32(code::ORIGIN_STATE_ID, IETF)?,
            extra: f.rest(),
        })
    }
}

/// Device-Watchdog-Answer (RFC 6733 §5.5.2):
/// `< Diameter Header: 280 > { Result-Code } { Origin-Host } { Origin-Realm }
/// [ Error-Message ] [ Failed-AVP ] [ Origin-State-Id ] * [ AVP ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceWatchdogAnswer {
    pub result_code: ResultCode,
    pub origin_host: String,
    pub origin_realm: String,
    pub error_message: Option<String>,
    pub failed_avp: Option<Vec<Avp>>,
    pub origin_state_id: Option<u32>,
    pub extra: Vec<Avp>,
}

impl Command for DeviceWatchdogAnswer {
    const COMMAND_CODE: CommandCode = CommandCode::DEVICE_WATCHDOG;
    const APPLICATION_ID: ApplicationId = ApplicationId::COMMON;
    const IS_REQUEST: bool = false;
    const PROXIABLE: bool = false;

    fn error_bit(&self) -> bool {
        self.result_code.is_protocol_error()
    }

    fn to_avps(&self) -> Vec<Avp> {
        let mut avps = answer_head(
            self.result_code,
            &self.origin_host,
            &self.origin_realm,
            &self.error_message,
            &self.failed_avp,
        );
        if let Some(s) = self.origin_state_id {
            avps.push(Avp::unsigned32(code::ORIGIN_STATE_ID, IETF, s));
        }
        avps.extend(self.extra.iter().cloned());
        avps
    }

    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
        let mut f = Fields::new(avps);
        Ok(Self {
            result_code: ResultCode(f.req_u32(code::RESULT_CODE, IETF)?),
            origin_host: f.req_identity(code::ORIGIN_HOST, IETF)?,
            origin_realm: f.req_identity(code::ORIGIN_REALM, IETF)?,
            error_message: f.opt_utf8(code::ERROR_MESSAGE, IETF)?,
            failed_avp: take_failed_avp(&mut f)?,
            origin_state_id: f.opt_u32(code::ORIGIN_STATE_ID, IETF)?,
            extra: f.rest(),
        })
    }
}

fn answer_head(
    result_code: ResultCode,
    origin_host: &str,
    origin_realm: &str,
    error_message: &Option<String>,
    failed_avp: &Option<Vec<Avp>>,
) -> Vec<Avp> {
    let mut avps = vec![
        Avp::unsigned32(code::RESULT_CODE, IETF, result_code.0),
        Avp::diameter_identity(code::ORIGIN_HOST, IETF, origin_host),
        Avp::diameter_identity(code::ORIGIN_REALM, IETF, origin_realm),
    ];
    if let Some(m) = error_message {
        avps.push(Avp::utf8_string(code::ERROR_MESSAGE, IETF, m));
    }
    if let Some(fa) = failed_avp {
        avps.push(failed_avp_to_avp(fa));
    }
    avps
}

impl Command for DisconnectPeerAnswer {
    const COMMAND_CODE: CommandCode = CommandCode::DISCONNECT_PEER;
    const APPLICATION_ID: ApplicationId = ApplicationId::COMMON;
    const IS_REQUEST: bool = false;
    const PROXIABLE: bool = false;

    fn error_bit(&self) -> bool {
        self.result_code.is_protocol_error()
    }

    fn to_avps(&self) -> Vec<Avp> {
        let mut avps = answer_head(
            self.result_code,
            &self.origin_host,
            &self.origin_realm,
            &self.error_message,
            &self.failed_avp,
        );
        avps.extend(self.extra.iter().cloned());
        avps
    }

    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError> {
        let mut f = Fields::new(avps);
        Ok(Self {
            result_code: ResultCode(f.req_u32(code::RESULT_CODE, IETF)?),
            origin_host: f.req_identity(code::ORIGIN_HOST, IETF)?,
            origin_realm: f.req_identity(code::ORIGIN_REALM, IETF)?,
            error_message: f.opt_utf8(code::ERROR_MESSAGE, IETF)?,
            failed_avp: take_failed_avp(&mut f)?,
            extra: f.rest(),
        })
    }
}

/// The generic answer-message (RFC 6733 §7.2), used for E-bit answers to any command:
///
/// ```text
/// <answer-message> ::= < Diameter Header: code, ERR [, PXY] >
///                      0*1< Session-Id > { Origin-Host } { Origin-Realm }
///                      < Result-Code > [ Origin-State-Id ] [ Error-Message ]
///                      [ Error-Reporting-Host ] [ Failed-AVP ] [ Experimental-Result ]
///                      * [ Proxy-Info ] * [ AVP ]
/// ```
///
/// Decode-only helper: it does not implement [`Command`] because its command code is
/// the request's. Build such answers with [`crate::message::error_answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerMessage {
    pub session_id: Option<String>,
    pub origin_host: String,
    pub origin_realm: String,
    pub result_code: ResultCode,
    pub origin_state_id: Option<u32>,
    pub error_message: Option<String>,
    pub error_reporting_host: Option<String>,
    pub failed_avp: Option<Vec<Avp>>,
    pub experimental_result: Option<ExperimentalResult>,
    pub extra: Vec<Avp>,
}

impl AnswerMessage {
    pub fn from_message(msg: &crate::message::Message) -> Result<Self, DecodeError> {
        let mut f = Fields::new(msg.avps.clone());
        Ok(Self {
            session_id: f.opt_utf8(code::SESSION_ID, IETF)?,
            origin_host: f.req_identity(code::ORIGIN_HOST, IETF)?,
            origin_realm: f.req_identity(code::ORIGIN_REALM, IETF)?,
            result_code: ResultCode(f.req_u32(code::RESULT_CODE, IETF)?),
            origin_state_id: f.opt_u32(code::ORIGIN_STATE_ID, IETF)?,
            error_message: f.opt_utf8(code::ERROR_MESSAGE, IETF)?,
            error_reporting_host: f.opt_identity(code::ERROR_REPORTING_HOST, IETF)?,
            failed_avp: take_failed_avp(&mut f)?,
            experimental_result: f
                .opt(code::EXPERIMENTAL_RESULT, IETF)?
                .map(|a| ExperimentalResult::from_avp(&a))
                .transpose()?,
            extra: f.rest(),
        })
    }
}
