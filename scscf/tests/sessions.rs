//! S-CSCF flows on the in-memory network of `ims_node::testing` (virtual time): IMS-AKA
//! registration through the `Scscf` function with a fake HSS built from real MILENAGE vectors,
//! then terminating requests through the stored Path (the P-CSCF is a responder), originating
//! requests towards the I-CSCF (a responder too), in-dialog routing, forking and RFC 5626 flow
//! fail-over.

mod support;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use ims_diameter::cx::{
    AnswerCommon, LocationInfoAnswer, LocationInfoRequest, ServerAssignmentType,
};
use ims_diameter::{Command, CommandCode, ResultCode};
use ims_node::function::CxOutcome;
use ims_node::testing::{Network, NodeId};
use ims_sip::{Message, Method, StatusCode, Uri};
use ims_transport::Transport;
use rand::rngs::StdRng;
use rand::SeedableRng;
use scscf::routing::RoutingConfig;
use scscf::store::{MemoryStore, RegistrationStore, StoreOp};
use scscf::{Registrar, RegistrarConfig, Scscf};
use support::{FakeHss, Ue};

const PCSCF: &str = "10.0.0.1:5060";
const ICSCF: &str = "10.0.0.2:5060";
const SCSCF: &str = "10.0.0.3:5060";
const PATH: &str = "<sip:term@10.0.0.1:5060;lr>";
const TO_SCSCF: &str = "<sip:10.0.0.3:5060;lr>";
const SERVICE_ROUTE: &str = "<sip:orig@10.0.0.3:5060;lr>";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The network under test and what the test looks at.
struct Harness {
    net: Network,
    scscf: NodeId,
    hss: Rc<RefCell<FakeHss>>,
    stored: Arc<Mutex<Vec<StoreOp>>>,
    /// The P-CSCF's final answer to an INVITE, by Request-URI (contact); default 200. `None`
    /// answers 180 only.
    pcscf_answers: Rc<RefCell<HashMap<String, Option<StatusCode>>>>,
}

/// Who plays the I-CSCF.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IcscfRole {
    /// None configured: the S-CSCF terminates home calls itself.
    Absent,
    /// A user agent answering 200 to everything.
    Responder,
    /// The real `icscf::Icscf` function; the fake HSS answers its LIRs with our Server-Name.
    Real,
}

impl Harness {
    /// Users known to the HSS: bob (with tel:+15550001) and carol.
    fn new(icscf: bool) -> Harness {
        Self::build(if icscf {
            IcscfRole::Responder
        } else {
            IcscfRole::Absent
        })
    }

    fn build(role: IcscfRole) -> Harness {
        let mut net = Network::new();
        let hss = Rc::new(RefCell::new(FakeHss::new(
            &["sip:bob@ims.test", "sip:carol@ims.test"],
            Some("tel:+15550001"),
        )));
        let peer = hss.clone();
        net.set_cx_peer(move |request| {
            if request.header.command_code == CommandCode::LOCATION_INFO {
                return CxOutcome::Answer(lia_naming_us(request));
            }
            CxOutcome::Answer(peer.borrow_mut().answer(request))
        });
        let config = RegistrarConfig::new("sip:10.0.0.3:5060", "ims.test");
        let registrar = Registrar::with_rng(config, StdRng::seed_from_u64(1)).unwrap();
        let routing = RoutingConfig {
            home_domains: vec!["ims.test".into()],
            icscf: (role != IcscfRole::Absent).then(|| Uri::parse("sip:10.0.0.2:5060").unwrap()),
            ..RoutingConfig::default()
        };
        let stored = Arc::new(Mutex::new(Vec::new()));
        let sink = stored.clone();
        let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let function = Scscf::new(routing, registrar, net.now(), wall)
            .with_store_sink(move |op| sink.lock().unwrap().push(op));
        let scscf = net.add_function("scscf", addr(SCSCF), function);

        let pcscf_answers: Rc<RefCell<HashMap<String, Option<StatusCode>>>> = Rc::default();
        let answers = pcscf_answers.clone();
        net.add_responder(addr(PCSCF), move |request| {
            let ringing = uas_response(request, StatusCode::RINGING);
            match request.method() {
                Some(m) if *m == Method::INVITE => {
                    let uri = request.request_uri().map(ToString::to_string);
                    let status = uri
                        .and_then(|u| answers.borrow().get(&u).copied())
                        .unwrap_or(Some(StatusCode::OK));
                    match status {
                        Some(status) => vec![ringing, uas_response(request, status)],
                        None => vec![ringing],
                    }
                }
                Some(m) if *m == Method::ACK => Vec::new(),
                _ => vec![Network::response(request, StatusCode::OK)],
            }
        });
        match role {
            IcscfRole::Real => {
                net.add_function("icscf", addr(ICSCF), icscf::Icscf::new(icscf_settings(), 1));
            }
            _ => net.add_responder(addr(ICSCF), |request| match request.method() {
                Some(m) if *m == Method::ACK => Vec::new(),
                _ => vec![Network::response(request, StatusCode::OK)],
            }),
        }
        Harness {
            net,
            scscf,
            hss,
            stored,
            pcscf_answers,
        }
    }

    fn function(&self) -> &Scscf {
        self.net.function::<Scscf>(self.scscf).unwrap()
    }

    /// A REGISTER as the P-CSCF forwards it (Path with its `term` URI).
    fn register_request(&mut self, ue: &Ue, contact: &str, expires: u32, auth: &str) -> Message {
        let to = format!("<{}>", ue.impu);
        let from = format!("<{}>;tag=reg", ue.impu);
        let expires = expires.to_string();
        self.net.request(
            addr(PCSCF),
            "REGISTER",
            "sip:ims.test",
            &[
                ("To", &to),
                ("From", &from),
                ("Contact", contact),
                ("Path", PATH),
                ("Expires", &expires),
                ("Authorization", auth),
            ],
        )
    }

    /// The IMS-AKA registration (401, then 200); returns the 200.
    fn register(&mut self, ue: &mut Ue, contact: &str, expires: u32) -> Message {
        let first = self.register_request(ue, contact, expires, &ue.initial_authorization());
        self.net.send(addr(PCSCF), addr(SCSCF), first);
        self.net.run();
        let challenge = self.net.final_response(addr(PCSCF)).expect("a 401");
        assert_eq!(challenge.status(), Some(StatusCode::UNAUTHORIZED));
        let auth = ue.answer(&challenge);
        let second = self.register_request(ue, contact, expires, &auth);
        self.net.send(addr(PCSCF), addr(SCSCF), second);
        self.net.run();
        self.net
            .final_response(addr(PCSCF))
            .expect("a final response")
    }

    /// A terminating INVITE as the I-CSCF forwards it after LIR.
    fn terminating_invite(&mut self, uri: &str) {
        let invite = self.net.request(
            addr(ICSCF),
            "INVITE",
            uri,
            &[
                ("Route", TO_SCSCF),
                ("From", "<sip:alice@ims.test>;tag=caller"),
            ],
        );
        self.net.send(addr(ICSCF), addr(SCSCF), invite);
        self.net.run();
    }

    /// Every request the user agent at `at` received since the last call.
    fn requests(&mut self, at: &str) -> Vec<Message> {
        self.net
            .take_requests(addr(at))
            .into_iter()
            .map(|r| r.message)
            .collect()
    }

    /// The requests of `method` the user agent at `at` received (the others are dropped).
    fn requests_at(&mut self, at: &str, method: &Method) -> Vec<Message> {
        of(method, self.requests(at))
    }
}

/// The I-CSCF knows one S-CSCF: ours.
fn icscf_settings() -> icscf::Settings {
    icscf::Settings {
        home_domains: vec!["ims.test".into()],
        origin_host: "icscf.ims.test".into(),
        origin_realm: "ims.test".into(),
        destination_realm: "ims.test".into(),
        scscfs: vec![icscf::config::Scscf {
            name: "scscf".into(),
            uri: Uri::parse("sip:10.0.0.3:5060").unwrap(),
            capabilities: Vec::new(),
            address: Some(addr(SCSCF)),
            transport: Transport::Udp,
        }],
        hosts: HashMap::new(),
    }
}

/// LIA: the user is served by our S-CSCF (TS 29.228 §6.1.4).
fn lia_naming_us(request: &ims_diameter::Message) -> ims_diameter::Message {
    let lir = LocationInfoRequest::from_message(request).expect("a valid LIR");
    LocationInfoAnswer {
        common: AnswerCommon::answering(
            &lir.common,
            ResultCode::SUCCESS,
            "hss.ims.test",
            "ims.test",
        ),
        server_name: Some("sip:10.0.0.3:5060".into()),
        server_capabilities: None,
        wildcarded_public_identity: None,
        lia_flags: None,
        extra: Vec::new(),
    }
    .to_answer_of(&request.header)
}

fn of(method: &Method, requests: Vec<Message>) -> Vec<Message> {
    requests
        .into_iter()
        .filter(|m| m.method() == Some(method))
        .collect()
}

fn values(message: &Message, name: &str) -> Vec<String> {
    message.headers().values(name).map(str::to_owned).collect()
}

fn bob_contact(port: u16) -> String {
    format!("<sip:bob@192.0.2.20:{port}>")
}

#[test]
fn registration_runs_ims_aka_through_the_function() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    let ok = h.register(&mut bob, &bob_contact(5070), 600_000);
    assert_eq!(ok.status(), Some(StatusCode::OK), "{}", h.net.trace_text());
    assert_eq!(values(&ok, "Service-Route"), [SERVICE_ROUTE]);
    assert_eq!(values(&ok, "Path"), [PATH]);
    assert_eq!(h.hss.borrow().mars, 1);
    assert_eq!(
        h.hss.borrow().sar_types,
        [ServerAssignmentType::REGISTRATION]
    );
    let bindings = h.function().registrar().lookup("sip:bob@ims.test");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].path, [PATH]);
    // The registration reached the store sink (what the binary writes to SQL).
    let stored = h.stored.lock().unwrap();
    assert!(stored
        .iter()
        .any(|op| matches!(op, StoreOp::SaveRegistration(r) if r.impu == "sip:bob@ims.test")));
}

#[test]
fn registration_expires_on_the_virtual_clock() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    let ok = h.register(&mut bob, &bob_contact(5070), 120);
    assert_eq!(ok.status(), Some(StatusCode::OK));
    h.net.advance(Duration::from_secs(100));
    assert_eq!(h.function().registrar().lookup("sip:bob@ims.test").len(), 1);
    h.net.advance(Duration::from_secs(30));
    assert!(h
        .function()
        .registrar()
        .lookup("sip:bob@ims.test")
        .is_empty());
    assert_eq!(
        h.hss.borrow().sar_types.last(),
        Some(&ServerAssignmentType::TIMEOUT_DEREGISTRATION)
    );
    // Known to the HSS, no longer registered: 480.
    h.terminating_invite("sip:bob@ims.test");
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::TEMPORARILY_UNAVAILABLE));
}

#[test]
fn terminating_invite_reaches_the_contact_through_the_path() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.terminating_invite("sip:bob@ims.test");

    let invites = h.requests_at(PCSCF, &Method::INVITE);
    assert_eq!(invites.len(), 1, "{}", h.net.trace_text());
    let invite = &invites[0];
    assert_eq!(
        invite.request_uri().map(ToString::to_string).as_deref(),
        Some("sip:bob@192.0.2.20:5070")
    );
    assert_eq!(values(invite, "Route"), [PATH]);
    assert_eq!(values(invite, "Record-Route"), [TO_SCSCF]);
    assert_eq!(values(invite, "P-Called-Party-ID"), ["<sip:bob@ims.test>"]);
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::OK));
    assert_eq!(values(&answer, "Record-Route"), [TO_SCSCF]);
}

#[test]
fn tel_uri_of_a_registered_user_terminates_here() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.terminating_invite("tel:+1-555-0001");
    assert_eq!(h.requests_at(PCSCF, &Method::INVITE).len(), 1);
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::OK));
}

#[test]
fn known_unregistered_user_gets_480_and_unknown_user_404() {
    let mut h = Harness::new(true);
    h.terminating_invite("sip:carol@ims.test");
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::TEMPORARILY_UNAVAILABLE));
    assert_eq!(
        h.hss.borrow().sar_types,
        [ServerAssignmentType::UNREGISTERED_USER]
    );

    h.terminating_invite("sip:nobody@ims.test");
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::NOT_FOUND));
    assert!(h.requests_at(PCSCF, &Method::INVITE).is_empty());
}

#[test]
fn originating_invite_is_record_routed_to_the_icscf() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    let invite = h.net.request(
        addr(PCSCF),
        "INVITE",
        "sip:carol@ims.test",
        &[
            ("Route", SERVICE_ROUTE),
            ("From", "<sip:bob@ims.test>;tag=b1"),
            ("P-Asserted-Identity", "<sip:bob@ims.test>"),
        ],
    );
    h.net.send(addr(PCSCF), addr(SCSCF), invite);
    h.net.run();
    let at_icscf = h.requests_at(ICSCF, &Method::INVITE);
    assert_eq!(at_icscf.len(), 1, "{}", h.net.trace_text());
    let forwarded = &at_icscf[0];
    assert_eq!(
        forwarded.request_uri().map(ToString::to_string).as_deref(),
        Some("sip:carol@ims.test")
    );
    assert_eq!(values(forwarded, "Route"), ["<sip:10.0.0.2:5060;lr>"]);
    assert_eq!(values(forwarded, "Record-Route"), [TO_SCSCF]);
    let answer = h.net.final_response(addr(PCSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::OK));
}

#[test]
fn originating_requests_need_a_registered_caller_and_a_reachable_domain() {
    let mut h = Harness::new(true);
    let send = |h: &mut Harness, uri: &str, from: &str| {
        let from = format!("<{from}>;tag=x");
        let invite = h.net.request(
            addr(PCSCF),
            "INVITE",
            uri,
            &[("Route", SERVICE_ROUTE), ("From", &from)],
        );
        h.net.send(addr(PCSCF), addr(SCSCF), invite);
        h.net.run();
        h.net.final_response(addr(PCSCF)).and_then(|r| r.status())
    };
    // Not registered: 403 (TS 24.229 §5.4.3.2).
    assert_eq!(
        send(&mut h, "sip:carol@ims.test", "sip:bob@ims.test"),
        Some(StatusCode::FORBIDDEN)
    );
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    // Another domain without breakout, and a tel URI that is nobody here: 404.
    assert_eq!(
        send(&mut h, "sip:dave@elsewhere.test", "sip:bob@ims.test"),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        send(&mut h, "tel:+15559999", "sip:bob@ims.test"),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(h.requests_at(ICSCF, &Method::INVITE).is_empty());
}

#[test]
fn without_an_icscf_the_scscf_terminates_home_calls_itself() {
    let mut h = Harness::new(false);
    let mut bob = Ue::new("bob");
    let mut carol = Ue::new("carol");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.register(&mut carol, "<sip:carol@192.0.2.30:5070>", 600_000);
    let invite = h.net.request(
        addr(PCSCF),
        "INVITE",
        "sip:carol@ims.test",
        &[
            ("Route", SERVICE_ROUTE),
            ("From", "<sip:bob@ims.test>;tag=b1"),
        ],
    );
    h.net.send(addr(PCSCF), addr(SCSCF), invite);
    h.net.run();
    let invites = h.requests_at(PCSCF, &Method::INVITE);
    // The P-CSCF sent one INVITE (to bob's S-CSCF) and received one (for carol's contact).
    assert_eq!(invites.len(), 1, "{}", h.net.trace_text());
    assert_eq!(
        invites[0].request_uri().map(ToString::to_string).as_deref(),
        Some("sip:carol@192.0.2.30:5070")
    );
    assert_eq!(values(&invites[0], "Record-Route"), [TO_SCSCF]);
}

#[test]
fn in_dialog_requests_and_ack_follow_the_route_set() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.terminating_invite("sip:bob@ims.test");
    let answer = h.net.final_response(addr(ICSCF)).expect("the 200");
    assert_eq!(answer.status(), Some(StatusCode::OK));
    h.requests_at(PCSCF, &Method::INVITE);

    // The caller's ACK and BYE: route set = our Record-Route, then the P-CSCF's.
    let route = format!("{TO_SCSCF}, {PATH}");
    let in_dialog = [
        ("Route", route.as_str()),
        ("From", "<sip:alice@ims.test>;tag=caller"),
        ("To", "<sip:bob@ims.test>;tag=uas"),
    ];
    let ack = h
        .net
        .request(addr(ICSCF), "ACK", "sip:bob@192.0.2.20:5070", &in_dialog);
    h.net.send(addr(ICSCF), addr(SCSCF), ack);
    let bye = h
        .net
        .request(addr(ICSCF), "BYE", "sip:bob@192.0.2.20:5070", &in_dialog);
    h.net.send(addr(ICSCF), addr(SCSCF), bye);
    h.net.run();
    let at_pcscf = h.requests(PCSCF);
    let acks = of(&Method::ACK, at_pcscf.clone());
    assert_eq!(acks.len(), 1, "{}", h.net.trace_text());
    assert_eq!(values(&acks[0], "Route"), [PATH]);
    let byes = of(&Method::BYE, at_pcscf);
    assert_eq!(byes.len(), 1);
    assert_eq!(values(&byes[0], "Route"), [PATH]);
    let answer = h.net.final_response(addr(ICSCF)).expect("the BYE's 200");
    assert_eq!(answer.status(), Some(StatusCode::OK));

    // The callee's BYE towards the caller's contact (no Route left after ours).
    let bye = h.net.request(
        addr(PCSCF),
        "BYE",
        "sip:alice@10.0.0.2:5060",
        &[
            ("Route", TO_SCSCF),
            ("From", "<sip:bob@ims.test>;tag=uas"),
            ("To", "<sip:alice@ims.test>;tag=caller"),
        ],
    );
    h.net.send(addr(PCSCF), addr(SCSCF), bye);
    h.net.run();
    assert_eq!(h.requests_at(ICSCF, &Method::BYE).len(), 1);
    let answer = h.net.final_response(addr(PCSCF)).expect("the BYE's 200");
    assert_eq!(answer.status(), Some(StatusCode::OK));
}

#[test]
fn forking_reaches_every_contact_and_cancels_the_rest() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    let ok = h.register(&mut bob, &bob_contact(5080), 600_000);
    assert_eq!(values(&ok, "Contact").len(), 2);
    assert_eq!(
        h.hss.borrow().sar_types,
        [
            ServerAssignmentType::REGISTRATION,
            ServerAssignmentType::RE_REGISTRATION
        ]
    );
    // The second contact only rings.
    h.pcscf_answers
        .borrow_mut()
        .insert("sip:bob@192.0.2.20:5080".into(), None);
    h.terminating_invite("sip:bob@ims.test");
    let at_pcscf = h.requests(PCSCF);
    let mut uris: Vec<String> = of(&Method::INVITE, at_pcscf.clone())
        .iter()
        .filter_map(|m| m.request_uri().map(ToString::to_string))
        .collect();
    uris.sort();
    assert_eq!(uris, ["sip:bob@192.0.2.20:5070", "sip:bob@192.0.2.20:5080"]);
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::OK));
    // §16.7 step 10: the ringing branch is cancelled once one answered.
    let cancels = of(&Method::CANCEL, at_pcscf);
    assert_eq!(cancels.len(), 1, "{}", h.net.trace_text());
    assert_eq!(
        cancels[0].request_uri().map(ToString::to_string).as_deref(),
        Some("sip:bob@192.0.2.20:5080")
    );
}

/// A UAS response that copies the Record-Route values (RFC 3261 §12.1.1).
fn uas_response(request: &Message, status: StatusCode) -> Message {
    let mut response = Network::response(request, status);
    for value in request.headers().get_all("Record-Route") {
        response.headers_mut().push("Record-Route", value);
    }
    response
}

/// Two flows (reg-id 1 and 2) of one UA instance (RFC 5626).
fn register_two_flows(h: &mut Harness) {
    let mut bob = Ue::new("bob");
    let instance = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000000001>\"";
    for (port, reg_id) in [(5071, 1), (5072, 2)] {
        let contact = format!("<sip:bob@192.0.2.20:{port};ob>;{instance};reg-id={reg_id}");
        let ok = h.register(&mut bob, &contact, 600_000);
        assert_eq!(ok.status(), Some(StatusCode::OK));
    }
    assert_eq!(h.function().registrar().lookup("sip:bob@ims.test").len(), 2);
}

#[test]
fn flow_failed_tries_the_next_flow_of_the_instance() {
    let mut h = Harness::new(true);
    register_two_flows(&mut h);
    h.pcscf_answers.borrow_mut().insert(
        "sip:bob@192.0.2.20:5071;ob".into(),
        Some(StatusCode::FLOW_FAILED),
    );
    h.terminating_invite("sip:bob@ims.test");
    let uris: Vec<String> = h
        .requests_at(PCSCF, &Method::INVITE)
        .iter()
        .filter_map(|m| m.request_uri().map(ToString::to_string))
        .collect();
    // One flow at a time: the first, then after its 430 the second.
    assert_eq!(
        uris,
        ["sip:bob@192.0.2.20:5071;ob", "sip:bob@192.0.2.20:5072;ob"],
        "{}",
        h.net.trace_text()
    );
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::OK));
}

#[test]
fn every_flow_failed_is_480_not_430() {
    let mut h = Harness::new(true);
    register_two_flows(&mut h);
    for port in [5071, 5072] {
        h.pcscf_answers.borrow_mut().insert(
            format!("sip:bob@192.0.2.20:{port};ob"),
            Some(StatusCode::FLOW_FAILED),
        );
    }
    h.terminating_invite("sip:bob@ims.test");
    assert_eq!(h.requests_at(PCSCF, &Method::INVITE).len(), 2);
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::TEMPORARILY_UNAVAILABLE));
    assert_eq!(
        h.function().forks_in_progress(),
        1,
        "until the context ends"
    );
    h.net.advance(Duration::from_secs(40));
    assert_eq!(h.function().forks_in_progress(), 0);
}

#[test]
fn wall_clock_mapping_is_fixed_at_construction() {
    // The registration's expiry is the harness's wall clock plus the granted interval.
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 3600);
    let bindings = h.function().registrar().lookup("sip:bob@ims.test");
    let expected = UNIX_EPOCH + Duration::from_secs(1_800_000_000 + 3600);
    assert_eq!(bindings[0].expires_at, expected);
}

#[test]
fn call_between_two_users_crosses_the_real_icscf_and_comes_back() {
    let mut h = Harness::build(IcscfRole::Real);
    let mut bob = Ue::new("bob");
    let mut carol = Ue::new("carol");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.register(&mut carol, "<sip:carol@192.0.2.30:5070>", 600_000);
    let invite = h.net.request(
        addr(PCSCF),
        "INVITE",
        "sip:carol@ims.test",
        &[
            ("Route", SERVICE_ROUTE),
            ("From", "<sip:bob@ims.test>;tag=b1"),
            ("P-Asserted-Identity", "<sip:bob@ims.test>"),
        ],
    );
    h.net.send(addr(PCSCF), addr(SCSCF), invite);
    h.net.run();
    // Originating pass, LIR at the I-CSCF, terminating pass: carol's contact via her Path.
    let invites = h.requests_at(PCSCF, &Method::INVITE);
    assert_eq!(invites.len(), 1, "{}", h.net.trace_text());
    assert_eq!(
        invites[0].request_uri().map(ToString::to_string).as_deref(),
        Some("sip:carol@192.0.2.30:5070")
    );
    // Both passes through the S-CSCF Record-Route; the I-CSCF does not.
    assert_eq!(values(&invites[0], "Record-Route"), [TO_SCSCF, TO_SCSCF]);
    assert_eq!(values(&invites[0], "Via").len(), 4);
    let answer = h.net.final_response(addr(PCSCF)).expect("a final response");
    assert_eq!(
        answer.status(),
        Some(StatusCode::OK),
        "{}",
        h.net.trace_text()
    );

    // Carol's BYE: her route set holds our Record-Route twice; both are consumed in one
    // pass and the BYE goes straight to bob's P-CSCF.
    let route = format!("{TO_SCSCF}, {TO_SCSCF}, {PATH}");
    let bye = h.net.request(
        addr(PCSCF),
        "BYE",
        "sip:bob@192.0.2.20:5070",
        &[
            ("Route", route.as_str()),
            ("From", "<sip:carol@ims.test>;tag=uas"),
            ("To", "<sip:bob@ims.test>;tag=b1"),
        ],
    );
    let sent_before = h.net.trace().len();
    h.net.send(addr(PCSCF), addr(SCSCF), bye);
    h.net.run();
    let hops: Vec<String> = h.net.trace()[sent_before..]
        .iter()
        .filter(|t| t.summary.starts_with("BYE"))
        .map(|t| format!("{} -> {}", t.from, t.to))
        .collect();
    assert_eq!(
        hops,
        [format!("{PCSCF} -> {SCSCF}"), format!("{SCSCF} -> {PCSCF}")]
    );
    let byes = h.requests_at(PCSCF, &Method::BYE);
    assert_eq!(values(&byes[0], "Route"), [PATH]);
}

#[test]
fn registrations_survive_a_restart_through_the_store() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    // What the binary does: apply the ops to a store, and on start restore from it.
    let store = MemoryStore::new();
    for op in h.stored.lock().unwrap().iter() {
        block_on(store.apply(op)).unwrap();
    }
    let snapshot = block_on(store.load_all()).unwrap();
    let config = RegistrarConfig::new("sip:10.0.0.3:5060", "ims.test");
    let mut registrar = Registrar::with_rng(config, StdRng::seed_from_u64(2)).unwrap();
    assert_eq!(registrar.restore(&snapshot), 1);
    let routing = RoutingConfig {
        home_domains: vec!["ims.test".into()],
        ..RoutingConfig::default()
    };
    let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_100);
    let mut net = Network::new();
    let restarted = Scscf::new(routing, registrar, net.now(), wall);
    net.add_function("scscf", addr(SCSCF), restarted);
    net.add_responder(addr(PCSCF), |r| vec![Network::response(r, StatusCode::OK)]);
    net.add_ua(addr(ICSCF));
    let invite = net.request(
        addr(ICSCF),
        "INVITE",
        "sip:bob@ims.test",
        &[("Route", TO_SCSCF)],
    );
    net.send(addr(ICSCF), addr(SCSCF), invite);
    net.run();
    let at_pcscf = net.take_requests(addr(PCSCF));
    assert_eq!(at_pcscf.len(), 1, "{}", net.trace_text());
    assert_eq!(values(&at_pcscf[0].message, "Route"), [PATH]);
    assert_eq!(
        net.final_response(addr(ICSCF)).and_then(|r| r.status()),
        Some(StatusCode::OK)
    );
}

#[test]
fn hss_failures_become_503_for_register_and_unknown_targets() {
    let mut net = Network::new();
    // No Cx peer: every Cx request fails with 3002 DIAMETER_UNABLE_TO_DELIVER.
    let config = RegistrarConfig::new("sip:10.0.0.3:5060", "ims.test");
    let registrar = Registrar::with_rng(config, StdRng::seed_from_u64(1)).unwrap();
    let routing = RoutingConfig {
        home_domains: vec!["ims.test".into()],
        ..RoutingConfig::default()
    };
    let function = Scscf::new(routing, registrar, net.now(), UNIX_EPOCH);
    net.add_function("scscf", addr(SCSCF), function);
    net.add_ua(addr(PCSCF));
    let bob = Ue::new("bob");
    let auth = bob.initial_authorization();
    let register = net.request(
        addr(PCSCF),
        "REGISTER",
        "sip:ims.test",
        &[
            ("To", "<sip:bob@ims.test>"),
            ("From", "<sip:bob@ims.test>;tag=r"),
            ("Contact", "<sip:bob@192.0.2.20>"),
            ("Authorization", &auth),
        ],
    );
    net.send(addr(PCSCF), addr(SCSCF), register);
    let invite = net.request(addr(PCSCF), "INVITE", "sip:bob@ims.test", &[]);
    net.send(addr(PCSCF), addr(SCSCF), invite);
    net.run();
    let statuses: Vec<_> = net
        .take_responses(addr(PCSCF))
        .into_iter()
        .filter_map(|r| r.message.status())
        .filter(|s| s.is_final())
        .collect();
    assert_eq!(
        statuses,
        [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::SERVICE_UNAVAILABLE
        ]
    );
}

/// Polls a future that never waits (the in-memory store's).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn barred_identity_gets_404_without_asking_the_hss() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.terminating_invite("sip:bob-barred@ims.test");
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(
        h.hss.borrow().sar_types,
        [ServerAssignmentType::REGISTRATION]
    );
    assert!(h.requests_at(PCSCF, &Method::INVITE).is_empty());
}

#[test]
fn cancel_while_the_hss_is_asked_gets_487() {
    let mut h = Harness::new(true);
    let invite = h.net.request(
        addr(ICSCF),
        "INVITE",
        "sip:carol@ims.test",
        &[("Route", TO_SCSCF)],
    );
    // RFC 3261 §9.1: same Request-URI, Call-ID, To, From, Route and top Via as the INVITE.
    let text = String::from_utf8(invite.to_bytes())
        .unwrap()
        .replacen("INVITE ", "CANCEL ", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel = Message::parse(text.as_bytes()).unwrap();
    // Both arrive before the fake HSS's SAA is delivered.
    h.net.send(addr(ICSCF), addr(SCSCF), invite);
    h.net.send(addr(ICSCF), addr(SCSCF), cancel);
    h.net.run();
    let mut finals: Vec<(String, StatusCode)> = h
        .net
        .take_responses(addr(ICSCF))
        .into_iter()
        .filter_map(|r| {
            let method = r.message.cseq().ok()?.method.to_string();
            let status = r.message.status().filter(|s| s.is_final())?;
            Some((method, status))
        })
        .collect();
    finals.sort_by_key(|(m, _)| m.clone());
    assert_eq!(
        finals,
        [
            ("CANCEL".to_owned(), StatusCode::OK),
            ("INVITE".to_owned(), StatusCode::REQUEST_TERMINATED)
        ],
        "{}",
        h.net.trace_text()
    );
    // The SAR was out when the CANCEL came; its late answer changes nothing.
    assert_eq!(
        h.hss.borrow().sar_types,
        [ServerAssignmentType::UNREGISTERED_USER]
    );
    assert!(h.net.take_responses(addr(ICSCF)).is_empty());
}

#[test]
fn requests_not_routed_through_us_are_refused() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    // In dialog, but without our Record-Route as Route: we are not on its path.
    let bye = h.net.request(
        addr(PCSCF),
        "BYE",
        "sip:alice@10.0.0.2:5060",
        &[
            ("From", "<sip:bob@ims.test>;tag=uas"),
            ("To", "<sip:alice@ims.test>;tag=caller"),
        ],
    );
    h.net.send(addr(PCSCF), addr(SCSCF), bye);
    // Out of dialog with a Route to somebody else: no relaying.
    let relay = h.net.request(
        addr(PCSCF),
        "MESSAGE",
        "sip:alice@ims.test",
        &[("Route", "<sip:10.0.0.2:5060;lr>")],
    );
    h.net.send(addr(PCSCF), addr(SCSCF), relay);
    h.net.run();
    let statuses: Vec<_> = h
        .net
        .take_responses(addr(PCSCF))
        .into_iter()
        .filter_map(|r| r.message.status())
        .collect();
    assert_eq!(statuses, [StatusCode::FORBIDDEN, StatusCode::FORBIDDEN]);
    assert!(h.requests(ICSCF).is_empty());
}

#[test]
fn a_busy_callee_answer_goes_upstream() {
    let mut h = Harness::new(true);
    let mut bob = Ue::new("bob");
    h.register(&mut bob, &bob_contact(5070), 600_000);
    h.pcscf_answers.borrow_mut().insert(
        "sip:bob@192.0.2.20:5070".into(),
        Some(StatusCode::BUSY_HERE),
    );
    h.terminating_invite("sip:bob@ims.test");
    // Held by hold_final, then sent as the best response (RFC 3261 §16.7 step 6).
    let answer = h.net.final_response(addr(ICSCF)).expect("a final response");
    assert_eq!(answer.status(), Some(StatusCode::BUSY_HERE));
}
