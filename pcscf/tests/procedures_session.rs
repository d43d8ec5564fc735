//! Originating and terminating requests through the P-CSCF (TS 24.229 §5.2.6) with a real
//! proxy core on virtual time.

mod harness;

use harness::*;
use ims_sip::header::{NameAddr, PChargingVector};
use ims_sip::{Message, StatusCode};
use ims_transport::Target;
use pcscf::function::{ORIGINATING_RR_USER, PATH_USER, TERMINATING_RR_USER};

fn scscf() -> Target {
    core(SCSCF_ADDR)
}

/// An INVITE from the UE with `extra` header lines.
fn ue_invite(branch: &str, extra: &str) -> String {
    format!(
        "INVITE sip:bob@home.net SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{branch};rport\n\
         Max-Forwards: 70\n\
         Route: <sip:pcscf.visited.net:5060;lr>, <sip:somewhere.else.net;lr>\n\
         From: <sip:alice@home.net>;tag=a1\n\
         To: <sip:bob@home.net>\n\
         Call-ID: call-{branch}\n\
         CSeq: 1 INVITE\n\
         Contact: <{CONTACT}>\n\
         {extra}Content-Length: 0\n\n"
    )
}

/// An INVITE from the S-CSCF for the UE's registered contact, routed by `route`.
fn mt_invite(route: &str, extra: &str) -> String {
    format!(
        "INVITE {CONTACT} SIP/2.0\n\
         Via: SIP/2.0/UDP 10.0.0.4:5060;branch=z9hG4bKmt1\n\
         Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKfar\n\
         Max-Forwards: 60\n\
         Route: {route}\n\
         Record-Route: <sip:mt@scscf.home.net;lr>\n\
         From: <sip:carol@home.net>;tag=c1\n\
         To: <sip:alice@home.net>\n\
         Call-ID: mt-call\n\
         CSeq: 1 INVITE\n\
         Contact: <sip:carol@10.0.0.9>\n\
         P-Asserted-Identity: <sip:carol@home.net>\n\
         P-Charging-Vector: icid-value=core-icid;orig-ioi=home.net\n\
         {extra}Content-Length: 0\n\n"
    )
}

fn path_route() -> String {
    format!("<sip:{PATH_USER}@pcscf.visited.net:5060;lr>")
}

#[test]
fn originating_invite_gets_pai_service_route_and_record_route() {
    let mut net = Net::new();
    register_ue(&mut net);
    net.deliver(
        &ue_invite(
            "o1",
            "P-Preferred-Identity: <sip:alice.work@home.net>\n\
             P-Asserted-Identity: <sip:boss@home.net>\n\
             P-Charging-Vector: icid-value=ue-made\n",
        ),
        ue_udp(),
    );
    let out = net.take_to(&scscf());
    // The registered preferred identity is asserted; the UE's own claims are gone.
    let pai: Vec<&str> = out.headers().values("P-Asserted-Identity").collect();
    assert_eq!(pai, vec!["<sip:alice.work@home.net>"]);
    assert!(!out.headers().contains("P-Preferred-Identity"));
    // The Service-Route replaces the UE's Route set (TS 24.229 §5.2.6.3.2).
    let routes: Vec<&str> = out.headers().values("Route").collect();
    assert_eq!(routes, vec!["<sip:orig@scscf.home.net;lr>"]);
    assert_eq!(out.request_uri().unwrap().to_string(), "sip:bob@home.net");
    // We Record-Route so the dialog's requests traverse us.
    assert_eq!(
        out.headers().values("Record-Route").next(),
        Some(format!("<sip:{ORIGINATING_RR_USER}@pcscf.visited.net:5060;lr>").as_str())
    );
    // Our charging vector only.
    let pcvs: Vec<&str> = out.headers().values("P-Charging-Vector").collect();
    assert_eq!(pcvs.len(), 1);
    let pcv = PChargingVector::parse(pcvs[0]).unwrap();
    assert_ne!(pcv.icid_value(), Some("ue-made"));
    assert_eq!(pcv.icid_generated_at(), Some("pcscf.visited.net"));

    // The answer reaches the UE without charging information.
    net.reply(
        &out,
        200,
        &[
            ("P-Charging-Vector", "icid-value=x;term-ioi=home.net"),
            ("P-Charging-Function-Addresses", "ccf=192.0.2.200"),
            ("Contact", "<sip:bob@10.0.0.9>"),
        ],
        scscf(),
    );
    let ok = net.take_to(&ue_udp());
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert!(!ok.headers().contains("P-Charging-Vector"));
    assert!(!ok.headers().contains("P-Charging-Function-Addresses"));
}

#[test]
fn unregistered_preferred_identity_falls_back_to_the_default() {
    let mut net = Net::new();
    register_ue(&mut net);
    net.deliver(
        &ue_invite("o2", "P-Preferred-Identity: <sip:someone.else@home.net>\n"),
        ue_udp(),
    );
    let out = net.take_to(&scscf());
    let pai: Vec<&str> = out.headers().values("P-Asserted-Identity").collect();
    assert_eq!(pai, vec!["<sip:alice@home.net>"]);
    // Without any preference the default is asserted too, and a forged PAI is dropped.
    net.deliver(
        &ue_invite("o3", "P-Asserted-Identity: <sip:boss@home.net>\n"),
        ue_udp(),
    );
    let out = net.take_to(&scscf());
    let pai: Vec<&str> = out.headers().values("P-Asserted-Identity").collect();
    assert_eq!(pai, vec!["<sip:alice@home.net>"]);
}

#[test]
fn unregistered_source_gets_403() {
    let mut net = Net::new();
    register_ue(&mut net);
    let stranger = Target::Datagram {
        socket: UDP_SOCKET,
        remote: addr("192.0.2.66:5060"),
    };
    net.deliver(&ue_invite("x1", ""), stranger.clone());
    let answer = net.take_to(&stranger);
    assert_eq!(answer.status(), Some(StatusCode::FORBIDDEN));
    assert!(net.sent.is_empty(), "nothing forwarded: {:?}", net.sent);
}

#[test]
fn terminating_invite_reaches_the_registered_flow() {
    let mut net = Net::new();
    register_ue(&mut net);
    net.deliver(&mt_invite(&path_route(), ""), scscf());
    let out = net.take_to(&ue_udp());
    assert_eq!(out.request_uri().unwrap().to_string(), CONTACT);
    assert!(
        !out.headers().contains("Route"),
        "our Path entry was consumed"
    );
    // Record-Route ourselves, above the S-CSCF's entry.
    let rr: Vec<&str> = out.headers().values("Record-Route").collect();
    assert_eq!(
        rr,
        vec![
            format!("<sip:{TERMINATING_RR_USER}@pcscf.visited.net:5060;lr>").as_str(),
            "<sip:mt@scscf.home.net;lr>"
        ]
    );
    // No Privacy: id, so the caller's identity stays; charging never reaches the UE.
    assert_eq!(
        out.headers().get("P-Asserted-Identity"),
        Some("<sip:carol@home.net>")
    );
    assert!(!out.headers().contains("P-Charging-Vector"));

    // The UE answers; its response gets its asserted identity on the way to the core.
    net.reply(
        &out,
        180,
        &[("P-Asserted-Identity", "<sip:boss@home.net>")],
        ue_udp(),
    );
    let ringing = net.take_to(&scscf());
    assert_eq!(ringing.status(), Some(StatusCode::RINGING));
    let pai: Vec<&str> = ringing.headers().values("P-Asserted-Identity").collect();
    assert_eq!(pai, vec!["<sip:alice@home.net>"]);
}

#[test]
fn privacy_id_removes_the_asserted_identity() {
    let mut net = Net::new();
    register_ue(&mut net);
    net.deliver(&mt_invite(&path_route(), "Privacy: header;id\n"), scscf());
    let out = net.take_to(&ue_udp());
    assert!(!out.headers().contains("P-Asserted-Identity"));
}

#[test]
fn terminating_request_for_an_unknown_contact_gets_480() {
    let mut net = Net::new();
    net.deliver(&mt_invite(&path_route(), ""), scscf());
    let answer = net.take_to(&scscf());
    assert_eq!(answer.status(), Some(StatusCode::TEMPORARILY_UNAVAILABLE));
}

/// Registers over TCP with outbound; returns the UE's connection and our Path URI.
fn register_outbound(net: &mut Net) -> (Target, NameAddr) {
    let ue = net.open_tcp(7, "192.0.2.20:40000");
    let text = register(1, 600, "Supported: outbound, path\n")
        .replace(
            &format!("Contact: <{CONTACT}>"),
            &format!(
                "Contact: <{CONTACT}>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\""
            ),
        )
        .replace("SIP/2.0/UDP 192.0.2.10:5060", "SIP/2.0/TCP 192.0.2.20:40000");
    net.deliver(&text, ue.clone());
    let out = net.take_to(&icscf());
    let path = NameAddr::parse(out.headers().get("Path").unwrap()).unwrap();
    let contact = format!("<{CONTACT}>;expires=600");
    net.reply(
        &out,
        200,
        &[
            ("P-Associated-URI", "<sip:alice@home.net>"),
            ("Service-Route", "<sip:orig@scscf.home.net;lr>"),
            ("Contact", &contact),
        ],
        icscf(),
    );
    assert_eq!(net.take_to(&ue).status(), Some(StatusCode::OK));
    (ue, path)
}

#[test]
fn terminating_invite_follows_the_flow_token_and_a_dead_flow_gets_430() {
    let mut net = Net::new();
    let (ue, path) = register_outbound(&mut net);
    let route = path.to_string();
    net.deliver(&mt_invite(&route, ""), scscf());
    let out = net.take_to(&ue);
    assert_eq!(out.request_uri().unwrap().to_string(), CONTACT);
    // RFC 5626: we Record-Route with the flow token, so in-dialog requests find the flow.
    let rr = NameAddr::parse(out.headers().values("Record-Route").next().unwrap()).unwrap();
    assert_eq!(rr.uri.user(), path.uri.user());
    assert!(out.top_via().unwrap().transport.eq_ignore_ascii_case("TCP"));

    // The connection closes: RFC 5626 §5.3, the flow failed.
    net.close_tcp(7, "192.0.2.20:40000");
    assert!(net.pcscf.flows().is_empty());
    let again = mt_invite(&route, "").replace("z9hG4bKmt1", "z9hG4bKmt2");
    net.deliver(&again, scscf());
    let answer = net.take_to(&scscf());
    assert_eq!(answer.status(), Some(StatusCode::FLOW_FAILED));
    assert!(net.sent.is_empty());

    // The registration itself stays until the UE re-registers or it expires.
    assert_eq!(net.pcscf.registrations().len(), 1);
}

#[test]
fn a_tampered_flow_token_gets_403() {
    let mut net = Net::new();
    let (_ue, path) = register_outbound(&mut net);
    let token = path.uri.user().unwrap();
    let mut forged: Vec<u8> = token.bytes().collect();
    forged[10] = if forged[10] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).unwrap();
    let route = format!("<sip:{forged}@pcscf.visited.net:5060;lr;ob>");
    net.deliver(&mt_invite(&route, ""), scscf());
    let answer = net.take_to(&scscf());
    assert_eq!(answer.status(), Some(StatusCode::FORBIDDEN));
}

#[test]
fn in_dialog_requests_follow_the_record_route() {
    let mut net = Net::new();
    register_ue(&mut net);
    // The UE's BYE with the dialog's route set: us, then the S-CSCF.
    let bye = format!(
        "BYE sip:bob@10.0.0.9 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbye1;rport\n\
         Max-Forwards: 70\n\
         Route: <sip:{ORIGINATING_RR_USER}@pcscf.visited.net:5060;lr>, <sip:orig@scscf.home.net;lr>\n\
         From: <sip:alice@home.net>;tag=a1\n\
         To: <sip:bob@home.net>;tag=b1\n\
         Call-ID: dialog-1\n\
         CSeq: 2 BYE\n\
         P-Asserted-Identity: <sip:boss@home.net>\n\
         Content-Length: 0\n\n"
    );
    net.deliver(&bye, ue_udp());
    let out = net.take_to(&scscf());
    let routes: Vec<&str> = out.headers().values("Route").collect();
    assert_eq!(routes, vec!["<sip:orig@scscf.home.net;lr>"]);
    assert_eq!(out.request_uri().unwrap().to_string(), "sip:bob@10.0.0.9");
    assert!(!out.headers().contains("Record-Route"));
    assert!(
        !out.headers().contains("P-Asserted-Identity"),
        "untrusted in-dialog PAI removed"
    );

    // The far end's BYE in the other direction reaches the UE.
    let bye = format!(
        "BYE {CONTACT} SIP/2.0\n\
         Via: SIP/2.0/UDP 10.0.0.4:5060;branch=z9hG4bKbye2\n\
         Max-Forwards: 70\n\
         Route: <sip:{ORIGINATING_RR_USER}@pcscf.visited.net:5060;lr>\n\
         From: <sip:bob@home.net>;tag=b1\n\
         To: <sip:alice@home.net>;tag=a1\n\
         Call-ID: dialog-2\n\
         CSeq: 9 BYE\n\
         Content-Length: 0\n\n"
    );
    net.deliver(&bye, scscf());
    let out = net.take_to(&ue_udp());
    assert_eq!(out.request_uri().unwrap().to_string(), CONTACT);
    assert!(!out.headers().contains("Record-Route"));
}

#[test]
fn ack_for_a_2xx_goes_statelessly_along_the_route_set() {
    let mut net = Net::new();
    register_ue(&mut net);
    let ack = "ACK sip:bob@10.0.0.9 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack1;rport\n\
         Max-Forwards: 70\n\
         Route: <sip:mo@pcscf.visited.net:5060;lr>, <sip:orig@scscf.home.net;lr>\n\
         From: <sip:alice@home.net>;tag=a1\n\
         To: <sip:bob@home.net>;tag=b1\n\
         Call-ID: dialog-3\n\
         CSeq: 1 ACK\n\
         Content-Length: 0\n\n";
    net.deliver(ack, ue_udp());
    let out: Message = net.take_to(&scscf());
    assert_eq!(out.method().map(|m| m.as_str()), Some("ACK"));
    assert_eq!(out.headers().values("Via").count(), 2);
    // An ACK from a stranger is dropped, never answered.
    let stranger = Target::Datagram {
        socket: UDP_SOCKET,
        remote: addr("192.0.2.66:5060"),
    };
    net.deliver(
        &ack.replace("ack1", "ack2")
            .replace("Route: <sip:mo@pcscf.visited.net:5060;lr>, ", "Route: "),
        stranger,
    );
    assert!(net.sent.is_empty(), "{:?}", net.sent);
}

#[test]
fn a_retransmitted_2xx_after_the_transactions_ended_reaches_the_ue_flow() {
    let mut net = Net::new();
    register_ue(&mut net);
    net.deliver(&ue_invite("s1", ""), ue_udp());
    let out = net.take_to(&scscf());
    net.reply(&out, 200, &[("Contact", "<sip:bob@10.0.0.9>")], scscf());
    assert_eq!(net.take_to(&ue_udp()).status(), Some(StatusCode::OK));
    // Long after every transaction ended (RFC 6026 Timers L and M), the far end retransmits.
    net.advance(std::time::Duration::from_secs(64));
    net.reply(
        &out,
        200,
        &[
            ("Contact", "<sip:bob@10.0.0.9>"),
            ("P-Charging-Vector", "icid-value=x"),
        ],
        scscf(),
    );
    let again = net.take_to(&ue_udp());
    assert_eq!(again.status(), Some(StatusCode::OK));
    assert_eq!(again.headers().values("Via").count(), 1, "our Via removed");
    assert!(!again.headers().contains("P-Charging-Vector"));
}

#[test]
fn without_a_service_route_originating_requests_are_refused() {
    let mut net = Net::new();
    net.deliver(&register(1, 600, ""), ue_udp());
    let out = net.take_to(&icscf());
    let contact = format!("<{CONTACT}>;expires=600");
    net.reply(
        &out,
        200,
        &[
            ("P-Associated-URI", "<sip:alice@home.net>"),
            ("Contact", &contact),
        ],
        icscf(),
    );
    assert_eq!(net.take_to(&ue_udp()).status(), Some(StatusCode::OK));
    net.deliver(&ue_invite("n1", ""), ue_udp());
    let answer = net.take_to(&ue_udp());
    assert_eq!(answer.status(), Some(StatusCode::FORBIDDEN));
    assert!(net.sent.is_empty());
}

#[test]
fn ack_towards_the_ue_follows_its_flow() {
    let mut net = Net::new();
    register_ue(&mut net);
    let ack = format!(
        "ACK {CONTACT} SIP/2.0\n\
         Via: SIP/2.0/UDP 10.0.0.4:5060;branch=z9hG4bKack9\n\
         Max-Forwards: 70\n\
         Route: <sip:{TERMINATING_RR_USER}@pcscf.visited.net:5060;lr>\n\
         From: <sip:carol@home.net>;tag=c1\n\
         To: <sip:alice@home.net>;tag=a9\n\
         Call-ID: mt-call\n\
         CSeq: 1 ACK\n\
         P-Charging-Vector: icid-value=core\n\
         Content-Length: 0\n\n"
    );
    net.deliver(&ack, scscf());
    let out = net.take_to(&ue_udp());
    assert_eq!(out.method().map(|m| m.as_str()), Some("ACK"));
    assert_eq!(out.request_uri().unwrap().to_string(), CONTACT);
    assert!(!out.headers().contains("P-Charging-Vector"));
}

#[test]
fn with_core_sources_only_the_core_reaches_ues() {
    let config = CONFIG.replace("[hosts]", "core_sources = [\"10.0.0.4\"]\n[hosts]");
    let mut net = Net::with_config(&config);
    register_ue(&mut net);
    // From the S-CSCF's address: delivered.
    net.deliver(&mt_invite(&path_route(), ""), scscf());
    assert_eq!(
        net.take_to(&ue_udp()).method().map(|m| m.as_str()),
        Some("INVITE")
    );
    // The same request from another machine is refused.
    let elsewhere = core("10.9.9.9:5060");
    let forged = mt_invite(&path_route(), "").replace("z9hG4bKmt1", "z9hG4bKmt7");
    net.deliver(&forged, elsewhere.clone());
    assert_eq!(
        net.take_to(&elsewhere).status(),
        Some(StatusCode::FORBIDDEN)
    );
    assert!(
        net.sent.iter().all(|(d, _)| *d != ue_udp()),
        "nothing reached the UE"
    );
}
