//! The base protocol messages the peer machine exchanges itself (RFC 6733 §5.3-§5.5: CER/CEA,
//! DPR/DPA, DWR/DWA), built from and read into [`Capabilities`], plus the classification of
//! received messages into the RFC 6733 §5.6 event names.

use bytes::Bytes;

use super::capabilities::{Capabilities, CapabilitiesError};
use crate::avp::{code, VendorId};
pub use crate::base::DisconnectCause;
use crate::base::{
    CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest, DeviceWatchdogAnswer,
    DeviceWatchdogRequest, DisconnectPeerAnswer, DisconnectPeerRequest,
};
use crate::error::DecodeError;
use crate::header::{ApplicationId, CommandCode, CommandFlags};
use crate::message::Message;
use crate::result::ResultCode;
use crate::Command;

/// A received message in the terms of the RFC 6733 §5.6 event table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// `Rcv-CER`.
    Cer,
    /// `Rcv-CEA`.
    Cea,
    /// `Rcv-DWR`.
    Dwr,
    /// `Rcv-DWA`.
    Dwa,
    /// `Rcv-DPR`.
    Dpr,
    /// `Rcv-DPA`.
    Dpa,
    /// `Rcv-Message`, a request.
    Request,
    /// `Rcv-Message`, an answer.
    Answer,
}

/// Classifies a received message. Base commands count only in the common application (0).
pub fn classify(message: &Message) -> Inbound {
    let h = &message.header;
    let request = h.is_request();
    if h.application_id == ApplicationId::COMMON {
        match (h.command_code, request) {
            (CommandCode::CAPABILITIES_EXCHANGE, true) => return Inbound::Cer,
            (CommandCode::CAPABILITIES_EXCHANGE, false) => return Inbound::Cea,
            (CommandCode::DEVICE_WATCHDOG, true) => return Inbound::Dwr,
            (CommandCode::DEVICE_WATCHDOG, false) => return Inbound::Dwa,
            (CommandCode::DISCONNECT_PEER, true) => return Inbound::Dpr,
            (CommandCode::DISCONNECT_PEER, false) => return Inbound::Dpa,
            _ => {}
        }
    }
    if request {
        Inbound::Request
    } else {
        Inbound::Answer
    }
}

/// Encodes a message for the transport.
pub fn encode(message: &Message) -> Bytes {
    message.to_bytes()
}

/// Sets the T flag (RFC 6733 §3, §5.5.4) on a request being sent again after a failover.
pub fn mark_retransmission(message: &mut Message) {
    message.header.flags = message.header.flags.with(CommandFlags::RETRANSMIT, true);
}

/// Capabilities-Exchange-Request (RFC 6733 §5.3.1).
pub fn cer(local: &Capabilities, hop_by_hop: u32, end_to_end: u32) -> Message {
    CapabilitiesExchangeRequest {
        capabilities: local.clone(),
        extra: Vec::new(),
    }
    .to_message(hop_by_hop, end_to_end)
}

/// Capabilities-Exchange-Answer (RFC 6733 §5.3.2) to `cer` with `result` (E bit for 3xxx).
pub fn cea(local: &Capabilities, cer: &Message, result: ResultCode) -> Message {
    CapabilitiesExchangeAnswer {
        result_code: result,
        capabilities: local.clone(),
        error_message: None,
        failed_avp: None,
        extra: Vec::new(),
    }
    .to_answer_of(&cer.header)
}

/// The CEA for a CER from a host that is not a configured peer: 3010 DIAMETER_UNKNOWN_PEER
/// (RFC 6733 §5.3). The connection is closed after it.
pub fn unknown_peer_cea(local: &Capabilities, cer: &Message) -> Message {
    cea(local, cer, ResultCode::UNKNOWN_PEER)
}

/// Device-Watchdog-Request (RFC 6733 §5.5.1).
pub fn dwr(local: &Capabilities, hop_by_hop: u32, end_to_end: u32) -> Message {
    DeviceWatchdogRequest {
        origin_host: local.origin_host.clone(),
        origin_realm: local.origin_realm.clone(),
        origin_state_id: local.origin_state_id,
        extra: Vec::new(),
    }
    .to_message(hop_by_hop, end_to_end)
}

/// Device-Watchdog-Answer (RFC 6733 §5.5.2).
pub fn dwa(local: &Capabilities, dwr: &Message) -> Message {
    DeviceWatchdogAnswer {
        result_code: ResultCode::SUCCESS,
        origin_host: local.origin_host.clone(),
        origin_realm: local.origin_realm.clone(),
        error_message: None,
        failed_avp: None,
        origin_state_id: local.origin_state_id,
        extra: Vec::new(),
    }
    .to_answer_of(&dwr.header)
}

/// Disconnect-Peer-Request (RFC 6733 §5.4.1).
pub fn dpr(
    local: &Capabilities,
    cause: DisconnectCause,
    hop_by_hop: u32,
    end_to_end: u32,
) -> Message {
    DisconnectPeerRequest {
        origin_host: local.origin_host.clone(),
        origin_realm: local.origin_realm.clone(),
        disconnect_cause: cause,
        extra: Vec::new(),
    }
    .to_message(hop_by_hop, end_to_end)
}

/// Disconnect-Peer-Answer (RFC 6733 §5.4.2).
pub fn dpa(local: &Capabilities, dpr: &Message) -> Message {
    DisconnectPeerAnswer {
        result_code: ResultCode::SUCCESS,
        origin_host: local.origin_host.clone(),
        origin_realm: local.origin_realm.clone(),
        error_message: None,
        failed_avp: None,
        extra: Vec::new(),
    }
    .to_answer_of(&dpr.header)
}

/// The answer for a request of a command this node does not serve
/// (3001 DIAMETER_COMMAND_UNSUPPORTED, RFC 6733 §7.1.3, with the E bit).
pub fn command_unsupported(local: &Capabilities, request: &Message) -> Message {
    let error = DecodeError::CommandUnsupported {
        command_code: request.header.command_code,
        application_id: request.header.application_id,
    };
    request.error_answer(&error, &local.origin_host, &local.origin_realm)
}

/// The Result-Code of an answer, if present and well-formed.
pub fn result_code(message: &Message) -> Option<ResultCode> {
    message.result_code()
}

/// The Origin-Host of a message, if present and well-formed.
pub fn origin_host(message: &Message) -> Option<&str> {
    message
        .find(code::ORIGIN_HOST, VendorId::IETF)
        .and_then(|a| a.as_diameter_identity().ok())
}

/// The Disconnect-Cause of a DPR; a missing or malformed one reads as REBOOTING, the cause
/// that leaves reconnection allowed.
pub fn disconnect_cause(message: &Message) -> DisconnectCause {
    message
        .find(code::DISCONNECT_CAUSE, VendorId::IETF)
        .and_then(|a| a.as_enumerated().ok())
        .map(DisconnectCause)
        .unwrap_or(DisconnectCause::REBOOTING)
}

/// Reads the capabilities a CER or CEA advertises (RFC 6733 §5.3.1, §5.3.2) with the codec's
/// typed commands; a missing or malformed AVP is the codec's error (5005, 5004, ...).
pub fn parse_capabilities(message: &Message) -> Result<Capabilities, CapabilitiesError> {
    if message.header.is_request() {
        Ok(CapabilitiesExchangeRequest::from_message(message)?.capabilities)
    } else {
        Ok(CapabilitiesExchangeAnswer::from_message(message)?.capabilities)
    }
}
