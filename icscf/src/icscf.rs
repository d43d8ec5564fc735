//! The I-CSCF as a [`Function`]: per request (one proxy response context) it runs the Cx
//! query of its procedure, picks the S-CSCF and forwards, and on an S-CSCF failure during
//! registration picks another (TS 24.229 §5.3.1.3).
//!
//! The I-CSCF never Record-Routes (TS 24.229 §5.3.2.1: it is not on the dialog path unless it
//! provides topology hiding). Topology hiding (THIG) is not implemented.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ims_diameter::cx::{ServerCapabilities, UserAuthorizationType};
use ims_node::function::{CxOutcome, CxToken, Effects, Function};
use ims_sip::header::NameAddr;
use ims_sip::proxy::{
    ContextId, Forking, ForwardOptions, Proxy, ProxyEvent, Target as ProxyTarget,
};
use ims_sip::{Host, Message, Method, StatusCode, Uri};
use ims_transport::{Target, Transport};

use crate::config::Settings;
use crate::cx::{interpret_lia, interpret_uaa, lir, uar, ServerAssignment};
use crate::error::IcscfError;
use crate::register::{triggers_reselection, RegisterQuery};
use crate::routing::{destination, resolve_uri, uri_transport};
use crate::selection::{by_capabilities, by_name, same_server, Candidate};
use crate::terminating::{classify, Disposition};

/// The I-CSCF procedures: per request the Cx query of its procedure, S-CSCF choice,
/// forwarding, and re-selection when a registration's S-CSCF fails. Never Record-Routes.
pub struct Icscf {
    settings: Settings,
    /// `<Origin-Host>;<boot>` — the fixed part of our Session-Ids (RFC 6733 §8.8).
    session_prefix: String,
    next_id: u64,
    jobs: HashMap<ContextId, Job>,
    waiting: HashMap<CxToken, ContextId>,
}

#[derive(Debug)]
enum Procedure {
    /// §5.3.1: a REGISTER and its UAR parameters.
    Register(RegisterQuery),
    /// §5.3.2: an initial request for a home user.
    Terminating,
}

/// The state of one request in progress.
#[derive(Debug)]
struct Job {
    procedure: Procedure,
    /// The S-CSCFs this request was forwarded to (never selected twice, §5.3.1.3).
    tried: Vec<Uri>,
    /// The capabilities the HSS returned, kept for re-selection.
    capabilities: Option<ServerCapabilities>,
    /// A UAR with REGISTRATION_AND_CAPABILITIES was sent already.
    asked_capabilities: bool,
    /// The final status of the latest branch.
    last_status: Option<StatusCode>,
}

impl Icscf {
    /// `boot` distinguishes this run's Session-Ids from earlier runs' (e.g. the start time in
    /// seconds).
    pub fn new(settings: Settings, boot: u32) -> Self {
        let session_prefix = format!("{};{boot}", settings.origin_host);
        Icscf {
            settings,
            session_prefix,
            next_id: 0,
            jobs: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    /// Requests in progress.
    pub fn requests_in_progress(&self) -> usize {
        self.jobs.len()
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn session_id(&mut self) -> String {
        let id = self.next_id();
        format!("{};{id}", self.session_prefix)
    }

    fn home_domain(&self) -> &str {
        self.settings
            .home_domains
            .first()
            .map_or("", String::as_str)
    }

    // ---- requests --------------------------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
        effects: &mut Effects,
    ) {
        if request.method() == Some(&Method::REGISTER) {
            match RegisterQuery::from_request(request, self.home_domain()) {
                Ok(query) => {
                    let kind = query.authorization_type;
                    self.start(context, Procedure::Register(query));
                    self.send_uar(context, kind, effects);
                }
                Err(error) => reject(now, proxy, context, &error),
            }
            return;
        }
        match classify(request, &self.settings.home_domains) {
            Disposition::LocationQuery { public_identity } => {
                self.start(context, Procedure::Terminating);
                let session_id = self.session_id();
                let message = lir(&self.settings, session_id, &public_identity);
                self.query(context, message, effects);
            }
            Disposition::RouteTo(uri) => self.route_to(now, proxy, context, &uri),
            Disposition::Reject(error) => reject(now, proxy, context, &error),
        }
    }

    fn start(&mut self, context: ContextId, procedure: Procedure) {
        self.jobs.insert(
            context,
            Job {
                procedure,
                tried: Vec::new(),
                capabilities: None,
                asked_capabilities: false,
                last_status: None,
            },
        );
    }

    fn send_uar(&mut self, context: ContextId, kind: UserAuthorizationType, effects: &mut Effects) {
        let session_id = self.session_id();
        let Some(Job {
            procedure: Procedure::Register(query),
            ..
        }) = self.jobs.get(&context)
        else {
            return;
        };
        let message = uar(&self.settings, session_id, query, kind);
        self.query(context, message, effects);
    }

    fn query(&mut self, context: ContextId, message: ims_diameter::Message, effects: &mut Effects) {
        let token = CxToken(self.next_id());
        self.waiting.insert(token, context);
        effects.send_cx(token, message);
    }

    /// A request that is already routed: forward it to the next hop `uri` names.
    fn route_to(&mut self, now: Instant, proxy: &mut Proxy<Target>, context: ContextId, uri: &Uri) {
        let addr = match resolve_uri(uri, &self.settings.hosts) {
            Ok(addr) => addr,
            Err(error) => return reject(now, proxy, context, &error),
        };
        let Some(request_uri) = proxy
            .request(context)
            .and_then(|r| r.request_uri().cloned())
        else {
            return;
        };
        let transport = uri_transport(uri);
        let target = target(request_uri, transport, addr);
        if let Err(error) = proxy.forward(now, context, vec![target], ForwardOptions::default()) {
            respond(now, proxy, context, error.status(), &error.to_string());
        }
    }

    // ---- Cx answers ------------------------------------------------------------------

    fn on_cx(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        outcome: &CxOutcome,
    ) {
        let Some(job) = self.jobs.get(&context) else {
            return; // Cancelled or finished meanwhile.
        };
        let register = matches!(job.procedure, Procedure::Register(_));
        let assignment = if register {
            interpret_uaa(outcome)
        } else {
            interpret_lia(outcome)
        };
        let assignment = match assignment {
            Ok(assignment) => assignment,
            Err(error) => return self.fail(now, proxy, context, &error),
        };
        if assignment.not_stored {
            // A de-registration of a user no S-CSCF serves: nothing left to remove.
            return respond(now, proxy, context, StatusCode::OK, "OK");
        }
        if let (Some(job), Some(caps)) = (self.jobs.get_mut(&context), &assignment.capabilities) {
            job.capabilities = Some(caps.clone());
        }
        let choice = self.choose(context, &assignment);
        match choice {
            Ok(candidate) => self.forward_to(now, proxy, context, candidate),
            Err(error) => self.fail(now, proxy, context, &error),
        }
    }

    /// The S-CSCF for this request (TS 24.229 §5.3.1.2, §5.3.2.1): the Server-Name if it
    /// was not tried yet and resolves, else a selection by capabilities.
    fn choose(
        &self,
        context: ContextId,
        assignment: &ServerAssignment,
    ) -> Result<Candidate, IcscfError> {
        let job = self
            .jobs
            .get(&context)
            .ok_or_else(|| IcscfError::UnexpectedCxAnswer("request gone".into()))?;
        let untried = |uri: &Uri| !job.tried.iter().any(|t| same_server(t, uri));
        let capabilities = assignment
            .capabilities
            .as_ref()
            .or(job.capabilities.as_ref());
        if let Some(name) = &assignment.server_name {
            match by_name(&self.settings, name) {
                Ok(candidate) if untried(&candidate.uri) => return Ok(candidate),
                Ok(_) => {}
                // An unusable name with no capabilities to fall back on.
                Err(error) if capabilities.is_none() => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "Server-Name unusable, selecting by capabilities")
                }
            }
        }
        match capabilities {
            Some(caps) => {
                by_capabilities(&self.settings, caps, &job.tried).ok_or(IcscfError::NoScscf)
            }
            None if !job.tried.is_empty() => Err(IcscfError::NoScscf),
            None => Err(IcscfError::UnexpectedCxAnswer(
                "answer has neither Server-Name nor Server-Capabilities".into(),
            )),
        }
    }

    /// Forwards to `candidate`. A REGISTER holds its final response (`hold_final`) so a
    /// failed S-CSCF can be replaced; a terminating request gets the S-CSCF as Route.
    fn forward_to(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        candidate: Candidate,
    ) {
        let Some(job) = self.jobs.get_mut(&context) else {
            return;
        };
        let register = matches!(job.procedure, Procedure::Register(_));
        job.tried.push(candidate.uri.clone());
        let Some(request_uri) = proxy
            .request(context)
            .and_then(|r| r.request_uri().cloned())
        else {
            return;
        };
        let mut target = target(request_uri, candidate.transport, candidate.addr);
        if !register {
            let mut route = candidate.uri.clone();
            route.params_mut().set("lr", None);
            target.route = vec![NameAddr::new(route)];
        }
        tracing::debug!(scscf = %candidate.name, addr = %candidate.addr, register, "forwarding");
        let options = ForwardOptions {
            hold_final: register,
            forking: Forking::Serial,
            ..ForwardOptions::default()
        };
        if let Err(error) = proxy.forward(now, context, vec![target], options) {
            tracing::warn!(%error, "forwarding to the S-CSCF failed");
            // A copy that cannot be built (e.g. Max-Forwards 0) fails for any S-CSCF.
            respond(now, proxy, context, error.status(), &error.to_string());
        }
    }

    /// Ends the request with `error`; while re-selecting after S-CSCF failures, the best
    /// S-CSCF response goes upstream instead of "no S-CSCF" (RFC 3261 §16.7 step 6).
    fn fail(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        error: &IcscfError,
    ) {
        let tried = self.jobs.get(&context).is_some_and(|j| !j.tried.is_empty());
        if tried && proxy.send_best(now, context).is_ok() {
            return;
        }
        reject(now, proxy, context, error);
    }

    // ---- S-CSCF failure ----------------------------------------------------------------

    /// Every branch failed and the proxy waits (`hold_final`): try another S-CSCF when the
    /// failure calls for it (TS 24.229 §5.3.1.3), else send the best response.
    fn on_exhausted(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        best: &Message,
        effects: &mut Effects,
    ) {
        let Some(job) = self.jobs.get_mut(&context) else {
            send_best(now, proxy, context);
            return;
        };
        let status = job
            .last_status
            .or(best.status())
            .unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        if !triggers_reselection(status) {
            send_best(now, proxy, context);
            return;
        }
        tracing::info!(
            status = status.0,
            tried = job.tried.len(),
            "S-CSCF failed, re-selecting"
        );
        if job.capabilities.is_none() && !job.asked_capabilities {
            // The S-CSCF came from Server-Name: ask the HSS for capabilities (TS 29.228
            // §6.1.1, REGISTRATION_AND_CAPABILITIES).
            job.asked_capabilities = true;
            return self.send_uar(
                context,
                UserAuthorizationType::REGISTRATION_AND_CAPABILITIES,
                effects,
            );
        }
        let choice = self.choose(context, &ServerAssignment::default());
        match choice {
            Ok(candidate) => self.forward_to(now, proxy, context, candidate),
            Err(_) => {
                send_best(now, proxy, context);
            }
        }
    }

    /// §16.11: an ACK for a 2xx is forwarded statelessly along its Route set; without one
    /// the I-CSCF is not on its path and drops it.
    fn on_ack(&self, proxy: &mut Proxy<Target>, request: &Message) {
        let Some(next) = request
            .name_addrs("Route")
            .ok()
            .and_then(|r| r.into_iter().next())
        else {
            tracing::debug!("ACK without Route dropped");
            return;
        };
        let (Ok(addr), Some(request_uri)) = (
            resolve_uri(&next.uri, &self.settings.hosts),
            request.request_uri().cloned(),
        ) else {
            return;
        };
        let target = target(request_uri, uri_transport(&next.uri), addr);
        if let Err(error) = proxy.forward_stateless(request, target, &ForwardOptions::default()) {
            tracing::debug!(%error, "ACK not forwarded");
        }
    }

    /// §16.11 / §18.2.2: a response no transaction wants goes to its (new) top Via.
    fn on_stray_response(&self, proxy: &mut Proxy<Target>, response: Message) {
        let Ok(via) = response.top_via() else {
            return;
        };
        let host = via.received().and_then(|r| r.parse::<IpAddr>().ok());
        let port = via.rport().flatten().or(via.port).unwrap_or(5060);
        let addr = match (host, &via.host) {
            (Some(ip), _) => SocketAddr::new(ip, port),
            (None, Host::Ipv4(ip)) => SocketAddr::new(IpAddr::V4(*ip), port),
            (None, Host::Ipv6(ip)) => SocketAddr::new(IpAddr::V6(*ip), port),
            (None, Host::Domain(name)) => match self.settings.hosts.get(&name.to_ascii_lowercase())
            {
                Some(addr) => SocketAddr::new(addr.ip(), via.port.unwrap_or(addr.port())),
                None => return,
            },
        };
        let transport = if via.transport.eq_ignore_ascii_case("TCP") {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        proxy.send_stateless(destination(transport, addr), response);
    }
}

impl Function for Icscf {
    fn handle_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: ProxyEvent<Target>,
        effects: &mut Effects,
    ) {
        match event {
            ProxyEvent::Request {
                context, request, ..
            } => self.on_request(now, proxy, context, &request, effects),
            ProxyEvent::BranchResponse {
                branch, response, ..
            } => {
                if let Some(job) = self.jobs.get_mut(&branch.context) {
                    job.last_status = response.status();
                }
            }
            ProxyEvent::BranchesExhausted { context, best } => {
                self.on_exhausted(now, proxy, context, &best, effects)
            }
            ProxyEvent::Ack { request, .. } => self.on_ack(proxy, &request),
            ProxyEvent::StrayResponse { response } => self.on_stray_response(proxy, response),
            ProxyEvent::Response { context, response } => {
                // Not asked for (review_responses is never set); pass it on unchanged.
                let _ = proxy.send_upstream(now, context, response);
            }
            ProxyEvent::Cancelled { context } | ProxyEvent::Finished { context } => {
                self.jobs.remove(&context);
                self.waiting.retain(|_, c| *c != context);
            }
        }
    }

    fn handle_cx(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        token: CxToken,
        outcome: CxOutcome,
        _effects: &mut Effects,
    ) {
        if let Some(context) = self.waiting.remove(&token) {
            self.on_cx(now, proxy, context, &outcome);
        }
    }
}

fn target(uri: Uri, transport: Transport, addr: SocketAddr) -> ProxyTarget<Target> {
    let mut target =
        ProxyTarget::new(uri, destination(transport, addr)).reliable(transport.is_stream());
    target.transport = Some(transport.as_via_str().to_owned());
    target
}

/// Sends the best S-CSCF response upstream (RFC 3261 §16.7 step 6) of a context waiting
/// after `BranchesExhausted`.
fn send_best(now: Instant, proxy: &mut Proxy<Target>, context: ContextId) {
    if let Err(error) = proxy.send_best(now, context) {
        tracing::debug!(%error, "best response not sent");
    }
}

fn reject(now: Instant, proxy: &mut Proxy<Target>, context: ContextId, error: &IcscfError) {
    tracing::info!(%error, "request answered by the I-CSCF");
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
    response.set_reason(reason);
    if let Err(error) = proxy.respond(now, context, response) {
        tracing::debug!(%error, "response not sent (request cancelled or answered)");
    }
}
