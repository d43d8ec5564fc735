//! The stateful proxy core (RFC 3261 §16) between a UAC and one or more UASs, all built on
//! the transaction layer, over an in-memory UDP-like network on virtual time.
//!
//! Every message crosses the "wire" as bytes (`to_bytes` then `Message::parse`), so what the
//! proxy builds is also checked to be valid SIP. The application decisions (§16.5 targets)
//! are made by each test, step by step; the UASs answer CANCEL like a real UA (200 to the
//! CANCEL, 487 to the INVITE).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ims_sip::header::NameAddr;
use ims_sip::proxy::{
    ContextId, CounterTokens, ForwardOptions, Proxy, ProxyConfig, ProxyEvent, Target,
};
use ims_sip::transaction::{build_cancel, Event, TimerConfig, TransactionId, TransactionLayer};
use ims_sip::{Host, Message, Method, StatusCode, Uri};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Uac,
    Proxy,
    Uas(u8),
}

/// One message on the wire.
#[derive(Debug)]
struct Wire {
    at_ms: u128,
    from: Node,
    to: Node,
    line: String,
    dropped: bool,
}

type DropRule = Box<dyn FnMut(Node, Node, &Message) -> bool>;

struct Net {
    t0: Instant,
    now: Instant,
    proxy: Proxy<Node>,
    uac: TransactionLayer<Node>,
    uas: BTreeMap<u8, TransactionLayer<Node>>,
    drop: DropRule,
    wire: Vec<Wire>,
    uac_events: Vec<Event<Node>>,
    uas_events: Vec<(u8, Event<Node>)>,
    proxy_events: Vec<ProxyEvent<Node>>,
    /// The INVITE server transactions of each UAS, for its CANCEL handling.
    uas_invites: BTreeMap<(u8, TransactionId), Message>,
}

fn config() -> ProxyConfig {
    ProxyConfig::new(Host::Domain("proxy.example.com".into()), None)
}

impl Net {
    fn new(uas_count: u8) -> Net {
        Net::with_config(uas_count, config())
    }

    fn with_config(uas_count: u8, config: ProxyConfig) -> Net {
        let t0 = Instant::now();
        Net {
            t0,
            now: t0,
            proxy: Proxy::new(config, CounterTokens::new(0x5eed)),
            uac: TransactionLayer::new(TimerConfig::default()),
            uas: (1..=uas_count)
                .map(|n| (n, TransactionLayer::new(TimerConfig::default())))
                .collect(),
            drop: Box::new(|_, _, _| false),
            wire: Vec::new(),
            uac_events: Vec::new(),
            uas_events: Vec::new(),
            proxy_events: Vec::new(),
            uas_invites: BTreeMap::new(),
        }
    }

    /// Delivers everything queued (zero latency) until the network is quiet.
    fn pump(&mut self) {
        loop {
            // Events first: the UAS behaviour may queue answers.
            self.collect_events();
            let mut out: Vec<(Node, Node, Message)> = Vec::new();
            while let Some(t) = self.uac.poll_transmit() {
                out.push((Node::Uac, t.destination, t.message));
            }
            while let Some(t) = self.proxy.poll_transmit() {
                out.push((Node::Proxy, t.destination, t.message));
            }
            for (n, layer) in self.uas.iter_mut() {
                while let Some(t) = layer.poll_transmit() {
                    out.push((Node::Uas(*n), t.destination, t.message));
                }
            }
            if out.is_empty() {
                return;
            }
            for (from, to, message) in out {
                self.carry(from, to, message);
            }
        }
    }

    fn collect_events(&mut self) {
        while let Some(e) = self.uac.poll_event() {
            self.uac_events.push(e);
        }
        while let Some(e) = self.proxy.poll_event() {
            self.proxy_events.push(e);
        }
        let mut new = Vec::new();
        for (n, layer) in self.uas.iter_mut() {
            while let Some(e) = layer.poll_event() {
                new.push((*n, e));
            }
        }
        for (n, e) in new {
            self.uas_behaviour(n, &e);
            self.uas_events.push((n, e));
        }
    }

    /// What a UAS core does by itself: remember INVITEs, and answer a CANCEL 200 and the
    /// INVITE 487 (§9.2).
    fn uas_behaviour(&mut self, n: u8, event: &Event<Node>) {
        let Event::Request {
            id,
            request,
            cancels,
            ..
        } = event
        else {
            return;
        };
        let now = self.now;
        if request.method() == Some(&Method::INVITE) {
            self.uas_invites.insert((n, *id), request.clone());
        }
        if request.method() == Some(&Method::CANCEL) {
            let layer = self.uas.get_mut(&n).unwrap();
            let code = if cancels.is_some() { 200 } else { 481 };
            layer
                .send_response(now, *id, response(request, code, n))
                .unwrap();
            if let Some(invite_id) = cancels {
                if let Some(invite) = self.uas_invites.get(&(n, *invite_id)) {
                    // Fails harmlessly when the INVITE was already answered.
                    let _ = layer.send_response(now, *invite_id, response(invite, 487, n));
                }
            }
        }
    }

    fn carry(&mut self, from: Node, to: Node, message: Message) {
        let bytes = message.to_bytes();
        let message = Message::parse(&bytes).expect("what the elements send parses");
        let dropped = (self.drop)(from, to, &message);
        let line = String::from_utf8_lossy(&bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        self.wire.push(Wire {
            at_ms: self.now.duration_since(self.t0).as_millis(),
            from,
            to,
            line,
            dropped,
        });
        if dropped {
            return;
        }
        let now = self.now;
        match to {
            Node::Uac => self.uac.handle_message(now, message, from, false).unwrap(),
            Node::Proxy => {
                // Errors are answered by the proxy itself; the tests check the answer.
                let _ = self.proxy.handle_message(now, message, from, false);
            }
            Node::Uas(n) => self
                .uas
                .get_mut(&n)
                .unwrap()
                .handle_message(now, message, from, false)
                .unwrap(),
        }
    }

    /// Runs timers and the network up to `until` (virtual time).
    fn run_until(&mut self, until: Instant) {
        loop {
            self.pump();
            let next = [self.uac.poll_timeout(), self.proxy.poll_timeout()]
                .into_iter()
                .chain(self.uas.values().map(|l| l.poll_timeout()))
                .flatten()
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    self.uac.handle_timeout(now);
                    self.proxy.handle_timeout(now);
                    for layer in self.uas.values_mut() {
                        layer.handle_timeout(now);
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        self.pump();
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// The UAC starts a client transaction towards the proxy.
    fn uac_send(&mut self, request: Message) -> TransactionId {
        let id = self
            .uac
            .send_request(self.now, request, Node::Proxy, false)
            .unwrap();
        self.pump();
        id
    }

    /// The next request the proxy hands to the application.
    fn take_proxy_request(&mut self) -> (ContextId, Message, Option<NameAddr>) {
        let index = self
            .proxy_events
            .iter()
            .position(|e| matches!(e, ProxyEvent::Request { .. }))
            .expect("the proxy reported a request");
        match self.proxy_events.remove(index) {
            ProxyEvent::Request {
                context,
                request,
                removed_route,
                ..
            } => (context, request, removed_route),
            _ => unreachable!(),
        }
    }

    fn forward(&mut self, context: ContextId, targets: Vec<Target<Node>>, options: ForwardOptions) {
        self.proxy
            .forward(self.now, context, targets, options)
            .unwrap();
        self.pump();
    }

    /// The requests UAS `n` received (new server transactions), in order.
    fn uas_requests(&self, n: u8) -> Vec<(TransactionId, Message)> {
        self.uas_events
            .iter()
            .filter_map(|(m, e)| match e {
                Event::Request { id, request, .. } if *m == n => Some((*id, request.clone())),
                _ => None,
            })
            .collect()
    }

    fn uas_request(&self, n: u8, method: Method) -> (TransactionId, Message) {
        self.uas_requests(n)
            .into_iter()
            .rev()
            .find(|(_, r)| r.method() == Some(&method))
            .unwrap_or_else(|| panic!("UAS {n} received no {method}"))
    }

    fn uas_respond(&mut self, n: u8, id: TransactionId, request: &Message, code: u16) {
        let now = self.now;
        self.uas
            .get_mut(&n)
            .unwrap()
            .send_response(now, id, response(request, code, n))
            .unwrap();
        self.pump();
    }

    /// Status codes of the responses the UAC's transaction layer passed up, in order,
    /// without the 100 Trying of the proxy's INVITE server transaction (§17.2.1).
    fn uac_statuses(&self, method: Method) -> Vec<u16> {
        self.uac_events
            .iter()
            .filter_map(|e| match e {
                Event::Response { response, .. }
                    if response.cseq().map(|c| c.method) == Ok(method.clone()) =>
                {
                    response.status().map(|s| s.0)
                }
                _ => None,
            })
            .filter(|code| *code != 100)
            .collect()
    }

    fn uac_response(&self, code: u16) -> Message {
        self.uac_events
            .iter()
            .find_map(|e| match e {
                Event::Response { response, .. } if response.status() == Some(StatusCode(code)) => {
                    Some(response.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("the UAC received no {code}"))
    }

    fn branch_statuses(&self) -> Vec<u16> {
        self.proxy_events
            .iter()
            .filter_map(|e| match e {
                ProxyEvent::BranchResponse { response, .. } => response.status().map(|s| s.0),
                _ => None,
            })
            .collect()
    }

    fn lines_to(&self, to: Node) -> Vec<&str> {
        self.wire
            .iter()
            .filter(|w| w.to == to && !w.dropped)
            .map(|w| w.line.as_str())
            .collect()
    }
}

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn uas_uri(n: u8) -> Uri {
    uri(&format!("sip:bob@uas{n}.example.com"))
}

fn target(n: u8) -> Target<Node> {
    Target::new(uas_uri(n), Node::Uas(n))
}

fn request(method: &str, branch: &str, extra: &str) -> Message {
    let text = format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP uac.example.com;branch={branch}\r\n\
         Max-Forwards: 70\r\n{extra}\
         To: Bob <sip:bob@example.com>\r\n\
         From: Alice <sip:alice@example.com>;tag=a1\r\n\
         Call-ID: call-{branch}@uac.example.com\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@uac.example.com>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

/// A UAS response: To tag of UAS `n`, its Contact, and the Record-Route of the request
/// copied as §12.1.1 requires.
fn response(request: &Message, code: u16, n: u8) -> Message {
    let mut r = Message::response_to(request, StatusCode(code));
    if code > 100 {
        let to = format!("{};tag=uas{n}", request.headers().get("To").unwrap());
        r.headers_mut().set("To", &to);
    }
    if (101..300).contains(&code) {
        r.headers_mut()
            .push("Contact", &format!("<{}>", uas_uri(n)));
        for rr in request.headers().get_all("Record-Route") {
            let rr = rr.to_owned();
            r.headers_mut().push("Record-Route", &rr);
        }
    }
    r
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn invite_180_200_ack_bye_with_record_route() {
    let mut net = Net::new(1);
    let invite = request("INVITE", "z9hG4bKinv", "");
    net.uac_send(invite.clone());
    assert_eq!(net.lines_to(Node::Uac), ["SIP/2.0 100 Trying"]);

    let (ctx, req, removed) = net.take_proxy_request();
    assert_eq!(req.method(), Some(&Method::INVITE));
    assert!(removed.is_none());
    let options = ForwardOptions {
        record_route: Some(net.proxy.config().record_route_uri()),
        ..ForwardOptions::default()
    };
    net.forward(ctx, vec![target(1)], options);

    let (id, at_uas) = net.uas_request(1, Method::INVITE);
    assert_eq!(at_uas.request_uri(), Some(&uas_uri(1)));
    assert_eq!(at_uas.headers().get("Max-Forwards"), Some("69"));
    assert_eq!(
        at_uas.headers().get("Record-Route"),
        Some("<sip:proxy.example.com;lr>")
    );
    let vias = at_uas.vias().unwrap();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].host, Host::Domain("proxy.example.com".into()));
    assert!(vias[0].has_rfc3261_branch());

    net.uas_respond(1, id, &at_uas, 180);
    net.uas_respond(1, id, &at_uas, 200);
    assert_eq!(net.uac_statuses(Method::INVITE), [180, 200]);
    let ok = net.uac_response(200);
    assert_eq!(ok.vias().unwrap().len(), 1, "the proxy removed its Via");
    assert_eq!(
        ok.headers().get("Record-Route"),
        Some("<sip:proxy.example.com;lr>")
    );

    // ACK for the 2xx: Route from the Record-Route, sent to the proxy outside a transaction.
    let mut ack = Message::request(Method::ACK, uas_uri(1));
    for (name, value) in [
        ("Via", "SIP/2.0/UDP uac.example.com;branch=z9hG4bKack"),
        ("Route", "<sip:proxy.example.com;lr>"),
        ("Max-Forwards", "70"),
        ("To", ok.headers().get("To").unwrap()),
        ("From", invite.headers().get("From").unwrap()),
        ("Call-ID", invite.headers().get("Call-ID").unwrap()),
        ("CSeq", "1 ACK"),
    ] {
        ack.headers_mut().push(name, value);
    }
    net.uac.send_stateless(Node::Proxy, ack);
    net.pump();
    let (ack_at_proxy, removed) = net
        .proxy_events
        .iter()
        .find_map(|e| match e {
            ProxyEvent::Ack {
                request,
                removed_route,
                ..
            } => Some((request.clone(), removed_route.clone())),
            _ => None,
        })
        .expect("the ACK is handed to the application");
    assert!(removed.is_some(), "our Route was removed (§16.4)");
    assert!(ack_at_proxy.headers().get("Route").is_none());
    let hop = Target::new(ack_at_proxy.request_uri().unwrap().clone(), Node::Uas(1));
    net.proxy
        .forward_stateless(&ack_at_proxy, hop.clone(), &ForwardOptions::default())
        .unwrap();
    // A retransmitted ACK is forwarded with the same branch (§16.11).
    net.proxy
        .forward_stateless(&ack_at_proxy, hop, &ForwardOptions::default())
        .unwrap();
    net.pump();
    let acks: Vec<Message> = net
        .uas_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Ack { ack, .. } => Some(ack.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].headers().get("Via"), acks[1].headers().get("Via"));
    assert_eq!(acks[0].headers().get("Max-Forwards"), Some("69"));

    // BYE follows the Record-Route through the proxy.
    let mut bye = request("BYE", "z9hG4bKbye", "Route: <sip:proxy.example.com;lr>\r\n");
    bye.set_request_uri(uas_uri(1));
    bye.headers_mut().set("CSeq", "2 BYE");
    bye.headers_mut()
        .set("Call-ID", invite.headers().get("Call-ID").unwrap());
    net.uac_send(bye);
    let (ctx, bye_at_proxy, removed) = net.take_proxy_request();
    assert_eq!(
        removed.map(|r| r.uri.to_string()),
        Some("sip:proxy.example.com;lr".to_owned())
    );
    let hop = bye_at_proxy.request_uri().unwrap().clone();
    net.forward(
        ctx,
        vec![Target::new(hop, Node::Uas(1))],
        ForwardOptions::default(),
    );
    let (id, bye_at_uas) = net.uas_request(1, Method::BYE);
    assert!(bye_at_uas.headers().get("Route").is_none());
    net.uas_respond(1, id, &bye_at_uas, 200);
    assert_eq!(net.uac_statuses(Method::BYE), [200]);

    // Everything ends and the proxy forgets the contexts.
    net.run_for(secs(64));
    assert_eq!(net.proxy.context_count(), 0);
    let finished = net
        .proxy_events
        .iter()
        .filter(|e| matches!(e, ProxyEvent::Finished { .. }))
        .count();
    assert_eq!(finished, 2);
}

#[test]
fn max_forwards_zero_is_answered_483_without_the_application() {
    let mut net = Net::new(1);
    let mut invite = request("INVITE", "z9hG4bKmf", "");
    invite.headers_mut().set("Max-Forwards", "0");
    net.uac_send(invite);
    assert_eq!(net.uac_statuses(Method::INVITE), [483]);
    assert!(net.proxy_events.is_empty());
    assert!(net.lines_to(Node::Uas(1)).is_empty());

    // OPTIONS with Max-Forwards 0 goes to the application, which may answer it, but not
    // forward it.
    let mut options = request("OPTIONS", "z9hG4bKopt", "");
    options.headers_mut().set("Max-Forwards", "0");
    net.uac_send(options);
    let (ctx, _, _) = net.take_proxy_request();
    let err = net
        .proxy
        .forward(net.now, ctx, vec![target(1)], ForwardOptions::default())
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::TOO_MANY_HOPS);
    let ok = net.proxy.response(ctx, StatusCode::OK).unwrap();
    net.proxy.respond(net.now, ctx, ok).unwrap();
    net.pump();
    assert_eq!(net.uac_statuses(Method::OPTIONS), [200]);
}

#[test]
fn request_forwarded_back_to_the_proxy_is_a_loop_482() {
    let mut net = Net::new(0);
    net.uac_send(request("INVITE", "z9hG4bKloop", ""));
    let (ctx, req, _) = net.take_proxy_request();
    // A misconfigured target that resolves to the proxy itself, same Request-URI.
    let back = Target::new(req.request_uri().unwrap().clone(), Node::Proxy);
    net.forward(ctx, vec![back], ForwardOptions::default());
    assert!(
        !net.proxy_events
            .iter()
            .any(|e| matches!(e, ProxyEvent::Request { .. })),
        "the looped copy never reaches the application"
    );
    assert!(net
        .lines_to(Node::Proxy)
        .contains(&"SIP/2.0 482 Loop Detected"));
    assert_eq!(net.uac_statuses(Method::INVITE), [482]);
}

#[test]
fn spiral_with_another_request_uri_is_not_a_loop() {
    let mut net = Net::new(1);
    net.uac_send(request("MESSAGE", "z9hG4bKspiral", ""));
    let (ctx, _, _) = net.take_proxy_request();
    // Retargeted to another URI and sent through the proxy again: a spiral (§16.3 step 4).
    let retarget = Target::new(uri("sip:bob@home.example.com"), Node::Proxy);
    net.forward(ctx, vec![retarget], ForwardOptions::default());
    let (ctx2, second, _) = net.take_proxy_request();
    assert_ne!(ctx, ctx2);
    assert_eq!(second.vias().unwrap().len(), 2);
    net.forward(ctx2, vec![target(1)], ForwardOptions::default());
    let (id, at_uas) = net.uas_request(1, Method::MESSAGE);
    assert_eq!(at_uas.vias().unwrap().len(), 3);
    assert_eq!(at_uas.headers().get("Max-Forwards"), Some("68"));
    net.uas_respond(1, id, &at_uas, 200);
    assert_eq!(net.uac_statuses(Method::MESSAGE), [200]);
}

#[test]
fn unknown_proxy_require_is_420_with_unsupported() {
    let mut config = config();
    config.supported.push("sec-agree".into());
    let mut net = Net::with_config(0, config);
    net.uac_send(request(
        "REGISTER",
        "z9hG4bKpr",
        "Proxy-Require: sec-agree, x-unknown\r\n",
    ));
    let bad = net.uac_response(420);
    assert_eq!(bad.headers().get("Unsupported"), Some("x-unknown"));
    assert!(net.proxy_events.is_empty());
}

#[test]
fn parallel_fork_200_on_one_branch_cancels_the_other() {
    let mut net = Net::new(2);
    net.uac_send(request("INVITE", "z9hG4bKpar", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1), target(2)], ForwardOptions::default());
    let (id1, inv1) = net.uas_request(1, Method::INVITE);
    let (id2, inv2) = net.uas_request(2, Method::INVITE);
    assert_ne!(
        inv1.top_via().unwrap().branch(),
        inv2.top_via().unwrap().branch(),
        "each branch has its own Via branch"
    );
    net.uas_respond(2, id2, &inv2, 180);
    net.uas_respond(1, id1, &inv1, 200);

    let cancel = net.uas_request(2, Method::CANCEL).1;
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        inv2.top_via().unwrap().branch(),
        "the CANCEL matches the branch's INVITE (§9.1)"
    );
    assert!(net
        .lines_to(Node::Proxy)
        .contains(&"SIP/2.0 487 Request Terminated"));
    assert_eq!(net.uac_statuses(Method::INVITE), [180, 200]);
    assert_eq!(net.branch_statuses(), [200, 487]);
}

#[test]
fn serial_fork_by_q_value_moves_on_after_486_and_430() {
    let mut net = Net::new(3);
    net.uac_send(request("INVITE", "z9hG4bKser", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(
        ctx,
        vec![
            target(3).with_q(100),
            target(1).with_q(1000),
            target(2).with_q(500),
        ],
        ForwardOptions::default(),
    );
    assert!(net.uas_requests(2).is_empty() && net.uas_requests(3).is_empty());
    let (id, inv) = net.uas_request(1, Method::INVITE);
    net.uas_respond(1, id, &inv, 486);
    assert!(net.uas_requests(3).is_empty(), "one target at a time");
    let (id, inv) = net.uas_request(2, Method::INVITE);
    // RFC 5626 §5.3: a 430 Flow Failed means "try another binding".
    net.uas_respond(2, id, &inv, 430);
    let (id, inv) = net.uas_request(3, Method::INVITE);
    net.uas_respond(3, id, &inv, 200);
    assert_eq!(net.uac_statuses(Method::INVITE), [200]);
    assert_eq!(net.branch_statuses(), [486, 430, 200]);
}

#[test]
fn serial_fork_moves_on_after_timer_b_408() {
    let mut net = Net::new(2);
    // UAS 1 is unreachable: everything sent to it is lost.
    net.drop = Box::new(|_, to, _| to == Node::Uas(1));
    net.uac_send(request("INVITE", "z9hG4bKtob", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(
        ctx,
        vec![target(1), target(2).with_q(500)],
        ForwardOptions::default(),
    );
    net.run_for(secs(31));
    assert!(net.uas_requests(2).is_empty());
    net.run_for(secs(2));
    assert_eq!(net.branch_statuses(), [408]);
    let (id, inv) = net.uas_request(2, Method::INVITE);
    net.uas_respond(2, id, &inv, 200);
    assert_eq!(net.uac_statuses(Method::INVITE), [200]);
}

#[test]
fn best_response_prefers_4xx_over_5xx() {
    let mut net = Net::new(3);
    net.uac_send(request("INVITE", "z9hG4bKbest", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(
        ctx,
        vec![target(1), target(2), target(3)],
        ForwardOptions::default(),
    );
    for (n, code) in [(3, 503), (1, 404), (2, 486)] {
        let (id, inv) = net.uas_request(n, Method::INVITE);
        net.uas_respond(n, id, &inv, code);
        if n != 2 {
            assert!(
                net.uac_statuses(Method::INVITE).is_empty(),
                "nothing goes upstream while a branch is pending"
            );
        }
    }
    assert_eq!(net.uac_statuses(Method::INVITE), [404]);
}

#[test]
fn a_lone_503_goes_upstream_as_500() {
    let mut net = Net::new(1);
    net.uac_send(request("INVITE", "z9hG4bK503", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1)], ForwardOptions::default());
    let (id, inv) = net.uas_request(1, Method::INVITE);
    net.uas_respond(1, id, &inv, 503);
    assert_eq!(net.uac_statuses(Method::INVITE), [500]);
    assert_eq!(net.branch_statuses(), [503]);
}

#[test]
fn a_6xx_cancels_the_pending_branches_and_wins() {
    let mut net = Net::new(2);
    net.uac_send(request("INVITE", "z9hG4bK6xx", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1), target(2)], ForwardOptions::default());
    let (id1, inv1) = net.uas_request(1, Method::INVITE);
    let (id2, inv2) = net.uas_request(2, Method::INVITE);
    net.uas_respond(2, id2, &inv2, 180);
    net.uas_respond(1, id1, &inv1, 603);
    assert_eq!(
        net.uas_request(2, Method::CANCEL).1.method(),
        Some(&Method::CANCEL)
    );
    assert_eq!(net.branch_statuses(), [603, 487]);
    assert_eq!(net.uac_statuses(Method::INVITE), [180, 603]);
}

#[test]
fn cancel_from_the_uac_ends_in_487() {
    let mut net = Net::new(1);
    let invite = request("INVITE", "z9hG4bKcan", "");
    net.uac_send(invite.clone());
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1)], ForwardOptions::default());
    let (id, inv) = net.uas_request(1, Method::INVITE);
    net.uas_respond(1, id, &inv, 180);

    net.uac_send(build_cancel(&invite).unwrap());
    assert_eq!(net.uac_statuses(Method::CANCEL), [200]);
    assert!(net
        .proxy_events
        .iter()
        .any(|e| matches!(e, ProxyEvent::Cancelled { context } if *context == ctx)));
    assert_eq!(
        net.uas_request(1, Method::CANCEL).1.method(),
        Some(&Method::CANCEL)
    );
    assert_eq!(net.uac_statuses(Method::INVITE), [180, 487]);

    // A CANCEL that matches nothing is answered 481.
    net.uac_send(build_cancel(&request("INVITE", "z9hG4bKnone", "")).unwrap());
    assert_eq!(net.uac_statuses(Method::CANCEL), [200, 481]);
}

#[test]
fn cancel_before_the_application_decided_is_answered_487() {
    let mut net = Net::new(1);
    let invite = request("INVITE", "z9hG4bKearly", "");
    net.uac_send(invite.clone());
    let (ctx, _, _) = net.take_proxy_request();
    net.uac_send(build_cancel(&invite).unwrap());
    assert_eq!(net.uac_statuses(Method::INVITE), [487]);
    assert!(net
        .proxy
        .forward(net.now, ctx, vec![target(1)], ForwardOptions::default())
        .is_err());
}

#[test]
fn branch_without_any_answer_times_out_408_on_timer_b() {
    let mut net = Net::new(1);
    net.drop = Box::new(|_, to, _| to == Node::Uas(1));
    net.uac_send(request("INVITE", "z9hG4bKb", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1)], ForwardOptions::default());
    net.run_for(secs(31));
    assert_eq!(net.uac_statuses(Method::INVITE), Vec::<u16>::new());
    net.run_for(secs(2));
    assert_eq!(net.uac_statuses(Method::INVITE), [408]);
    // Timer A retransmitted the INVITE to the dead UAS (unreliable transport).
    let sent = net
        .wire
        .iter()
        .filter(|w| w.to == Node::Uas(1) && w.line.starts_with("INVITE"))
        .count();
    assert!(sent > 3, "{sent}");
}

#[test]
fn branch_silent_after_180_ends_408_via_timer_c() {
    let mut net = Net::new(1);
    net.uac_send(request("INVITE", "z9hG4bKc", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1)], ForwardOptions::default());
    let (id, inv) = net.uas_request(1, Method::INVITE);
    net.uas_respond(1, id, &inv, 180);
    // The UAS dies after its 180: nothing reaches it any more.
    net.drop = Box::new(|_, to, _| to == Node::Uas(1));
    net.run_for(secs(179));
    assert!(!net.wire.iter().any(|w| w.line.starts_with("CANCEL")));
    net.run_for(secs(2));
    // §16.8: Timer C with a provisional → CANCEL.
    let cancel_at = net
        .wire
        .iter()
        .find(|w| w.line.starts_with("CANCEL") && w.from == Node::Proxy)
        .map(|w| w.at_ms)
        .expect("Timer C sent a CANCEL");
    assert_eq!(cancel_at, 180_000);
    assert_eq!(net.uac_statuses(Method::INVITE), [180]);
    // No final answer to the CANCEL either: the re-armed Timer C ends the branch with 408.
    net.run_for(secs(181));
    assert_eq!(net.uac_statuses(Method::INVITE), [180, 408]);
    // The abandoned branch is released with its context once the server side is done.
    net.run_for(secs(64));
    assert_eq!(net.proxy.context_count(), 0);
    assert!(net.proxy.layer().is_empty());
}

#[test]
fn register_forwarded_with_path_and_reviewed_200() {
    let mut net = Net::new(1);
    let mut register = request("REGISTER", "z9hG4bKreg", "");
    register.set_request_uri(uri("sip:example.com"));
    net.uac_send(register);
    let (ctx, _, _) = net.take_proxy_request();
    // The P-CSCF adds its Path (RFC 3327) itself before forwarding.
    net.proxy
        .request_mut(ctx)
        .unwrap()
        .headers_mut()
        .push("Path", "<sip:term@proxy.example.com;lr>");
    let options = ForwardOptions {
        review_responses: true,
        add_headers: vec![("P-Visited-Network-ID".into(), "\"visited\"".into())],
        ..ForwardOptions::default()
    };
    net.forward(
        ctx,
        vec![Target::new(uri("sip:example.com"), Node::Uas(1))],
        options,
    );
    let (id, at_registrar) = net.uas_request(1, Method::REGISTER);
    assert_eq!(
        at_registrar.headers().get("Path"),
        Some("<sip:term@proxy.example.com;lr>")
    );
    assert_eq!(
        at_registrar.headers().get("P-Visited-Network-ID"),
        Some("\"visited\"")
    );
    let mut ok = response(&at_registrar, 200, 1);
    ok.headers_mut()
        .push("Service-Route", "<sip:orig@scscf.example.com;lr>");
    ok.headers_mut().push("X-Internal", "secret");
    let now = net.now;
    net.uas
        .get_mut(&1)
        .unwrap()
        .send_response(now, id, ok)
        .unwrap();
    net.pump();

    // Review mode: nothing upstream until the application sends it on.
    assert!(net.uac_statuses(Method::REGISTER).is_empty());
    let reviewed = net
        .proxy_events
        .iter()
        .find_map(|e| match e {
            ProxyEvent::Response { context, response } if *context == ctx => Some(response.clone()),
            _ => None,
        })
        .expect("the 200 is handed for review");
    let mut edited = reviewed;
    edited.headers_mut().remove("X-Internal");
    net.proxy.send_upstream(net.now, ctx, edited).unwrap();
    net.pump();
    let got = net.uac_response(200);
    assert!(got.headers().get("X-Internal").is_none());
    assert_eq!(
        got.headers().get("Service-Route"),
        Some("<sip:orig@scscf.example.com;lr>")
    );
}

#[test]
fn hold_final_lets_the_application_try_another_target() {
    let mut net = Net::new(2);
    net.uac_send(request("INVITE", "z9hG4bKhold", ""));
    let (ctx, _, _) = net.take_proxy_request();
    let options = ForwardOptions {
        hold_final: true,
        ..ForwardOptions::default()
    };
    net.forward(ctx, vec![target(1)], options.clone());
    let (id, inv) = net.uas_request(1, Method::INVITE);
    net.uas_respond(1, id, &inv, 503);
    let best = net
        .proxy_events
        .iter()
        .find_map(|e| match e {
            ProxyEvent::BranchesExhausted { best, .. } => best.status(),
            _ => None,
        })
        .expect("the proxy waits for the application");
    assert_eq!(best, StatusCode::SERVER_INTERNAL_ERROR);
    assert!(net.uac_statuses(Method::INVITE).is_empty());
    // Like an I-CSCF choosing another S-CSCF.
    net.forward(ctx, vec![target(2)], options);
    let (id, inv) = net.uas_request(2, Method::INVITE);
    net.uas_respond(2, id, &inv, 486);
    net.proxy.send_best(net.now, ctx).unwrap();
    net.pump();
    assert_eq!(net.uac_statuses(Method::INVITE), [486]);
}

#[test]
fn non_invite_fork_forwards_the_first_2xx_only() {
    let mut net = Net::new(2);
    net.uac_send(request("MESSAGE", "z9hG4bKmsg", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1), target(2)], ForwardOptions::default());
    let (id1, m1) = net.uas_request(1, Method::MESSAGE);
    let (id2, m2) = net.uas_request(2, Method::MESSAGE);
    net.uas_respond(2, id2, &m2, 200);
    net.uas_respond(1, id1, &m1, 404);
    assert_eq!(net.uac_statuses(Method::MESSAGE), [200]);
    assert!(
        !net.wire.iter().any(|w| w.line.starts_with("CANCEL")),
        "non-INVITE branches are never cancelled (§9.1)"
    );
    assert_eq!(net.branch_statuses(), [200, 404]);
    net.run_for(secs(40));
    assert_eq!(net.proxy.context_count(), 0);
}

#[test]
fn stray_2xx_retransmission_is_forwarded_statelessly() {
    let mut net = Net::new(1);
    net.uac_send(request("INVITE", "z9hG4bKstray", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1)], ForwardOptions::default());
    let (id, inv) = net.uas_request(1, Method::INVITE);
    net.uas_respond(1, id, &inv, 200);
    assert_eq!(net.uac_statuses(Method::INVITE), [200]);
    // Long after every transaction ended, the UAS core retransmits its 2xx (§13.3.1.4).
    net.run_for(secs(64));
    assert_eq!(net.proxy.context_count(), 0);
    let late = response(&inv, 200, 1);
    net.uas
        .get_mut(&1)
        .unwrap()
        .send_stateless(Node::Proxy, late);
    net.pump();
    let stray = net
        .proxy_events
        .iter()
        .find_map(|e| match e {
            ProxyEvent::StrayResponse { response } => Some(response.clone()),
            _ => None,
        })
        .expect("§16.11: the proxy hands the stray 2xx on");
    let vias = stray.vias().unwrap();
    assert_eq!(vias.len(), 1, "our Via is removed");
    assert_eq!(vias[0].host, Host::Domain("uac.example.com".into()));
    net.proxy.send_stateless(Node::Uac, stray);
    net.pump();
    assert!(net
        .uac_events
        .iter()
        .any(|e| matches!(e, Event::StrayResponse { .. })));

    // A response whose top Via is not ours is dropped (§18.1.2).
    let before = net.proxy_events.len();
    let foreign = response(&request("INVITE", "z9hG4bKother", ""), 200, 1);
    net.uas
        .get_mut(&1)
        .unwrap()
        .send_stateless(Node::Proxy, foreign);
    net.pump();
    assert_eq!(net.proxy_events.len(), before);
}

#[test]
fn request_without_usable_cseq_is_answered_400_naming_it() {
    let mut net = Net::new(0);
    let mut bad = request("OPTIONS", "z9hG4bKbad", "");
    bad.headers_mut().set("CSeq", "1 INVITE");
    // The codec refuses this on the wire; a transport that hands over an edited message
    // reaches the transaction layer's check, and the proxy answers it.
    let err = net.proxy.handle_message(net.now, bad, Node::Uac, false);
    assert_eq!(err.map_err(|e| e.status()), Err(StatusCode::BAD_REQUEST));
    net.pump();
    let answer = net
        .wire
        .iter()
        .find(|w| w.from == Node::Proxy)
        .map(|w| w.line.clone())
        .expect("the proxy answered");
    assert!(
        answer.starts_with("SIP/2.0 400 Bad Request - CSeq"),
        "{answer}"
    );
    assert!(net.proxy_events.is_empty());
}

#[test]
fn challenges_from_all_branches_are_combined_in_the_401() {
    let mut net = Net::new(2);
    net.uac_send(request("INVITE", "z9hG4bKauth", ""));
    let (ctx, _, _) = net.take_proxy_request();
    net.forward(ctx, vec![target(1), target(2)], ForwardOptions::default());
    for (n, code, header, realm) in [
        (1, 401, "WWW-Authenticate", "one.example.com"),
        (2, 407, "Proxy-Authenticate", "two.example.com"),
    ] {
        let (id, inv) = net.uas_request(n, Method::INVITE);
        let mut challenge = response(&inv, code, n);
        challenge.headers_mut().push(
            header,
            &format!("Digest realm=\"{realm}\", nonce=\"n{n}\", algorithm=MD5"),
        );
        let now = net.now;
        net.uas
            .get_mut(&n)
            .unwrap()
            .send_response(now, id, challenge)
            .unwrap();
        net.pump();
    }
    assert_eq!(net.uac_statuses(Method::INVITE), [401]);
    let got = net.uac_response(401);
    assert!(got
        .headers()
        .get("WWW-Authenticate")
        .is_some_and(|c| c.contains("one.example.com")));
    assert!(got
        .headers()
        .get("Proxy-Authenticate")
        .is_some_and(|c| c.contains("two.example.com")));
}

#[test]
fn application_mistakes_are_errors_not_panics() {
    let mut net = Net::new(1);
    net.uac_send(request("INVITE", "z9hG4bKmis", ""));
    let (ctx, _, _) = net.take_proxy_request();
    let now = net.now;
    assert_eq!(
        net.proxy
            .forward(now, ctx, Vec::new(), ForwardOptions::default())
            .unwrap_err()
            .status(),
        StatusCode::SERVER_INTERNAL_ERROR
    );
    assert!(
        net.proxy.send_best(now, ctx).is_err(),
        "nothing to send yet"
    );
    assert!(net
        .proxy
        .respond(now, ctx, request("INVITE", "z9hG4bKx", ""))
        .is_err());
    assert!(net
        .proxy
        .forward(
            now,
            ContextId(999),
            vec![target(1)],
            ForwardOptions::default()
        )
        .is_err());
    // A locally generated final answer ends the context; forwarding afterwards is refused.
    let busy = net.proxy.response(ctx, StatusCode::BUSY_HERE).unwrap();
    net.proxy.respond(now, ctx, busy).unwrap();
    net.pump();
    assert_eq!(net.uac_statuses(Method::INVITE), [486]);
    assert!(net
        .proxy
        .forward(now, ctx, vec![target(1)], ForwardOptions::default())
        .is_err());
    assert!(net.uas_requests(1).is_empty());
}

mod best_response_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// §16.7 step 6 as invariants over any mix of final responses on a parallel fork:
        /// exactly one final goes upstream, never a 503, the first 6xx wins (and cancels
        /// the rest), otherwise the lowest class wins, preferring the 4xx a client can act
        /// on.
        #[test]
        fn one_final_of_the_best_class_goes_upstream(
            codes in proptest::collection::vec(300u16..700, 1..5)
        ) {
            let n = codes.len() as u8;
            let mut net = Net::new(n);
            net.uac_send(request("INVITE", "z9hG4bKprop", ""));
            let (ctx, _, _) = net.take_proxy_request();
            net.forward(ctx, (1..=n).map(target).collect(), ForwardOptions::default());
            for (i, code) in codes.iter().enumerate() {
                let k = i as u8 + 1;
                let (id, inv) = net.uas_request(k, Method::INVITE);
                let now = net.now;
                // After a 6xx the branch may already have been cancelled and answered 487.
                let _ = net
                    .uas
                    .get_mut(&k)
                    .unwrap()
                    .send_response(now, id, response(&inv, *code, k));
                net.pump();
            }
            let finals = net.uac_statuses(Method::INVITE);
            prop_assert_eq!(finals.len(), 1, "{:?}", finals);
            let got = finals[0];
            prop_assert_ne!(got, 503);
            if let Some(first_6xx) = codes.iter().find(|c| **c >= 600) {
                prop_assert_eq!(got, *first_6xx);
            } else {
                let best_class = codes.iter().map(|c| c / 100).min().unwrap();
                prop_assert_eq!(got / 100, best_class);
                let actionable = |c: u16| matches!(c, 401 | 407 | 415 | 420 | 484);
                if best_class == 4 && codes.iter().any(|c| actionable(*c)) {
                    prop_assert!(actionable(got), "{} from {:?}", got, codes);
                }
            }
        }
    }
}

#[test]
fn same_token_seed_gives_the_same_branches() {
    let run = || {
        let mut net = Net::new(2);
        net.uac_send(request("INVITE", "z9hG4bKdet", ""));
        let (ctx, _, _) = net.take_proxy_request();
        net.forward(ctx, vec![target(1), target(2)], ForwardOptions::default());
        [1, 2].map(|n| {
            let via = net.uas_request(n, Method::INVITE).1.top_via().unwrap();
            via.branch().unwrap().to_owned()
        })
    };
    let first = run();
    assert_eq!(first, run());
    assert_ne!(first[0], first[1]);
}
