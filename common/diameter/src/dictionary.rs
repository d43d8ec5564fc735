//! The dictionary: which commands and AVPs this node understands, with their data
//! types (RFC 6733 §4.2/§4.3) and flag rules, for the base protocol (RFC 6733 §4.5,
//! §5), the RFC 4740 Digest AVPs Cx reuses, and Cx/Dx (TS 29.229 §6.1, §6.3).
//!
//! Source and verification (see also `tests/codec_dictionary.rs`, which checks this
//! table against `shared/vectors/diameter_cx_dictionary.csv` cell by cell):
//! - Cells the CSV flags as disputed were checked against TS 29.229 §6.3 (Table 6.3.1)
//!   as we know it and against an independent Cx/Dx implementation's AVP table:
//!   * 600 Visited-Network-Identifier is OctetString and 601 Public-Identity is
//!     UTF8String (§6.3.1, §6.3.2); freeDiameter's "OctetString with UTF8 derived
//!     type" is the same wire form.
//!   * 602 Server-Name is UTF8String (§6.3.3: it carries a SIP URI, not a
//!     DiameterURI), so we follow the CSV, not freeDiameter.
//!   * 611 SIP-Authentication-Context and 617 Reason-Info are M,V like the other
//!     Rel-5 AVPs 600-626 (the "V only" second dictionary is wrong).
//!   * 614 Server-Assignment-Type value 14 RESTORATION exists in current releases.
//!   * 653 is LIA-Flags (TS 29.229 §6.3, used in LIA), not "LIR-Flags".
//!   * AVPs from 628 on are V with M not set (Supported-Features, Associated-Identities,
//!     SIP-Digest-Authenticate: M "may"; the rest M "must not").
//! - Deliberate differences from the CSV:
//!   * 298 Experimental-Result-Code: the CSV leaves flags empty; RFC 6733 §4.5 says
//!     M must, V must not (same for 297 Experimental-Result, absent from the CSV).
//!   * 633 Originating-Request (Enumerated, M,V), 634 Wildcarded-Public-Identity and
//!     636 Wildcarded-IMPU (UTF8String, V, M must not): the CSV leaves type and flags
//!     empty; we fill them in from TS 29.229 §6.3 as used in LIR and SAR/SAA.
//!   * 627 User-Data-Request-Type and 631 Supported-Applications are left out: they
//!     were removed from TS 29.229 and have no type in the CSV.
//! - The P flag is deprecated by RFC 6733 (§4.1); the "may P" cells mirror the CSV and
//!   have no effect.
//! - Independent check: Wireshark's Diameter dissector decodes every command we build
//!   with no unknown AVP, malformed packet or expert warning
//!   (`tests/codec_commands.rs`, `tshark_decodes_every_command_cleanly`, run with
//!   `--ignored` where `tshark` is installed).

use crate::avp::{Avp, AvpCode, AvpFlags, VendorId};
use crate::error::DecodeError;
use crate::header::{ApplicationId, CommandCode};
use crate::message::Message;

/// AVP data formats (RFC 6733 §4.2 basic, §4.3 derived, §4.4 Grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AvpType {
    OctetString,
    Integer32,
    Integer64,
    Unsigned32,
    Unsigned64,
    Float32,
    Float64,
    Grouped,
    Address,
    Time,
    UTF8String,
    DiameterIdentity,
    DiameterURI,
    Enumerated,
}

impl AvpType {
    /// Minimum payload length, used for the zero-filled Failed-AVP of 5005/5014
    /// (RFC 6733 §7.5, §7.1.5).
    pub fn min_len(self) -> usize {
        match self {
            Self::Integer32 | Self::Unsigned32 | Self::Float32 | Self::Enumerated | Self::Time => 4,
            Self::Integer64 | Self::Unsigned64 | Self::Float64 => 8,
            // family + IPv4
            Self::Address => 6,
            Self::OctetString
            | Self::Grouped
            | Self::UTF8String
            | Self::DiameterIdentity
            | Self::DiameterURI => 0,
        }
    }

    /// The name the RFC uses (and the CSV's `data_type` column).
    pub fn name(self) -> &'static str {
        match self {
            Self::OctetString => "OctetString",
            Self::Integer32 => "Integer32",
            Self::Integer64 => "Integer64",
            Self::Unsigned32 => "Unsigned32",
            Self::Unsigned64 => "Unsigned64",
            Self::Float32 => "Float32",
            Self::Float64 => "Float64",
            Self::Grouped => "Grouped",
            Self::Address => "Address",
            Self::Time => "Time",
            Self::UTF8String => "UTF8String",
            Self::DiameterIdentity => "DiameterIdentity",
            Self::DiameterURI => "DiameterURI",
            Self::Enumerated => "Enumerated",
        }
    }
}

/// One AVP definition: code, vendor, name, type and flag rules (the "MUST", "MAY",
/// "MUST NOT" columns of the RFC/TS AVP tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvpDef {
    pub code: AvpCode,
    pub vendor: VendorId,
    pub name: &'static str,
    pub data_type: AvpType,
    pub must: AvpFlags,
    pub may: AvpFlags,
    pub must_not: AvpFlags,
}

const NONE: AvpFlags = AvpFlags(0);
const M: AvpFlags = AvpFlags(AvpFlags::MANDATORY);
const V: AvpFlags = AvpFlags(AvpFlags::VENDOR);
const P: AvpFlags = AvpFlags(AvpFlags::PROTECTED);
const MV: AvpFlags = AvpFlags(AvpFlags::MANDATORY | AvpFlags::VENDOR);
const PV: AvpFlags = AvpFlags(AvpFlags::PROTECTED | AvpFlags::VENDOR);

const fn def(
    code: u32,
    vendor: u32,
    name: &'static str,
    data_type: AvpType,
    must: AvpFlags,
    may: AvpFlags,
    must_not: AvpFlags,
) -> AvpDef {
    AvpDef {
        code: AvpCode(code),
        vendor: VendorId(vendor),
        name,
        data_type,
        must,
        may,
        must_not,
    }
}

use AvpType::*;

const TGPP: u32 = 10415;

/// Sorted by (vendor, code) so [`lookup`] can binary-search; a test checks the order.
pub static AVPS: &[AvpDef] = &[
    // RFC 6733 §4.5 base AVPs (and RFC 4740 §9.5 Digest AVPs), vendor 0
    def(1, 0, "User-Name", UTF8String, M, P, V),
    def(25, 0, "Class", OctetString, M, P, V),
    def(27, 0, "Session-Timeout", Unsigned32, M, P, V),
    def(33, 0, "Proxy-State", OctetString, M, NONE, PV),
    def(44, 0, "Acct-Session-Id", OctetString, M, P, V),
    def(50, 0, "Acct-Multi-Session-Id", UTF8String, M, P, V),
    def(55, 0, "Event-Timestamp", Time, M, P, V),
    def(85, 0, "Acct-Interim-Interval", Unsigned32, M, P, V),
    def(104, 0, "Digest-Realm", UTF8String, M, NONE, V),
    def(110, 0, "Digest-QoP", UTF8String, M, NONE, V),
    def(111, 0, "Digest-Algorithm", UTF8String, M, NONE, V),
    def(121, 0, "Digest-HA1", UTF8String, M, NONE, V),
    def(257, 0, "Host-IP-Address", Address, M, P, V),
    def(258, 0, "Auth-Application-Id", Unsigned32, M, P, V),
    def(259, 0, "Acct-Application-Id", Unsigned32, M, P, V),
    def(260, 0, "Vendor-Specific-Application-Id", Grouped, M, P, V),
    def(261, 0, "Redirect-Host-Usage", Enumerated, M, P, V),
    def(262, 0, "Redirect-Max-Cache-Time", Unsigned32, M, P, V),
    def(263, 0, "Session-Id", UTF8String, M, P, V),
    def(264, 0, "Origin-Host", DiameterIdentity, M, P, V),
    def(265, 0, "Supported-Vendor-Id", Unsigned32, M, P, V),
    def(266, 0, "Vendor-Id", Unsigned32, M, P, V),
    def(
        267,
        0,
        "Firmware-Revision",
        Unsigned32,
        NONE,
        NONE,
        AvpFlags(0xE0),
    ),
    def(268, 0, "Result-Code", Unsigned32, M, P, V),
    def(
        269,
        0,
        "Product-Name",
        UTF8String,
        NONE,
        NONE,
        AvpFlags(0xE0),
    ),
    def(270, 0, "Session-Binding", Unsigned32, M, P, V),
    def(271, 0, "Session-Server-Failover", Enumerated, M, P, V),
    def(272, 0, "Multi-Round-Time-Out", Unsigned32, M, P, V),
    def(273, 0, "Disconnect-Cause", Enumerated, M, P, V),
    def(274, 0, "Auth-Request-Type", Enumerated, M, P, V),
    def(276, 0, "Auth-Grace-Period", Unsigned32, M, P, V),
    def(277, 0, "Auth-Session-State", Enumerated, M, P, V),
    def(278, 0, "Origin-State-Id", Unsigned32, M, P, V),
    def(279, 0, "Failed-AVP", Grouped, M, P, V),
    def(280, 0, "Proxy-Host", DiameterIdentity, M, NONE, PV),
    def(281, 0, "Error-Message", UTF8String, NONE, P, MV),
    def(282, 0, "Route-Record", DiameterIdentity, M, NONE, PV),
    def(283, 0, "Destination-Realm", DiameterIdentity, M, P, V),
    def(284, 0, "Proxy-Info", Grouped, M, NONE, PV),
    def(285, 0, "Re-Auth-Request-Type", Enumerated, M, P, V),
    def(287, 0, "Accounting-Sub-Session-Id", Unsigned64, M, P, V),
    def(291, 0, "Authorization-Lifetime", Unsigned32, M, P, V),
    def(292, 0, "Redirect-Host", DiameterURI, M, P, V),
    def(293, 0, "Destination-Host", DiameterIdentity, M, P, V),
    def(
        294,
        0,
        "Error-Reporting-Host",
        DiameterIdentity,
        NONE,
        P,
        MV,
    ),
    def(295, 0, "Termination-Cause", Enumerated, M, P, V),
    def(296, 0, "Origin-Realm", DiameterIdentity, M, P, V),
    def(297, 0, "Experimental-Result", Grouped, M, P, V),
    def(298, 0, "Experimental-Result-Code", Unsigned32, M, P, V),
    def(299, 0, "Inband-Security-Id", Unsigned32, M, P, V),
    def(300, 0, "E2E-Sequence", Grouped, M, P, V),
    def(480, 0, "Accounting-Record-Type", Enumerated, M, P, V),
    def(483, 0, "Accounting-Realtime-Required", Enumerated, M, P, V),
    def(485, 0, "Accounting-Record-Number", Unsigned32, M, P, V),
    // TS 29.229 §6.3 Cx/Dx AVPs, vendor 10415
    def(
        600,
        TGPP,
        "Visited-Network-Identifier",
        OctetString,
        MV,
        P,
        NONE,
    ),
    def(601, TGPP, "Public-Identity", UTF8String, MV, P, NONE),
    def(602, TGPP, "Server-Name", UTF8String, MV, NONE, NONE),
    def(603, TGPP, "Server-Capabilities", Grouped, MV, P, NONE),
    def(604, TGPP, "Mandatory-Capability", Unsigned32, MV, P, NONE),
    def(605, TGPP, "Optional-Capability", Unsigned32, MV, P, NONE),
    def(606, TGPP, "User-Data", OctetString, MV, P, NONE),
    def(
        607,
        TGPP,
        "SIP-Number-Auth-Items",
        Unsigned32,
        MV,
        NONE,
        NONE,
    ),
    def(
        608,
        TGPP,
        "SIP-Authentication-Scheme",
        UTF8String,
        MV,
        NONE,
        NONE,
    ),
    def(609, TGPP, "SIP-Authenticate", OctetString, MV, NONE, NONE),
    def(610, TGPP, "SIP-Authorization", OctetString, MV, NONE, NONE),
    def(
        611,
        TGPP,
        "SIP-Authentication-Context",
        OctetString,
        MV,
        NONE,
        NONE,
    ),
    def(612, TGPP, "SIP-Auth-Data-Item", Grouped, MV, NONE, NONE),
    def(613, TGPP, "SIP-Item-Number", Unsigned32, MV, NONE, NONE),
    def(
        614,
        TGPP,
        "Server-Assignment-Type",
        Enumerated,
        MV,
        NONE,
        NONE,
    ),
    def(615, TGPP, "Deregistration-Reason", Grouped, MV, NONE, NONE),
    def(616, TGPP, "Reason-Code", Enumerated, MV, NONE, NONE),
    def(617, TGPP, "Reason-Info", UTF8String, MV, NONE, NONE),
    def(618, TGPP, "Charging-Information", Grouped, MV, NONE, NONE),
    def(
        619,
        TGPP,
        "Primary-Event-Charging-Function-Name",
        DiameterURI,
        MV,
        NONE,
        NONE,
    ),
    def(
        620,
        TGPP,
        "Secondary-Event-Charging-Function-Name",
        DiameterURI,
        MV,
        NONE,
        NONE,
    ),
    def(
        621,
        TGPP,
        "Primary-Charging-Collection-Function-Name",
        DiameterURI,
        MV,
        NONE,
        NONE,
    ),
    def(
        622,
        TGPP,
        "Secondary-Charging-Collection-Function-Name",
        DiameterURI,
        MV,
        NONE,
        NONE,
    ),
    def(
        623,
        TGPP,
        "User-Authorization-Type",
        Enumerated,
        MV,
        NONE,
        NONE,
    ),
    def(
        624,
        TGPP,
        "User-Data-Already-Available",
        Enumerated,
        MV,
        NONE,
        NONE,
    ),
    def(
        625,
        TGPP,
        "Confidentiality-Key",
        OctetString,
        MV,
        NONE,
        NONE,
    ),
    def(626, TGPP, "Integrity-Key", OctetString, MV, NONE, NONE),
    def(628, TGPP, "Supported-Features", Grouped, V, M, NONE),
    def(629, TGPP, "Feature-List-ID", Unsigned32, V, NONE, M),
    def(630, TGPP, "Feature-List", Unsigned32, V, NONE, M),
    def(632, TGPP, "Associated-Identities", Grouped, V, M, NONE),
    def(633, TGPP, "Originating-Request", Enumerated, MV, NONE, NONE),
    def(
        634,
        TGPP,
        "Wildcarded-Public-Identity",
        UTF8String,
        V,
        NONE,
        M,
    ),
    def(635, TGPP, "SIP-Digest-Authenticate", Grouped, V, M, NONE),
    def(636, TGPP, "Wildcarded-IMPU", UTF8String, V, NONE, M),
    def(637, TGPP, "UAR-Flags", Unsigned32, V, NONE, M),
    def(638, TGPP, "Loose-Route-Indication", Enumerated, V, NONE, M),
    def(639, TGPP, "SCSCF-Restoration-Info", Grouped, V, M, NONE),
    def(640, TGPP, "Path", OctetString, V, NONE, M),
    def(641, TGPP, "Contact", OctetString, V, NONE, M),
    def(642, TGPP, "Subscription-Info", Grouped, V, NONE, M),
    def(643, TGPP, "Call-ID-SIP-Header", OctetString, V, NONE, M),
    def(644, TGPP, "From-SIP-Header", OctetString, V, NONE, M),
    def(645, TGPP, "To-SIP-Header", OctetString, V, NONE, M),
    def(646, TGPP, "Record-Route", OctetString, V, NONE, M),
    def(
        647,
        TGPP,
        "Associated-Registered-Identities",
        Grouped,
        V,
        NONE,
        M,
    ),
    def(
        648,
        TGPP,
        "Multiple-Registration-Indication",
        Enumerated,
        V,
        NONE,
        M,
    ),
    def(649, TGPP, "Restoration-Info", Grouped, V, NONE, M),
    def(650, TGPP, "Session-Priority", Enumerated, V, NONE, M),
    def(
        651,
        TGPP,
        "Identity-with-Emergency-Registration",
        Grouped,
        V,
        NONE,
        M,
    ),
    def(
        652,
        TGPP,
        "Priviledged-Sender-Indication",
        Enumerated,
        V,
        NONE,
        M,
    ),
    def(653, TGPP, "LIA-Flags", Unsigned32, V, P, NONE),
    def(
        654,
        TGPP,
        "Initial-CSeq-Sequence-Number",
        Unsigned32,
        V,
        NONE,
        M,
    ),
    def(655, TGPP, "SAR-Flags", Unsigned32, V, P, NONE),
];

/// Looks up an AVP definition by code and vendor (0 = IETF).
pub fn lookup(code: AvpCode, vendor: VendorId) -> Option<&'static AvpDef> {
    AVPS.binary_search_by_key(&(vendor, code), |d| (d.vendor, d.code))
        .ok()
        .and_then(|i| AVPS.get(i))
}

/// Looks up an AVP definition by name (case-sensitive, as in the specs).
pub fn lookup_name(name: &str) -> Option<&'static AvpDef> {
    AVPS.iter().find(|d| d.name == name)
}

/// A command this node understands (RFC 6733 §3.2 CCF header line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDef {
    pub code: CommandCode,
    pub application: ApplicationId,
    pub request_name: &'static str,
    pub answer_name: &'static str,
    /// The PXY bit of the CCF header (TS 29.229 §6.1: Cx commands are REQ, PXY).
    pub proxiable: bool,
}

const fn cmd(
    code: u32,
    application: ApplicationId,
    request_name: &'static str,
    answer_name: &'static str,
    proxiable: bool,
) -> CommandDef {
    CommandDef {
        code: CommandCode(code),
        application,
        request_name,
        answer_name,
        proxiable,
    }
}

/// Base (RFC 6733 §3.1, §5) and Cx/Dx (TS 29.229 §6.1) commands.
pub static COMMANDS: &[CommandDef] = &[
    cmd(
        257,
        ApplicationId::COMMON,
        "Capabilities-Exchange-Request",
        "Capabilities-Exchange-Answer",
        false,
    ),
    cmd(
        280,
        ApplicationId::COMMON,
        "Device-Watchdog-Request",
        "Device-Watchdog-Answer",
        false,
    ),
    cmd(
        282,
        ApplicationId::COMMON,
        "Disconnect-Peer-Request",
        "Disconnect-Peer-Answer",
        false,
    ),
    cmd(
        300,
        ApplicationId::CX,
        "User-Authorization-Request",
        "User-Authorization-Answer",
        true,
    ),
    cmd(
        301,
        ApplicationId::CX,
        "Server-Assignment-Request",
        "Server-Assignment-Answer",
        true,
    ),
    cmd(
        302,
        ApplicationId::CX,
        "Location-Info-Request",
        "Location-Info-Answer",
        true,
    ),
    cmd(
        303,
        ApplicationId::CX,
        "Multimedia-Auth-Request",
        "Multimedia-Auth-Answer",
        true,
    ),
    cmd(
        304,
        ApplicationId::CX,
        "Registration-Termination-Request",
        "Registration-Termination-Answer",
        true,
    ),
    cmd(
        305,
        ApplicationId::CX,
        "Push-Profile-Request",
        "Push-Profile-Answer",
        true,
    ),
];

/// Looks up a command of an application.
pub fn command(code: CommandCode, application: ApplicationId) -> Option<&'static CommandDef> {
    COMMANDS
        .iter()
        .find(|c| c.code == code && c.application == application)
}

/// Checks a received message against the dictionary (RFC 6733 §6.1 ff., §7):
/// - the application is known, else 3007 APPLICATION_UNSUPPORTED;
/// - the command is known in that application, else 3001 COMMAND_UNSUPPORTED;
/// - every AVP with the M bit is known (recursively inside Grouped AVPs), else 5001
///   AVP_UNSUPPORTED (§4.1: unknown AVPs without M are ignored and kept for relay);
/// - known AVPs carry none of their "MUST NOT" flags, else 3009 INVALID_AVP_BITS;
/// - known AVPs have a payload valid for their type, else 5014 (length) or 5004.
///
/// Meant for requests a node serves; for answers RFC 6733 §7.1 only asks for logging.
/// Presence of required AVPs is the typed layer's job ([`crate::cx`], [`crate::base`]).
pub fn validate(
    application: ApplicationId,
    command_code: CommandCode,
    avps: &[Avp],
) -> Result<(), DecodeError> {
    if !COMMANDS.iter().any(|c| c.application == application) {
        return Err(DecodeError::ApplicationUnsupported {
            application_id: application,
        });
    }
    if command(command_code, application).is_none() {
        return Err(DecodeError::CommandUnsupported {
            command_code,
            application_id: application,
        });
    }
    validate_avps(avps)
}

/// [`validate`] for a whole message, plus the header rule of RFC 6733 §7.1.3 (3008
/// INVALID_HDR_BITS, "inconsistent with the Command Code's definition"): a request's
/// P bit must match the PXY of the command's CCF (Cx requests are proxiable, CER/DWR/DPR
/// are not). Run before dispatching a received request.
pub fn validate_message(msg: &Message) -> Result<(), DecodeError> {
    let h = &msg.header;
    validate(h.application_id, h.command_code, &[])?;
    if let Some(def) = command(h.command_code, h.application_id) {
        if h.is_request() && def.proxiable != h.flags.is_proxiable() {
            return Err(DecodeError::InvalidHeaderBits { flags: h.flags.0 });
        }
    }
    validate_avps(&msg.avps)
}

/// The AVP-level part of [`validate`], for a list of AVPs (a body or a Grouped payload).
pub fn validate_avps(avps: &[Avp]) -> Result<(), DecodeError> {
    avps.iter().try_for_each(validate_avp)
}

fn validate_avp(avp: &Avp) -> Result<(), DecodeError> {
    let Some(def) = lookup(avp.code, avp.vendor()) else {
        if avp.flags.is_mandatory() {
            return Err(DecodeError::AvpUnsupported {
                failed_avp: avp.clone(),
            });
        }
        return Ok(());
    };
    // V is implied by the vendor we looked up with, so only M and P are checked.
    let checked = AvpFlags::MANDATORY | AvpFlags::PROTECTED;
    if avp.flags.0 & def.must_not.0 & checked != 0 {
        return Err(DecodeError::InvalidAvpBits {
            failed_avp: avp.clone(),
        });
    }
    match def.data_type {
        OctetString => Ok(()),
        Integer32 | Enumerated => avp.as_integer32().map(drop),
        Integer64 => avp.as_integer64().map(drop),
        Unsigned32 | Time => avp.as_unsigned32().map(drop),
        Unsigned64 => avp.as_unsigned64().map(drop),
        Float32 => avp.as_float32().map(drop),
        Float64 => avp.as_float64().map(drop),
        Address => avp.as_address().map(drop),
        UTF8String => avp.as_utf8_string().map(drop),
        DiameterIdentity => avp.as_diameter_identity().map(drop),
        DiameterURI => avp.as_diameter_uri().map(drop),
        Grouped => {
            let children = avp.as_grouped()?;
            validate_avps(&children).map_err(|e| e.within(avp))
        }
    }
}

/// A zero-filled AVP of the given code/vendor with the minimum payload for its type,
/// as RFC 6733 §7.5 asks for the Failed-AVP of a missing AVP.
pub fn missing_avp(code: AvpCode, vendor: VendorId) -> Avp {
    let d = lookup(code, vendor);
    let min = d.map_or(0, |d| d.data_type.min_len());
    let flags = d.map_or(AvpFlags(0), |d| AvpFlags(d.must.0 & AvpFlags::MANDATORY));
    Avp::new(code, flags, Some(vendor), vec![0u8; min])
}
