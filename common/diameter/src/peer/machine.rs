//! The peer state machine of RFC 6733 §5.6, sans-IO.
//!
//! One [`Peer`] models the connection(s) to one remote Diameter identity. It owns up to two
//! transport connections, the initiator one (`I-`, opened by us) and the responder one (`R-`,
//! accepted from the peer), as the RFC table does, so that simultaneous connections can be
//! resolved by the election of §5.6.4. The embedder (the tokio driver, or a test) feeds it
//! transport events and decoded messages with the current time, and drains what it wants done:
//! bytes to write ([`Peer::poll_transmit`]), connection and application events
//! ([`Peer::poll_event`]) and the next deadline ([`Peer::poll_timeout`]).
//!
//! Next to the §5.6 machine run the RFC 3539 watchdog ([`super::watchdog`]), the reconnect
//! backoff ([`super::backoff`]) and the table of requests waiting for answers, matched by
//! Hop-by-Hop Identifier (RFC 6733 §6.2) with a per-request timeout.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::backoff::Backoff;
use super::capabilities::{check_capabilities, Capabilities, CapabilitiesError};
use super::ids::{EndToEndIds, HopByHopIds, SeededRng};
use super::watchdog::{Watchdog, WatchdogActions, WatchdogState};
use super::wire::{self, DisconnectCause, Inbound};
use crate::header::ApplicationId;
use crate::message::Message;
use crate::result::ResultCode;

/// The embedder's name for one transport connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// The embedder's name for one locally originated request, echoed in the answer event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestToken(pub u64);

/// The states of RFC 6733 §5.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// `Closed`: no connection.
    Closed,
    /// `Wait-Conn-Ack`: our connection attempt is in progress.
    WaitConnAck,
    /// `Wait-I-CEA`: we sent CER on our connection and wait for the CEA.
    WaitICea,
    /// `Wait-Conn-Ack/Elect`: a CER arrived while our own attempt is still connecting.
    WaitConnAckElect,
    /// `Wait-Returns`: both connections exist; the election decides which survives.
    WaitReturns,
    /// `R-Open`: open over the connection the peer initiated.
    ROpen,
    /// `I-Open`: open over the connection we initiated.
    IOpen,
    /// `Closing`: DPR sent, waiting for DPA.
    Closing,
}

impl PeerState {
    /// I-Open or R-Open.
    pub fn is_open(self) -> bool {
        matches!(self, PeerState::IOpen | PeerState::ROpen)
    }
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerState::Closed => "Closed",
            PeerState::WaitConnAck => "Wait-Conn-Ack",
            PeerState::WaitICea => "Wait-I-CEA",
            PeerState::WaitConnAckElect => "Wait-Conn-Ack/Elect",
            PeerState::WaitReturns => "Wait-Returns",
            PeerState::ROpen => "R-Open",
            PeerState::IOpen => "I-Open",
            PeerState::Closing => "Closing",
        })
    }
}

/// Bytes for the embedder to write on a connection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The connection to write on.
    pub connection: ConnectionId,
    /// One encoded Diameter message.
    pub payload: Bytes,
}

/// Why a locally originated request did not get its answer here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFailure {
    /// No answer within the request's timeout.
    Timeout,
    /// The transport failed or the watchdog declared the peer SUSPECT/DOWN while the request
    /// was pending (RFC 6733 §5.5.4): the request should be sent to an alternate peer with the
    /// T flag set ([`wire::mark_retransmission`]).
    Failover,
}

/// What the peer machine asks the embedder to do or tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerEvent {
    /// `Snd-Conn-Req`: open a transport connection to the peer, then report the outcome with
    /// [`Peer::handle_connected`] or [`Peer::handle_connect_failed`].
    Connect,
    /// Close this connection once the transmits queued for it are written (`Disc`, `Reject`,
    /// `Cleanup`, `Error`).
    Disconnect(ConnectionId),
    /// The peer reached I-Open or R-Open; `applications` are the ones in common.
    Opened {
        /// The connection carrying the peer.
        connection: ConnectionId,
        /// The peer's advertised capabilities (boxed: they dwarf the other events).
        remote: Box<Capabilities>,
        /// Applications both sides support.
        applications: Vec<ApplicationId>,
    },
    /// A capabilities exchange failed: the peer's CER was answered with an error CEA (and its
    /// connection closed), or the peer rejected our CER / sent an unusable CEA.
    CapabilitiesFailed(CapabilitiesError),
    /// The peer left the open states (back to Closed).
    Closed,
    /// Whether requests may be routed to the peer changed (open and watchdog OKAY).
    Availability(bool),
    /// An application request arrived; answer it with [`Peer::send_answer`].
    Request(Message),
    /// The answer to a request sent with [`Peer::send_request`].
    Answer {
        /// The token given with the request.
        token: RequestToken,
        /// The answer.
        answer: Message,
    },
    /// A request will not be answered through this peer.
    RequestFailed {
        /// The token given with the request.
        token: RequestToken,
        /// The request as it was sent (with this peer's Hop-by-Hop Identifier).
        request: Message,
        /// Why.
        reason: RequestFailure,
    },
    /// The peer sent DPR (RFC 6733 §5.4); after BUSY or DO_NOT_WANT_TO_TALK_TO_YOU we do not
    /// reconnect (§5.4.3).
    DisconnectRequested {
        /// The Disconnect-Cause it gave.
        cause: DisconnectCause,
    },
}

/// Errors of the peer layer; each maps to the Result-Code an answer would carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer is not open, or it is shutting down (3002 DIAMETER_UNABLE_TO_DELIVER).
    #[error("peer {peer:?} is not open (state {state})")]
    NotOpen {
        /// The peer's identity.
        peer: String,
        /// Its state.
        state: PeerState,
    },
    /// `send_request` was given an answer, or `send_answer` a request
    /// (5012 DIAMETER_UNABLE_TO_COMPLY: a local programming error, never from the network).
    #[error("wrong message kind: expected {expected}")]
    WrongKind {
        /// "request" or "answer".
        expected: &'static str,
    },
    /// Capabilities exchange failed.
    #[error(transparent)]
    Capabilities(#[from] CapabilitiesError),
}

impl PeerError {
    /// The Result-Code an answer reporting this error carries.
    pub fn result_code(&self) -> ResultCode {
        match self {
            PeerError::NotOpen { .. } => ResultCode::UNABLE_TO_DELIVER,
            PeerError::WrongKind { .. } => ResultCode::UNABLE_TO_COMPLY,
            PeerError::Capabilities(e) => e.result_code(),
        }
    }
}

/// Configuration of one peer.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// What we advertise in CER/CEA.
    pub local: Capabilities,
    /// The peer's Diameter identity (the Origin-Host it must present).
    pub peer_host: String,
    /// Whether we connect to the peer ourselves (and reconnect); a server-only peer waits for
    /// the peer's connection.
    pub initiator: bool,
    /// RFC 3539 Twinit.
    pub tw_init: Duration,
    /// RFC 3539 jitter span around Twinit (±).
    pub tw_jitter: Duration,
    /// First reconnect delay; doubled per failed attempt up to `tc`.
    pub reconnect_initial: Duration,
    /// RFC 6733 §2.1 Tc, the cap of the reconnect delay.
    pub tc: Duration,
    /// How long `Wait-Conn-Ack` waits for the transport.
    pub connect_timeout: Duration,
    /// How long `Wait-I-CEA`, `Wait-Conn-Ack/Elect` and `Wait-Returns` wait.
    pub cea_timeout: Duration,
    /// How long `Closing` waits for the DPA.
    pub dpa_timeout: Duration,
    /// Default per-request answer timeout.
    pub request_timeout: Duration,
    /// Seed of the jitter and identifier randomness.
    pub seed: u64,
    /// Current UNIX time in seconds at creation, for End-to-End Identifiers (RFC 6733 §3).
    pub unix_time: u64,
}

impl PeerConfig {
    /// Defaults from the RFCs: Tw 30 s ± 2 s, Tc 30 s, with 10 s transport/CEA/DPA timeouts.
    pub fn new(local: Capabilities, peer_host: impl Into<String>) -> Self {
        Self {
            local,
            peer_host: peer_host.into(),
            initiator: true,
            tw_init: super::watchdog::DEFAULT_TW_INIT,
            tw_jitter: super::watchdog::DEFAULT_TW_JITTER,
            reconnect_initial: Duration::from_secs(1),
            tc: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            cea_timeout: Duration::from_secs(10),
            dpa_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            seed: 0,
            unix_time: 0,
        }
    }
}

/// Watchdog traffic counters of one peer (for status pages and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchdogCounts {
    /// DWRs we sent.
    pub dwr_sent: u64,
    /// DWAs we received.
    pub dwa_received: u64,
    /// DWRs we received (and answered).
    pub dwr_received: u64,
}

/// A request waiting for its answer.
#[derive(Debug, Clone)]
struct Pending {
    token: RequestToken,
    request: Message,
    deadline: Instant,
}

/// The RFC 6733 §5.6 peer state machine for one remote Diameter identity.
#[derive(Debug)]
pub struct Peer {
    config: PeerConfig,
    state: PeerState,
    /// Our connection (`I-`), once the embedder reported it connected.
    i_conn: Option<ConnectionId>,
    /// The peer's connection (`R-`).
    r_conn: Option<ConnectionId>,
    /// Whether an `I-` connection attempt is in flight (`Wait-Conn-Ack*`).
    connecting: bool,
    /// The CER received on `R-` while the election is pending, to answer on `R-Snd-CEA`.
    r_cer: Option<(Message, Capabilities, Vec<ApplicationId>)>,
    /// Timeout of the current state (Wait-*, Closing).
    state_deadline: Option<Instant>,
    /// When to issue `Start` again after a failure.
    reconnect_at: Option<Instant>,
    /// False after `Stop` or a DPR asking us not to reconnect.
    auto_reconnect: bool,
    backoff: Backoff,
    watchdog: Watchdog,
    rng: SeededRng,
    hop_by_hop: HopByHopIds,
    end_to_end: EndToEndIds,
    pending: HashMap<u32, Pending>,
    /// The peer's capabilities once open.
    remote: Option<Capabilities>,
    available: bool,
    counts: WatchdogCounts,
    transmits: VecDeque<Transmit>,
    events: VecDeque<PeerEvent>,
}

impl Peer {
    /// A peer in `Closed`. Call [`Peer::start`] to connect (initiator peers).
    pub fn new(config: PeerConfig) -> Self {
        let mut rng = SeededRng::new(config.seed);
        let hop_by_hop = HopByHopIds::new(rng.next_u32());
        let end_to_end = EndToEndIds::new(config.unix_time, rng.next_u32());
        Self {
            state: PeerState::Closed,
            i_conn: None,
            r_conn: None,
            connecting: false,
            r_cer: None,
            state_deadline: None,
            reconnect_at: None,
            auto_reconnect: false,
            backoff: Backoff::new(config.reconnect_initial, config.tc),
            watchdog: Watchdog::new(config.tw_init, config.tw_jitter),
            rng,
            hop_by_hop,
            end_to_end,
            pending: HashMap::new(),
            remote: None,
            available: false,
            counts: WatchdogCounts::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            config,
        }
    }

    /// The RFC 6733 §5.6 state.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// The RFC 3539 watchdog state.
    pub fn watchdog_state(&self) -> WatchdogState {
        self.watchdog.state()
    }

    /// The peer's Diameter identity.
    pub fn peer_host(&self) -> &str {
        &self.config.peer_host
    }

    /// The local capabilities.
    pub fn local(&self) -> &Capabilities {
        &self.config.local
    }

    /// The peer's capabilities, once a CER/CEA was accepted.
    pub fn remote(&self) -> Option<&Capabilities> {
        self.remote.as_ref()
    }

    /// Whether requests may be routed here: open, and the watchdog OKAY (RFC 3539 §3.4: not
    /// SUSPECT, and failed back after REOPEN).
    pub fn is_available(&self) -> bool {
        self.state.is_open() && self.watchdog.state() == WatchdogState::Okay
    }

    /// DWR/DWA counters.
    pub fn watchdog_counts(&self) -> WatchdogCounts {
        self.counts
    }

    /// Number of requests waiting for an answer.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// A fresh End-to-End Identifier for a locally originated request (RFC 6733 §3).
    pub fn next_end_to_end(&mut self) -> u32 {
        self.end_to_end.next_id()
    }

    /// The connection of the open state.
    fn open_connection(&self) -> Option<ConnectionId> {
        match self.state {
            PeerState::IOpen => self.i_conn,
            PeerState::ROpen => self.r_conn,
            PeerState::Closing => self.i_conn.or(self.r_conn),
            _ => None,
        }
    }

    // ---- outputs -------------------------------------------------------------------------

    /// The next bytes to write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`Peer::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.state_deadline,
            self.reconnect_at,
            self.watchdog.poll_timeout(),
            self.pending.values().map(|p| p.deadline).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn send(&mut self, connection: ConnectionId, message: &Message) {
        self.transmits.push_back(Transmit {
            connection,
            payload: wire::encode(message),
        });
    }

    fn disconnect(&mut self, connection: ConnectionId) {
        if self.i_conn == Some(connection) {
            self.i_conn = None;
        }
        if self.r_conn == Some(connection) {
            self.r_conn = None;
            self.r_cer = None;
        }
        self.events.push_back(PeerEvent::Disconnect(connection));
    }

    fn i_disc(&mut self) {
        if let Some(c) = self.i_conn {
            self.disconnect(c);
        }
        self.connecting = false;
    }

    fn r_disc(&mut self) {
        if let Some(c) = self.r_conn {
            self.disconnect(c);
        }
    }

    fn set_available(&mut self) {
        let now_available = self.is_available();
        if now_available != self.available {
            self.available = now_available;
            self.events
                .push_back(PeerEvent::Availability(now_available));
        }
    }

    // ---- state entry ---------------------------------------------------------------------

    /// Moves to `next`, arming the state's timer and running the side effects of entering or
    /// leaving the open states.
    fn enter(&mut self, now: Instant, next: PeerState) {
        let was_up = self.state.is_open() || self.state == PeerState::Closing;
        self.state = next;
        self.state_deadline = match next {
            PeerState::WaitConnAck => Some(now + self.config.connect_timeout),
            PeerState::WaitICea | PeerState::WaitConnAckElect | PeerState::WaitReturns => {
                Some(now + self.config.cea_timeout)
            }
            PeerState::Closing => Some(now + self.config.dpa_timeout),
            _ => None,
        };
        match next {
            PeerState::IOpen | PeerState::ROpen => {
                self.backoff.reset();
                self.reconnect_at = None;
                let actions = self.watchdog.connection_up(now, &mut self.rng);
                if let (Some(connection), Some(remote)) = (self.open_connection(), &self.remote) {
                    let applications =
                        check_capabilities(&self.config.local, remote).unwrap_or_default();
                    self.events.push_back(PeerEvent::Opened {
                        connection,
                        remote: Box::new(remote.clone()),
                        applications,
                    });
                }
                self.apply_watchdog(now, actions);
            }
            PeerState::Closed => {
                // Leftover connections of an aborted state are closed (`Cleanup`/`Error`).
                self.i_disc();
                self.r_disc();
                if was_up {
                    let actions = self.watchdog.connection_down();
                    self.apply_watchdog(now, actions);
                    self.events.push_back(PeerEvent::Closed);
                }
                // Answers can only come back on the connection the request went out on.
                self.fail_all_pending(RequestFailure::Failover);
                self.schedule_reconnect(now);
            }
            _ => {}
        }
        self.set_available();
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        if self.config.initiator && self.auto_reconnect {
            let delay = self.backoff.next_delay(&mut self.rng);
            self.reconnect_at = Some(now + delay);
        } else {
            self.reconnect_at = None;
        }
    }

    fn fail_all_pending(&mut self, reason: RequestFailure) {
        let mut failed: Vec<(u32, Pending)> = self.pending.drain().collect();
        // Deterministic order: the order the requests were sent in.
        failed.sort_by_key(|(_, p)| p.token);
        for (_, p) in failed {
            self.events.push_back(PeerEvent::RequestFailed {
                token: p.token,
                request: p.request,
                reason,
            });
        }
    }

    fn apply_watchdog(&mut self, now: Instant, actions: WatchdogActions) {
        if actions.send_watchdog {
            if let Some(c) = self.open_connection() {
                let dwr = wire::dwr(
                    &self.config.local,
                    self.hop_by_hop.next_id(),
                    self.end_to_end.next_id(),
                );
                self.send(c, &dwr);
                self.counts.dwr_sent += 1;
            }
        }
        if actions.failover {
            self.fail_all_pending(RequestFailure::Failover);
        }
        if actions.close_connection && self.state != PeerState::Closed {
            self.enter(now, PeerState::Closed);
        }
        self.set_available();
    }

    // ---- inputs: local commands ----------------------------------------------------------

    /// `Start` (RFC 6733 §5.6): connect to the peer, and keep reconnecting with backoff.
    pub fn start(&mut self, now: Instant) {
        if !self.config.initiator {
            return;
        }
        self.auto_reconnect = true;
        if self.state == PeerState::Closed {
            self.snd_conn_req(now);
        }
    }

    fn snd_conn_req(&mut self, now: Instant) {
        self.reconnect_at = None;
        self.connecting = true;
        self.events.push_back(PeerEvent::Connect);
        self.enter(now, PeerState::WaitConnAck);
    }

    /// `Stop` (RFC 6733 §5.6, §5.4): in an open state send DPR with `cause` and go to Closing;
    /// anywhere else close what exists. No reconnection follows.
    pub fn stop(&mut self, now: Instant, cause: DisconnectCause) {
        self.auto_reconnect = false;
        self.reconnect_at = None;
        match (self.state, self.open_connection()) {
            (PeerState::IOpen | PeerState::ROpen, Some(c)) => {
                let dpr = wire::dpr(
                    &self.config.local,
                    cause,
                    self.hop_by_hop.next_id(),
                    self.end_to_end.next_id(),
                );
                self.send(c, &dpr);
                self.enter(now, PeerState::Closing);
            }
            (PeerState::Closing, _) => {}
            _ => self.enter(now, PeerState::Closed),
        }
    }

    /// `Send-Message`: sends a request to the peer. The Hop-by-Hop Identifier is assigned here;
    /// the End-to-End Identifier is kept (the originator sets it, see
    /// [`Peer::next_end_to_end`]). The request fails with
    /// [`RequestFailure::Timeout`] after `timeout` (or the configured default).
    pub fn send_request(
        &mut self,
        now: Instant,
        token: RequestToken,
        mut request: Message,
        timeout: Option<Duration>,
    ) -> Result<(), PeerError> {
        if !request.header.is_request() {
            return Err(PeerError::WrongKind {
                expected: "request",
            });
        }
        let connection = match (self.state.is_open(), self.open_connection()) {
            (true, Some(c)) => c,
            _ => {
                return Err(PeerError::NotOpen {
                    peer: self.config.peer_host.clone(),
                    state: self.state,
                })
            }
        };
        let hop_by_hop = self.hop_by_hop.next_id();
        request.header.hop_by_hop = hop_by_hop;
        self.send(connection, &request);
        self.pending.insert(
            hop_by_hop,
            Pending {
                token,
                request,
                deadline: now + timeout.unwrap_or(self.config.request_timeout),
            },
        );
        Ok(())
    }

    /// Sends the answer to a request delivered by [`PeerEvent::Request`] (it must keep the
    /// request's Hop-by-Hop Identifier, RFC 6733 §6.2).
    pub fn send_answer(&mut self, _now: Instant, answer: &Message) -> Result<(), PeerError> {
        if answer.header.is_request() {
            return Err(PeerError::WrongKind { expected: "answer" });
        }
        match self.open_connection() {
            Some(c) => {
                self.send(c, answer);
                Ok(())
            }
            None => Err(PeerError::NotOpen {
                peer: self.config.peer_host.clone(),
                state: self.state,
            }),
        }
    }

    // ---- inputs: transport ---------------------------------------------------------------

    /// `I-Rcv-Conn-Ack`: the connection requested by [`PeerEvent::Connect`] is up.
    pub fn handle_connected(&mut self, now: Instant, connection: ConnectionId) {
        if !self.connecting {
            // Stale: the attempt was abandoned (timeout, election); close the late arrival.
            self.events.push_back(PeerEvent::Disconnect(connection));
            return;
        }
        self.connecting = false;
        self.i_conn = Some(connection);
        let cer = wire::cer(
            &self.config.local,
            self.hop_by_hop.next_id(),
            self.end_to_end.next_id(),
        );
        match self.state {
            PeerState::WaitConnAck => {
                self.send(connection, &cer);
                self.enter(now, PeerState::WaitICea);
            }
            PeerState::WaitConnAckElect => {
                // I-Snd-CER, Elect.
                self.send(connection, &cer);
                self.enter(now, PeerState::WaitReturns);
                self.elect(now);
            }
            _ => self.i_disc(),
        }
    }

    /// `I-Rcv-Conn-Nack`: the connection attempt failed.
    pub fn handle_connect_failed(&mut self, now: Instant) {
        if !self.connecting {
            return;
        }
        self.connecting = false;
        match self.state {
            PeerState::WaitConnAck => self.enter(now, PeerState::Closed),
            PeerState::WaitConnAckElect => self.r_snd_cea_open(now),
            _ => {}
        }
    }

    /// `I-Peer-Disc` / `R-Peer-Disc`: the transport connection closed.
    pub fn handle_disconnected(&mut self, now: Instant, connection: ConnectionId) {
        let is_i = self.i_conn == Some(connection);
        let is_r = self.r_conn == Some(connection);
        if !is_i && !is_r {
            return;
        }
        if is_i {
            self.i_conn = None;
        }
        if is_r {
            self.r_conn = None;
        }
        match (self.state, is_i) {
            (PeerState::WaitICea, true) => self.enter(now, PeerState::Closed),
            (PeerState::WaitConnAckElect, false) => {
                self.r_cer = None;
                self.enter(now, PeerState::WaitConnAck);
            }
            (PeerState::WaitReturns, true) => self.r_snd_cea_open(now),
            (PeerState::WaitReturns, false) => {
                self.r_cer = None;
                self.enter(now, PeerState::WaitICea);
            }
            (PeerState::IOpen, true) | (PeerState::ROpen, false) | (PeerState::Closing, _) => {
                self.enter(now, PeerState::Closed)
            }
            // The other connection of an open state is already gone; nothing changes.
            _ => {}
        }
    }

    // ---- inputs: messages ----------------------------------------------------------------

    /// `R-Conn-CER`: a new connection from the peer whose first message is `cer`. The embedder
    /// has looked the peer up by the CER's Origin-Host (an unknown host is answered by
    /// [`wire::unknown_peer_cea`] without any peer machine).
    pub fn handle_incoming_cer(&mut self, now: Instant, connection: ConnectionId, cer: Message) {
        let remote = match wire::parse_capabilities(&cer) {
            Ok(remote) => remote,
            Err(e) => {
                self.reject_cer(connection, &cer, &e);
                return;
            }
        };
        if !remote
            .origin_host
            .eq_ignore_ascii_case(&self.config.peer_host)
        {
            let e = CapabilitiesError::UnknownPeer {
                origin_host: remote.origin_host,
            };
            self.reject_cer(connection, &cer, &e);
            return;
        }
        // Process-CER: the capabilities check is made before any transition.
        let applications = match check_capabilities(&self.config.local, &remote) {
            Ok(apps) => apps,
            Err(e) => {
                self.reject_cer(connection, &cer, &e);
                return;
            }
        };
        match self.state {
            PeerState::Closed => {
                // R-Accept, Process-CER, R-Snd-CEA.
                self.r_conn = Some(connection);
                self.r_cer = Some((cer, remote, applications));
                self.r_snd_cea_open(now);
            }
            PeerState::WaitConnAck => {
                // R-Accept, Process-CER.
                self.r_conn = Some(connection);
                self.r_cer = Some((cer, remote, applications));
                self.enter(now, PeerState::WaitConnAckElect);
            }
            PeerState::WaitICea => {
                // R-Accept, Process-CER, Elect.
                self.r_conn = Some(connection);
                self.r_cer = Some((cer, remote, applications));
                self.enter(now, PeerState::WaitReturns);
                self.elect(now);
            }
            // R-Reject: a second connection while one exists.
            _ => self.events.push_back(PeerEvent::Disconnect(connection)),
        }
    }

    fn reject_cer(&mut self, connection: ConnectionId, cer: &Message, e: &CapabilitiesError) {
        let cea = wire::cea(&self.config.local, cer, e.result_code());
        self.send(connection, &cea);
        self.events
            .push_back(PeerEvent::CapabilitiesFailed(e.clone()));
        self.events.push_back(PeerEvent::Disconnect(connection));
    }

    /// `Elect` (RFC 6733 §5.6.4): we win when our Origin-Host lexicographically succeeds the
    /// peer's, compared case-insensitively. The winner closes the connection it initiated.
    fn elect(&mut self, now: Instant) {
        let Some((_, remote, _)) = &self.r_cer else {
            return;
        };
        if election_won(&self.config.local.origin_host, &remote.origin_host) {
            // Win-Election: I-Disc, R-Snd-CEA.
            self.i_disc();
            self.r_snd_cea_open(now);
        }
        // Lost: wait in Wait-Returns for the CEA on I- (then R-Disc) or for R- to close.
    }

    /// `R-Snd-CEA` with the stored CER, entering R-Open.
    fn r_snd_cea_open(&mut self, now: Instant) {
        let (Some(connection), Some((cer, remote, _))) = (self.r_conn, self.r_cer.take()) else {
            self.enter(now, PeerState::Closed);
            return;
        };
        let cea = wire::cea(&self.config.local, &cer, ResultCode::SUCCESS);
        self.send(connection, &cea);
        self.remote = Some(remote);
        self.enter(now, PeerState::ROpen);
    }

    /// A message received on a connection of this peer.
    pub fn handle_message(&mut self, now: Instant, connection: ConnectionId, message: Message) {
        let is_i = self.i_conn == Some(connection);
        let is_r = self.r_conn == Some(connection);
        if !is_i && !is_r {
            return;
        }
        let inbound = wire::classify(&message);
        match self.state {
            PeerState::WaitICea | PeerState::WaitReturns if is_i => match inbound {
                Inbound::Cea => self.process_cea(now, &message),
                // I-Rcv-Non-CEA: Error.
                _ => self.enter(now, PeerState::Closed),
            },
            // Nothing but CER is expected on R- before CEA is sent; the CER came already.
            PeerState::WaitConnAckElect | PeerState::WaitReturns => {}
            PeerState::IOpen | PeerState::ROpen | PeerState::Closing
                if Some(connection) == self.open_connection() =>
            {
                self.handle_open_message(now, connection, inbound, message);
            }
            _ => {}
        }
    }

    /// `Process-CEA` in Wait-I-CEA or Wait-Returns.
    fn process_cea(&mut self, now: Instant, cea: &Message) {
        // A rejected, malformed or incompatible CEA: Error.
        let checked = match wire::result_code(cea) {
            Some(code) if code.is_success() => wire::parse_capabilities(cea)
                .and_then(|remote| check_capabilities(&self.config.local, &remote).map(|_| remote)),
            Some(code) => Err(CapabilitiesError::Rejected(code)),
            None => Err(CapabilitiesError::Rejected(ResultCode::MISSING_AVP)),
        };
        let remote = match checked {
            Ok(remote) => remote,
            Err(e) => {
                self.events.push_back(PeerEvent::CapabilitiesFailed(e));
                self.enter(now, PeerState::Closed);
                return;
            }
        };
        // In Wait-Returns the election was lost: R-Disc.
        self.r_disc();
        self.remote = Some(remote);
        self.enter(now, PeerState::IOpen);
    }

    fn handle_open_message(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        inbound: Inbound,
        message: Message,
    ) {
        // RFC 3539: every received message feeds the watchdog.
        let actions = if inbound == Inbound::Dwa {
            self.watchdog.receive_dwa(now, &mut self.rng)
        } else {
            self.watchdog.receive_non_dwa(now, &mut self.rng)
        };
        let throwaway = actions.throwaway;
        self.apply_watchdog(now, actions);
        if !self.state.is_open() && self.state != PeerState::Closing {
            return;
        }
        match inbound {
            Inbound::Dwr => {
                let dwa = wire::dwa(&self.config.local, &message);
                self.send(connection, &dwa);
                self.counts.dwr_received += 1;
            }
            Inbound::Dwa => self.counts.dwa_received += 1,
            Inbound::Dpr => {
                // R-Rcv-DPR / I-Rcv-DPR: Snd-DPA, then Closed. BUSY and
                // DO_NOT_WANT_TO_TALK_TO_YOU ask us not to reconnect (RFC 6733 §5.4.3);
                // REBOOTING allows it.
                let cause = wire::disconnect_cause(&message);
                let dpa = wire::dpa(&self.config.local, &message);
                self.send(connection, &dpa);
                if cause != DisconnectCause::REBOOTING {
                    self.auto_reconnect = false;
                }
                self.events
                    .push_back(PeerEvent::DisconnectRequested { cause });
                self.enter(now, PeerState::Closed);
            }
            Inbound::Dpa => {
                if self.state == PeerState::Closing {
                    self.enter(now, PeerState::Closed);
                }
            }
            // CER/CEA on an open connection: a protocol violation that changes nothing.
            Inbound::Cer | Inbound::Cea => {}
            Inbound::Request => {
                // RFC 3539 Throwaway() in REOPEN is applied to answers only: an RFC 6733 peer
                // that finished CER/CEA sends requests, and dropping them would lose them.
                if self.state.is_open() {
                    self.events.push_back(PeerEvent::Request(message));
                }
            }
            Inbound::Answer => {
                if throwaway {
                    return;
                }
                // Answers are matched by Hop-by-Hop Identifier (RFC 6733 §6.2); an unknown one
                // (late, after timeout or failover) is discarded as §6.2.2 requires.
                if let Some(p) = self.pending.remove(&message.header.hop_by_hop) {
                    self.events.push_back(PeerEvent::Answer {
                        token: p.token,
                        answer: message,
                    });
                }
            }
        }
    }

    // ---- inputs: time --------------------------------------------------------------------

    /// Runs every timer due at `now`: state timeouts, reconnection, watchdog, request timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state_deadline.is_some_and(|d| d <= now) {
            self.state_deadline = None;
            // Timeout: Error -> Closed (Wait-*, Closing).
            self.enter(now, PeerState::Closed);
        }
        if self.reconnect_at.is_some_and(|d| d <= now) && self.state == PeerState::Closed {
            self.snd_conn_req(now);
        }
        if self.watchdog.poll_timeout().is_some_and(|d| d <= now) {
            let actions = self.watchdog.handle_timeout(now, &mut self.rng);
            self.apply_watchdog(now, actions);
        }
        let mut expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(h, _)| *h)
            .collect();
        expired.sort_unstable();
        for hop_by_hop in expired {
            if let Some(p) = self.pending.remove(&hop_by_hop) {
                self.events.push_back(PeerEvent::RequestFailed {
                    token: p.token,
                    request: p.request,
                    reason: RequestFailure::Timeout,
                });
            }
        }
    }
}

/// The RFC 6733 §5.6.4 comparison: does `local` lexicographically succeed `remote`, octet by
/// octet with ASCII letters compared case-insensitively?
pub fn election_won(local: &str, remote: &str) -> bool {
    let l = local.bytes().map(|b| b.to_ascii_lowercase());
    let r = remote.bytes().map(|b| b.to_ascii_lowercase());
    l.gt(r)
}
