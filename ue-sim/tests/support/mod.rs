//! Fake peers for the UE tests: a registrar that challenges with real MILENAGE vectors (or
//! MD5) and checks the answers, a stateless relay standing in for the core, and an in-memory
//! network with virtual time.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ims_aka::{
    AkaChallenge, Amf, AuthVector, DigestAlgorithm, DigestParams, Milenage, Qop, QopParams,
    ResynchronisationInfo, Sqn, SqnGenerator, SqnScheme,
};
use ims_sip::header::{Contact, Credentials, NameAddr};
use ims_sip::{Message, Method, StatusCode, Uri};
use ue_sim::{Credentials as UeCredentials, OperatorKey, Ue, UeConfig, UeEvent};

// ----- MILENAGE test data (TS 35.208 §4.3 via /work/shared/vectors) -----------------------

/// K, OP, OPc of a TS 35.208 test set.
pub struct TestSet {
    pub k: [u8; 16],
    pub op: [u8; 16],
    pub opc: [u8; 16],
}

fn hex16(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

pub fn test_set(n: u64) -> TestSet {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/milenage_ts35208.json"
    );
    let text = std::fs::read_to_string(path).expect("milenage vectors");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let set = json["test_sets"]
        .as_array()
        .expect("test_sets")
        .iter()
        .find(|s| s["set"].as_u64() == Some(n))
        .expect("set");
    TestSet {
        k: hex16(set["K"].as_str().expect("K")),
        op: hex16(set["OP"].as_str().expect("OP")),
        opc: hex16(set["OPc"].as_str().expect("OPc")),
    }
}

pub fn aka_credentials(set: &TestSet, use_op: bool) -> UeCredentials {
    UeCredentials::Aka {
        k: set.k,
        operator_key: if use_op {
            OperatorKey::Op(set.op)
        } else {
            OperatorKey::Opc(set.opc)
        },
        amf: Amf::SEPARATION_BIT,
        sqn_scheme: SqnScheme::default(),
    }
}

pub const DOMAIN: &str = "ims.example";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// A UE config for user `user` at `local`, with its P-CSCF at `pcscf`.
pub fn ue_config(
    user: &str,
    credentials: UeCredentials,
    local: SocketAddr,
    pcscf: SocketAddr,
) -> UeConfig {
    let impu = Uri::parse(&format!("sip:{user}@{DOMAIN}")).expect("impu");
    let mut c = UeConfig::new(
        &format!("{user}@{DOMAIN}"),
        impu,
        DOMAIN,
        credentials,
        pcscf,
        local,
    );
    c.instance_id = Some(format!(
        "urn:uuid:00000000-0000-4000-8000-{:012}",
        local.port()
    ));
    // Reproducible, and distinct per UE even when many share one address (one runner).
    let user_hash = user.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    c.rng_seed = Some(user_hash ^ u64::from(local.port()));
    c
}

// ----- fake registrar -------------------------------------------------------------------

/// How the registrar authenticates.
#[allow(clippy::large_enum_variant)] // one per test, never moved around
pub enum RegistrarAuth {
    Aka {
        milenage: Milenage,
        algorithm: DigestAlgorithm,
        sqn: SqnGenerator,
    },
    Md5 {
        password: String,
    },
}

/// What the registrar did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarLog {
    Challenged,
    Resynchronised,
    NetworkAuthFailureReported,
    Rejected(u16),
    Registered(u32),
    Deregistered,
}

enum Pending {
    Aka(AkaChallenge),
    Md5,
}

/// A registrar (S-CSCF stand-in) answering REGISTER per TS 24.229 §5.4.1.
pub struct FakeRegistrar {
    pub realm: String,
    auth: RegistrarAuth,
    pending: HashMap<String, Pending>,
    pub expires: u32,
    pub service_route: Option<String>,
    pub associated_uris: Vec<String>,
    pub path: Option<String>,
    pub log: Vec<RegistrarLog>,
    pub requests: Vec<Message>,
    pub bindings: HashMap<String, String>,
    counter: u8,
}

impl FakeRegistrar {
    pub fn new(auth: RegistrarAuth) -> FakeRegistrar {
        FakeRegistrar {
            realm: DOMAIN.to_owned(),
            auth,
            pending: HashMap::new(),
            expires: 3600,
            service_route: None,
            associated_uris: Vec::new(),
            path: None,
            log: Vec::new(),
            requests: Vec::new(),
            bindings: HashMap::new(),
            counter: 0,
        }
    }

    pub fn aka(set: &TestSet, algorithm: DigestAlgorithm) -> FakeRegistrar {
        FakeRegistrar::new(RegistrarAuth::Aka {
            milenage: Milenage::with_op(&set.k, &set.op),
            algorithm,
            sqn: SqnGenerator::new(SqnScheme::default(), Sqn::default()).expect("scheme"),
        })
    }

    fn challenge(&mut self, request: &Message) -> Message {
        self.counter = self.counter.wrapping_add(1);
        let (nonce, algorithm, pending) = match &mut self.auth {
            RegistrarAuth::Aka {
                milenage,
                algorithm,
                sqn,
            } => {
                let rand = [self.counter; 16];
                let av = AuthVector::generate(
                    milenage,
                    rand,
                    sqn.next_sqn().expect("sqn"),
                    Amf::SEPARATION_BIT,
                );
                let ch = AkaChallenge::from_auth_vector(*algorithm, &av).expect("challenge");
                (ch.nonce().to_owned(), algorithm.as_str(), Pending::Aka(ch))
            }
            RegistrarAuth::Md5 { .. } => {
                (format!("md5nonce{:04}", self.counter), "MD5", Pending::Md5)
            }
        };
        self.pending.insert(nonce.clone(), pending);
        self.log.push(RegistrarLog::Challenged);
        let mut resp = Message::response_to(request, StatusCode::UNAUTHORIZED);
        resp.headers_mut().push(
            "WWW-Authenticate",
            &format!(
                "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={algorithm}, qop=\"auth,auth-int\"",
                self.realm
            ),
        );
        with_to_tag(resp)
    }

    fn reject(&mut self, request: &Message, status: StatusCode) -> Message {
        self.log.push(RegistrarLog::Rejected(status.0));
        with_to_tag(Message::response_to(request, status))
    }

    /// Answers one REGISTER.
    pub fn handle(&mut self, request: &Message) -> Message {
        self.requests.push(request.clone());
        let Some(creds) = request
            .headers()
            .get("Authorization")
            .and_then(|a| Credentials::parse(a).ok())
        else {
            return self.challenge(request);
        };
        let nonce = creds.nonce().unwrap_or("").to_owned();
        let Some(pending) = self.pending.remove(&nonce) else {
            return self.challenge(request);
        };
        let nc = creds.nc().unwrap_or("").to_owned();
        let cnonce = creds.cnonce().unwrap_or("").to_owned();
        let qop = creds.qop().and_then(|q| Qop::parse(q).ok());
        let algorithm = DigestAlgorithm::parse(creds.algorithm().unwrap_or("MD5")).expect("alg");
        let uri = creds.uri().unwrap_or("").to_owned();
        let params = DigestParams {
            username: creds.username().unwrap_or(""),
            realm: creds.realm().unwrap_or(""),
            nonce: &nonce,
            uri: &uri,
            method: "REGISTER",
            algorithm,
            qop: qop.map(|qop| QopParams {
                qop,
                nc: &nc,
                cnonce: &cnonce,
            }),
            body: b"",
        };
        let response = creds.response().unwrap_or("").to_owned();
        let verified = match (&pending, &mut self.auth) {
            (Pending::Aka(ch), RegistrarAuth::Aka { milenage, sqn, .. }) => {
                if let Some(auts) = creds.auts() {
                    // TS 33.102 §6.3.5: recover SQN_MS from AUTS, resynchronise, re-challenge.
                    let info: ResynchronisationInfo = ch
                        .verify_resynchronisation(&params, &response, auts)
                        .expect("auts answer");
                    let sqn_ms = info.verify(milenage).expect("MAC-S");
                    sqn.resynchronise(sqn_ms);
                    self.log.push(RegistrarLog::Resynchronised);
                    return self.challenge(request);
                }
                if response.is_empty() {
                    // TS 24.229 §5.4.1.2.3: the UE deemed the network not authentic.
                    self.log.push(RegistrarLog::NetworkAuthFailureReported);
                    return self.reject(request, StatusCode::FORBIDDEN);
                }
                ch.verify(&params, &response).is_ok()
            }
            (Pending::Md5, RegistrarAuth::Md5 { password }) => params
                .response(password.as_bytes())
                .is_ok_and(|r| r.matches(&response)),
            _ => false,
        };
        if !verified {
            return self.reject(request, StatusCode::FORBIDDEN);
        }
        self.accept(request)
    }

    fn accept(&mut self, request: &Message) -> Message {
        let impu = request
            .to()
            .map(|t| t.0.uri.to_string())
            .unwrap_or_default();
        let requested: u32 = request
            .headers()
            .get("Expires")
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or(3600);
        let mut resp = Message::response_to(request, StatusCode::OK);
        if requested == 0 {
            self.bindings.remove(&impu);
            self.log.push(RegistrarLog::Deregistered);
            return with_to_tag(resp);
        }
        let granted = requested.min(self.expires);
        let contact = request.headers().get("Contact").unwrap_or("").to_owned();
        let mut c = match Contact::parse(&contact) {
            Ok(Contact::Address(a)) => a,
            _ => NameAddr::new(Uri::parse("sip:invalid").expect("uri")),
        };
        c.params.set("expires", Some(&granted.to_string()));
        resp.headers_mut().push("Contact", &c.to_string());
        if let Some(p) = &self.path {
            resp.headers_mut().push("Path", p);
        }
        if let Some(sr) = &self.service_route {
            resp.headers_mut().push("Service-Route", sr);
        }
        for a in &self.associated_uris {
            resp.headers_mut().push("P-Associated-URI", a);
        }
        self.bindings.insert(impu, contact);
        self.log.push(RegistrarLog::Registered(granted));
        with_to_tag(resp)
    }
}

fn with_to_tag(mut resp: Message) -> Message {
    if let Some(to) = resp.headers().get("To").map(str::to_owned) {
        if !to.contains(";tag=") {
            resp.headers_mut().set("To", &format!("{to};tag=reg1"));
        }
    }
    resp
}

// ----- stateless relay (the core stand-in for calls) -------------------------------------

/// A stateless proxy (RFC 3261 §16.11): strips its own Route, Record-Routes INVITEs,
/// routes requests by Request-URI user, responses by the next Via.
pub struct Relay {
    pub addr: SocketAddr,
    pub registrar: Option<SocketAddr>,
    pub locations: HashMap<String, SocketAddr>,
    pub record_route: bool,
    pub seen: Vec<Message>,
}

impl Relay {
    pub fn new(addr: SocketAddr) -> Relay {
        Relay {
            addr,
            registrar: None,
            locations: HashMap::new(),
            record_route: true,
            seen: Vec::new(),
        }
    }

    fn is_me(&self, uri: &Uri) -> bool {
        uri.host().map(|h| h.to_string()) == Some(self.addr.ip().to_string())
            && uri.port() == Some(self.addr.port())
    }

    pub fn forward(&mut self, mut m: Message) -> Option<(SocketAddr, Message)> {
        self.seen.push(m.clone());
        if m.is_request() {
            let top = m.headers().values("Route").next().map(str::to_owned);
            if top.is_some_and(|t| NameAddr::parse(&t).is_ok_and(|r| self.is_me(&r.uri))) {
                m.headers_mut().remove_first_value("Route");
            }
            let dst = if m.method() == Some(&Method::REGISTER) {
                self.registrar?
            } else {
                let user = m.request_uri()?.user()?.to_owned();
                *self.locations.get(&user)?
            };
            let branch = m.top_via().ok()?.branch()?.to_owned();
            let h = m.headers_mut();
            h.push_front(
                "Via",
                &format!("SIP/2.0/UDP {};branch=z9hG4bKrelay{branch}", self.addr),
            );
            if self.record_route && m.method() == Some(&Method::INVITE) {
                let rr = format!("<sip:{};lr>", self.addr);
                m.headers_mut().push_front("Record-Route", &rr);
            }
            Some((dst, m))
        } else {
            m.headers_mut().remove_first_value("Via");
            let next = m.top_via().ok()?;
            let host = next.host.to_string();
            let port = next.port.unwrap_or(5060);
            Some((format!("{host}:{port}").parse().ok()?, m))
        }
    }
}

// ----- in-memory network with virtual time -----------------------------------------------

/// A datagram in flight.
#[derive(Debug, Clone)]
pub struct Packet {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub message: Message,
    pub dropped: bool,
}

/// Decides whether to drop a packet (lossy UDP).
pub type DropRule = Box<dyn FnMut(&Packet) -> bool>;

pub struct Net {
    pub now: Instant,
    pub ues: Vec<Ue>,
    pub events: Vec<Vec<UeEvent>>,
    pub registrar: Option<(SocketAddr, FakeRegistrar)>,
    pub relay: Option<Relay>,
    pub log: Vec<Packet>,
    pub drop: DropRule,
    queue: VecDeque<Packet>,
}

impl Net {
    pub fn new() -> Net {
        Net {
            now: Instant::now(),
            ues: Vec::new(),
            events: Vec::new(),
            registrar: None,
            relay: None,
            log: Vec::new(),
            drop: Box::new(|_| false),
            queue: VecDeque::new(),
        }
    }

    pub fn add_ue(&mut self, config: UeConfig) -> usize {
        self.ues.push(Ue::new(config).expect("ue"));
        self.events.push(Vec::new());
        self.ues.len() - 1
    }

    pub fn registrar(&mut self) -> &mut FakeRegistrar {
        &mut self.registrar.as_mut().expect("registrar").1
    }

    pub fn relay(&mut self) -> &mut Relay {
        self.relay.as_mut().expect("relay")
    }

    /// Delivers everything in flight, over the wire form, until nothing moves.
    pub fn pump(&mut self) {
        loop {
            for ue in &mut self.ues {
                let src = ue.config().local_addr;
                while let Some(t) = ue.poll_transmit() {
                    // Through bytes, as a real transport would.
                    let message = Message::parse(&t.message.to_bytes()).expect("UE output parses");
                    self.queue.push_back(Packet {
                        src,
                        dst: t.destination,
                        message,
                        dropped: false,
                    });
                }
            }
            for (i, ue) in self.ues.iter_mut().enumerate() {
                while let Some(e) = ue.poll_event() {
                    self.events[i].push(e);
                }
            }
            let Some(mut packet) = self.queue.pop_front() else {
                break;
            };
            packet.dropped = (self.drop)(&packet);
            self.log.push(packet.clone());
            if packet.dropped {
                continue;
            }
            let now = self.now;
            if let Some(ue) = self
                .ues
                .iter_mut()
                .find(|u| u.config().local_addr == packet.dst)
            {
                let bytes = packet.message.to_bytes();
                let _ = ue.handle_bytes(now, packet.src, &bytes);
                continue;
            }
            if let Some((raddr, reg)) = self.registrar.as_mut() {
                if *raddr == packet.dst && packet.message.is_request() {
                    let resp = reg.handle(&packet.message);
                    // Responses go where the top Via says (the relay or the UE).
                    let via = resp.top_via().expect("via");
                    let dst = addr(&format!("{}:{}", via.host, via.port.unwrap_or(5060)));
                    self.queue.push_back(Packet {
                        src: *raddr,
                        dst,
                        message: resp,
                        dropped: false,
                    });
                    continue;
                }
            }
            if let Some(relay) = self.relay.as_mut() {
                if relay.addr == packet.dst {
                    if let Some((dst, m)) = relay.forward(packet.message) {
                        self.queue.push_back(Packet {
                            src: relay.addr,
                            dst,
                            message: m,
                            dropped: false,
                        });
                    }
                }
            }
        }
    }

    /// Runs the network for `d` of virtual time, firing timers as they fall due.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next = self.ues.iter().filter_map(Ue::poll_timeout).min();
            match next {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    for ue in &mut self.ues {
                        if ue.poll_timeout().is_some_and(|t| t <= now) {
                            ue.handle_timeout(now);
                        }
                    }
                }
                _ => {
                    self.now = end;
                    self.pump();
                    return;
                }
            }
        }
    }

    /// Packets (delivered or not) that are requests with `method` sent by `src`.
    pub fn requests_from(&self, src: SocketAddr, method: &Method) -> Vec<&Packet> {
        self.log
            .iter()
            .filter(|p| p.src == src && p.message.method() == Some(method))
            .collect()
    }

    /// Packets that are responses with `status` to a request with method `method`.
    pub fn responses(&self, status: u16, method: &Method) -> Vec<&Packet> {
        self.log
            .iter()
            .filter(|p| {
                p.message.status().map(|s| s.0) == Some(status)
                    && p.message.cseq().is_ok_and(|c| &c.method == method)
            })
            .collect()
    }
}
