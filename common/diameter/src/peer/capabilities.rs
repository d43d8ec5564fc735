//! Capabilities exchange (RFC 6733 §5.3): what a node advertises in CER/CEA and the check a
//! receiver makes before it opens the peer connection.

use std::net::IpAddr;

use crate::avp::VendorId;
pub use crate::base::{Capabilities, VendorSpecificApplicationId};
use crate::error::DecodeError;
use crate::header::ApplicationId;
use crate::result::ResultCode;

/// The capabilities of a node of this project: Origin-Host/Realm, its addresses, Product-Name
/// "ims-diameter", no applications yet (add them, or use [`with_cx`]).
pub fn node_capabilities(
    origin_host: impl Into<String>,
    origin_realm: impl Into<String>,
    host_ip_addresses: Vec<IpAddr>,
) -> Capabilities {
    Capabilities {
        origin_host: origin_host.into(),
        origin_realm: origin_realm.into(),
        host_ip_addresses,
        // RFC 6733 §5.3.3: zero when the implementation has no IANA enterprise number.
        vendor_id: VendorId::IETF,
        product_name: String::from("ims-diameter"),
        ..Capabilities::default()
    }
}

/// Adds the 3GPP Cx/Dx application as TS 29.229 §6 advertises it: Vendor-Specific-Application-Id
/// {Vendor-Id 10415, Auth-Application-Id 16777216} and Supported-Vendor-Id 10415.
pub fn with_cx(mut capabilities: Capabilities) -> Capabilities {
    if !capabilities.supported_vendor_ids.contains(&VendorId::TGPP) {
        capabilities.supported_vendor_ids.push(VendorId::TGPP);
    }
    if !capabilities
        .vendor_specific_application_ids
        .contains(&VendorSpecificApplicationId::CX)
    {
        capabilities
            .vendor_specific_application_ids
            .push(VendorSpecificApplicationId::CX);
    }
    capabilities
}

/// Whether the node advertises the Relay application (0xffffffff), which matches every
/// application (RFC 6733 §2.4, §5.3).
pub fn is_relay(capabilities: &Capabilities) -> bool {
    capabilities
        .application_ids()
        .any(|a| a == ApplicationId::RELAY)
}

/// Why a capabilities exchange failed; each maps to the CEA Result-Code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilitiesError {
    /// The CER came from a host that is not a configured peer (RFC 6733 §5.3:
    /// 3010 DIAMETER_UNKNOWN_PEER).
    #[error("unknown peer {origin_host:?}")]
    UnknownPeer {
        /// The Origin-Host of the CER.
        origin_host: String,
    },
    /// No application in common (RFC 6733 §5.3: 5010 DIAMETER_NO_COMMON_APPLICATION).
    #[error("no common application with {origin_host:?}")]
    NoCommonApplication {
        /// The Origin-Host of the CER.
        origin_host: String,
    },
    /// The CER/CEA lacks a mandatory AVP or carries a malformed one (the codec's Result-Code
    /// and Failed-AVP).
    #[error("malformed capabilities message: {0}")]
    Malformed(#[from] DecodeError),
    /// The peer answered our CER with a non-success CEA.
    #[error("peer rejected capabilities exchange with Result-Code {0}")]
    Rejected(ResultCode),
}

impl CapabilitiesError {
    /// The Result-Code of the CEA that reports this error.
    pub fn result_code(&self) -> ResultCode {
        match self {
            CapabilitiesError::UnknownPeer { .. } => ResultCode::UNKNOWN_PEER,
            CapabilitiesError::NoCommonApplication { .. } => ResultCode::NO_COMMON_APPLICATION,
            CapabilitiesError::Malformed(e) => e.result_code(),
            CapabilitiesError::Rejected(code) => *code,
        }
    }
}

/// The applications both nodes support (RFC 6733 §5.3: "... the message MUST be answered with
/// DIAMETER_NO_COMMON_APPLICATION if no applications are in common"). A relay on either side
/// supports everything the other advertises. The common Diameter application (0) never counts:
/// every node has it.
pub fn common_applications(local: &Capabilities, remote: &Capabilities) -> Vec<ApplicationId> {
    let mut common: Vec<ApplicationId> = Vec::new();
    let mut push = |id: ApplicationId| {
        if id != ApplicationId::COMMON && !common.contains(&id) {
            common.push(id);
        }
    };
    if is_relay(local) {
        remote.application_ids().for_each(&mut push);
    } else if is_relay(remote) {
        local.application_ids().for_each(&mut push);
    } else {
        for id in local.application_ids() {
            if remote.application_ids().any(|r| r == id) {
                push(id);
            }
        }
    }
    common
}

/// The RFC 6733 §5.3 check a node makes on a received CER or CEA: the applications in common,
/// or 5010 when there are none.
pub fn check_capabilities(
    local: &Capabilities,
    remote: &Capabilities,
) -> Result<Vec<ApplicationId>, CapabilitiesError> {
    let common = common_applications(local, remote);
    if common.is_empty() {
        Err(CapabilitiesError::NoCommonApplication {
            origin_host: remote.origin_host.clone(),
        })
    } else {
        Ok(common)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cx_in_common_through_vendor_specific_application() {
        let a = with_cx(node_capabilities("a.example", "example", vec![]));
        let b = with_cx(node_capabilities("b.example", "example", vec![]));
        assert_eq!(check_capabilities(&a, &b), Ok(vec![ApplicationId::CX]));
    }

    #[test]
    fn plain_and_vendor_specific_ids_match_each_other() {
        let a = with_cx(node_capabilities("a", "r", vec![]));
        let mut b = node_capabilities("b", "r", vec![]);
        b.auth_application_ids.push(ApplicationId::CX);
        assert_eq!(common_applications(&a, &b), vec![ApplicationId::CX]);
    }

    #[test]
    fn no_common_application_is_5010() {
        let a = with_cx(node_capabilities("a", "r", vec![]));
        let mut b = node_capabilities("b", "r", vec![]);
        b.auth_application_ids.push(ApplicationId(4));
        b.auth_application_ids.push(ApplicationId::COMMON);
        let err = check_capabilities(&a, &b).unwrap_err();
        assert_eq!(err.result_code(), ResultCode::NO_COMMON_APPLICATION);
    }

    #[test]
    fn relay_matches_everything() {
        let a = with_cx(node_capabilities("a", "r", vec![]));
        let mut relay = node_capabilities("dra", "r", vec![]);
        relay.auth_application_ids.push(ApplicationId::RELAY);
        assert_eq!(common_applications(&a, &relay), vec![ApplicationId::CX]);
        assert_eq!(common_applications(&relay, &a), vec![ApplicationId::CX]);
    }
}
