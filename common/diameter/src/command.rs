//! What every typed command shares: the [`Command`] trait (message <-> struct) and
//! [`Fields`], the reader that applies a Command Code Format (RFC 6733 §3.2) to a
//! list of AVPs: `{ required }` (5005 when absent), `[ optional ]`, `*[ repeated ]`,
//! at most one of a single-valued AVP (5009), and `*[ AVP ]` kept as the rest.

use bytes::Bytes;

use crate::avp::{Avp, AvpCode, VendorId};
use crate::dictionary;
use crate::error::DecodeError;
use crate::header::{ApplicationId, CommandCode, CommandFlags, Header};
use crate::message::Message;

/// A typed Diameter command (one direction: request or answer).
pub trait Command: Sized {
    const COMMAND_CODE: CommandCode;
    const APPLICATION_ID: ApplicationId;
    const IS_REQUEST: bool;
    /// The PXY bit of the command's CCF header.
    const PROXIABLE: bool;

    /// The AVPs in CCF order.
    fn to_avps(&self) -> Vec<Avp>;

    /// Parses the AVPs of a message already known to be this command.
    fn from_avps(avps: Vec<Avp>) -> Result<Self, DecodeError>;

    /// Whether the answer carries a protocol error and needs the E bit (§7.1.3).
    fn error_bit(&self) -> bool {
        false
    }

    /// The message with the given identifiers. For an answer, pass the request's
    /// Hop-by-Hop and End-to-End identifiers (RFC 6733 §6.2).
    fn to_message(&self, hop_by_hop: u32, end_to_end: u32) -> Message {
        let flags = CommandFlags(0)
            .with(CommandFlags::REQUEST, Self::IS_REQUEST)
            .with(CommandFlags::PROXIABLE, Self::PROXIABLE)
            .with(CommandFlags::ERROR, !Self::IS_REQUEST && self.error_bit());
        Message {
            header: Header {
                flags,
                command_code: Self::COMMAND_CODE,
                application_id: Self::APPLICATION_ID,
                hop_by_hop,
                end_to_end,
            },
            avps: self.to_avps(),
        }
    }

    /// The answer message to `request` (same identifiers).
    fn to_answer_of(&self, request: &Header) -> Message {
        self.to_message(request.hop_by_hop, request.end_to_end)
    }

    /// Parses `msg`. A message of another command, application or direction is
    /// 3001 COMMAND_UNSUPPORTED (the caller dispatched it to the wrong type).
    fn from_message(msg: &Message) -> Result<Self, DecodeError> {
        let h = &msg.header;
        if h.command_code != Self::COMMAND_CODE
            || h.application_id != Self::APPLICATION_ID
            || h.is_request() != Self::IS_REQUEST
        {
            return Err(DecodeError::CommandUnsupported {
                command_code: h.command_code,
                application_id: h.application_id,
            });
        }
        Self::from_avps(msg.avps.clone())
    }

    /// Decodes bytes straight into the typed command.
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::from_message(&Message::decode(buf)?)
    }
}

/// Applies a CCF to a list of AVPs; each AVP is taken at most once.
pub(crate) struct Fields {
    avps: Vec<Option<Avp>>,
}

impl Fields {
    pub(crate) fn new(avps: Vec<Avp>) -> Self {
        Self {
            avps: avps.into_iter().map(Some).collect(),
        }
    }

    /// Decodes a Grouped AVP's children.
    pub(crate) fn grouped(avp: &Avp) -> Result<Self, DecodeError> {
        Ok(Self::new(avp.as_grouped()?))
    }

    /// `[ AVP ]`: at most one; a second occurrence is 5009.
    pub(crate) fn opt(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Option<Avp>, DecodeError> {
        let mut found = None;
        for slot in self.avps.iter_mut() {
            if slot.as_ref().is_some_and(|a| a.is(code, vendor)) {
                if found.is_some() {
                    return Err(DecodeError::AvpOccursTooManyTimes {
                        failed_avp: slot
                            .take()
                            .unwrap_or_else(|| dictionary::missing_avp(code, vendor)),
                    });
                }
                found = slot.take();
            }
        }
        Ok(found)
    }

    /// `{ AVP }`: exactly one; absence is 5005 with the zero-filled Failed-AVP (§7.5).
    pub(crate) fn req(&mut self, code: AvpCode, vendor: VendorId) -> Result<Avp, DecodeError> {
        self.opt(code, vendor)?
            .ok_or_else(|| DecodeError::MissingAvp {
                failed_avp: dictionary::missing_avp(code, vendor),
            })
    }

    /// `*[ AVP ]`: all occurrences, in order.
    pub(crate) fn all(&mut self, code: AvpCode, vendor: VendorId) -> Vec<Avp> {
        self.avps
            .iter_mut()
            .filter(|s| s.as_ref().is_some_and(|a| a.is(code, vendor)))
            .filter_map(Option::take)
            .collect()
    }

    /// `*[ AVP ]` of the CCF: whatever was not taken, in wire order.
    pub(crate) fn rest(self) -> Vec<Avp> {
        self.avps.into_iter().flatten().collect()
    }

    // Typed shorthands.

    pub(crate) fn req_utf8(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<String, DecodeError> {
        Ok(self.req(code, vendor)?.as_utf8_string()?.to_owned())
    }
    pub(crate) fn opt_utf8(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Option<String>, DecodeError> {
        self.opt(code, vendor)?
            .map(|a| a.as_utf8_string().map(str::to_owned))
            .transpose()
    }
    pub(crate) fn all_utf8(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Vec<String>, DecodeError> {
        self.all(code, vendor)
            .iter()
            .map(|a| a.as_utf8_string().map(str::to_owned))
            .collect()
    }
    pub(crate) fn req_identity(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<String, DecodeError> {
        Ok(self.req(code, vendor)?.as_diameter_identity()?.to_owned())
    }
    pub(crate) fn opt_identity(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Option<String>, DecodeError> {
        self.opt(code, vendor)?
            .map(|a| a.as_diameter_identity().map(str::to_owned))
            .transpose()
    }
    pub(crate) fn req_u32(&mut self, code: AvpCode, vendor: VendorId) -> Result<u32, DecodeError> {
        self.req(code, vendor)?.as_unsigned32()
    }
    pub(crate) fn opt_u32(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Option<u32>, DecodeError> {
        self.opt(code, vendor)?
            .map(|a| a.as_unsigned32())
            .transpose()
    }
    pub(crate) fn all_u32(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Vec<u32>, DecodeError> {
        self.all(code, vendor)
            .iter()
            .map(Avp::as_unsigned32)
            .collect()
    }
    pub(crate) fn req_i32(&mut self, code: AvpCode, vendor: VendorId) -> Result<i32, DecodeError> {
        self.req(code, vendor)?.as_integer32()
    }
    pub(crate) fn opt_i32(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Option<i32>, DecodeError> {
        self.opt(code, vendor)?
            .map(|a| a.as_integer32())
            .transpose()
    }
    pub(crate) fn req_octets(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Bytes, DecodeError> {
        Ok(self.req(code, vendor)?.data)
    }
    pub(crate) fn opt_octets(
        &mut self,
        code: AvpCode,
        vendor: VendorId,
    ) -> Result<Option<Bytes>, DecodeError> {
        Ok(self.opt(code, vendor)?.map(|a| a.data))
    }
}
