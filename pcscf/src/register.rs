//! Registration at the P-CSCF (TS 24.229 §5.2.2): what is done to a REGISTER from the UE before
//! it goes to the I-CSCF, and what is learnt from the answers.
//!
//! Request (§5.2.2.1): headers the UE must not set are removed (P-Asserted-Identity,
//! P-Preferred-Identity, P-Charging-Vector, P-Charging-Function-Addresses,
//! P-Visited-Network-ID); a Path with our URI goes on top (RFC 3327; with a flow token and `ob`
//! when the UE registers with RFC 5626 outbound and we are its first hop, RFC 5626 §5.1);
//! `Require: path` and `Supported: path`; our P-Visited-Network-ID (RFC 7315 §4.3); a
//! P-Charging-Vector with a fresh icid-value and orig-ioi (TS 24.229 §5.2.2.1, §7.2A.5); and
//! `integrity-protected="no"` in the Authorization (§5.2.2.1: no security association
//! protects the request yet — IPsec is a later issue).
//!
//! Answers: a 401 carries `ck` and `ik` in WWW-Authenticate for us (TS 33.203 §7.1); they are
//! taken out before the 401 reaches the UE ([`take_aka_keys`]) and kept with the pending
//! registration. A 200 makes the [`Registration`] ([`registration_from_ok`]).

use std::time::{Duration, Instant};

use ims_sip::header::{Challenge, Contact, Credentials, NameAddr, OptionTags, PChargingVector};
use ims_sip::{Message, Uri};
use ims_transport::Target;

use crate::error::PcscfError;
use crate::outbound::FlowId;
use crate::registration_cache::{RegisteredContact, Registration, SecurityKeys};

/// How long the AKA keys of a 401 wait for the authenticated REGISTER: as long as the
/// S-CSCF's reg-await-auth timer (4 minutes in TS 24.229's table of timers), after which the
/// S-CSCF has forgotten the challenge anyway.
pub const PENDING_AUTH_LIFETIME: Duration = Duration::from_secs(240);

/// The registration expiry assumed when neither the 200 nor the REGISTER gives one
/// (RFC 3261 §10.2.1.1 suggests 3600 s as the registrar's default).
pub const DEFAULT_EXPIRES: u32 = 3600;

/// The headers a UE must not set; they are removed from every request from a UE
/// (TS 24.229 §5.2.2.1, §5.2.6.3: the P-CSCF asserts identities and charging itself).
pub const UNTRUSTED_HEADERS: [&str; 5] = [
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "P-Charging-Vector",
    "P-Charging-Function-Addresses",
    "P-Visited-Network-ID",
];

/// What a REGISTER from the UE says, read before it is forwarded.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    /// The private user identity: the Authorization username, or else the To URI without its
    /// scheme (TS 33.203 §6.1: the IMPI is derivable when the UE sends no credentials).
    pub impi: String,
    /// The Call-ID, which the UE keeps across the challenge (TS 24.229 §5.1.1.5.1).
    pub call_id: String,
    /// The Contact values.
    pub contacts: Vec<Contact>,
    /// The Expires header.
    pub expires: Option<u32>,
    /// Whether the UE registers with RFC 5626 outbound through us as first hop: `Supported:
    /// outbound`, a contact with `reg-id` and `+sip.instance`, and a single Via (RFC 5626
    /// §5.1: only the first hop adds a flow token).
    pub outbound: bool,
}

impl RegisterRequest {
    /// Reads a REGISTER.
    pub fn inspect(request: &Message) -> Result<RegisterRequest, PcscfError> {
        let call_id = request
            .call_id()
            .map_err(|e| PcscfError::Malformed(format!("Malformed Call-ID: {e}")))?
            .to_owned();
        let contacts = request
            .contacts()
            .map_err(|e| PcscfError::Malformed(format!("Malformed Contact: {e}")))?;
        let expires = match request.headers().get("Expires") {
            Some(v) => Some(
                ims_sip::header::Expires::parse(v)
                    .map_err(|e| PcscfError::Malformed(format!("Malformed Expires: {e}")))?
                    .0,
            ),
            None => None,
        };
        let username = request
            .headers()
            .get_all("Authorization")
            .filter_map(|v| Credentials::parse(v).ok())
            .find_map(|c| c.username().map(str::to_owned));
        let impi = match username {
            Some(u) => u,
            None => {
                let to = request
                    .to()
                    .map_err(|e| PcscfError::Malformed(format!("Malformed To: {e}")))?;
                impi_from_impu(to.uri())
            }
        };
        let supports_outbound = has_option_tag(request, "Supported", "outbound");
        let outbound_contact = contacts
            .iter()
            .any(|c| c.instance().is_some() && matches!(c.reg_id(), Ok(Some(_))));
        let first_hop = request.headers().values("Via").count() == 1;
        Ok(RegisterRequest {
            impi,
            call_id,
            contacts,
            expires,
            outbound: supports_outbound && outbound_contact && first_hop,
        })
    }
}

/// What the P-CSCF remembers about a REGISTER it forwarded until the final answer comes back.
#[derive(Debug, Clone)]
pub struct PendingRegister {
    /// What the request said.
    pub request: RegisterRequest,
    /// Where it came from.
    pub source: Target,
    /// The flow of that source, if known.
    pub flow: Option<FlowId>,
    /// The Path entry we inserted.
    pub path: NameAddr,
}

/// Edits a REGISTER from the UE before it goes to the I-CSCF (TS 24.229 §5.2.2.1); see the
/// module docs for the list.
pub fn prepare_request(
    request: &mut Message,
    path: &NameAddr,
    visited_network_id: &str,
    charging: &PChargingVector,
) {
    let headers = request.headers_mut();
    for name in UNTRUSTED_HEADERS {
        headers.remove(name);
    }
    headers.insert_first("Path", &path.to_string());
    add_option_tag(request, "Require", "path");
    add_option_tag(request, "Supported", "path");
    let headers = request.headers_mut();
    headers.push("P-Visited-Network-ID", visited_network_id);
    headers.push("P-Charging-Vector", &charging.to_string());
    mark_integrity_protected(request);
}

/// Sets `integrity-protected="no"` in the Authorization (TS 24.229 §5.2.2.1), replacing
/// whatever the UE put there: only the P-CSCF knows how the request arrived.
fn mark_integrity_protected(request: &mut Message) {
    let values: Vec<String> = request
        .headers()
        .get_all("Authorization")
        .map(str::to_owned)
        .collect();
    if values.is_empty() {
        return;
    }
    let rewritten: Vec<String> = values
        .iter()
        .map(|v| match Credentials::parse(v) {
            Ok(mut c) if c.0.is_digest() => {
                c.0.set("integrity-protected", "no", true);
                c.to_string()
            }
            // Not ours to rewrite; the S-CSCF answers a malformed one.
            _ => v.clone(),
        })
        .collect();
    let headers = request.headers_mut();
    headers.remove("Authorization");
    for v in &rewritten {
        headers.push("Authorization", v);
    }
}

/// Removes `ck` and `ik` from every WWW-Authenticate of a response (TS 33.203 §7.1: the keys
/// are for the P-CSCF only) and returns the first pair found. A challenge that cannot be
/// parsed is dropped whole rather than risk passing keys on.
pub fn take_aka_keys(response: &mut Message) -> Option<SecurityKeys> {
    let values: Vec<String> = response
        .headers()
        .get_all("WWW-Authenticate")
        .map(str::to_owned)
        .collect();
    let mut keys = None;
    let mut kept = Vec::with_capacity(values.len());
    let mut changed = false;
    for value in values {
        let Ok(mut challenge) = Challenge::parse(&value) else {
            changed = true;
            continue;
        };
        let (ck, ik) = (
            challenge.ck().map(str::to_owned),
            challenge.ik().map(str::to_owned),
        );
        if let (None, Some(ck), Some(ik)) = (&keys, &ck, &ik) {
            keys = Some(SecurityKeys {
                ck: ck.clone(),
                ik: ik.clone(),
            });
        }
        if ck.is_some() || ik.is_some() {
            challenge.0.remove("ck");
            challenge.0.remove("ik");
            changed = true;
            kept.push(challenge.to_string());
        } else {
            kept.push(value);
        }
    }
    if changed {
        let headers = response.headers_mut();
        headers.remove("WWW-Authenticate");
        for v in &kept {
            headers.push("WWW-Authenticate", v);
        }
    }
    keys
}

/// The registration a 200 (OK) to `pending` makes (TS 24.229 §5.2.2.1): the public identities
/// from P-Associated-URI, the Service-Route, and each contact of the REGISTER with the expiry
/// the registrar granted (its `expires` in the 200's matching Contact, else the 200's Expires,
/// else what the UE asked, else [`DEFAULT_EXPIRES`]). Contacts granted 0 seconds, and all of
/// them after `Contact: *`, are not bound: a registration without contacts is a
/// de-registration.
pub fn registration_from_ok(
    pending: &PendingRegister,
    response: &Message,
    security_keys: Option<SecurityKeys>,
    now: Instant,
) -> Result<Registration, PcscfError> {
    let public_identities = name_addrs(response, "P-Associated-URI")?;
    let service_route = name_addrs(response, "Service-Route")?;
    let granted = response
        .contacts()
        .map_err(|e| PcscfError::Malformed(format!("Malformed Contact in 200: {e}")))?;
    let response_expires = response
        .headers()
        .get("Expires")
        .and_then(|v| ims_sip::header::Expires::parse(v).ok())
        .map(|e| e.0);
    let wildcard = pending
        .request
        .contacts
        .iter()
        .any(|c| matches!(c, Contact::Wildcard));
    let mut contacts = Vec::new();
    for contact in &pending.request.contacts {
        let Contact::Address(address) = contact else {
            continue;
        };
        if wildcard {
            break;
        }
        let in_answer = granted
            .iter()
            .find(|g| g.uri().is_some_and(|u| u.equivalent(&address.uri)));
        let seconds = in_answer
            .and_then(|g| g.expires().ok().flatten())
            .or(response_expires)
            .or(contact.expires().ok().flatten())
            .or(pending.request.expires)
            .unwrap_or(DEFAULT_EXPIRES);
        if seconds == 0 {
            continue;
        }
        contacts.push(RegisteredContact {
            address: address.clone(),
            instance: contact.instance().map(str::to_owned),
            reg_id: contact.reg_id().ok().flatten(),
            expires_at: deadline(now, seconds),
        });
    }
    Ok(Registration {
        impi: pending.request.impi.clone(),
        public_identities,
        service_route,
        contacts,
        source: pending.source.clone(),
        flow: pending.flow,
        outbound: pending.request.outbound,
        path: pending.path.clone(),
        security_keys,
    })
}

/// `now + seconds`; an instant the platform cannot represent becomes [`DEFAULT_EXPIRES`] away.
fn deadline(now: Instant, seconds: u32) -> Instant {
    now.checked_add(Duration::from_secs(u64::from(seconds)))
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(DEFAULT_EXPIRES))))
        .unwrap_or(now)
}

/// Every name-addr of every `name` header.
fn name_addrs(message: &Message, name: &str) -> Result<Vec<NameAddr>, PcscfError> {
    message
        .headers()
        .values(name)
        .map(|v| {
            NameAddr::parse(v).map_err(|e| PcscfError::Malformed(format!("Malformed {name}: {e}")))
        })
        .collect()
}

/// Whether an option-tag header (Supported, Require...) lists `tag`.
pub fn has_option_tag(message: &Message, header: &str, tag: &str) -> bool {
    message
        .headers()
        .get_all(header)
        .filter_map(|v| OptionTags::parse(v).ok())
        .any(|t| t.contains(tag))
}

/// Adds `tag` to an option-tag header unless it is listed already.
fn add_option_tag(message: &mut Message, header: &str, tag: &str) {
    if !has_option_tag(message, header, tag) {
        message.headers_mut().push(header, tag);
    }
}

/// `user@host` of a public identity (TS 33.203 §6.1 derivation when no Authorization came).
fn impi_from_impu(uri: &Uri) -> String {
    match (uri.user(), uri.host()) {
        (Some(user), Some(host)) => format!("{user}@{host}"),
        _ => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r\n").as_bytes()).unwrap()
    }

    #[test]
    fn keys_are_taken_from_every_challenge() {
        let mut r = msg("SIP/2.0 401 Unauthorized\n\
            Via: SIP/2.0/UDP ue.example.net;branch=z9hG4bK1\n\
            WWW-Authenticate: Digest realm=\"a\", nonce=\"n\", algorithm=AKAv1-MD5, ck=\"00112233\", ik=\"44556677\"\n\
            WWW-Authenticate: Digest realm=\"b\", nonce=\"m\"\n\
            To: <sip:a@x>;tag=1\nFrom: <sip:a@x>;tag=2\nCall-ID: c\nCSeq: 1 REGISTER\nContent-Length: 0\n\n");
        let keys = take_aka_keys(&mut r).unwrap();
        assert_eq!(
            (keys.ck.as_str(), keys.ik.as_str()),
            ("00112233", "44556677")
        );
        let all: Vec<&str> = r.headers().get_all("WWW-Authenticate").collect();
        assert_eq!(all.len(), 2);
        assert!(
            all.iter().all(|v| !v.contains("ck=") && !v.contains("ik=")),
            "{all:?}"
        );
        assert!(all[0].contains("nonce=\"n\""));
        assert_eq!(format!("{keys:?}"), "SecurityKeys(..)");
    }

    #[test]
    fn impi_comes_from_authorization_or_to() {
        let with = msg("REGISTER sip:home.net SIP/2.0\n\
            Via: SIP/2.0/UDP ue;branch=z9hG4bK1\n\
            Authorization: Digest username=\"alice@home.net\", realm=\"home.net\", nonce=\"\", uri=\"sip:home.net\", response=\"\"\n\
            To: <sip:alice.pub@home.net>\nFrom: <sip:alice.pub@home.net>;tag=2\nCall-ID: c\nCSeq: 1 REGISTER\nContent-Length: 0\n\n");
        assert_eq!(
            RegisterRequest::inspect(&with).unwrap().impi,
            "alice@home.net"
        );
        let without = msg("REGISTER sip:home.net SIP/2.0\n\
            Via: SIP/2.0/UDP ue;branch=z9hG4bK1\n\
            To: <sip:bob@home.net>\nFrom: <sip:bob@home.net>;tag=2\nCall-ID: c\nCSeq: 1 REGISTER\nContent-Length: 0\n\n");
        let r = RegisterRequest::inspect(&without).unwrap();
        assert_eq!(r.impi, "bob@home.net");
        assert!(!r.outbound);
    }
}
