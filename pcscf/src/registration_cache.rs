//! The P-CSCF's copy of each UE registration (TS 24.229 §5.2.2.1: "store ... the public user
//! identities, the Service-Route, the contact and the registration expiry"), sans-IO.
//!
//! A registration is made by the 200 (OK) to a REGISTER and belongs to the source the UE sent
//! it from (a connection, a UDP address, hence its RFC 5626 flow): that source is how
//! originating requests are recognised (§5.2.6.3.1) and where terminating requests go. It is
//! indexed by that source and by each registered contact, and removed on de-registration or
//! when its last contact expires.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Instant;

use ims_sip::header::NameAddr;
use ims_sip::{Scheme, Uri};
use ims_transport::{ConnectionId, Target, Transport};

use crate::outbound::FlowId;

/// The hashable form of a transport [`Target`] a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// A TCP or TLS connection.
    Connection(ConnectionId),
    /// A UDP socket and the peer's address.
    Datagram {
        /// Our socket.
        socket: ConnectionId,
        /// The peer.
        remote: SocketAddr,
    },
    /// A remote address (not a source the transport reports, but a valid target).
    Remote {
        /// The transport.
        transport: Transport,
        /// The address.
        remote: SocketAddr,
    },
}

impl From<&Target> for SourceKey {
    fn from(target: &Target) -> Self {
        match target {
            Target::Connection(c) => SourceKey::Connection(*c),
            Target::Datagram { socket, remote } => SourceKey::Datagram {
                socket: *socket,
                remote: *remote,
            },
            Target::Remote {
                transport, remote, ..
            } => SourceKey::Remote {
                transport: *transport,
                remote: *remote,
            },
        }
    }
}

/// The IMS-AKA keys the S-CSCF sent in the 401 (TS 33.203 §7.1, TS 24.229 §7.2A.1), kept as
/// the hex strings received. They are held for the IPsec security associations, which are a
/// later issue: nothing uses them yet.
#[derive(Clone, PartialEq, Eq)]
pub struct SecurityKeys {
    /// The cipher key CK.
    pub ck: String,
    /// The integrity key IK.
    pub ik: String,
}

impl std::fmt::Debug for SecurityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never reach a log.
        f.write_str("SecurityKeys(..)")
    }
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredContact {
    /// The contact address as the UE registered it (with its parameters).
    pub address: NameAddr,
    /// `+sip.instance` (RFC 5626 §4.1).
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626 §4.2).
    pub reg_id: Option<u32>,
    /// When the binding ends, from the 200 (OK).
    pub expires_at: Instant,
}

/// One UE registration, as learnt from a REGISTER and its 200 (OK).
#[derive(Debug, Clone)]
pub struct Registration {
    /// The private user identity (from the Authorization username).
    pub impi: String,
    /// The registered public identities, from P-Associated-URI; the first is the default
    /// (TS 24.229 §5.2.2.1, RFC 7315 §4.2).
    pub public_identities: Vec<NameAddr>,
    /// The Service-Route of the 200 (OK) (RFC 3608), enforced on originating requests.
    pub service_route: Vec<NameAddr>,
    /// The contacts bound by this registration.
    pub contacts: Vec<RegisteredContact>,
    /// Where the UE's REGISTER came from, and where terminating requests go.
    pub source: Target,
    /// The flow of that source (when the transport reported its addresses).
    pub flow: Option<FlowId>,
    /// Whether the UE registered with RFC 5626 outbound (its Path carries our flow token).
    pub outbound: bool,
    /// The Path entry we inserted.
    pub path: NameAddr,
    /// The AKA keys of the authentication that led to this registration, if any.
    pub security_keys: Option<SecurityKeys>,
}

impl Registration {
    /// When the last contact expires.
    pub fn expires_at(&self) -> Option<Instant> {
        self.contacts.iter().map(|c| c.expires_at).max()
    }

    /// The default public identity: the first P-Associated-URI.
    pub fn default_identity(&self) -> Option<&NameAddr> {
        self.public_identities.first()
    }

    /// The registered public identity equal to `uri` (RFC 3261 §19.1.4), if any.
    pub fn public_identity(&self, uri: &Uri) -> Option<&NameAddr> {
        self.public_identities
            .iter()
            .find(|id| id.uri.equivalent(uri))
    }

    /// The contact equal to `uri` that is still bound at `now`.
    pub fn contact(&self, uri: &Uri, now: Instant) -> Option<&RegisteredContact> {
        let key = contact_key(uri);
        self.contacts
            .iter()
            .find(|c| c.expires_at > now && contact_key(&c.address.uri) == key)
    }
}

/// What [`RegistrationCache::store`] did.
#[derive(Debug)]
pub struct Stored {
    /// The new entry; `None` for a de-registration.
    pub id: Option<RegistrationId>,
    /// Registrations that ended: the one replaced from the same source, and any left without
    /// contacts because they moved to the new one.
    pub dropped: Vec<Registration>,
}

/// Names one entry of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(u64);

/// Registrations by source and by contact, with their expiry.
#[derive(Debug, Default)]
pub struct RegistrationCache {
    next_id: u64,
    entries: HashMap<RegistrationId, Registration>,
    by_source: HashMap<SourceKey, RegistrationId>,
    by_contact: HashMap<String, RegistrationId>,
    deadlines: BTreeSet<(Instant, RegistrationId)>,
}

impl RegistrationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores the registration a 200 (OK) made (TS 24.229 §5.2.2.1). It replaces whatever was
    /// registered from the same source; a contact registered before from another source moves
    /// here (the UE re-registered over a new flow), and a registration left without contacts is
    /// dropped. A registration without contacts is a de-registration: nothing is stored.
    pub fn store(&mut self, registration: Registration) -> Stored {
        let key = SourceKey::from(&registration.source);
        let mut dropped: Vec<Registration> = self.remove_source(&key).into_iter().collect();
        if registration.contacts.is_empty() {
            return Stored { id: None, dropped };
        }
        for contact in &registration.contacts {
            let ck = contact_key(&contact.address.uri);
            if let Some(other) = self.by_contact.get(&ck).copied() {
                dropped.extend(self.remove_contact(other, &ck));
            }
        }
        self.next_id += 1;
        let id = RegistrationId(self.next_id);
        for contact in &registration.contacts {
            self.by_contact
                .insert(contact_key(&contact.address.uri), id);
        }
        if let Some(at) = registration.expires_at() {
            self.deadlines.insert((at, id));
        }
        self.by_source.insert(key, id);
        self.entries.insert(id, registration);
        Stored {
            id: Some(id),
            dropped,
        }
    }

    /// Removes and returns the registration made from `source`.
    pub fn remove_source(&mut self, source: &SourceKey) -> Option<Registration> {
        let id = self.by_source.get(source).copied()?;
        self.remove(id)
    }

    /// The registration made from `source`.
    pub fn by_source(&self, source: &SourceKey) -> Option<&Registration> {
        self.by_source
            .get(source)
            .and_then(|id| self.entries.get(id))
    }

    /// The registration that binds `contact` at `now`.
    pub fn by_contact(&self, contact: &Uri, now: Instant) -> Option<&Registration> {
        let id = self.by_contact.get(&contact_key(contact))?;
        self.entries
            .get(id)
            .filter(|r| r.contact(contact, now).is_some())
    }

    /// Removes every registration whose last contact expired at or before `now`; returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<Registration> {
        let due: Vec<RegistrationId> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        due.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// When [`RegistrationCache::expire`] has something to do next.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Every registration.
    pub fn iter(&self) -> impl Iterator<Item = &Registration> {
        self.entries.values()
    }

    /// How many registrations are stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn remove(&mut self, id: RegistrationId) -> Option<Registration> {
        let registration = self.entries.remove(&id)?;
        self.by_source
            .remove(&SourceKey::from(&registration.source));
        for contact in &registration.contacts {
            let ck = contact_key(&contact.address.uri);
            if self.by_contact.get(&ck) == Some(&id) {
                self.by_contact.remove(&ck);
            }
        }
        if let Some(at) = registration.expires_at() {
            self.deadlines.remove(&(at, id));
        }
        Some(registration)
    }

    /// Takes one contact away from a registration (it moved to another source); returns the
    /// registration if that left it without contacts.
    fn remove_contact(&mut self, id: RegistrationId, key: &str) -> Option<Registration> {
        let mut registration = self.remove(id)?;
        registration
            .contacts
            .retain(|c| contact_key(&c.address.uri) != key);
        if registration.contacts.is_empty() {
            return Some(registration);
        }
        // Re-insert under the same id with the remaining contacts.
        for contact in &registration.contacts {
            self.by_contact
                .insert(contact_key(&contact.address.uri), id);
        }
        if let Some(at) = registration.expires_at() {
            self.deadlines.insert((at, id));
        }
        self.by_source
            .insert(SourceKey::from(&registration.source), id);
        self.entries.insert(id, registration);
        None
    }
}

/// The part of a contact URI that identifies the binding: scheme, user, host (case-insensitive)
/// and port (the default made explicit). URI parameters are left out: a registrar may echo
/// them differently, and the S-CSCF uses the contact as the Request-URI of terminating
/// requests with or without them.
fn contact_key(uri: &Uri) -> String {
    let host = uri
        .host()
        .map(|h| h.to_string().to_ascii_lowercase())
        .unwrap_or_default();
    let port = uri.port().unwrap_or(match uri.scheme() {
        Scheme::Sips => 5061,
        _ => 5060,
    });
    format!(
        "{}:{}@{host}:{port}",
        uri.scheme().as_str(),
        uri.user().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn registration(contact: &str, remote: &str, at: Instant) -> Registration {
        Registration {
            impi: "alice@example.net".into(),
            public_identities: vec![NameAddr::parse("<sip:alice@example.net>").unwrap()],
            service_route: Vec::new(),
            contacts: vec![RegisteredContact {
                address: NameAddr::parse(contact).unwrap(),
                instance: None,
                reg_id: None,
                expires_at: at,
            }],
            source: Target::Datagram {
                socket: ConnectionId(1),
                remote: remote.parse().unwrap(),
            },
            flow: None,
            outbound: false,
            path: NameAddr::parse("<sip:term@p;lr>").unwrap(),
            security_keys: None,
        }
    }

    #[test]
    fn indexed_by_source_and_contact_and_expires() {
        let t0 = Instant::now();
        let mut cache = RegistrationCache::new();
        let r = registration(
            "<sip:alice@192.0.2.1:5060>",
            "192.0.2.1:5060",
            t0 + Duration::from_secs(60),
        );
        let key = SourceKey::from(&r.source);
        cache.store(r);
        assert!(cache.by_source(&key).is_some());
        let contact = Uri::parse("sip:alice@192.0.2.1").unwrap();
        assert!(cache.by_contact(&contact, t0).is_some());
        assert_eq!(cache.next_expiry(), Some(t0 + Duration::from_secs(60)));
        assert!(cache.expire(t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(cache.expire(t0 + Duration::from_secs(60)).len(), 1);
        assert!(cache.is_empty());
        assert!(cache.by_contact(&contact, t0).is_none());
        assert_eq!(cache.next_expiry(), None);
    }

    #[test]
    fn a_contact_moves_to_a_new_source() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_secs(60);
        let mut cache = RegistrationCache::new();
        cache.store(registration("<sip:a@192.0.2.1>", "192.0.2.1:5060", at));
        let stored = cache.store(registration("<sip:a@192.0.2.1>", "192.0.2.1:6000", at));
        assert!(stored.id.is_some());
        assert_eq!(stored.dropped.len(), 1);
        assert!(
            matches!(stored.dropped[0].source, Target::Datagram { remote, .. } if remote.port() == 5060)
        );
        assert_eq!(cache.len(), 1);
        let r = cache
            .by_contact(&Uri::parse("sip:a@192.0.2.1:5060").unwrap(), t0)
            .unwrap();
        assert!(matches!(r.source, Target::Datagram { remote, .. } if remote.port() == 6000));
    }

    #[test]
    fn storing_no_contacts_deregisters() {
        let t0 = Instant::now();
        let mut cache = RegistrationCache::new();
        let r = registration(
            "<sip:a@192.0.2.1>",
            "192.0.2.1:5060",
            t0 + Duration::from_secs(9),
        );
        let mut empty = r.clone();
        empty.contacts.clear();
        cache.store(r);
        let stored = cache.store(empty);
        assert_eq!(stored.id, None);
        assert_eq!(stored.dropped.len(), 1);
        assert!(cache.is_empty());
        assert_eq!(cache.next_expiry(), None);
    }
}
