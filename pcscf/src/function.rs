//! The P-CSCF as an [`ims_node::function::Function`]: the procedures of TS 24.229 §5.2 on top
//! of the RFC 3261 §16 proxy core, sans-IO.
//!
//! Every request the proxy hands over is sorted by where it comes from:
//! - REGISTER: [`register`] (§5.2.2), forwarded to the configured I-CSCF;
//! - from a source with a registration: [`originating`] (§5.2.6.3),
//!   initial requests along the Service-Route, in-dialog ones along their Route set;
//! - else, from the core network (`core_sources`, when configured) with our Path or
//!   Record-Route entry as top Route: for a UE,
//!   [`terminating`] (§5.2.6.4), sent over the UE's flow;
//! - anything else: 403 (only registered UEs may use the P-CSCF).
//!
//! Responses to forwarded requests are reviewed ([`ForwardOptions::review_responses`]): `ck`
//! and `ik` are removed from every one (TS 33.203 §7.1), a 401 to REGISTER has its keys kept,
//! a 200 to REGISTER updates the [`RegistrationCache`], and charging headers never reach the
//! UE.
//!
//! The P-CSCF has no Cx interface: [`Function::handle_cx`] ignores its input.
//!
//! Limits (later issues): the core-network side is told from the UE side by registration state
//! and, when configured, by source address (`core_sources`), not by interface; next hops come
//! from a host table, not RFC 3263 DNS; no sec-agree/IPsec (the AKA keys are kept, unused); no
//! SigComp; no reg-event subscription (TS 24.229 §5.2.3); registrations live in memory only.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use ims_node::function::{CxOutcome, CxToken, Effects, Function};
use ims_sip::header::{NameAddr, PChargingVector};
use ims_sip::proxy::{ContextId, ForwardOptions, Proxy, ProxyError, ProxyEvent};
use ims_sip::{Host, Message, Method, StatusCode, Uri};
use ims_transport::{ConnectionId, ConnectionInfo, Event, Target, Transport};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{parse_transport, Settings};
use crate::error::PcscfError;
use crate::originating;
use crate::outbound::{
    FlowId, FlowLookupError, FlowTable, FlowTokenError, FlowTokenKey, FlowTransport,
};
use crate::register::{self, PendingRegister, RegisterRequest, PENDING_AUTH_LIFETIME};
use crate::registration_cache::{RegistrationCache, SecurityKeys, SourceKey};
use crate::terminating;

/// The user part of our Path entry for UEs that do not use RFC 5626 outbound.
pub const PATH_USER: &str = "term";
/// The user part of our Record-Route entry on requests a UE originates (without outbound).
pub const ORIGINATING_RR_USER: &str = "mo";
/// The user part of our Record-Route entry on requests for a UE (without outbound).
pub const TERMINATING_RR_USER: &str = "mt";

/// What a response context is for.
#[derive(Debug)]
enum Role {
    /// A REGISTER on its way to the I-CSCF.
    Register(Box<PendingRegister>),
    /// A request from a UE; its responses go to the UE.
    Originating,
    /// A request for the UE registered from `ue`; its responses come from that UE.
    Terminating { ue: SourceKey },
}

/// AKA keys from a 401, waiting for the authenticated REGISTER (same IMPI and Call-ID).
type PendingAuthKey = (String, String);

/// The P-CSCF's procedures and state.
pub struct Pcscf {
    settings: Settings,
    registrations: RegistrationCache,
    pending_auth: HashMap<PendingAuthKey, (SecurityKeys, Instant)>,
    auth_deadlines: BTreeSet<(Instant, PendingAuthKey)>,
    flows: FlowTable<Target>,
    flow_by_source: HashMap<SourceKey, FlowId>,
    connections: HashMap<ConnectionId, ConnectionInfo>,
    contexts: HashMap<ContextId, Role>,
    /// REGISTER contexts per source, so a UDP flow is not released under a pending one.
    registers_in_flight: HashMap<SourceKey, usize>,
    rng: StdRng,
}

impl std::fmt::Debug for Pcscf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pcscf")
            .field("registrations", &self.registrations.len())
            .field("flows", &self.flows.len())
            .field("contexts", &self.contexts.len())
            .finish()
    }
}

impl Pcscf {
    /// A P-CSCF whose flow tokens are signed with `key`, with its random values (flow nonces,
    /// icid-values) from the OS.
    pub fn new(settings: Settings, key: FlowTokenKey) -> Pcscf {
        Pcscf::with_rng(settings, key, StdRng::from_os_rng())
    }

    /// A P-CSCF with a seeded generator: deterministic, for tests.
    pub fn with_seed(settings: Settings, key: FlowTokenKey, seed: u64) -> Pcscf {
        Pcscf::with_rng(settings, key, StdRng::seed_from_u64(seed))
    }

    fn with_rng(settings: Settings, key: FlowTokenKey, rng: StdRng) -> Pcscf {
        Pcscf {
            settings,
            registrations: RegistrationCache::new(),
            pending_auth: HashMap::new(),
            auth_deadlines: BTreeSet::new(),
            flows: FlowTable::new(key),
            flow_by_source: HashMap::new(),
            connections: HashMap::new(),
            contexts: HashMap::new(),
            registers_in_flight: HashMap::new(),
            rng,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The registrations.
    pub fn registrations(&self) -> &RegistrationCache {
        &self.registrations
    }

    /// The live flows.
    pub fn flows(&self) -> &FlowTable<Target> {
        &self.flows
    }

    /// The AKA keys of a 401 not yet followed by a successful registration.
    pub fn pending_security_keys(&self, impi: &str, call_id: &str) -> Option<&SecurityKeys> {
        self.pending_auth
            .get(&(impi.to_owned(), call_id.to_owned()))
            .map(|(keys, _)| keys)
    }

    // ---- requests ----------------------------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
        source: Target,
        removed_route: Option<NameAddr>,
    ) -> Result<(), PcscfError> {
        if request.method() == Some(&Method::REGISTER) {
            return self.on_register(now, proxy, context, request, source);
        }
        let key = SourceKey::from(&source);
        if self.registrations.by_source(&key).is_some() {
            return self.on_originating(now, proxy, context, &key);
        }
        match removed_route {
            Some(route) if self.names_a_ue(&route) && self.is_core_source(&source) => {
                self.on_terminating(now, proxy, context, request, &route)
            }
            // Including a UE that preloaded our plain URI as its outbound proxy.
            _ => Err(PcscfError::NotRegistered),
        }
    }

    /// TS 24.229 §5.2.2.1.
    fn on_register(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
        source: Target,
    ) -> Result<(), PcscfError> {
        let mut info = RegisterRequest::inspect(request)?;
        let hop = self
            .settings
            .hosts
            .resolve(&self.settings.icscf, self.settings.transport)?;
        let uri = request
            .request_uri()
            .cloned()
            .ok_or(ProxyError::WrongMessageKind("request"))?;
        let flow = self.flow_for_source(&source);
        // RFC 5626 §5.1: the flow token (and `ob`) only when the UE asked for outbound and
        // we can name its flow.
        info.outbound &= flow.is_some();
        let path_uri = match flow.filter(|_| info.outbound) {
            Some(flow) => {
                let mut uri = self.settings.own_uri(&self.flows.token(&flow));
                uri.params_mut().set("ob", None);
                uri
            }
            None => self.settings.own_uri(PATH_USER),
        };
        let path = NameAddr::new(path_uri);
        let mut charging = new_charging_vector(&mut self.rng, &self.settings.host);
        charging.set("orig-ioi", &self.settings.visited_network_id);
        let Some(request) = proxy.request_mut(context) else {
            self.release_udp_flow(&source);
            return Err(ProxyError::UnknownContext(context).into());
        };
        register::prepare_request(request, &path, &self.settings.visited_network_id, &charging);
        let target = ims_sip::proxy::Target {
            uri,
            destination: hop.target,
            reliable: hop.transport.is_stream(),
            transport: Some(hop.transport.as_via_str().to_owned()),
            route: vec![NameAddr::new(self.settings.icscf.clone())],
            q: None,
        };
        if let Err(e) = proxy.forward(now, context, vec![target], reviewed(None)) {
            self.release_udp_flow(&source);
            return Err(e.into());
        }
        *self
            .registers_in_flight
            .entry(SourceKey::from(&source))
            .or_default() += 1;
        self.contexts.insert(
            context,
            Role::Register(Box::new(PendingRegister {
                request: info,
                source,
                flow,
                path,
            })),
        );
        Ok(())
    }

    /// TS 24.229 §5.2.6.3.
    fn on_originating(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        source: &SourceKey,
    ) -> Result<(), PcscfError> {
        let registration = self
            .registrations
            .by_source(source)
            .ok_or(PcscfError::NotRegistered)?;
        let request = proxy
            .request_mut(context)
            .ok_or(ProxyError::UnknownContext(context))?;
        let initial = originating::is_initial(request);
        let charging = initial.then(|| new_charging_vector(&mut self.rng, &self.settings.host));
        let pushed = originating::prepare_request(request, registration, charging.as_ref())?;
        let record_route = initial.then(|| {
            let user = match registration.flow.filter(|_| registration.outbound) {
                Some(flow) => self.flows.token(&flow),
                None => ORIGINATING_RR_USER.to_owned(),
            };
            self.settings.own_uri(&user)
        });
        let target = self.core_target(request, pushed)?;
        proxy.forward(now, context, vec![target], reviewed(record_route))?;
        self.contexts.insert(context, Role::Originating);
        Ok(())
    }

    /// TS 24.229 §5.2.6.4, and in-dialog requests towards the UE.
    fn on_terminating(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        request: &Message,
        route: &NameAddr,
    ) -> Result<(), PcscfError> {
        let uri = request
            .request_uri()
            .cloned()
            .ok_or(ProxyError::WrongMessageKind("request"))?;
        let (destination, token) = self.ue_destination(route.uri.user(), &uri, now)?;
        let initial = originating::is_initial(request);
        let record_route = initial.then(|| {
            self.settings
                .own_uri(token.as_deref().unwrap_or(TERMINATING_RR_USER))
        });
        let request = proxy
            .request_mut(context)
            .ok_or(ProxyError::UnknownContext(context))?;
        terminating::prepare_for_ue(request);
        let ue = SourceKey::from(&destination);
        let target = self.ue_target(uri, destination);
        proxy.forward(now, context, vec![target], reviewed(record_route))?;
        self.contexts.insert(context, Role::Terminating { ue });
        Ok(())
    }

    /// An ACK for a 2xx (RFC 3261 §16.11): forwarded statelessly in the direction its source
    /// tells, or dropped (an ACK is never answered).
    fn on_ack(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        mut request: Message,
        source: Target,
        removed_route: Option<NameAddr>,
    ) -> Result<(), PcscfError> {
        let key = SourceKey::from(&source);
        let target = if self.registrations.by_source(&key).is_some() {
            for name in register::UNTRUSTED_HEADERS {
                request.headers_mut().remove(name);
            }
            self.core_target(&request, Vec::new())?
        } else if let Some(route) = removed_route
            .filter(|r| self.names_a_ue(r))
            .filter(|_| self.is_core_source(&source))
        {
            let uri = request
                .request_uri()
                .cloned()
                .ok_or(ProxyError::WrongMessageKind("request"))?;
            let (destination, _) = self.ue_destination(route.uri.user(), &uri, now)?;
            terminating::prepare_for_ue(&mut request);
            self.ue_target(uri, destination)
        } else {
            return Err(PcscfError::NotRegistered);
        };
        proxy.forward_stateless(&request, target, &ForwardOptions::default())?;
        Ok(())
    }

    /// Whether `source` may send requests towards UEs: an address of the configured trust
    /// domain (`core_sources`), or anyone when none is configured.
    fn is_core_source(&self, source: &Target) -> bool {
        if self.settings.core_sources.is_empty() {
            return true;
        }
        let ip = match source {
            Target::Connection(c) => self.connections.get(c).map(|i| i.remote.ip()),
            Target::Datagram { remote, .. } | Target::Remote { remote, .. } => Some(remote.ip()),
        };
        ip.is_some_and(|ip| self.settings.core_sources.contains(&ip))
    }

    /// Whether a Route entry naming us is one we issued towards a UE: our Path (`term` or a
    /// flow token) or Record-Route (`mo`, `mt` or a flow token) entry. A plain URI of ours is
    /// what a UE preloads as its outbound proxy.
    fn names_a_ue(&self, route: &NameAddr) -> bool {
        match route.uri.user() {
            Some(PATH_USER | ORIGINATING_RR_USER | TERMINATING_RR_USER) => true,
            // Token-shaped: decided (and answered 403 or 430 if need be) by the lookup.
            Some(user) => !matches!(
                self.flows.key().decode(user),
                Err(FlowTokenError::WrongLength(_))
            ),
            None => false,
        }
    }

    /// Where a request for a UE goes (RFC 5626 §5.3): the flow named by the Route's flow
    /// token, or the flow the UE registered the Request-URI from. Returns the destination and
    /// the flow token to Record-Route with (outbound UEs only).
    fn ue_destination(
        &self,
        route_user: Option<&str>,
        request_uri: &Uri,
        now: Instant,
    ) -> Result<(Target, Option<String>), PcscfError> {
        if let Some(user) = route_user {
            match self.flows.lookup(user) {
                Ok((_, target)) => return Ok((target.clone(), Some(user.to_owned()))),
                // "term", "mo", "mt": not a token; the registration decides.
                Err(FlowLookupError::Token(FlowTokenError::WrongLength(_))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let registration = self
            .registrations
            .by_contact(request_uri, now)
            .ok_or_else(|| PcscfError::UnknownContact(request_uri.to_string()))?;
        match registration.flow {
            Some(flow) if self.flows.get(&flow).is_none() => Err(if registration.outbound {
                PcscfError::Flow(FlowLookupError::FlowFailed(flow))
            } else {
                PcscfError::ConnectionClosed
            }),
            flow => Ok((
                registration.source.clone(),
                flow.filter(|_| registration.outbound)
                    .map(|f| self.flows.token(&f)),
            )),
        }
    }

    /// The proxy target for a request into the core network: Request-URI unchanged, `pushed`
    /// Route values on top, sent to the next hop of the first Route value (or the
    /// Request-URI).
    fn core_target(
        &self,
        request: &Message,
        pushed: Vec<NameAddr>,
    ) -> Result<ims_sip::proxy::Target<Target>, PcscfError> {
        let uri = request
            .request_uri()
            .cloned()
            .ok_or(ProxyError::WrongMessageKind("request"))?;
        let remaining = request
            .name_addrs("Route")
            .map_err(|e| PcscfError::Malformed(format!("Malformed Route: {e}")))?;
        let next = pushed
            .first()
            .or(remaining.first())
            .map_or(&uri, |r| &r.uri);
        let hop = self.settings.hosts.resolve(next, self.settings.transport)?;
        Ok(ims_sip::proxy::Target {
            uri,
            destination: hop.target,
            reliable: hop.transport.is_stream(),
            transport: Some(hop.transport.as_via_str().to_owned()),
            route: pushed,
            q: None,
        })
    }

    /// The proxy target for a request to a UE over `destination`.
    fn ue_target(&self, uri: Uri, destination: Target) -> ims_sip::proxy::Target<Target> {
        let transport = match &destination {
            Target::Connection(c) => self
                .connections
                .get(c)
                .map_or(Transport::Tcp, |i| i.transport),
            Target::Datagram { .. } => Transport::Udp,
            Target::Remote { transport, .. } => *transport,
        };
        ims_sip::proxy::Target {
            uri,
            destination,
            reliable: transport.is_stream(),
            transport: Some(transport.as_via_str().to_owned()),
            route: Vec::new(),
            q: None,
        }
    }

    /// The flow `source` names (RFC 5626 §3.1), created on first use. `None` for a
    /// connection whose addresses the transport did not report (no `Opened` event).
    fn flow_for_source(&mut self, source: &Target) -> Option<FlowId> {
        let key = SourceKey::from(source);
        if let Some(flow) = self.flow_by_source.get(&key) {
            if self.flows.get(flow).is_some() {
                return Some(*flow);
            }
        }
        let (transport, local, remote) = match source {
            Target::Connection(c) => {
                let info = self.connections.get(c)?;
                (flow_transport(info.transport), info.local, info.remote)
            }
            Target::Datagram { socket, remote } => {
                // A UDP flow is the 5-tuple; our side is the socket's address when known.
                let local = self
                    .connections
                    .get(socket)
                    .map_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0), |i| {
                        i.local
                    });
                (FlowTransport::Udp, local, *remote)
            }
            Target::Remote { .. } => return None,
        };
        let inserted = self
            .flows
            .insert(&mut self.rng, transport, local, remote, source.clone());
        if let Some(old) = inserted.replaced {
            let old = SourceKey::from(&old);
            if old != key {
                self.flow_by_source.remove(&old);
            }
        }
        self.flow_by_source.insert(key, inserted.flow);
        Some(inserted.flow)
    }

    /// Answers the request of `context` with the status `error` maps to.
    fn reject(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        error: &PcscfError,
    ) {
        tracing::debug!(context = context.0, %error, "request refused");
        let status = error.status();
        let Ok(mut response) = proxy.response(context, status) else {
            return;
        };
        response.set_reason(&format!("{} - {error}", status.canonical_reason()));
        if let Err(e) = proxy.respond(now, context, response) {
            tracing::warn!(context = context.0, error = %e, "could not answer");
        }
    }

    // ---- responses ---------------------------------------------------------------------

    fn on_response(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        context: ContextId,
        mut response: Message,
    ) {
        let keys = register::take_aka_keys(&mut response);
        let status = response
            .status()
            .unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        match self.contexts.get(&context) {
            Some(Role::Register(pending)) => {
                if status == StatusCode::UNAUTHORIZED {
                    if let Some(keys) = keys {
                        let key = (
                            pending.request.impi.clone(),
                            pending.request.call_id.clone(),
                        );
                        self.store_pending_auth(key, keys, now);
                    }
                } else if status.is_success() {
                    let key = (
                        pending.request.impi.clone(),
                        pending.request.call_id.clone(),
                    );
                    let keys = self.pending_auth.remove(&key).map(|(keys, at)| {
                        self.auth_deadlines.remove(&(at, key.clone()));
                        keys
                    });
                    // A re-registration the S-CSCF did not challenge keeps the keys it had.
                    let source = SourceKey::from(&pending.source);
                    let keys = keys.or_else(|| {
                        self.registrations
                            .by_source(&source)
                            .filter(|r| r.impi == pending.request.impi)
                            .and_then(|r| r.security_keys.clone())
                    });
                    match register::registration_from_ok(pending, &response, keys, now) {
                        Ok(registration) => {
                            let stored = self.registrations.store(registration);
                            for ended in stored.dropped {
                                self.release_udp_flow(&ended.source);
                            }
                        }
                        Err(e) => tracing::warn!(%e, "200 to REGISTER not understood"),
                    }
                }
                terminating::prepare_for_ue(&mut response);
            }
            Some(Role::Originating) => terminating::prepare_for_ue(&mut response),
            Some(Role::Terminating { ue }) => {
                terminating::prepare_ue_response(&mut response, self.registrations.by_source(ue));
            }
            None => {}
        }
        if let Err(e) = proxy.send_upstream(now, context, response) {
            tracing::warn!(context = context.0, error = %e, "could not send response");
        }
    }

    fn store_pending_auth(&mut self, key: PendingAuthKey, keys: SecurityKeys, now: Instant) {
        let at = now + PENDING_AUTH_LIFETIME;
        if let Some((_, old)) = self.pending_auth.insert(key.clone(), (keys, at)) {
            self.auth_deadlines.remove(&(old, key.clone()));
        }
        self.auth_deadlines.insert((at, key));
    }

    /// A response outside any transaction (a 2xx retransmission, RFC 3261 §16.11): sent to
    /// its top Via, over the UE's flow when we have one to that address (a UE behind a NAT
    /// can only be reached over it), edited like any response for a UE then.
    fn on_stray_response(&mut self, proxy: &mut Proxy<Target>, mut response: Message) {
        register::take_aka_keys(&mut response);
        let Some((destination, to_ue)) = self.via_destination(&response) else {
            tracing::debug!("stray response without a usable Via dropped");
            return;
        };
        if to_ue {
            terminating::prepare_for_ue(&mut response);
        }
        proxy.send_stateless(destination, response);
    }

    /// Where the top Via of a response points (RFC 3261 §18.2.2 with RFC 3581 `received` and
    /// `rport`), and whether that is a UE's flow.
    fn via_destination(&self, response: &Message) -> Option<(Target, bool)> {
        let via = response.top_via().ok()?;
        let transport = parse_transport(&via.transport)?;
        let default_port = if transport == Transport::Tls {
            5061
        } else {
            5060
        };
        let port = via.rport().flatten().or(via.port).unwrap_or(default_port);
        let ip = match via.received().and_then(|r| r.parse::<IpAddr>().ok()) {
            Some(ip) => ip,
            None => match &via.host {
                Host::Ipv4(a) => IpAddr::V4(*a),
                Host::Ipv6(a) => IpAddr::V6(*a),
                Host::Domain(_) => {
                    // A core node by name: the host table, as for requests.
                    let mut uri = Uri::sip(via.host.clone());
                    uri.set_port(via.port);
                    let hop = self.settings.hosts.resolve(&uri, transport).ok()?;
                    return Some((hop.target, false));
                }
            },
        };
        let remote = SocketAddr::new(ip, port);
        let wanted = flow_transport(transport);
        let flow = self
            .flow_by_source
            .values()
            .find(|f| f.remote == remote && f.transport == wanted)
            .and_then(|f| self.flows.get(f));
        Some(match flow {
            Some(target) => (target.clone(), true),
            None => (
                Target::Remote {
                    transport,
                    remote,
                    server_name: None,
                },
                false,
            ),
        })
    }

    /// Forgets the UDP flow of `source` once nothing needs it: no registration from it and no
    /// REGISTER in flight. (A UDP flow has no connection whose end would remove it; TCP and
    /// TLS flows end with their connection.)
    fn release_udp_flow(&mut self, source: &Target) {
        if !matches!(source, Target::Datagram { .. }) {
            return;
        }
        let key = SourceKey::from(source);
        if self.registrations.by_source(&key).is_some()
            || self.registers_in_flight.contains_key(&key)
        {
            return;
        }
        if let Some(flow) = self.flow_by_source.remove(&key) {
            self.flows.remove(&flow);
        }
    }

    // ---- transport -----------------------------------------------------------------------

    fn on_closed(&mut self, conn: ConnectionId, transport: Transport) {
        self.connections.remove(&conn);
        let mut ended = Vec::new();
        if transport == Transport::Udp {
            // The socket closed: every UDP flow on it ends.
            self.flow_by_source.retain(|k, f| {
                let on_socket = matches!(k, SourceKey::Datagram { socket, .. } if *socket == conn);
                if on_socket {
                    ended.push(*f);
                }
                !on_socket
            });
        } else if let Some(f) = self.flow_by_source.remove(&SourceKey::Connection(conn)) {
            ended.push(f);
        }
        for flow in ended {
            // RFC 5626 §5.3: requests for this flow now get 430.
            self.flows.remove(&flow);
        }
    }
}

impl Function for Pcscf {
    fn handle_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: ProxyEvent<Target>,
        _effects: &mut Effects,
    ) {
        match event {
            ProxyEvent::Request {
                context,
                request,
                source,
                removed_route,
            } => {
                if let Err(e) =
                    self.on_request(now, proxy, context, &request, source, removed_route)
                {
                    self.reject(now, proxy, context, &e);
                }
            }
            ProxyEvent::Ack {
                request,
                source,
                removed_route,
            } => {
                if let Err(e) = self.on_ack(now, proxy, request, source, removed_route) {
                    tracing::debug!(error = %e, "ACK dropped");
                }
            }
            ProxyEvent::Response { context, response } => {
                self.on_response(now, proxy, context, response)
            }
            ProxyEvent::StrayResponse { response } => self.on_stray_response(proxy, response),
            ProxyEvent::BranchesExhausted { context, .. } => {
                // Not asked for (no `hold_final`); send the best response if it ever happens.
                let _ = proxy.send_best(now, context);
            }
            ProxyEvent::Finished { context } => {
                if let Some(Role::Register(pending)) = self.contexts.remove(&context) {
                    let key = SourceKey::from(&pending.source);
                    if let Some(n) = self.registers_in_flight.get_mut(&key) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.registers_in_flight.remove(&key);
                        }
                    }
                    // A REGISTER that registered nothing leaves no flow behind.
                    self.release_udp_flow(&pending.source);
                }
            }
            ProxyEvent::BranchResponse { .. } | ProxyEvent::Cancelled { .. } => {}
        }
    }

    /// The P-CSCF has no Cx interface (TS 29.228 names the I- and S-CSCF only).
    fn handle_cx(
        &mut self,
        _now: Instant,
        _proxy: &mut Proxy<Target>,
        token: CxToken,
        _outcome: CxOutcome,
        _effects: &mut Effects,
    ) {
        tracing::warn!(
            token = token.0,
            "P-CSCF got a Cx outcome it never asked for"
        );
    }

    fn handle_transport_event(
        &mut self,
        _now: Instant,
        _proxy: &mut Proxy<Target>,
        event: &Event,
        _effects: &mut Effects,
    ) {
        match event {
            Event::Opened(info) => {
                self.connections.insert(info.conn, *info);
            }
            Event::Closed {
                conn, transport, ..
            } => self.on_closed(*conn, *transport),
            Event::Message { .. } | Event::KeepAlivePing { .. } | Event::KeepAlivePong { .. } => {}
        }
    }

    /// Registration expiry (TS 24.229 §5.2.2.1: the P-CSCF removes a registration when it
    /// expires) and the end of the wait for an authenticated REGISTER.
    fn handle_timeout(&mut self, now: Instant, _proxy: &mut Proxy<Target>, _effects: &mut Effects) {
        for expired in self.registrations.expire(now) {
            tracing::debug!(impi = %expired.impi, "registration expired");
            self.release_udp_flow(&expired.source);
        }
        while let Some((at, key)) = self.auth_deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.auth_deadlines.remove(&(at, key.clone()));
            self.pending_auth.remove(&key);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let auth = self.auth_deadlines.first().map(|(at, _)| *at);
        match (self.registrations.next_expiry(), auth) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Options for every forward: responses come back for review.
fn reviewed(record_route: Option<Uri>) -> ForwardOptions {
    ForwardOptions {
        record_route,
        review_responses: true,
        ..ForwardOptions::default()
    }
}

/// A P-Charging-Vector with a fresh icid-value, which RFC 7315 §4.6 wants globally unique (128
/// random bits make a collision negligible), and `icid-generated-at` naming us.
fn new_charging_vector(rng: &mut StdRng, host: &Host) -> PChargingVector {
    let icid: u128 = rng.random();
    let mut pcv = PChargingVector::new(&format!("{icid:032x}"));
    pcv.set("icid-generated-at", &host.to_string());
    pcv
}

fn flow_transport(t: Transport) -> FlowTransport {
    match t {
        Transport::Udp => FlowTransport::Udp,
        Transport::Tcp => FlowTransport::Tcp,
        Transport::Tls => FlowTransport::Tls,
    }
}
