//! The codec's error type. Every variant maps to the Result-Code and Failed-AVP that
//! RFC 6733 §7.1 / §7.5 prescribe for the answer, so a receiver can answer any bad
//! request precisely (see [`crate::message::error_answer`]).

use crate::avp::Avp;
use crate::header::{ApplicationId, CommandCode};
use crate::result::ResultCode;

/// Why a message, an AVP or a typed command could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// 5015 DIAMETER_INVALID_MESSAGE_LENGTH (§7.1.5): the length field is below the
    /// header size, not a multiple of 4, or disagrees with the octets available.
    #[error("invalid message length {declared} ({available} octets available)")]
    InvalidMessageLength { declared: usize, available: usize },

    /// 5011 DIAMETER_UNSUPPORTED_VERSION (§7.1.5).
    #[error("unsupported Diameter version {version}")]
    UnsupportedVersion { version: u8 },

    /// 3008 DIAMETER_INVALID_HDR_BITS (§7.1.3): e.g. E set in a request (§3).
    #[error("invalid command flags {flags:#04x}")]
    InvalidHeaderBits { flags: u8 },

    /// 5014 DIAMETER_INVALID_AVP_LENGTH (§7.1.5): the AVP length field is below the AVP
    /// header size, runs past the enclosing data, or does not fit the AVP's data type.
    #[error("invalid length of AVP {}", failed_avp.code.0)]
    InvalidAvpLength { failed_avp: Avp },

    /// 5004 DIAMETER_INVALID_AVP_VALUE (§7.1.5).
    #[error("invalid value of AVP {}: {reason}", failed_avp.code.0)]
    InvalidAvpValue {
        failed_avp: Avp,
        reason: &'static str,
    },

    /// 5005 DIAMETER_MISSING_AVP (§7.1.5). `failed_avp` has the missing AVP's code and
    /// vendor and a zero-filled payload of the type's minimum length (§7.5).
    #[error("missing AVP {}", failed_avp.code.0)]
    MissingAvp { failed_avp: Avp },

    /// 5001 DIAMETER_AVP_UNSUPPORTED (§7.1.5): an AVP with the M bit that the
    /// application's dictionary does not know.
    #[error("unsupported mandatory AVP {} (vendor {:?})", failed_avp.code.0, failed_avp.vendor_id)]
    AvpUnsupported { failed_avp: Avp },

    /// 3009 DIAMETER_INVALID_AVP_BITS (§7.1.3): AVP flags contradict the AVP's definition.
    #[error("invalid flags {:#04x} on AVP {}", failed_avp.flags.0, failed_avp.code.0)]
    InvalidAvpBits { failed_avp: Avp },

    /// 5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES (§7.1.5): `failed_avp` is the first
    /// occurrence beyond the allowed count.
    #[error("AVP {} occurs too many times", failed_avp.code.0)]
    AvpOccursTooManyTimes { failed_avp: Avp },

    /// 3001 DIAMETER_COMMAND_UNSUPPORTED (§7.1.3).
    #[error("command {command_code} unsupported in application {application_id}")]
    CommandUnsupported {
        command_code: CommandCode,
        application_id: ApplicationId,
    },

    /// 3007 DIAMETER_APPLICATION_UNSUPPORTED (§7.1.3).
    #[error("application {application_id} unsupported")]
    ApplicationUnsupported { application_id: ApplicationId },
}

impl DecodeError {
    /// The Result-Code the answer to the offending request carries.
    pub fn result_code(&self) -> ResultCode {
        match self {
            Self::InvalidMessageLength { .. } => ResultCode::INVALID_MESSAGE_LENGTH,
            Self::UnsupportedVersion { .. } => ResultCode::UNSUPPORTED_VERSION,
            Self::InvalidHeaderBits { .. } => ResultCode::INVALID_HDR_BITS,
            Self::InvalidAvpLength { .. } => ResultCode::INVALID_AVP_LENGTH,
            Self::InvalidAvpValue { .. } => ResultCode::INVALID_AVP_VALUE,
            Self::MissingAvp { .. } => ResultCode::MISSING_AVP,
            Self::AvpUnsupported { .. } => ResultCode::AVP_UNSUPPORTED,
            Self::InvalidAvpBits { .. } => ResultCode::INVALID_AVP_BITS,
            Self::AvpOccursTooManyTimes { .. } => ResultCode::AVP_OCCURS_TOO_MANY_TIMES,
            Self::CommandUnsupported { .. } => ResultCode::COMMAND_UNSUPPORTED,
            Self::ApplicationUnsupported { .. } => ResultCode::APPLICATION_UNSUPPORTED,
        }
    }

    /// The AVP to return inside Failed-AVP (§7.5), if the error concerns one.
    pub fn failed_avp(&self) -> Option<&Avp> {
        match self {
            Self::InvalidAvpLength { failed_avp }
            | Self::InvalidAvpValue { failed_avp, .. }
            | Self::MissingAvp { failed_avp }
            | Self::AvpUnsupported { failed_avp }
            | Self::InvalidAvpBits { failed_avp }
            | Self::AvpOccursTooManyTimes { failed_avp } => Some(failed_avp),
            _ => None,
        }
    }

    /// Protocol errors (3xxx) are answered with the E bit and the generic
    /// answer-message layout (RFC 6733 §7.2).
    pub fn is_protocol_error(&self) -> bool {
        self.result_code().is_protocol_error()
    }

    /// Wraps the Failed-AVP in its enclosing Grouped AVP, as §7.5 allows for an
    /// offending AVP "embedded within a Grouped AVP": the receiver then sees the path.
    pub(crate) fn within(self, parent: &Avp) -> Self {
        let wrap = |inner: Avp| {
            let mut outer = Avp::grouped(parent.code, parent.vendor_id, &[inner]);
            outer.flags = parent.flags;
            outer
        };
        match self {
            Self::InvalidAvpLength { failed_avp } => Self::InvalidAvpLength {
                failed_avp: wrap(failed_avp),
            },
            Self::InvalidAvpValue { failed_avp, reason } => Self::InvalidAvpValue {
                failed_avp: wrap(failed_avp),
                reason,
            },
            Self::MissingAvp { failed_avp } => Self::MissingAvp {
                failed_avp: wrap(failed_avp),
            },
            Self::AvpUnsupported { failed_avp } => Self::AvpUnsupported {
                failed_avp: wrap(failed_avp),
            },
            Self::InvalidAvpBits { failed_avp } => Self::InvalidAvpBits {
                failed_avp: wrap(failed_avp),
            },
            Self::AvpOccursTooManyTimes { failed_avp } => Self::AvpOccursTooManyTimes {
                failed_avp: wrap(failed_avp),
            },
            other => other,
        }
    }
}
