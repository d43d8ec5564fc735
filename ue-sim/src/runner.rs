//! The tokio driver: one `ims-transport` endpoint (UDP socket or TCP listener) shared by any
//! number of [`Ue`]s, so a load generator can run thousands of UEs in one process.
//!
//! One task owns every UE; it moves bytes between the transport and the UEs, fires their
//! timers from one deadline heap and executes commands sent by [`UeHandle`]s. Incoming
//! messages reach a UE by SIP Call-ID (every Call-ID a UE sends is recorded), new requests by
//! the user part of their Request-URI (the UE's `contact_user`) or, failing that, of To.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ims_sip::{Message, StatusCode, Uri};
use ims_transport::framing::PING;
use ims_transport::{
    Direction, Event, Target, Transport, TransportConfig, TransportError, TransportLayer,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::{SipTransport, UeConfig};
use crate::error::UeError;
use crate::event::{CallHandle, UeEvent};
use crate::flow::{FlowAction, FlowStats, FlowTable, KeepAlive};
use crate::register::RegistrationState;
use crate::ue::Ue;

/// Errors of the driver and the handle API.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Binding or sending failed.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The UE refused the command.
    #[error(transparent)]
    Ue(#[from] UeError),
    /// The driver task has stopped.
    #[error("UE driver stopped")]
    Stopped,
}

/// Names one UE inside a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UeId(pub u64);

/// A command for one UE.
#[derive(Debug)]
enum Op {
    Register,
    Deregister,
    Call(Uri),
    Answer(CallHandle),
    Reject(CallHandle, StatusCode),
    Hangup(CallHandle),
    Cancel(CallHandle),
}

type Reply = oneshot::Sender<Result<Option<CallHandle>, UeError>>;

enum Command {
    Add {
        config: Box<UeConfig>,
        events: mpsc::UnboundedSender<UeEvent>,
        reply: oneshot::Sender<Result<UeId, UeError>>,
    },
    Op {
        ue: UeId,
        op: Op,
        reply: Reply,
    },
}

/// Options of a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerOptions {
    /// RFC 5626 keep-alives on the TCP flows the runner opens; `None` disables them. Ignored
    /// for UDP (STUN keep-alives are not implemented).
    pub keepalive: Option<KeepAlive>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            keepalive: Some(KeepAlive::default()),
        }
    }
}

/// Counters of a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunnerStats {
    /// Keep-alive pings sent.
    pub pings_sent: u64,
    /// Keep-alive pongs received.
    pub pongs_received: u64,
    /// Flows that failed (no pong, or closed under us).
    pub flows_failed: u64,
}

/// The driver of many UEs on one endpoint.
pub struct UeRunner {
    local: SocketAddr,
    commands: mpsc::Sender<Command>,
    transport: TransportLayer,
    stats: Arc<FlowStats>,
    task: JoinHandle<()>,
}

impl UeRunner {
    /// Binds `addr` (UDP socket, or TCP listener for requests towards our Contact) and starts
    /// the driver task. Bind a concrete IP, not the unspecified address: the bound address
    /// is what every UE puts in Via and Contact.
    pub async fn bind(transport: SipTransport, addr: SocketAddr) -> Result<UeRunner, RunnerError> {
        Self::bind_with(transport, addr, RunnerOptions::default()).await
    }

    /// [`UeRunner::bind`] with explicit options.
    pub async fn bind_with(
        transport: SipTransport,
        addr: SocketAddr,
        options: RunnerOptions,
    ) -> Result<UeRunner, RunnerError> {
        let (layer, events) = TransportLayer::new(TransportConfig::default(), None);
        let local = match transport {
            SipTransport::Udp => layer.bind_udp(addr).await?.info().local,
            SipTransport::Tcp => layer.listen_tcp(addr).await?,
        };
        let (commands, command_rx) = mpsc::channel(1024);
        let stats = Arc::new(FlowStats::default());
        let flows = match (transport, options.keepalive) {
            (SipTransport::Tcp, Some(k)) => Some(FlowTable::new(k, stats.clone())),
            _ => None,
        };
        let driver = Driver {
            flows,
            transport: layer.clone(),
            kind: match transport {
                SipTransport::Udp => Transport::Udp,
                SipTransport::Tcp => Transport::Tcp,
            },
            local,
            sip_transport: transport,
            ues: HashMap::new(),
            by_call_id: HashMap::new(),
            by_user: HashMap::new(),
            timers: BinaryHeap::new(),
            next_id: 0,
        };
        let task = tokio::spawn(driver.run(events, command_rx));
        Ok(UeRunner {
            local,
            commands,
            transport: layer,
            stats,
            task,
        })
    }

    /// The runner's counters.
    pub fn stats(&self) -> RunnerStats {
        RunnerStats {
            pings_sent: self.stats.pings_sent.load(Ordering::Relaxed),
            pongs_received: self.stats.pongs_received.load(Ordering::Relaxed),
            flows_failed: self.stats.flows_failed.load(Ordering::Relaxed),
        }
    }

    /// The bound address: every UE of this runner uses it as Via sent-by and Contact.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Adds a UE. Its `local_addr` and `transport` are replaced by the runner's.
    pub async fn add_ue(&self, config: UeConfig) -> Result<UeHandle, RunnerError> {
        let (events, event_rx) = mpsc::unbounded_channel();
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Add {
                config: Box::new(config),
                events,
                reply,
            })
            .await
            .map_err(|_| RunnerError::Stopped)?;
        let id = rx.await.map_err(|_| RunnerError::Stopped)??;
        Ok(UeHandle {
            id,
            commands: self.commands.clone(),
            events: event_rx,
            backlog: VecDeque::new(),
        })
    }

    /// Stops the driver and closes the transport.
    pub async fn shutdown(self) {
        self.task.abort();
        self.transport
            .shutdown(std::time::Duration::from_millis(200))
            .await;
    }
}

/// The async API of one UE in a runner.
pub struct UeHandle {
    id: UeId,
    commands: mpsc::Sender<Command>,
    events: mpsc::UnboundedReceiver<UeEvent>,
    backlog: VecDeque<UeEvent>,
}

impl UeHandle {
    /// This UE's id.
    pub fn id(&self) -> UeId {
        self.id
    }

    async fn op(&self, op: Op) -> Result<Option<CallHandle>, RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Op {
                ue: self.id,
                op,
                reply,
            })
            .await
            .map_err(|_| RunnerError::Stopped)?;
        Ok(rx.await.map_err(|_| RunnerError::Stopped)??)
    }

    /// Waits for the first event `pick` accepts, keeping the others for [`Self::next_event`].
    async fn wait_for(&mut self, pick: impl Fn(&UeEvent) -> bool) -> Result<UeEvent, RunnerError> {
        loop {
            let event = self.events.recv().await.ok_or(RunnerError::Stopped)?;
            if pick(&event) {
                return Ok(event);
            }
            self.backlog.push_back(event);
        }
    }

    /// Registers and waits for the outcome (`Registered` or `RegistrationFailed`).
    pub async fn register(&mut self) -> Result<UeEvent, RunnerError> {
        self.op(Op::Register).await?;
        self.wait_for(|e| {
            matches!(
                e,
                UeEvent::Registered { .. } | UeEvent::RegistrationFailed { .. }
            )
        })
        .await
    }

    /// De-registers and waits for `Deregistered` (or `RegistrationFailed`).
    pub async fn deregister(&mut self) -> Result<UeEvent, RunnerError> {
        self.op(Op::Deregister).await?;
        self.wait_for(|e| {
            matches!(
                e,
                UeEvent::Deregistered | UeEvent::RegistrationFailed { .. }
            )
        })
        .await
    }

    /// Places a call; events report its progress.
    pub async fn call(&self, target: Uri) -> Result<CallHandle, RunnerError> {
        self.op(Op::Call(target)).await?.ok_or(RunnerError::Stopped)
    }

    /// Answers an incoming call.
    pub async fn answer(&self, call: CallHandle) -> Result<(), RunnerError> {
        self.op(Op::Answer(call)).await.map(drop)
    }

    /// Rejects an incoming call.
    pub async fn reject(&self, call: CallHandle, status: StatusCode) -> Result<(), RunnerError> {
        self.op(Op::Reject(call, status)).await.map(drop)
    }

    /// Hangs up.
    pub async fn hangup(&self, call: CallHandle) -> Result<(), RunnerError> {
        self.op(Op::Hangup(call)).await.map(drop)
    }

    /// Cancels an outgoing call.
    pub async fn cancel(&self, call: CallHandle) -> Result<(), RunnerError> {
        self.op(Op::Cancel(call)).await.map(drop)
    }

    /// The next event, `None` once the driver stopped.
    pub async fn next_event(&mut self) -> Option<UeEvent> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        self.events.recv().await
    }
}

struct Slot {
    ue: Ue,
    events: mpsc::UnboundedSender<UeEvent>,
    /// The deadline this UE has in the heap.
    deadline: Option<Instant>,
}

struct Driver {
    transport: TransportLayer,
    /// Keep-alives of the TCP flows we opened (None for UDP or when disabled).
    flows: Option<FlowTable>,
    kind: Transport,
    local: SocketAddr,
    sip_transport: SipTransport,
    ues: HashMap<UeId, Slot>,
    by_call_id: HashMap<String, UeId>,
    by_user: HashMap<String, UeId>,
    /// Deadlines, earliest first; entries that no longer match a slot's deadline are stale.
    timers: BinaryHeap<Reverse<(Instant, UeId)>>,
    next_id: u64,
}

impl Driver {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        loop {
            let ue_next = self.timers.peek().map(|Reverse((at, _))| *at);
            let flow_next = self.flows.as_ref().and_then(FlowTable::poll_timeout);
            let next = match (ue_next, flow_next) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    Some(Event::Message { remote, data, .. }) => self.on_message(remote, data).await,
                    Some(Event::KeepAlivePong { conn, .. }) => {
                        if let Some(flows) = &mut self.flows {
                            flows.on_pong(conn);
                        }
                    }
                    Some(Event::Closed { conn, .. }) => {
                        if let Some(remote) = self.flows.as_mut().and_then(|f| f.on_closed(conn)) {
                            self.flow_failed(remote).await;
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => break,
                },
                () = sleep => {
                    self.on_timers().await;
                    self.on_flow_timers().await;
                }
            }
        }
    }

    async fn on_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Add {
                mut config,
                events,
                reply,
            } => {
                config.local_addr = self.local;
                config.transport = self.sip_transport;
                let user = config.contact_user.clone();
                let result = Ue::new(*config).map(|ue| {
                    self.next_id += 1;
                    let id = UeId(self.next_id);
                    self.by_user.insert(user, id);
                    self.ues.insert(
                        id,
                        Slot {
                            ue,
                            events,
                            deadline: None,
                        },
                    );
                    id
                });
                let _ = reply.send(result);
            }
            Command::Op { ue: id, op, reply } => {
                let Some(slot) = self.ues.get_mut(&id) else {
                    let _ = reply.send(Err(UeError::InvalidState {
                        command: "command",
                        state: "no such UE",
                    }));
                    return;
                };
                let ue = &mut slot.ue;
                let result = match op {
                    Op::Register => ue.register(now).map(|()| None),
                    Op::Deregister => ue.deregister(now).map(|()| None),
                    Op::Call(target) => ue.call(now, target).map(Some),
                    Op::Answer(call) => ue.answer(now, call).map(|()| None),
                    Op::Reject(call, status) => ue.reject(now, call, status).map(|()| None),
                    Op::Hangup(call) => ue.hangup(now, call).map(|()| None),
                    Op::Cancel(call) => ue.cancel(now, call).map(|()| None),
                };
                let _ = reply.send(result);
                self.flush(id).await;
            }
        }
    }

    /// Picks the UE a message is for.
    fn route(&self, message: &Message) -> Option<UeId> {
        if let Some(id) = message.call_id().ok().and_then(|c| self.by_call_id.get(c)) {
            return Some(*id);
        }
        if !message.is_request() {
            return None;
        }
        let by_uri = message
            .request_uri()
            .and_then(|u| u.user())
            .and_then(|u| self.by_user.get(u));
        by_uri
            .or_else(|| {
                let to = message.to().ok()?;
                self.by_user.get(to.0.uri.user()?)
            })
            .copied()
    }

    async fn on_message(&mut self, remote: SocketAddr, data: Bytes) {
        let message = match Message::parse(&data) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%remote, error = %e, "unparsable message dropped");
                return;
            }
        };
        let Some(id) = self.route(&message) else {
            tracing::debug!(%remote, "message for no known UE dropped");
            return;
        };
        if let Some(slot) = self.ues.get_mut(&id) {
            if let Err(e) = slot.ue.handle_message(Instant::now(), remote, message) {
                tracing::debug!(%remote, error = %e, "message refused");
            }
        }
        self.flush(id).await;
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.ues.get_mut(&id) else {
                continue;
            };
            if slot.deadline != Some(at) {
                continue;
            }
            slot.deadline = None;
            slot.ue.handle_timeout(now);
            self.flush(id).await;
        }
    }

    /// Sends what UE `id` queued, forwards its events and re-arms its timer. Send failures
    /// are fed back (§18.4), which may queue more; a few rounds settle it.
    async fn flush(&mut self, id: UeId) {
        for _round in 0..8 {
            let Some(slot) = self.ues.get_mut(&id) else {
                return;
            };
            let mut outgoing = Vec::new();
            while let Some(t) = slot.ue.poll_transmit() {
                outgoing.push(t);
            }
            while let Some(event) = slot.ue.poll_event() {
                if slot.events.send(event).is_err() {
                    tracing::debug!(?id, "event receiver gone");
                }
            }
            while let Some(call_id) = slot.ue.poll_retired_call_id() {
                self.by_call_id.remove(&call_id);
            }
            let mut failed = Vec::new();
            for t in outgoing {
                if let Ok(call_id) = t.message.call_id() {
                    if let Some(other) = self.by_call_id.insert(call_id.to_owned(), id) {
                        if other != id {
                            // Two UEs drew the same Call-ID: same rng_seed in their configs.
                            tracing::warn!(call_id, ?other, ?id, "Call-ID used by two UEs");
                        }
                    }
                }
                let target = Target::Remote {
                    transport: self.kind,
                    remote: t.destination,
                    server_name: None,
                };
                let bytes = Bytes::from(t.message.to_bytes());
                match self.transport.send(target, bytes).await {
                    Ok(conn) => self.track_flow(conn, t.destination),
                    Err(e) => {
                        tracing::debug!(error = %e, destination = %t.destination, "send failed");
                        failed.extend(t.transaction);
                    }
                }
            }
            if failed.is_empty() {
                break;
            }
            if let Some(slot) = self.ues.get_mut(&id) {
                let now = Instant::now();
                for tx in failed {
                    slot.ue.handle_transport_error(now, tx);
                }
            }
        }
        let Some(slot) = self.ues.get_mut(&id) else {
            return;
        };
        let deadline = slot.ue.poll_timeout();
        if deadline != slot.deadline {
            slot.deadline = deadline;
            if let Some(at) = deadline {
                self.timers.push(Reverse((at, id)));
            }
        }
    }
}

impl Driver {
    /// Keeps a connection we opened alive (RFC 5626 §4.4.1); inbound connections belong to
    /// peers that keep them alive themselves.
    fn track_flow(&mut self, conn: ims_transport::ConnectionId, remote: SocketAddr) {
        let Some(flows) = &mut self.flows else {
            return;
        };
        let outbound = self
            .transport
            .connection(conn)
            .is_some_and(|h| h.info().direction == Direction::Outbound);
        if outbound {
            flows.track(Instant::now(), conn, remote);
        }
    }

    async fn on_flow_timers(&mut self) {
        let Some(flows) = &mut self.flows else {
            return;
        };
        let now = Instant::now();
        for action in flows.handle_timeout(now) {
            match action {
                FlowAction::Ping(conn) => {
                    let sent = self
                        .transport
                        .send(Target::Connection(conn), Bytes::from_static(PING))
                        .await;
                    if sent.is_err() {
                        if let Some(remote) = self.flows.as_mut().and_then(|f| f.on_closed(conn)) {
                            self.flow_failed(remote).await;
                        }
                    }
                }
                FlowAction::Failed { conn, remote } => {
                    self.transport.close(conn);
                    self.flow_failed(remote).await;
                }
            }
        }
    }

    /// The flow to `remote` failed: every UE registered through it registers again, which
    /// opens a new flow (RFC 5626 §4.4.1, §4.2.1).
    async fn flow_failed(&mut self, remote: SocketAddr) {
        tracing::info!(%remote, "flow failed; re-registering its UEs");
        let now = Instant::now();
        let affected: Vec<UeId> = self
            .ues
            .iter()
            .filter(|(_, s)| {
                s.ue.config().pcscf == remote
                    && s.ue.registration().state() == RegistrationState::Registered
                    && !s.ue.registration().in_progress()
            })
            .map(|(id, _)| *id)
            .collect();
        for id in affected {
            if let Some(slot) = self.ues.get_mut(&id) {
                if let Err(e) = slot.ue.register(now) {
                    tracing::warn!(error = %e, "re-registration after flow failure");
                }
            }
            self.flush(id).await;
        }
    }
}
