//! Registration through the P-CSCF (TS 24.229 §5.2.2) with a real proxy core on virtual time.

mod harness;

use std::time::Duration;

use harness::*;
use ims_node::function::Function;
use ims_sip::header::{Challenge, NameAddr, PChargingVector};
use ims_sip::{Message, StatusCode, Uri};
use ims_transport::Target;
use pcscf::registration_cache::SourceKey;

fn header_values(m: &Message, name: &str) -> Vec<String> {
    m.headers().values(name).map(str::to_owned).collect()
}

#[test]
fn register_gets_path_pvni_pcv_and_loses_ue_p_headers() {
    let mut net = Net::new();
    let forged = "P-Asserted-Identity: <sip:boss@home.net>\n\
                  P-Charging-Vector: icid-value=forged-by-ue\n\
                  P-Visited-Network-ID: evil.net\n\
                  Supported: gruu\n";
    net.deliver(&register(1, 600, forged), ue_udp());
    let out = net.take_to(&icscf());

    // Path with our URI on top (RFC 3327), no outbound: the `term` user.
    let path = header_values(&out, "Path");
    assert_eq!(path, vec!["<sip:term@pcscf.visited.net:5060;lr>"]);
    // Route to the configured I-CSCF; the Request-URI stays the home domain.
    assert_eq!(
        header_values(&out, "Route"),
        vec!["<sip:icscf.home.net;lr>"]
    );
    assert_eq!(out.request_uri().unwrap().to_string(), "sip:home.net");
    assert!(header_values(&out, "Require").contains(&"path".to_owned()));
    let supported = header_values(&out, "Supported");
    assert!(supported.contains(&"path".to_owned()) && supported.contains(&"gruu".to_owned()));
    // Our P-Visited-Network-ID only.
    assert_eq!(
        header_values(&out, "P-Visited-Network-ID"),
        vec!["visited.net"]
    );
    // One P-Charging-Vector, ours: a fresh icid-value and orig-ioi.
    let pcv = header_values(&out, "P-Charging-Vector");
    assert_eq!(pcv.len(), 1, "{pcv:?}");
    let pcv = PChargingVector::parse(&pcv[0]).unwrap();
    let icid = pcv.icid_value().unwrap();
    assert_ne!(icid, "forged-by-ue");
    assert_eq!(icid.len(), 32);
    assert_eq!(pcv.orig_ioi(), Some("visited.net"));
    // The UE's claimed identity is gone.
    assert!(!out.headers().contains("P-Asserted-Identity"));
    // No security association yet: integrity-protected="no".
    let auth = out.headers().get("Authorization").unwrap();
    assert!(auth.contains("integrity-protected=\"no\""), "{auth}");
    assert!(auth.contains("username=\"alice@home.net\""), "{auth}");

    // A second REGISTER gets another icid-value.
    net.deliver(&register(2, 600, ""), ue_udp());
    let again = net.take_to(&icscf());
    let pcv2 = PChargingVector::parse(again.headers().get("P-Charging-Vector").unwrap()).unwrap();
    assert_ne!(pcv2.icid_value(), Some(icid));
}

#[test]
fn challenge_loses_ck_ik_and_the_keys_are_kept() {
    let mut net = Net::new();
    net.deliver(&register(1, 600, ""), ue_udp());
    let out = net.take_to(&icscf());
    net.reply(
        &out,
        401,
        &[(
            "WWW-Authenticate",
            "Digest realm=\"home.net\", nonce=\"bm9uY2U=\", algorithm=AKAv1-MD5, \
             qop=\"auth\", ck=\"00112233445566778899aabbccddeeff\", ik=\"ffeeddccbbaa99887766554433221100\"",
        )],
        icscf(),
    );
    let to_ue = net.take_to(&ue_udp());
    assert_eq!(to_ue.status(), Some(StatusCode::UNAUTHORIZED));
    let text = String::from_utf8(to_ue.to_bytes()).unwrap();
    assert!(!text.contains("ck=") && !text.contains("ik="), "{text}");
    assert!(!text.contains("00112233445566778899aabbccddeeff"), "{text}");
    let challenge = Challenge::parse(to_ue.headers().get("WWW-Authenticate").unwrap()).unwrap();
    assert_eq!(challenge.nonce(), Some("bm9uY2U="));
    assert_eq!(challenge.algorithm(), Some("AKAv1-MD5"));

    let keys = net.pcscf.pending_security_keys(IMPI, CALL_ID).unwrap();
    assert_eq!(keys.ck, "00112233445566778899aabbccddeeff");
    assert_eq!(keys.ik, "ffeeddccbbaa99887766554433221100");
    assert!(net
        .pcscf
        .pending_security_keys(IMPI, "other-call")
        .is_none());
    assert!(
        net.pcscf.registrations().is_empty(),
        "a 401 registers nothing"
    );

    // The keys wait for the authenticated REGISTER only so long.
    net.advance(Duration::from_secs(241));
    assert!(net.pcscf.pending_security_keys(IMPI, CALL_ID).is_none());
}

#[test]
fn ok_fills_the_cache() {
    let mut net = Net::new();
    let ok = register_ue(&mut net);
    assert_eq!(ok.status(), Some(StatusCode::OK));
    // What the UE needs stays; charging does not reach it.
    assert_eq!(
        ok.headers().get("Service-Route"),
        Some("<sip:orig@scscf.home.net;lr>")
    );
    assert!(ok.headers().contains("P-Associated-URI"));
    assert!(!ok.headers().contains("P-Charging-Vector"));

    let cache = net.pcscf.registrations();
    assert_eq!(cache.len(), 1);
    let reg = cache.by_source(&SourceKey::from(&ue_udp())).unwrap();
    assert_eq!(reg.impi, IMPI);
    let ids: Vec<String> = reg
        .public_identities
        .iter()
        .map(|i| i.uri.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "sip:alice@home.net",
            "sip:alice.work@home.net",
            "tel:+15551230001"
        ]
    );
    assert_eq!(reg.service_route.len(), 1);
    assert_eq!(
        reg.service_route[0].uri.to_string(),
        "sip:orig@scscf.home.net;lr"
    );
    assert_eq!(reg.contacts.len(), 1);
    assert_eq!(reg.contacts[0].address.uri.to_string(), CONTACT);
    assert_eq!(
        reg.contacts[0].expires_at,
        net.now + Duration::from_secs(600)
    );
    assert_eq!(reg.source, ue_udp());
    assert!(!reg.outbound);
    // The keys of the 401 moved from the pending store into the registration.
    let keys = reg.security_keys.as_ref().unwrap();
    assert_eq!(keys.ck, "0123456789abcdef0123456789abcdef");
    assert!(net.pcscf.pending_security_keys(IMPI, CALL_ID).is_none());
    let by_contact = cache
        .by_contact(&Uri::parse(CONTACT).unwrap(), net.now)
        .unwrap();
    assert_eq!(by_contact.impi, IMPI);
}

#[test]
fn deregistration_empties_the_cache() {
    let mut net = Net::new();
    register_ue(&mut net);
    assert_eq!(net.pcscf.registrations().len(), 1);
    net.deliver(&register(3, 0, ""), ue_udp());
    let out = net.take_to(&icscf());
    net.reply(
        &out,
        200,
        &[("P-Associated-URI", "<sip:alice@home.net>")],
        icscf(),
    );
    assert_eq!(net.take_to(&ue_udp()).status(), Some(StatusCode::OK));
    assert!(net.pcscf.registrations().is_empty());
    assert_eq!(Function::poll_timeout(&net.pcscf), None);
}

#[test]
fn expiry_empties_the_cache() {
    let mut net = Net::new();
    register_ue(&mut net);
    let expiry = net.now + Duration::from_secs(600);
    assert_eq!(Function::poll_timeout(&net.pcscf), Some(expiry));
    net.advance(Duration::from_secs(599));
    assert_eq!(net.pcscf.registrations().len(), 1);
    net.advance(Duration::from_secs(1));
    assert!(net.pcscf.registrations().is_empty());
}

#[test]
fn outbound_register_over_tcp_uses_a_flow_token() {
    let mut net = Net::new();
    let ue = net.open_tcp(7, "192.0.2.20:40000");
    let text = register(1, 600, "Supported: outbound, path\n")
        .replace(
            &format!("Contact: <{CONTACT}>"),
            "Contact: <sip:alice@192.0.2.20:40000;transport=tcp>;reg-id=1;\
         +sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"",
        )
        .replace(
            "SIP/2.0/UDP 192.0.2.10:5060",
            "SIP/2.0/TCP 192.0.2.20:40000",
        );
    net.deliver(&text, ue.clone());
    let out = net.take_to(&icscf());
    let path = NameAddr::parse(out.headers().get("Path").unwrap()).unwrap();
    assert_eq!(
        path.uri.param("ob"),
        Some(None),
        "RFC 5626 §5.1: ob on the first hop"
    );
    assert_eq!(path.uri.param("lr"), Some(None));
    let token = path.uri.user().unwrap();
    let (flow, handle) = net.pcscf.flows().lookup(token).unwrap();
    assert_eq!(handle, &ue);
    assert_eq!(flow.remote, addr("192.0.2.20:40000"));
    // Supported: path is not repeated.
    assert_eq!(
        out.headers()
            .values("Supported")
            .filter(|v| *v == "path")
            .count(),
        1
    );

    net.reply(
        &out,
        200,
        &[
            ("P-Associated-URI", "<sip:alice@home.net>"),
            ("Service-Route", "<sip:orig@scscf.home.net;lr>"),
            (
                "Contact",
                "<sip:alice@192.0.2.20:40000;transport=tcp>;expires=600",
            ),
            ("Require", "outbound"),
        ],
        icscf(),
    );
    assert_eq!(net.take_to(&ue).status(), Some(StatusCode::OK));
    let reg = net
        .pcscf
        .registrations()
        .by_source(&pcscf::registration_cache::SourceKey::from(&ue))
        .unwrap();
    assert!(reg.outbound);
    assert_eq!(reg.flow, Some(flow));
    assert_eq!(reg.contacts[0].reg_id, Some(1));
    assert!(matches!(reg.source, Target::Connection(_)));
}

#[test]
fn a_relayed_register_gets_no_flow_token() {
    // Two Vias: we are not the first hop, so RFC 5626 §5.1 gives no `ob` Path.
    let mut net = Net::new();
    let text = register(1, 600, "Supported: outbound\n")
        .replace(
            &format!("Contact: <{CONTACT}>"),
            "Contact: <sip:alice@192.0.2.10>;reg-id=1;+sip.instance=\"<urn:uuid:1>\"",
        )
        .replace(
            "Max-Forwards: 70\n",
            "Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKfar\nMax-Forwards: 70\n",
        );
    net.deliver(&text, ue_udp());
    let out = net.take_to(&icscf());
    assert_eq!(
        out.headers().get("Path"),
        Some("<sip:term@pcscf.visited.net:5060;lr>")
    );
}

#[test]
fn udp_flows_end_with_their_registration() {
    let mut net = Net::new();
    register_ue(&mut net);
    assert_eq!(
        net.pcscf.flows().len(),
        1,
        "the UE's UDP flow lives while registered"
    );
    // An unanswered-for-long or failed REGISTER from elsewhere leaves nothing behind once its
    // transaction is over.
    let stranger = ims_transport::Target::Datagram {
        socket: UDP_SOCKET,
        remote: addr("192.0.2.77:5060"),
    };
    let text = register(1, 600, "").replace("reg-call-1", "other").replace(
        "192.0.2.10:5060;branch=z9hG4bKreg1",
        "192.0.2.77:5060;branch=z9hG4bKx1",
    );
    net.deliver(&text, stranger.clone());
    let out = net.take_to(&icscf());
    assert_eq!(net.pcscf.flows().len(), 2);
    net.reply(&out, 403, &[], icscf());
    assert_eq!(net.take_to(&stranger).status(), Some(StatusCode::FORBIDDEN));
    net.advance(Duration::from_secs(40));
    assert_eq!(net.pcscf.flows().len(), 1);
    // De-registration: the flow goes too.
    net.deliver(&register(3, 0, ""), ue_udp());
    let out = net.take_to(&icscf());
    net.reply(&out, 200, &[], icscf());
    net.take_to(&ue_udp());
    net.advance(Duration::from_secs(40));
    assert!(net.pcscf.registrations().is_empty());
    assert!(net.pcscf.flows().is_empty());
}

#[test]
fn an_unchallenged_reregistration_keeps_the_keys_and_refreshes_expiry() {
    let mut net = Net::new();
    register_ue(&mut net);
    net.advance(Duration::from_secs(300));
    net.deliver(&register(3, 600, ""), ue_udp());
    let out = net.take_to(&icscf());
    net.reply(
        &out,
        200,
        &[
            ("P-Associated-URI", "<sip:alice@home.net>"),
            ("Service-Route", "<sip:orig@scscf.home.net;lr>"),
            ("Contact", &format!("<{CONTACT}>;expires=1200")),
        ],
        icscf(),
    );
    assert_eq!(net.take_to(&ue_udp()).status(), Some(StatusCode::OK));
    let cache = net.pcscf.registrations();
    assert_eq!(cache.len(), 1);
    let reg = cache.by_source(&SourceKey::from(&ue_udp())).unwrap();
    assert!(reg.security_keys.is_some());
    assert_eq!(reg.public_identities.len(), 1);
    assert_eq!(
        reg.contacts[0].expires_at,
        net.now + Duration::from_secs(1200)
    );
}
