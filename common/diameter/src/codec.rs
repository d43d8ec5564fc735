//! Wire decoding and stream framing (RFC 6733 §3, §4.1). Pure functions over byte
//! slices: no I/O, and no input makes them panic — every bound is checked and a bad
//! length becomes the precise [`DecodeError`] the answer needs.

use bytes::Bytes;

use crate::avp::{Avp, AvpCode, AvpFlags, VendorId, AVP_HEADER_LEN, AVP_HEADER_LEN_VENDOR};
use crate::dictionary;
use crate::error::DecodeError;
use crate::header::{
    ApplicationId, CommandCode, CommandFlags, Header, HEADER_LEN, MAX_MESSAGE_LEN, VERSION,
};

/// Rounds up to a multiple of 4 (AVP padding, RFC 6733 §4.1).
pub(crate) fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn be24(b: [u8; 3]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

fn be32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}

/// Stream framing (RFC 6733 §3): the Message Length announced by the first four
/// octets, or `None` while fewer than four have arrived. A value below
/// [`HEADER_LEN`] or not a multiple of 4 means the stream is broken (the decoder
/// reports 5015); a driver must not wait for such a "message".
pub fn message_length(prefix: &[u8]) -> Option<usize> {
    let b: [u8; 3] = prefix.get(1..4)?.try_into().ok()?;
    Some(be24(b))
}

/// Decodes the 20-octet header alone, checking version and command flags but not the
/// length (which the caller checks against its buffer). Used by [`crate::message`]
/// to answer a request whose body cannot be decoded.
pub fn decode_header(buf: &[u8]) -> Result<Header, DecodeError> {
    let h: &[u8; HEADER_LEN] =
        buf.first_chunk::<HEADER_LEN>()
            .ok_or(DecodeError::InvalidMessageLength {
                declared: message_length(buf).unwrap_or(0),
                available: buf.len(),
            })?;
    // The length (octets 1-3) is the caller's to check against its buffer.
    let [version, _, _, _, flags, c0, c1, c2, a0, a1, a2, a3, h0, h1, h2, h3, e0, e1, e2, e3] = *h;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion { version });
    }
    let flags = CommandFlags(flags);
    // RFC 6733 §3: "E ... MUST NOT be set in request messages".
    if flags.is_request() && flags.is_error() {
        return Err(DecodeError::InvalidHeaderBits { flags: flags.0 });
    }
    Ok(Header {
        flags,
        command_code: CommandCode(be24([c0, c1, c2]) as u32),
        application_id: ApplicationId(be32([a0, a1, a2, a3])),
        hop_by_hop: be32([h0, h1, h2, h3]),
        end_to_end: be32([e0, e1, e2, e3]),
    })
}

/// Decodes a whole message: `buf` must hold exactly one message (use
/// [`message_length`] to frame a stream).
pub fn decode_message(buf: &[u8]) -> Result<(Header, Vec<Avp>), DecodeError> {
    decode_message_bytes(Bytes::copy_from_slice(buf))
}

/// As [`decode_message`], without copying: the AVPs share `buf`'s storage (useful for
/// a driver that frames into a `BytesMut` and freezes each message).
pub fn decode_message_bytes(buf: Bytes) -> Result<(Header, Vec<Avp>), DecodeError> {
    let declared = message_length(&buf).unwrap_or(0);
    let length_error = DecodeError::InvalidMessageLength {
        declared,
        available: buf.len(),
    };
    if buf.len() < HEADER_LEN {
        return Err(length_error);
    }
    let header = decode_header(&buf)?;
    if declared < HEADER_LEN
        || declared & 3 != 0
        || declared != buf.len()
        || declared > MAX_MESSAGE_LEN
    {
        return Err(length_error);
    }
    let avps = decode_avps(&buf.slice(HEADER_LEN..))?;
    Ok((header, avps))
}

/// Decodes a sequence of AVPs (a message body or a Grouped payload, §4.4). The
/// returned AVPs share `data`'s buffer.
pub fn decode_avps(data: &Bytes) -> Result<Vec<Avp>, DecodeError> {
    let mut avps = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let rest = data.get(pos..).unwrap_or_default();
        let (avp, consumed) = decode_one(data, pos, rest)?;
        avps.push(avp);
        pos = pos.saturating_add(consumed);
    }
    Ok(avps)
}

/// The first AVP of `data` if it decodes, ignoring what follows.
pub(crate) fn first_avp(data: &Bytes) -> Option<Avp> {
    decode_one(data, 0, data).ok().map(|(avp, _)| avp)
}

/// Decodes the AVP starting at `rest` (= `data[pos..]`); returns it and the octets
/// consumed including padding.
fn decode_one(data: &Bytes, pos: usize, rest: &[u8]) -> Result<(Avp, usize), DecodeError> {
    let Some(&[c0, c1, c2, c3, flags, l0, l1, l2]) = rest.first_chunk::<AVP_HEADER_LEN>() else {
        // Fewer than 8 octets left: not even an AVP header. Report what there is.
        let code = rest.first_chunk::<4>().map_or(0, |c| be32(*c));
        return Err(DecodeError::InvalidAvpLength {
            failed_avp: Avp::new(AvpCode(code), AvpFlags(0), None, Bytes::new()),
        });
    };
    let code = AvpCode(be32([c0, c1, c2, c3]));
    let flags = AvpFlags(flags);
    let avp_len = be24([l0, l1, l2]);
    let (vendor_id, header_len) = if flags.is_vendor() {
        match rest.get(8..12) {
            Some(&[v0, v1, v2, v3]) => (
                Some(VendorId(be32([v0, v1, v2, v3]))),
                AVP_HEADER_LEN_VENDOR,
            ),
            _ => {
                return Err(length_error(code, flags, None));
            }
        }
    } else {
        (None, AVP_HEADER_LEN)
    };
    if avp_len < header_len || avp_len > rest.len() {
        return Err(length_error(code, flags, vendor_id));
    }
    let start = pos + header_len;
    let end = pos + avp_len;
    let avp = Avp {
        code,
        flags,
        vendor_id,
        data: data.slice(start..end),
    };
    // Padding is not counted in the AVP length (§4.1); tolerate a missing final
    // padding (seen in the last AVP of Grouped payloads from some peers).
    let consumed = pad4(avp_len).min(rest.len());
    Ok((avp, consumed))
}

/// 5014 with the Failed-AVP built as RFC 6733 §7.1.5 describes for a length that
/// "exceeds the message length or is less than the minimum AVP header length": the
/// AVP header and a zero-filled payload of the minimum length for its data type.
fn length_error(code: AvpCode, flags: AvpFlags, vendor: Option<VendorId>) -> DecodeError {
    let min = dictionary::lookup(code, vendor.unwrap_or(VendorId::IETF))
        .map_or(0, |d| d.data_type.min_len());
    DecodeError::InvalidAvpLength {
        failed_avp: Avp::new(code, flags, vendor, vec![0u8; min]),
    }
}
