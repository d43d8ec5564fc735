//! Requests for a registered UE, from the core network through the P-CSCF
//! (TS 24.229 §5.2.6.4 and the in-dialog requests of §5.2.6.3).
//!
//! They arrive with our Path entry (initial requests, routed by the S-CSCF through the stored
//! Path, RFC 3327 §5.3) or our Record-Route entry (in-dialog requests) as the top Route, which
//! the proxy core removes (RFC 3261 §16.4). The UE is reached over the flow it registered
//! from: the user part of that Route entry is a flow token when the UE uses RFC 5626 outbound
//! (an unknown or dead flow gets 430), otherwise the registration is found by the
//! Request-URI, the registered contact. Where to send is decided by the caller
//! (`function.rs`); this module edits the request:
//! - P-Asserted-Identity stays (the UE may display it), except when the request asks for
//!   `Privacy: id` (RFC 3325 §7, TS 24.229 §5.2.6.4: the P-CSCF is the last trusted hop);
//! - P-Charging-Vector and P-Charging-Function-Addresses are removed: charging information
//!   never leaves the trust domain towards the UE (TS 24.229 §5.2.6.4).
//!
//! The UE's responses are as untrusted as its requests: they lose the P-headers it must not
//! set and get the asserted identity of the registration ([`prepare_ue_response`]).

use ims_sip::header::NameAddr;
use ims_sip::Message;

use crate::originating::asserted_identity;
use crate::register::UNTRUSTED_HEADERS;
use crate::registration_cache::Registration;

/// The charging headers the UE must not see.
pub const CHARGING_HEADERS: [&str; 2] = ["P-Charging-Vector", "P-Charging-Function-Addresses"];

/// Edits a request (or response) before it goes to the UE.
pub fn prepare_for_ue(message: &mut Message) {
    if privacy_id_requested(message) {
        message.headers_mut().remove("P-Asserted-Identity");
    }
    for name in CHARGING_HEADERS {
        message.headers_mut().remove(name);
    }
}

/// Edits a response of the UE before it goes into the core: its P-headers removed, and
/// P-Asserted-Identity set from its P-Preferred-Identity when registered, else its default
/// identity (`registration` is `None` when it ended meanwhile: nothing is asserted then).
pub fn prepare_ue_response(response: &mut Message, registration: Option<&Registration>) {
    let preferred = response
        .headers()
        .values("P-Preferred-Identity")
        .find_map(|v| NameAddr::parse(v).ok());
    for name in UNTRUSTED_HEADERS {
        response.headers_mut().remove(name);
    }
    if let Some(identity) = registration.and_then(|r| asserted_identity(r, preferred.as_ref())) {
        let value = NameAddr::new(identity.uri.clone()).to_string();
        response.headers_mut().push("P-Asserted-Identity", &value);
    }
}

/// Whether a Privacy header lists `id` (RFC 3323 §4.2 `priv-value *(";" priv-value)`,
/// RFC 3325 §7).
pub fn privacy_id_requested(message: &Message) -> bool {
    message
        .headers()
        .values("Privacy")
        .flat_map(|v| v.split(';'))
        .any(|v| v.trim().eq_ignore_ascii_case("id"))
}
