//! I-CSCF call flows on the in-memory network of `ims_node::testing`: a P-CSCF played by a
//! user agent, fake S-CSCFs (user agents answering as told), and a fake HSS closure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use icscf::config::Scscf;
use icscf::{Icscf, Settings};
use ims_diameter::base::{AnswerResult, ExperimentalResult};
use ims_diameter::cx::{
    AnswerCommon, LocationInfoAnswer, LocationInfoRequest, ServerCapabilities,
    UserAuthorizationAnswer, UserAuthorizationRequest, UserAuthorizationType,
};
use ims_diameter::{Command, CommandCode, ExperimentalResultCode, ResultCode};
use ims_node::function::CxOutcome;
use ims_node::testing::Network;
use ims_sip::{Message, StatusCode, Uri};
use ims_transport::Transport;

const PCSCF: &str = "10.0.0.1:5060";
const ICSCF: &str = "10.0.0.2:5060";
const SCSCF1: &str = "10.0.0.11:5060";
const SCSCF2: &str = "10.0.0.12:5060";
const S1_NAME: &str = "sip:scscf1.ims.test:5060";
const S2_NAME: &str = "sip:scscf2.ims.test:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn settings() -> Settings {
    let entry = |name: &str, uri: &str, caps: &[u32], address: &str| Scscf {
        name: name.into(),
        uri: Uri::parse(uri).unwrap(),
        capabilities: caps.to_vec(),
        address: Some(addr(address)),
        transport: Transport::Udp,
    };
    Settings {
        home_domains: vec!["ims.test".into()],
        origin_host: "icscf.ims.test".into(),
        origin_realm: "ims.test".into(),
        destination_realm: "ims.test".into(),
        scscfs: vec![
            entry("scscf1", S1_NAME, &[1], SCSCF1),
            entry("scscf2", S2_NAME, &[1, 2], SCSCF2),
        ],
        hosts: HashMap::new(),
    }
}

/// The network: P-CSCF UA, I-CSCF, and S-CSCF user agents answering `s1` / `s2` (`None`:
/// silent).
fn network(s1: Option<StatusCode>, s2: Option<StatusCode>) -> Network {
    let mut net = Network::new();
    net.add_ua(addr(PCSCF));
    net.add_function("icscf", addr(ICSCF), Icscf::new(settings(), 7));
    for (scscf, status) in [(SCSCF1, s1), (SCSCF2, s2)] {
        match status {
            Some(status) => {
                net.add_responder(addr(scscf), move |r| vec![Network::response(r, status)])
            }
            None => net.add_ua(addr(scscf)),
        }
    }
    net
}

fn caps(mandatory: &[u32]) -> ServerCapabilities {
    ServerCapabilities {
        mandatory_capabilities: mandatory.to_vec(),
        optional_capabilities: Vec::new(),
        server_names: Vec::new(),
        extra: Vec::new(),
    }
}

fn exp(code: ExperimentalResultCode) -> AnswerResult {
    ExperimentalResult::tgpp(code).into()
}

/// A UAA to `request` (which must decode as a UAR).
fn uaa(
    request: &ims_diameter::Message,
    result: AnswerResult,
    server_name: Option<&str>,
    capabilities: Option<ServerCapabilities>,
) -> CxOutcome {
    let uar = UserAuthorizationRequest::from_message(request).expect("a valid UAR");
    let answer = UserAuthorizationAnswer {
        common: AnswerCommon::answering(&uar.common, result, "hss.ims.test", "ims.test"),
        server_name: server_name.map(str::to_owned),
        server_capabilities: capabilities,
        extra: Vec::new(),
    };
    CxOutcome::Answer(answer.to_answer_of(&request.header))
}

/// A LIA to `request` (which must decode as a LIR).
fn lia(
    request: &ims_diameter::Message,
    result: AnswerResult,
    server_name: Option<&str>,
    capabilities: Option<ServerCapabilities>,
) -> CxOutcome {
    let lir = LocationInfoRequest::from_message(request).expect("a valid LIR");
    let answer = LocationInfoAnswer {
        common: AnswerCommon::answering(&lir.common, result, "hss.ims.test", "ims.test"),
        server_name: server_name.map(str::to_owned),
        server_capabilities: capabilities,
        wildcarded_public_identity: None,
        lia_flags: None,
        extra: Vec::new(),
    };
    CxOutcome::Answer(answer.to_answer_of(&request.header))
}

fn uars(net: &Network) -> Vec<UserAuthorizationRequest> {
    net.cx_requests()
        .iter()
        .filter(|r| r.request.header.command_code == CommandCode::USER_AUTHORIZATION)
        .map(|r| UserAuthorizationRequest::from_message(&r.request).unwrap())
        .collect()
}

fn register(net: &mut Network, extra: &[(&str, &str)]) {
    let mut headers = vec![
        ("To", "<sip:alice@ims.test>"),
        ("From", "<sip:alice@ims.test>;tag=reg1"),
        ("Contact", "<sip:alice@192.0.2.50:5060>"),
        ("Expires", "600000"),
        ("P-Visited-Network-ID", "\"visited.test\""),
    ];
    headers.extend_from_slice(extra);
    let request = net.request(addr(PCSCF), "REGISTER", "sip:ims.test", &headers);
    net.send(addr(PCSCF), addr(ICSCF), request);
    net.run();
}

fn invite(net: &mut Network, uri: &str) {
    let request = net.request(addr(PCSCF), "INVITE", uri, &[]);
    net.send(addr(PCSCF), addr(ICSCF), request);
    net.run();
}

fn final_status(net: &mut Network) -> Option<u16> {
    net.final_response(addr(PCSCF))
        .and_then(|m| m.status())
        .map(|s| s.0)
}

fn received_requests(net: &mut Network, scscf: &str) -> Vec<Message> {
    net.take_requests(addr(scscf))
        .into_iter()
        .map(|r| r.message)
        .collect()
}

// ---- registration (TS 24.229 §5.3.1) ----------------------------------------------------

#[test]
fn register_goes_to_the_scscf_the_hss_names() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION),
            Some(S2_NAME),
            None,
        )
    });
    register(
        &mut net,
        &[(
            "Authorization",
            "Digest username=\"alice.private@ims.test\", realm=\"ims.test\", nonce=\"\", uri=\"sip:ims.test\", response=\"\"",
        )],
    );
    assert_eq!(final_status(&mut net), Some(200), "{}", net.trace_text());
    let at_s2 = received_requests(&mut net, SCSCF2);
    assert_eq!(at_s2.len(), 1);
    assert!(received_requests(&mut net, SCSCF1).is_empty());
    let forwarded = &at_s2[0];
    assert_eq!(forwarded.request_uri().unwrap().to_string(), "sip:ims.test");
    assert!(forwarded
        .top_via()
        .unwrap()
        .to_string()
        .contains("10.0.0.2:5060"));
    assert!(
        !forwarded.headers().contains("Record-Route"),
        "no Record-Route"
    );
    assert_eq!(forwarded.headers().get("Max-Forwards"), Some("69"));

    let uar = &uars(&net)[0];
    assert_eq!(uar.public_identity, "sip:alice@ims.test");
    assert_eq!(uar.user_name, "alice.private@ims.test");
    assert_eq!(&uar.visited_network_identifier[..], b"visited.test");
    assert_eq!(
        uar.user_authorization_type,
        Some(UserAuthorizationType::REGISTRATION)
    );
    assert_eq!(uar.common.destination_realm, "ims.test");
    assert_eq!(uar.common.origin_host, "icscf.ims.test");
}

#[test]
fn register_selects_by_capabilities() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION),
            None,
            Some(caps(&[2])),
        )
    });
    register(&mut net, &[]);
    assert_eq!(final_status(&mut net), Some(200));
    assert_eq!(
        received_requests(&mut net, SCSCF2).len(),
        1,
        "only scscf2 has capability 2"
    );
    assert!(received_requests(&mut net, SCSCF1).is_empty());
    // No Authorization: the private identity is derived from the To URI.
    assert_eq!(uars(&net)[0].user_name, "alice@ims.test");
}

#[test]
fn a_failing_scscf_is_replaced_by_another() {
    let mut net = network(Some(StatusCode::SERVICE_UNAVAILABLE), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION),
            None,
            Some(caps(&[1])),
        )
    });
    register(&mut net, &[]);
    assert_eq!(final_status(&mut net), Some(200), "{}", net.trace_text());
    assert_eq!(received_requests(&mut net, SCSCF1).len(), 1);
    assert_eq!(received_requests(&mut net, SCSCF2).len(), 1);
    assert_eq!(
        uars(&net).len(),
        1,
        "capabilities were known: no second UAR"
    );
}

#[test]
fn a_silent_named_scscf_leads_to_a_capabilities_query_and_another_scscf() {
    let mut net = network(None, Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        let uar = UserAuthorizationRequest::from_message(r).unwrap();
        if uar.user_authorization_type == Some(UserAuthorizationType::REGISTRATION_AND_CAPABILITIES)
        {
            uaa(
                r,
                exp(ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION),
                Some(S1_NAME),
                Some(caps(&[1])),
            )
        } else {
            uaa(
                r,
                exp(ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION),
                Some(S1_NAME),
                None,
            )
        }
    });
    register(&mut net, &[]);
    assert_eq!(final_status(&mut net), None);
    // Timer F (64*T1) expires: a 408 for scscf1.
    net.advance(Duration::from_secs(33));
    assert_eq!(final_status(&mut net), Some(200), "{}", net.trace_text());
    assert!(!received_requests(&mut net, SCSCF1).is_empty());
    assert_eq!(received_requests(&mut net, SCSCF2).len(), 1);
    let types: Vec<_> = uars(&net)
        .iter()
        .map(|u| u.user_authorization_type)
        .collect();
    assert_eq!(
        types,
        vec![
            Some(UserAuthorizationType::REGISTRATION),
            Some(UserAuthorizationType::REGISTRATION_AND_CAPABILITIES)
        ]
    );
}

#[test]
fn an_unreachable_scscf_is_replaced_too() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_unreachable(addr(SCSCF1), true);
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION),
            None,
            Some(caps(&[1])),
        )
    });
    register(&mut net, &[]);
    assert_eq!(final_status(&mut net), Some(200));
    assert_eq!(received_requests(&mut net, SCSCF2).len(), 1);
}

#[test]
fn when_every_scscf_fails_the_best_failure_goes_upstream() {
    let mut net = network(
        Some(StatusCode::SERVICE_UNAVAILABLE),
        Some(StatusCode::SERVER_INTERNAL_ERROR),
    );
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION),
            None,
            Some(caps(&[1])),
        )
    });
    register(&mut net, &[]);
    // RFC 3261 §16.7 step 6: a 503 from downstream goes upstream as 500.
    assert_eq!(final_status(&mut net), Some(500));
    assert_eq!(received_requests(&mut net, SCSCF1).len(), 1);
    assert_eq!(received_requests(&mut net, SCSCF2).len(), 1);
}

#[test]
fn a_challenge_is_not_a_failure() {
    let mut net = network(Some(StatusCode::UNAUTHORIZED), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_FIRST_REGISTRATION),
            None,
            Some(caps(&[1])),
        )
    });
    register(&mut net, &[]);
    assert_eq!(final_status(&mut net), Some(401));
    assert!(received_requests(&mut net, SCSCF2).is_empty());
}

#[test]
fn uar_errors_are_forbidden() {
    let cases = [
        ExperimentalResultCode::DIAMETER_ERROR_USER_UNKNOWN,
        ExperimentalResultCode::DIAMETER_ERROR_IDENTITIES_DONT_MATCH,
        ExperimentalResultCode::DIAMETER_ERROR_ROAMING_NOT_ALLOWED,
    ];
    for code in cases {
        let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
        net.set_cx_peer(move |r| uaa(r, exp(code), None, None));
        register(&mut net, &[]);
        let response = net.final_response(addr(PCSCF)).expect("an answer");
        assert_eq!(response.status(), Some(StatusCode::FORBIDDEN), "{code:?}");
        assert!(response.reason().unwrap_or("").starts_with("Forbidden"));
        assert!(received_requests(&mut net, SCSCF1).is_empty());
        assert!(received_requests(&mut net, SCSCF2).is_empty());
    }
}

#[test]
fn hss_unreachable_during_registration_is_480() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|_| CxOutcome::Failed {
        result_code: ResultCode::UNABLE_TO_DELIVER.0,
        reason: "no peer".into(),
    });
    register(&mut net, &[]);
    assert_eq!(final_status(&mut net), Some(480));
}

#[test]
fn expires_zero_asks_for_de_registration() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        uaa(
            r,
            exp(ExperimentalResultCode::DIAMETER_SUBSEQUENT_REGISTRATION),
            Some(S1_NAME),
            None,
        )
    });
    let request = net.request(
        addr(PCSCF),
        "REGISTER",
        "sip:ims.test",
        &[
            ("To", "<sip:alice@ims.test>"),
            ("Contact", "<sip:alice@192.0.2.50:5060>;expires=0"),
        ],
    );
    net.send(addr(PCSCF), addr(ICSCF), request);
    net.run();
    assert_eq!(final_status(&mut net), Some(200));
    assert_eq!(
        uars(&net)[0].user_authorization_type,
        Some(UserAuthorizationType::DE_REGISTRATION)
    );
    assert_eq!(received_requests(&mut net, SCSCF1).len(), 1);
}

// ---- terminating requests (TS 24.229 §5.3.2) ---------------------------------------------

#[test]
fn lir_routes_to_the_assigned_scscf() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| lia(r, ResultCode::SUCCESS.into(), Some(S2_NAME), None));
    invite(&mut net, "sip:bob@ims.test");
    assert_eq!(final_status(&mut net), Some(200), "{}", net.trace_text());
    let at_s2 = received_requests(&mut net, SCSCF2);
    assert_eq!(at_s2.len(), 1);
    let forwarded = &at_s2[0];
    assert_eq!(
        forwarded.request_uri().unwrap().to_string(),
        "sip:bob@ims.test"
    );
    assert_eq!(
        forwarded.headers().get("Route"),
        Some("<sip:scscf2.ims.test:5060;lr>")
    );
    assert!(!forwarded.headers().contains("Record-Route"));
    let record = &net.cx_requests()[0];
    assert_eq!(
        record.request.header.command_code,
        CommandCode::LOCATION_INFO
    );
    let lir = LocationInfoRequest::from_message(&record.request).unwrap();
    assert_eq!(lir.public_identity, "sip:bob@ims.test");
}

#[test]
fn unregistered_user_with_services_gets_a_selected_scscf() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        lia(
            r,
            exp(ExperimentalResultCode::DIAMETER_UNREGISTERED_SERVICE),
            None,
            Some(caps(&[2])),
        )
    });
    invite(&mut net, "tel:+15550001");
    assert_eq!(final_status(&mut net), Some(200));
    assert_eq!(received_requests(&mut net, SCSCF2).len(), 1);
}

#[test]
fn lia_errors_map_to_sip() {
    let cases = [
        (
            exp(ExperimentalResultCode::DIAMETER_ERROR_USER_UNKNOWN),
            404,
        ),
        (
            exp(ExperimentalResultCode::DIAMETER_ERROR_IDENTITY_NOT_REGISTERED),
            480,
        ),
        (ResultCode::UNABLE_TO_DELIVER.into(), 500),
    ];
    for (result, status) in cases {
        let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
        net.set_cx_peer(move |r| lia(r, result, None, None));
        invite(&mut net, "sip:bob@ims.test");
        assert_eq!(final_status(&mut net), Some(status), "{result:?}");
        assert!(received_requests(&mut net, SCSCF1).is_empty());
        assert!(received_requests(&mut net, SCSCF2).is_empty());
    }
}

#[test]
fn hss_unreachable_for_a_terminating_request_is_500() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    // No Cx peer at all: every request fails with 3002.
    invite(&mut net, "sip:bob@ims.test");
    assert_eq!(final_status(&mut net), Some(500));
}

#[test]
fn requests_for_other_domains_get_404_without_a_query() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    invite(&mut net, "sip:bob@elsewhere.test");
    assert_eq!(final_status(&mut net), Some(404));
    assert!(net.cx_requests().is_empty());
}

#[test]
fn an_unresolvable_server_name_is_503() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| {
        lia(
            r,
            ResultCode::SUCCESS.into(),
            Some("sip:unknown.ims.test"),
            None,
        )
    });
    invite(&mut net, "sip:bob@ims.test");
    let response = net.final_response(addr(PCSCF)).expect("an answer");
    assert_eq!(response.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(response.reason().unwrap_or("").contains("unknown.ims.test"));
}

#[test]
fn a_cancel_while_the_hss_is_asked_ends_the_request_with_487() {
    let mut net = network(Some(StatusCode::OK), Some(StatusCode::OK));
    net.set_cx_peer(|r| lia(r, ResultCode::SUCCESS.into(), Some(S1_NAME), None));
    let invite = net.request(addr(PCSCF), "INVITE", "sip:bob@ims.test", &[]);
    let cancel = ims_sip::transaction::build_cancel(&invite).unwrap();
    // Both arrive before the LIA is processed.
    net.send(addr(PCSCF), addr(ICSCF), invite);
    net.send(addr(PCSCF), addr(ICSCF), cancel);
    net.run();
    let statuses: Vec<(u16, String)> = net
        .take_responses(addr(PCSCF))
        .iter()
        .map(|r| {
            let m = &r.message;
            (m.status().unwrap().0, m.cseq().unwrap().method.to_string())
        })
        .collect();
    assert!(statuses.contains(&(200, "CANCEL".into())), "{statuses:?}");
    assert!(statuses.contains(&(487, "INVITE".into())), "{statuses:?}");
    assert!(
        received_requests(&mut net, SCSCF1).is_empty(),
        "the late LIA forwards nothing"
    );
}

#[test]
fn an_ack_with_a_route_is_forwarded_statelessly() {
    let mut net = network(None, None);
    let ack = net.request(
        addr(PCSCF),
        "ACK",
        "sip:bob@192.0.2.77",
        &[
            ("To", "<sip:bob@ims.test>;tag=callee"),
            ("Route", "<sip:10.0.0.12:5060;lr>"),
        ],
    );
    net.send(addr(PCSCF), addr(ICSCF), ack);
    net.run();
    let at_s2 = received_requests(&mut net, SCSCF2);
    assert_eq!(at_s2.len(), 1, "{}", net.trace_text());
    assert_eq!(at_s2[0].method(), Some(&ims_sip::Method::ACK));
    assert_eq!(at_s2[0].headers().values("Via").count(), 2);
    assert!(net.cx_requests().is_empty());
}
