//! STUN (RFC 5389, updated by RFC 8489): the subset that SIP Outbound keep-alives need
//! (RFC 5626 §4.4.2 for the UA, §8 for the server). Sans-IO: bytes in, bytes out.
//!
//! - [`is_stun`] demultiplexes STUN from SIP on one UDP port (RFC 5389 §6, §7.3; RFC 5626 §8).
//! - [`Message::decode`] / [`Message::encode`] are the codec: the 20-byte header (§6), the
//!   attributes this usage needs (MAPPED-ADDRESS §15.1, XOR-MAPPED-ADDRESS §15.2, ERROR-CODE
//!   §15.6, UNKNOWN-ATTRIBUTES §15.9, SOFTWARE §15.10, FINGERPRINT §15.5); every other attribute is
//!   kept as raw bytes so it round-trips.
//! - Server side: [`handle_request`] answers one datagram; [`binding_response`] builds the answer
//!   to a decoded Binding request.
//! - Client side: [`binding_request`], [`parse_binding_response`] and [`MappingMonitor`], which
//!   reports the NAT rebinding that RFC 5626 §4.4.2 tells the UA to treat as a flow failure.
//!
//! Deliberately left out: MESSAGE-INTEGRITY(-SHA256) is neither computed nor verified, because
//! RFC 5626 §8 keep-alives carry no authentication; the attributes are recognised (so they do not
//! cause a 420) and kept raw. No retransmission timers live here: the caller owns time.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fixed magic cookie (RFC 5389 §6), also the XOR key of XOR-MAPPED-ADDRESS (§15.2).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Size of the STUN header (RFC 5389 §6).
pub const HEADER_LEN: usize = 20;
/// FINGERPRINT is the CRC-32 XOR-ed with this value, "STUN" in ASCII (RFC 5389 §15.5).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// SOFTWARE and reason phrases are under 128 characters, at most 763 bytes (RFC 5389 §15.6,
/// §15.10).
pub const MAX_TEXT_BYTES: usize = 763;

/// The byte length of a FINGERPRINT attribute: 4-byte header and 4-byte CRC.
const FINGERPRINT_ATTR_LEN: usize = 8;

/// A STUN method (RFC 5389 §6, 12 bits): an open newtype so unknown methods pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method(pub u16);

impl Method {
    /// Binding (RFC 5389 §18.1), the only method RFC 5626 §8 uses.
    pub const BINDING: Method = Method(0x001);
}

/// The class of a message: the two C bits of the message type (RFC 5389 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 0b00.
    Request,
    /// 0b01.
    Indication,
    /// 0b10.
    SuccessResponse,
    /// 0b11.
    ErrorResponse,
}

/// The 14-bit message type: method and class interleaved (RFC 5389 §6, figure 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType {
    /// The method (only its low 12 bits are encoded).
    pub method: Method,
    /// The class.
    pub class: Class,
}

impl MessageType {
    /// A Binding request.
    pub const BINDING_REQUEST: MessageType = MessageType::new(Method::BINDING, Class::Request);
    /// A Binding success response.
    pub const BINDING_SUCCESS: MessageType =
        MessageType::new(Method::BINDING, Class::SuccessResponse);
    /// A Binding error response.
    pub const BINDING_ERROR: MessageType = MessageType::new(Method::BINDING, Class::ErrorResponse);

    /// Combines a method and a class.
    pub const fn new(method: Method, class: Class) -> Self {
        Self { method, class }
    }

    /// Splits the 16-bit type field (the top two bits must already be known to be zero):
    /// `M11..M7 C1 M6..M4 C0 M3..M0`.
    pub fn from_u16(value: u16) -> Self {
        let method = (value & 0x000F) | ((value >> 1) & 0x0070) | ((value >> 2) & 0x0F80);
        let class = match ((value >> 4) & 0x1) | ((value >> 7) & 0x2) {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        };
        Self {
            method: Method(method),
            class,
        }
    }

    /// The 16-bit type field.
    pub fn to_u16(self) -> u16 {
        let m = self.method.0 & 0x0FFF;
        let c: u16 = match self.class {
            Class::Request => 0,
            Class::Indication => 1,
            Class::SuccessResponse => 2,
            Class::ErrorResponse => 3,
        };
        (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }
}

/// The 96-bit transaction id (RFC 5389 §6). The caller draws it, uniformly at random, because
/// this module does no I/O and owns no random source.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 12]);

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TransactionId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// An attribute type (RFC 5389 §15, §18.2; RFC 8489 §18.3): an open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeType(pub u16);

impl AttributeType {
    /// MAPPED-ADDRESS (§15.1).
    pub const MAPPED_ADDRESS: AttributeType = AttributeType(0x0001);
    /// USERNAME (§15.3).
    pub const USERNAME: AttributeType = AttributeType(0x0006);
    /// MESSAGE-INTEGRITY (§15.4).
    pub const MESSAGE_INTEGRITY: AttributeType = AttributeType(0x0008);
    /// ERROR-CODE (§15.6).
    pub const ERROR_CODE: AttributeType = AttributeType(0x0009);
    /// UNKNOWN-ATTRIBUTES (§15.9).
    pub const UNKNOWN_ATTRIBUTES: AttributeType = AttributeType(0x000A);
    /// REALM (§15.7).
    pub const REALM: AttributeType = AttributeType(0x0014);
    /// NONCE (§15.8).
    pub const NONCE: AttributeType = AttributeType(0x0015);
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    pub const MESSAGE_INTEGRITY_SHA256: AttributeType = AttributeType(0x001C);
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    pub const PASSWORD_ALGORITHM: AttributeType = AttributeType(0x001D);
    /// USERHASH (RFC 8489 §14.5).
    pub const USERHASH: AttributeType = AttributeType(0x001E);
    /// XOR-MAPPED-ADDRESS (§15.2).
    pub const XOR_MAPPED_ADDRESS: AttributeType = AttributeType(0x0020);
    /// SOFTWARE (§15.10).
    pub const SOFTWARE: AttributeType = AttributeType(0x8022);
    /// ALTERNATE-SERVER (§15.11).
    pub const ALTERNATE_SERVER: AttributeType = AttributeType(0x8023);
    /// FINGERPRINT (§15.5).
    pub const FINGERPRINT: AttributeType = AttributeType(0x8028);

    /// Types 0x0000-0x7FFF are comprehension-required: an agent that does not understand one
    /// must fail the transaction (RFC 5389 §15).
    pub fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// Whether this agent understands the attribute, i.e. whether it may appear in a request
    /// without causing a 420. The authentication attributes count as understood: RFC 5626 §8
    /// keep-alives use no authentication, so they are accepted and ignored, not refused.
    pub fn is_understood(self) -> bool {
        matches!(
            self,
            Self::MAPPED_ADDRESS
                | Self::USERNAME
                | Self::MESSAGE_INTEGRITY
                | Self::ERROR_CODE
                | Self::UNKNOWN_ATTRIBUTES
                | Self::REALM
                | Self::NONCE
                | Self::MESSAGE_INTEGRITY_SHA256
                | Self::PASSWORD_ALGORITHM
                | Self::USERHASH
                | Self::XOR_MAPPED_ADDRESS
                | Self::SOFTWARE
                | Self::ALTERNATE_SERVER
                | Self::FINGERPRINT
        )
    }
}

/// A STUN error code (RFC 5389 §15.6, 300..=699): an open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 300 Try Alternate.
    pub const TRY_ALTERNATE: ErrorCode = ErrorCode(300);
    /// 400 Bad Request: the request was malformed.
    pub const BAD_REQUEST: ErrorCode = ErrorCode(400);
    /// 401 Unauthorized.
    pub const UNAUTHORIZED: ErrorCode = ErrorCode(401);
    /// 420 Unknown Attribute: comprehension-required attributes were not understood.
    pub const UNKNOWN_ATTRIBUTE: ErrorCode = ErrorCode(420);
    /// 438 Stale Nonce.
    pub const STALE_NONCE: ErrorCode = ErrorCode(438);
    /// 500 Server Error.
    pub const SERVER_ERROR: ErrorCode = ErrorCode(500);

    /// The reason phrase RFC 5389 §15.6 suggests.
    pub fn reason(self) -> &'static str {
        match self.0 {
            300 => "Try Alternate",
            400 => "Bad Request",
            401 => "Unauthorized",
            420 => "Unknown Attribute",
            438 => "Stale Nonce",
            500 => "Server Error",
            _ => "Error",
        }
    }
}

/// One attribute of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// MAPPED-ADDRESS (§15.1): the address in clear, kept for RFC 3489 peers.
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS (§15.2): the server-reflexive address the server saw.
    XorMappedAddress(SocketAddr),
    /// SOFTWARE (§15.10).
    Software(String),
    /// ERROR-CODE (§15.6).
    ErrorCode {
        /// The code.
        code: ErrorCode,
        /// The reason phrase.
        reason: String,
    },
    /// UNKNOWN-ATTRIBUTES (§15.9).
    UnknownAttributes(Vec<AttributeType>),
    /// Any other attribute, kept as received (without padding) so it round-trips.
    Other {
        /// Its type.
        typ: AttributeType,
        /// Its value.
        value: Vec<u8>,
    },
}

impl Attribute {
    /// The attribute's type.
    pub fn typ(&self) -> AttributeType {
        match self {
            Self::MappedAddress(_) => AttributeType::MAPPED_ADDRESS,
            Self::XorMappedAddress(_) => AttributeType::XOR_MAPPED_ADDRESS,
            Self::Software(_) => AttributeType::SOFTWARE,
            Self::ErrorCode { .. } => AttributeType::ERROR_CODE,
            Self::UnknownAttributes(_) => AttributeType::UNKNOWN_ATTRIBUTES,
            Self::Other { typ, .. } => *typ,
        }
    }
}

/// Why bytes are not an acceptable STUN message. [`StunError::disposition`] says what a server
/// does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    /// Fewer bytes than the header, or than an attribute header, needs.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The first two bits are not zero (RFC 5389 §6): not STUN at all.
    #[error("the two most significant bits are not zero")]
    NotStun,
    /// The magic cookie is wrong (§6): an RFC 3489 peer or not STUN.
    #[error("magic cookie {0:#010x} is not 0x2112a442")]
    BadMagicCookie(u32),
    /// The length field is not a multiple of 4 (§6).
    #[error("message length {0} is not a multiple of 4")]
    LengthNotAligned(u16),
    /// The length field disagrees with the datagram (§7.3).
    #[error("header says {header} bytes of attributes, {actual} present")]
    LengthMismatch {
        /// From the header.
        header: u16,
        /// Bytes after the header.
        actual: usize,
    },
    /// An attribute's value (plus padding) runs past the end of the message (§15).
    #[error("attribute {typ:?} at offset {offset} declares {declared} bytes, {available} remain")]
    AttributeOverrun {
        /// Its type.
        typ: AttributeType,
        /// Byte offset of its header in the message.
        offset: usize,
        /// Its length field.
        declared: u16,
        /// Bytes left after its header.
        available: usize,
    },
    /// An attribute follows FINGERPRINT, which must be the last one (§15.5).
    #[error("attribute {0:?} follows FINGERPRINT")]
    AttributeAfterFingerprint(AttributeType),
    /// The FINGERPRINT does not match the CRC-32 of the message (§15.5).
    #[error("FINGERPRINT {received:#010x}, computed {computed:#010x}")]
    FingerprintMismatch {
        /// In the message.
        received: u32,
        /// Over the bytes received.
        computed: u32,
    },
    /// An attribute has a length its type does not allow.
    #[error("attribute {typ:?} has invalid length {len}")]
    BadAttributeLength {
        /// Its type.
        typ: AttributeType,
        /// Its length field.
        len: u16,
    },
    /// An address family other than 0x01 (IPv4) or 0x02 (IPv6) (§15.1).
    #[error("unknown address family {0:#04x}")]
    BadAddressFamily(u8),
    /// A text attribute is not UTF-8 or is longer than 763 bytes (§15.6, §15.10).
    #[error("attribute {0:?} is not valid UTF-8 text of at most 763 bytes")]
    BadText(AttributeType),
    /// ERROR-CODE class outside 3..=6 or number above 99 (§15.6).
    #[error("ERROR-CODE class {class} number {number} is invalid")]
    BadErrorCode {
        /// The class (hundreds digit).
        class: u8,
        /// The number (0..=99).
        number: u8,
    },
    /// Comprehension-required attributes this agent does not understand (RFC 5389 §7.3.1,
    /// §7.3.3). Decoding keeps them; this error is raised where they must fail a transaction.
    #[error("unknown comprehension-required attributes {0:?}")]
    UnknownComprehensionRequired(Vec<AttributeType>),
    /// The message is valid but not what was expected here (e.g. a response sent to the server).
    #[error("unexpected {0:?}")]
    Unexpected(MessageType),
    /// A response does not answer our transaction (§7.3.3).
    #[error("response to {received:?}, expected {expected:?}")]
    TransactionMismatch {
        /// We sent.
        expected: TransactionId,
        /// It answers.
        received: TransactionId,
    },
    /// The server answered with an error response.
    #[error("error response {code:?} {reason:?}")]
    ErrorResponse {
        /// Its ERROR-CODE, or 500 if the error response had none.
        code: ErrorCode,
        /// Its reason phrase.
        reason: String,
    },
    /// A Binding success response without (XOR-)MAPPED-ADDRESS (RFC 5626 §8 requires it).
    #[error("Binding success response has no XOR-MAPPED-ADDRESS")]
    MissingMappedAddress,
}

/// What a server does with a request that produced a [`StunError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Drop it silently (RFC 5389 §7.3: header checks and FINGERPRINT failures).
    Discard,
    /// Answer with an error response carrying this code.
    Reply(ErrorCode),
}

impl StunError {
    /// What a server does when a datagram whose header decoded as a request fails with this
    /// error. Header-level failures and FINGERPRINT mismatches are discarded (RFC 5389 §7.3):
    /// the bytes may not be STUN at all. A request whose header is sound but whose attributes
    /// are malformed gets 400 (§15.6).
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Truncated { .. }
            | Self::NotStun
            | Self::BadMagicCookie(_)
            | Self::LengthNotAligned(_)
            | Self::LengthMismatch { .. }
            | Self::FingerprintMismatch { .. }
            | Self::Unexpected(_)
            | Self::TransactionMismatch { .. }
            | Self::ErrorResponse { .. }
            | Self::MissingMappedAddress => Disposition::Discard,
            Self::AttributeOverrun { .. }
            | Self::AttributeAfterFingerprint(_)
            | Self::BadAttributeLength { .. }
            | Self::BadAddressFamily(_)
            | Self::BadText(_)
            | Self::BadErrorCode { .. } => Disposition::Reply(ErrorCode::BAD_REQUEST),
            Self::UnknownComprehensionRequired(_) => {
                Disposition::Reply(ErrorCode::UNKNOWN_ATTRIBUTE)
            }
        }
    }
}

/// Whether a datagram starting with `first_bytes` is STUN rather than SIP: the two top bits are
/// zero and bytes 4..8 hold the magic cookie (RFC 5389 §6, §7.3). A SIP message starts with a
/// method or "SIP/2.0", whose first byte is never 0x00-0x3F (RFC 5626 §8 relies on this).
/// Needs at least 8 bytes; shorter input is not STUN.
pub fn is_stun(first_bytes: &[u8]) -> bool {
    match (first_bytes.first(), read_u32(first_bytes, 4)) {
        (Some(b0), Some(cookie)) => b0 & 0xC0 == 0 && cookie == MAGIC_COOKIE,
        _ => false,
    }
}

/// The fixed 20-byte header (RFC 5389 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Method and class.
    pub typ: MessageType,
    /// Length of the attributes in bytes (excluding the header).
    pub length: u16,
    /// The transaction id.
    pub transaction_id: TransactionId,
}

impl Header {
    /// Decodes and checks the header: top bits zero, magic cookie, length a multiple of 4
    /// (RFC 5389 §7.3). Does not compare the length with the datagram.
    pub fn decode(bytes: &[u8]) -> Result<Self, StunError> {
        let (Some(typ), Some(length), Some(cookie), Some(tid)) = (
            read_u16(bytes, 0),
            read_u16(bytes, 2),
            read_u32(bytes, 4),
            bytes.get(8..HEADER_LEN),
        ) else {
            return Err(StunError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        };
        if typ & 0xC000 != 0 {
            return Err(StunError::NotStun);
        }
        if cookie != MAGIC_COOKIE {
            return Err(StunError::BadMagicCookie(cookie));
        }
        if length % 4 != 0 {
            return Err(StunError::LengthNotAligned(length));
        }
        let mut id = [0u8; 12];
        id.copy_from_slice(tid);
        Ok(Self {
            typ: MessageType::from_u16(typ),
            length,
            transaction_id: TransactionId(id),
        })
    }
}

/// A decoded STUN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Method and class.
    pub typ: MessageType,
    /// The transaction id.
    pub transaction_id: TransactionId,
    /// The attributes in order, FINGERPRINT excluded (see `fingerprint`). Attributes after
    /// MESSAGE-INTEGRITY other than FINGERPRINT are dropped on decode (RFC 5389 §15.4).
    pub attributes: Vec<Attribute>,
    /// Whether the message carries FINGERPRINT: on decode it was present and matched; on encode
    /// one is appended.
    pub fingerprint: bool,
}

impl Message {
    /// A message with no attributes; FINGERPRINT on, as this usage shares its port with SIP.
    pub fn new(typ: MessageType, transaction_id: TransactionId) -> Self {
        Self {
            typ,
            transaction_id,
            attributes: Vec::new(),
            fingerprint: true,
        }
    }

    /// Decodes one whole datagram (RFC 5389 §7.3): the length field must match exactly,
    /// attributes must be well formed, FINGERPRINT (if any) last and correct. Unknown
    /// attributes are kept as [`Attribute::Other`]; call
    /// [`Message::unknown_comprehension_required`] to find those that require a 420.
    pub fn decode(bytes: &[u8]) -> Result<Self, StunError> {
        let header = Header::decode(bytes)?;
        let body = bytes.get(HEADER_LEN..).unwrap_or_default();
        if usize::from(header.length) != body.len() {
            return Err(StunError::LengthMismatch {
                header: header.length,
                actual: body.len(),
            });
        }
        let mut msg = Self {
            typ: header.typ,
            transaction_id: header.transaction_id,
            attributes: Vec::new(),
            fingerprint: false,
        };
        let mut after_integrity = false;
        let mut offset = HEADER_LEN;
        while offset < bytes.len() {
            let (Some(typ), Some(len)) = (read_u16(bytes, offset), read_u16(bytes, offset + 2))
            else {
                // Unreachable while the length is a multiple of 4, but never trust that.
                return Err(StunError::Truncated {
                    needed: offset + 4,
                    available: bytes.len(),
                });
            };
            let typ = AttributeType(typ);
            let value_start = offset + 4;
            let padded = usize::from(len).next_multiple_of(4);
            let value = bytes
                .get(value_start..value_start + usize::from(len))
                .filter(|_| value_start + padded <= bytes.len())
                .ok_or(StunError::AttributeOverrun {
                    typ,
                    offset,
                    declared: len,
                    available: bytes.len() - value_start,
                })?;
            let next = value_start + padded;
            if msg.fingerprint {
                return Err(StunError::AttributeAfterFingerprint(typ));
            }
            if typ == AttributeType::FINGERPRINT {
                let received = match <[u8; 4]>::try_from(value) {
                    Ok(v) => u32::from_be_bytes(v),
                    Err(_) => return Err(StunError::BadAttributeLength { typ, len }),
                };
                // The CRC covers everything before this attribute, with the length field
                // already counting the FINGERPRINT itself (§15.5), as received.
                let computed = fingerprint_of(bytes.get(..offset).unwrap_or_default());
                if computed != received {
                    return Err(StunError::FingerprintMismatch { received, computed });
                }
                msg.fingerprint = true;
            } else if !after_integrity {
                msg.attributes
                    .push(decode_attribute(typ, value, &msg.transaction_id)?);
                after_integrity = typ == AttributeType::MESSAGE_INTEGRITY
                    || typ == AttributeType::MESSAGE_INTEGRITY_SHA256;
            }
            offset = next;
        }
        Ok(msg)
    }

    /// Encodes the message; attribute padding is zero (RFC 5389 §15). FINGERPRINT, if on, is
    /// computed last over the finished bytes (§15.5).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        out.extend_from_slice(&self.typ.to_u16().to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(&self.transaction_id.0);
        for attr in &self.attributes {
            encode_attribute(attr, &self.transaction_id, &mut out);
        }
        if self.fingerprint {
            set_length(&mut out, FINGERPRINT_ATTR_LEN);
            let crc = fingerprint_of(&out);
            out.extend_from_slice(&AttributeType::FINGERPRINT.0.to_be_bytes());
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&crc.to_be_bytes());
        } else {
            set_length(&mut out, 0);
        }
        out
    }

    /// The first XOR-MAPPED-ADDRESS.
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::XorMappedAddress(addr) => Some(*addr),
            _ => None,
        })
    }

    /// The first MAPPED-ADDRESS.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MappedAddress(addr) => Some(*addr),
            _ => None,
        })
    }

    /// The first SOFTWARE.
    pub fn software(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Software(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The first ERROR-CODE.
    pub fn error_code(&self) -> Option<(ErrorCode, &str)> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::ErrorCode { code, reason } => Some((*code, reason.as_str())),
            _ => None,
        })
    }

    /// The first UNKNOWN-ATTRIBUTES list.
    pub fn unknown_attributes(&self) -> Option<&[AttributeType]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::UnknownAttributes(list) => Some(list.as_slice()),
            _ => None,
        })
    }

    /// The comprehension-required attribute types this agent does not understand, each once, in
    /// order of appearance. Non-empty in a request means a 420 (RFC 5389 §7.3.1); in a
    /// response, the transaction fails (§7.3.3). Unknown comprehension-optional ones are
    /// simply ignored.
    pub fn unknown_comprehension_required(&self) -> Vec<AttributeType> {
        let mut unknown: Vec<AttributeType> = Vec::new();
        for attr in &self.attributes {
            let typ = attr.typ();
            if typ.is_comprehension_required() && !typ.is_understood() && !unknown.contains(&typ) {
                unknown.push(typ);
            }
        }
        unknown
    }
}

/// What a server does with one incoming datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAction {
    /// Send these bytes back to the source over the same flow.
    Reply(Vec<u8>),
    /// Drop the datagram, for this reason.
    Discard(StunError),
}

/// The STUN server of RFC 5626 §8 for one datagram that [`is_stun`] accepted: a Binding request
/// gets a success response with XOR-MAPPED-ADDRESS = `observed` (the source address of the
/// datagram), or a 420 listing unknown comprehension-required attributes; a request with
/// malformed attributes or another method gets 400; anything else is discarded
/// (RFC 5389 §7.3).
pub fn handle_request(datagram: &[u8], observed: SocketAddr) -> ServerAction {
    let header = match Header::decode(datagram) {
        Ok(h) => h,
        Err(e) => return ServerAction::Discard(e),
    };
    let msg = match Message::decode(datagram) {
        Ok(m) => m,
        Err(e) => {
            return match (header.typ.class, e.disposition()) {
                (Class::Request, Disposition::Reply(code)) => {
                    ServerAction::Reply(error_response(&header, code, &[]))
                }
                _ => ServerAction::Discard(e),
            }
        }
    };
    match msg.typ.class {
        Class::Request if msg.typ.method == Method::BINDING => {
            ServerAction::Reply(binding_response(&msg, observed))
        }
        // This usage defines Binding only (RFC 5626 §8); a request for another method is one the
        // server cannot process, so it is refused rather than left to time out.
        Class::Request => ServerAction::Reply(error_response(&header, ErrorCode::BAD_REQUEST, &[])),
        _ => ServerAction::Discard(StunError::Unexpected(msg.typ)),
    }
}

/// The answer to a decoded Binding request: a success response carrying XOR-MAPPED-ADDRESS =
/// `observed` (RFC 5389 §7.3.1, RFC 5626 §8 "MUST include"), or, when the request has
/// comprehension-required attributes this agent does not understand, a 420 error response
/// with UNKNOWN-ATTRIBUTES (RFC 5389 §7.3.1). Both carry FINGERPRINT.
pub fn binding_response(request: &Message, observed: SocketAddr) -> Vec<u8> {
    let unknown = request.unknown_comprehension_required();
    let header = Header {
        typ: request.typ,
        length: 0,
        transaction_id: request.transaction_id,
    };
    if !unknown.is_empty() {
        return error_response(&header, ErrorCode::UNKNOWN_ATTRIBUTE, &unknown);
    }
    let mut response = Message::new(
        MessageType::new(request.typ.method, Class::SuccessResponse),
        request.transaction_id,
    );
    response
        .attributes
        .push(Attribute::XorMappedAddress(observed));
    response.encode()
}

/// An error response to the request with this header; UNKNOWN-ATTRIBUTES is added when
/// `unknown` is not empty (RFC 5389 §7.3.1).
fn error_response(request: &Header, code: ErrorCode, unknown: &[AttributeType]) -> Vec<u8> {
    let mut response = Message::new(
        MessageType::new(request.typ.method, Class::ErrorResponse),
        request.transaction_id,
    );
    response.attributes.push(Attribute::ErrorCode {
        code,
        reason: code.reason().to_owned(),
    });
    if !unknown.is_empty() {
        response
            .attributes
            .push(Attribute::UnknownAttributes(unknown.to_vec()));
    }
    response.encode()
}

/// A keep-alive Binding request (RFC 5626 §4.4.2, §8): no attributes are needed; FINGERPRINT is
/// added so the server can tell it from SIP with certainty. `transaction_id` must be fresh and
/// random (RFC 5389 §6).
pub fn binding_request(transaction_id: TransactionId) -> Vec<u8> {
    Message::new(MessageType::BINDING_REQUEST, transaction_id).encode()
}

/// Checks that `datagram` is the Binding success response to our request `expected` and
/// returns the reflexive address it reports: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an old
/// server (RFC 5389 §7.3.3, §15.1). An error response gives [`StunError::ErrorResponse`];
/// unknown comprehension-required attributes fail the transaction (§7.3.3) with
/// [`StunError::UnknownComprehensionRequired`].
pub fn parse_binding_response(
    datagram: &[u8],
    expected: &TransactionId,
) -> Result<SocketAddr, StunError> {
    let msg = Message::decode(datagram)?;
    if msg.transaction_id != *expected {
        return Err(StunError::TransactionMismatch {
            expected: *expected,
            received: msg.transaction_id,
        });
    }
    if msg.typ.method != Method::BINDING {
        return Err(StunError::Unexpected(msg.typ));
    }
    match msg.typ.class {
        Class::SuccessResponse => {}
        Class::ErrorResponse => {
            let (code, reason) = msg
                .error_code()
                .unwrap_or((ErrorCode::SERVER_ERROR, "error response without ERROR-CODE"));
            return Err(StunError::ErrorResponse {
                code,
                reason: reason.to_owned(),
            });
        }
        Class::Request | Class::Indication => return Err(StunError::Unexpected(msg.typ)),
    }
    let unknown = msg.unknown_comprehension_required();
    if !unknown.is_empty() {
        return Err(StunError::UnknownComprehensionRequired(unknown));
    }
    msg.xor_mapped_address()
        .or_else(|| msg.mapped_address())
        .ok_or(StunError::MissingMappedAddress)
}

/// What a new reflexive address means for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingChange {
    /// The first address seen on this flow.
    Learned(SocketAddr),
    /// Same as before: the NAT binding is intact.
    Unchanged,
    /// The NAT rebound the flow: RFC 5626 §4.4.2 says the UA MUST treat this as a flow failure
    /// (and so re-register over a new flow).
    Changed {
        /// The address seen before.
        previous: SocketAddr,
        /// The address seen now.
        current: SocketAddr,
    },
}

/// The UA side of RFC 5626 §4.4.2: remembers the XOR-MAPPED-ADDRESS of one flow across
/// keep-alive responses and reports when it changes.
#[derive(Debug, Clone, Default)]
pub struct MappingMonitor {
    current: Option<SocketAddr>,
}

impl MappingMonitor {
    /// A monitor for a new flow.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last address seen.
    pub fn current(&self) -> Option<SocketAddr> {
        self.current
    }

    /// Records the address from a Binding response.
    pub fn observe(&mut self, address: SocketAddr) -> MappingChange {
        match self.current.replace(address) {
            None => MappingChange::Learned(address),
            Some(previous) if previous == address => MappingChange::Unchanged,
            Some(previous) => MappingChange::Changed {
                previous,
                current: address,
            },
        }
    }
}

fn decode_attribute(
    typ: AttributeType,
    value: &[u8],
    tid: &TransactionId,
) -> Result<Attribute, StunError> {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    match typ {
        AttributeType::MAPPED_ADDRESS => {
            decode_address(typ, value, None).map(Attribute::MappedAddress)
        }
        AttributeType::XOR_MAPPED_ADDRESS => {
            decode_address(typ, value, Some(tid)).map(Attribute::XorMappedAddress)
        }
        AttributeType::SOFTWARE => decode_text(typ, value).map(Attribute::Software),
        AttributeType::ERROR_CODE => {
            let (Some(&class_byte), Some(&number), Some(reason)) =
                (value.get(2), value.get(3), value.get(4..))
            else {
                return Err(StunError::BadAttributeLength { typ, len });
            };
            // The top 21 bits are reserved (§15.6): only the low 3 bits of byte 2 are the class.
            let class = class_byte & 0x07;
            if !(3..=6).contains(&class) || number > 99 {
                return Err(StunError::BadErrorCode { class, number });
            }
            Ok(Attribute::ErrorCode {
                code: ErrorCode(u16::from(class) * 100 + u16::from(number)),
                reason: decode_text(typ, reason)?,
            })
        }
        AttributeType::UNKNOWN_ATTRIBUTES => {
            if !value.len().is_multiple_of(2) {
                return Err(StunError::BadAttributeLength { typ, len });
            }
            Ok(Attribute::UnknownAttributes(
                value
                    .chunks_exact(2)
                    .map(|c| AttributeType(u16::from_be_bytes([c[0], c[1]])))
                    .collect(),
            ))
        }
        _ => Ok(Attribute::Other {
            typ,
            value: value.to_vec(),
        }),
    }
}

/// MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value: reserved byte, family, port, address (§15.1,
/// §15.2). With a transaction id, port and address are XOR-ed with the cookie (and, for IPv6,
/// the cookie followed by the transaction id).
fn decode_address(
    typ: AttributeType,
    value: &[u8],
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, StunError> {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    let (Some(&family), Some(port)) = (value.get(1), read_u16(value, 2)) else {
        return Err(StunError::BadAttributeLength { typ, len });
    };
    let key = xor_key(xor);
    let port = if xor.is_some() {
        port ^ (MAGIC_COOKIE >> 16) as u16
    } else {
        port
    };
    let addr = value.get(4..).unwrap_or_default();
    let mut clear = [0u8; 16];
    for ((out, b), k) in clear.iter_mut().zip(addr).zip(key) {
        *out = b ^ k;
    }
    let ip = match (family, addr.len()) {
        (0x01, 4) => IpAddr::V4(Ipv4Addr::new(clear[0], clear[1], clear[2], clear[3])),
        (0x02, 16) => IpAddr::V6(Ipv6Addr::from(clear)),
        (0x01 | 0x02, _) => return Err(StunError::BadAttributeLength { typ, len }),
        (other, _) => return Err(StunError::BadAddressFamily(other)),
    };
    Ok(SocketAddr::new(ip, port))
}

/// The 16-byte XOR key: magic cookie ‖ transaction id, or zeros for the plain form.
fn xor_key(xor: Option<&TransactionId>) -> [u8; 16] {
    let mut key = [0u8; 16];
    if let Some(tid) = xor {
        key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        key[4..].copy_from_slice(&tid.0);
    }
    key
}

fn decode_text(typ: AttributeType, value: &[u8]) -> Result<String, StunError> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(StunError::BadText(typ));
    }
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|_| StunError::BadText(typ))
}

fn encode_attribute(attr: &Attribute, tid: &TransactionId, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&attr.typ().0.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    match attr {
        Attribute::MappedAddress(addr) => encode_address(*addr, None, out),
        Attribute::XorMappedAddress(addr) => encode_address(*addr, Some(tid), out),
        Attribute::Software(text) => out.extend_from_slice(truncate_text(text)),
        Attribute::ErrorCode { code, reason } => {
            // Codes outside 300..=699 cannot be expressed; clamp rather than emit garbage.
            let code = code.0.clamp(300, 699);
            out.extend_from_slice(&[0, 0, (code / 100) as u8, (code % 100) as u8]);
            out.extend_from_slice(truncate_text(reason));
        }
        Attribute::UnknownAttributes(list) => {
            for t in list {
                out.extend_from_slice(&t.0.to_be_bytes());
            }
        }
        Attribute::Other { value, .. } => out.extend_from_slice(value),
    }
    // An attribute value cannot exceed 65535 bytes; the texts are capped above and the rest
    // come from decoded messages, so this only guards hand-built `Other` values.
    let value_len = (out.len() - start - 4).min(usize::from(u16::MAX));
    out.truncate(start + 4 + value_len);
    out[start + 2..start + 4].copy_from_slice(&(value_len as u16).to_be_bytes());
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn encode_address(addr: SocketAddr, xor: Option<&TransactionId>, out: &mut Vec<u8>) {
    let key = xor_key(xor);
    let port_key = if xor.is_some() {
        (MAGIC_COOKIE >> 16) as u16
    } else {
        0
    };
    let (family, ip): (u8, Vec<u8>) = match addr.ip() {
        IpAddr::V4(v4) => (0x01, v4.octets().to_vec()),
        IpAddr::V6(v6) => (0x02, v6.octets().to_vec()),
    };
    out.extend_from_slice(&[0, family]);
    out.extend_from_slice(&(addr.port() ^ port_key).to_be_bytes());
    out.extend(ip.iter().zip(key.iter()).map(|(b, k)| b ^ k));
}

/// Cuts text to at most 763 bytes on a character boundary (RFC 5389 §15.10).
fn truncate_text(text: &str) -> &[u8] {
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text.as_bytes()[..end]
}

/// Sets the header length to the attributes written so far plus `extra` bytes still to come.
fn set_length(out: &mut [u8], extra: usize) {
    let len = (out.len() - HEADER_LEN + extra).min(usize::from(u16::MAX)) as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
}

/// FINGERPRINT value: CRC-32 of `bytes` XOR 0x5354554E (RFC 5389 §15.5).
pub fn fingerprint_of(bytes: &[u8]) -> u32 {
    crc32(bytes) ^ FINGERPRINT_XOR
}

/// CRC-32 as in ISO/IEC 13239 / ITU-T V.42 / Ethernet (RFC 5389 §15.5 via RFC 1952): reflected
/// polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc = CRC32_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc ^ 0xFFFF_FFFF
}

/// The byte-at-a-time lookup table, built at compile time.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC over "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn message_type_interleaving() {
        // RFC 5389 §6: Binding request 0x0001, success 0x0101, error 0x0111, indication 0x0011.
        assert_eq!(MessageType::BINDING_REQUEST.to_u16(), 0x0001);
        assert_eq!(MessageType::BINDING_SUCCESS.to_u16(), 0x0101);
        assert_eq!(MessageType::BINDING_ERROR.to_u16(), 0x0111);
        assert_eq!(
            MessageType::new(Method::BINDING, Class::Indication).to_u16(),
            0x0011
        );
        for raw in 0u16..0x4000 {
            assert_eq!(MessageType::from_u16(raw).to_u16(), raw);
        }
    }
}
