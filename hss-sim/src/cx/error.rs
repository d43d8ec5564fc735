//! Cx outcomes and errors with the code each one puts on the wire (TS 29.229 §6.2, RFC 6733
//! §7.1).

use crate::store::StoreError;

/// Where a code goes in the answer: Result-Code (RFC 6733 §7.1) or Experimental-Result with
/// Vendor-Id 10415 (TS 29.229 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireResult {
    Base(u32),
    Experimental(u32),
}

/// A successful outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CxResult {
    /// DIAMETER_SUCCESS (RFC 6733, 2001).
    Success,
    /// DIAMETER_FIRST_REGISTRATION (TS 29.229 §6.2.1.1, 2001).
    FirstRegistration,
    /// DIAMETER_SUBSEQUENT_REGISTRATION (§6.2.1.2, 2002).
    SubsequentRegistration,
    /// DIAMETER_UNREGISTERED_SERVICE (§6.2.1.3, 2003).
    UnregisteredService,
    /// DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED (§6.2.1.4, 2004).
    SuccessServerNameNotStored,
}

impl CxResult {
    pub fn wire(self) -> WireResult {
        match self {
            Self::Success => WireResult::Base(2001),
            Self::FirstRegistration => WireResult::Experimental(2001),
            Self::SubsequentRegistration => WireResult::Experimental(2002),
            Self::UnregisteredService => WireResult::Experimental(2003),
            Self::SuccessServerNameNotStored => WireResult::Experimental(2004),
        }
    }
}

/// Why a Cx request failed; each variant is one wire code.
#[derive(Debug, thiserror::Error)]
pub enum CxError {
    /// DIAMETER_ERROR_USER_UNKNOWN (TS 29.229 §6.2.2.1, 5001).
    #[error("user unknown")]
    UserUnknown,
    /// DIAMETER_ERROR_IDENTITIES_DONT_MATCH (§6.2.2.2, 5002).
    #[error("public and private identity do not belong together")]
    IdentitiesDontMatch,
    /// DIAMETER_ERROR_IDENTITY_NOT_REGISTERED (§6.2.2.3, 5003).
    #[error("identity not registered")]
    IdentityNotRegistered,
    /// DIAMETER_ERROR_ROAMING_NOT_ALLOWED (§6.2.2.4, 5004).
    #[error("roaming not allowed in visited network {0:?}")]
    RoamingNotAllowed(String),
    /// DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED (§6.2.2.6, 5006).
    #[error("authentication scheme {0:?} not allowed for this user")]
    AuthSchemeNotSupported(String),
    /// DIAMETER_ERROR_IN_ASSIGNMENT_TYPE (§6.2.2.7, 5007).
    #[error("Server-Assignment-Type {0} not supported")]
    InAssignmentType(i32),
    /// DIAMETER_AUTHORIZATION_REJECTED (RFC 6733, 5003): every identity of the user is barred.
    #[error("all public identities of the user are barred")]
    AuthorizationRejected,
    /// DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE (TS 29.229 transient failures, 4181): the AUTS did
    /// not verify, so no vectors can be produced.
    #[error("authentication data unavailable: {0}")]
    AuthenticationDataUnavailable(String),
    /// DIAMETER_UNABLE_TO_COMPLY (RFC 6733, 5012).
    #[error("unable to comply: {0}")]
    UnableToComply(String),
    /// DIAMETER_MISSING_AVP (RFC 6733, 5005).
    #[error("missing AVP {0}")]
    MissingAvp(&'static str),
    /// DIAMETER_INVALID_AVP_VALUE (RFC 6733, 5004).
    #[error("invalid value in AVP {avp}: {reason}")]
    InvalidAvpValue { avp: &'static str, reason: String },
    /// The store failed; answered DIAMETER_UNABLE_TO_COMPLY and logged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CxError {
    pub fn wire(&self) -> WireResult {
        match self {
            Self::UserUnknown => WireResult::Experimental(5001),
            Self::IdentitiesDontMatch => WireResult::Experimental(5002),
            Self::IdentityNotRegistered => WireResult::Experimental(5003),
            Self::RoamingNotAllowed(_) => WireResult::Experimental(5004),
            Self::AuthSchemeNotSupported(_) => WireResult::Experimental(5006),
            Self::InAssignmentType(_) => WireResult::Experimental(5007),
            Self::AuthorizationRejected => WireResult::Base(5003),
            Self::AuthenticationDataUnavailable(_) => WireResult::Base(4181),
            Self::UnableToComply(_) | Self::Store(_) => WireResult::Base(5012),
            Self::MissingAvp(_) => WireResult::Base(5005),
            Self::InvalidAvpValue { .. } => WireResult::Base(5004),
        }
    }
}
