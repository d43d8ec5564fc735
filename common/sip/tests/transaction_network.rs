//! A client transaction layer and a server transaction layer talking through an in-memory
//! network that can lose messages, on virtual time (RFC 3261 §17, RFC 6026).
//!
//! Every message crosses the "wire" as bytes (`to_bytes` then `Message::parse`), so the
//! test also checks that what the layers build is valid SIP.

use std::time::{Duration, Instant};

use ims_sip::transaction::{
    build_cancel, Event, InviteClientState, InviteServerState, Timer, TimerConfig, TransactionId,
    TransactionLayer,
};
use ims_sip::{Message, Method, StatusCode};

/// The two ends; each layer's `A` names the peer a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Uac,
    Uas,
}

/// One message on the wire: when (ms after start), towards whom, its start line, and
/// whether the network lost it.
#[derive(Debug)]
struct Wire {
    at_ms: u128,
    to: Side,
    line: String,
    dropped: bool,
}

type DropRule = Box<dyn FnMut(Side, &Message) -> bool>;

struct Sim {
    t0: Instant,
    now: Instant,
    reliable: bool,
    uac: TransactionLayer<Side>,
    uas: TransactionLayer<Side>,
    drop: DropRule,
    wire: Vec<Wire>,
    uac_events: Vec<Event<Side>>,
    uas_events: Vec<Event<Side>>,
}

impl Sim {
    fn new(reliable: bool, drop: DropRule) -> Sim {
        let t0 = Instant::now();
        Sim {
            t0,
            now: t0,
            reliable,
            uac: TransactionLayer::new(TimerConfig::default()),
            uas: TransactionLayer::new(TimerConfig::default()),
            drop,
            wire: Vec::new(),
            uac_events: Vec::new(),
            uas_events: Vec::new(),
        }
    }

    /// Delivers everything both layers queued (at zero latency) until the network is quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.uac.poll_transmit() {
                moved = true;
                self.carry(t.destination, t.message);
            }
            while let Some(t) = self.uas.poll_transmit() {
                moved = true;
                self.carry(t.destination, t.message);
            }
            while let Some(e) = self.uac.poll_event() {
                self.uac_events.push(e);
            }
            while let Some(e) = self.uas.poll_event() {
                self.uas_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    fn carry(&mut self, to: Side, message: Message) {
        let bytes = message.to_bytes();
        let received = Message::parse(&bytes).expect("the layers build valid SIP");
        let line = String::from_utf8_lossy(&bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        let dropped = (self.drop)(to, &received);
        self.wire.push(Wire {
            at_ms: self.now.duration_since(self.t0).as_millis(),
            to,
            line,
            dropped,
        });
        if dropped {
            return;
        }
        let (layer, from) = match to {
            Side::Uas => (&mut self.uas, Side::Uac),
            Side::Uac => (&mut self.uac, Side::Uas),
        };
        layer
            .handle_message(self.now, received, from, self.reliable)
            .expect("matchable message");
    }

    /// Runs timers (and the network) up to `offset` after the start.
    fn advance_to(&mut self, offset: Duration) {
        let until = self.t0 + offset;
        loop {
            self.pump();
            let next = [self.uac.poll_timeout(), self.uas.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = at;
                    self.uac.handle_timeout(at);
                    self.uas.handle_timeout(at);
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// Start lines sent towards `to` containing `needle`, with their send times.
    fn sent(&self, to: Side, needle: &str) -> Vec<(u128, bool)> {
        self.wire
            .iter()
            .filter(|w| w.to == to && w.line.contains(needle))
            .map(|w| (w.at_ms, w.dropped))
            .collect()
    }

    /// The single new server transaction the UAS layer reported, and its request.
    fn take_server_request(&mut self) -> (TransactionId, Message, Option<TransactionId>) {
        let position = self
            .uas_events
            .iter()
            .position(|e| matches!(e, Event::Request { .. }))
            .expect("a request reached the UAS");
        match self.uas_events.remove(position) {
            Event::Request {
                id,
                request,
                cancels,
                ..
            } => (id, request, cancels),
            _ => unreachable!(),
        }
    }

    /// Status codes the UAC's TU saw for transaction `id`.
    fn uac_statuses(&self, id: TransactionId) -> Vec<u16> {
        self.uac_events
            .iter()
            .filter_map(|e| match e {
                Event::Response { id: r, response } if *r == id => response.status().map(|s| s.0),
                _ => None,
            })
            .collect()
    }
}

fn request(method: &str, branch: &str) -> Message {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).expect("test request parses")
}

fn answer(request: &Message, code: u16) -> Message {
    let mut response = Message::response_to(request, StatusCode(code));
    if code > 100 {
        let to = format!("{};tag=uas1", response.headers().get("To").expect("To"));
        response.headers_mut().set("To", &to);
    }
    response
}

/// Drops the first `n` messages whose start line contains `needle`, towards `to`.
fn drop_first(to: Side, needle: &'static str, n: usize) -> DropRule {
    let mut left = n;
    Box::new(move |side, message| {
        let line = message
            .method()
            .map(|m| m.as_str().to_owned())
            .or_else(|| message.status().map(|s| s.0.to_string()))
            .unwrap_or_default();
        if side == to && line == needle && left > 0 {
            left -= 1;
            true
        } else {
            false
        }
    })
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn lost_invite_and_lost_ack_are_recovered_by_timers_a_and_g() {
    let first_invite = drop_first(Side::Uas, "INVITE", 1);
    let mut first_ack = drop_first(Side::Uas, "ACK", 1);
    let mut invite_rule = first_invite;
    let mut sim = Sim::new(
        false,
        Box::new(move |side, m| invite_rule(side, m) || first_ack(side, m)),
    );
    let client = sim
        .uac
        .send_request(sim.now, request("INVITE", "z9hG4bKlost"), Side::Uas, false)
        .unwrap();
    sim.pump();
    assert!(sim.uas_events.is_empty(), "the first INVITE was lost");

    sim.advance_to(ms(500));
    let (server, invite, _) = sim.take_server_request();
    assert_eq!(sim.sent(Side::Uas, "INVITE"), [(0, true), (500, false)]);
    assert_eq!(sim.uac_statuses(client), [100]);

    sim.uas
        .send_response(sim.now, server, answer(&invite, 486))
        .unwrap();
    sim.advance_to(ms(2_000));
    // 486 sent at 500 ms, ACK lost, Timer G re-sent the 486 at 1000 ms, re-ACKed.
    assert_eq!(sim.sent(Side::Uac, "486"), [(500, false), (1000, false)]);
    assert_eq!(sim.sent(Side::Uas, "ACK"), [(500, true), (1000, false)]);
    assert_eq!(sim.uac_statuses(client), [100, 486], "486 passed up once");
    assert_eq!(
        sim.uac.invite_client(client).map(|c| c.state()),
        Some(InviteClientState::Completed)
    );
    assert_eq!(
        sim.uas.invite_server(server).map(|s| s.state()),
        Some(InviteServerState::Confirmed)
    );
    // No Timer H failure reached the UAS TU.
    assert!(!sim
        .uas_events
        .iter()
        .any(|e| matches!(e, Event::Timeout { .. })));

    // Timer I (5 s) and Timer D (32 s) clean both sides up.
    sim.advance_to(Duration::from_secs(40));
    assert!(sim.uac.is_empty() && sim.uas.is_empty());
    assert!(sim
        .uac_events
        .iter()
        .any(|e| matches!(e, Event::Terminated { id } if *id == client)));
}

#[test]
fn lost_final_response_is_resent_by_the_completed_server() {
    let mut sim = Sim::new(false, drop_first(Side::Uac, "200", 1));
    let client = sim
        .uac
        .send_request(sim.now, request("REGISTER", "z9hG4bKreg"), Side::Uas, false)
        .unwrap();
    sim.pump();
    let (server, register, _) = sim.take_server_request();
    sim.uas
        .send_response(sim.now, server, answer(&register, 200))
        .unwrap();
    sim.advance_to(ms(600));
    // The REGISTER retransmission at 500 ms was absorbed by the server transaction (its TU
    // saw one request) and answered with the stored 200.
    assert_eq!(sim.sent(Side::Uas, "REGISTER"), [(0, false), (500, false)]);
    assert_eq!(sim.sent(Side::Uac, "200"), [(0, true), (500, false)]);
    assert!(!sim
        .uas_events
        .iter()
        .any(|e| matches!(e, Event::Request { .. })));
    assert_eq!(sim.uac_statuses(client), [200]);

    // Timer K (T4 = 5 s) ends the client; Timer J (64*T1 = 32 s) the server.
    sim.advance_to(Duration::from_secs(6));
    assert!(sim.uac.is_empty());
    assert_eq!(sim.uas.len(), 1);
    sim.advance_to(Duration::from_secs(33));
    assert!(sim.uas.is_empty());
}

#[test]
fn everything_lost_gives_the_tu_a_timer_b_timeout() {
    let mut sim = Sim::new(false, Box::new(|_, _| true));
    let client = sim
        .uac
        .send_request(sim.now, request("INVITE", "z9hG4bKvoid"), Side::Uas, false)
        .unwrap();
    sim.advance_to(Duration::from_secs(60));
    let times: Vec<u128> = sim.sent(Side::Uas, "INVITE").iter().map(|s| s.0).collect();
    assert_eq!(times, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert!(sim
        .uac_events
        .iter()
        .any(|e| matches!(e, Event::Timeout { id, timer: Timer::B } if *id == client)));
    assert!(sim.uac.is_empty());
}

#[test]
fn reliable_transport_sends_once_and_ends_at_once() {
    let mut sim = Sim::new(true, Box::new(|_, _| false));
    let client = sim
        .uac
        .send_request(sim.now, request("MESSAGE", "z9hG4bKtcp"), Side::Uas, true)
        .unwrap();
    sim.pump();
    let (server, message, _) = sim.take_server_request();
    sim.uas
        .send_response(sim.now, server, answer(&message, 202))
        .unwrap();
    sim.pump();
    assert_eq!(sim.uac_statuses(client), [202]);
    // Timers K and J are zero on reliable transports.
    assert!(sim.uac.is_empty() && sim.uas.is_empty());
    sim.advance_to(Duration::from_secs(60));
    assert_eq!(sim.sent(Side::Uas, "MESSAGE").len(), 1);
}

#[test]
fn invite_2xx_accepted_on_both_sides_with_tu_ack() {
    let mut sim = Sim::new(false, Box::new(|_, _| false));
    let client = sim
        .uac
        .send_request(sim.now, request("INVITE", "z9hG4bKok"), Side::Uas, false)
        .unwrap();
    sim.pump();
    let (server, invite, _) = sim.take_server_request();
    let ok = answer(&invite, 200);
    sim.uas.send_response(sim.now, server, ok.clone()).unwrap();
    sim.pump();
    assert_eq!(sim.uac_statuses(client), [100, 200]);
    assert_eq!(
        sim.uac.invite_client(client).map(|c| c.state()),
        Some(InviteClientState::Accepted)
    );

    // The UAS core retransmits its 2xx (§13.3.1.4); the Accepted client passes it up again.
    sim.advance_to(ms(500));
    sim.uas.send_response(sim.now, server, ok).unwrap();
    sim.pump();
    assert_eq!(sim.uac_statuses(client), [100, 200, 200]);

    // The UAC core sends the 2xx ACK itself, with a new branch: no transaction matches it,
    // so the UAS TU gets it.
    sim.uac
        .send_stateless(Side::Uas, request("ACK", "z9hG4bKack2xx"));
    sim.pump();
    assert!(sim
        .uas_events
        .iter()
        .any(|e| matches!(e, Event::Ack { id: None, .. })));

    // Timers L and M (64*T1) end both transactions.
    sim.advance_to(Duration::from_secs(33));
    assert!(sim.uac.is_empty() && sim.uas.is_empty());
}

#[test]
fn cancel_reaches_the_invite_it_cancels() {
    let mut sim = Sim::new(false, Box::new(|_, _| false));
    let invite = request("INVITE", "z9hG4bKcxl");
    let client = sim
        .uac
        .send_request(sim.now, invite.clone(), Side::Uas, false)
        .unwrap();
    sim.pump();
    let (server, received_invite, _) = sim.take_server_request();
    sim.uas
        .send_response(sim.now, server, answer(&received_invite, 180))
        .unwrap();
    sim.pump();

    let cancel = build_cancel(&invite).unwrap();
    assert_eq!(cancel.method(), Some(&Method::CANCEL));
    let cancel_client = sim
        .uac
        .send_request(sim.now, cancel, Side::Uas, false)
        .unwrap();
    sim.pump();
    let (cancel_server, cancel_request, cancels) = sim.take_server_request();
    assert_eq!(cancels, Some(server));

    // The UAS answers the CANCEL with 200 and the INVITE with 487 (§9.2).
    sim.uas
        .send_response(sim.now, cancel_server, answer(&cancel_request, 200))
        .unwrap();
    sim.uas
        .send_response(sim.now, server, answer(&received_invite, 487))
        .unwrap();
    sim.pump();
    assert_eq!(sim.uac_statuses(cancel_client), [200]);
    assert_eq!(sim.uac_statuses(client), [100, 180, 487]);
    // The INVITE client ACKed the 487 itself and the server is Confirmed.
    assert_eq!(sim.sent(Side::Uas, "ACK").len(), 1);
    assert_eq!(
        sim.uas.invite_server(server).map(|s| s.state()),
        Some(InviteServerState::Confirmed)
    );
    sim.advance_to(Duration::from_secs(40));
    assert!(sim.uac.is_empty() && sim.uas.is_empty());
}
