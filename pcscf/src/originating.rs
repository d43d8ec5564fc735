//! Requests a registered UE originates, through the P-CSCF (TS 24.229 §5.2.6.3).
//!
//! The UE cannot be trusted with identities, charging or routing, so for every request from
//! it the P-CSCF removes the P-headers the UE must not set
//! ([`UNTRUSTED_HEADERS`]). For an initial request
//! (§5.2.6.3.2; no To tag) it also:
//! - asserts the identity: P-Asserted-Identity is the P-Preferred-Identity when that is one of
//!   the registered public identities, else the default one (the first P-Associated-URI);
//! - enforces the Service-Route: the UE's Route set is replaced by the stored Service-Route
//!   (TS 24.229 allows replacing or rejecting; replacing also serves UEs that preload a
//!   stale route);
//! - inserts a P-Charging-Vector with a fresh icid-value (§5.2.6.3.2, §7.2A.5);
//! - and the caller Record-Routes so that the dialog's later requests traverse us.
//!
//! Subsequent (in-dialog) requests follow the dialog's Route set unchanged (§5.2.6.3.3).
//!
//! Not yet: checking that requests arrive over the UE's security associations (IPsec is a
//! later issue).

use ims_sip::header::{NameAddr, PChargingVector};
use ims_sip::Message;

use crate::error::PcscfError;
use crate::register::UNTRUSTED_HEADERS;
use crate::registration_cache::Registration;

/// Edits a request from a registered UE. For an initial request, returns the Route set to
/// push (the Service-Route); for a subsequent one, an empty list (the request's own Route set
/// is followed).
pub fn prepare_request(
    request: &mut Message,
    registration: &Registration,
    charging: Option<&PChargingVector>,
) -> Result<Vec<NameAddr>, PcscfError> {
    let initial = is_initial(request);
    let preferred = request
        .headers()
        .values("P-Preferred-Identity")
        .find_map(|v| NameAddr::parse(v).ok());
    let headers = request.headers_mut();
    for name in UNTRUSTED_HEADERS {
        headers.remove(name);
    }
    if !initial {
        return Ok(Vec::new());
    }
    if registration.service_route.is_empty() {
        return Err(PcscfError::NoServiceRoute);
    }
    if let Some(identity) = asserted_identity(registration, preferred.as_ref()) {
        // The display name the UE chose may stay; the URI is the registered one.
        let mut value = NameAddr::new(identity.uri.clone());
        value.display_name = preferred
            .as_ref()
            .filter(|p| p.uri.equivalent(&identity.uri))
            .and_then(|p| p.display_name.clone())
            .or_else(|| identity.display_name.clone());
        request
            .headers_mut()
            .push("P-Asserted-Identity", &value.to_string());
    }
    if let Some(charging) = charging {
        request
            .headers_mut()
            .push("P-Charging-Vector", &charging.to_string());
    }
    request.headers_mut().remove("Route");
    Ok(registration.service_route.clone())
}

/// The identity to assert for a UE (TS 24.229 §5.2.6.3.2, §5.2.6.4): its preferred one when
/// that is registered, else its default public identity.
pub fn asserted_identity<'r>(
    registration: &'r Registration,
    preferred: Option<&NameAddr>,
) -> Option<&'r NameAddr> {
    preferred
        .and_then(|p| registration.public_identity(&p.uri))
        .or_else(|| registration.default_identity())
}

/// An initial request has no To tag (RFC 3261 §12.1: dialog-creating or out of dialog).
pub fn is_initial(request: &Message) -> bool {
    request.to().map_or(true, |to| to.tag().is_none())
}
