//! Registration (TS 24.229 §5.1.1) against the fake registrar, on virtual time.

mod support;

use std::time::Duration;

use ims_aka::DigestAlgorithm;
use ims_sip::header::{Contact, Credentials};
use ims_sip::{Method, StatusCode};
use support::*;
use ue_sim::{Credentials as UeCredentials, RegistrationState, UeEvent};

const UE: &str = "192.0.2.10:5060";
const REGISTRAR: &str = "192.0.2.1:5060";

fn net_with(registrar: FakeRegistrar, credentials: UeCredentials) -> Net {
    let mut net = Net::new();
    net.registrar = Some((addr(REGISTRAR), registrar));
    net.add_ue(ue_config("alice", credentials, addr(UE), addr(REGISTRAR)));
    net
}

fn register(net: &mut Net) {
    let now = net.now;
    net.ues[0].register(now).expect("register");
    net.run_for(Duration::from_millis(10));
}

#[test]
fn aka_v1_registration_with_real_milenage() {
    let set = test_set(1);
    let mut reg = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5);
    reg.service_route = Some("<sip:orig@scscf.ims.example;lr>".into());
    reg.associated_uris = vec!["<sip:alice@ims.example>".into(), "<tel:+15550100>".into()];
    reg.path = Some("<sip:term@pcscf.ims.example;lr>".into());
    let mut net = net_with(reg, aka_credentials(&set, true));
    register(&mut net);

    assert_eq!(
        net.events[0],
        vec![UeEvent::Registered {
            expires: 3600,
            associated_uris: vec!["sip:alice@ims.example".into(), "tel:+15550100".into()],
        }]
    );
    assert_eq!(
        net.registrar().log,
        vec![RegistrarLog::Challenged, RegistrarLog::Registered(3600)]
    );
    // The initial REGISTER (TS 24.229 §5.1.1.2.1).
    let first = net.registrar().requests[0].clone();
    let auth = Credentials::parse(first.headers().get("Authorization").unwrap()).unwrap();
    assert_eq!(auth.username(), Some("alice@ims.example"));
    assert_eq!(auth.realm(), Some("ims.example"));
    assert_eq!(auth.uri(), Some("sip:ims.example"));
    assert_eq!(auth.nonce(), Some(""));
    assert_eq!(auth.response(), Some(""));
    assert_eq!(first.request_uri().unwrap().to_string(), "sip:ims.example");
    let supported = first.headers().get("Supported").unwrap();
    assert!(supported.contains("path") && supported.contains("outbound"));
    let contact = Contact::parse(first.headers().get("Contact").unwrap()).unwrap();
    assert_eq!(contact.reg_id(), Ok(Some(1)));
    assert!(contact.instance().unwrap().starts_with("urn:uuid:"));
    assert_eq!(first.headers().get("Expires"), Some("600000"));
    // The answer: same Call-ID, next CSeq, AKAv1 with qop=auth.
    let second = net.registrar().requests[1].clone();
    assert_eq!(second.call_id(), first.call_id());
    assert_eq!(second.cseq().unwrap().seq, first.cseq().unwrap().seq + 1);
    let auth = Credentials::parse(second.headers().get("Authorization").unwrap()).unwrap();
    assert_eq!(auth.algorithm(), Some("AKAv1-MD5"));
    assert_eq!(auth.qop(), Some("auth"));
    assert_eq!(auth.nc(), Some("00000001"));
    assert_eq!(auth.response().map(str::len), Some(32));

    let r = net.ues[0].registration();
    assert_eq!(r.state(), RegistrationState::Registered);
    assert_eq!(r.service_route().len(), 1);
    assert_eq!(
        r.service_route()[0].uri.to_string(),
        "sip:orig@scscf.ims.example;lr"
    );
    assert_eq!(r.path(), ["<sip:term@pcscf.ims.example;lr>".to_string()]);
}

#[test]
fn aka_v2_registration_with_opc() {
    let set = test_set(3);
    let reg = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV2Md5);
    let mut net = net_with(reg, aka_credentials(&set, false));
    register(&mut net);
    assert!(matches!(
        net.events[0][..],
        [UeEvent::Registered { expires: 3600, .. }]
    ));
    let second = net.registrar().requests[1].clone();
    let auth = Credentials::parse(second.headers().get("Authorization").unwrap()).unwrap();
    assert_eq!(auth.algorithm(), Some("AKAv2-MD5"));
}

#[test]
fn md5_registration_and_wrong_password() {
    let reg = FakeRegistrar::new(RegistrarAuth::Md5 {
        password: "secret".into(),
    });
    let mut net = net_with(
        reg,
        UeCredentials::Md5 {
            password: "secret".into(),
        },
    );
    register(&mut net);
    assert!(matches!(net.events[0][..], [UeEvent::Registered { .. }]));

    let reg = FakeRegistrar::new(RegistrarAuth::Md5 {
        password: "secret".into(),
    });
    let mut net = net_with(
        reg,
        UeCredentials::Md5 {
            password: "wrong".into(),
        },
    );
    register(&mut net);
    assert_eq!(
        net.events[0],
        vec![UeEvent::RegistrationFailed {
            status: StatusCode::FORBIDDEN
        }]
    );
    assert_eq!(
        net.ues[0].registration().state(),
        RegistrationState::Unregistered
    );
}

#[test]
fn synchronisation_failure_resyncs_with_auts() {
    let set = test_set(2);
    let mut net = net_with(
        FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5),
        aka_credentials(&set, true),
    );
    register(&mut net);
    assert!(matches!(net.events[0][..], [UeEvent::Registered { .. }]));
    // The HSS loses its SQN state: the next challenge repeats an SQN the USIM already used.
    net.registrar = Some((
        addr(REGISTRAR),
        FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5),
    ));
    net.events[0].clear();
    register(&mut net);
    assert_eq!(
        net.registrar().log,
        vec![
            RegistrarLog::Challenged,
            RegistrarLog::Resynchronised,
            RegistrarLog::Challenged,
            RegistrarLog::Registered(3600)
        ]
    );
    assert!(matches!(
        net.events[0][..],
        [UeEvent::SynchronisationFailure, UeEvent::Registered { .. }]
    ));
    // The resync REGISTER carried auts (RFC 3310 §3.4).
    let resync = net.registrar().requests[1].clone();
    let auth = Credentials::parse(resync.headers().get("Authorization").unwrap()).unwrap();
    assert_eq!(auth.auts().map(str::len), Some(20)); // base64 of 14 octets
}

#[test]
fn mac_failure_answers_with_empty_response() {
    let ue_set = test_set(1);
    let network_set = test_set(4); // a network that does not know our K
    let mut net = net_with(
        FakeRegistrar::aka(&network_set, DigestAlgorithm::AkaV1Md5),
        aka_credentials(&ue_set, true),
    );
    register(&mut net);
    assert_eq!(
        net.events[0],
        vec![
            UeEvent::NetworkAuthenticationFailed,
            UeEvent::RegistrationFailed {
                status: StatusCode::FORBIDDEN
            }
        ]
    );
    let answer = net.registrar().requests[1].clone();
    let auth = Credentials::parse(answer.headers().get("Authorization").unwrap()).unwrap();
    assert_eq!(auth.response(), Some(""));
    assert_eq!(auth.auts(), None);
    assert_eq!(
        net.registrar().log.last(),
        Some(&RegistrarLog::Rejected(403))
    );
}

#[test]
fn reregistration_at_half_expiry_and_600s_before_long_expiry() {
    let set = test_set(1);
    let mut reg = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5);
    reg.expires = 1200;
    let mut net = net_with(reg, aka_credentials(&set, true));
    register(&mut net);
    assert_eq!(net.registrar().log.len(), 2);
    // 1200 s: refresh at 600 s (TS 24.229 §5.1.1.4.1).
    net.run_for(Duration::from_secs(599));
    assert_eq!(net.registrar().requests.len(), 2, "no refresh before 600 s");
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.registrar().log[2..],
        [RegistrarLog::Challenged, RegistrarLog::Registered(1200)]
    );
    // The refresh kept the Call-ID and carried the last nonce with nc=2.
    let refresh = net.registrar().requests[2].clone();
    assert_eq!(refresh.call_id(), net.registrar().requests[0].call_id());
    let auth = Credentials::parse(refresh.headers().get("Authorization").unwrap()).unwrap();
    assert_eq!(auth.nc(), Some("00000002"));
    assert_eq!(
        net.events[0]
            .iter()
            .filter(|e| matches!(e, UeEvent::Registered { .. }))
            .count(),
        2
    );

    // 3600 s: refresh at 3000 s.
    let mut reg = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5);
    reg.expires = 3600;
    let mut net = net_with(reg, aka_credentials(&set, true));
    register(&mut net);
    net.run_for(Duration::from_secs(2999));
    assert_eq!(net.registrar().requests.len(), 2);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.registrar().requests.len(), 4);
}

#[test]
fn deregistration_with_expires_zero() {
    let set = test_set(1);
    let mut net = net_with(
        FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5),
        aka_credentials(&set, true),
    );
    register(&mut net);
    assert_eq!(net.registrar().bindings.len(), 1);
    let now = net.now;
    net.ues[0].deregister(now).expect("deregister");
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.events[0].last(), Some(&UeEvent::Deregistered));
    assert!(net.registrar().bindings.is_empty());
    assert_eq!(
        net.registrar().log.last(),
        Some(&RegistrarLog::Deregistered)
    );
    let last = net.registrar().requests.last().unwrap().clone();
    assert_eq!(last.headers().get("Expires"), Some("0"));
    assert_eq!(
        net.ues[0].registration().state(),
        RegistrationState::Unregistered
    );
    // No refresh is scheduled any more.
    net.run_for(Duration::from_secs(4000));
    assert_eq!(
        net.registrar()
            .requests
            .last()
            .unwrap()
            .headers()
            .get("Expires"),
        Some("0")
    );
    // De-registering twice is refused locally.
    assert!(net.ues[0].deregister(net.now).is_err());
}

#[test]
fn unanswered_register_times_out_with_408_after_retransmissions() {
    let set = test_set(1);
    let mut net = net_with(
        FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5),
        aka_credentials(&set, true),
    );
    net.drop = Box::new(|_| true);
    register(&mut net);
    net.run_for(Duration::from_secs(40));
    assert_eq!(
        net.events[0],
        vec![UeEvent::RegistrationFailed {
            status: StatusCode::REQUEST_TIMEOUT
        }]
    );
    // Timer E retransmitted the REGISTER (RFC 3261 §17.1.2.2): 0.5, 1, 2, 4, 4… s.
    let sent = net.requests_from(addr(UE), &Method::REGISTER).len();
    assert!(sent >= 10, "only {sent} REGISTER transmissions");
}

#[test]
fn manual_refresh_rearms_the_refresh_timer() {
    let set = test_set(1);
    let mut reg = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5);
    reg.expires = 1200;
    let mut net = net_with(reg, aka_credentials(&set, true));
    register(&mut net);
    net.run_for(Duration::from_secs(300));
    register(&mut net); // a refresh, since we are registered
    assert_eq!(net.registrar().requests.len(), 4);
    assert_eq!(
        net.ues[0].registration().state(),
        RegistrationState::Registered
    );
    // The next automatic refresh is 600 s after the manual one, not at 600 s.
    net.run_for(Duration::from_secs(598));
    assert_eq!(net.registrar().requests.len(), 4);
    net.run_for(Duration::from_secs(4));
    assert_eq!(net.registrar().requests.len(), 6);
}
