//! Contact bindings of a registration and their update rules: RFC 3261 §10.3 steps 6-8
//! (expiry, Call-ID/CSeq ordering, removal, `Contact: *`) and RFC 5626 §6 (one binding per
//! `+sip.instance` and `reg-id`, a new flow replacing the old one).

use std::time::{Duration, SystemTime};

use ims_sip::header::{Expires, NameAddr};
use ims_sip::{Contact, Message, Uri};

use crate::error::RegisterError;

/// One contact binding (RFC 3261 §10.3), with the Path it was registered through
/// (RFC 3327 §5.3: terminating requests are routed through it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact as registered, header parameters (feature tags) kept, `expires` removed.
    pub contact: NameAddr,
    /// Private identity that registered it.
    pub impi: String,
    /// When the binding expires.
    pub expires_at: SystemTime,
    /// `q` in thousandths (RFC 3261 §10.2.1.2), 1000 when absent.
    pub q: u16,
    /// `+sip.instance` (RFC 5626 §4.1), `<>` removed.
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626 §4.2).
    pub reg_id: Option<u32>,
    /// Path header values of the REGISTER, top first (RFC 3327).
    pub path: Vec<String>,
    /// Call-ID of the REGISTER that last refreshed the binding.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
}

impl Binding {
    /// The contact URI: where terminating requests go (after the Path).
    pub fn uri(&self) -> &Uri {
        &self.contact.uri
    }

    /// Seconds left at `now` (0 once expired).
    pub fn remaining(&self, now: SystemTime) -> u32 {
        let secs = self
            .expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// The Contact value for a 200 OK: the binding with `expires` = what is left
    /// (RFC 3261 §10.3 step 8).
    pub fn contact_value(&self, now: SystemTime) -> String {
        let mut c = self.contact.clone();
        c.params
            .set("expires", Some(&self.remaining(now).to_string()));
        c.to_string()
    }

    /// Whether `update` addresses this binding: same instance and reg-id when both are
    /// present (RFC 5626 §6), equivalent URI otherwise (RFC 3261 §10.3 step 7, §19.1.4).
    fn matches(&self, update: &ContactUpdate) -> bool {
        match (&update.instance, update.reg_id, &self.instance, self.reg_id) {
            (Some(i), Some(r), Some(bi), Some(br)) => i == bi && r == br,
            (Some(_), Some(_), _, _) => false,
            _ => self.contact.uri.equivalent(&update.contact.uri),
        }
    }
}

/// One Contact of a REGISTER, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactUpdate {
    /// The contact without its `expires` parameter.
    pub contact: NameAddr,
    /// Seconds requested (contact `expires`, else the Expires header, else the default).
    pub requested: u32,
    /// `q` in thousandths.
    pub q: u16,
    /// `+sip.instance`.
    pub instance: Option<String>,
    /// `reg-id`.
    pub reg_id: Option<u32>,
}

/// What a REGISTER asks of the bindings (RFC 3261 §10.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingUpdate {
    /// No Contact: a query for the current bindings (§10.2.3).
    Fetch,
    /// `Contact: *` with `Expires: 0`: remove every binding (§10.2.2).
    RemoveAll,
    /// Add, refresh or remove (expires 0) these contacts (§10.2.1, §10.2.2).
    Contacts(Vec<ContactUpdate>),
}

impl BindingUpdate {
    /// Reads the Contact and Expires headers of `request` (RFC 3261 §10.3 step 6 and the
    /// syntactic half of step 7). Interval policy is checked later, after authentication, by
    /// [`BindingUpdate::check_interval`].
    pub fn from_request(request: &Message, default_expires: u32) -> Result<Self, RegisterError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            RegisterError::BadRequest(format!("{what}: {e}"))
        };
        let contacts = request.contacts().map_err(|e| bad("Contact", &e))?;
        let header_expires = request
            .headers()
            .get("Expires")
            .map(Expires::parse)
            .transpose()
            .map_err(|e| bad("Expires", &e))?
            .map(|e| e.0);
        if contacts.is_empty() {
            return Ok(BindingUpdate::Fetch);
        }
        if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
            // §10.2.2: `*` only alone and only with Expires: 0.
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(RegisterError::BadRequest(
                    "Contact: * needs to be alone and with Expires: 0".into(),
                ));
            }
            return Ok(BindingUpdate::RemoveAll);
        }
        let mut updates = Vec::with_capacity(contacts.len());
        for c in contacts {
            let expires = c.expires().map_err(|e| bad("Contact expires", &e))?;
            let q = c.q().map_err(|e| bad("Contact q", &e))?.unwrap_or(1000);
            let reg_id = c.reg_id().map_err(|e| bad("Contact reg-id", &e))?;
            let instance = c.instance().map(str::to_owned);
            let Contact::Address(mut contact) = c else {
                continue;
            };
            contact.params.remove("expires");
            updates.push(ContactUpdate {
                contact,
                requested: expires.or(header_expires).unwrap_or(default_expires),
                q,
                instance,
                reg_id,
            });
        }
        Ok(BindingUpdate::Contacts(updates))
    }

    /// RFC 3261 §10.3 step 7: a non-zero interval below `min` is refused with 423.
    pub fn check_interval(&self, min: u32) -> Result<(), RegisterError> {
        if let BindingUpdate::Contacts(cs) = self {
            if let Some(requested) = cs
                .iter()
                .map(|c| c.requested)
                .filter(|&r| r != 0 && r < min)
                .min()
            {
                return Err(RegisterError::IntervalTooBrief { requested, min });
            }
        }
        Ok(())
    }

    /// Whether the request removes bindings only (nothing would be left if it matched them
    /// all): used to tell a de-registration from a registration.
    pub fn removes_only(&self) -> bool {
        match self {
            BindingUpdate::Fetch => false,
            BindingUpdate::RemoveAll => true,
            BindingUpdate::Contacts(cs) => cs.iter().all(|c| c.requested == 0),
        }
    }
}

/// The REGISTER-wide values stored with each binding it touches.
#[derive(Debug, Clone, Copy)]
pub struct UpdateContext<'a> {
    /// Registering private identity.
    pub impi: &'a str,
    /// Call-ID of the REGISTER.
    pub call_id: &'a str,
    /// CSeq number of the REGISTER.
    pub cseq: u32,
    /// Path values of the REGISTER.
    pub path: &'a [String],
    /// Arrival time.
    pub now: SystemTime,
    /// Interval cap (RFC 3261 §10.3 step 7).
    pub max_expires: u32,
    /// Binding cap per registration.
    pub max_contacts: usize,
}

/// Applies `update` to `bindings` (RFC 3261 §10.3 step 7, RFC 5626 §6). All-or-nothing: on
/// error `bindings` is unchanged. Returns the seconds granted to the contacts of the request
/// (the largest, 0 when all were removed), for the Expires header of the 200 OK.
pub fn apply(
    bindings: &mut Vec<Binding>,
    update: &BindingUpdate,
    ctx: &UpdateContext<'_>,
) -> Result<u32, RegisterError> {
    let mut next = bindings.clone();
    let mut granted = 0;
    match update {
        BindingUpdate::Fetch => return Ok(0),
        BindingUpdate::RemoveAll => {
            // §10.3 step 6: each binding's Call-ID/CSeq is checked before removal.
            for b in &next {
                check_order(b, ctx)?;
            }
            next.clear();
        }
        BindingUpdate::Contacts(cs) => {
            for c in cs {
                let existing = next.iter().position(|b| b.matches(c));
                if let Some(i) = existing {
                    if let Some(b) = next.get(i) {
                        check_order(b, ctx)?;
                    }
                    next.remove(i);
                }
                if c.requested == 0 {
                    continue;
                }
                let secs = c.requested.min(ctx.max_expires);
                granted = granted.max(secs);
                next.push(Binding {
                    contact: c.contact.clone(),
                    impi: ctx.impi.to_owned(),
                    expires_at: ctx.now + Duration::from_secs(u64::from(secs)),
                    q: c.q,
                    instance: c.instance.clone(),
                    reg_id: c.reg_id,
                    path: ctx.path.to_vec(),
                    call_id: ctx.call_id.to_owned(),
                    cseq: ctx.cseq,
                });
            }
        }
    }
    if next.len() > ctx.max_contacts {
        return Err(RegisterError::Forbidden(format!(
            "more than {} contacts",
            ctx.max_contacts
        )));
    }
    *bindings = next;
    Ok(granted)
}

/// RFC 3261 §10.3 step 7: same Call-ID needs a higher CSeq, else the update is aborted.
fn check_order(b: &Binding, ctx: &UpdateContext<'_>) -> Result<(), RegisterError> {
    if b.call_id == ctx.call_id && ctx.cseq <= b.cseq {
        return Err(RegisterError::OutOfOrder {
            call_id: b.call_id.clone(),
            stored: b.cseq,
            received: ctx.cseq,
        });
    }
    Ok(())
}

/// Drops bindings expired at `now`; returns whether any was dropped.
pub fn expire(bindings: &mut Vec<Binding>, now: SystemTime) -> bool {
    let before = bindings.len();
    bindings.retain(|b| b.expires_at > now);
    before != bindings.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn register(contacts: &str, expires: Option<&str>) -> Message {
        let mut raw = String::from(
            "REGISTER sip:ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@ims.example>;tag=1\r\nTo: <sip:a@ims.example>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
        );
        if !contacts.is_empty() {
            raw.push_str(&format!("Contact: {contacts}\r\n"));
        }
        if let Some(e) = expires {
            raw.push_str(&format!("Expires: {e}\r\n"));
        }
        raw.push_str("Content-Length: 0\r\n\r\n");
        Message::parse(raw.as_bytes()).unwrap()
    }

    fn ctx<'a>(call_id: &'a str, cseq: u32, now: SystemTime) -> UpdateContext<'a> {
        UpdateContext {
            impi: "a@ims.example",
            call_id,
            cseq,
            path: &[],
            now,
            max_expires: 7200,
            max_contacts: 3,
        }
    }

    #[test]
    fn parse_rules() {
        assert_eq!(
            BindingUpdate::from_request(&register("", None), 3600).unwrap(),
            BindingUpdate::Fetch
        );
        assert_eq!(
            BindingUpdate::from_request(&register("*", Some("0")), 3600).unwrap(),
            BindingUpdate::RemoveAll
        );
        assert!(BindingUpdate::from_request(&register("*", Some("10")), 3600).is_err());
        assert!(BindingUpdate::from_request(&register("*, <sip:x@y>", Some("0")), 3600).is_err());
        let u = BindingUpdate::from_request(
            &register(
                "<sip:x@192.0.2.1>;expires=30, <sip:y@192.0.2.1>",
                Some("100"),
            ),
            3600,
        )
        .unwrap();
        let BindingUpdate::Contacts(cs) = &u else {
            panic!("contacts expected")
        };
        assert_eq!(cs[0].requested, 30);
        assert_eq!(cs[1].requested, 100);
        assert!(!cs[0].contact.params.contains("expires"));
        assert_eq!(
            u.check_interval(60),
            Err(RegisterError::IntervalTooBrief {
                requested: 30,
                min: 60
            })
        );
        let default =
            BindingUpdate::from_request(&register("<sip:x@192.0.2.1>", None), 3600).unwrap();
        assert!(default.check_interval(60).is_ok());
        assert!(!default.removes_only());
    }

    #[test]
    fn refresh_replace_and_ordering() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut b = Vec::new();
        let u1 = BindingUpdate::from_request(
            &register(
                "<sip:ue@192.0.2.1;ob>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;q=0.5",
                Some("10000"),
            ),
            3600,
        )
        .unwrap();
        assert_eq!(apply(&mut b, &u1, &ctx("c1", 1, now)).unwrap(), 7200);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].q, 500);
        assert_eq!(b[0].remaining(now), 7200);
        // Same instance and reg-id from a new flow (new contact URI, new Call-ID): replaced.
        let u2 = BindingUpdate::from_request(
            &register(
                "<sip:ue@192.0.2.99;ob>;+sip.instance=\"<urn:uuid:1>\";reg-id=1",
                Some("600"),
            ),
            3600,
        )
        .unwrap();
        apply(&mut b, &u2, &ctx("c2", 1, now)).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].uri().to_string(), "sip:ue@192.0.2.99;ob");
        // Another reg-id: a second binding.
        let u3 = BindingUpdate::from_request(
            &register(
                "<sip:ue@198.51.100.1;ob>;+sip.instance=\"<urn:uuid:1>\";reg-id=2",
                Some("600"),
            ),
            3600,
        )
        .unwrap();
        apply(&mut b, &u3, &ctx("c3", 1, now)).unwrap();
        assert_eq!(b.len(), 2);
        // Same Call-ID, same CSeq: out of order, nothing changes.
        let before = b.clone();
        assert!(matches!(
            apply(&mut b, &u3, &ctx("c3", 1, now)),
            Err(RegisterError::OutOfOrder { .. })
        ));
        assert_eq!(b, before);
        // Remove with expires=0.
        let rm = BindingUpdate::from_request(
            &register(
                "<sip:ue@198.51.100.1;ob>;+sip.instance=\"<urn:uuid:1>\";reg-id=2",
                Some("0"),
            ),
            3600,
        )
        .unwrap();
        assert!(rm.removes_only());
        assert_eq!(apply(&mut b, &rm, &ctx("c3", 2, now)).unwrap(), 0);
        assert_eq!(b.len(), 1);
        // Expiry.
        assert!(!expire(&mut b, now + Duration::from_secs(599)));
        assert!(expire(&mut b, now + Duration::from_secs(600)));
        assert!(b.is_empty());
    }

    #[test]
    fn rfc3261_matching_and_cap() {
        let now = UNIX_EPOCH;
        let mut b = Vec::new();
        let u = BindingUpdate::from_request(
            &register(
                "<sip:a@192.0.2.1>, <sip:b@192.0.2.1>, <sip:c@192.0.2.1>",
                None,
            ),
            3600,
        )
        .unwrap();
        apply(&mut b, &u, &ctx("c1", 1, now)).unwrap();
        assert_eq!(b.len(), 3);
        // Refresh one (same URI): still 3.
        let r = BindingUpdate::from_request(&register("<sip:a@192.0.2.1>", None), 3600).unwrap();
        apply(&mut b, &r, &ctx("c1", 2, now)).unwrap();
        assert_eq!(b.len(), 3);
        // A fourth is over the cap: refused, unchanged.
        let d = BindingUpdate::from_request(&register("<sip:d@192.0.2.1>", None), 3600).unwrap();
        assert!(matches!(
            apply(&mut b, &d, &ctx("c1", 3, now)),
            Err(RegisterError::Forbidden(_))
        ));
        assert_eq!(b.len(), 3);
        // Wildcard removal.
        apply(&mut b, &BindingUpdate::RemoveAll, &ctx("c9", 1, now)).unwrap();
        assert!(b.is_empty());
        assert_eq!(b.first().map(|x| x.contact_value(now)), None::<String>);
    }
}
