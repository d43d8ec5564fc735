//! A small local harness: a real `Proxy<Target>` driven by the `Pcscf` on virtual time, with
//! the UE and the core network played by the tests, message by message. Every message crosses
//! the "wire" as bytes (`to_bytes` then `Message::parse`), so what the P-CSCF sends is also
//! checked to be valid SIP.
//!
//! (A shared in-memory network is being written in `ims-node`; this one stays local to the
//! P-CSCF's tests.)

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ims_node::function::{Effects, Function};
use ims_sip::proxy::{CounterTokens, Proxy};
use ims_sip::{Message, StatusCode};
use ims_transport::{ConnectionId, ConnectionInfo, Direction, Event, Target, Transport};
use pcscf::outbound::FlowTokenKey;
use pcscf::{Pcscf, PcscfConfig};

pub const CONFIG: &str = r#"
host = "pcscf.visited.net"
port = 5060
visited_network_id = "visited.net"
icscf = "sip:icscf.home.net"
[hosts]
"icscf.home.net" = "10.0.0.3:5060"
"scscf.home.net" = "10.0.0.4"
"#;

/// Our UDP socket.
pub const UDP_SOCKET: ConnectionId = ConnectionId(1);
pub const LOCAL: &str = "198.51.100.1:5060";
pub const UE_ADDR: &str = "192.0.2.10:5060";
pub const ICSCF_ADDR: &str = "10.0.0.3:5060";
pub const SCSCF_ADDR: &str = "10.0.0.4:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The UE over UDP.
pub fn ue_udp() -> Target {
    Target::Datagram {
        socket: UDP_SOCKET,
        remote: addr(UE_ADDR),
    }
}

/// A core node sending over UDP.
pub fn core(address: &str) -> Target {
    Target::Remote {
        transport: Transport::Udp,
        remote: addr(address),
        server_name: None,
    }
}

pub struct Net {
    pub now: Instant,
    pub proxy: Proxy<Target>,
    pub pcscf: Pcscf,
    /// Everything the proxy sent, in order, not yet taken by the test.
    pub sent: Vec<(Target, Message)>,
}

impl Net {
    pub fn new() -> Net {
        Net::with_config(CONFIG)
    }

    pub fn with_config(config: &str) -> Net {
        let settings = PcscfConfig::from_toml_str("test.toml", config).unwrap();
        let proxy = Proxy::new(settings.proxy_config(), CounterTokens::new(7));
        let pcscf = Pcscf::with_seed(settings, FlowTokenKey::from_bytes([9; 20]), 42);
        let mut net = Net {
            now: Instant::now(),
            proxy,
            pcscf,
            sent: Vec::new(),
        };
        net.transport_event(Event::Opened(ConnectionInfo {
            conn: UDP_SOCKET,
            transport: Transport::Udp,
            direction: Direction::Inbound,
            local: addr(LOCAL),
            remote: addr("0.0.0.0:0"),
        }));
        net
    }

    pub fn transport_event(&mut self, event: Event) {
        let mut effects = Effects::default();
        self.pcscf
            .handle_transport_event(self.now, &mut self.proxy, &event, &mut effects);
        assert!(effects.cx_requests.is_empty(), "the P-CSCF has no Cx");
        self.pump();
    }

    /// A TCP connection the UE opened.
    pub fn open_tcp(&mut self, conn: u64, remote: &str) -> Target {
        self.transport_event(Event::Opened(ConnectionInfo {
            conn: ConnectionId(conn),
            transport: Transport::Tcp,
            direction: Direction::Inbound,
            local: addr(LOCAL),
            remote: addr(remote),
        }));
        Target::Connection(ConnectionId(conn))
    }

    pub fn close_tcp(&mut self, conn: u64, remote: &str) {
        self.transport_event(Event::Closed {
            conn: ConnectionId(conn),
            transport: Transport::Tcp,
            remote: addr(remote),
            reason: ims_transport::CloseReason::PeerClosed,
        });
    }

    /// Delivers a message written with `\n` line ends.
    pub fn deliver(&mut self, text: &str, source: Target) {
        let reliable = matches!(source, Target::Connection(_));
        let message = Message::parse(text.replace('\n', "\r\n").as_bytes()).unwrap();
        self.deliver_message(message, source, reliable);
    }

    pub fn deliver_message(&mut self, message: Message, source: Target, reliable: bool) {
        let message = wire(&message);
        let _ = self
            .proxy
            .handle_message(self.now, message, source, reliable);
        self.pump();
    }

    /// Hands every proxy event to the P-CSCF and collects what the proxy sends.
    pub fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.proxy.poll_event() {
                progressed = true;
                let mut effects = Effects::default();
                self.pcscf
                    .handle_event(self.now, &mut self.proxy, event, &mut effects);
                assert!(effects.cx_requests.is_empty(), "the P-CSCF has no Cx");
            }
            while let Some(t) = self.proxy.poll_transmit() {
                progressed = true;
                self.sent.push((t.destination, wire(&t.message)));
            }
            if !progressed {
                break;
            }
        }
    }

    /// Advances virtual time, running the P-CSCF's and the proxy's timers.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = [self.proxy.poll_timeout(), self.pcscf.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            self.proxy.handle_timeout(self.now);
            let mut effects = Effects::default();
            self.pcscf
                .handle_timeout(self.now, &mut self.proxy, &mut effects);
            self.pump();
        }
        self.now = end;
    }

    /// Takes the one message sent to `destination`, 100 (Trying) aside (those are dropped);
    /// fails if there is not exactly one.
    pub fn take_to(&mut self, destination: &Target) -> Message {
        self.sent
            .retain(|(d, m)| d != destination || m.status() != Some(StatusCode::TRYING));
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|(d, _)| d == destination);
        self.sent = rest;
        assert_eq!(
            mine.len(),
            1,
            "expected one message to {destination:?}, got {:#?}\n(others: {:#?})",
            mine.iter()
                .map(|(_, m)| String::from_utf8_lossy(&m.to_bytes()).into_owned())
                .collect::<Vec<_>>(),
            self.sent.iter().map(|(d, _)| d).collect::<Vec<_>>()
        );
        mine.into_iter().next().map(|(_, m)| m).unwrap()
    }

    /// Answers `request` (as received by a core node or a UE) from `from`.
    pub fn reply(&mut self, request: &Message, status: u16, extra: &[(&str, &str)], from: Target) {
        let mut response = Message::response_to(request, StatusCode(status));
        let to = response.headers().get("To").unwrap().to_owned();
        if !to.contains("tag=") {
            response.headers_mut().set("To", &format!("{to};tag=uas1"));
        }
        for (name, value) in extra {
            response.headers_mut().push(name, value);
        }
        let reliable = matches!(from, Target::Connection(_));
        self.deliver_message(response, from, reliable);
    }
}

/// Through the wire format and back.
pub fn wire(message: &Message) -> Message {
    let bytes = message.to_bytes();
    Message::parse(&bytes)
        .unwrap_or_else(|e| panic!("invalid SIP sent: {e}\n{}", String::from_utf8_lossy(&bytes)))
}

pub const IMPI: &str = "alice@home.net";
pub const CALL_ID: &str = "reg-call-1";
pub const CONTACT: &str = "sip:alice@192.0.2.10:5060";

/// A REGISTER from the UE (CSeq `cseq`), with `extra` header lines (each ending in `\n`).
pub fn register(cseq: u32, expires: u32, extra: &str) -> String {
    format!(
        "REGISTER sip:home.net SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg{cseq};rport\n\
         Max-Forwards: 70\n\
         From: <sip:alice@home.net>;tag=ue1\n\
         To: <sip:alice@home.net>\n\
         Call-ID: {CALL_ID}\n\
         CSeq: {cseq} REGISTER\n\
         Contact: <{CONTACT}>\n\
         Expires: {expires}\n\
         Authorization: Digest username=\"{IMPI}\", realm=\"home.net\", nonce=\"\", uri=\"sip:home.net\", response=\"\"\n\
         {extra}Content-Length: 0\n\n"
    )
}

/// The I-CSCF (standing in for the whole home network) as seen from the P-CSCF.
pub fn icscf() -> Target {
    core(ICSCF_ADDR)
}

/// Registers the UE over UDP: REGISTER, 401 with keys, REGISTER, 200. Returns the 200 the UE
/// received.
pub fn register_ue(net: &mut Net) -> Message {
    net.deliver(&register(1, 600, ""), ue_udp());
    let forwarded = net.take_to(&icscf());
    net.reply(
        &forwarded,
        401,
        &[(
            "WWW-Authenticate",
            "Digest realm=\"home.net\", nonce=\"bm9uY2U=\", algorithm=AKAv1-MD5, \
             ck=\"0123456789abcdef0123456789abcdef\", ik=\"fedcba9876543210fedcba9876543210\"",
        )],
        icscf(),
    );
    let challenge = net.take_to(&ue_udp());
    assert_eq!(challenge.status(), Some(StatusCode(401)));
    net.deliver(&register(2, 600, ""), ue_udp());
    let forwarded = net.take_to(&icscf());
    let contact = format!("<{CONTACT}>;expires=600");
    net.reply(
        &forwarded,
        200,
        &[
            (
                "P-Associated-URI",
                "<sip:alice@home.net>, <sip:alice.work@home.net>, <tel:+15551230001>",
            ),
            ("Service-Route", "<sip:orig@scscf.home.net;lr>"),
            ("Contact", &contact),
        ],
        icscf(),
    );
    net.take_to(&ue_udp())
}
