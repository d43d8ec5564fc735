//! The S-CSCF registrar (3GPP TS 24.229 §5.4.1, TS 29.228 §6.1, TS 33.203 §6.1), sans-IO.
//!
//! [`Registrar`] takes REGISTER requests (already past the server transaction), Cx answers and
//! the time, and returns [`Action`]s: Cx requests to send (MAR, SAR), SIP responses, and
//! storage changes. It never reads a clock or a socket: the driver passes `now`, sends what it
//! is told, and reports Cx answers with [`Registrar::handle_cx_answer`] or their absence with
//! [`Registrar::handle_cx_failure`], and calls [`Registrar::handle_timeout`] at
//! [`Registrar::poll_timeout`].
//!
//! ```text
//! REGISTER (no/unknown credentials) -> MAR -> MAA -> 401 (nonce, ck, ik)
//! REGISTER (answer)  -> verify -> SAR REGISTRATION / RE_REGISTRATION -> SAA -> 200 OK
//!                            \-> auts: MAR (RAND||AUTS) -> 401;  wrong: 403 (+ SAR AUTHENTICATION_FAILURE)
//! REGISTER Expires 0 -> SAR USER_DEREGISTRATION -> 200 OK
//! binding expiry     -> SAR TIMEOUT_DEREGISTRATION;  challenge expiry -> SAR AUTHENTICATION_TIMEOUT
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use bytes::Bytes;
use ims_diameter::cx::{
    ChargingInformation, MultimediaAuthAnswer, MultimediaAuthRequest, RequestCommon,
    ServerAssignmentAnswer, ServerAssignmentRequest, ServerAssignmentType, SipAuthDataItem,
    UserDataAlreadyAvailable,
};
use ims_diameter::Command;
use ims_sip::header::{split_commas, NameAddr};
use ims_sip::{Message, Method, StatusCode, Uri};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tracing::{debug, info, warn};

use crate::auth::{
    auth_scheme_for, hex, unhex, ChallengeSecret, ChallengeState, DigestCredentials,
    PendingChallenge, Verdict,
};
use crate::bindings::{self, Binding, BindingUpdate, UpdateContext};
use crate::config::RegistrarConfig;
use crate::error::RegisterError;
use crate::identity::{impi_from_impu, impu_key, impu_key_str};
use crate::store::{
    from_ms, to_ms, BindingRecord, ChallengeRecord, RegistrationRecord, StoreOp, StoreSnapshot,
};
use crate::user_data::ImsSubscription;

/// Names one outstanding Cx request; the driver hands it back with the answer.
pub type CxToken = u64;

/// A Cx request for the driver to send to the HSS (TS 29.229 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CxMessage {
    /// Multimedia-Auth-Request.
    Mar(Box<MultimediaAuthRequest>),
    /// Server-Assignment-Request.
    Sar(Box<ServerAssignmentRequest>),
}

impl CxMessage {
    /// The Diameter message with the identifiers the driver's peer assigns.
    pub fn to_message(&self, hop_by_hop: u32, end_to_end: u32) -> ims_diameter::Message {
        match self {
            CxMessage::Mar(m) => m.to_message(hop_by_hop, end_to_end),
            CxMessage::Sar(s) => s.to_message(hop_by_hop, end_to_end),
        }
    }

    /// Session-Id.
    pub fn session_id(&self) -> &str {
        match self {
            CxMessage::Mar(m) => &m.common.session_id,
            CxMessage::Sar(s) => &s.common.session_id,
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this Cx request; report the answer with `token`.
    CxRequest {
        /// Correlates the answer.
        token: CxToken,
        /// The request.
        message: CxMessage,
    },
    /// Send this SIP response (to the REGISTER it answers) through its server transaction.
    Respond(Message),
    /// Persist this change.
    Store(StoreOp),
}

/// One registration: an implicit registration set (TS 23.228 §4.3.3.4) and its bindings,
/// shared by every public identity of the set.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The registered public identity (key form, see [`impu_key`]).
    pub impu: String,
    /// Private identity that registered it.
    pub impi: String,
    /// The subscription from the last SAA.
    pub subscription: Option<ImsSubscription>,
    /// Its XML text, kept for storage.
    pub user_data: Option<String>,
    /// P-Charging-Function-Addresses value built from the SAA Charging-Information
    /// (TS 24.229 §5.4.1.2.2, RFC 7315 §4.5).
    pub charging_function_addresses: Option<String>,
    /// Contact bindings.
    pub bindings: Vec<Binding>,
}

impl Registration {
    /// Keys of every identity of the implicit set (the registered one first).
    pub fn implicit_set(&self) -> Vec<String> {
        let mut keys = vec![self.impu.clone()];
        if let Some(s) = &self.subscription {
            for p in s.public_identities() {
                let k = impu_key_str(&p.identity);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// Whether `key` is barred (TS 29.228 Annex B.2.1 BarringIndication).
    pub fn is_barred(&self, key: &str) -> bool {
        self.subscription.as_ref().is_some_and(|s| {
            s.public_identities()
                .any(|p| p.barred && impu_key_str(&p.identity) == key)
        })
    }

    /// The P-Associated-URI list (TS 24.229 §5.4.1.2.2): the non-barred identities of the
    /// implicit set, the registered one first, as the HSS spelled them.
    pub fn associated_uris(&self) -> Vec<String> {
        let Some(s) = &self.subscription else {
            return vec![self.impu.clone()];
        };
        let mut out: Vec<String> = Vec::new();
        let mut first = None;
        for p in s.public_identities().filter(|p| !p.barred) {
            if impu_key_str(&p.identity) == self.impu {
                first = Some(p.identity.clone());
            } else if !out.contains(&p.identity) {
                out.push(p.identity.clone());
            }
        }
        if let Some(f) = first {
            out.insert(0, f);
        }
        out
    }

    /// The earliest binding expiry.
    pub fn next_expiry(&self) -> Option<SystemTime> {
        self.bindings.iter().map(|b| b.expires_at).min()
    }

    fn to_record(&self) -> RegistrationRecord {
        RegistrationRecord {
            impu: self.impu.clone(),
            impi: self.impi.clone(),
            user_data: self.user_data.clone(),
            charging_function_addresses: self.charging_function_addresses.clone(),
            bindings: self
                .bindings
                .iter()
                .map(|b| BindingRecord {
                    contact: b.contact.to_string(),
                    impi: b.impi.clone(),
                    expires_at_ms: to_ms(b.expires_at),
                    q: i64::from(b.q),
                    instance: b.instance.clone(),
                    reg_id: b.reg_id.map(i64::from),
                    path: b.path.join(", "),
                    call_id: b.call_id.clone(),
                    cseq: i64::from(b.cseq),
                })
                .collect(),
        }
    }

    fn from_record(r: &RegistrationRecord) -> Result<Self, String> {
        let subscription = r
            .user_data
            .as_deref()
            .map(ImsSubscription::parse)
            .transpose()
            .map_err(|e| format!("user data: {e}"))?;
        let bindings = r
            .bindings
            .iter()
            .map(|b| {
                Ok(Binding {
                    contact: NameAddr::parse(&b.contact)
                        .map_err(|e| format!("contact {:?}: {e}", b.contact))?,
                    impi: b.impi.clone(),
                    expires_at: from_ms(b.expires_at_ms),
                    q: u16::try_from(b.q).map_err(|_| "q out of range".to_owned())?,
                    instance: b.instance.clone(),
                    reg_id: b
                        .reg_id
                        .map(u32::try_from)
                        .transpose()
                        .map_err(|_| "reg-id out of range".to_owned())?,
                    path: split_commas(&b.path).map(str::to_owned).collect(),
                    call_id: b.call_id.clone(),
                    cseq: u32::try_from(b.cseq).map_err(|_| "cseq out of range".to_owned())?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Registration {
            impu: r.impu.clone(),
            impi: r.impi.clone(),
            subscription,
            user_data: r.user_data.clone(),
            charging_function_addresses: r.charging_function_addresses.clone(),
            bindings,
        })
    }
}

/// What a REGISTER says, read once (RFC 3261 §10.3 steps 1-7 syntax).
#[derive(Debug, Clone)]
struct RegisterRequest {
    impu: String,
    impi: String,
    credentials: Option<DigestCredentials>,
    call_id: String,
    cseq: u32,
    path: Vec<String>,
    update: BindingUpdate,
}

impl RegisterRequest {
    fn parse(request: &Message, cfg: &RegistrarConfig) -> Result<Self, RegisterError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            RegisterError::BadRequest(format!("{what}: {e}"))
        };
        if request.method() != Some(&Method::REGISTER) {
            return Err(RegisterError::BadRequest("not a REGISTER".into()));
        }
        let to = request.to().map_err(|e| bad("To", &e))?;
        let impu = impu_key(to.uri());
        let cseq = request.cseq().map_err(|e| bad("CSeq", &e))?;
        let call_id = request
            .call_id()
            .map_err(|e| bad("Call-ID", &e))?
            .to_owned();
        // Path values are validated, then kept as received (RFC 3327 §5.3: echoed and used
        // verbatim as the route set towards the UE).
        let path: Vec<String> = request
            .headers()
            .values("Path")
            .map(str::to_owned)
            .collect();
        for p in &path {
            NameAddr::parse(p).map_err(|e| bad("Path", &e))?;
        }
        let credentials = DigestCredentials::from_request(request)?;
        let impi = match &credentials {
            Some(c) if !c.username.is_empty() => c.username.clone(),
            _ => impi_from_impu(to.uri()),
        };
        Ok(RegisterRequest {
            impu,
            impi,
            credentials,
            call_id,
            cseq: cseq.seq,
            path,
            update: BindingUpdate::from_request(request, cfg.default_expires)?,
        })
    }
}

/// A new challenge to send instead of accepting an Authorization.
#[derive(Debug, Clone)]
struct Rechallenge {
    /// SIP-Authentication-Scheme of the MAR.
    scheme: String,
    /// RAND ‖ AUTS when the UE asked for resynchronisation (RFC 3310 §3.4).
    resync: Option<ims_aka::ResynchronisationInfo>,
    /// `stale=TRUE` in the 401 (RFC 2617 §3.2.1).
    stale: bool,
}

/// Why a Cx request is outstanding.
#[derive(Debug, Clone)]
enum PendingCx {
    /// MAR for a REGISTER that will get a 401.
    Mar {
        request: Message,
        reg: RegisterRequest,
        stale: bool,
    },
    /// SAR for an authenticated REGISTER.
    Sar {
        request: Message,
        reg: RegisterRequest,
        assignment: ServerAssignmentType,
    },
    /// SAR nobody waits for (timeouts, authentication failure).
    Notify { assignment: ServerAssignmentType },
}

/// The registrar state machine. See the module documentation.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    service_route: String,
    server_uri: Uri,
    rng: StdRng,
    boot_id: u64,
    next_token: CxToken,
    next_session: u64,
    registrations: BTreeMap<String, Registration>,
    /// Every identity of every implicit set -> the key of its registration.
    index: BTreeMap<String, String>,
    challenges: BTreeMap<String, PendingChallenge>,
    /// Deadlines: the earliest binding expiry of each registration and each challenge's
    /// [`PendingChallenge::deadline`], kept in step with those maps.
    timers: BTreeSet<(SystemTime, Timer)>,
    /// Nonces of the challenges of each IMPI (for [`RegistrarConfig::max_challenges_per_user`]).
    user_challenges: BTreeMap<String, Vec<String>>,
    pending: BTreeMap<CxToken, PendingCx>,
}

/// What a deadline in [`Registrar`]'s timer set belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A registration's next binding expiry.
    Registration(String),
    /// A challenge's expiry or purge.
    Challenge(String),
}

impl Registrar {
    /// A registrar with randomness from the operating system.
    pub fn new(config: RegistrarConfig) -> Result<Self, RegisterError> {
        Self::with_rng(config, StdRng::from_os_rng())
    }

    /// A registrar whose nonces, tags and Session-Ids come from `rng` (seed it in tests for
    /// reproducible runs).
    pub fn with_rng(config: RegistrarConfig, mut rng: StdRng) -> Result<Self, RegisterError> {
        let server_uri = Uri::parse(&config.server_name).map_err(|e| {
            RegisterError::Internal(format!("server_name {:?}: {e}", config.server_name))
        })?;
        // TS 24.229 §5.4.1.2.2: the Service-Route names this S-CSCF so originating requests
        // come back here; the `orig` user part tells them from terminating ones.
        let mut sr = server_uri.clone();
        sr.set_user(Some("orig"));
        sr.params_mut().set("lr", None);
        let boot_id = rng.next_u64();
        Ok(Registrar {
            service_route: format!("<{sr}>"),
            server_uri,
            config,
            rng,
            boot_id,
            next_token: 1,
            next_session: 1,
            registrations: BTreeMap::new(),
            index: BTreeMap::new(),
            challenges: BTreeMap::new(),
            timers: BTreeSet::new(),
            user_challenges: BTreeMap::new(),
            pending: BTreeMap::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The Service-Route value put in 200 OKs.
    pub fn service_route(&self) -> &str {
        &self.service_route
    }

    // -----------------------------------------------------------------------
    // Inputs
    // -----------------------------------------------------------------------

    /// Processes a REGISTER (TS 24.229 §5.4.1.2).
    pub fn handle_register(&mut self, now: SystemTime, request: Message) -> Vec<Action> {
        let mut out = Vec::new();
        if let Err(e) = self.register(now, &request, &mut out) {
            info!(error = %e, "REGISTER rejected");
            out.push(Action::Respond(self.error_response(&request, &e)));
        }
        out
    }

    /// Processes the Cx answer to the request sent with `token`.
    pub fn handle_cx_answer(
        &mut self,
        now: SystemTime,
        token: CxToken,
        answer: &ims_diameter::Message,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(pending) = self.pending.remove(&token) else {
            debug!(token, "Cx answer for no outstanding request");
            return out;
        };
        match pending {
            PendingCx::Mar {
                request,
                reg,
                stale,
            } => {
                if let Err(e) = self.on_maa(now, &request, &reg, stale, answer, &mut out) {
                    info!(error = %e, impu = %reg.impu, "MAA: REGISTER rejected");
                    out.push(Action::Respond(self.error_response(&request, &e)));
                }
            }
            PendingCx::Sar {
                request,
                reg,
                assignment,
            } => {
                if let Err(e) = self.on_saa(now, &request, &reg, assignment, answer, &mut out) {
                    info!(error = %e, impu = %reg.impu, "SAA: REGISTER rejected");
                    out.push(Action::Respond(self.error_response(&request, &e)));
                }
            }
            PendingCx::Notify { assignment } => {
                match ServerAssignmentAnswer::from_message(answer) {
                    Ok(saa) if saa.common.result.is_success() => {}
                    Ok(saa) => warn!(?assignment, result = ?saa.common.result, "SAA failed"),
                    Err(e) => warn!(?assignment, error = %e, "undecodable SAA"),
                }
            }
        }
        out
    }

    /// The Cx request `token` got no answer (timeout, peer down): the REGISTER it served fails
    /// with 503, except a de-registration, which completes locally (TS 24.229 §5.4.1.4: the
    /// user is de-registered whatever the HSS says).
    pub fn handle_cx_failure(&mut self, now: SystemTime, token: CxToken) -> Vec<Action> {
        let mut out = Vec::new();
        match self.pending.remove(&token) {
            None => {}
            Some(PendingCx::Notify { assignment }) => {
                warn!(?assignment, "SAR not answered");
            }
            Some(PendingCx::Sar {
                request,
                reg,
                assignment,
            }) if assignment == ServerAssignmentType::USER_DEREGISTRATION => {
                if let Err(e) = self.complete_update(now, &request, &reg, None, &mut out) {
                    out.push(Action::Respond(self.error_response(&request, &e)));
                }
            }
            Some(PendingCx::Mar { request, .. }) | Some(PendingCx::Sar { request, .. }) => {
                out.push(Action::Respond(
                    self.error_response(&request, &RegisterError::HssUnavailable),
                ));
            }
        }
        out
    }

    /// Expires bindings (SAR TIMEOUT_DEREGISTRATION when a registration loses its last one,
    /// TS 24.229 §5.4.1.6) and challenges (SAR AUTHENTICATION_TIMEOUT for a user not
    /// registered, TS 29.228 §6.1.2), and forgets used challenges. Only due timers are
    /// visited: the cost does not grow with the number of registrations.
    pub fn handle_timeout(&mut self, now: SystemTime) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some((due, timer)) = self.timers.first().cloned() {
            if due > now {
                break;
            }
            self.timers.remove(&(due, timer.clone()));
            match timer {
                Timer::Registration(key) => self.registration_timeout(now, key, &mut out),
                Timer::Challenge(nonce) => self.challenge_timeout(now, nonce, &mut out),
            }
        }
        out
    }

    fn registration_timeout(&mut self, now: SystemTime, key: String, out: &mut Vec<Action>) {
        // Its timer was just taken off the set: take the registration out too, so that
        // re-inserting it schedules the next expiry.
        let Some(mut reg) = self.registrations.remove(&key) else {
            return;
        };
        bindings::expire(&mut reg.bindings, now);
        if reg.bindings.is_empty() {
            self.index.retain(|_, k| *k != key);
            info!(impu = %key, "registration expired");
            out.push(Action::Store(StoreOp::RemoveRegistration {
                impu: key.clone(),
            }));
            self.send_notify_sar(
                &reg.impi,
                &key,
                ServerAssignmentType::TIMEOUT_DEREGISTRATION,
                out,
            );
        } else {
            out.push(Action::Store(StoreOp::SaveRegistration(reg.to_record())));
            self.insert_registration(reg);
        }
    }

    fn challenge_timeout(&mut self, now: SystemTime, nonce: String, out: &mut Vec<Action>) {
        let Some(mut ch) = self.remove_challenge(&nonce) else {
            return;
        };
        if ch.state == ChallengeState::Pending && now >= ch.expires_at {
            ch.state = ChallengeState::Expired;
            out.push(Action::Store(StoreOp::SaveChallenge(Box::new(
                challenge_record(&ch),
            ))));
            if !self.index.contains_key(&ch.impu) {
                self.send_notify_sar(
                    &ch.impi,
                    &ch.impu,
                    ServerAssignmentType::AUTHENTICATION_TIMEOUT,
                    out,
                );
            }
            self.insert_challenge(ch);
        } else if ch.state != ChallengeState::Pending && now >= ch.purge_at {
            out.push(Action::Store(StoreOp::RemoveChallenge { nonce }));
        } else {
            self.insert_challenge(ch);
        }
    }

    /// When [`Registrar::handle_timeout`] has work next.
    pub fn poll_timeout(&self) -> Option<SystemTime> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Rebuilds the state saved in `snapshot` (after a restart). Records that cannot be read
    /// back are skipped with a warning; returns how many registrations were restored.
    pub fn restore(&mut self, snapshot: &StoreSnapshot) -> usize {
        let mut restored = 0;
        for r in &snapshot.registrations {
            match Registration::from_record(r) {
                Ok(reg) => {
                    self.insert_registration(reg);
                    restored += 1;
                }
                Err(e) => warn!(impu = %r.impu, error = %e, "stored registration skipped"),
            }
        }
        for c in &snapshot.challenges {
            match challenge_from_record(c) {
                Some(ch) => self.insert_challenge(ch),
                None => warn!(impi = %c.impi, "stored challenge skipped"),
            }
        }
        restored
    }

    // -----------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------

    /// The bindings reachable for `public_identity` (any identity of an implicit set), best q
    /// first, for terminating routing through each binding's Path (TS 24.229 §5.4.3.3).
    /// Empty when not registered or barred.
    pub fn lookup(&self, public_identity: &str) -> Vec<Binding> {
        let key = impu_key_str(public_identity);
        let Some(reg) = self.registration(&key) else {
            return Vec::new();
        };
        if reg.is_barred(&key) {
            return Vec::new();
        }
        let mut out = reg.bindings.clone();
        out.sort_by_key(|b| std::cmp::Reverse(b.q));
        out
    }

    /// [`Registrar::lookup`] for a terminating request (TS 24.229 §5.4.3.3): no reachable
    /// binding is 480 Temporarily Unavailable.
    pub fn terminating_bindings(
        &self,
        public_identity: &str,
    ) -> Result<Vec<Binding>, RegisterError> {
        let bindings = self.lookup(public_identity);
        if bindings.is_empty() {
            return Err(RegisterError::NotRegistered(impu_key_str(public_identity)));
        }
        Ok(bindings)
    }

    /// The registration serving `public_identity`, if any.
    pub fn registration(&self, public_identity: &str) -> Option<&Registration> {
        let key = impu_key_str(public_identity);
        self.index.get(&key).and_then(|k| self.registrations.get(k))
    }

    /// Every registration, by key.
    pub fn registrations(&self) -> impl Iterator<Item = &Registration> {
        self.registrations.values()
    }

    /// The originating check (TS 24.229 §5.4.3.2): the request came through our Service-Route
    /// (its topmost Route is ours with the `orig` user part) and its asserted identity
    /// (P-Asserted-Identity, else From) is a registered, non-barred identity. Returns that
    /// identity's key.
    pub fn check_originating(&self, request: &Message) -> Result<String, RegisterError> {
        let routes = request
            .name_addrs("Route")
            .map_err(|e| RegisterError::BadRequest(format!("Route: {e}")))?;
        let via_service_route = routes.first().is_some_and(|r| {
            r.uri.user() == Some("orig")
                && r.uri.host() == self.server_uri.host()
                && r.uri.port() == self.server_uri.port()
        });
        if !via_service_route {
            return Err(RegisterError::Forbidden(
                "originating request not received via Service-Route".into(),
            ));
        }
        let identity = match request.headers().values("P-Asserted-Identity").next() {
            Some(v) => {
                NameAddr::parse(v)
                    .map_err(|e| RegisterError::BadRequest(format!("P-Asserted-Identity: {e}")))?
                    .uri
            }
            None => request
                .from()
                .map_err(|e| RegisterError::BadRequest(format!("From: {e}")))?
                .uri()
                .clone(),
        };
        let key = impu_key(&identity);
        match self.registration(&key) {
            Some(reg) if reg.is_barred(&key) => {
                Err(RegisterError::Forbidden(format!("{key} is barred")))
            }
            Some(reg) if !reg.bindings.is_empty() => Ok(key),
            _ => Err(RegisterError::Forbidden(format!("{key} is not registered"))),
        }
    }

    // -----------------------------------------------------------------------
    // REGISTER processing
    // -----------------------------------------------------------------------

    fn register(
        &mut self,
        now: SystemTime,
        request: &Message,
        out: &mut Vec<Action>,
    ) -> Result<(), RegisterError> {
        let reg = RegisterRequest::parse(request, &self.config)?;
        let creds = reg.credentials.clone();
        let pending_nonce = creds.as_ref().and_then(|c| {
            self.challenges
                .get(&c.nonce)
                .filter(|ch| ch.state == ChallengeState::Pending)
                .map(|_| c.nonce.clone())
        });
        // TS 24.229 §5.4.1.2.1: a REGISTER the P-CSCF received over the UE's security
        // association needs no new challenge when the identity is already registered by the
        // same IMPI (unless it answers a challenge we just sent).
        let protected_reregistration = pending_nonce.is_none()
            && creds
                .as_ref()
                .is_some_and(DigestCredentials::integrity_protected)
            && self
                .registration(&reg.impu)
                .is_some_and(|r| r.impi == reg.impi);
        if !protected_reregistration {
            let known = creds
                .as_ref()
                .filter(|c| !c.nonce.is_empty() && self.challenges.contains_key(&c.nonce));
            let Some(c) = known else {
                // No credentials, an empty nonce (initial REGISTER) or a nonce we do not know
                // (forged, or from before a restart without storage): challenge.
                let scheme = self.scheme_for(creds.as_ref());
                self.send_mar(request, reg, &scheme, None, false, out);
                return Ok(());
            };
            if let Some(again) = self.check_challenge(now, c, request, out)? {
                self.send_mar(request, reg, &again.scheme, again.resync, again.stale, out);
                return Ok(());
            }
        }
        reg.update.check_interval(self.config.min_expires)?;
        let existing = self.index.get(&reg.impu).cloned();
        if reg.update == BindingUpdate::Fetch {
            // RFC 3261 §10.2.3: a query; no change, no SAR.
            let r = existing.and_then(|k| self.registrations.get(&k)).cloned();
            out.push(Action::Respond(self.ok_response(
                request,
                r.as_ref(),
                &reg,
                None,
                now,
            )));
            return Ok(());
        }
        // Apply to a copy first: ordering and policy errors are answered before asking the
        // HSS anything, and the SAR type follows from what would be left.
        let mut prospective = existing
            .as_ref()
            .and_then(|k| self.registrations.get(k))
            .map(|r| r.bindings.clone())
            .unwrap_or_default();
        bindings::expire(&mut prospective, now);
        bindings::apply(
            &mut prospective,
            &reg.update,
            &self.update_context(&reg, now),
        )?;
        let assignment = match (existing.is_some(), prospective.is_empty()) {
            (false, true) => {
                // Removing bindings of an identity that has none: nothing to tell the HSS.
                out.push(Action::Respond(self.ok_response(
                    request,
                    None,
                    &reg,
                    Some(0),
                    now,
                )));
                return Ok(());
            }
            (true, true) => ServerAssignmentType::USER_DEREGISTRATION,
            (false, false) => ServerAssignmentType::REGISTRATION,
            (true, false) => ServerAssignmentType::RE_REGISTRATION,
        };
        self.send_sar(request, reg, assignment, out);
        Ok(())
    }

    /// Checks an Authorization whose nonce we know. `Ok(None)`: authenticated; `Ok(Some(..))`:
    /// challenge again.
    fn check_challenge(
        &mut self,
        now: SystemTime,
        creds: &DigestCredentials,
        request: &Message,
        out: &mut Vec<Action>,
    ) -> Result<Option<Rechallenge>, RegisterError> {
        let reg_impu = request
            .to()
            .map(|t| impu_key(t.uri()))
            .map_err(|e| RegisterError::BadRequest(format!("To: {e}")))?;
        // Taken out and put back so the timer set follows its new deadline.
        let Some(mut ch) = self.remove_challenge(&creds.nonce) else {
            return Err(RegisterError::Internal("challenge vanished".into()));
        };
        if ch.impi != creds.username || ch.impu != reg_impu {
            self.insert_challenge(ch);
            return Err(RegisterError::Forbidden(
                "credentials answer a challenge for another identity".into(),
            ));
        }
        let scheme = auth_scheme_for(ch.algorithm).to_owned();
        let verdict = ch.check(creds, "REGISTER", request.body(), now);
        if verdict == Verdict::WrongResponse {
            // TS 24.229 §5.4.1.2.2: RES ≠ XRES -> 403 and the vector is not used again.
            ch.consume(now);
        }
        let record = challenge_record(&ch);
        let (impi, impu) = (ch.impi.clone(), ch.impu.clone());
        self.insert_challenge(ch);
        match verdict {
            Verdict::Authenticated => {
                out.push(Action::Store(StoreOp::SaveChallenge(Box::new(record))));
                Ok(None)
            }
            Verdict::Resynchronise(info) => {
                out.push(Action::Store(StoreOp::SaveChallenge(Box::new(record))));
                Ok(Some(Rechallenge {
                    scheme,
                    resync: Some(info),
                    stale: false,
                }))
            }
            Verdict::Stale => Ok(Some(Rechallenge {
                scheme,
                resync: None,
                stale: true,
            })),
            Verdict::WrongResponse => {
                // TS 29.228 §6.1.2: tell the HSS (AUTHENTICATION_FAILURE) when the user is not
                // registered so it clears the S-CSCF name.
                out.push(Action::Store(StoreOp::SaveChallenge(Box::new(record))));
                if !self.index.contains_key(&impu) {
                    self.send_notify_sar(
                        &impi,
                        &impu,
                        ServerAssignmentType::AUTHENTICATION_FAILURE,
                        out,
                    );
                }
                Err(RegisterError::Forbidden("authentication failed".into()))
            }
            Verdict::Unusable(e) => match e.sip_status() {
                400 => Err(RegisterError::BadRequest(e.to_string())),
                403 => Err(RegisterError::Forbidden(e.to_string())),
                _ => Ok(Some(Rechallenge {
                    scheme,
                    resync: None,
                    stale: false,
                })),
            },
        }
    }

    fn scheme_for(&self, creds: Option<&DigestCredentials>) -> String {
        creds
            .and_then(|c| c.algorithm.as_ref().and(c.algorithm().ok()))
            .map(|a| auth_scheme_for(a).to_owned())
            .unwrap_or_else(|| self.config.default_auth_scheme.clone())
    }

    fn on_maa(
        &mut self,
        now: SystemTime,
        request: &Message,
        reg: &RegisterRequest,
        stale: bool,
        answer: &ims_diameter::Message,
        out: &mut Vec<Action>,
    ) -> Result<(), RegisterError> {
        let maa = MultimediaAuthAnswer::from_message(answer)
            .map_err(|e| RegisterError::Hss(format!("undecodable MAA: {e}")))?;
        RegisterError::check_cx_result(&maa.common.result)?;
        let item = maa
            .sip_auth_data_items
            .first()
            .ok_or_else(|| RegisterError::Hss("MAA without SIP-Auth-Data-Item".into()))?;
        let ch = PendingChallenge::from_cx_item(
            item,
            &reg.impi,
            &reg.impu,
            &self.config,
            now,
            &mut self.rng,
        )?;
        let mut resp = self.base_response(request, StatusCode::UNAUTHORIZED);
        resp.headers_mut()
            .push("WWW-Authenticate", &ch.www_authenticate(stale));
        out.push(Action::Store(StoreOp::SaveChallenge(Box::new(
            challenge_record(&ch),
        ))));
        self.limit_challenges(&reg.impi, out);
        self.insert_challenge(ch);
        out.push(Action::Respond(resp));
        Ok(())
    }

    /// Keeps at most `max_challenges_per_user - 1` older challenges for `impi` before a new one.
    fn limit_challenges(&mut self, impi: &str, out: &mut Vec<Action>) {
        let mut mine: Vec<(SystemTime, String)> = self
            .user_challenges
            .get(impi)
            .into_iter()
            .flatten()
            .filter_map(|n| self.challenges.get(n))
            .map(|c| (c.expires_at, c.nonce.clone()))
            .collect();
        mine.sort();
        let excess = (mine.len() + 1).saturating_sub(self.config.max_challenges_per_user.max(1));
        for (_, nonce) in mine.into_iter().take(excess) {
            self.remove_challenge(&nonce);
            out.push(Action::Store(StoreOp::RemoveChallenge { nonce }));
        }
    }

    fn on_saa(
        &mut self,
        now: SystemTime,
        request: &Message,
        reg: &RegisterRequest,
        assignment: ServerAssignmentType,
        answer: &ims_diameter::Message,
        out: &mut Vec<Action>,
    ) -> Result<(), RegisterError> {
        let saa = ServerAssignmentAnswer::from_message(answer);
        if assignment == ServerAssignmentType::USER_DEREGISTRATION {
            // De-registration completes whatever the HSS answered (TS 24.229 §5.4.1.4).
            if let Err(e) = saa
                .as_ref()
                .map_err(|e| RegisterError::Hss(e.to_string()))
                .and_then(|s| RegisterError::check_cx_result(&s.common.result))
            {
                warn!(error = %e, impu = %reg.impu, "SAA for USER_DEREGISTRATION failed");
            }
            return self.complete_update(now, request, reg, None, out);
        }
        let saa = saa.map_err(|e| RegisterError::Hss(format!("undecodable SAA: {e}")))?;
        RegisterError::check_cx_result(&saa.common.result)?;
        let user_data = match &saa.user_data {
            None => None,
            Some(raw) => {
                let text = std::str::from_utf8(raw)
                    .map_err(|_| RegisterError::Hss("User-Data is not UTF-8".into()))?;
                let sub = ImsSubscription::parse(text)
                    .map_err(|e| RegisterError::Hss(format!("User-Data: {e}")))?;
                Some((text.to_owned(), sub))
            }
        };
        if let Some((_, sub)) = &user_data {
            let barred = sub
                .public_identities()
                .any(|p| p.barred && impu_key_str(&p.identity) == reg.impu);
            if barred {
                // TS 24.229 §5.4.1.2.1: a barred identity cannot be registered; undo the
                // assignment at the HSS for a first registration.
                if assignment == ServerAssignmentType::REGISTRATION {
                    self.send_notify_sar(
                        &reg.impi,
                        &reg.impu,
                        ServerAssignmentType::USER_DEREGISTRATION,
                        out,
                    );
                }
                return Err(RegisterError::Forbidden(format!("{} is barred", reg.impu)));
            }
        }
        let profile = SaaProfile {
            user_data,
            charging_function_addresses: saa
                .charging_information
                .as_ref()
                .and_then(charging_function_addresses),
        };
        self.complete_update(now, request, reg, Some(profile), out)
    }

    /// Applies the binding update of an authenticated REGISTER to the current state, stores
    /// it and answers 200 OK (RFC 3261 §10.3 step 8, TS 24.229 §5.4.1.2.2).
    fn complete_update(
        &mut self,
        now: SystemTime,
        request: &Message,
        reg: &RegisterRequest,
        profile: Option<SaaProfile>,
        out: &mut Vec<Action>,
    ) -> Result<(), RegisterError> {
        let key = self
            .index
            .get(&reg.impu)
            .cloned()
            .unwrap_or_else(|| reg.impu.clone());
        let mut registration = self
            .registrations
            .get(&key)
            .cloned()
            .unwrap_or(Registration {
                impu: key.clone(),
                impi: reg.impi.clone(),
                subscription: None,
                user_data: None,
                charging_function_addresses: None,
                bindings: Vec::new(),
            });
        if let Some(p) = profile {
            if let Some((text, sub)) = p.user_data {
                registration.user_data = Some(text);
                registration.subscription = Some(sub);
            }
            if p.charging_function_addresses.is_some() {
                registration.charging_function_addresses = p.charging_function_addresses;
            }
        }
        bindings::expire(&mut registration.bindings, now);
        let granted = bindings::apply(
            &mut registration.bindings,
            &reg.update,
            &self.update_context(reg, now),
        )?;
        if registration.bindings.is_empty() {
            let existed = self.registrations.contains_key(&key);
            self.remove_registration(&key);
            if existed {
                out.push(Action::Store(StoreOp::RemoveRegistration {
                    impu: key.clone(),
                }));
            }
            info!(impu = %key, "de-registered");
            out.push(Action::Respond(self.ok_response(
                request,
                None,
                reg,
                Some(0),
                now,
            )));
        } else {
            info!(impu = %key, contacts = registration.bindings.len(), "registered");
            out.push(Action::Store(StoreOp::SaveRegistration(
                registration.to_record(),
            )));
            let resp = self.ok_response(request, Some(&registration), reg, Some(granted), now);
            self.insert_registration(registration);
            out.push(Action::Respond(resp));
        }
        Ok(())
    }

    fn update_context<'a>(&self, reg: &'a RegisterRequest, now: SystemTime) -> UpdateContext<'a> {
        UpdateContext {
            impi: &reg.impi,
            call_id: &reg.call_id,
            cseq: reg.cseq,
            path: &reg.path,
            now,
            max_expires: self.config.max_expires,
            max_contacts: self.config.max_contacts,
        }
    }

    fn insert_registration(&mut self, registration: Registration) {
        let key = registration.impu.clone();
        self.index.retain(|_, k| *k != key);
        for id in registration.implicit_set() {
            self.index.insert(id, key.clone());
        }
        if let Some(d) = registration.next_expiry() {
            self.timers.insert((d, Timer::Registration(key.clone())));
        }
        if let Some(old) = self.registrations.insert(key.clone(), registration) {
            self.unschedule_registration(&old);
        }
    }

    fn remove_registration(&mut self, key: &str) {
        if let Some(old) = self.registrations.remove(key) {
            self.unschedule_registration(&old);
        }
        self.index.retain(|_, k| k != key);
    }

    /// Drops `old`'s timer unless the registration now in the map has the same deadline.
    fn unschedule_registration(&mut self, old: &Registration) {
        let Some(d) = old.next_expiry() else {
            return;
        };
        let current = self
            .registrations
            .get(&old.impu)
            .and_then(Registration::next_expiry);
        if current != Some(d) {
            self.timers
                .remove(&(d, Timer::Registration(old.impu.clone())));
        }
    }

    /// Adds a challenge with its timer and its place in the per-IMPI list.
    fn insert_challenge(&mut self, ch: PendingChallenge) {
        let nonce = ch.nonce.clone();
        self.remove_challenge(&nonce);
        self.timers
            .insert((ch.deadline(), Timer::Challenge(nonce.clone())));
        self.user_challenges
            .entry(ch.impi.clone())
            .or_default()
            .push(nonce.clone());
        self.challenges.insert(nonce, ch);
    }

    /// Removes a challenge, its timer and its place in the per-IMPI list.
    fn remove_challenge(&mut self, nonce: &str) -> Option<PendingChallenge> {
        let ch = self.challenges.remove(nonce)?;
        self.timers
            .remove(&(ch.deadline(), Timer::Challenge(nonce.to_owned())));
        if let Some(list) = self.user_challenges.get_mut(&ch.impi) {
            list.retain(|n| n != nonce);
            if list.is_empty() {
                self.user_challenges.remove(&ch.impi);
            }
        }
        Some(ch)
    }

    // -----------------------------------------------------------------------
    // Cx requests
    // -----------------------------------------------------------------------

    fn request_common(&mut self) -> RequestCommon {
        let n = self.next_session;
        self.next_session += 1;
        RequestCommon {
            // RFC 6733 §8.8: <DiameterIdentity>;<high 32 bits>;<low 32 bits>.
            session_id: format!("{};{};{}", self.config.origin_host, self.boot_id >> 32, n),
            origin_host: self.config.origin_host.clone(),
            origin_realm: self.config.origin_realm.clone(),
            destination_host: self.config.destination_host.clone(),
            destination_realm: self.config.destination_realm.clone(),
            supported_features: Vec::new(),
        }
    }

    fn token(&mut self) -> CxToken {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    /// MAR (TS 29.228 §6.3.1, TS 29.229 §6.1.7): one vector of `scheme`; with resynchronisation
    /// data RAND ‖ AUTS in SIP-Authorization.
    fn send_mar(
        &mut self,
        request: &Message,
        reg: RegisterRequest,
        scheme: &str,
        resync: Option<ims_aka::ResynchronisationInfo>,
        stale: bool,
        out: &mut Vec<Action>,
    ) {
        let mar = MultimediaAuthRequest {
            common: self.request_common(),
            user_name: reg.impi.clone(),
            public_identity: reg.impu.clone(),
            sip_auth_data_item: SipAuthDataItem {
                sip_authentication_scheme: Some(scheme.to_owned()),
                sip_authorization: resync.map(|r| Bytes::copy_from_slice(&r.to_bytes())),
                ..SipAuthDataItem::default()
            },
            sip_number_auth_items: 1,
            server_name: self.config.server_name.clone(),
            extra: Vec::new(),
        };
        let token = self.token();
        self.pending.insert(
            token,
            PendingCx::Mar {
                request: request.clone(),
                reg,
                stale,
            },
        );
        out.push(Action::CxRequest {
            token,
            message: CxMessage::Mar(Box::new(mar)),
        });
    }

    fn sar(
        &mut self,
        impi: &str,
        impu: &str,
        assignment: ServerAssignmentType,
    ) -> ServerAssignmentRequest {
        ServerAssignmentRequest {
            common: self.request_common(),
            user_name: Some(impi.to_owned()),
            public_identities: vec![impu.to_owned()],
            wildcarded_public_identity: None,
            server_name: self.config.server_name.clone(),
            server_assignment_type: assignment,
            // TS 29.228 §6.1.2: the profile is downloaded on the first registration only.
            user_data_already_available: if assignment == ServerAssignmentType::REGISTRATION {
                UserDataAlreadyAvailable::USER_DATA_NOT_AVAILABLE
            } else {
                UserDataAlreadyAvailable::USER_DATA_ALREADY_AVAILABLE
            },
            multiple_registration_indication: None,
            session_priority: None,
            sar_flags: None,
            extra: Vec::new(),
        }
    }

    /// SAR for an authenticated REGISTER (TS 29.228 §6.1.2).
    fn send_sar(
        &mut self,
        request: &Message,
        reg: RegisterRequest,
        assignment: ServerAssignmentType,
        out: &mut Vec<Action>,
    ) {
        let sar = self.sar(&reg.impi, &reg.impu, assignment);
        let token = self.token();
        self.pending.insert(
            token,
            PendingCx::Sar {
                request: request.clone(),
                reg,
                assignment,
            },
        );
        out.push(Action::CxRequest {
            token,
            message: CxMessage::Sar(Box::new(sar)),
        });
    }

    fn send_notify_sar(
        &mut self,
        impi: &str,
        impu: &str,
        assignment: ServerAssignmentType,
        out: &mut Vec<Action>,
    ) {
        let sar = self.sar(impi, impu, assignment);
        let token = self.token();
        self.pending.insert(token, PendingCx::Notify { assignment });
        out.push(Action::CxRequest {
            token,
            message: CxMessage::Sar(Box::new(sar)),
        });
    }

    // -----------------------------------------------------------------------
    // Responses
    // -----------------------------------------------------------------------

    /// A response to `request` with a To tag (RFC 3261 §8.2.6.2).
    fn base_response(&mut self, request: &Message, status: StatusCode) -> Message {
        let mut resp = Message::response_to(request, status);
        if let Ok(mut to) = request.to() {
            if to.tag().is_none() {
                let tag = format!("{:016x}", self.rng.next_u64());
                to.set_tag(&tag);
                resp.headers_mut().set("To", &to.to_string());
            }
        }
        resp
    }

    fn error_response(&mut self, request: &Message, error: &RegisterError) -> Message {
        let mut resp = self.base_response(request, error.status());
        if let RegisterError::IntervalTooBrief { min, .. } = error {
            resp.headers_mut().push("Min-Expires", &min.to_string());
        }
        resp
    }

    /// 200 OK to a REGISTER (RFC 3261 §10.3 step 8, RFC 3327 §5.3, TS 24.229 §5.4.1.2.2):
    /// every current binding with its expires, the Path echoed, our Service-Route and the
    /// P-Associated-URI of the implicit set.
    fn ok_response(
        &mut self,
        request: &Message,
        registration: Option<&Registration>,
        reg: &RegisterRequest,
        granted: Option<u32>,
        now: SystemTime,
    ) -> Message {
        let mut resp = self.base_response(request, StatusCode::OK);
        let h = resp.headers_mut();
        if let Some(r) = registration {
            for b in &r.bindings {
                h.push("Contact", &b.contact_value(now));
            }
        }
        for p in &reg.path {
            h.push("Path", p);
        }
        if let Some(r) = registration.filter(|r| !r.bindings.is_empty()) {
            h.push("Service-Route", &self.service_route);
            let uris: Vec<String> = r
                .associated_uris()
                .into_iter()
                .map(|u| format!("<{u}>"))
                .collect();
            if !uris.is_empty() {
                h.push("P-Associated-URI", &uris.join(", "));
            }
            if let Some(cfa) = &r.charging_function_addresses {
                h.push("P-Charging-Function-Addresses", cfa);
            }
        }
        if let Some(g) = granted {
            h.push("Expires", &g.to_string());
        }
        resp
    }
}

/// What an SAA brings besides its result.
#[derive(Debug, Clone)]
struct SaaProfile {
    /// User-Data text and its parse.
    user_data: Option<(String, ImsSubscription)>,
    /// P-Charging-Function-Addresses value.
    charging_function_addresses: Option<String>,
}

/// P-Charging-Function-Addresses (RFC 7315 §4.5) from Charging-Information (TS 29.229
/// §6.3.19): `ecf` for the event charging functions, `ccf` for the collection functions,
/// primary first.
fn charging_function_addresses(ci: &ChargingInformation) -> Option<String> {
    let params: Vec<String> = [
        ("ecf", &ci.primary_event_charging_function_name),
        ("ecf", &ci.secondary_event_charging_function_name),
        ("ccf", &ci.primary_charging_collection_function_name),
        ("ccf", &ci.secondary_charging_collection_function_name),
    ]
    .into_iter()
    .filter_map(|(name, uri)| uri.as_ref().map(|u| format!("{name}=\"{u}\"")))
    .collect();
    (!params.is_empty()).then(|| params.join("; "))
}

/// The storage form of a challenge.
fn challenge_record(c: &PendingChallenge) -> ChallengeRecord {
    let (sip_authenticate, xres, ck, ik, ha1) = match &c.secret {
        ChallengeSecret::Aka {
            sip_authenticate,
            xres,
            ck,
            ik,
        } => (
            Some(hex(sip_authenticate)),
            Some(hex(xres)),
            Some(hex(ck)),
            Some(hex(ik)),
            None,
        ),
        ChallengeSecret::Digest { ha1 } => (None, None, None, None, Some(ha1.clone())),
    };
    ChallengeRecord {
        nonce: c.nonce.clone(),
        impi: c.impi.clone(),
        impu: c.impu.clone(),
        algorithm: c.algorithm.as_str().to_owned(),
        realm: c.realm.clone(),
        qop: c.qop.clone(),
        sip_authenticate,
        xres,
        ck,
        ik,
        ha1,
        expires_at_ms: to_ms(c.expires_at),
        purge_at_ms: to_ms(c.purge_at),
        state: c.state.as_str().to_owned(),
        last_nc: i64::from(c.last_nc),
    }
}

/// Reads a stored challenge back; `None` when a field is corrupt.
fn challenge_from_record(r: &ChallengeRecord) -> Option<PendingChallenge> {
    let algorithm = ims_aka::DigestAlgorithm::parse(&r.algorithm).ok()?;
    let key = |v: &Option<String>| -> Option<[u8; 16]> { unhex(v.as_deref()?)?.try_into().ok() };
    let secret = if algorithm.is_aka() {
        ChallengeSecret::Aka {
            sip_authenticate: unhex(r.sip_authenticate.as_deref()?)?,
            xres: unhex(r.xres.as_deref()?)?,
            ck: key(&r.ck)?,
            ik: key(&r.ik)?,
        }
    } else {
        ChallengeSecret::Digest {
            ha1: r.ha1.clone()?,
        }
    };
    Some(PendingChallenge {
        nonce: r.nonce.clone(),
        impi: r.impi.clone(),
        impu: r.impu.clone(),
        algorithm,
        realm: r.realm.clone(),
        qop: r.qop.clone(),
        secret,
        expires_at: from_ms(r.expires_at_ms),
        purge_at: from_ms(r.purge_at_ms),
        state: ChallengeState::parse(&r.state)?,
        last_nc: u32::try_from(r.last_nc).ok()?,
    })
}
