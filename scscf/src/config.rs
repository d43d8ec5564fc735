//! Registrar configuration: who we are on SIP and on Cx, and the registration policy.

use std::time::Duration;

use ims_diameter::cx::auth_scheme;

/// What the registrar needs to know about itself. Library code never reads files: the binary
/// builds this from its TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Our SIP URI, sent as Server-Name in MAR/SAR (TS 29.229 §6.3.4) and the base of the
    /// Service-Route (TS 24.229 §5.4.1.2.2), e.g. `sip:scscf.ims.example:6060`.
    pub server_name: String,
    /// Home network domain: the Digest realm of AKA challenges (TS 24.229 §5.4.1.2.1).
    pub realm: String,
    /// Diameter Origin-Host of our Cx requests.
    pub origin_host: String,
    /// Diameter Origin-Realm.
    pub origin_realm: String,
    /// Diameter Destination-Realm (the HSS realm).
    pub destination_realm: String,
    /// Diameter Destination-Host, when the HSS is addressed directly (no SLF).
    pub destination_host: Option<String>,
    /// Smallest registration interval accepted (RFC 3261 §10.3 step 7, 423 below it).
    pub min_expires: u32,
    /// Largest interval granted; longer requests are shortened (RFC 3261 §10.3 step 7).
    pub max_expires: u32,
    /// Interval when the REGISTER names none (RFC 3261 §10.2.1.1 leaves it to the registrar).
    pub default_expires: u32,
    /// SIP-Authentication-Scheme of the MAR when the Authorization header names no algorithm
    /// (TS 29.229 §6.3.9; `Unknown` lets the HSS choose).
    pub default_auth_scheme: String,
    /// Timer reg-await-auth: how long a challenge may be answered (TS 24.229 §5.4.1.2.1,
    /// Table 7.7.1: 4 minutes).
    pub reg_await_auth: Duration,
    /// Life of a SIP Digest (MD5) nonce: it can be reused with increasing nc until then
    /// (RFC 2617 §3.2.1).
    pub digest_nonce_lifetime: Duration,
    /// Outstanding challenges kept per private identity; the oldest is dropped beyond this, so
    /// a client cannot grow our memory by asking for challenges.
    pub max_challenges_per_user: usize,
    /// Contacts kept per registration; a REGISTER adding more is refused with 403.
    pub max_contacts: usize,
}

impl RegistrarConfig {
    /// A configuration for `server_name` in `realm` with the defaults used by the tests and
    /// the `ims up` demo.
    pub fn new(server_name: &str, realm: &str) -> Self {
        RegistrarConfig {
            server_name: server_name.to_owned(),
            realm: realm.to_owned(),
            origin_host: format!("scscf.{realm}"),
            origin_realm: realm.to_owned(),
            destination_realm: realm.to_owned(),
            destination_host: None,
            min_expires: 60,
            // TS 24.229 §5.1.1.2.1: UEs ask for 600000 s; operators usually grant less.
            max_expires: 600_000,
            default_expires: 3600,
            default_auth_scheme: auth_scheme::DIGEST_AKAV1_MD5.to_owned(),
            reg_await_auth: Duration::from_secs(240),
            digest_nonce_lifetime: Duration::from_secs(600),
            max_challenges_per_user: 4,
            max_contacts: 16,
        }
    }
}
