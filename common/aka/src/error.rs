//! Error types: [`AkaError`] for the 3GPP AKA layer (vectors, USIM, HSS resynchronisation) and
//! [`DigestError`] for the HTTP Digest layer, which maps to a SIP status.

/// Errors of the AKA layer (TS 33.102 §6.3).
///
/// Wire reactions: [`AkaError::MacFailure`] on the UE is a network authentication failure
/// (TS 24.229 §5.1.1.5: the UE does not answer the challenge with a RES); on the HSS,
/// [`AkaError::MacSFailure`] and [`AkaError::InvalidLength`] for resynchronisation data mean the
/// MAR cannot be served (the HSS answers with an error result rather than a vector).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AkaError {
    /// XMAC computed by the USIM differs from MAC-A in AUTN (TS 33.102 §6.3.3).
    #[error("AUTN MAC-A verification failed")]
    MacFailure,
    /// XMAC-S computed by the HE differs from MAC-S in AUTS (TS 33.102 §6.3.5).
    #[error("AUTS MAC-S verification failed")]
    MacSFailure,
    /// A fixed-size AKA field had the wrong length.
    #[error("{field} must be {expected} octets, got {actual}")]
    InvalidLength {
        /// Which field.
        field: &'static str,
        /// Required length.
        expected: usize,
        /// Received length.
        actual: usize,
    },
    /// A value does not fit the 48 bits of SQN.
    #[error("SQN {0:#x} does not fit 48 bits")]
    SqnOutOfRange(u64),
    /// IND larger than the scheme's array.
    #[error("IND {0} outside the SQN scheme's index range")]
    IndOutOfRange(u32),
    /// SEQ_HE reached the end of its range: the subscriber needs a new key.
    #[error("SQN space exhausted")]
    SqnExhausted,
    /// SQN scheme parameters out of range (IND length 1..=16 bits, Δ > 0).
    #[error("invalid SQN scheme parameters")]
    InvalidSqnScheme,
}

/// Errors of the HTTP Digest layer (RFC 2617, RFC 7616, RFC 3310, RFC 4169).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Algorithm token this crate cannot compute (RFC 7616 §3.3: such a challenge is ignored).
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The operation needs an AKA algorithm but got another one (or vice versa).
    #[error("algorithm {0} not valid here")]
    WrongAlgorithm(&'static str),
    /// Unknown qop token.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// qop present without nc/cnonce, or a malformed nc.
    #[error("malformed digest parameter {0}")]
    MalformedParameter(&'static str),
    /// nonce is not base64 or is shorter than RAND ‖ AUTN (RFC 3310 §3.2).
    #[error("malformed AKA nonce")]
    MalformedNonce,
    /// auts is not base64 of 14 octets (RFC 3310 §3.4).
    #[error("malformed auts parameter")]
    MalformedAuts,
    /// The nonce answered is not the one this challenge issued.
    #[error("nonce does not match the challenge")]
    NonceMismatch,
    /// The response digest is wrong (wrong RES or password).
    #[error("digest response does not match")]
    ResponseMismatch,
    /// AKA processing of the challenge failed (UE side).
    #[error(transparent)]
    Aka(#[from] AkaError),
}

impl DigestError {
    /// The SIP status a registrar answers with for this error.
    ///
    /// * malformed input: 400 Bad Request;
    /// * nonce that is not ours (stale or forged): 401 Unauthorized with a new challenge;
    /// * wrong response: 403 Forbidden (TS 24.229 §5.4.1.2.2: RES and XRES differ);
    /// * unsupported algorithm or qop: 401 with a challenge this server supports.
    ///
    /// UE-side AKA errors are mapped to 403 should a server ever surface one.
    pub fn sip_status(&self) -> u16 {
        match self {
            DigestError::MalformedParameter(_)
            | DigestError::MalformedNonce
            | DigestError::MalformedAuts => 400,
            DigestError::NonceMismatch
            | DigestError::UnsupportedAlgorithm(_)
            | DigestError::UnsupportedQop(_)
            | DigestError::WrongAlgorithm(_) => 401,
            DigestError::ResponseMismatch | DigestError::Aka(_) => 403,
        }
    }
}
