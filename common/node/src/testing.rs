//! A deterministic in-memory network for tests of network functions (feature `testing`).
//!
//! Several [`Function`]s, each on its own [`Engine`] (the same code the tokio runner uses), and
//! scripted user agents exchange SIP over an in-memory UDP-like network on virtual time:
//! nothing touches a socket or reads a clock, so a whole UE–P–I–S flow runs in microseconds and
//! the same way every time. Addresses are plain `SocketAddr`s; functions see their peers as
//! `Target::Remote { transport: Udp, remote, .. }`. Cx requests go to a closure the test
//! supplies (the fake HSS), and every one is recorded.
//!
//! ```
//! # use ims_node::testing::Network;
//! # use ims_sip::StatusCode;
//! let mut net = Network::new();
//! let ua = "192.0.2.1:5060".parse().unwrap();
//! let server = "192.0.2.2:5060".parse().unwrap();
//! net.add_ua(ua);
//! net.add_responder(server, |request| vec![Network::response(request, StatusCode::OK)]);
//! let request = net.request(ua, "OPTIONS", "sip:server@192.0.2.2", &[]);
//! net.send(ua, server, request);
//! net.run();
//! assert_eq!(net.take_requests(server).len(), 1);
//! assert_eq!(net.take_responses(ua)[0].message.status(), Some(StatusCode::OK));
//! ```
//!
//! Delivery is immediate (zero latency) and in order; an address nobody listens on swallows
//! packets like UDP would, and [`Network::set_unreachable`] makes sends to an address fail
//! with a transport error instead (RFC 3261 §18.4). Streams from a user agent to a function
//! ([`Network::connect`], `Target::Connection`) carry messages both ways until
//! [`Network::close`]; the function sees their `Opened`, `KeepAlivePing` and `Closed`
//! events. Functions cannot open streams to each other (their `Target::Remote` sends are
//! datagrams whatever the transport).

use std::any::Any;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ims_sip::proxy::{CounterTokens, Proxy, ProxyConfig, ProxyEvent};
use ims_sip::transaction::{TransactionId, Transmit};
use ims_sip::{Host, Message, StatusCode};
use ims_transport::{
    CloseReason, ConnectionId, ConnectionInfo, Direction, Event, Target, Transport,
};

use crate::function::{CxOutcome, CxToken, Effects, Function};
use crate::runner::{Engine, EngineSettings};

/// Names a function added with [`Network::add_function`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub usize);

/// A message that arrived at a user agent.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub from: SocketAddr,
    pub to: SocketAddr,
    /// The stream it came over ([`Network::connect`]); `None` for a datagram.
    pub conn: Option<ConnectionId>,
    pub message: Message,
}

/// One line of the network trace: who sent what to whom.
#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub at: Instant,
    pub from: SocketAddr,
    pub to: SocketAddr,
    /// The start line (`INVITE sip:… SIP/2.0`, `SIP/2.0 200 OK`).
    pub summary: String,
    /// Whether it reached a listener.
    pub delivered: bool,
}

/// A Cx request some function sent, and what the fake peer answered.
#[derive(Debug, Clone)]
pub struct CxRecord {
    pub node: String,
    pub request: ims_diameter::Message,
    pub outcome: CxOutcome,
}

/// The fake Diameter peer: maps each Cx request to its outcome.
pub type CxPeer = Box<dyn FnMut(&ims_diameter::Message) -> CxOutcome>;

/// A user agent's automatic answers: the responses to send back for a request.
pub type Responder = Box<dyn FnMut(&Message) -> Vec<Message>>;

/// The in-memory network; see the [module docs](self).
pub struct Network {
    now: Instant,
    nodes: Vec<Node>,
    node_by_addr: HashMap<SocketAddr, usize>,
    uas: HashMap<SocketAddr, Ua>,
    in_flight: VecDeque<Packet>,
    unreachable: HashSet<SocketAddr>,
    cx_peer: Option<CxPeer>,
    cx_pending: VecDeque<(usize, CxToken, CxOutcome)>,
    cx_log: Vec<CxRecord>,
    trace: Vec<TraceEntry>,
    counter: u64,
    streams: HashMap<ConnectionId, Stream>,
}

struct Node {
    name: String,
    addr: SocketAddr,
    engine: Engine<DynFunction>,
}

#[derive(Default)]
struct Ua {
    inbox: VecDeque<Received>,
    responder: Option<Responder>,
}

struct Packet {
    from: SocketAddr,
    to: SocketAddr,
    data: Bytes,
    /// The node and transaction that sent it, for transport errors.
    origin: Option<(usize, Option<TransactionId>)>,
    /// The stream it travels on.
    conn: Option<ConnectionId>,
}

/// A stream between a user agent and a node ([`Network::connect`]).
struct Stream {
    ua: SocketAddr,
    node: usize,
    transport: Transport,
    open: bool,
}

/// A safety net against flows that never settle (e.g. two functions forwarding to each other
/// without loop detection): [`Network::run`] panics after this many steps.
const MAX_STEPS: usize = 100_000;

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl Network {
    /// An empty network. Its clock starts at an arbitrary instant and only moves with
    /// [`Network::advance`].
    pub fn new() -> Self {
        Network {
            now: Instant::now(),
            nodes: Vec::new(),
            node_by_addr: HashMap::new(),
            uas: HashMap::new(),
            in_flight: VecDeque::new(),
            unreachable: HashSet::new(),
            cx_peer: None,
            cx_pending: VecDeque::new(),
            cx_log: Vec::new(),
            trace: Vec::new(),
            counter: 0,
            streams: HashMap::new(),
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Adds a function at `addr` with a proxy whose Via and Record-Route name that address.
    pub fn add_function<F: Function + 'static>(
        &mut self,
        name: &str,
        addr: SocketAddr,
        function: F,
    ) -> NodeId {
        let host = match addr.ip() {
            std::net::IpAddr::V4(ip) => Host::Ipv4(ip),
            std::net::IpAddr::V6(ip) => Host::Ipv6(ip),
        };
        let config = ProxyConfig::new(host, Some(addr.port()));
        self.add_function_with(name, addr, function, config, EngineSettings::default())
    }

    /// Adds a function with explicit proxy and engine settings.
    pub fn add_function_with<F: Function + 'static>(
        &mut self,
        name: &str,
        addr: SocketAddr,
        function: F,
        proxy: ProxyConfig,
        settings: EngineSettings,
    ) -> NodeId {
        let id = self.nodes.len();
        let seed = 0x1000 + id as u64;
        let engine = Engine::new(
            DynFunction(Box::new(function)),
            Proxy::new(proxy, CounterTokens::new(seed)),
            settings,
        );
        self.nodes.push(Node {
            name: name.to_owned(),
            addr,
            engine,
        });
        self.node_by_addr.insert(addr, id);
        NodeId(id)
    }

    /// A user agent at `addr` that only records what it receives.
    pub fn add_ua(&mut self, addr: SocketAddr) {
        self.uas.entry(addr).or_default();
    }

    /// A user agent that answers every request it receives with what `responder` returns
    /// (sent back to the request's source), and records everything.
    pub fn add_responder(
        &mut self,
        addr: SocketAddr,
        responder: impl FnMut(&Message) -> Vec<Message> + 'static,
    ) {
        self.uas.entry(addr).or_default().responder = Some(Box::new(responder));
    }

    /// The fake Cx peer (HSS) every function's Cx requests go to. Without one, Cx requests
    /// fail with 3002 DIAMETER_UNABLE_TO_DELIVER.
    pub fn set_cx_peer(&mut self, peer: impl FnMut(&ims_diameter::Message) -> CxOutcome + 'static) {
        self.cx_peer = Some(Box::new(peer));
    }

    /// Makes sends to `addr` fail with a transport error (or work again).
    pub fn set_unreachable(&mut self, addr: SocketAddr, unreachable: bool) {
        if unreachable {
            self.unreachable.insert(addr);
        } else {
            self.unreachable.remove(&addr);
        }
    }

    /// The function of a node, to inspect its state.
    pub fn function<F: Function + 'static>(&self, node: NodeId) -> Option<&F> {
        self.nodes
            .get(node.0)
            .and_then(|n| n.engine.function().0.as_any().downcast_ref())
    }

    /// The function of a node, to change its state between steps.
    pub fn function_mut<F: Function + 'static>(&mut self, node: NodeId) -> Option<&mut F> {
        self.nodes
            .get_mut(node.0)
            .and_then(|n| n.engine.function_mut().0.as_any_mut().downcast_mut())
    }

    /// The engine of a node (open contexts, its proxy).
    pub fn engine(&self, node: NodeId) -> Option<&Engine<impl Function>> {
        self.nodes.get(node.0).map(|n| &n.engine)
    }

    /// Every Cx request sent so far, with its outcome.
    pub fn cx_requests(&self) -> &[CxRecord] {
        &self.cx_log
    }

    /// Every packet sent so far.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// The trace as text, one packet a line (for assertion messages).
    pub fn trace_text(&self) -> String {
        self.trace
            .iter()
            .map(|t| {
                let ms = t.at.duration_since(self.start_of_trace()).as_millis();
                let lost = if t.delivered { "" } else { " (lost)" };
                format!("{ms:>7} ms {} -> {}: {}{lost}\n", t.from, t.to, t.summary)
            })
            .collect()
    }

    fn start_of_trace(&self) -> Instant {
        self.trace.first().map_or(self.now, |t| t.at)
    }

    // ---- user agents ------------------------------------------------------------------

    /// Sends `message` from the user agent at `from` to `to`. Call [`Network::run`] to
    /// deliver it.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, message: Message) {
        self.in_flight.push_back(Packet {
            from,
            to,
            data: Bytes::from(message.to_bytes()),
            origin: None,
            conn: None,
        });
    }

    /// Sends raw bytes (e.g. a malformed message) from `from` to `to`.
    pub fn send_raw(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.in_flight.push_back(Packet {
            from,
            to,
            data: Bytes::copy_from_slice(data),
            origin: None,
            conn: None,
        });
    }

    /// Answers a received request with `status` from the user agent that received it, and
    /// returns the response sent.
    pub fn reply(&mut self, received: &Received, status: StatusCode) -> Message {
        let response = Self::response(&received.message, status);
        match received.conn {
            Some(conn) => self.send_on(conn, response.clone()),
            None => self.send(received.to, received.from, response.clone()),
        }
        response
    }

    // ---- streams ----------------------------------------------------------------------

    /// Opens a stream (TCP or TLS) from the user agent at `ua` to the function at `node`:
    /// the function sees `Event::Opened` (an inbound connection) now, requests sent with
    /// [`Network::send_on`] arrive from `Target::Connection(id)`, and what the function
    /// sends to that target comes back to the user agent.
    pub fn connect(
        &mut self,
        ua: SocketAddr,
        node: SocketAddr,
        transport: Transport,
    ) -> ConnectionId {
        self.counter += 1;
        let conn = ConnectionId(1_000_000 + self.counter);
        let Some(&index) = self.node_by_addr.get(&node) else {
            panic!("no function at {node}");
        };
        self.add_ua(ua);
        self.streams.insert(
            conn,
            Stream {
                ua,
                node: index,
                transport,
                open: true,
            },
        );
        let info = ConnectionInfo {
            conn,
            transport,
            direction: Direction::Inbound,
            local: node,
            remote: ua,
        };
        self.transport_event(index, &Event::Opened(info));
        conn
    }

    /// Sends `message` from the user agent end of a stream.
    pub fn send_on(&mut self, conn: ConnectionId, message: Message) {
        let Some(stream) = self.streams.get(&conn) else {
            panic!("no stream {conn}");
        };
        let Some(node) = self.nodes.get(stream.node) else {
            return;
        };
        let (from, to) = if stream.open {
            (stream.ua, node.addr)
        } else {
            return; // A closed stream carries nothing.
        };
        self.in_flight.push_back(Packet {
            from,
            to,
            data: Bytes::from(message.to_bytes()),
            origin: None,
            conn: Some(conn),
        });
    }

    /// The user agent sends a CRLFCRLF keep-alive ping on a stream (RFC 5626 §4.4.1).
    pub fn keepalive(&mut self, conn: ConnectionId) {
        if let Some(stream) = self.streams.get(&conn).filter(|s| s.open) {
            let (index, remote) = (stream.node, stream.ua);
            self.transport_event(index, &Event::KeepAlivePing { conn, remote });
        }
    }

    /// Closes a stream: the function sees `Event::Closed`; later sends on it fail.
    pub fn close(&mut self, conn: ConnectionId) {
        let Some(stream) = self.streams.get_mut(&conn).filter(|s| s.open) else {
            return;
        };
        stream.open = false;
        let (index, transport, remote) = (stream.node, stream.transport, stream.ua);
        let event = Event::Closed {
            conn,
            transport,
            remote,
            reason: CloseReason::PeerClosed,
        };
        self.transport_event(index, &event);
    }

    fn transport_event(&mut self, index: usize, event: &Event) {
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(index) {
            node.engine.handle_transport_event(now, event);
        }
        self.collect();
    }

    /// A response to `request` (RFC 3261 §8.2.6) with a To tag, as a UAS builds it.
    pub fn response(request: &Message, status: StatusCode) -> Message {
        let mut response = Message::response_to(request, status);
        let has_tag = response.to().is_ok_and(|t| t.tag().is_some());
        if !has_tag && status != StatusCode::TRYING {
            if let Some(to) = response.headers().get("To").map(str::to_owned) {
                response.headers_mut().set("To", &format!("{to};tag=uas"));
            }
        }
        response
    }

    /// A well-formed out-of-dialog request from the user agent at `ua` (Via with a fresh
    /// branch, From with a tag, To = Request-URI, a fresh Call-ID, CSeq 1, Max-Forwards 70),
    /// plus `headers`. A `To` or `From` in `headers` replaces the default one.
    pub fn request(
        &mut self,
        ua: SocketAddr,
        method: &str,
        request_uri: &str,
        headers: &[(&str, &str)],
    ) -> Message {
        self.counter += 1;
        let n = self.counter;
        let has = |name: &str| headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(name));
        let mut text = format!(
            "{method} {request_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {ua};branch=z9hG4bKua{n}\r\n\
             Max-Forwards: 70\r\nCall-ID: call-{n}@test\r\nCSeq: 1 {method}\r\n"
        );
        if !has("From") {
            text.push_str(&format!("From: <sip:ua@{ua}>;tag=ua{n}\r\n"));
        }
        if !has("To") {
            text.push_str(&format!("To: <{request_uri}>\r\n"));
        }
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match Message::parse(text.as_bytes()) {
            Ok(message) => message,
            Err(error) => panic!("test request does not parse ({error}):\n{text}"),
        }
    }

    /// Everything the user agent at `addr` received since the last take.
    pub fn take(&mut self, addr: SocketAddr) -> Vec<Received> {
        self.uas
            .get_mut(&addr)
            .map(|ua| ua.inbox.drain(..).collect())
            .unwrap_or_default()
    }

    /// The requests the user agent at `addr` received (responses stay in its inbox).
    pub fn take_requests(&mut self, addr: SocketAddr) -> Vec<Received> {
        self.take_where(addr, |m| m.is_request())
    }

    /// The responses the user agent at `addr` received (requests stay in its inbox).
    pub fn take_responses(&mut self, addr: SocketAddr) -> Vec<Received> {
        self.take_where(addr, |m| !m.is_request())
    }

    /// The last final response the user agent at `addr` received, taking its responses.
    pub fn final_response(&mut self, addr: SocketAddr) -> Option<Message> {
        self.take_responses(addr)
            .into_iter()
            .map(|r| r.message)
            .filter(|m| m.status().is_some_and(StatusCode::is_final))
            .last()
    }

    fn take_where(&mut self, addr: SocketAddr, keep: impl Fn(&Message) -> bool) -> Vec<Received> {
        let Some(ua) = self.uas.get_mut(&addr) else {
            return Vec::new();
        };
        let (taken, rest): (Vec<_>, Vec<_>) = ua.inbox.drain(..).partition(|r| keep(&r.message));
        ua.inbox = rest.into();
        taken
    }

    // ---- time and delivery ------------------------------------------------------------

    /// Delivers every packet and Cx outcome, repeatedly, until nothing moves; time stands
    /// still.
    pub fn run(&mut self) {
        for _ in 0..MAX_STEPS {
            if let Some(packet) = self.in_flight.pop_front() {
                self.deliver(packet);
            } else if let Some((node, token, outcome)) = self.cx_pending.pop_front() {
                let now = self.now;
                if let Some(n) = self.nodes.get_mut(node) {
                    n.engine.handle_cx(now, token, outcome);
                }
            } else {
                return;
            }
            self.collect();
        }
        panic!(
            "the network did not settle after {MAX_STEPS} steps:\n{}",
            self.trace_text()
        );
    }

    /// Runs for `duration` of virtual time: every timer due in that span fires at its
    /// instant, with deliveries in between.
    pub fn advance(&mut self, duration: Duration) {
        let end = self.now + duration;
        self.run();
        let mut steps = 0;
        while let Some(next) = self.next_timer().filter(|t| *t <= end) {
            steps += 1;
            assert!(
                steps <= MAX_STEPS,
                "timers keep firing at {next:?} without moving on:\n{}",
                self.trace_text()
            );
            self.now = self.now.max(next);
            let now = self.now;
            for node in &mut self.nodes {
                node.engine.handle_timeout(now);
            }
            self.collect();
            self.run();
        }
        self.now = end;
        self.run();
    }

    fn next_timer(&self) -> Option<Instant> {
        self.nodes
            .iter()
            .filter_map(|n| n.engine.poll_timeout())
            .min()
    }

    /// Pulls what every engine wants to send and the Cx requests it asked for.
    fn collect(&mut self) {
        for index in 0..self.nodes.len() {
            while let Some(transmit) = self.nodes[index].engine.poll_transmit() {
                self.transmit(index, transmit);
            }
            while let Some((token, request)) = self.nodes[index].engine.poll_cx_request() {
                let outcome = match self.cx_peer.as_mut() {
                    Some(peer) => peer(&request),
                    None => CxOutcome::Failed {
                        result_code: ims_diameter::ResultCode::UNABLE_TO_DELIVER.0,
                        reason: "no Cx peer in this test network".into(),
                    },
                };
                self.cx_log.push(CxRecord {
                    node: self.nodes[index].name.clone(),
                    request,
                    outcome: outcome.clone(),
                });
                self.cx_pending.push_back((index, token, outcome));
            }
        }
    }

    fn transmit(&mut self, node: usize, transmit: Transmit<Target>) {
        let from = self.nodes[node].addr;
        let data = Bytes::from(transmit.message.to_bytes());
        let (to, conn) = match transmit.destination {
            Target::Remote { remote, .. } | Target::Datagram { remote, .. } => (remote, None),
            Target::Connection(conn) => match self.streams.get(&conn) {
                Some(stream) if stream.open && stream.node == node => (stream.ua, Some(conn)),
                // RFC 3261 §18.4 / RFC 5626 §5.3: the connection is gone.
                _ => {
                    self.fail_send(node, transmit.transaction);
                    return;
                }
            },
        };
        self.in_flight.push_back(Packet {
            from,
            to,
            data,
            origin: Some((node, transmit.transaction)),
            conn,
        });
    }

    fn fail_send(&mut self, node: usize, transaction: Option<TransactionId>) {
        if let (Some(n), Some(transaction)) = (self.nodes.get_mut(node), transaction) {
            n.engine.handle_transport_error(self.now, transaction);
        }
    }

    fn deliver(&mut self, packet: Packet) {
        let summary = summary(&packet.data);
        let reachable = !self.unreachable.contains(&packet.to);
        let target_node = self.node_by_addr.get(&packet.to).copied();
        let is_ua = self.uas.contains_key(&packet.to);
        self.trace.push(TraceEntry {
            at: self.now,
            from: packet.from,
            to: packet.to,
            summary,
            delivered: reachable && (target_node.is_some() || is_ua),
        });
        if !reachable {
            if let Some((node, transaction)) = packet.origin {
                self.fail_send(node, transaction);
            }
            return;
        }
        let now = self.now;
        if let Some(index) = target_node {
            let source = match packet.conn {
                Some(conn) => Target::Connection(conn),
                None => Target::Remote {
                    transport: Transport::Udp,
                    remote: packet.from,
                    server_name: None,
                },
            };
            let stream = packet.conn.is_some();
            if let Some(node) = self.nodes.get_mut(index) {
                node.engine
                    .handle_bytes(now, packet.data, source, stream, packet.from);
            }
            return;
        }
        let Some(ua) = self.uas.get_mut(&packet.to) else {
            return; // Nobody listens: lost, as a UDP datagram would be.
        };
        let message = match Message::parse_bytes(packet.data, &ims_sip::Limits::DEFAULT) {
            Ok(message) => message,
            Err(error) => panic!("a function sent an unparsable message ({error})"),
        };
        let answers = match (&mut ua.responder, message.is_request()) {
            (Some(responder), true) => responder(&message),
            _ => Vec::new(),
        };
        ua.inbox.push_back(Received {
            at: now,
            from: packet.from,
            to: packet.to,
            conn: packet.conn,
            message,
        });
        for answer in answers {
            match packet.conn {
                Some(conn) => self.send_on(conn, answer),
                None => self.send(packet.to, packet.from, answer),
            }
        }
    }
}

fn summary(data: &[u8]) -> String {
    let line_end = data
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..line_end).unwrap_or_default()).into_owned()
}

/// `Function` plus downcasting, so tests can look inside the function of a node.
trait AnyFunction: Function {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<F: Function + 'static> AnyFunction for F {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A boxed function of any type (one network holds different functions).
struct DynFunction(Box<dyn AnyFunction>);

impl Function for DynFunction {
    fn handle_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: ProxyEvent<Target>,
        effects: &mut Effects,
    ) {
        self.0.handle_event(now, proxy, event, effects);
    }

    fn handle_cx(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        token: CxToken,
        outcome: CxOutcome,
        effects: &mut Effects,
    ) {
        self.0.handle_cx(now, proxy, token, outcome, effects);
    }

    fn handle_transport_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: &ims_transport::Event,
        effects: &mut Effects,
    ) {
        self.0.handle_transport_event(now, proxy, event, effects);
    }

    fn handle_timeout(&mut self, now: Instant, proxy: &mut Proxy<Target>, effects: &mut Effects) {
        self.0.handle_timeout(now, proxy, effects);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_sip::proxy::{ContextId, ForwardOptions, Target as ProxyTarget};

    /// Forwards every request to `next`; with `ask_cx`, first asks the Cx peer and answers
    /// 403 if it says anything but success.
    struct Relay {
        next: SocketAddr,
        ask_cx: bool,
        waiting: HashMap<CxToken, ContextId>,
        seen: usize,
        transport_events: Vec<String>,
    }

    impl Relay {
        fn new(next: SocketAddr, ask_cx: bool) -> Self {
            Relay {
                next,
                ask_cx,
                waiting: HashMap::new(),
                seen: 0,
                transport_events: Vec::new(),
            }
        }

        fn forward(&self, now: Instant, proxy: &mut Proxy<Target>, context: ContextId) {
            let Some(uri) = proxy
                .request(context)
                .and_then(|r| r.request_uri().cloned())
            else {
                return;
            };
            let destination = Target::Remote {
                transport: Transport::Udp,
                remote: self.next,
                server_name: None,
            };
            let target = ProxyTarget::new(uri, destination);
            proxy
                .forward(now, context, vec![target], ForwardOptions::default())
                .unwrap();
        }
    }

    impl Function for Relay {
        fn handle_transport_event(
            &mut self,
            _now: Instant,
            _proxy: &mut Proxy<Target>,
            event: &Event,
            _effects: &mut Effects,
        ) {
            let name = match event {
                Event::Opened(_) => "opened",
                Event::KeepAlivePing { .. } => "ping",
                Event::Closed { .. } => "closed",
                _ => "other",
            };
            self.transport_events.push(name.to_owned());
        }

        fn handle_event(
            &mut self,
            now: Instant,
            proxy: &mut Proxy<Target>,
            event: ProxyEvent<Target>,
            effects: &mut Effects,
        ) {
            if let ProxyEvent::Request { context, .. } = event {
                self.seen += 1;
                if self.ask_cx {
                    let token = CxToken(self.seen as u64);
                    self.waiting.insert(token, context);
                    let header = ims_diameter::Header::request(
                        ims_diameter::CommandCode::LOCATION_INFO,
                        ims_diameter::ApplicationId::CX,
                        true,
                        0,
                        0,
                    );
                    effects.send_cx(token, ims_diameter::Message::new(header));
                } else {
                    self.forward(now, proxy, context);
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
            let Some(context) = self.waiting.remove(&token) else {
                return;
            };
            let ok = matches!(&outcome, CxOutcome::Answer(a) if a.result_code() == Some(ims_diameter::ResultCode::SUCCESS));
            if ok {
                self.forward(now, proxy, context);
            } else {
                let response = proxy.response(context, StatusCode::FORBIDDEN).unwrap();
                proxy.respond(now, context, response).unwrap();
            }
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const UA: &str = "192.0.2.1:5060";
    const PROXY: &str = "192.0.2.2:5060";
    const SERVER: &str = "192.0.2.3:5060";

    #[test]
    fn request_and_response_cross_a_function() {
        let mut net = Network::new();
        net.add_ua(addr(UA));
        let node = net.add_function("relay", addr(PROXY), Relay::new(addr(SERVER), false));
        net.add_responder(addr(SERVER), |r| vec![Network::response(r, StatusCode::OK)]);
        let request = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
        net.send(addr(UA), addr(PROXY), request);
        net.run();
        let at_server = net.take_requests(addr(SERVER));
        assert_eq!(at_server.len(), 1);
        assert_eq!(at_server[0].from, addr(PROXY));
        assert_eq!(at_server[0].message.headers().values("Via").count(), 2);
        let response = net.final_response(addr(UA)).expect("a final response");
        assert_eq!(response.status(), Some(StatusCode::OK));
        assert_eq!(response.headers().values("Via").count(), 1);
        assert_eq!(net.function::<Relay>(node).map(|r| r.seen), Some(1));
        assert!(net.trace_text().contains("SIP/2.0 200 OK"));
        // Answered: a shutdown need not wait, though the transaction lingers (Timer J).
        let engine = net.engine(node).unwrap();
        assert!(engine.is_idle());
        assert_eq!(engine.open_contexts(), 1);
        net.advance(Duration::from_secs(40));
        assert_eq!(net.engine(node).unwrap().open_contexts(), 0);
    }

    #[test]
    fn streams_carry_both_ways_until_closed() {
        let mut net = Network::new();
        let node = net.add_function("relay", addr(PROXY), Relay::new(addr(SERVER), false));
        net.add_ua(addr(SERVER));
        let conn = net.connect(addr(UA), addr(PROXY), Transport::Tcp);
        net.keepalive(conn);
        let request = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
        net.send_on(conn, request);
        net.run();
        let at_server = net.take_requests(addr(SERVER));
        assert_eq!(at_server.len(), 1);
        net.reply(&at_server[0], StatusCode::OK);
        net.run();
        let back = net.take_responses(addr(UA));
        assert_eq!(back.len(), 1);
        assert_eq!(
            back[0].conn,
            Some(conn),
            "the answer uses the client's connection"
        );

        // After the close, an answer for the connection cannot be delivered.
        let request = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
        net.send_on(conn, request);
        net.run();
        net.close(conn);
        let at_server = net.take_requests(addr(SERVER));
        net.reply(&at_server[0], StatusCode::OK);
        net.run();
        assert!(net.take_responses(addr(UA)).is_empty());
        let events = net
            .function::<Relay>(node)
            .map(|r| r.transport_events.clone());
        assert_eq!(
            events,
            Some(vec![
                "opened".to_owned(),
                "ping".to_owned(),
                "closed".to_owned()
            ])
        );
    }

    #[test]
    fn silence_becomes_408_on_virtual_time() {
        let mut net = Network::new();
        net.add_ua(addr(UA));
        net.add_function("relay", addr(PROXY), Relay::new(addr(SERVER), false));
        net.add_ua(addr(SERVER)); // receives, never answers
        let request = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
        net.send(addr(UA), addr(PROXY), request);
        net.advance(Duration::from_secs(1));
        assert!(net.final_response(addr(UA)).is_none());
        assert!(!net.engine(NodeId(0)).unwrap().is_idle());
        // Timer F (64*T1 = 32 s) ends the branch with a synthesized 408 (§16.8).
        net.advance(Duration::from_secs(40));
        let response = net.final_response(addr(UA)).expect("a final response");
        assert_eq!(response.status(), Some(StatusCode::REQUEST_TIMEOUT));
        // Retransmissions (Timer E) reached the silent server.
        assert!(net.take_requests(addr(SERVER)).len() > 1);
    }

    #[test]
    fn unreachable_next_hop_is_a_transport_error() {
        let mut net = Network::new();
        net.add_ua(addr(UA));
        net.add_function("relay", addr(PROXY), Relay::new(addr(SERVER), false));
        net.set_unreachable(addr(SERVER), true);
        let request = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
        net.send(addr(UA), addr(PROXY), request);
        net.run();
        // §16.9: a 503 on the branch; §16.7 step 6 sends it upstream as 500.
        let response = net.final_response(addr(UA)).expect("a final response");
        assert_eq!(response.status(), Some(StatusCode::SERVER_INTERNAL_ERROR));
    }

    #[test]
    fn cx_requests_go_to_the_fake_peer_and_are_recorded() {
        let mut net = Network::new();
        net.add_ua(addr(UA));
        net.add_function("relay", addr(PROXY), Relay::new(addr(SERVER), true));
        net.add_responder(addr(SERVER), |r| vec![Network::response(r, StatusCode::OK)]);
        let mut answers = vec![5001_u32, 2001].into_iter();
        net.set_cx_peer(move |request| {
            let code = answers.next().unwrap_or(5012);
            CxOutcome::Answer(ims_diameter::Message::answer_to(request).with(
                ims_diameter::Avp::unsigned32(
                    ims_diameter::code::RESULT_CODE,
                    ims_diameter::VendorId::IETF,
                    code,
                ),
            ))
        });
        for expected in [StatusCode::FORBIDDEN, StatusCode::OK] {
            let request = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
            net.send(addr(UA), addr(PROXY), request);
            net.run();
            let response = net.final_response(addr(UA)).expect("a final response");
            assert_eq!(response.status(), Some(expected));
        }
        assert_eq!(net.cx_requests().len(), 2);
        assert_eq!(net.cx_requests()[0].node, "relay");
    }

    #[test]
    fn garbage_gets_400_with_the_parse_error() {
        let mut net = Network::new();
        net.add_ua(addr(UA));
        net.add_function("relay", addr(PROXY), Relay::new(addr(SERVER), false));
        let bad = "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad\r\n\
                   Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
                   Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: abc\r\n\r\n";
        net.send_raw(addr(UA), addr(PROXY), bad.as_bytes());
        net.send_raw(addr(UA), addr(PROXY), b"\x00\x01 not sip at all");
        net.run();
        let responses = net.take_responses(addr(UA));
        assert_eq!(responses.len(), 1, "{}", net.trace_text());
        let response = &responses[0].message;
        assert_eq!(response.status(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(
            response.reason(),
            Some("Bad Request - invalid Content-Length")
        );
        assert!(response.to().unwrap().tag().is_some());
    }

    #[test]
    fn overload_answers_503_with_retry_after() {
        let mut net = Network::new();
        net.add_ua(addr(UA));
        let proxy = ProxyConfig::new(Host::Ipv4("192.0.2.2".parse().unwrap()), Some(5060));
        let settings = EngineSettings {
            max_contexts: 1,
            retry_after_secs: 7,
            ..EngineSettings::default()
        };
        let node = net.add_function_with(
            "relay",
            addr(PROXY),
            Relay::new(addr(SERVER), false),
            proxy,
            settings,
        );
        net.add_ua(addr(SERVER)); // keeps the first context open
        let first = net.request(addr(UA), "OPTIONS", "sip:bob@example.com", &[]);
        let second = net.request(addr(UA), "OPTIONS", "sip:carol@example.com", &[]);
        net.send(addr(UA), addr(PROXY), first);
        net.send(addr(UA), addr(PROXY), second.clone());
        net.run();
        let response = net.final_response(addr(UA)).expect("the 503");
        assert_eq!(response.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(response.headers().get("Retry-After"), Some("7"));
        assert_eq!(net.engine(node).map(Engine::open_contexts), Some(1));
        assert_eq!(net.function::<Relay>(node).map(|r| r.seen), Some(1));
        // A retransmission of the refused request is absorbed by its transaction.
        net.send(addr(UA), addr(PROXY), second);
        net.run();
        let again = net.final_response(addr(UA)).expect("the retransmitted 503");
        assert_eq!(again.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(net.function::<Relay>(node).map(|r| r.seen), Some(1));
    }
}
