//! The Diameter message header (RFC 6733 §3) and the open code spaces it carries.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Version    |                 Message Length                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Command Flags |                  Command Code                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Application-ID                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Hop-by-Hop Identifier                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      End-to-End Identifier                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;

/// Command-Code (RFC 6733 §3, §3.1). Open: unknown codes pass through untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandCode(pub u32);

impl CommandCode {
    /// CER/CEA (RFC 6733 §5.3).
    pub const CAPABILITIES_EXCHANGE: Self = Self(257);
    /// RAR/RAA (RFC 6733 §8.3).
    pub const RE_AUTH: Self = Self(258);
    /// ACR/ACA (RFC 6733 §9.7).
    pub const ACCOUNTING: Self = Self(271);
    /// ASR/ASA (RFC 6733 §8.5).
    pub const ABORT_SESSION: Self = Self(274);
    /// STR/STA (RFC 6733 §8.4).
    pub const SESSION_TERMINATION: Self = Self(275);
    /// DWR/DWA (RFC 6733 §5.5).
    pub const DEVICE_WATCHDOG: Self = Self(280);
    /// DPR/DPA (RFC 6733 §5.4).
    pub const DISCONNECT_PEER: Self = Self(282);
    /// UAR/UAA (TS 29.229 §6.1.1, §6.1.2).
    pub const USER_AUTHORIZATION: Self = Self(300);
    /// SAR/SAA (TS 29.229 §6.1.3, §6.1.4).
    pub const SERVER_ASSIGNMENT: Self = Self(301);
    /// LIR/LIA (TS 29.229 §6.1.5, §6.1.6).
    pub const LOCATION_INFO: Self = Self(302);
    /// MAR/MAA (TS 29.229 §6.1.7, §6.1.8).
    pub const MULTIMEDIA_AUTH: Self = Self(303);
    /// RTR/RTA (TS 29.229 §6.1.9, §6.1.10).
    pub const REGISTRATION_TERMINATION: Self = Self(304);
    /// PPR/PPA (TS 29.229 §6.1.11, §6.1.12).
    pub const PUSH_PROFILE: Self = Self(305);
}

impl fmt::Display for CommandCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Application-ID (RFC 6733 §2.4). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationId(pub u32);

impl ApplicationId {
    /// Diameter common messages (CER, DWR, DPR), RFC 6733 §2.4.
    pub const COMMON: Self = Self(0);
    /// 3GPP Cx/Dx (TS 29.229 §6, IANA-assigned 16777216).
    pub const CX: Self = Self(16_777_216);
    /// Relay application (RFC 6733 §2.4), advertised by relay agents.
    pub const RELAY: Self = Self(0xffff_ffff);
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Command Flags (RFC 6733 §3). Kept as the raw octet so reserved bits survive a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandFlags(pub u8);

impl CommandFlags {
    /// R(equest).
    pub const REQUEST: u8 = 0x80;
    /// P(roxiable).
    pub const PROXIABLE: u8 = 0x40;
    /// E(rror): only in answers carrying a protocol error (RFC 6733 §7.1.3).
    pub const ERROR: u8 = 0x20;
    /// T: potentially retransmitted message (RFC 6733 §3, §5.5.4).
    pub const RETRANSMIT: u8 = 0x10;

    pub fn is_request(self) -> bool {
        self.0 & Self::REQUEST != 0
    }
    pub fn is_proxiable(self) -> bool {
        self.0 & Self::PROXIABLE != 0
    }
    pub fn is_error(self) -> bool {
        self.0 & Self::ERROR != 0
    }
    pub fn is_retransmit(self) -> bool {
        self.0 & Self::RETRANSMIT != 0
    }
    /// Returns the flags with `bit` set or cleared.
    pub fn with(self, bit: u8, on: bool) -> Self {
        if on {
            Self(self.0 | bit)
        } else {
            Self(self.0 & !bit)
        }
    }
}

/// Version field value (RFC 6733 §3: "This Version field MUST be set to 1").
pub const VERSION: u8 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 20;
/// Largest value the 24-bit Message Length field can hold.
pub const MAX_MESSAGE_LEN: usize = 0x00ff_ffff;

/// The fixed Diameter header (RFC 6733 §3). The message length is not stored: it is
/// computed on encoding and checked on decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub flags: CommandFlags,
    pub command_code: CommandCode,
    pub application_id: ApplicationId,
    /// Hop-by-Hop Identifier: matches answers to requests on one connection (§3).
    pub hop_by_hop: u32,
    /// End-to-End Identifier: duplicate detection across the path (§3, §6.2).
    pub end_to_end: u32,
}

impl Header {
    /// A request header. `proxiable` sets the P bit (Cx commands are proxiable,
    /// CER/DWR/DPR are not: RFC 6733 §5.3.1, §5.4.1, §5.5.1).
    pub fn request(
        command_code: CommandCode,
        application_id: ApplicationId,
        proxiable: bool,
        hop_by_hop: u32,
        end_to_end: u32,
    ) -> Self {
        Self {
            flags: CommandFlags(CommandFlags::REQUEST).with(CommandFlags::PROXIABLE, proxiable),
            command_code,
            application_id,
            hop_by_hop,
            end_to_end,
        }
    }

    /// The header of the answer to `self` (RFC 6733 §6.2): same command code,
    /// application and identifiers, R cleared, P copied from the request, E and T clear.
    pub fn answer(&self) -> Self {
        Self {
            flags: CommandFlags(self.flags.0 & CommandFlags::PROXIABLE),
            ..*self
        }
    }

    pub fn is_request(&self) -> bool {
        self.flags.is_request()
    }

    /// Writes the 20 header octets with the given total message length.
    pub(crate) fn encode_into(&self, message_len: usize, out: &mut Vec<u8>) {
        let len = (message_len as u32) & 0x00ff_ffff;
        out.push(VERSION);
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.push(self.flags.0);
        out.extend_from_slice(&(self.command_code.0 & 0x00ff_ffff).to_be_bytes()[1..]);
        out.extend_from_slice(&self.application_id.0.to_be_bytes());
        out.extend_from_slice(&self.hop_by_hop.to_be_bytes());
        out.extend_from_slice(&self.end_to_end.to_be_bytes());
    }
}
