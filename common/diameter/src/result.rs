//! Result-Code (RFC 6733 §7.1) and the 3GPP Experimental-Result-Code values of Cx
//! (TS 29.229 §6.2). They are separate types because the value spaces overlap:
//! base 5001 is DIAMETER_AVP_UNSUPPORTED, Cx experimental 5001 is
//! DIAMETER_ERROR_USER_UNKNOWN.

use std::fmt;

/// Result-Code AVP value (RFC 6733 §7.1). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResultCode(pub u32);

impl ResultCode {
    // 1xxx informational (§7.1.1)
    pub const MULTI_ROUND_AUTH: Self = Self(1001);
    // 2xxx success (§7.1.2)
    pub const SUCCESS: Self = Self(2001);
    pub const LIMITED_SUCCESS: Self = Self(2002);
    // 3xxx protocol errors (§7.1.3): answered with the E bit set
    pub const COMMAND_UNSUPPORTED: Self = Self(3001);
    pub const UNABLE_TO_DELIVER: Self = Self(3002);
    pub const REALM_NOT_SERVED: Self = Self(3003);
    pub const TOO_BUSY: Self = Self(3004);
    pub const LOOP_DETECTED: Self = Self(3005);
    pub const REDIRECT_INDICATION: Self = Self(3006);
    pub const APPLICATION_UNSUPPORTED: Self = Self(3007);
    pub const INVALID_HDR_BITS: Self = Self(3008);
    pub const INVALID_AVP_BITS: Self = Self(3009);
    pub const UNKNOWN_PEER: Self = Self(3010);
    pub const REALM_REDIRECT_INDICATION: Self = Self(3011);
    // 4xxx transient failures (§7.1.4)
    pub const AUTHENTICATION_REJECTED: Self = Self(4001);
    pub const OUT_OF_SPACE: Self = Self(4002);
    pub const ELECTION_LOST: Self = Self(4003);
    // 5xxx permanent failures (§7.1.5)
    pub const AVP_UNSUPPORTED: Self = Self(5001);
    pub const UNKNOWN_SESSION_ID: Self = Self(5002);
    pub const AUTHORIZATION_REJECTED: Self = Self(5003);
    pub const INVALID_AVP_VALUE: Self = Self(5004);
    pub const MISSING_AVP: Self = Self(5005);
    pub const RESOURCES_EXCEEDED: Self = Self(5006);
    pub const CONTRADICTING_AVPS: Self = Self(5007);
    pub const AVP_NOT_ALLOWED: Self = Self(5008);
    pub const AVP_OCCURS_TOO_MANY_TIMES: Self = Self(5009);
    pub const NO_COMMON_APPLICATION: Self = Self(5010);
    pub const UNSUPPORTED_VERSION: Self = Self(5011);
    pub const UNABLE_TO_COMPLY: Self = Self(5012);
    pub const INVALID_BIT_IN_HEADER: Self = Self(5013);
    pub const INVALID_AVP_LENGTH: Self = Self(5014);
    pub const INVALID_MESSAGE_LENGTH: Self = Self(5015);
    pub const INVALID_AVP_BIT_COMBO: Self = Self(5016);
    pub const NO_COMMON_SECURITY: Self = Self(5017);

    /// 1xxx.
    pub fn is_informational(self) -> bool {
        (1000..2000).contains(&self.0)
    }
    /// 2xxx.
    pub fn is_success(self) -> bool {
        (2000..3000).contains(&self.0)
    }
    /// 3xxx: answers carrying these set the E bit (RFC 6733 §7.1.3, §7.2).
    pub fn is_protocol_error(self) -> bool {
        (3000..4000).contains(&self.0)
    }
    /// 4xxx.
    pub fn is_transient_failure(self) -> bool {
        (4000..5000).contains(&self.0)
    }
    /// 5xxx.
    pub fn is_permanent_failure(self) -> bool {
        (5000..6000).contains(&self.0)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Experimental-Result-Code values of Cx/Dx (TS 29.229 §6.2), always carried in
/// Experimental-Result together with Vendor-Id 10415. Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExperimentalResultCode(pub u32);

impl ExperimentalResultCode {
    // §6.2.1 success
    pub const DIAMETER_FIRST_REGISTRATION: Self = Self(2001);
    pub const DIAMETER_SUBSEQUENT_REGISTRATION: Self = Self(2002);
    pub const DIAMETER_UNREGISTERED_SERVICE: Self = Self(2003);
    pub const DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED: Self = Self(2004);
    /// Deprecated in later releases of TS 29.229; kept so old peers decode.
    pub const DIAMETER_SERVER_SELECTION: Self = Self(2005);
    // §6.2.2 permanent failures
    pub const DIAMETER_ERROR_USER_UNKNOWN: Self = Self(5001);
    pub const DIAMETER_ERROR_IDENTITIES_DONT_MATCH: Self = Self(5002);
    pub const DIAMETER_ERROR_IDENTITY_NOT_REGISTERED: Self = Self(5003);
    pub const DIAMETER_ERROR_ROAMING_NOT_ALLOWED: Self = Self(5004);
    pub const DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED: Self = Self(5005);
    pub const DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED: Self = Self(5006);
    pub const DIAMETER_ERROR_IN_ASSIGNMENT_TYPE: Self = Self(5007);
    pub const DIAMETER_ERROR_TOO_MUCH_DATA: Self = Self(5008);
    pub const DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA: Self = Self(5009);
    pub const DIAMETER_ERROR_FEATURE_UNSUPPORTED: Self = Self(5011);
    pub const DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED: Self = Self(5012);

    /// Short names without the `DIAMETER_` prefix, as the brief and TS tables use them.
    pub const FIRST_REGISTRATION: Self = Self::DIAMETER_FIRST_REGISTRATION;
    pub const SUBSEQUENT_REGISTRATION: Self = Self::DIAMETER_SUBSEQUENT_REGISTRATION;
    pub const UNREGISTERED_SERVICE: Self = Self::DIAMETER_UNREGISTERED_SERVICE;
    pub const SUCCESS_SERVER_NAME_NOT_STORED: Self = Self::DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED;
    pub const ERROR_USER_UNKNOWN: Self = Self::DIAMETER_ERROR_USER_UNKNOWN;
    pub const ERROR_IDENTITIES_DONT_MATCH: Self = Self::DIAMETER_ERROR_IDENTITIES_DONT_MATCH;
    pub const ERROR_IDENTITY_NOT_REGISTERED: Self = Self::DIAMETER_ERROR_IDENTITY_NOT_REGISTERED;
    pub const ERROR_ROAMING_NOT_ALLOWED: Self = Self::DIAMETER_ERROR_ROAMING_NOT_ALLOWED;
    pub const ERROR_IDENTITY_ALREADY_REGISTERED: Self =
        Self::DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED;
    pub const ERROR_AUTH_SCHEME_NOT_SUPPORTED: Self =
        Self::DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED;
    pub const ERROR_IN_ASSIGNMENT_TYPE: Self = Self::DIAMETER_ERROR_IN_ASSIGNMENT_TYPE;
    pub const ERROR_TOO_MUCH_DATA: Self = Self::DIAMETER_ERROR_TOO_MUCH_DATA;
    pub const ERROR_NOT_SUPPORTED_USER_DATA: Self = Self::DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA;
    pub const ERROR_FEATURE_UNSUPPORTED: Self = Self::DIAMETER_ERROR_FEATURE_UNSUPPORTED;

    pub fn is_success(self) -> bool {
        (2000..3000).contains(&self.0)
    }
}

impl fmt::Display for ExperimentalResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
