//! Registration procedures of the UE (TS 24.229 §5.1.1): initial registration, the
//! authentication exchange (§5.1.1.5), refresh (§5.1.1.4) and de-registration (§5.1.1.6).
//!
//! This type builds the REGISTER requests and interprets their final responses; the
//! [`Ue`](crate::Ue) runs them through client transactions. One REGISTER is outstanding at a
//! time. Not done here: sec-agree/IPsec (TS 33.203), reg-event subscription (§5.1.1.3),
//! GRUU.

use std::time::{Duration, Instant};

use ims_sip::header::{Expires, MinExpires, NameAddr};
use ims_sip::{Host, Message, Method, StatusCode, Uri};

use crate::auth::{ChallengeAnswer, DigestClient};
use crate::config::{SipTransport, UeConfig};
use crate::event::UeEvent;
use crate::ids::Ids;

/// How many 401s one procedure answers before giving up (a registrar that keeps challenging
/// a correct answer would otherwise loop forever).
const MAX_CHALLENGES: u8 = 3;

/// Registration state as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registered, nothing in progress.
    Unregistered,
    /// Initial registration in progress.
    Registering,
    /// Registered; a refresh may be in progress.
    Registered,
    /// De-registration in progress.
    Deregistering,
}

/// Which procedure the outstanding REGISTER belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Procedure {
    Register,
    Refresh,
    Deregister,
}

/// The registration of one UE.
#[derive(Debug)]
pub struct Registration {
    state: RegistrationState,
    procedure: Option<Procedure>,
    /// Call-ID, kept across refreshes (RFC 3261 §10.2.4).
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The expiry we ask for next.
    requested: u32,
    digest: DigestClient,
    challenges: u8,
    refresh_at: Option<Instant>,
    expires: u32,
    service_route: Vec<NameAddr>,
    associated_uris: Vec<String>,
    path: Vec<String>,
}

impl Registration {
    /// A registration for `config`.
    pub fn new(config: &UeConfig, digest: DigestClient, ids: &mut Ids) -> Registration {
        Registration {
            state: RegistrationState::Unregistered,
            procedure: None,
            call_id: ids.call_id(&config.local_addr.ip().to_string()),
            from_tag: ids.tag(),
            cseq: 0,
            requested: config.expires,
            digest,
            challenges: 0,
            refresh_at: None,
            expires: 0,
            service_route: Vec::new(),
            associated_uris: Vec::new(),
            path: Vec::new(),
        }
    }

    /// The state.
    pub fn state(&self) -> RegistrationState {
        self.state
    }
    /// Whether a REGISTER is outstanding.
    pub fn in_progress(&self) -> bool {
        self.procedure.is_some()
    }
    /// The Call-ID of our REGISTERs.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }
    /// Service-Route of the last 200 (RFC 3608): the preloaded Route of originating requests.
    pub fn service_route(&self) -> &[NameAddr] {
        &self.service_route
    }
    /// P-Associated-URI of the last 200 (RFC 7315 §4.1).
    pub fn associated_uris(&self) -> &[String] {
        &self.associated_uris
    }
    /// Path of the last 200 (RFC 3327 §5.3).
    pub fn path(&self) -> &[String] {
        &self.path
    }
    /// The granted expiry in seconds.
    pub fn expires(&self) -> u32 {
        self.expires
    }
    /// When the refresh is due.
    pub fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }
    /// The Digest client (for inspecting the USIM).
    pub fn digest(&mut self) -> &mut DigestClient {
        &mut self.digest
    }

    /// Starts the initial registration (§5.1.1.2) or, when registered, a refresh.
    pub fn start(&mut self, config: &UeConfig, ids: &mut Ids) -> Message {
        let procedure = if self.state == RegistrationState::Registered {
            Procedure::Refresh
        } else {
            self.state = RegistrationState::Registering;
            self.digest.reset();
            Procedure::Register
        };
        self.begin(procedure, config, ids)
    }

    /// Starts the refresh when its time has come (§5.1.1.4.1).
    pub fn poll_refresh(
        &mut self,
        now: Instant,
        config: &UeConfig,
        ids: &mut Ids,
    ) -> Option<Message> {
        let due = self.refresh_at.is_some_and(|at| at <= now);
        if !due || self.procedure.is_some() || self.state != RegistrationState::Registered {
            return None;
        }
        self.refresh_at = None;
        Some(self.begin(Procedure::Refresh, config, ids))
    }

    /// Starts de-registration (§5.1.1.6): REGISTER with Expires: 0.
    pub fn deregister(&mut self, config: &UeConfig, ids: &mut Ids) -> Message {
        self.state = RegistrationState::Deregistering;
        self.refresh_at = None;
        self.begin(Procedure::Deregister, config, ids)
    }

    fn begin(&mut self, procedure: Procedure, config: &UeConfig, ids: &mut Ids) -> Message {
        self.procedure = Some(procedure);
        self.challenges = 0;
        // The outcome re-arms the refresh; a stale deadline would keep firing meanwhile.
        self.refresh_at = None;
        let uri = registrar_uri(config);
        let authorization = self
            .digest
            .refresh(config.realm(), &uri, "REGISTER", &ids.cnonce())
            .unwrap_or_else(|_| self.digest.initial(config.realm(), &uri));
        self.build(config, ids, &authorization)
    }

    fn expires_for(&self, procedure: Procedure) -> u32 {
        match procedure {
            Procedure::Deregister => 0,
            Procedure::Register | Procedure::Refresh => self.requested,
        }
    }

    /// A REGISTER (§5.1.1.2.1) with the given Authorization value.
    fn build(&mut self, config: &UeConfig, ids: &mut Ids, authorization: &str) -> Message {
        self.cseq = self.cseq.saturating_add(1);
        let expires = self.expires_for(self.procedure.unwrap_or(Procedure::Register));
        // The home domain is normally a name; an IP literal (lab setups) parses as one.
        let host = Host::parse(&config.home_domain)
            .unwrap_or_else(|_| Host::Domain(config.home_domain.clone()));
        let uri = Uri::sip(host);
        let mut m = Message::request(Method::REGISTER, uri);
        let h = m.headers_mut();
        h.push("Via", &via_value(config, &ids.branch()));
        h.push("Max-Forwards", "70");
        h.push("From", &format!("<{}>;tag={}", config.impu, self.from_tag));
        h.push("To", &format!("<{}>", config.impu));
        h.push("Call-ID", &self.call_id);
        h.push("CSeq", &format!("{} REGISTER", self.cseq));
        h.push("Contact", &register_contact(config));
        h.push("Expires", &expires.to_string());
        h.push("Authorization", authorization);
        let mut supported = vec!["path"];
        if config.outbound {
            supported.push("outbound");
        }
        h.push("Supported", &supported.join(", "));
        h.push("Allow", ALLOW);
        h.push("User-Agent", &config.user_agent);
        m
    }

    /// A final response to our REGISTER arrived. Events go to `events`; the result is the
    /// next REGISTER to send (an answer to a challenge, or a retry), if any.
    pub fn on_final(
        &mut self,
        now: Instant,
        response: &Message,
        config: &UeConfig,
        ids: &mut Ids,
        events: &mut Vec<UeEvent>,
    ) -> Option<Message> {
        let procedure = self.procedure?;
        let status = response
            .status()
            .unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        if status.is_success() {
            self.procedure = None;
            match procedure {
                Procedure::Deregister => self.clear(events),
                Procedure::Register | Procedure::Refresh => {
                    self.registered(now, response, config, events)
                }
            }
            return None;
        }
        match status {
            StatusCode::UNAUTHORIZED if self.challenges < MAX_CHALLENGES => {
                self.challenges += 1;
                if let Some(next) = self.answer_challenge(response, config, ids, events) {
                    return Some(next);
                }
            }
            // RFC 3261 §10.2.8: retry with at least Min-Expires.
            StatusCode::INTERVAL_TOO_BRIEF if procedure != Procedure::Deregister => {
                if let Some(min) = response
                    .headers()
                    .get("Min-Expires")
                    .and_then(|v| MinExpires::parse(v).ok())
                    .filter(|min| min.0 > self.requested)
                {
                    self.requested = min.0;
                    let uri = registrar_uri(config);
                    let auth = self
                        .digest
                        .refresh(config.realm(), &uri, "REGISTER", &ids.cnonce())
                        .unwrap_or_else(|_| self.digest.initial(config.realm(), &uri));
                    return Some(self.build(config, ids, &auth));
                }
            }
            _ => {}
        }
        self.fail(status, events);
        None
    }

    /// The REGISTER transaction timed out (Timer F: 408, §8.1.3.1) or the transport failed
    /// (503, §8.1.3.1).
    pub fn on_failure(&mut self, status: StatusCode, events: &mut Vec<UeEvent>) {
        if self.procedure.is_some() {
            self.fail(status, events);
        }
    }

    fn fail(&mut self, status: StatusCode, events: &mut Vec<UeEvent>) {
        let was = self.procedure.take();
        self.digest.reset();
        self.refresh_at = None;
        if was == Some(Procedure::Deregister) {
            // The binding is gone from our point of view either way (§5.1.1.6 does not
            // retry); report the failure and the end of the registration.
            events.push(UeEvent::RegistrationFailed { status });
            self.clear(events);
        } else {
            self.state = RegistrationState::Unregistered;
            events.push(UeEvent::RegistrationFailed { status });
        }
    }

    fn clear(&mut self, events: &mut Vec<UeEvent>) {
        self.state = RegistrationState::Unregistered;
        self.refresh_at = None;
        self.expires = 0;
        self.service_route.clear();
        self.associated_uris.clear();
        self.path.clear();
        events.push(UeEvent::Deregistered);
    }

    /// §5.1.1.5.1: answer the challenge; §5.1.1.5.3 for MAC and SQN failures.
    fn answer_challenge(
        &mut self,
        response: &Message,
        config: &UeConfig,
        ids: &mut Ids,
        events: &mut Vec<UeEvent>,
    ) -> Option<Message> {
        let (challenge, algorithm) =
            DigestClient::select(response.headers().get_all("WWW-Authenticate")).ok()?;
        let uri = registrar_uri(config);
        let answer = self
            .digest
            .answer(&challenge, algorithm, &uri, "REGISTER", &ids.cnonce())
            .ok()?;
        let header = match answer {
            ChallengeAnswer::Authorized(h) => h,
            ChallengeAnswer::SynchronisationFailure(h) => {
                events.push(UeEvent::SynchronisationFailure);
                h
            }
            ChallengeAnswer::NetworkAuthenticationFailure(h) => {
                events.push(UeEvent::NetworkAuthenticationFailed);
                h
            }
        };
        Some(self.build(config, ids, &header))
    }

    /// §5.1.1.2.1 on a 200: store the registration's data and schedule the refresh.
    fn registered(
        &mut self,
        now: Instant,
        response: &Message,
        config: &UeConfig,
        events: &mut Vec<UeEvent>,
    ) {
        let expires = granted_expires(response, config).unwrap_or(self.requested);
        if expires == 0 {
            // A registrar that grants nothing leaves us unregistered (RFC 3261 §10.2.4).
            self.clear(events);
            return;
        }
        self.state = RegistrationState::Registered;
        self.expires = expires;
        self.refresh_at = Some(now + refresh_delay(expires));
        self.service_route = response.name_addrs("Service-Route").unwrap_or_default();
        self.associated_uris = response
            .headers()
            .values("P-Associated-URI")
            .map(|v| match NameAddr::parse(v) {
                Ok(a) => a.uri.to_string(),
                Err(_) => v.trim().to_owned(),
            })
            .collect();
        self.path = response
            .headers()
            .values("Path")
            .map(str::to_owned)
            .collect();
        events.push(UeEvent::Registered {
            expires,
            associated_uris: self.associated_uris.clone(),
        });
    }
}

/// Methods the UE accepts, for Allow.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// The Digest `uri` and REGISTER Request-URI: the home domain (§5.1.1.2.1).
pub(crate) fn registrar_uri(config: &UeConfig) -> String {
    format!("sip:{}", config.home_domain)
}

/// Our Via for a new client transaction; rport asks for the source port (RFC 3581 §4).
pub(crate) fn via_value(config: &UeConfig, branch: &str) -> String {
    format!(
        "SIP/2.0/{} {};branch={branch};rport",
        config.transport.via_token(),
        config.local_addr
    )
}

/// The Contact URI of this UE.
pub(crate) fn contact_uri(config: &UeConfig) -> String {
    let transport = match config.transport {
        SipTransport::Udp => "",
        SipTransport::Tcp => ";transport=tcp",
    };
    format!(
        "sip:{}@{}{transport}",
        config.contact_user, config.local_addr
    )
}

/// The Contact of REGISTER, with the RFC 5626 instance and reg-id when outbound is on.
fn register_contact(config: &UeConfig) -> String {
    let mut c = format!("<{}>", contact_uri(config));
    if let Some(instance) = &config.instance_id {
        c.push_str(&format!(";+sip.instance=\"<{instance}>\""));
        if let (true, Some(reg_id)) = (config.outbound, config.reg_id) {
            c.push_str(&format!(";reg-id={reg_id}"));
        }
    }
    c
}

/// The expiry the registrar granted our contact: its `expires` parameter in the 200, else
/// the Expires header (RFC 3261 §10.2.4).
fn granted_expires(response: &Message, config: &UeConfig) -> Option<u32> {
    let ours = Uri::parse(&contact_uri(config)).ok()?;
    let from_contact = response.contacts().ok().and_then(|contacts| {
        contacts
            .iter()
            .filter(|c| {
                c.uri().is_some_and(|u| {
                    u.user() == ours.user() && u.host() == ours.host() && u.port() == ours.port()
                })
            })
            .find_map(|c| c.expires().ok().flatten())
    });
    from_contact.or_else(|| {
        response
            .headers()
            .get("Expires")
            .and_then(|v| Expires::parse(v).ok())
            .map(|e| e.0)
    })
}

/// When to refresh (§5.1.1.4.1): 600 s before expiry when the registration lasts more than
/// 1200 s, else at half of it.
pub fn refresh_delay(expires: u32) -> Duration {
    let secs = if expires > 1200 {
        expires - 600
    } else {
        expires / 2
    };
    Duration::from_secs(u64::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_delay_follows_24_229() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(3000));
        assert_eq!(refresh_delay(1201), Duration::from_secs(601));
        assert_eq!(refresh_delay(1200), Duration::from_secs(600));
        assert_eq!(refresh_delay(60), Duration::from_secs(30));
    }
}
