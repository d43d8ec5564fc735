//! Whole registrations against a fake HSS and a UE (see `common`): AKAv1/AKAv2/MD5, wrong
//! answers, stale and replayed nonces, AUTS resynchronisation, re- and de-registration, expiry,
//! several contacts, RFC 5626 replacement, HSS failures, the originating check and a restart
//! from storage.

mod common;

use std::time::Duration;

use common::*;
use ims_aka::{answer_challenge, Amf, AuthVector, DigestAlgorithm, Milenage, SqnScheme};
use ims_diameter::cx::{auth_scheme, ServerAssignmentType};
use ims_sip::{Message, StatusCode};
use rand::rngs::StdRng;
use rand::SeedableRng;
use scscf::store::{SqlStore, StoreOp};
use scscf::{Registrar, RegistrarConfig, RegistrationStore};

#[test]
fn akav1_registration() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let r1 = ue.register(&ue.initial_authorization(None), Some(600_000));
    let resp = net.send(r1);
    let challenge = challenge_of(&resp);
    // MAR: TS 29.228 §6.3.1.
    let mar = net.hss.mars.last().unwrap();
    assert_eq!(mar.user_name, "alice@ims.example");
    assert_eq!(mar.public_identity, "sip:alice@ims.example");
    assert_eq!(mar.server_name, SERVER);
    assert_eq!(mar.sip_number_auth_items, 1);
    assert_eq!(
        mar.sip_auth_data_item.sip_authentication_scheme.as_deref(),
        Some(auth_scheme::DIGEST_AKAV1_MD5)
    );
    // 401: TS 24.229 §5.4.1.2.1.
    let av = net.hss.last_vector.clone().unwrap();
    assert_eq!(challenge.realm(), Some(REALM));
    assert_eq!(challenge.algorithm(), Some("AKAv1-MD5"));
    assert_eq!(challenge.qop(), Some("auth"));
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(challenge.ck(), Some(hex(&av.ck).as_str()));
    assert_eq!(challenge.ik(), Some(hex(&av.ik).as_str()));
    let nonce = ims_aka::AkaNonce::parse(challenge.nonce().unwrap()).unwrap();
    assert_eq!(nonce.rand, av.rand);
    assert_eq!(nonce.autn, av.autn);
    assert!(!challenge.stale());
    assert!(resp.to().unwrap().tag().is_some());

    let answer = answer_challenge(
        &mut ue.usim,
        DigestAlgorithm::AkaV1Md5,
        challenge.nonce().unwrap(),
    )
    .unwrap();
    let ok = net.send({
        let a = ue.answer(&challenge, &answer.password, None, "yes");
        ue.register(&a, Some(600_000))
    });
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert_eq!(net.hss.sar_types(), [ServerAssignmentType::REGISTRATION]);
    let contacts = header_values(&ok, "Contact");
    assert_eq!(contacts, ["<sip:alice@192.0.2.10:5060>;expires=600000"]);
    assert_eq!(
        header_values(&ok, "Path"),
        ["<sip:term@pcscf.ims.example;lr>"]
    );
    assert_eq!(
        header_values(&ok, "Service-Route"),
        ["<sip:orig@scscf.ims.example:6060;lr>"]
    );
    // Registered identity first, barred one left out.
    assert_eq!(
        header_values(&ok, "P-Associated-URI"),
        ["<sip:alice@ims.example>", "<tel:+15551234>"]
    );
    assert_eq!(ok.headers().get("Expires"), Some("600000"));
    assert_eq!(
        ok.headers().get("P-Charging-Function-Addresses"),
        Some("ccf=\"aaa://ccf.ims.example\"")
    );

    // Lookup for terminating routing, through every identity of the implicit set.
    let b = net.scscf.lookup("sip:alice@ims.example");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].uri().to_string(), "sip:alice@192.0.2.10:5060");
    assert_eq!(b[0].path, ["<sip:term@pcscf.ims.example;lr>"]);
    assert_eq!(net.scscf.lookup("tel:+1-555-1234").len(), 1);
    assert!(net.scscf.lookup("sip:alice-barred@ims.example").is_empty());
    assert!(net.scscf.lookup("sip:bob@ims.example").is_empty());
    assert_eq!(
        net.scscf
            .terminating_bindings("sip:bob@ims.example")
            .unwrap_err()
            .status(),
        StatusCode::TEMPORARILY_UNAVAILABLE
    );
    assert_eq!(
        net.scscf
            .terminating_bindings("sip:alice@ims.example")
            .unwrap(),
        b
    );
    let reg = net.scscf.registration("sip:alice@ims.example").unwrap();
    let profile = reg.subscription.as_ref().unwrap();
    assert_eq!(
        profile.service_profiles[0].initial_filter_criteria[0]
            .application_server
            .server_name,
        "sip:as.ims.example"
    );
    assert!(net
        .store_ops
        .iter()
        .any(|op| matches!(op, StoreOp::SaveRegistration(r) if r.impu == "sip:alice@ims.example")));
}

#[test]
fn akav2_registration() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let ok = aka_register(&mut net, &mut ue, Some("AKAv2-MD5"), None);
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert_eq!(
        net.hss.mars[0]
            .sip_auth_data_item
            .sip_authentication_scheme
            .as_deref(),
        Some(auth_scheme::DIGEST_AKAV2_MD5)
    );
    // Default expiry (no Expires anywhere) is the configured 3600 s.
    assert_eq!(ok.headers().get("Expires"), Some("3600"));
}

#[test]
fn md5_registration_and_nonce_reuse() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let challenge =
        challenge_of(&net.send(ue.register(&ue.initial_authorization(Some("MD5")), None)));
    assert_eq!(challenge.algorithm(), Some("MD5"));
    assert_eq!(challenge.ck(), None);
    assert_eq!(
        net.hss.mars[0]
            .sip_auth_data_item
            .sip_authentication_scheme
            .as_deref(),
        Some(auth_scheme::SIP_DIGEST)
    );
    let auth = ue.answer(&challenge, PASSWORD, None, "no");
    assert_eq!(
        net.send(ue.register(&auth, None)).status(),
        Some(StatusCode::OK)
    );
    // The same nonce with the next nc: accepted without a new MAR (RFC 2617 §3.2.2).
    let auth2 = ue.answer(&challenge, PASSWORD, None, "no");
    assert_eq!(
        net.send(ue.register(&auth2, None)).status(),
        Some(StatusCode::OK)
    );
    assert_eq!(net.hss.mars.len(), 1);
    assert_eq!(
        net.hss.sar_types(),
        [
            ServerAssignmentType::REGISTRATION,
            ServerAssignmentType::RE_REGISTRATION
        ]
    );
    // Replaying nc: stale, a new challenge.
    let resp = net.send(ue.register(&auth2, None));
    assert!(challenge_of(&resp).stale());
    assert_eq!(net.hss.mars.len(), 2);
    // A wrong password: 403.
    let auth3 = ue.answer(&challenge, b"wrong", None, "no");
    assert_eq!(
        net.send(ue.register(&auth3, None)).status(),
        Some(StatusCode::FORBIDDEN)
    );
}

#[test]
fn wrong_response_is_forbidden_and_reported() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let challenge = challenge_of(&net.send(ue.register(&ue.initial_authorization(None), None)));
    let resp = net.send({
        let a = ue.answer(&challenge, b"not-the-res", None, "no");
        ue.register(&a, None)
    });
    assert_eq!(resp.status(), Some(StatusCode::FORBIDDEN));
    assert_eq!(
        net.hss.sar_types(),
        [ServerAssignmentType::AUTHENTICATION_FAILURE]
    );
    assert!(net.scscf.lookup("sip:alice@ims.example").is_empty());
    // The vector is burnt: even the right answer now only gets a stale challenge.
    let answer = answer_challenge(
        &mut ue.usim,
        DigestAlgorithm::AkaV1Md5,
        challenge.nonce().unwrap(),
    )
    .unwrap();
    let resp = net.send({
        let a = ue.answer(&challenge, &answer.password, None, "no");
        ue.register(&a, None)
    });
    assert!(challenge_of(&resp).stale());
}

#[test]
fn replayed_and_expired_aka_nonces_are_stale() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let challenge = challenge_of(&net.send(ue.register(&ue.initial_authorization(None), None)));
    let answer = answer_challenge(
        &mut ue.usim,
        DigestAlgorithm::AkaV1Md5,
        challenge.nonce().unwrap(),
    )
    .unwrap();
    let auth = ue.answer(&challenge, &answer.password, None, "no");
    assert_eq!(
        net.send(ue.register(&auth, None)).status(),
        Some(StatusCode::OK)
    );
    // The same answer again (not over a security association): the vector was used.
    let resp = net.send(ue.register(&auth, None));
    assert!(challenge_of(&resp).stale());

    // A challenge left unanswered past reg-await-auth.
    let mut bob = Ue::new("<sip:alice@192.0.2.20:5060>");
    bob.impi = "bob@ims.example".into();
    let raw = bob.initial_authorization(None);
    let mut req = bob.register(&raw, None);
    req.headers_mut().set("To", "<sip:bob@ims.example>");
    req.headers_mut().set("From", "<sip:bob@ims.example>;tag=b");
    let ch = challenge_of(&net.send(req));
    net.now += Duration::from_secs(241);
    assert!(net.scscf.poll_timeout().unwrap() <= net.now);
    net.timeout();
    assert_eq!(
        net.hss.sar_types().last(),
        Some(&ServerAssignmentType::AUTHENTICATION_TIMEOUT)
    );
    let bob_answer = answer_challenge(
        &mut bob.usim,
        DigestAlgorithm::AkaV1Md5,
        ch.nonce().unwrap(),
    )
    .unwrap();
    let mut late = {
        let a = bob.answer(&ch, &bob_answer.password, None, "no");
        bob.register(&a, None)
    };
    late.headers_mut().set("To", "<sip:bob@ims.example>");
    assert!(challenge_of(&net.send(late)).stale());
}

#[test]
fn auts_resynchronisation() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    // The USIM has seen SEQ 50 in the IND slot the HSS uses next: the HSS is behind.
    let scheme = SqnScheme::default();
    let ahead = scheme.compose(50, 1).unwrap();
    let av = AuthVector::generate(
        &Milenage::with_opc(&K, &OPC),
        [9; 16],
        ahead,
        Amf::SEPARATION_BIT,
    );
    ue.usim.authenticate(&av.rand, &av.autn).unwrap();

    let challenge = challenge_of(&net.send(ue.register(&ue.initial_authorization(None), None)));
    let answer = answer_challenge(
        &mut ue.usim,
        DigestAlgorithm::AkaV1Md5,
        challenge.nonce().unwrap(),
    )
    .unwrap();
    let auts = answer.auts.clone().expect("synchronisation failure");
    let resp = net.send({
        let a = ue.answer(&challenge, &answer.password, Some(&auts), "no");
        ue.register(&a, None)
    });
    let second = challenge_of(&resp);
    assert_ne!(second.nonce(), challenge.nonce());
    // MAR with RAND || AUTS (TS 29.229 §6.3.11).
    let resync = net.hss.mars[1]
        .sip_auth_data_item
        .sip_authorization
        .clone()
        .unwrap();
    assert_eq!(resync.len(), 30);
    let first_rand = ims_aka::AkaNonce::parse(challenge.nonce().unwrap())
        .unwrap()
        .rand;
    assert_eq!(&resync[..16], &first_rand[..]);
    // The new vector is fresh for the USIM.
    let answer = answer_challenge(
        &mut ue.usim,
        DigestAlgorithm::AkaV1Md5,
        second.nonce().unwrap(),
    )
    .unwrap();
    assert!(answer.auts.is_none());
    let ok = net.send({
        let a = ue.answer(&second, &answer.password, None, "no");
        ue.register(&a, None)
    });
    assert_eq!(ok.status(), Some(StatusCode::OK));
}

#[test]
fn protected_reregistration_and_deregistration() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    aka_register(&mut net, &mut ue, None, Some(1200));
    // Re-registration over the security association: no challenge (TS 24.229 §5.4.1.2.1).
    net.now += Duration::from_secs(600);
    let auth = format!(
        "Digest username=\"alice@ims.example\", realm=\"{REALM}\", nonce=\"x\", uri=\"sip:ims.example\", response=\"y\", integrity-protected=\"yes\""
    );
    let ok = net.send(ue.register(&auth, Some(1200)));
    assert_eq!(ok.status(), Some(StatusCode::OK));
    // The profile downloaded at registration still answers P-Associated-URI.
    assert_eq!(
        header_values(&ok, "P-Associated-URI"),
        ["<sip:alice@ims.example>", "<tel:+15551234>"]
    );
    assert_eq!(net.hss.mars.len(), 1);
    assert_eq!(
        net.hss.sar_types(),
        [
            ServerAssignmentType::REGISTRATION,
            ServerAssignmentType::RE_REGISTRATION
        ]
    );
    assert_eq!(
        net.hss.sars[1].user_data_already_available,
        ims_diameter::cx::UserDataAlreadyAvailable::USER_DATA_ALREADY_AVAILABLE
    );
    assert_eq!(
        net.scscf.lookup("sip:alice@ims.example")[0].remaining(net.now),
        1200
    );
    // A protected REGISTER by another IMPI does not skip authentication.
    let mut other = Ue::new("<sip:x@192.0.2.99>");
    other.impi = "mallory@ims.example".into();
    let auth_m = auth.replace("alice@ims.example\"", "mallory@ims.example\"");
    assert_eq!(
        net.send(other.register(&auth_m, None)).status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    // De-registration.
    let bye = net.send(ue.register(&auth, Some(0)));
    assert_eq!(bye.status(), Some(StatusCode::OK));
    assert!(bye.headers().get("Contact").is_none());
    assert_eq!(
        net.hss.sar_types().last(),
        Some(&ServerAssignmentType::USER_DEREGISTRATION)
    );
    assert!(net.scscf.lookup("sip:alice@ims.example").is_empty());
    assert!(net.scscf.lookup("tel:+15551234").is_empty());
    assert!(matches!(
        net.store_ops.last(),
        Some(StoreOp::RemoveRegistration { .. })
    ));
    // Left: challenges (alice's used one, mallory's pending one) until they are purged.
    let mut rounds = 0;
    while let Some(t) = net.scscf.poll_timeout() {
        // A deadline already passed is due at once (nobody called handle_timeout since).
        net.now = net.now.max(t);
        net.timeout();
        rounds += 1;
        assert!(rounds < 10, "timers converge");
    }
    assert!(matches!(
        net.store_ops.last(),
        Some(StoreOp::RemoveChallenge { .. })
    ));
    // Mallory never answered and is not registered: the HSS hears of the timeout.
    assert_eq!(
        net.hss.sar_types().last(),
        Some(&ServerAssignmentType::AUTHENTICATION_TIMEOUT)
    );
}

#[test]
fn expiry_sends_timeout_deregistration() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    aka_register(&mut net, &mut ue, None, Some(120));
    let expiry = net.now + Duration::from_secs(120);
    assert_eq!(net.scscf.poll_timeout(), Some(expiry));
    net.now = expiry - Duration::from_secs(1);
    net.timeout();
    assert_eq!(net.scscf.lookup("sip:alice@ims.example").len(), 1);
    net.now = expiry;
    net.timeout();
    assert!(net.scscf.lookup("sip:alice@ims.example").is_empty());
    assert_eq!(
        net.hss.sar_types().last(),
        Some(&ServerAssignmentType::TIMEOUT_DEREGISTRATION)
    );
}

#[test]
fn several_contacts_and_outbound_replacement() {
    let mut net = Net::new();
    let instance = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"";
    let mut ue = Ue::new(&format!(
        "<sip:alice@192.0.2.10:5060;ob>;reg-id=1;{instance}, <sip:alice@198.51.100.7:5060>;q=0.5"
    ));
    let ok = aka_register(&mut net, &mut ue, None, Some(3600));
    assert_eq!(header_values(&ok, "Contact").len(), 2);
    let b = net.scscf.lookup("sip:alice@ims.example");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].reg_id, Some(1));
    assert_eq!(
        b[0].instance.as_deref(),
        Some("urn:uuid:00000000-0000-1000-8000-000a95a0e128")
    );
    assert_eq!(b[1].q, 500);
    // The same instance and reg-id over a new flow (new address, new Call-ID) replaces the
    // binding (RFC 5626 §6).
    let mut flow2 = Ue::new(&format!(
        "<sip:alice@203.0.113.5:41000;ob>;reg-id=1;{instance}"
    ));
    let protected = "Digest username=\"alice@ims.example\", realm=\"ims.example\", nonce=\"\", uri=\"sip:ims.example\", response=\"\", integrity-protected=\"yes\"";
    let ok = net.send(flow2.register(protected, Some(3600)));
    assert_eq!(ok.status(), Some(StatusCode::OK));
    let b = net.scscf.lookup("sip:alice@ims.example");
    assert_eq!(b.len(), 2);
    assert!(b
        .iter()
        .any(|x| x.uri().to_string() == "sip:alice@203.0.113.5:41000;ob"));
    assert!(!b
        .iter()
        .any(|x| x.uri().to_string() == "sip:alice@192.0.2.10:5060;ob"));
    // Remove one contact with expires=0; the other stays.
    let mut rm = Ue::new("<sip:alice@198.51.100.7:5060>;expires=0");
    let ok = net.send(rm.register(protected, None));
    assert_eq!(header_values(&ok, "Contact").len(), 1);
    assert_eq!(net.scscf.lookup("tel:+15551234").len(), 1);
    // Contact: * with Expires: 0 removes the rest.
    let mut all = Ue::new("*");
    let ok = net.send(all.register(protected, Some(0)));
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert!(net.scscf.lookup("sip:alice@ims.example").is_empty());
}

#[test]
fn interval_too_brief_after_authentication() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let resp = aka_register(&mut net, &mut ue, None, Some(10));
    assert_eq!(resp.status(), Some(StatusCode::INTERVAL_TOO_BRIEF));
    assert_eq!(resp.headers().get("Min-Expires"), Some("60"));
    assert!(net.hss.sars.is_empty());
}

#[test]
fn hss_failures() {
    // No MAA: 503.
    let mut net = Net::new();
    net.hold_cx = true;
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    let actions = net
        .scscf
        .handle_register(net.now, ue.register(&ue.initial_authorization(None), None));
    assert!(net.run(actions).is_empty());
    let token = net.unanswered.pop().unwrap();
    let actions = net.scscf.handle_cx_failure(net.now, token);
    let resp = net.run(actions);
    assert_eq!(resp[0].status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    // A second report for the same token does nothing.
    assert!(net.scscf.handle_cx_failure(net.now, token).is_empty());

    // User unknown at the HSS: 404.
    let mut net = Net::new();
    net.hss.mode = HssMode::UserUnknown;
    let resp = net.send(ue.register(&ue.initial_authorization(None), None));
    assert_eq!(resp.status(), Some(StatusCode::NOT_FOUND));

    // Malformed REGISTER: 400 without asking the HSS.
    let mut net = Net::new();
    let mut bad = Ue::new("<sip:alice@192.0.2.10:5060>;expires=abc");
    let resp = net.send(bad.register(&bad.initial_authorization(None), None));
    assert_eq!(resp.status(), Some(StatusCode::BAD_REQUEST));
    assert!(net.hss.mars.is_empty());
}

#[test]
fn originating_requests_need_the_service_route() {
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    aka_register(&mut net, &mut ue, None, None);
    let invite = |route: &str, pai: &str| {
        Message::parse(
            format!(
                "INVITE sip:bob@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP pcscf.ims.example;branch=z9hG4bKi\r\nMax-Forwards: 69\r\nRoute: {route}\r\nFrom: <sip:alice@ims.example>;tag=a\r\nTo: <sip:bob@ims.example>\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\nP-Asserted-Identity: {pai}\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap()
    };
    let sr = net.scscf.service_route().to_owned();
    assert_eq!(
        net.scscf
            .check_originating(&invite(&sr, "<tel:+15551234>"))
            .unwrap(),
        "tel:+15551234"
    );
    let other = "<sip:scscf.ims.example:6060;lr>";
    assert_eq!(
        net.scscf
            .check_originating(&invite(other, "<sip:alice@ims.example>"))
            .unwrap_err()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert!(net
        .scscf
        .check_originating(&invite(&sr, "<sip:alice-barred@ims.example>"))
        .is_err());
    assert!(net
        .scscf
        .check_originating(&invite(&sr, "<sip:bob@ims.example>"))
        .is_err());
}

#[tokio::test]
async fn registrations_survive_a_restart() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let mut net = Net::new();
    let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
    aka_register(&mut net, &mut ue, None, Some(3600));
    // A second user is challenged but has not answered yet.
    let mut bob = Ue::new("<sip:bob@192.0.2.20:5060>");
    bob.impi = "bob@ims.example".into();
    let mut req = bob.register(&bob.initial_authorization(None), None);
    req.headers_mut().set("To", "<sip:bob@ims.example>");
    let ch = challenge_of(&net.send(req));
    for op in &net.store_ops {
        store.apply(op).await.unwrap();
    }

    // Restart: a new engine from the store.
    let mut restarted = Registrar::with_rng(
        RegistrarConfig::new(SERVER, REALM),
        StdRng::seed_from_u64(99),
    )
    .unwrap();
    let snapshot = store.load_all().await.unwrap();
    assert_eq!(restarted.restore(&snapshot), 1);
    let b = restarted.lookup("tel:+15551234");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].uri().to_string(), "sip:alice@192.0.2.10:5060");
    assert_eq!(b[0].path, ["<sip:term@pcscf.ims.example;lr>"]);
    assert_eq!(b[0].remaining(net.now), 3600);
    assert_eq!(restarted.poll_timeout(), net.scscf.poll_timeout());
    let reg = restarted.registration("sip:alice@ims.example").unwrap();
    assert_eq!(
        reg.charging_function_addresses.as_deref(),
        Some("ccf=\"aaa://ccf.ims.example\"")
    );
    assert_eq!(
        reg.associated_uris(),
        ["sip:alice@ims.example", "tel:+15551234"]
    );
    // Bob answers the challenge issued before the restart.
    net.scscf = restarted;
    let answer = answer_challenge(
        &mut bob.usim,
        DigestAlgorithm::AkaV1Md5,
        ch.nonce().unwrap(),
    )
    .unwrap();
    let mut req = {
        let a = bob.answer(&ch, &answer.password, None, "no");
        bob.register(&a, None)
    };
    req.headers_mut().set("To", "<sip:bob@ims.example>");
    let ok = net.send(req);
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert_eq!(net.scscf.lookup("sip:bob@ims.example").len(), 1);
}

#[test]
fn seeded_engines_are_deterministic() {
    // Two engines seeded alike produce identical challenges and tags for the same input.
    let run = || {
        let mut net = Net::new();
        let mut ue = Ue::new("<sip:alice@192.0.2.10:5060>");
        net.send(ue.register(&ue.initial_authorization(Some("MD5")), None))
            .to_bytes()
    };
    assert_eq!(run(), run());
}

#[test]
fn bindings_expire_one_by_one() {
    let mut net = Net::new();
    let mut ue =
        Ue::new("<sip:alice@192.0.2.10:5060>;expires=120, <sip:alice@192.0.2.11:5060>;expires=300");
    let start = net.now;
    let ok = aka_register(&mut net, &mut ue, None, None);
    assert_eq!(header_values(&ok, "Contact").len(), 2);
    assert_eq!(ok.headers().get("Expires"), Some("300"));
    // The challenge's purge time (used AKA vector) comes after the first binding expiry.
    assert_eq!(
        net.scscf.poll_timeout(),
        Some(start + Duration::from_secs(120))
    );
    net.now = start + Duration::from_secs(120);
    net.timeout();
    let left = net.scscf.lookup("sip:alice@ims.example");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].uri().to_string(), "sip:alice@192.0.2.11:5060");
    assert!(
        matches!(net.store_ops.last(), Some(StoreOp::SaveRegistration(r)) if r.bindings.len() == 1)
    );
    assert!(!net
        .hss
        .sar_types()
        .contains(&ServerAssignmentType::TIMEOUT_DEREGISTRATION));
    assert_eq!(
        net.scscf.poll_timeout(),
        Some(start + Duration::from_secs(300))
    );
    net.now = start + Duration::from_secs(300);
    net.timeout();
    assert!(net.scscf.lookup("sip:alice@ims.example").is_empty());
    assert_eq!(
        net.hss.sar_types().last(),
        Some(&ServerAssignmentType::TIMEOUT_DEREGISTRATION)
    );
}
