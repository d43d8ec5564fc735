//! The node task: owns the peer machines, feeds them socket events and the clock, and carries
//! out what they ask (connect, write, close), routing and failing over client requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::connection::{self, Inbound};
use super::transport::{BoxStream, Tcp, Transport};
use super::{Command, Error, NodeConfig, PeerStatus};
use crate::avp::{code, Avp, VendorId};
use crate::message::{answer_to_raw, Message};
use crate::peer::ids::{EndToEndIds, SeededRng};
use crate::peer::{
    wire, ConnectionId, Peer, PeerConfig, PeerEvent, RequestFailure, RequestToken, RouteError,
};

/// Events from the node's helper tasks.
enum Net {
    Socket(Inbound),
    Connected(usize, BoxStream),
    ConnectFailed(usize),
    Accepted(BoxStream),
    /// The CEA timeout of an accepted connection elapsed.
    CerTimeout(ConnectionId),
    Answered(usize, Message),
}

struct Connection {
    writer: mpsc::UnboundedSender<Bytes>,
    reader: tokio::task::AbortHandle,
    /// The peer the connection belongs to; `None` until its CER arrives.
    peer: Option<usize>,
}

struct InFlight {
    reply: oneshot::Sender<Result<Message, Error>>,
    peer: usize,
    /// The caller's timeout, applied again on the alternate peer after a failover.
    timeout: Option<std::time::Duration>,
}

struct Node {
    config: NodeConfig,
    peers: Vec<Peer>,
    addresses: Vec<Option<std::net::SocketAddr>>,
    connections: HashMap<ConnectionId, Connection>,
    next_connection: u64,
    next_token: u64,
    in_flight: HashMap<RequestToken, InFlight>,
    tasks: JoinSet<()>,
    net_tx: mpsc::UnboundedSender<Net>,
    socket_tx: mpsc::UnboundedSender<Inbound>,
    seed: u64,
    shutting_down: Option<oneshot::Sender<()>>,
    transport: Arc<dyn Transport>,
    /// One End-to-End Identifier space for everything this node originates (RFC 6733 §3:
    /// unique per Origin-Host, whichever peer carries the request).
    end_to_end: EndToEndIds,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) async fn run(
    config: NodeConfig,
    listener: Option<TcpListener>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let (net_tx, mut net_rx) = mpsc::unbounded_channel();
    let (socket_tx, mut socket_rx) = mpsc::unbounded_channel();
    let seed = config.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id())
    });
    let mut config = config;
    // Origin-State-Id (RFC 6733 §8.16): increases with every restart; the start time does.
    config
        .local
        .origin_state_id
        .get_or_insert(unix_time() as u32);
    let mut node = Node {
        peers: Vec::new(),
        addresses: Vec::new(),
        connections: HashMap::new(),
        next_connection: 1,
        next_token: 1,
        in_flight: HashMap::new(),
        tasks: JoinSet::new(),
        net_tx: net_tx.clone(),
        socket_tx,
        seed,
        shutting_down: None,
        transport: config.transport.clone().unwrap_or_else(|| Arc::new(Tcp)),
        end_to_end: EndToEndIds::new(unix_time(), SeededRng::new(seed).next_u32()),
        config,
    };
    if let Some(listener) = listener {
        let tx = net_tx.clone();
        let transport = node.transport.clone();
        node.tasks.spawn(async move {
            let mut handshakes = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let tcp = match accepted {
                            Ok((tcp, _)) => tcp,
                            Err(e) => {
                                // E.g. EMFILE: transient; keep listening after a pause.
                                tracing::warn!(error = %e, "accept failed");
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                                continue;
                            }
                        };
                        // A TLS handshake may take a while; it must not hold up the next accept.
                        let (tx, transport) = (tx.clone(), transport.clone());
                        handshakes.spawn(async move {
                            match transport.accept(tcp).await {
                                Ok(stream) => {
                                    let _ = tx.send(Net::Accepted(stream));
                                }
                                Err(e) => tracing::debug!(error = %e, "incoming connection failed"),
                            }
                        });
                    }
                    Some(_) = handshakes.join_next() => {}
                }
            }
        });
    }
    let specs = node.config.peers.clone();
    for spec in specs {
        let index = node.add_peer(&spec.host, spec.address);
        node.peers[index].start(now());
    }
    node.drive();

    loop {
        let deadline = node.peers.iter().filter_map(Peer::poll_timeout).min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => node.command(command),
                // Every handle is gone: nobody can use the node any more.
                None => break,
            },
            Some(inbound) = socket_rx.recv() => node.net(Net::Socket(inbound)),
            Some(event) = net_rx.recv() => node.net(event),
            Some(_) = node.tasks.join_next() => {}
            () = sleep => {
                let now = now();
                for peer in &mut node.peers {
                    peer.handle_timeout(now);
                }
            }
        }
        node.drive();
        if node.shutting_down.is_some()
            && node
                .peers
                .iter()
                .all(|p| p.state() == crate::peer::PeerState::Closed)
        {
            if let Some(done) = node.shutting_down.take() {
                let _ = done.send(());
            }
            break;
        }
    }
    for (_, flight) in node.in_flight.drain() {
        let _ = flight.reply.send(Err(Error::Shutdown));
    }
}

impl Node {
    fn add_peer(&mut self, host: &str, address: Option<std::net::SocketAddr>) -> usize {
        let index = self.peers.len();
        let t = &self.config.timers;
        let mut config = PeerConfig::new(self.config.local.clone(), host);
        config.initiator = address.is_some();
        config.tw_init = t.tw_init;
        config.tw_jitter = t.tw_jitter;
        config.reconnect_initial = t.reconnect_initial;
        config.tc = t.tc;
        config.connect_timeout = t.connect_timeout;
        config.cea_timeout = t.cea_timeout;
        config.dpa_timeout = t.dpa_timeout;
        config.request_timeout = t.request_timeout;
        config.seed = self
            .seed
            .wrapping_add(index as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        config.unix_time = unix_time();
        self.peers.push(Peer::new(config));
        self.addresses.push(address);
        index
    }

    fn find_peer(&self, host: &str) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.peer_host().eq_ignore_ascii_case(host))
    }

    fn attach(&mut self, stream: BoxStream, peer: Option<usize>) -> ConnectionId {
        let id = ConnectionId(self.next_connection);
        self.next_connection += 1;
        let (read, write) = tokio::io::split(stream);
        let (writer, rx) = mpsc::unbounded_channel();
        let reader = self
            .tasks
            .spawn(connection::read_loop(id, read, self.socket_tx.clone()));
        self.tasks.spawn(connection::write_loop(write, rx));
        self.connections.insert(
            id,
            Connection {
                writer,
                reader,
                peer,
            },
        );
        id
    }

    fn close(&mut self, id: ConnectionId) {
        if let Some(c) = self.connections.remove(&id) {
            // Dropping the writer lets it flush and shut down; the reader is not needed.
            c.reader.abort();
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Request {
                request,
                timeout,
                reply,
            } => {
                if self.shutting_down.is_some() {
                    let _ = reply.send(Err(Error::Shutdown));
                    return;
                }
                if !request.header.is_request() {
                    let _ = reply.send(Err(Error::NotARequest));
                    return;
                }
                let token = RequestToken(self.next_token);
                self.next_token += 1;
                self.route(token, request, timeout, reply, None);
            }
            Command::Status(reply) => {
                let status = self
                    .peers
                    .iter()
                    .map(|p| PeerStatus {
                        host: p.peer_host().to_owned(),
                        state: p.state(),
                        watchdog: p.watchdog_state(),
                        available: p.is_available(),
                        watchdog_counts: p.watchdog_counts(),
                    })
                    .collect();
                let _ = reply.send(status);
            }
            Command::Shutdown { cause, done } => {
                let now = now();
                for peer in &mut self.peers {
                    peer.stop(now, cause);
                }
                self.shutting_down = Some(done);
            }
        }
    }

    /// Picks the peer for a request (RFC 6733 §6.1.4-§6.1.6): a Destination-Host that is an
    /// available peer, else the realm routing table, skipping `exclude` on failover.
    fn select(&self, request: &Message, exclude: Option<usize>) -> Result<usize, RouteError> {
        let avp_text = |c| {
            request
                .avps
                .iter()
                .find(|a: &&Avp| a.code == c && a.vendor() == VendorId::IETF)
                .and_then(|a| a.as_diameter_identity().ok())
        };
        if let Some(host) = avp_text(code::DESTINATION_HOST) {
            if let Some(i) = self.find_peer(host) {
                if Some(i) != exclude && self.peers[i].is_available() {
                    return Ok(i);
                }
            }
        }
        let realm = avp_text(code::DESTINATION_REALM).unwrap_or("");
        let exclude_host = exclude
            .and_then(|i| self.peers.get(i))
            .map(|p| p.peer_host());
        let host = self.config.routes.select(
            realm,
            request.header.application_id.0,
            exclude_host,
            |h| {
                self.find_peer(h)
                    .is_some_and(|i| self.peers[i].is_available())
            },
        )?;
        self.find_peer(host).ok_or(RouteError::UnableToDeliver {
            realm: realm.to_owned(),
            application: request.header.application_id.0,
        })
    }

    fn route(
        &mut self,
        token: RequestToken,
        mut request: Message,
        timeout: Option<std::time::Duration>,
        reply: oneshot::Sender<Result<Message, Error>>,
        failed_peer: Option<usize>,
    ) {
        let index = match self.select(&request, failed_peer) {
            Ok(i) => i,
            Err(e) => {
                let _ = reply.send(Err(if failed_peer.is_some() {
                    Error::PeerFailed
                } else {
                    Error::Route(e)
                }));
                return;
            }
        };
        if request.header.end_to_end == 0 {
            request.header.end_to_end = self.end_to_end.next_id();
        }
        let peer = &mut self.peers[index];
        match peer.send_request(now(), token, request, timeout) {
            Ok(()) => {
                self.in_flight.insert(
                    token,
                    InFlight {
                        reply,
                        peer: index,
                        timeout,
                    },
                );
            }
            Err(e) => {
                tracing::debug!(error = %e, "send_request failed");
                let _ = reply.send(Err(Error::PeerFailed));
            }
        }
    }

    fn net(&mut self, event: Net) {
        let now = now();
        match event {
            Net::Socket(Inbound::Frame(id, frame)) => self.frame(now, id, frame),
            Net::Socket(Inbound::Closed(id)) => {
                if let Some(c) = self.connections.remove(&id) {
                    if let Some(p) = c.peer {
                        self.peers[p].handle_disconnected(now, id);
                    }
                }
            }
            Net::Connected(p, stream) => {
                let id = self.attach(stream, Some(p));
                self.peers[p].handle_connected(now, id);
            }
            Net::ConnectFailed(p) => self.peers[p].handle_connect_failed(now),
            Net::Accepted(stream) => {
                if self.shutting_down.is_none() {
                    let id = self.attach(stream, None);
                    // A connection that never sends its CER is closed after the CEA timeout.
                    let (tx, limit) = (self.net_tx.clone(), self.config.timers.cea_timeout);
                    self.tasks.spawn(async move {
                        tokio::time::sleep(limit).await;
                        let _ = tx.send(Net::CerTimeout(id));
                    });
                }
            }
            Net::CerTimeout(id) => {
                if self.connections.get(&id).is_some_and(|c| c.peer.is_none()) {
                    tracing::debug!(connection = id.0, "no CER in time, closing");
                    self.close(id);
                }
            }
            Net::Answered(p, answer) => {
                if let Err(e) = self.peers[p].send_answer(now, &answer) {
                    tracing::debug!(error = %e, "answer dropped");
                }
            }
        }
    }

    fn write(&self, id: ConnectionId, payload: Bytes) {
        if let Some(c) = self.connections.get(&id) {
            let _ = c.writer.send(payload);
        }
    }

    fn frame(&mut self, now: Instant, id: ConnectionId, frame: Bytes) {
        let Some(bound) = self.connections.get(&id).map(|c| c.peer) else {
            return;
        };
        let message = match Message::decode(&frame) {
            Ok(m) => m,
            Err(e) => {
                // A request that cannot be decoded gets the answer its error prescribes
                // (RFC 6733 §7); anything else undecodable is dropped and logged.
                tracing::warn!(connection = id.0, error = %e, "undecodable Diameter message");
                let local = &self.config.local;
                if let Some(answer) =
                    answer_to_raw(&frame, &e, &local.origin_host, &local.origin_realm)
                {
                    self.write(id, answer.to_bytes());
                }
                if bound.is_none() {
                    // A connection must open with a valid CER (RFC 6733 §5.3).
                    self.close(id);
                }
                return;
            }
        };
        match bound {
            Some(p) => self.peers[p].handle_message(now, id, message),
            None => self.first_message(now, id, message),
        }
    }

    /// The first message on an accepted connection must be a CER (RFC 6733 §5.3); its
    /// Origin-Host names the peer (`R-Conn-CER`).
    fn first_message(&mut self, now: Instant, id: ConnectionId, cer: Message) {
        if wire::classify(&cer) != wire::Inbound::Cer {
            self.close(id);
            return;
        }
        let host = wire::origin_host(&cer).map(str::to_owned);
        let index = match host.as_deref().map(|h| (h, self.find_peer(h))) {
            Some((_, Some(i))) => i,
            Some((h, None)) if self.config.accept_unknown_peers => self.add_peer(h, None),
            _ => {
                let cea = wire::unknown_peer_cea(&self.config.local, &cer);
                self.write(id, cea.to_bytes());
                self.close(id);
                return;
            }
        };
        if let Some(c) = self.connections.get_mut(&id) {
            c.peer = Some(index);
        }
        self.peers[index].handle_incoming_cer(now, id, cer);
    }

    /// Carries out everything the peer machines queued.
    fn drive(&mut self) {
        let mut progress = true;
        while progress {
            progress = false;
            for index in 0..self.peers.len() {
                while let Some(t) = self.peers[index].poll_transmit() {
                    progress = true;
                    self.write(t.connection, t.payload);
                }
                while let Some(event) = self.peers[index].poll_event() {
                    progress = true;
                    self.event(index, event);
                }
            }
        }
    }

    fn event(&mut self, index: usize, event: PeerEvent) {
        match event {
            PeerEvent::Connect => match self.addresses.get(index).copied().flatten() {
                Some(address) => {
                    let tx = self.net_tx.clone();
                    let limit = self.config.timers.connect_timeout;
                    let transport = self.transport.clone();
                    self.tasks.spawn(async move {
                        let result = tokio::time::timeout(limit, transport.connect(address)).await;
                        let _ = tx.send(match result {
                            Ok(Ok(stream)) => Net::Connected(index, stream),
                            _ => Net::ConnectFailed(index),
                        });
                    });
                }
                None => self.peers[index].handle_connect_failed(now()),
            },
            PeerEvent::Disconnect(id) => self.close(id),
            PeerEvent::Opened { applications, .. } => tracing::info!(
                peer = self.peers[index].peer_host(),
                ?applications,
                "Diameter peer open"
            ),
            PeerEvent::CapabilitiesFailed(e) => tracing::warn!(
                peer = self.peers[index].peer_host(),
                error = %e,
                "Diameter capabilities exchange failed"
            ),
            PeerEvent::Closed => {
                tracing::info!(peer = self.peers[index].peer_host(), "Diameter peer closed")
            }
            PeerEvent::Availability(up) => tracing::info!(
                peer = self.peers[index].peer_host(),
                available = up,
                "Diameter peer availability"
            ),
            PeerEvent::DisconnectRequested { cause } => tracing::info!(
                peer = self.peers[index].peer_host(),
                cause = cause.0,
                "Diameter peer sent DPR"
            ),
            PeerEvent::Request(request) => self.dispatch(index, request),
            PeerEvent::Answer { token, answer } => {
                if let Some(flight) = self.in_flight.remove(&token) {
                    let _ = flight.reply.send(Ok(answer));
                }
            }
            PeerEvent::RequestFailed {
                token,
                mut request,
                reason,
            } => {
                let Some(flight) = self.in_flight.remove(&token) else {
                    return;
                };
                match reason {
                    RequestFailure::Timeout => {
                        let _ = flight.reply.send(Err(Error::Timeout));
                    }
                    RequestFailure::Failover => {
                        // RFC 6733 §5.5.4: re-send to an alternate peer with the T flag.
                        wire::mark_retransmission(&mut request);
                        self.route(
                            token,
                            request,
                            flight.timeout,
                            flight.reply,
                            Some(flight.peer),
                        );
                    }
                }
            }
        }
    }

    /// Hands a peer's request to the application handler.
    fn dispatch(&mut self, index: usize, request: Message) {
        let tx = self.net_tx.clone();
        let (hop_by_hop, end_to_end) = (request.header.hop_by_hop, request.header.end_to_end);
        match self.config.handler.clone() {
            Some(handler) => {
                self.tasks.spawn(async move {
                    let mut answer = handler(request).await;
                    // RFC 6733 §6.2: the answer carries the request's identifiers.
                    answer.header.hop_by_hop = hop_by_hop;
                    answer.header.end_to_end = end_to_end;
                    let _ = tx.send(Net::Answered(index, answer));
                });
            }
            None => {
                let answer = wire::command_unsupported(&self.config.local, &request);
                let _ = self.peers[index].send_answer(now(), &answer);
            }
        }
    }
}
