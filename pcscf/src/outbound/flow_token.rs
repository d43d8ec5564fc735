//! Flow tokens (RFC 5626 §5.2): the opaque user part by which an edge proxy names a flow in the
//! Path / Record-Route URIs it inserts (`sip:TOKEN@pcscf.example;lr;ob`) and later finds the flow
//! again when a request or response comes back (§5.3).
//!
//! RFC 5626 §5.2 leaves the token's form to the proxy and sketches an HMAC-protected encoding of
//! the flow's addresses; this one follows that sketch and adds the EPSIP per-flow random:
//!
//! ```text
//! raw   = MAC(10) ‖ S
//! S     = format(1) ‖ local-ip(4|16) ‖ local-port(2) ‖ remote-ip(4|16) ‖ remote-port(2) ‖ nonce(8)
//! MAC   = HMAC-SHA1-80(key, S)      ; leftmost 80 bits of HMAC-SHA1 (RFC 2104 §5)
//! token = base32-lower-nopad(raw)   ; 50, 69 or 88 characters
//! format: bits 0-1 transport (0 UDP, 1 TCP, 2 TLS), bits 2-5 zero, bit 6 local is IPv6,
//!         bit 7 remote is IPv6
//! ```
//!
//! The key is 20 random bytes drawn at start-up, so tokens do not survive a restart (neither do
//! the flows they name). The nonce is drawn per flow, so a token for a flow that ended names no
//! later flow on the same addresses and ports: the [`crate::outbound::FlowTable`] resolves a token
//! only while the nonce matches the live flow.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, KeyInit, Mac};
use ims_sip::StatusCode;
use rand::{CryptoRng, RngCore};
use sha1::Sha1;

use super::base32::{self, Base32Error};

/// Length of the HMAC key: one SHA-1 output (RFC 2104 §3 recommends at least L bytes).
pub const KEY_LEN: usize = 20;
/// Length of the truncated MAC: 80 bits (HMAC-SHA1-80).
pub const MAC_LEN: usize = 10;

/// format(1) + two IPv4 endpoints (6 each) + nonce(8).
const S_LEN_V4_V4: usize = 1 + 6 + 6 + 8;
/// Each IPv6 endpoint is 12 bytes longer than an IPv4 one.
const V6_EXTRA: usize = 12;
/// The longest raw token: both endpoints IPv6.
const RAW_MAX: usize = MAC_LEN + S_LEN_V4_V4 + 2 * V6_EXTRA;

const FORMAT_TRANSPORT_MASK: u8 = 0x03;
const FORMAT_RESERVED_MASK: u8 = 0x3C;
const FORMAT_LOCAL_V6: u8 = 0x40;
const FORMAT_REMOTE_V6: u8 = 0x80;

/// The transport of a flow (RFC 5626 §3.1: a TCP or TLS connection, or a UDP 5-tuple).
///
/// A closed enum on purpose: this is our own token format, not a wire value from a peer, and an
/// unknown code can only come from a different version of this code holding the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowTransport {
    /// UDP: the flow is the 5-tuple.
    Udp,
    /// A TCP connection.
    Tcp,
    /// A TLS connection.
    Tls,
}

impl FlowTransport {
    /// Every transport, for tests and iteration.
    pub const ALL: [FlowTransport; 3] = [Self::Udp, Self::Tcp, Self::Tls];

    fn code(self) -> u8 {
        match self {
            Self::Udp => 0,
            Self::Tcp => 1,
            Self::Tls => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Udp),
            1 => Some(Self::Tcp),
            2 => Some(Self::Tls),
            _ => None,
        }
    }
}

/// What a flow token names: one flow, as seen by the edge proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowId {
    /// UDP, TCP or TLS.
    pub transport: FlowTransport,
    /// The proxy's own address and port of the flow.
    pub local: SocketAddr,
    /// The UA's (or its NAT's) address and port, as the proxy sees it.
    pub remote: SocketAddr,
    /// Drawn at random when the flow was created; tells this flow from any earlier or later one
    /// on the same addresses and ports (the EPSIP design).
    pub nonce: u64,
}

/// Why a token was refused. All of them mean the token was not issued by us for any flow, i.e.
/// tampered with or garbage; RFC 5626 §5.3 answers such a request with 403 (Forbidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowTokenError {
    /// The token's length is not 50, 69 or 88 characters (the three address-family mixes).
    #[error("flow token has {0} characters; 50, 69 or 88 expected")]
    WrongLength(usize),
    /// A character outside lower-case base32.
    #[error("flow token character {position} ({byte:#04x}) is not lower-case base32")]
    BadCharacter {
        /// Byte position in the token.
        position: usize,
        /// The byte.
        byte: u8,
    },
    /// The last character carries non-zero padding bits: not a spelling we produce.
    #[error("flow token is not in canonical base32")]
    NonCanonical,
    /// The format byte declares a different length than the token has.
    #[error("flow token format byte {format:#04x} does not match its length")]
    LengthMismatch {
        /// The format byte as received (not yet authenticated).
        format: u8,
    },
    /// The HMAC does not verify: forged, corrupted, or issued under another key (e.g. before a
    /// restart).
    #[error("flow token integrity check failed")]
    BadMac,
    /// Authentic, but the format byte has reserved bits set or an unknown transport: written by
    /// a different version of this code sharing our key.
    #[error("flow token format {0:#04x} is not understood")]
    UnsupportedFormat(u8),
}

impl FlowTokenError {
    /// The response to a request whose Route carries this token: 403 Forbidden, the answer
    /// RFC 5626 §5.3 gives for a token that has been tampered with.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
}

impl From<Base32Error> for FlowTokenError {
    fn from(e: Base32Error) -> Self {
        match e {
            Base32Error::BadCharacter { position, byte } => Self::BadCharacter { position, byte },
            Base32Error::WrongLength { chars, .. } => Self::WrongLength(chars),
            Base32Error::NonCanonical => Self::NonCanonical,
        }
    }
}

/// The secret that integrity-protects flow tokens: 20 random bytes, drawn once at start-up.
///
/// Kept as the keyed HMAC state (inner and outer pads already absorbed), which each token
/// computation clones.
#[derive(Clone)]
pub struct FlowTokenKey(Hmac<Sha1>);

impl fmt::Debug for FlowTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never log the secret.
        f.write_str("FlowTokenKey(..)")
    }
}

impl FlowTokenKey {
    /// Draws a fresh key from a cryptographically secure generator.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut key = [0u8; KEY_LEN];
        rng.fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    /// A key from stored bytes (tests, or several processes sharing tokens).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        // RFC 2104 §2 pads a key shorter than the 64-byte SHA-1 block with zeros; doing it here
        // lets the infallible block-sized constructor be used.
        let mut block = [0u8; 64];
        block[..KEY_LEN].copy_from_slice(&bytes);
        Self(Hmac::<Sha1>::new(&block.into()))
    }

    /// The token for `flow`: base32 of HMAC-SHA1-80 ‖ S (see the module documentation). Only
    /// unreserved characters, so it is usable as a SIP URI user part as is.
    pub fn encode(&self, flow: &FlowId) -> String {
        let mut raw = [0u8; RAW_MAX];
        let len = MAC_LEN + write_s(flow, &mut raw[MAC_LEN..]);
        let (mac, s) = raw[..len].split_at_mut(MAC_LEN);
        mac.copy_from_slice(&self.mac(s)[..MAC_LEN]);
        base32::encode(&raw[..len])
    }

    /// Decodes and authenticates a token. Checks, in order: length, alphabet, canonical form,
    /// the format byte against the length, the MAC (constant-time compare), then the format.
    pub fn decode(&self, token: &str) -> Result<FlowId, FlowTokenError> {
        let raw_len = [0, V6_EXTRA, 2 * V6_EXTRA]
            .into_iter()
            .map(|extra| MAC_LEN + S_LEN_V4_V4 + extra)
            .find(|&n| base32::encoded_len(n) == token.len())
            .ok_or(FlowTokenError::WrongLength(token.len()))?;
        let mut buf = [0u8; RAW_MAX];
        let raw = &mut buf[..raw_len];
        base32::decode_into(token, raw)?;
        let (mac, s) = raw.split_at(MAC_LEN);
        let format = s.first().copied().unwrap_or_default();
        if s_len(format) != s.len() {
            return Err(FlowTokenError::LengthMismatch { format });
        }
        let mut check = self.0.clone();
        check.update(s);
        check
            .verify_truncated_left(mac)
            .map_err(|_| FlowTokenError::BadMac)?;
        read_s(s).ok_or(FlowTokenError::UnsupportedFormat(format))
    }

    fn mac(&self, s: &[u8]) -> [u8; 20] {
        let mut mac = self.0.clone();
        mac.update(s);
        let mut out = [0u8; 20];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }
}

/// The length of S that a format byte implies.
fn s_len(format: u8) -> usize {
    let mut len = S_LEN_V4_V4;
    if format & FORMAT_LOCAL_V6 != 0 {
        len += V6_EXTRA;
    }
    if format & FORMAT_REMOTE_V6 != 0 {
        len += V6_EXTRA;
    }
    len
}

/// Writes S into `out` (at least 45 bytes) and returns its length.
fn write_s(flow: &FlowId, out: &mut [u8]) -> usize {
    let mut format = flow.transport.code();
    if flow.local.is_ipv6() {
        format |= FORMAT_LOCAL_V6;
    }
    if flow.remote.is_ipv6() {
        format |= FORMAT_REMOTE_V6;
    }
    let mut w = Writer { out, at: 0 };
    w.put(&[format]);
    w.put_addr(flow.local);
    w.put_addr(flow.remote);
    w.put(&flow.nonce.to_be_bytes());
    w.at
}

/// Parses an authenticated S whose length already matches its format byte; `None` for an
/// unknown transport or reserved bits.
fn read_s(s: &[u8]) -> Option<FlowId> {
    let (&format, rest) = s.split_first()?;
    if format & FORMAT_RESERVED_MASK != 0 {
        return None;
    }
    let transport = FlowTransport::from_code(format & FORMAT_TRANSPORT_MASK)?;
    let mut r = Reader { rest };
    let local = r.addr(format & FORMAT_LOCAL_V6 != 0)?;
    let remote = r.addr(format & FORMAT_REMOTE_V6 != 0)?;
    let nonce = u64::from_be_bytes(r.take::<8>()?);
    Some(FlowId {
        transport,
        local,
        remote,
        nonce,
    })
}

struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // The buffer is sized for the longest S, so this never truncates.
        if let Some(slot) = self.out.get_mut(self.at..self.at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }

    fn put_addr(&mut self, addr: SocketAddr) {
        match addr.ip() {
            IpAddr::V4(ip) => self.put(&ip.octets()),
            IpAddr::V6(ip) => self.put(&ip.octets()),
        }
        self.put(&addr.port().to_be_bytes());
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.rest.split_first_chunk::<N>()?;
        self.rest = tail;
        Some(*head)
    }

    fn addr(&mut self, v6: bool) -> Option<SocketAddr> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))
        };
        let port = u16::from_be_bytes(self.take::<2>()?);
        Some(SocketAddr::new(ip, port))
    }
}
