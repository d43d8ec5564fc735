//! The S-CSCF as an [`ims_node::function::Function`]: the registrar (TS 24.229 §5.4.1) and
//! session routing (§5.4.3) on the RFC 3261 §16 proxy the runner owns.
//!
//! Per request (one proxy response context):
//! - REGISTER goes to the sans-IO [`Registrar`]; its [`Action`]s become proxy responses, Cx
//!   requests ([`Effects::send_cx`]) and store operations (handed to the store sink the binary
//!   installs, see [`Scscf::with_store_sink`]);
//! - a request with a To tag (in dialog) and an ACK follow their Route set (RFC 3261 §16.12),
//!   Record-Routed by us when the dialog was created;
//! - an initial request whose removed Route is our Service-Route is originating
//!   ([`crate::originating`]), anything else addressed to a public identity is terminating
//!   ([`crate::terminating`]); both are Record-Routed.
//!
//! Time: the registrar works on wall-clock `SystemTime` (expiry times are stored), the proxy on
//! `Instant`. The function maps one to the other with a fixed offset taken at construction, so
//! it stays deterministic under the virtual clock of `ims_node::testing`.
//!
//! A terminating request for an identity with no registration here asks the HSS with a SAR of
//! type UNREGISTERED_USER (TS 29.228 §6.1.2): DIAMETER_ERROR_USER_UNKNOWN gives 404, success
//! gives 480 (unregistered-user services, which would run the iFCs, are not implemented).
//!
//! Out of scope for now: iFC evaluation and ISC (application servers), reg-event (RFC 3680)
//! subscriptions and notifications, network-initiated de-registration (RTR) and profile
//! updates (PPR) — the HSS's requests are not served.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use ims_diameter::cx::{
    RequestCommon, ServerAssignmentAnswer, ServerAssignmentRequest, ServerAssignmentType,
    UserDataAlreadyAvailable,
};
use ims_diameter::Command;
use ims_node::function::{CxOutcome, CxToken, Effects, Function};
use ims_sip::header::NameAddr;
use ims_sip::proxy::{
    ContextId, Forking, ForwardOptions, Proxy, ProxyEvent, Target as ProxyTarget,
};
use ims_sip::{Message, Method, StatusCode, Uri};
use ims_transport::Target;

use crate::error::RegisterError;
use crate::identity::impu_key;
use crate::originating::{self, OriginatingRoute};
use crate::register::{Action, Registrar};
use crate::routing::{
    destination, resolve_uri, strip_own_routes, uri_transport, via_destination, RoutingConfig,
    SessionError,
};
use crate::store::StoreOp;
use crate::terminating::Fork;

/// Receives the registrar's storage changes in order (the binary forwards them to the
/// database task).
pub type StoreSink = Box<dyn FnMut(StoreOp) + Send>;

/// The S-CSCF procedures; see the [module docs](self).
pub struct Scscf {
    routing: RoutingConfig,
    registrar: Registrar,
    /// The instant and wall-clock time taken together at construction.
    epoch: (Instant, SystemTime),
    /// `<Origin-Host>;<boot>`: the fixed part of our own Session-Ids (RFC 6733 §8.8).
    session_prefix: String,
    next_id: u64,
    store: Option<StoreSink>,
    /// Outstanding Cx requests by the token the runner knows.
    cx: HashMap<CxToken, PendingCx>,
    /// Terminating forks in progress.
    forks: HashMap<ContextId, ForkJob>,
}

/// What an outstanding Cx request is for.
#[derive(Debug)]
enum PendingCx {
    /// The registrar's request `token`, sent while handling the REGISTER of `context`
    /// (`None`: a timer's SAR nobody waits for).
    Registrar {
        token: crate::register::CxToken,
        context: Option<ContextId>,
    },
    /// SAR UNREGISTERED_USER for a terminating request to an identity not registered here.
    Unregistered { context: ContextId },
}

/// A terminating fork and the options its branches were sent with (reused for alternate
/// flows).
struct ForkJob {
    fork: Fork,
    options: ForwardOptions,
}

impl Scscf {
    /// The S-CSCF around `registrar` (restored from storage already, if it persists).
    /// `now` and `wall_clock` are the same moment on the two clocks: the runner's instants are
    /// mapped to the registrar's wall-clock times with this offset.
    pub fn new(
        routing: RoutingConfig,
        registrar: Registrar,
        now: Instant,
        wall_clock: SystemTime,
    ) -> Self {
        let boot = wall_clock
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let session_prefix = format!("{};{boot}", registrar.config().origin_host);
        Scscf {
            routing,
            registrar,
            epoch: (now, wall_clock),
            session_prefix,
            next_id: 0,
            store: None,
            cx: HashMap::new(),
            forks: HashMap::new(),
        }
    }

    /// Sends every storage change of the registrar to `sink`, in order. Without a sink the
    /// registrations live in memory only.
    pub fn with_store_sink(mut self, sink: impl FnMut(StoreOp) + Send + 'static) -> Self {
        self.store = Some(Box::new(sink));
        self
    }

    /// The registrar, to inspect registrations.
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// The routing configuration.
    pub fn routing(&self) -> &RoutingConfig {
        &self.routing
    }

    /// Terminating forks in progress.
    pub fn forks_in_progress(&self) -> usize {
        self.forks.len()
    }

    /// The wall-clock time of `now`.
    fn wall(&self, now: Instant) -> SystemTime {
        let (at, wall) = self.epoch;
        let mapped = match now.checked_duration_since(at) {
            Some(ahead) => wall.checked_add(ahead),
            None => wall.checked_sub(at.duration_since(now)),
        };
        // Only absurd instants (centuries away) fall outside SystemTime's range.
        mapped.unwrap_or(wall)
    }

    /// The instant of wall-clock time `t` (never before the epoch instant: an overdue timer
    /// fires at once).
    fn instant(&self, t: SystemTime) -> Instant {
        let (at, wall) = self.epoch;
        let ahead = t.duration_since(wall).unwrap_or(Duration::ZERO);
        at.checked_add(ahead).unwrap_or(at)
    }

    fn next_token(&mut self) -> CxToken {
        self.next_id += 1;
        CxToken(self.next_id)
    }

    // ---- registrar -------------------------------------------------------------------

    /// Carries out the registrar's actions; responses answer `context`.
    fn apply(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: Option<ContextId>,
        actions: Vec<Action>,
        effects: &mut Effects,
    ) {
        for action in actions {
            match action {
                Action::Respond(response) => match context {
                    Some(context) => {
                        if let Err(error) = proxy.respond(now, context, response) {
                            tracing::debug!(%error, "REGISTER response not sent");
                        }
                    }
                    None => tracing::warn!("registrar response without a request dropped"),
                },
                Action::CxRequest { token, message } => {
                    let id = self.next_token();
                    self.cx.insert(id, PendingCx::Registrar { token, context });
                    // The Diameter client assigns Hop-by-Hop and End-to-End identifiers.
                    effects.send_cx(id, message.to_message(0, 0));
                }
                Action::Store(op) => {
                    if let Some(sink) = self.store.as_mut() {
                        sink(op);
                    }
                }
            }
        }
    }

    // ---- requests --------------------------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: Message,
        removed_route: Option<NameAddr>,
        effects: &mut Effects,
    ) {
        if request.method() == Some(&Method::REGISTER) {
            let actions = self.registrar.handle_register(self.wall(now), request);
            self.apply(now, proxy, Some(context), actions, effects);
            return;
        }
        let in_dialog = request.to().is_ok_and(|to| to.tag().is_some());
        let originating = !in_dialog && originating::is_originating(removed_route.as_ref());
        let result = match &removed_route {
            Some(removed) if originating => {
                self.originating(now, proxy, context, &request, removed, effects)
            }
            // RFC 3261 §16.12: in dialog, the route set (our Record-Route removed) decides;
            // out of dialog a Route left after ours is a preloaded route through us.
            Some(_) if in_dialog || has_route(&request) => {
                self.follow_route(now, proxy, context, &request)
            }
            // Not routed through us: we are not on this dialog's path, and the S-CSCF is no
            // open relay.
            None if in_dialog || has_route(&request) => Err(SessionError::Forbidden(
                "request not routed through this S-CSCF".into(),
            )),
            _ => self.terminating(now, proxy, context, &request, effects),
        };
        if let Err(error) = result {
            reject(now, proxy, context, &error);
        }
    }

    /// Forwards along the first remaining Route value, or to the Request-URI without one.
    fn follow_route(
        &self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
    ) -> Result<(), SessionError> {
        let mut request = request.clone();
        if strip_own_routes(proxy.config(), &mut request) > 0 {
            if let Some(kept) = proxy.request_mut(context) {
                *kept = request.clone();
            }
        }
        let target = self.route_target(&request)?;
        proxy.forward(now, context, vec![target], ForwardOptions::default())?;
        Ok(())
    }

    /// The target of a request routed by its Route set (§16.6 step 7, §16.12).
    fn route_target(&self, request: &Message) -> Result<ProxyTarget<Target>, SessionError> {
        let request_uri = request
            .request_uri()
            .cloned()
            .ok_or_else(|| SessionError::BadRequest("no Request-URI".into()))?;
        let routes = request
            .name_addrs("Route")
            .map_err(|e| SessionError::BadRequest(format!("Route: {e}")))?;
        let hop = routes.first().map_or(&request_uri, |r| &r.uri);
        let addr = resolve_uri(hop, &self.routing.hosts)?;
        Ok(target(request_uri.clone(), hop, addr))
    }

    /// TS 24.229 §5.4.3.2.
    fn originating(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
        removed: &NameAddr,
        effects: &mut Effects,
    ) -> Result<(), SessionError> {
        let served = originating::check(&self.registrar, request, removed)?;
        let request_uri = request
            .request_uri()
            .cloned()
            .ok_or_else(|| SessionError::BadRequest("no Request-URI".into()))?;
        tracing::debug!(%served, to = %request_uri, "originating request");
        match originating::route(&self.routing, &self.registrar, &request_uri)? {
            OriginatingRoute::Next(hop) => {
                let addr = resolve_uri(&hop, &self.routing.hosts)?;
                let target =
                    target(request_uri, &hop, addr).with_route(vec![NameAddr::new(hop.clone())]);
                let options = ForwardOptions {
                    record_route: Some(proxy.config().record_route_uri()),
                    ..ForwardOptions::default()
                };
                proxy.forward(now, context, vec![target], options)?;
                Ok(())
            }
            OriginatingRoute::Terminating => {
                self.terminating(now, proxy, context, request, effects)
            }
        }
    }

    /// TS 24.229 §5.4.3.3.
    fn terminating(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
        effects: &mut Effects,
    ) -> Result<(), SessionError> {
        let request_uri = request
            .request_uri()
            .cloned()
            .ok_or_else(|| SessionError::BadRequest("no Request-URI".into()))?;
        if request_uri.user().is_none() && proxy.config().is_me(&request_uri) {
            // Addressed to this S-CSCF itself (e.g. an OPTIONS keep-alive).
            return match request.method() {
                Some(m) if *m == Method::OPTIONS => {
                    respond(now, proxy, context, StatusCode::OK, "OK");
                    Ok(())
                }
                _ => Err(SessionError::NotFound("no user part".into())),
            };
        }
        let identity = impu_key(&request_uri);
        let bindings = match self.registrar.terminating_bindings(&identity) {
            Ok(bindings) => bindings,
            Err(_) => match self.registrar.registration(&identity) {
                // §5.4.3.3: a barred public identity is not reachable at all.
                Some(reg) if reg.is_barred(&identity) => {
                    return Err(SessionError::NotFound(format!("{identity} is barred")));
                }
                Some(_) => {
                    return Err(SessionError::TemporarilyUnavailable(format!(
                        "{identity} has no reachable contact"
                    )));
                }
                None => {
                    self.ask_unregistered(context, &identity, effects);
                    return Ok(());
                }
            },
        };
        let fork = Fork::plan(&bindings, &self.routing.hosts)?;
        tracing::debug!(%identity, targets = fork.targets.len(), "terminating fork");
        let options = ForwardOptions {
            record_route: Some(proxy.config().record_route_uri()),
            // §5.4.3.3: the callee learns which of its identities was called, since the
            // Request-URI becomes the contact.
            remove_headers: vec!["P-Called-Party-ID".into()],
            add_headers: vec![(
                "P-Called-Party-ID".into(),
                NameAddr::new(request_uri.clone()).to_string(),
            )],
            forking: Forking::ByQValue,
            // Held so a 430 on the last pending flow can still be retried on another.
            hold_final: true,
            ..ForwardOptions::default()
        };
        proxy.forward(now, context, fork.targets.clone(), options.clone())?;
        self.forks.insert(context, ForkJob { fork, options });
        Ok(())
    }

    /// SAR UNREGISTERED_USER (TS 29.228 §6.1.2) for a terminating request to `identity`.
    fn ask_unregistered(&mut self, context: ContextId, identity: &str, effects: &mut Effects) {
        let token = self.next_token();
        let config = self.registrar.config();
        let sar = ServerAssignmentRequest {
            common: RequestCommon {
                session_id: format!("{};{}", self.session_prefix, token.0),
                origin_host: config.origin_host.clone(),
                origin_realm: config.origin_realm.clone(),
                destination_host: config.destination_host.clone(),
                destination_realm: config.destination_realm.clone(),
                supported_features: Vec::new(),
            },
            user_name: None,
            public_identities: vec![identity.to_owned()],
            wildcarded_public_identity: None,
            server_name: config.server_name.clone(),
            server_assignment_type: ServerAssignmentType::UNREGISTERED_USER,
            user_data_already_available: UserDataAlreadyAvailable::USER_DATA_NOT_AVAILABLE,
            multiple_registration_indication: None,
            session_priority: None,
            sar_flags: None,
            extra: Vec::new(),
        };
        self.cx.insert(token, PendingCx::Unregistered { context });
        effects.send_cx(token, sar.to_message(0, 0));
    }

    /// The SAA of [`Scscf::ask_unregistered`]: 404 for an unknown user, 480 for a known one.
    fn on_unregistered_answer(
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        outcome: &CxOutcome,
    ) {
        let result = match outcome {
            CxOutcome::Answer(answer) => ServerAssignmentAnswer::from_message(answer)
                .map_err(|e| RegisterError::Hss(format!("undecodable SAA: {e}")))
                .and_then(|saa| RegisterError::check_cx_result(&saa.common.result)),
            CxOutcome::Failed { .. } => Err(RegisterError::HssUnavailable),
        };
        let error = match result {
            Ok(()) => SessionError::TemporarilyUnavailable(
                "not registered (unregistered-user services not provided)".into(),
            ),
            Err(RegisterError::UserUnknown(_)) => SessionError::NotFound("user unknown".into()),
            Err(RegisterError::HssUnavailable) => {
                SessionError::Proxy("HSS unavailable".into(), StatusCode::SERVICE_UNAVAILABLE)
            }
            Err(other) => SessionError::TemporarilyUnavailable(other.to_string()),
        };
        reject(now, proxy, context, &error);
    }

    // ---- responses and the rest ------------------------------------------------------

    /// RFC 5626 §5.3: 430 from the edge proxy: try the instance's next flow.
    fn on_branch_response(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        target: &Uri,
        response: &Message,
    ) {
        if response.status() != Some(StatusCode::FLOW_FAILED) {
            return;
        }
        let Some(job) = self.forks.get_mut(&context) else {
            return;
        };
        let Some(next) = job.fork.next_flow(target) else {
            return;
        };
        tracing::info!(failed = %target, next = %next.uri, "flow failed, trying the next flow");
        if let Err(error) = proxy.forward(now, context, vec![next], job.options.clone()) {
            tracing::debug!(%error, "next flow not tried");
        }
    }

    /// Every branch failed (we hold finals): a 430 never goes upstream (it is about a hop the
    /// caller cannot act on, RFC 5626 §5.3); the callee is then unavailable.
    fn on_exhausted(now: Instant, proxy: &mut Proxy<Target>, context: ContextId, best: &Message) {
        if best.status() == Some(StatusCode::FLOW_FAILED) {
            respond(
                now,
                proxy,
                context,
                StatusCode::TEMPORARILY_UNAVAILABLE,
                "No flow to the user",
            );
        } else if let Err(error) = proxy.send_best(now, context) {
            // A later forward (another flow) is running: its result will come.
            tracing::debug!(%error, "best response not sent");
        }
    }

    /// §16.11: an ACK for a 2xx follows its Route set statelessly.
    fn on_ack(&self, proxy: &mut Proxy<Target>, mut request: Message) {
        strip_own_routes(proxy.config(), &mut request);
        match self.route_target(&request) {
            Ok(target) => {
                if let Err(error) =
                    proxy.forward_stateless(&request, target, &ForwardOptions::default())
                {
                    tracing::debug!(%error, "ACK not forwarded");
                }
            }
            Err(error) => tracing::debug!(%error, "ACK dropped"),
        }
    }
}

impl Function for Scscf {
    fn handle_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: ProxyEvent<Target>,
        effects: &mut Effects,
    ) {
        match event {
            ProxyEvent::Request {
                context,
                request,
                removed_route,
                ..
            } => self.on_request(now, proxy, context, request, removed_route, effects),
            ProxyEvent::BranchResponse {
                branch,
                target,
                response,
            } => self.on_branch_response(now, proxy, branch.context, &target, &response),
            ProxyEvent::BranchesExhausted { context, best } => {
                Self::on_exhausted(now, proxy, context, &best)
            }
            ProxyEvent::Ack { request, .. } => self.on_ack(proxy, request),
            ProxyEvent::StrayResponse { response } => {
                let Ok(via) = response.top_via() else {
                    return;
                };
                if let Some(destination) = via_destination(&via, &self.routing.hosts) {
                    proxy.send_stateless(destination, response);
                }
            }
            ProxyEvent::Response { context, response } => {
                // Not asked for (review_responses is never set); pass it on unchanged.
                let _ = proxy.send_upstream(now, context, response);
            }
            ProxyEvent::Cancelled { context } | ProxyEvent::Finished { context } => {
                // The proxy answered 487 itself if nothing was forwarded yet (§16.10); a SAR
                // still out for this request has nobody to answer any more.
                self.forks.remove(&context);
                self.cx.retain(
                    |_, p| !matches!(p, PendingCx::Unregistered { context: c } if *c == context),
                );
            }
        }
    }

    fn handle_cx(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        token: CxToken,
        outcome: CxOutcome,
        effects: &mut Effects,
    ) {
        match self.cx.remove(&token) {
            None => tracing::debug!(?token, "Cx outcome for no outstanding request"),
            Some(PendingCx::Registrar { token, context }) => {
                let wall = self.wall(now);
                let actions = match &outcome {
                    CxOutcome::Answer(answer) => {
                        self.registrar.handle_cx_answer(wall, token, answer)
                    }
                    CxOutcome::Failed {
                        result_code,
                        reason,
                    } => {
                        tracing::warn!(result_code, %reason, "Cx request failed");
                        self.registrar.handle_cx_failure(wall, token)
                    }
                };
                self.apply(now, proxy, context, actions, effects);
            }
            Some(PendingCx::Unregistered { context }) => {
                Self::on_unregistered_answer(now, proxy, context, &outcome)
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant, proxy: &mut Proxy<Target>, effects: &mut Effects) {
        let actions = self.registrar.handle_timeout(self.wall(now));
        self.apply(now, proxy, None, actions, effects);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.registrar.poll_timeout().map(|t| self.instant(t))
    }
}

fn has_route(request: &Message) -> bool {
    request.headers().get("Route").is_some()
}

/// A target with Request-URI `uri`, sent to `addr` over the transport `hop` asks for.
fn target(uri: Uri, hop: &Uri, addr: std::net::SocketAddr) -> ProxyTarget<Target> {
    let transport = uri_transport(hop);
    let mut target =
        ProxyTarget::new(uri, destination(transport, addr)).reliable(transport.is_stream());
    target.transport = Some(transport.as_via_str().to_owned());
    target
}

fn reject(now: Instant, proxy: &mut Proxy<Target>, context: ContextId, error: &SessionError) {
    tracing::info!(%error, "request answered by the S-CSCF");
    respond(now, proxy, context, error.status(), &error.to_string());
}

fn respond(
    now: Instant,
    proxy: &mut Proxy<Target>,
    context: ContextId,
    status: StatusCode,
    reason: &str,
) {
    let Ok(mut response) = proxy.response(context, status) else {
        return;
    };
    // A reason phrase is one line of text (RFC 3261 §25.1).
    let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
    response.set_reason(&reason);
    if let Err(error) = proxy.respond(now, context, response) {
        tracing::debug!(%error, "response not sent (request cancelled or answered)");
    }
}
