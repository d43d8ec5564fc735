//! A Diameter message: the header and its AVPs in wire order (RFC 6733 §3), plus the
//! answers a node builds from a request (§6.2) and from a decoding error (§7.2, §7.5).

use bytes::Bytes;

use crate::avp::{code, Avp, AvpCode, VendorId};
use crate::codec;
use crate::error::DecodeError;
use crate::header::{CommandFlags, Header, HEADER_LEN};
use crate::result::ResultCode;

pub use crate::codec::message_length;

/// A decoded (or to-be-encoded) Diameter message. AVPs stay in wire order and keep
/// their raw payloads, so unknown ones are relayed untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub avps: Vec<Avp>,
}

impl Message {
    pub fn new(header: Header) -> Self {
        Self {
            header,
            avps: Vec::new(),
        }
    }

    /// Decodes exactly one message from `buf` (RFC 6733 §3, §4.1). Structural checks
    /// only; see [`crate::dictionary::validate`] for the dictionary checks.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let (header, avps) = codec::decode_message(buf)?;
        Ok(Self { header, avps })
    }

    /// As [`Message::decode`], sharing `buf`'s storage instead of copying the body.
    pub fn decode_bytes(buf: Bytes) -> Result<Self, DecodeError> {
        let (header, avps) = codec::decode_message_bytes(buf)?;
        Ok(Self { header, avps })
    }

    /// Length of the encoded message.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.avps.iter().map(Avp::encoded_len).sum::<usize>()
    }

    /// Appends the wire form to `out`. The message must stay below 16 MiB (the
    /// 24-bit Message Length); Cx messages are far smaller.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = self.encoded_len();
        out.reserve(len);
        self.header.encode_into(len, out);
        for avp in &self.avps {
            avp.encode_into(out);
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// The encoded message as `Bytes`.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.encode())
    }

    /// Builder: appends an AVP.
    pub fn with(mut self, avp: Avp) -> Self {
        self.avps.push(avp);
        self
    }

    /// Appends an AVP.
    pub fn push(&mut self, avp: Avp) -> &mut Self {
        self.avps.push(avp);
        self
    }

    /// The first top-level AVP `code` of `vendor` (IETF = 0 for base AVPs).
    pub fn find(&self, code: AvpCode, vendor: VendorId) -> Option<&Avp> {
        self.avps.iter().find(|a| a.is(code, vendor))
    }

    /// All top-level AVPs `code` of `vendor`, in wire order.
    pub fn find_all(&self, code: AvpCode, vendor: VendorId) -> impl Iterator<Item = &Avp> {
        self.avps.iter().filter(move |a| a.is(code, vendor))
    }

    pub fn is_request(&self) -> bool {
        self.header.is_request()
    }

    /// Session-Id (RFC 6733 §8.8), if present and valid UTF-8.
    pub fn session_id(&self) -> Option<&str> {
        self.find(code::SESSION_ID, VendorId::IETF)
            .and_then(|a| a.as_utf8_string().ok())
    }

    /// Result-Code (RFC 6733 §7.1), if present and well formed.
    pub fn result_code(&self) -> Option<ResultCode> {
        self.find(code::RESULT_CODE, VendorId::IETF)
            .and_then(|a| a.as_unsigned32().ok())
            .map(ResultCode)
    }

    /// An empty answer to `request` (RFC 6733 §6.2): same command code, application,
    /// Hop-by-Hop and End-to-End identifiers; R cleared, P copied. Session-Id, when
    /// the request has one, is copied first as §6.2 and the CCFs require.
    pub fn answer_to(request: &Message) -> Self {
        let mut answer = Self::new(request.header.answer());
        if let Some(sid) = request.find(code::SESSION_ID, VendorId::IETF) {
            answer.avps.push(sid.clone());
        }
        answer
    }

    /// The error answer to this request for `error` (see [`error_answer`]).
    pub fn error_answer(&self, error: &DecodeError, origin_host: &str, origin_realm: &str) -> Self {
        error_answer(
            &self.header,
            self.session_id(),
            error,
            origin_host,
            origin_realm,
        )
    }
}

/// Builds the answer a node sends for a request it could not process (RFC 6733 §7.2):
///
/// ```text
/// <answer-message> ::= < Diameter Header: code, ERR [, PXY] >
///                      0*1< Session-Id > { Origin-Host } { Origin-Realm }
///                      < Result-Code > [ Error-Message ] [ Failed-AVP ]
/// ```
///
/// The E bit is set for protocol errors (3xxx, §7.1.3); permanent failures (5xxx) are
/// answered without it. Failed-AVP carries the offending AVP (§7.5); Error-Message
/// the human-readable reason (§7.3). `request` is the header of the offending
/// request; use [`answer_to_raw`] when only its bytes are at hand.
pub fn error_answer(
    request: &Header,
    session_id: Option<&str>,
    error: &DecodeError,
    origin_host: &str,
    origin_realm: &str,
) -> Message {
    let result = error.result_code();
    let mut header = request.answer();
    header.flags = header
        .flags
        .with(CommandFlags::ERROR, result.is_protocol_error());
    let mut m = Message::new(header);
    if let Some(sid) = session_id {
        m.push(Avp::utf8_string(code::SESSION_ID, VendorId::IETF, sid));
    }
    m.push(Avp::diameter_identity(
        code::ORIGIN_HOST,
        VendorId::IETF,
        origin_host,
    ))
    .push(Avp::diameter_identity(
        code::ORIGIN_REALM,
        VendorId::IETF,
        origin_realm,
    ))
    .push(Avp::unsigned32(code::RESULT_CODE, VendorId::IETF, result.0))
    .push(Avp::utf8_string(
        code::ERROR_MESSAGE,
        VendorId::IETF,
        &error.to_string(),
    ));
    if let Some(failed) = error.failed_avp() {
        m.push(Avp::grouped(
            code::FAILED_AVP,
            VendorId::IETF,
            std::slice::from_ref(failed),
        ));
    }
    m
}

/// Error answer for raw request bytes that did not decode. Returns `None` when no
/// answer is possible or allowed: fewer than 20 octets (no identifiers to answer
/// with, the transport must close the connection, RFC 6733 §3) or the bytes are not
/// a request (answers are never answered). Session-Id is salvaged when it is the
/// first AVP, where the CCFs put it.
pub fn answer_to_raw(
    raw: &[u8],
    error: &DecodeError,
    origin_host: &str,
    origin_realm: &str,
) -> Option<Message> {
    let first: &[u8; HEADER_LEN] = raw.first_chunk()?;
    // Parse the identifiers without validation: the header itself may be the error.
    let mut fixed = *first;
    fixed[0] = crate::header::VERSION;
    fixed[4] &= !CommandFlags::ERROR;
    let header = codec::decode_header(&fixed).ok()?;
    if !header.is_request() {
        return None;
    }
    let sid = raw
        .get(HEADER_LEN..)
        .and_then(|body| codec::first_avp(&Bytes::copy_from_slice(body)))
        .filter(|a| a.is(code::SESSION_ID, VendorId::IETF));
    let sid_str = sid.as_ref().and_then(|a| a.as_utf8_string().ok());
    Some(error_answer(
        &header,
        sid_str,
        error,
        origin_host,
        origin_realm,
    ))
}
