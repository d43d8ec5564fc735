//! The sans-IO UE: one subscriber's SIP user agent (RFC 3261 §8 UA core on the §17
//! transaction layer) with the TS 24.229 §5.1 UE procedures.
//!
//! quinn-proto style: the owner feeds [`Ue::handle_message`] / [`Ue::handle_timeout`] with its
//! `now`, calls commands ([`Ue::register`], [`Ue::call`]…), and drains [`Ue::poll_transmit`]
//! (what to send where), [`Ue::poll_event`] and [`Ue::poll_timeout`]. Nothing here reads a
//! clock or touches a socket. Originating calls are in `originating.rs`, terminating ones in
//! `terminating.rs`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ims_sip::transaction::{Event, TransactionId, TransactionLayer};
use ims_sip::{Message, Method, StatusCode};

use crate::auth::DigestClient;
use crate::call::{Call, CallState};
use crate::config::UeConfig;
use crate::error::UeError;
use crate::event::{CallHandle, EndReason, UeEvent};
use crate::ids::Ids;
use crate::register::{contact_uri, Registration, RegistrationState, ALLOW};

/// A message for the driver to send; `transaction` names the client or server transaction
/// for [`Ue::handle_transport_error`].
pub type Transmit = ims_sip::transaction::Transmit<SocketAddr>;

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxOwner {
    Register,
    Invite(CallHandle),
    Cancel(CallHandle),
    Bye(CallHandle),
    InviteServer(CallHandle),
    Other,
}

/// One simulated UE.
#[derive(Debug)]
pub struct Ue {
    pub(crate) config: UeConfig,
    pub(crate) ids: Ids,
    pub(crate) layer: TransactionLayer<SocketAddr>,
    pub(crate) registration: Registration,
    pub(crate) calls: HashMap<CallHandle, Call>,
    pub(crate) by_call_id: HashMap<String, CallHandle>,
    pub(crate) tx_owner: HashMap<TransactionId, TxOwner>,
    next_call: u64,
    pub(crate) events: VecDeque<UeEvent>,
    retired: VecDeque<String>,
}

impl Ue {
    /// A UE for `config`; fails when the AKA credentials are unusable (bad SQN scheme).
    pub fn new(config: UeConfig) -> Result<Ue, UeError> {
        let mut ids = Ids::new(config.rng_seed);
        let digest = DigestClient::new(&config.impi, &config.credentials)
            .map_err(|e| UeError::Credentials(e.to_string()))?;
        let registration = Registration::new(&config, digest, &mut ids);
        Ok(Ue {
            layer: TransactionLayer::new(config.timers),
            config,
            ids,
            registration,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            tx_owner: HashMap::new(),
            next_call: 0,
            events: VecDeque::new(),
            retired: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &UeConfig {
        &self.config
    }

    /// The registration (state, Service-Route, P-Associated-URI, Path, expiry).
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// The Digest client, e.g. to install a USIM with a saved SQN array.
    pub fn digest_mut(&mut self) -> &mut DigestClient {
        self.registration.digest()
    }

    /// The state of a call, `None` once it is forgotten.
    pub fn call_state(&self, call: CallHandle) -> Option<CallState> {
        self.calls.get(&call).map(|c| c.state)
    }

    /// How many calls are known (including ended ones still lingering).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    // ----- commands -------------------------------------------------------------------------

    /// Registers (TS 24.229 §5.1.1.2), or refreshes when already registered (§5.1.1.4).
    pub fn register(&mut self, now: Instant) -> Result<(), UeError> {
        if self.registration.in_progress() {
            return Err(UeError::RegistrationInProgress);
        }
        let request = self.registration.start(&self.config, &mut self.ids);
        self.send_register(now, request)?;
        self.process(now);
        Ok(())
    }

    /// De-registers (§5.1.1.6) with Expires: 0.
    pub fn deregister(&mut self, now: Instant) -> Result<(), UeError> {
        if self.registration.in_progress() {
            return Err(UeError::RegistrationInProgress);
        }
        if self.registration.state() != RegistrationState::Registered {
            return Err(UeError::InvalidState {
                command: "deregister",
                state: "not registered",
            });
        }
        let request = self.registration.deregister(&self.config, &mut self.ids);
        self.send_register(now, request)?;
        self.process(now);
        Ok(())
    }

    // ----- I/O ------------------------------------------------------------------------------

    /// A datagram or framed stream message arrived from `source`.
    pub fn handle_bytes(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), UeError> {
        let message = Message::parse(bytes)?;
        self.handle_message(now, source, message)
    }

    /// A parsed message arrived from `source`.
    pub fn handle_message(
        &mut self,
        now: Instant,
        source: SocketAddr,
        message: Message,
    ) -> Result<(), UeError> {
        let reliable = self.config.transport.is_reliable();
        // Kept only for requests, to answer one the layer cannot key (§8.2: a request that
        // cannot be matched still deserves a stateless error response if it has a Via).
        let answerable = (message.is_request()
            && message.method() != Some(&Method::ACK)
            && message.top_via().is_ok())
        .then(|| message.clone());
        let result = match self.layer.handle_message(now, message, source, reliable) {
            Err(e) => {
                if let Some(request) = answerable {
                    let mut resp = Message::response_to(&request, e.status());
                    resp.set_reason(&e.to_string());
                    self.layer.send_stateless(source, resp);
                }
                Err(e.into())
            }
            Ok(()) => Ok(()),
        };
        self.process(now);
        result
    }

    /// The driver could not send a [`Transmit`] of `transaction` (§18.4).
    pub fn handle_transport_error(&mut self, now: Instant, transaction: TransactionId) {
        self.layer.handle_transport_error(now, transaction);
        self.process(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        if let Some(request) = self
            .registration
            .poll_refresh(now, &self.config, &mut self.ids)
        {
            if let Err(e) = self.send_register(now, request) {
                tracing::warn!(error = %e, "re-registration could not start");
            }
        }
        self.call_timers(now);
        self.process(now);
    }

    /// When [`Ue::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.registration.refresh_at(),
            self.calls.values().filter_map(Call::poll_timeout).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.layer.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<UeEvent> {
        self.events.pop_front()
    }

    /// A SIP Call-ID this UE no longer uses (its call was forgotten); a driver that routes
    /// by Call-ID drops it from its table.
    pub fn poll_retired_call_id(&mut self) -> Option<String> {
        self.retired.pop_front()
    }

    // ----- internals ------------------------------------------------------------------------

    pub(crate) fn reliable(&self) -> bool {
        self.config.transport.is_reliable()
    }

    /// The Contact URI of dialog-forming requests and responses: with an outbound
    /// registration it carries `ob` (RFC 5626 §4.3), asking the edge proxy to keep
    /// in-dialog requests on our flow.
    pub(crate) fn dialog_contact(&self) -> String {
        let base = contact_uri(&self.config);
        let outbound = self.config.outbound
            && self.config.instance_id.is_some()
            && self.registration.state() == RegistrationState::Registered;
        if outbound {
            format!("{base};ob")
        } else {
            base
        }
    }

    /// 64·T1: how long ended calls linger.
    pub(crate) fn linger(&self) -> Duration {
        self.config.timers.t1_x64()
    }

    pub(crate) fn new_call_handle(&mut self) -> CallHandle {
        self.next_call += 1;
        CallHandle(self.next_call)
    }

    /// Starts a client transaction to the P-CSCF.
    pub(crate) fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        owner: TxOwner,
    ) -> Result<TransactionId, UeError> {
        let id = self
            .layer
            .send_request(now, request, self.config.pcscf, self.reliable())?;
        self.tx_owner.insert(id, owner);
        Ok(id)
    }

    /// Starts a REGISTER transaction; if the layer refuses it the procedure fails at once
    /// (500) instead of waiting for an answer that cannot come.
    fn send_register(&mut self, now: Instant, request: Message) -> Result<(), UeError> {
        if let Err(e) = self.send_request(now, request, TxOwner::Register) {
            let mut events = Vec::new();
            self.registration
                .on_failure(StatusCode::SERVER_INTERNAL_ERROR, &mut events);
            self.events.extend(events);
            return Err(e);
        }
        Ok(())
    }

    /// Answers server transaction `id`, logging a refusal (it only happens when the
    /// transaction already ended, and then there is nobody to answer).
    pub(crate) fn respond(&mut self, now: Instant, id: TransactionId, response: Message) {
        if let Err(e) = self.layer.send_response(now, id, response) {
            tracing::debug!(error = %e, "response not sent");
        }
    }

    pub(crate) fn end_call(&mut self, now: Instant, handle: CallHandle, reason: EndReason) {
        let linger = self.linger();
        if let Some(call) = self.calls.get_mut(&handle) {
            if let Some(reason) = call.end(now, linger, reason) {
                self.events.push_back(UeEvent::CallEnded {
                    call: handle,
                    reason,
                });
            }
        }
    }

    pub(crate) fn fail_call(&mut self, now: Instant, handle: CallHandle, status: StatusCode) {
        let linger = self.linger();
        if let Some(call) = self.calls.get_mut(&handle) {
            // The reason is not reported: a failed INVITE is reported as CallFailed.
            if call.end(now, linger, EndReason::Timeout).is_some() {
                self.events.push_back(UeEvent::CallFailed {
                    call: handle,
                    status,
                });
            }
        }
    }

    /// 2xx retransmissions and forgetting ended calls.
    fn call_timers(&mut self, now: Instant) {
        let due: Vec<CallHandle> = self
            .calls
            .values()
            .filter(|c| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|c| c.handle)
            .collect();
        for handle in due {
            let forget = self
                .calls
                .get(&handle)
                .and_then(|c| c.linger_until)
                .is_some_and(|t| t <= now);
            if forget {
                if let Some(call) = self.calls.remove(&handle) {
                    if self.by_call_id.get(&call.call_id) == Some(&handle) {
                        self.by_call_id.remove(&call.call_id);
                        self.retired.push_back(call.call_id);
                    }
                }
                continue;
            }
            self.retransmit_2xx(now, handle);
        }
    }

    /// Drains the transaction layer's events until it has none.
    pub(crate) fn process(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                Event::Request {
                    id,
                    request,
                    source,
                    cancels,
                } => self.on_request(now, id, request, source, cancels),
                Event::Response { id, response } => self.on_response(now, id, response),
                Event::Ack { ack, .. } => self.on_ack(now, &ack),
                Event::StrayResponse { response, .. } => self.on_stray_response(now, &response),
                Event::Timeout { id, timer } => {
                    tracing::debug!(?timer, ?id, "transaction timeout");
                    self.on_tx_failure(now, id, StatusCode::REQUEST_TIMEOUT);
                }
                Event::TransportError { id } => {
                    self.on_tx_failure(now, id, StatusCode::SERVICE_UNAVAILABLE)
                }
                Event::Terminated { id } => {
                    if let Some(TxOwner::Invite(h) | TxOwner::InviteServer(h)) =
                        self.tx_owner.remove(&id)
                    {
                        if let Some(call) = self.calls.get_mut(&h) {
                            if call.invite_tx == Some(id) {
                                call.invite_tx = None;
                            }
                        }
                    }
                }
            }
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Message,
        source: SocketAddr,
        cancels: Option<TransactionId>,
    ) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        if method == Method::INVITE {
            self.on_invite(now, id, request, source);
        } else if method == Method::CANCEL {
            self.on_cancel(now, id, &request, cancels);
        } else if method == Method::BYE {
            self.on_bye(now, id, &request);
        } else if method == Method::OPTIONS {
            // §11.2: OPTIONS is answered as an INVITE would be, with our capabilities.
            let mut resp = Message::response_to(&request, StatusCode::OK);
            resp.headers_mut().push("Allow", ALLOW);
            self.tx_owner.insert(id, TxOwner::Other);
            self.respond(now, id, resp);
        } else {
            // §8.2.1: a method we do not implement gets 405 with Allow.
            let mut resp = Message::response_to(&request, StatusCode::METHOD_NOT_ALLOWED);
            resp.headers_mut().push("Allow", ALLOW);
            self.tx_owner.insert(id, TxOwner::Other);
            self.respond(now, id, resp);
        }
    }

    fn on_response(&mut self, now: Instant, id: TransactionId, response: Message) {
        let Some(owner) = self.tx_owner.get(&id).copied() else {
            return;
        };
        let status = response
            .status()
            .unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        match owner {
            TxOwner::Register if status.is_final() => {
                let mut events = Vec::new();
                let next = self.registration.on_final(
                    now,
                    &response,
                    &self.config,
                    &mut self.ids,
                    &mut events,
                );
                self.events.extend(events);
                if let Some(request) = next {
                    if let Err(e) = self.send_register(now, request) {
                        tracing::warn!(error = %e, "REGISTER could not be sent");
                    }
                }
            }
            TxOwner::Invite(call) => self.on_invite_response(now, call, response),
            TxOwner::Bye(call) if status.is_final() => {
                self.end_call(now, call, EndReason::LocalHangup)
            }
            _ => {}
        }
    }

    fn on_tx_failure(&mut self, now: Instant, id: TransactionId, status: StatusCode) {
        match self.tx_owner.get(&id).copied() {
            Some(TxOwner::Register) => {
                let mut events = Vec::new();
                self.registration.on_failure(status, &mut events);
                self.events.extend(events);
            }
            Some(TxOwner::Invite(call)) => self.fail_call(now, call, status),
            Some(TxOwner::Bye(call)) => self.end_call(now, call, EndReason::Timeout),
            _ => {}
        }
    }

    /// The handle of the call a message belongs to, by Call-ID.
    pub(crate) fn call_for(&self, message: &Message) -> Option<CallHandle> {
        let call_id = message.call_id().ok()?;
        self.by_call_id.get(call_id).copied()
    }
}
