//! AVPs (RFC 6733 §4): header, flags, and the basic (§4.2) and derived (§4.3) data
//! formats. An [`Avp`] keeps its payload as raw [`Bytes`]; typed access is on demand,
//! so unknown AVPs are relayed untouched.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           AVP Code                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V M P r r r r r|                  AVP Length                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Vendor-ID (opt)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Data ...
//! +-+-+-+-+-+-+-+-+
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::codec;
use crate::dictionary;
use crate::error::DecodeError;

/// AVP Code (RFC 6733 §4.1). Open newtype; the named codes are in [`code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AvpCode(pub u32);

impl fmt::Display for AvpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Vendor-ID (RFC 6733 §4.1, IANA SMI network management private enterprise codes).
/// The default is IETF (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct VendorId(pub u32);

impl VendorId {
    /// IETF AVPs: encoded without the V bit and Vendor-ID field.
    pub const IETF: Self = Self(0);
    /// 3GPP.
    pub const TGPP: Self = Self(10415);
    /// Alias spelled as in the specs' tables.
    #[allow(non_upper_case_globals)]
    pub const _3GPP: Self = Self::TGPP;
}

/// AVP Flags octet (RFC 6733 §4.1), raw so that reserved bits are relayed as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AvpFlags(pub u8);

impl AvpFlags {
    /// V(endor-specific): a Vendor-ID field follows the length.
    pub const VENDOR: u8 = 0x80;
    /// M(andatory): the receiver must understand the AVP or reject the message (§4.1).
    pub const MANDATORY: u8 = 0x40;
    /// P: reserved for end-to-end security; RFC 6733 says it SHOULD be 0.
    pub const PROTECTED: u8 = 0x20;

    pub fn is_vendor(self) -> bool {
        self.0 & Self::VENDOR != 0
    }
    pub fn is_mandatory(self) -> bool {
        self.0 & Self::MANDATORY != 0
    }
    pub fn is_protected(self) -> bool {
        self.0 & Self::PROTECTED != 0
    }
}

/// AVP header size without / with the Vendor-ID field.
pub const AVP_HEADER_LEN: usize = 8;
pub const AVP_HEADER_LEN_VENDOR: usize = 12;
/// Largest value of the 24-bit AVP Length field.
pub const MAX_AVP_LEN: usize = 0x00ff_ffff;

/// One AVP. `flags` V always agrees with `vendor_id` on the wire: the encoder derives
/// V from `vendor_id.is_some()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Avp {
    pub code: AvpCode,
    pub flags: AvpFlags,
    pub vendor_id: Option<VendorId>,
    /// The payload without padding.
    pub data: Bytes,
}

/// Named AVP codes: RFC 6733 base AVPs, RFC 4740 Digest AVPs used by Cx, and the
/// TS 29.229 Cx/Dx AVPs (vendor 10415).
pub mod code {
    use super::AvpCode;

    // RFC 6733 §4.5 base AVPs (vendor 0)
    pub const USER_NAME: AvpCode = AvpCode(1);
    pub const CLASS: AvpCode = AvpCode(25);
    pub const SESSION_TIMEOUT: AvpCode = AvpCode(27);
    pub const PROXY_STATE: AvpCode = AvpCode(33);
    pub const ACCOUNTING_SESSION_ID: AvpCode = AvpCode(44);
    pub const ACCT_MULTI_SESSION_ID: AvpCode = AvpCode(50);
    pub const EVENT_TIMESTAMP: AvpCode = AvpCode(55);
    pub const ACCT_INTERIM_INTERVAL: AvpCode = AvpCode(85);
    pub const HOST_IP_ADDRESS: AvpCode = AvpCode(257);
    pub const AUTH_APPLICATION_ID: AvpCode = AvpCode(258);
    pub const ACCT_APPLICATION_ID: AvpCode = AvpCode(259);
    pub const VENDOR_SPECIFIC_APPLICATION_ID: AvpCode = AvpCode(260);
    pub const REDIRECT_HOST_USAGE: AvpCode = AvpCode(261);
    pub const REDIRECT_MAX_CACHE_TIME: AvpCode = AvpCode(262);
    pub const SESSION_ID: AvpCode = AvpCode(263);
    pub const ORIGIN_HOST: AvpCode = AvpCode(264);
    pub const SUPPORTED_VENDOR_ID: AvpCode = AvpCode(265);
    pub const VENDOR_ID: AvpCode = AvpCode(266);
    pub const FIRMWARE_REVISION: AvpCode = AvpCode(267);
    pub const RESULT_CODE: AvpCode = AvpCode(268);
    pub const PRODUCT_NAME: AvpCode = AvpCode(269);
    pub const SESSION_BINDING: AvpCode = AvpCode(270);
    pub const SESSION_SERVER_FAILOVER: AvpCode = AvpCode(271);
    pub const MULTI_ROUND_TIME_OUT: AvpCode = AvpCode(272);
    pub const DISCONNECT_CAUSE: AvpCode = AvpCode(273);
    pub const AUTH_REQUEST_TYPE: AvpCode = AvpCode(274);
    pub const AUTH_GRACE_PERIOD: AvpCode = AvpCode(276);
    pub const AUTH_SESSION_STATE: AvpCode = AvpCode(277);
    pub const ORIGIN_STATE_ID: AvpCode = AvpCode(278);
    pub const FAILED_AVP: AvpCode = AvpCode(279);
    pub const PROXY_HOST: AvpCode = AvpCode(280);
    pub const ERROR_MESSAGE: AvpCode = AvpCode(281);
    pub const ROUTE_RECORD: AvpCode = AvpCode(282);
    pub const DESTINATION_REALM: AvpCode = AvpCode(283);
    pub const PROXY_INFO: AvpCode = AvpCode(284);
    pub const RE_AUTH_REQUEST_TYPE: AvpCode = AvpCode(285);
    pub const ACCOUNTING_SUB_SESSION_ID: AvpCode = AvpCode(287);
    pub const AUTHORIZATION_LIFETIME: AvpCode = AvpCode(291);
    pub const REDIRECT_HOST: AvpCode = AvpCode(292);
    pub const DESTINATION_HOST: AvpCode = AvpCode(293);
    pub const ERROR_REPORTING_HOST: AvpCode = AvpCode(294);
    pub const TERMINATION_CAUSE: AvpCode = AvpCode(295);
    pub const ORIGIN_REALM: AvpCode = AvpCode(296);
    pub const EXPERIMENTAL_RESULT: AvpCode = AvpCode(297);
    pub const EXPERIMENTAL_RESULT_CODE: AvpCode = AvpCode(298);
    pub const INBAND_SECURITY_ID: AvpCode = AvpCode(299);
    pub const E2E_SEQUENCE: AvpCode = AvpCode(300);
    pub const ACCOUNTING_RECORD_TYPE: AvpCode = AvpCode(480);
    pub const ACCOUNTING_REALTIME_REQUIRED: AvpCode = AvpCode(483);
    pub const ACCOUNTING_RECORD_NUMBER: AvpCode = AvpCode(485);

    // RFC 4740 §9.5 Digest AVPs (vendor 0), used in SIP-Digest-Authenticate (TS 29.229)
    pub const DIGEST_REALM: AvpCode = AvpCode(104);
    pub const DIGEST_QOP: AvpCode = AvpCode(110);
    pub const DIGEST_ALGORITHM: AvpCode = AvpCode(111);
    pub const DIGEST_HA1: AvpCode = AvpCode(121);

    // TS 29.229 §6.3 Cx/Dx AVPs (vendor 10415)
    pub const VISITED_NETWORK_IDENTIFIER: AvpCode = AvpCode(600);
    pub const PUBLIC_IDENTITY: AvpCode = AvpCode(601);
    pub const SERVER_NAME: AvpCode = AvpCode(602);
    pub const SERVER_CAPABILITIES: AvpCode = AvpCode(603);
    pub const MANDATORY_CAPABILITY: AvpCode = AvpCode(604);
    pub const OPTIONAL_CAPABILITY: AvpCode = AvpCode(605);
    pub const USER_DATA: AvpCode = AvpCode(606);
    pub const SIP_NUMBER_AUTH_ITEMS: AvpCode = AvpCode(607);
    pub const SIP_AUTHENTICATION_SCHEME: AvpCode = AvpCode(608);
    pub const SIP_AUTHENTICATE: AvpCode = AvpCode(609);
    pub const SIP_AUTHORIZATION: AvpCode = AvpCode(610);
    pub const SIP_AUTHENTICATION_CONTEXT: AvpCode = AvpCode(611);
    pub const SIP_AUTH_DATA_ITEM: AvpCode = AvpCode(612);
    pub const SIP_ITEM_NUMBER: AvpCode = AvpCode(613);
    pub const SERVER_ASSIGNMENT_TYPE: AvpCode = AvpCode(614);
    pub const DEREGISTRATION_REASON: AvpCode = AvpCode(615);
    pub const REASON_CODE: AvpCode = AvpCode(616);
    pub const REASON_INFO: AvpCode = AvpCode(617);
    pub const CHARGING_INFORMATION: AvpCode = AvpCode(618);
    pub const PRIMARY_EVENT_CHARGING_FUNCTION_NAME: AvpCode = AvpCode(619);
    pub const SECONDARY_EVENT_CHARGING_FUNCTION_NAME: AvpCode = AvpCode(620);
    pub const PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME: AvpCode = AvpCode(621);
    pub const SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME: AvpCode = AvpCode(622);
    pub const USER_AUTHORIZATION_TYPE: AvpCode = AvpCode(623);
    pub const USER_DATA_ALREADY_AVAILABLE: AvpCode = AvpCode(624);
    pub const CONFIDENTIALITY_KEY: AvpCode = AvpCode(625);
    pub const INTEGRITY_KEY: AvpCode = AvpCode(626);
    pub const USER_DATA_REQUEST_TYPE: AvpCode = AvpCode(627);
    pub const SUPPORTED_FEATURES: AvpCode = AvpCode(628);
    pub const FEATURE_LIST_ID: AvpCode = AvpCode(629);
    pub const FEATURE_LIST: AvpCode = AvpCode(630);
    pub const SUPPORTED_APPLICATIONS: AvpCode = AvpCode(631);
    pub const ASSOCIATED_IDENTITIES: AvpCode = AvpCode(632);
    pub const ORIGINATING_REQUEST: AvpCode = AvpCode(633);
    pub const WILDCARDED_PUBLIC_IDENTITY: AvpCode = AvpCode(634);
    pub const SIP_DIGEST_AUTHENTICATE: AvpCode = AvpCode(635);
    pub const WILDCARDED_IMPU: AvpCode = AvpCode(636);
    pub const UAR_FLAGS: AvpCode = AvpCode(637);
    pub const LOOSE_ROUTE_INDICATION: AvpCode = AvpCode(638);
    pub const SCSCF_RESTORATION_INFO: AvpCode = AvpCode(639);
    pub const PATH: AvpCode = AvpCode(640);
    pub const CONTACT: AvpCode = AvpCode(641);
    pub const SUBSCRIPTION_INFO: AvpCode = AvpCode(642);
    pub const CALL_ID_SIP_HEADER: AvpCode = AvpCode(643);
    pub const FROM_SIP_HEADER: AvpCode = AvpCode(644);
    pub const TO_SIP_HEADER: AvpCode = AvpCode(645);
    pub const RECORD_ROUTE: AvpCode = AvpCode(646);
    pub const ASSOCIATED_REGISTERED_IDENTITIES: AvpCode = AvpCode(647);
    pub const MULTIPLE_REGISTRATION_INDICATION: AvpCode = AvpCode(648);
    pub const RESTORATION_INFO: AvpCode = AvpCode(649);
    pub const SESSION_PRIORITY: AvpCode = AvpCode(650);
    pub const IDENTITY_WITH_EMERGENCY_REGISTRATION: AvpCode = AvpCode(651);
    pub const PRIVILEDGED_SENDER_INDICATION: AvpCode = AvpCode(652);
    pub const LIA_FLAGS: AvpCode = AvpCode(653);
    pub const INITIAL_CSEQ_SEQUENCE_NUMBER: AvpCode = AvpCode(654);
    pub const SAR_FLAGS: AvpCode = AvpCode(655);
}

/// The address family numbers Address AVPs use (RFC 6733 §4.3.1, IANA "Address Family
/// Numbers").
pub mod address_family {
    pub const IPV4: u16 = 1;
    pub const IPV6: u16 = 2;
}

/// Address (RFC 6733 §4.3.1): a 2-octet address family followed by the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    Ip(IpAddr),
    /// Any other family (e.g. E.164 = 8), kept as received.
    Other {
        family: u16,
        address: Bytes,
    },
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        Self::Ip(ip)
    }
}

/// Time (RFC 6733 §4.3.1): NTP seconds since 1900-01-01 00:00 UTC. Values with the
/// top bit clear are read as the era starting 2036-02-07 (RFC 4330 §3), which
/// extends the range to 2104 as §4.3.1 asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiameterTime(pub u32);

/// Seconds between 1900-01-01 and 1970-01-01.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

impl DiameterTime {
    /// Seconds since the Unix epoch, with the RFC 4330 era rule.
    pub fn unix_seconds(self) -> i64 {
        let secs = i64::from(self.0);
        if self.0 & 0x8000_0000 != 0 {
            secs - NTP_UNIX_OFFSET
        } else {
            secs + (1i64 << 32) - NTP_UNIX_OFFSET
        }
    }

    /// From seconds since the Unix epoch; `None` outside 1968-01-20 .. 2104-02-26
    /// (the range the two eras cover).
    pub fn from_unix_seconds(unix: i64) -> Option<Self> {
        let ntp = unix.checked_add(NTP_UNIX_OFFSET)?;
        let wrapped = u32::try_from(ntp.rem_euclid(1i64 << 32)).ok()?;
        let t = Self(wrapped);
        (t.unix_seconds() == unix).then_some(t)
    }

    pub fn to_system_time(self) -> SystemTime {
        let unix = self.unix_seconds();
        if unix >= 0 {
            UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
        }
    }

    /// Truncates to whole seconds; `None` outside the representable range.
    pub fn from_system_time(t: SystemTime) -> Option<Self> {
        let unix = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).ok()?,
            Err(e) => -i64::try_from(e.duration().as_secs()).ok()?,
        };
        Self::from_unix_seconds(unix)
    }
}

/// DiameterURI (RFC 6733 §4.3.1):
/// `"aaa://" / "aaas://" FQDN [":" port] [";transport=" transport] [";protocol=" protocol]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiameterUri {
    /// `aaas` (TLS/DTLS) rather than `aaa`.
    pub secure: bool,
    pub fqdn: String,
    pub port: Option<u16>,
    pub transport: Option<String>,
    pub protocol: Option<String>,
}

impl DiameterUri {
    /// Parses the §4.3.1 syntax; `None` when it does not match.
    pub fn parse(s: &str) -> Option<Self> {
        let (secure, rest) = if let Some(r) = s.strip_prefix("aaas://") {
            (true, r)
        } else {
            (false, s.strip_prefix("aaa://")?)
        };
        let mut parts = rest.split(';');
        let hostport = parts.next()?;
        let (fqdn, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (hostport, None),
        };
        if fqdn.is_empty()
            || !fqdn
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        {
            return None;
        }
        let mut uri = Self {
            secure,
            fqdn: fqdn.to_owned(),
            port,
            transport: None,
            protocol: None,
        };
        for param in parts {
            match param.split_once('=')? {
                ("transport", v) if !v.is_empty() => uri.transport = Some(v.to_owned()),
                ("protocol", v) if !v.is_empty() => uri.protocol = Some(v.to_owned()),
                _ => return None,
            }
        }
        Some(uri)
    }
}

impl fmt::Display for DiameterUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "aaas" } else { "aaa" };
        write!(f, "{scheme}://{}", self.fqdn)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(t) = &self.transport {
            write!(f, ";transport={t}")?;
        }
        if let Some(p) = &self.protocol {
            write!(f, ";protocol={p}")?;
        }
        Ok(())
    }
}

/// Constructors. Each sets the M bit when the dictionary says the AVP MUST carry it
/// (and leaves it clear for AVPs the dictionary does not know); use
/// [`Avp::with_mandatory`] to override. A vendor of 0 means an IETF AVP (no V bit).
impl Avp {
    /// An AVP with explicit flags; V is taken from `vendor_id`.
    pub fn new(
        code: AvpCode,
        flags: AvpFlags,
        vendor_id: Option<VendorId>,
        data: impl Into<Bytes>,
    ) -> Self {
        let vendor_id = vendor_id.filter(|v| v.0 != 0);
        let v = if vendor_id.is_some() {
            AvpFlags::VENDOR
        } else {
            0
        };
        Self {
            code,
            flags: AvpFlags((flags.0 & !AvpFlags::VENDOR) | v),
            vendor_id,
            data: data.into(),
        }
    }

    /// OctetString (§4.2), flags from the dictionary.
    pub fn octet_string(
        code: AvpCode,
        vendor: impl Into<Option<VendorId>>,
        data: impl Into<Bytes>,
    ) -> Self {
        let vendor = vendor.into().filter(|v| v.0 != 0);
        let m = if dictionary::lookup(code, vendor.unwrap_or(VendorId::IETF))
            .is_some_and(|d| d.must.is_mandatory())
        {
            AvpFlags::MANDATORY
        } else {
            0
        };
        Self::new(code, AvpFlags(m), vendor, data)
    }

    /// Integer32 (§4.2).
    pub fn integer32(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: i32) -> Self {
        Self::octet_string(code, vendor, v.to_be_bytes().to_vec())
    }
    /// Integer64 (§4.2).
    pub fn integer64(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: i64) -> Self {
        Self::octet_string(code, vendor, v.to_be_bytes().to_vec())
    }
    /// Unsigned32 (§4.2).
    pub fn unsigned32(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: u32) -> Self {
        Self::octet_string(code, vendor, v.to_be_bytes().to_vec())
    }
    /// Unsigned64 (§4.2).
    pub fn unsigned64(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: u64) -> Self {
        Self::octet_string(code, vendor, v.to_be_bytes().to_vec())
    }
    /// Float32 (§4.2, IEEE 754 single).
    pub fn float32(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: f32) -> Self {
        Self::octet_string(code, vendor, v.to_be_bytes().to_vec())
    }
    /// Float64 (§4.2, IEEE 754 double).
    pub fn float64(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: f64) -> Self {
        Self::octet_string(code, vendor, v.to_be_bytes().to_vec())
    }
    /// Grouped (§4.4): the payload is the concatenation of the encoded children.
    pub fn grouped(code: AvpCode, vendor: impl Into<Option<VendorId>>, children: &[Avp]) -> Self {
        let mut buf = Vec::with_capacity(children.iter().map(Avp::encoded_len).sum());
        for c in children {
            c.encode_into(&mut buf);
        }
        Self::octet_string(code, vendor, buf)
    }
    /// Address (§4.3.1).
    pub fn address(
        code: AvpCode,
        vendor: impl Into<Option<VendorId>>,
        addr: impl Into<Address>,
    ) -> Self {
        let mut buf = Vec::with_capacity(18);
        match addr.into() {
            Address::Ip(IpAddr::V4(a)) => {
                buf.extend_from_slice(&address_family::IPV4.to_be_bytes());
                buf.extend_from_slice(&a.octets());
            }
            Address::Ip(IpAddr::V6(a)) => {
                buf.extend_from_slice(&address_family::IPV6.to_be_bytes());
                buf.extend_from_slice(&a.octets());
            }
            Address::Other { family, address } => {
                buf.extend_from_slice(&family.to_be_bytes());
                buf.extend_from_slice(&address);
            }
        }
        Self::octet_string(code, vendor, buf)
    }
    /// Time (§4.3.1).
    pub fn time(code: AvpCode, vendor: impl Into<Option<VendorId>>, t: DiameterTime) -> Self {
        Self::unsigned32(code, vendor, t.0)
    }
    /// UTF8String (§4.3.1).
    pub fn utf8_string(code: AvpCode, vendor: impl Into<Option<VendorId>>, s: &str) -> Self {
        Self::octet_string(code, vendor, Bytes::copy_from_slice(s.as_bytes()))
    }
    /// DiameterIdentity (§4.3.1): an FQDN or realm, ASCII.
    pub fn diameter_identity(code: AvpCode, vendor: impl Into<Option<VendorId>>, s: &str) -> Self {
        Self::utf8_string(code, vendor, s)
    }
    /// DiameterURI (§4.3.1).
    pub fn diameter_uri(
        code: AvpCode,
        vendor: impl Into<Option<VendorId>>,
        uri: &DiameterUri,
    ) -> Self {
        Self::utf8_string(code, vendor, &uri.to_string())
    }
    /// Enumerated (§4.3.1): an Integer32 on the wire.
    pub fn enumerated(code: AvpCode, vendor: impl Into<Option<VendorId>>, v: i32) -> Self {
        Self::integer32(code, vendor, v)
    }

    /// Sets or clears the M bit.
    pub fn with_mandatory(mut self, on: bool) -> Self {
        if on {
            self.flags.0 |= AvpFlags::MANDATORY;
        } else {
            self.flags.0 &= !AvpFlags::MANDATORY;
        }
        self
    }

    /// The vendor as a value; IETF (0) for AVPs without the V bit.
    pub fn vendor(&self) -> VendorId {
        self.vendor_id.unwrap_or(VendorId::IETF)
    }

    /// Whether this is AVP `code` of `vendor` (vendor 0 = no V bit).
    pub fn is(&self, code: AvpCode, vendor: VendorId) -> bool {
        self.code == code && self.vendor() == vendor
    }
}

/// Typed getters. A payload of the wrong size is 5014 (RFC 6733 §7.1.5), a payload
/// of the right size that is not a valid value is 5004; both carry this AVP as the
/// Failed-AVP.
impl Avp {
    fn invalid_length(&self) -> DecodeError {
        DecodeError::InvalidAvpLength {
            failed_avp: self.clone(),
        }
    }

    fn invalid_value(&self, reason: &'static str) -> DecodeError {
        DecodeError::InvalidAvpValue {
            failed_avp: self.clone(),
            reason,
        }
    }

    fn fixed<const N: usize>(&self) -> Result<[u8; N], DecodeError> {
        <[u8; N]>::try_from(self.data.as_ref()).map_err(|_| self.invalid_length())
    }

    /// OctetString: the raw payload.
    pub fn as_octet_string(&self) -> &Bytes {
        &self.data
    }
    pub fn as_integer32(&self) -> Result<i32, DecodeError> {
        self.fixed::<4>().map(i32::from_be_bytes)
    }
    pub fn as_integer64(&self) -> Result<i64, DecodeError> {
        self.fixed::<8>().map(i64::from_be_bytes)
    }
    pub fn as_unsigned32(&self) -> Result<u32, DecodeError> {
        self.fixed::<4>().map(u32::from_be_bytes)
    }
    pub fn as_unsigned64(&self) -> Result<u64, DecodeError> {
        self.fixed::<8>().map(u64::from_be_bytes)
    }
    pub fn as_float32(&self) -> Result<f32, DecodeError> {
        self.fixed::<4>().map(f32::from_be_bytes)
    }
    pub fn as_float64(&self) -> Result<f64, DecodeError> {
        self.fixed::<8>().map(f64::from_be_bytes)
    }
    pub fn as_enumerated(&self) -> Result<i32, DecodeError> {
        self.as_integer32()
    }
    pub fn as_time(&self) -> Result<DiameterTime, DecodeError> {
        self.as_unsigned32().map(DiameterTime)
    }

    /// Grouped (§4.4): decodes the children. Errors inside are reported with this
    /// AVP wrapped around the offending child (§7.5).
    pub fn as_grouped(&self) -> Result<Vec<Avp>, DecodeError> {
        codec::decode_avps(&self.data).map_err(|e| e.within(self))
    }

    /// UTF8String (§4.3.1); invalid UTF-8 is 5004.
    pub fn as_utf8_string(&self) -> Result<&str, DecodeError> {
        std::str::from_utf8(&self.data).map_err(|_| self.invalid_value("invalid UTF-8"))
    }

    /// DiameterIdentity (§4.3.1): a non-empty ASCII FQDN or realm.
    pub fn as_diameter_identity(&self) -> Result<&str, DecodeError> {
        let s = self.as_utf8_string()?;
        if s.is_empty() || !s.is_ascii() {
            return Err(self.invalid_value("DiameterIdentity must be a non-empty ASCII FQDN"));
        }
        Ok(s)
    }

    /// DiameterURI (§4.3.1).
    pub fn as_diameter_uri(&self) -> Result<DiameterUri, DecodeError> {
        let s = self.as_utf8_string()?;
        DiameterUri::parse(s).ok_or_else(|| self.invalid_value("malformed DiameterURI"))
    }

    /// Address (§4.3.1). A payload shorter than the family field, or an IPv4/IPv6
    /// address of the wrong size, is 5014.
    pub fn as_address(&self) -> Result<Address, DecodeError> {
        let (fam, rest) = self
            .data
            .split_first_chunk::<2>()
            .ok_or_else(|| self.invalid_length())?;
        match u16::from_be_bytes(*fam) {
            address_family::IPV4 => <[u8; 4]>::try_from(rest)
                .map(|a| Address::Ip(IpAddr::V4(Ipv4Addr::from(a))))
                .map_err(|_| self.invalid_length()),
            address_family::IPV6 => <[u8; 16]>::try_from(rest)
                .map(|a| Address::Ip(IpAddr::V6(Ipv6Addr::from(a))))
                .map_err(|_| self.invalid_length()),
            family => Ok(Address::Other {
                family,
                address: self.data.slice(2..),
            }),
        }
    }

    /// Address as an IP address; other families are 5004.
    pub fn as_ip_address(&self) -> Result<IpAddr, DecodeError> {
        match self.as_address()? {
            Address::Ip(ip) => Ok(ip),
            Address::Other { .. } => Err(self.invalid_value("address family is not IPv4/IPv6")),
        }
    }
}

/// Wire form.
impl Avp {
    /// Header size for this AVP (8, or 12 with a Vendor-ID).
    pub fn header_len(&self) -> usize {
        if self.vendor_id.is_some() {
            AVP_HEADER_LEN_VENDOR
        } else {
            AVP_HEADER_LEN
        }
    }

    /// AVP Length field value: header plus data, without padding (§4.1).
    pub fn avp_len(&self) -> usize {
        self.header_len() + self.data.len()
    }

    /// Octets on the wire including padding to a 4-octet boundary.
    pub fn encoded_len(&self) -> usize {
        codec::pad4(self.avp_len())
    }

    /// Appends the AVP and its zero padding. Payloads longer than the 24-bit length
    /// field allows (16 MiB) cannot be represented; callers keep data below that.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = (self.avp_len() as u32) & 0x00ff_ffff;
        let v = if self.vendor_id.is_some() {
            AvpFlags::VENDOR
        } else {
            0
        };
        out.extend_from_slice(&self.code.0.to_be_bytes());
        out.push((self.flags.0 & !AvpFlags::VENDOR) | v);
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        if let Some(vendor) = self.vendor_id {
            out.extend_from_slice(&vendor.0.to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out.resize(out.len() + (self.encoded_len() - self.avp_len()), 0);
    }

    /// The AVP alone on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }
}
