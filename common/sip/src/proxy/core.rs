//! The proxy engine: response contexts, branches, and the glue between the transaction
//! layer and the application (RFC 3261 §16.2, §16.6–§16.10).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Instant;

use super::branch::{loop_hash, stateful_branch, stateless_branch, TokenSource};
use super::context::{Branch, CancelState, Context};
use super::response::{better, finish_best};
use super::route::{build_copy, preprocess};
use super::validate::validate_request;
use super::{BranchId, ContextId, ForwardOptions, ProxyConfig, ProxyError, ProxyEvent, Target};
use crate::transaction::{
    build_cancel, Event, Timer, TransactionError, TransactionId, TransactionLayer, Transmit,
};
use crate::{Message, Method, StatusCode};

/// The stateful proxy core; see the [module docs](super).
pub struct Proxy<A> {
    config: ProxyConfig,
    layer: TransactionLayer<A>,
    tokens: Box<dyn TokenSource>,
    next_context: u64,
    contexts: BTreeMap<ContextId, Context<A>>,
    servers: HashMap<TransactionId, ContextId>,
    clients: HashMap<TransactionId, BranchId>,
    /// The CANCEL client transactions this proxy sent; their responses end here (§16.7
    /// step 3).
    cancels: HashSet<TransactionId>,
    events: VecDeque<ProxyEvent<A>>,
}

impl<A: Clone> fmt::Debug for Proxy<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("config", &self.config)
            .field("contexts", &self.contexts.len())
            .field("transactions", &self.layer.len())
            .finish()
    }
}

impl<A: Clone> Proxy<A> {
    pub fn new(config: ProxyConfig, tokens: impl TokenSource + 'static) -> Proxy<A> {
        Proxy {
            layer: TransactionLayer::new(config.timers),
            config,
            tokens: Box::new(tokens),
            next_context: 0,
            contexts: BTreeMap::new(),
            servers: HashMap::new(),
            clients: HashMap::new(),
            cancels: HashSet::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The transaction layer, to inspect transactions.
    pub fn layer(&self) -> &TransactionLayer<A> {
        &self.layer
    }

    /// How many response contexts are alive.
    pub fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// The client transaction of a branch (`None` if the copy could not be sent).
    pub fn branch_transaction(&self, branch: BranchId) -> Option<TransactionId> {
        let b = self
            .contexts
            .get(&branch.context)?
            .branches
            .get(branch.index)?;
        b.transaction_alive.then_some(b.transaction)
    }

    /// The (preprocessed) request of a context.
    pub fn request(&self, context: ContextId) -> Option<&Message> {
        self.contexts.get(&context).map(|c| &c.request)
    }

    /// The request of a context, to add or change header fields before
    /// [`forward`](Self::forward) (Path, P-Charging-Vector, P-Asserted-Identity…).
    pub fn request_mut(&mut self, context: ContextId) -> Option<&mut Message> {
        self.contexts.get_mut(&context).map(|c| &mut c.request)
    }

    /// The transport delivers a message from `source` (`reliable`: over TCP/TLS/SCTP/WS).
    ///
    /// A request the transaction layer cannot even match (no usable Via, CSeq…) is answered
    /// statelessly with a 400 naming the problem when it has a Via to answer to, and the
    /// error is returned for logging; a broken response is dropped (§18.1.2).
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: Message,
        source: A,
        reliable: bool,
    ) -> Result<(), ProxyError> {
        let copy = message.is_request().then(|| message.clone());
        let result = self
            .layer
            .handle_message(now, message, source.clone(), reliable);
        if let (Err(error), Some(request)) = (&result, copy) {
            // An ACK is never answered (§17.1.1.3); an error that is not the peer's fault
            // (500) would not be the right answer either.
            let ack = request.method() == Some(&Method::ACK);
            if !ack && error.status() == StatusCode::BAD_REQUEST && request.top_via().is_ok() {
                let mut response = Message::response_to(&request, error.status());
                response.set_reason(&format!("Bad Request - {error}"));
                let tag = self.new_tag();
                add_to_tag(&mut response, &tag);
                self.layer.send_stateless(source, response);
            }
        }
        self.process(now);
        result.map_err(ProxyError::from)
    }

    /// The transport failed to send a [`Transmit`] of `transaction` (§18.4).
    pub fn handle_transport_error(&mut self, now: Instant, transaction: TransactionId) {
        self.layer.handle_transport_error(now, transaction);
        self.process(now);
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.process(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.layer.poll_timeout()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        self.layer.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<ProxyEvent<A>> {
        self.events.pop_front()
    }

    /// A response to the request of `context`, with the proxy's To tag for it (§8.2.6), for
    /// the application to complete and pass to [`respond`](Self::respond).
    pub fn response(&self, context: ContextId, status: StatusCode) -> Result<Message, ProxyError> {
        let ctx = self
            .contexts
            .get(&context)
            .ok_or(ProxyError::UnknownContext(context))?;
        let mut response = Message::response_to(&ctx.request, status);
        if status != StatusCode::TRYING {
            add_to_tag(&mut response, &ctx.to_tag);
        }
        Ok(response)
    }

    /// The application answers the request itself (§16.5 "the proxy MAY respond").
    /// A final response ends the context: pending branches are cancelled (§16.7 step 10
    /// applied to a locally chosen final) and queued targets dropped.
    pub fn respond(
        &mut self,
        now: Instant,
        context: ContextId,
        response: Message,
    ) -> Result<(), ProxyError> {
        let status = response
            .status()
            .ok_or(ProxyError::WrongMessageKind("response"))?;
        let ctx = self
            .contexts
            .get_mut(&context)
            .ok_or(ProxyError::UnknownContext(context))?;
        if ctx.final_sent && !(status.is_success() && ctx.is_invite()) {
            return Err(ProxyError::WrongContextState(context));
        }
        let server = ctx.server;
        if status.is_final() {
            ctx.final_sent = true;
            ctx.stopped = true;
            ctx.awaiting_application = false;
            ctx.queued.clear();
        }
        self.layer.send_response(now, server, response)?;
        if status.is_final() {
            self.cancel_pending(now, context);
        }
        self.process(now);
        Ok(())
    }

    /// Forwards the request of `context` to `targets` (§16.6), forking per
    /// [`ForwardOptions::forking`]. Called again on a context that is still forwarding or
    /// waiting after [`ProxyEvent::BranchesExhausted`], it adds targets: the first group
    /// starts at once, the rest are queued after the ones already queued. The `options` of
    /// the latest call govern the whole context from then on (Record-Route and headers of
    /// new copies, `hold_final`, `review_responses`).
    ///
    /// Fails with [`ProxyError::TooManyHops`] for a request with Max-Forwards 0 (the
    /// OPTIONS §16.3 step 3 lets through; answer it with [`respond`](Self::respond)).
    pub fn forward(
        &mut self,
        now: Instant,
        context: ContextId,
        targets: Vec<Target<A>>,
        options: ForwardOptions,
    ) -> Result<Vec<BranchId>, ProxyError> {
        let ctx = self
            .contexts
            .get_mut(&context)
            .ok_or(ProxyError::UnknownContext(context))?;
        if ctx.final_sent || ctx.stopped {
            return Err(ProxyError::WrongContextState(context));
        }
        if targets.is_empty() {
            return Err(ProxyError::NoTargets);
        }
        // §16.3 step 3 for the OPTIONS the application chose to forward anyway.
        if matches!(ctx.request.max_forwards(), Ok(mf) if mf.0 == 0) {
            return Err(ProxyError::TooManyHops);
        }
        let mut groups = options.forking.groups(targets).into_iter();
        let first = groups.next().unwrap_or_default();
        ctx.queued.extend(groups);
        ctx.options = options;
        ctx.awaiting_application = false;
        let started = self.start_group(now, context, first)?;
        self.advance(now, context);
        self.process(now);
        Ok(started)
    }

    /// Forwards a request without a transaction (§16.11): the ACK for a 2xx from
    /// [`ProxyEvent::Ack`]. The branch is derived from the request, so a retransmitted ACK
    /// gets the same one.
    pub fn forward_stateless(
        &mut self,
        request: &Message,
        target: Target<A>,
        options: &ForwardOptions,
    ) -> Result<(), ProxyError> {
        let incoming = request
            .headers()
            .values("Via")
            .next()
            .ok_or(ProxyError::Malformed("Missing Via".into()))?;
        let branch = stateless_branch(loop_hash(request), incoming);
        let via = self.config.via(target.transport.as_deref(), &branch);
        let copy = build_copy(request, &target, options, &via)?;
        self.layer.send_stateless(target.destination, copy);
        Ok(())
    }

    /// Sends a message outside any transaction (a [`ProxyEvent::StrayResponse`]).
    pub fn send_stateless(&mut self, destination: A, message: Message) {
        self.layer.send_stateless(destination, message);
    }

    /// Sends the best response of a context waiting after
    /// [`ProxyEvent::BranchesExhausted`].
    pub fn send_best(&mut self, now: Instant, context: ContextId) -> Result<(), ProxyError> {
        let ctx = self
            .contexts
            .get_mut(&context)
            .ok_or(ProxyError::UnknownContext(context))?;
        if !ctx.awaiting_application {
            return Err(ProxyError::WrongContextState(context));
        }
        ctx.awaiting_application = false;
        self.finish_with_best(now, context);
        self.process(now);
        Ok(())
    }

    /// Sends a response the application reviewed ([`ProxyEvent::Response`]) upstream through
    /// the context's server transaction.
    pub fn send_upstream(
        &mut self,
        now: Instant,
        context: ContextId,
        response: Message,
    ) -> Result<(), ProxyError> {
        let server = self
            .contexts
            .get(&context)
            .map(|c| c.server)
            .ok_or(ProxyError::UnknownContext(context))?;
        self.send_on_server(now, server, response);
        self.process(now);
        Ok(())
    }

    // ---- internals -------------------------------------------------------------------

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.tokens.next_token())
    }

    /// Handles everything the transaction layer reported.
    fn process(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                Event::Request {
                    id,
                    request,
                    source,
                    cancels,
                } => {
                    if request.method() == Some(&Method::CANCEL) {
                        self.on_cancel(now, id, &request, cancels);
                    } else {
                        self.on_request(now, id, request, source);
                    }
                }
                Event::Ack { ack, source, .. } => self.on_ack(ack, source),
                Event::Response { id, response } => self.on_response(now, id, response),
                Event::StrayResponse { response, .. } => self.on_stray_response(response),
                Event::Timeout { id, timer } => self.on_timeout(now, id, timer),
                Event::TransportError { id } => {
                    // §16.9: as if the branch had received a 503.
                    self.synthesize_final(now, id, StatusCode::SERVICE_UNAVAILABLE);
                }
                Event::Terminated { id } => self.on_terminated(id),
            }
        }
    }

    /// §16.3, §16.4, then the application decides.
    fn on_request(&mut self, now: Instant, server: TransactionId, request: Message, source: A) {
        let hash = match validate_request(&self.config, &request) {
            Ok(hash) => hash,
            Err(error) => {
                let mut response = Message::response_to(&request, error.status());
                if matches!(error, ProxyError::Malformed(_)) {
                    response.set_reason(&error.to_string());
                }
                if let ProxyError::BadExtension(tags) = &error {
                    response.headers_mut().push("Unsupported", &tags.join(", "));
                }
                let tag = self.new_tag();
                add_to_tag(&mut response, &tag);
                let _ = self.layer.send_response(now, server, response);
                return;
            }
        };
        let mut request = request;
        let removed_route = preprocess(&self.config, &mut request);
        self.next_context += 1;
        let context = ContextId(self.next_context);
        let to_tag = self.new_tag();
        self.contexts.insert(
            context,
            Context {
                server,
                request: request.clone(),
                loop_hash: hash,
                to_tag,
                options: ForwardOptions::default(),
                branches: Vec::new(),
                queued: VecDeque::new(),
                best: None,
                final_sent: false,
                success_sent: false,
                stopped: false,
                awaiting_application: false,
                server_alive: true,
            },
        );
        self.servers.insert(server, context);
        self.events.push_back(ProxyEvent::Request {
            context,
            request,
            source,
            removed_route,
        });
    }

    /// An ACK outside any INVITE server transaction: the ACK for a 2xx (§16.11). It cannot
    /// be answered, so one that fails validation is dropped.
    fn on_ack(&mut self, ack: Message, source: A) {
        if validate_request(&self.config, &ack).is_err() {
            return;
        }
        let mut request = ack;
        let removed_route = preprocess(&self.config, &mut request);
        self.events.push_back(ProxyEvent::Ack {
            request,
            source,
            removed_route,
        });
    }

    /// §16.10: a CANCEL matching an INVITE server transaction is answered 200 and cancels
    /// the context; one matching nothing is answered 481.
    fn on_cancel(
        &mut self,
        now: Instant,
        server: TransactionId,
        cancel: &Message,
        cancels: Option<TransactionId>,
    ) {
        let context = cancels.and_then(|invite| self.servers.get(&invite).copied());
        let status = if cancels.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
        };
        let mut response = Message::response_to(cancel, status);
        let tag = match context.and_then(|c| self.contexts.get(&c)) {
            Some(ctx) => ctx.to_tag.clone(),
            None => self.new_tag(),
        };
        add_to_tag(&mut response, &tag);
        let _ = self.layer.send_response(now, server, response);
        let Some(context) = context else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        if ctx.final_sent {
            return;
        }
        ctx.stopped = true;
        ctx.queued.clear();
        self.events.push_back(ProxyEvent::Cancelled { context });
        let undecided = ctx.branches.is_empty() || ctx.awaiting_application;
        if undecided {
            // Nothing forwarded (or nothing left pending): answer 487 ourselves.
            ctx.final_sent = true;
            ctx.awaiting_application = false;
            let mut response = Message::response_to(&ctx.request, StatusCode::REQUEST_TERMINATED);
            add_to_tag(&mut response, &ctx.to_tag);
            let server = ctx.server;
            self.send_on_server(now, server, response);
        } else {
            self.cancel_pending(now, context);
        }
    }

    /// A response on one of our client transactions (§16.7).
    fn on_response(&mut self, now: Instant, client: TransactionId, mut response: Message) {
        if self.cancels.contains(&client) {
            return; // The answer to our own CANCEL (§16.7 step 3: it is for us).
        }
        let Some(&branch) = self.clients.get(&client) else {
            return;
        };
        // §16.7 step 3: remove our Via; a response with none left was meant for us.
        response.headers_mut().remove_first_value("Via");
        if !response.headers().contains("Via") {
            return;
        }
        let Some(status) = response.status() else {
            return;
        };
        if status.is_provisional() {
            self.on_provisional(now, branch, status, response);
        } else {
            self.on_final(now, branch, response);
        }
    }

    fn on_provisional(
        &mut self,
        now: Instant,
        branch: BranchId,
        status: StatusCode,
        response: Message,
    ) {
        let Some(ctx) = self.contexts.get_mut(&branch.context) else {
            return;
        };
        let Some(b) = ctx.branches.get_mut(branch.index) else {
            return;
        };
        b.provisional = true;
        if b.cancel == CancelState::Pending {
            self.send_cancel(now, branch);
        }
        let Some(ctx) = self.contexts.get(&branch.context) else {
            return;
        };
        // §16.7 step 5: 100 is not forwarded; others at once while no final was sent.
        if status != StatusCode::TRYING && !ctx.final_sent {
            self.deliver_upstream(now, branch.context, response);
        }
    }

    fn on_final(&mut self, now: Instant, branch: BranchId, response: Message) {
        let Some(ctx) = self.contexts.get_mut(&branch.context) else {
            return;
        };
        let is_invite = ctx.is_invite();
        let Some(b) = ctx.branches.get_mut(branch.index) else {
            return;
        };
        let status = response
            .status()
            .unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        let first = b.final_response.is_none();
        if first {
            b.final_response = Some(response.clone());
            self.events.push_back(ProxyEvent::BranchResponse {
                branch,
                target: b.target.clone(),
                response: response.clone(),
            });
        }
        if status.is_success() {
            // §16.7 step 9 with RFC 6026: every 2xx goes upstream at once, retransmissions
            // and other forks' 2xx included; step 10: the other INVITE branches are cancelled.
            if ctx.final_sent && !ctx.success_sent {
                // A non-2xx already went upstream (the application answered while this
                // branch was pending): the server transaction cannot carry the 2xx, so it
                // goes statelessly along its Via.
                if is_invite {
                    self.events
                        .push_back(ProxyEvent::StrayResponse { response });
                }
                return;
            }
            if ctx.success_sent && !is_invite {
                return; // A non-INVITE server transaction takes one final response.
            }
            ctx.final_sent = true;
            ctx.success_sent = true;
            ctx.stopped = true;
            ctx.awaiting_application = false;
            ctx.queued.clear();
            self.deliver_upstream(now, branch.context, response);
            if is_invite {
                self.cancel_pending(now, branch.context);
            }
            return;
        }
        if !first {
            return;
        }
        let better_than_best = match ctx.best {
            Some(i) => ctx
                .branches
                .get(i)
                .and_then(|b| b.final_response.as_ref())
                .and_then(Message::status)
                .is_none_or(|best| better(status, best)),
            None => true,
        };
        if better_than_best {
            ctx.best = Some(branch.index);
        }
        if status.0 >= 600 {
            // §16.7 step 10: a 6xx ends the search.
            ctx.stopped = true;
            ctx.queued.clear();
            if is_invite {
                self.cancel_pending(now, branch.context);
            }
        }
        self.advance(now, branch.context);
    }

    /// When no branch is pending: start the next queued group, or report exhaustion, or send
    /// the best response (§16.7 step 6).
    fn advance(&mut self, now: Instant, context: ContextId) {
        loop {
            let Some(ctx) = self.contexts.get_mut(&context) else {
                return;
            };
            if ctx.final_sent || ctx.awaiting_application || ctx.pending() {
                return;
            }
            if !ctx.stopped {
                if let Some(group) = ctx.queued.pop_front() {
                    // A group whose copies cannot be built is skipped like a failed one.
                    let _ = self.start_group(now, context, group);
                    continue;
                }
            }
            if ctx.branches.is_empty() {
                return;
            }
            if ctx.options.hold_final && !ctx.stopped {
                ctx.awaiting_application = true;
                let best = self.best_response(context);
                if let Some(best) = best {
                    self.events
                        .push_back(ProxyEvent::BranchesExhausted { context, best });
                }
                return;
            }
            self.finish_with_best(now, context);
            return;
        }
    }

    /// The best final response with §16.7 steps 6–7 applied.
    fn best_response(&self, context: ContextId) -> Option<Message> {
        let ctx = self.contexts.get(&context)?;
        let best = ctx
            .best
            .and_then(|i| ctx.branches.get(i))
            .and_then(|b| b.final_response.as_ref())?;
        Some(finish_best(
            best,
            ctx.branches
                .iter()
                .filter_map(|b| b.final_response.as_ref()),
        ))
    }

    fn finish_with_best(&mut self, now: Instant, context: ContextId) {
        let Some(best) = self.best_response(context) else {
            return;
        };
        if let Some(ctx) = self.contexts.get_mut(&context) {
            ctx.final_sent = true;
            ctx.stopped = true;
        }
        self.deliver_upstream(now, context, best);
    }

    /// Sends a response upstream, or hands it to the application for review first.
    fn deliver_upstream(&mut self, now: Instant, context: ContextId, response: Message) {
        let Some(ctx) = self.contexts.get(&context) else {
            return;
        };
        if ctx.options.review_responses {
            self.events
                .push_back(ProxyEvent::Response { context, response });
        } else {
            let server = ctx.server;
            self.send_on_server(now, server, response);
        }
    }

    fn send_on_server(&mut self, now: Instant, server: TransactionId, response: Message) {
        let success = response.status().is_some_and(StatusCode::is_success);
        match self.layer.send_response(now, server, response.clone()) {
            Ok(()) => {}
            // §16.7 step 9 with RFC 6026: once the server transaction is gone, a 2xx is
            // forwarded statelessly along its Via.
            Err(TransactionError::UnknownTransaction(_)) if success => {
                self.events
                    .push_back(ProxyEvent::StrayResponse { response });
            }
            Err(_) => {}
        }
    }

    /// Starts one branch per target (§16.6).
    fn start_group(
        &mut self,
        now: Instant,
        context: ContextId,
        targets: Vec<Target<A>>,
    ) -> Result<Vec<BranchId>, ProxyError> {
        let Some(ctx) = self.contexts.get(&context) else {
            return Err(ProxyError::UnknownContext(context));
        };
        // Build every copy first so that an error leaves no half-started group.
        let mut copies = Vec::with_capacity(targets.len());
        for target in targets {
            let token = self.tokens.next_token();
            let via = self.config.via(
                target.transport.as_deref(),
                &stateful_branch(ctx.loop_hash, token),
            );
            let copy = build_copy(&ctx.request, &target, &ctx.options, &via)?;
            copies.push((target, copy));
        }
        let timer_c = ctx.options.timer_c && ctx.is_invite();
        let mut started = Vec::with_capacity(copies.len());
        for (target, copy) in copies {
            let sent = self.layer.send_request(
                now,
                copy.clone(),
                target.destination.clone(),
                target.reliable,
            );
            let Some(ctx) = self.contexts.get_mut(&context) else {
                break;
            };
            let index = ctx.branches.len();
            let id = BranchId { context, index };
            let (transaction, alive) = match sent {
                Ok(tx) => (tx, true),
                Err(_) => (TransactionId(0), false),
            };
            ctx.branches.push(Branch {
                target: target.uri,
                request: copy,
                destination: target.destination,
                reliable: target.reliable,
                transaction,
                provisional: false,
                final_response: None,
                cancel: CancelState::None,
                transaction_alive: alive,
            });
            started.push(id);
            if alive {
                self.clients.insert(transaction, id);
                if timer_c {
                    let _ = self.layer.start_timer_c(now, transaction);
                }
            } else {
                // §16.9: a copy the transport cannot take counts as a 503.
                self.synthesize_on_branch(now, id, StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        Ok(started)
    }

    /// Cancels every pending INVITE branch of `context` (§16.7 step 10, §16.10).
    fn cancel_pending(&mut self, now: Instant, context: ContextId) {
        let Some(ctx) = self.contexts.get_mut(&context) else {
            return;
        };
        if !ctx.is_invite() {
            return;
        }
        let mut to_send = Vec::new();
        for (index, b) in ctx.branches.iter_mut().enumerate() {
            if b.final_response.is_some() || b.cancel != CancelState::None {
                continue;
            }
            if b.provisional {
                to_send.push(BranchId { context, index });
            } else {
                // §9.1: wait for a provisional response before sending the CANCEL.
                b.cancel = CancelState::Pending;
            }
        }
        for branch in to_send {
            self.send_cancel(now, branch);
        }
    }

    fn send_cancel(&mut self, now: Instant, branch: BranchId) {
        let Some(b) = self
            .contexts
            .get_mut(&branch.context)
            .and_then(|c| c.branches.get_mut(branch.index))
        else {
            return;
        };
        b.cancel = CancelState::Sent;
        let Ok(cancel) = build_cancel(&b.request) else {
            return;
        };
        if let Ok(id) = self
            .layer
            .send_request(now, cancel, b.destination.clone(), b.reliable)
        {
            self.cancels.insert(id);
        }
    }

    fn on_timeout(&mut self, now: Instant, transaction: TransactionId, timer: Timer) {
        let Some(&branch) = self.clients.get(&transaction) else {
            return; // Server transactions (Timer H) and our CANCELs need nothing here.
        };
        match timer {
            Timer::C => {
                // §16.8: CANCEL a branch that got a provisional, otherwise act as if a 408
                // arrived. An INVITE client transaction in Proceeding has no timeout of its
                // own, so Timer C is armed once more after the CANCEL; if the branch still
                // has no final response then (the downstream element died after its 1xx),
                // it ends with a 408 too.
                let (provisional, cancelled) = self
                    .contexts
                    .get(&branch.context)
                    .and_then(|c| c.branches.get(branch.index))
                    .map_or((false, false), |b| {
                        (b.provisional, b.cancel == CancelState::Sent)
                    });
                if provisional && !cancelled {
                    self.send_cancel(now, branch);
                    let _ = self.layer.start_timer_c(now, transaction);
                } else {
                    self.synthesize_on_branch(now, branch, StatusCode::REQUEST_TIMEOUT);
                    if cancelled {
                        // The transaction would stay in Proceeding forever (no timer of
                        // §17.1.1 runs there); ending it like a dead transport releases it
                        // and this context. Its TransportError finds the branch already
                        // final and is ignored.
                        self.layer.handle_transport_error(now, transaction);
                    }
                }
            }
            _ => self.synthesize_final(now, transaction, StatusCode::REQUEST_TIMEOUT),
        }
    }

    fn synthesize_final(&mut self, now: Instant, transaction: TransactionId, status: StatusCode) {
        if let Some(&branch) = self.clients.get(&transaction) {
            self.synthesize_on_branch(now, branch, status);
        }
    }

    /// A final response the proxy makes up for a branch (408 on timeout, 503 on a transport
    /// error), processed like a received one.
    fn synthesize_on_branch(&mut self, now: Instant, branch: BranchId, status: StatusCode) {
        let Some(b) = self
            .contexts
            .get(&branch.context)
            .and_then(|c| c.branches.get(branch.index))
        else {
            return;
        };
        if b.final_response.is_some() {
            return;
        }
        let mut response = Message::response_to(&b.request, status);
        response.headers_mut().remove_first_value("Via");
        let tag = self.new_tag();
        add_to_tag(&mut response, &tag);
        self.on_final(now, branch, response);
    }

    /// §16.11 for responses: ours (top Via is this proxy) lose that Via and go to the
    /// application to be sent on; others are dropped (§18.1.2).
    fn on_stray_response(&mut self, mut response: Message) {
        let ours = response
            .top_via()
            .is_ok_and(|via| self.config.is_my_via(&via));
        if !ours {
            return;
        }
        response.headers_mut().remove_first_value("Via");
        if response.headers().contains("Via") {
            self.events
                .push_back(ProxyEvent::StrayResponse { response });
        }
    }

    fn on_terminated(&mut self, transaction: TransactionId) {
        self.cancels.remove(&transaction);
        let context = if let Some(branch) = self.clients.remove(&transaction) {
            if let Some(b) = self
                .contexts
                .get_mut(&branch.context)
                .and_then(|c| c.branches.get_mut(branch.index))
            {
                b.transaction_alive = false;
            }
            branch.context
        } else if let Some(context) = self.servers.remove(&transaction) {
            if let Some(ctx) = self.contexts.get_mut(&context) {
                ctx.server_alive = false;
            }
            context
        } else {
            return;
        };
        let done = self.contexts.get(&context).is_some_and(|ctx| {
            !ctx.server_alive && ctx.branches.iter().all(|b| !b.transaction_alive)
        });
        if done {
            self.contexts.remove(&context);
            self.events.push_back(ProxyEvent::Finished { context });
        }
    }
}

/// Adds a To tag unless the response already has one.
fn add_to_tag(response: &mut Message, tag: &str) {
    let Some(to) = response.headers().get("To") else {
        return;
    };
    let has_tag = response.to().is_ok_and(|t| t.tag().is_some());
    if !has_tag {
        let to = format!("{to};tag={tag}");
        response.headers_mut().set("To", &to);
    }
}
