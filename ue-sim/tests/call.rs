//! Calls between two UEs through an in-memory relay (RFC 3261 §12-§15), on virtual time.

mod support;

use std::time::Duration;

use ims_aka::DigestAlgorithm;
use ims_sip::{Method, StatusCode, Uri};
use support::*;
use ue_sim::{CallHandle, CallState, EndReason, UeEvent};

const ALICE: &str = "192.0.2.10:5060";
const BOB: &str = "192.0.2.20:5060";
const RELAY: &str = "192.0.2.2:5060";
const REGISTRAR: &str = "192.0.2.1:5060";

const A: usize = 0;
const B: usize = 1;

/// Alice and Bob registered through the relay; the registrar gives a Service-Route that
/// points at the relay.
fn setup() -> Net {
    let set = test_set(1);
    let mut net = Net::new();
    let mut reg = FakeRegistrar::aka(&set, DigestAlgorithm::AkaV1Md5);
    reg.service_route = Some(format!("<sip:orig@{RELAY};lr>"));
    net.registrar = Some((addr(REGISTRAR), reg));
    let mut relay = Relay::new(addr(RELAY));
    relay.registrar = Some(addr(REGISTRAR));
    relay.locations.insert("alice".into(), addr(ALICE));
    relay.locations.insert("bob".into(), addr(BOB));
    net.relay = Some(relay);
    net.add_ue(ue_config(
        "alice",
        aka_credentials(&set, true),
        addr(ALICE),
        addr(RELAY),
    ));
    net.add_ue(ue_config(
        "bob",
        aka_credentials(&set, false),
        addr(BOB),
        addr(RELAY),
    ));
    for i in [A, B] {
        let now = net.now;
        net.ues[i].register(now).unwrap();
        net.run_for(Duration::from_millis(1));
        assert!(
            matches!(net.events[i][..], [UeEvent::Registered { .. }]),
            "{:?}",
            net.events[i]
        );
        net.events[i].clear();
    }
    net
}

fn bob_uri() -> Uri {
    Uri::parse("sip:bob@ims.example").unwrap()
}

/// Alice calls Bob; returns both call handles once Bob rings.
fn ring(net: &mut Net) -> (CallHandle, CallHandle) {
    let now = net.now;
    let a_call = net.ues[A].call(now, bob_uri()).unwrap();
    net.run_for(Duration::from_millis(1));
    let b_call = match net.events[B].first() {
        Some(UeEvent::IncomingCall { call, from, to }) => {
            assert_eq!(from, "sip:alice@ims.example");
            assert_eq!(to, "sip:bob@ims.example");
            *call
        }
        other => panic!("Bob got {other:?}"),
    };
    (a_call, b_call)
}

#[test]
fn call_setup_and_bye_through_relay() {
    let mut net = setup();
    let (a_call, b_call) = ring(&mut net);
    assert_eq!(net.events[A], vec![UeEvent::CallRinging { call: a_call }]);
    // The INVITE carried the Service-Route as Route (TS 24.229 §5.1.2A.1.1) and an offer.
    let invite = net.requests_from(addr(ALICE), &Method::INVITE)[0]
        .message
        .clone();
    assert_eq!(
        invite.headers().get("Route"),
        Some(format!("<sip:orig@{RELAY};lr>").as_str())
    );
    assert!(std::str::from_utf8(invite.body())
        .unwrap()
        .contains("m=audio"));

    let now = net.now;
    net.ues[B].answer(now, b_call).unwrap();
    net.run_for(Duration::from_millis(1));
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallEstablished { call: a_call })
    );
    assert_eq!(
        net.events[B].last(),
        Some(&UeEvent::CallEstablished { call: b_call })
    );
    assert_eq!(net.ues[A].call_state(a_call), Some(CallState::Confirmed));
    assert_eq!(net.ues[B].call_state(b_call), Some(CallState::Confirmed));
    // The 200 carried an SDP answer with one codec; the ACK went through the relay
    // (Record-Route) to Bob's contact.
    let ok = net.responses(200, &Method::INVITE)[0].message.clone();
    assert!(std::str::from_utf8(ok.body())
        .unwrap()
        .contains("m=audio 40000 RTP/AVP 0\r\n"));
    let ack = net.requests_from(addr(ALICE), &Method::ACK)[0]
        .message
        .clone();
    assert_eq!(
        ack.request_uri().unwrap().to_string(),
        // Bob's registered with outbound, so his Contact carries `ob` (RFC 5626 §4.3).
        format!("sip:bob@{BOB};ob")
    );
    assert_eq!(
        ack.headers().get("Route"),
        Some(format!("<sip:{RELAY};lr>").as_str())
    );
    assert_eq!(ack.cseq().unwrap().seq, invite.cseq().unwrap().seq);
    // No 2xx retransmission once the ACK arrived.
    net.run_for(Duration::from_secs(40));
    assert_eq!(
        net.responses(200, &Method::INVITE).len(),
        2,
        "200 once per hop"
    );

    let now = net.now;
    net.ues[A].hangup(now, a_call).unwrap();
    net.run_for(Duration::from_millis(1));
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::LocalHangup
        })
    );
    assert_eq!(
        net.events[B].last(),
        Some(&UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::RemoteHangup
        })
    );
    let bye = net.requests_from(addr(ALICE), &Method::BYE)[0]
        .message
        .clone();
    assert_eq!(bye.cseq().unwrap().seq, invite.cseq().unwrap().seq + 1);
    assert_eq!(net.responses(200, &Method::BYE).len(), 2);
    // Ended calls are forgotten after 64·T1.
    net.run_for(Duration::from_secs(33));
    assert_eq!(net.ues[A].call_state(a_call), None);
    assert_eq!(net.ues[B].call_state(b_call), None);
}

#[test]
fn callee_hangs_up() {
    let mut net = setup();
    let (a_call, b_call) = ring(&mut net);
    let now = net.now;
    net.ues[B].answer(now, b_call).unwrap();
    net.run_for(Duration::from_millis(1));
    let now = net.now;
    net.ues[B].hangup(now, b_call).unwrap();
    net.run_for(Duration::from_millis(1));
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::RemoteHangup
        })
    );
    assert_eq!(
        net.events[B].last(),
        Some(&UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::LocalHangup
        })
    );
    // Bob's BYE used the route set from the Record-Route, in order, to Alice's contact.
    let bye = net.requests_from(addr(BOB), &Method::BYE)[0]
        .message
        .clone();
    assert_eq!(
        bye.request_uri().unwrap().to_string(),
        format!("sip:alice@{ALICE};ob")
    );
    assert_eq!(
        bye.headers().get("Route"),
        Some(format!("<sip:{RELAY};lr>").as_str())
    );
}

#[test]
fn cancel_before_answer_gives_487() {
    let mut net = setup();
    let (a_call, b_call) = ring(&mut net);
    let now = net.now;
    net.ues[A].cancel(now, a_call).unwrap();
    net.run_for(Duration::from_millis(1));
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::Cancelled
        })
    );
    assert_eq!(
        net.events[B].last(),
        Some(&UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::CancelledByCaller
        })
    );
    assert!(!net.responses(487, &Method::INVITE).is_empty());
    assert!(!net.responses(200, &Method::CANCEL).is_empty());
    // The 487 was ACKed by Alice's INVITE client transaction (§17.1.1.3).
    assert_eq!(net.requests_from(addr(ALICE), &Method::ACK).len(), 1);
    // Answering a cancelled call is refused.
    let now = net.now;
    assert!(net.ues[B].answer(now, b_call).is_err());
}

#[test]
fn rejections_are_reported_with_their_status() {
    for status in [
        StatusCode::BUSY_HERE,
        StatusCode::TEMPORARILY_UNAVAILABLE,
        StatusCode::NOT_FOUND,
    ] {
        let mut net = setup();
        let (a_call, b_call) = ring(&mut net);
        let now = net.now;
        net.ues[B].reject(now, b_call, status).unwrap();
        net.run_for(Duration::from_millis(1));
        assert_eq!(
            net.events[A].last(),
            Some(&UeEvent::CallFailed {
                call: a_call,
                status
            })
        );
        assert_eq!(
            net.events[B].last(),
            Some(&UeEvent::CallEnded {
                call: b_call,
                reason: EndReason::Rejected(status)
            })
        );
    }
}

#[test]
fn lossy_udp_retransmissions_complete_the_call() {
    let mut net = setup();
    // Drop the first copy of: INVITE from Alice, 200 to INVITE reaching Alice, ACK from
    // Alice, BYE from Alice.
    let mut dropped = std::collections::HashSet::new();
    net.drop = Box::new(move |p| {
        let key = match (p.message.method(), p.message.status()) {
            (Some(m), _) if p.src == addr(ALICE) => format!("req {m}"),
            (None, Some(s)) if s.0 == 200 && p.dst == addr(ALICE) => {
                format!(
                    "resp {}",
                    p.message
                        .cseq()
                        .map(|c| c.method.to_string())
                        .unwrap_or_default()
                )
            }
            _ => return false,
        };
        let wanted = ["req INVITE", "resp INVITE", "req ACK", "req BYE"];
        wanted.contains(&key.as_str()) && dropped.insert(key)
    });
    let now = net.now;
    let a_call = net.ues[A].call(now, bob_uri()).unwrap();
    net.run_for(Duration::from_millis(1));
    assert!(net.events[B].is_empty(), "the INVITE was lost");
    net.run_for(Duration::from_millis(600)); // Timer A fires at T1
    let b_call = match net.events[B].first() {
        Some(UeEvent::IncomingCall { call, .. }) => *call,
        other => panic!("Bob got {other:?}"),
    };
    let now = net.now;
    net.ues[B].answer(now, b_call).unwrap();
    net.run_for(Duration::from_secs(5));
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallEstablished { call: a_call })
    );
    assert_eq!(
        net.events[B].last(),
        Some(&UeEvent::CallEstablished { call: b_call })
    );
    let now = net.now;
    net.ues[A].hangup(now, a_call).unwrap();
    net.run_for(Duration::from_secs(5));
    assert!(matches!(
        net.events[A].last(),
        Some(UeEvent::CallEnded {
            reason: EndReason::LocalHangup,
            ..
        })
    ));
    assert!(matches!(
        net.events[B].last(),
        Some(UeEvent::CallEnded {
            reason: EndReason::RemoteHangup,
            ..
        })
    ));
    // Each loss was repaired by a retransmission: INVITE (Timer A), 200 (UAS core,
    // §13.3.1.4) twice since the first ACK was lost too, ACK re-sent per 2xx, BYE (Timer E).
    assert_eq!(net.requests_from(addr(ALICE), &Method::INVITE).len(), 2);
    assert!(net.requests_from(addr(BOB), &Method::INVITE).is_empty());
    let bob_oks = net
        .log
        .iter()
        .filter(|p| p.src == addr(BOB) && p.message.status() == Some(StatusCode::OK))
        .filter(|p| p.message.cseq().is_ok_and(|c| c.method == Method::INVITE))
        .count();
    assert!(bob_oks >= 3, "Bob sent the 200 {bob_oks} times");
    assert!(net.requests_from(addr(ALICE), &Method::ACK).len() >= 2);
    assert_eq!(net.requests_from(addr(ALICE), &Method::BYE).len(), 2);
}

#[test]
fn missing_ack_ends_the_call_with_bye_after_64_t1() {
    let mut net = setup();
    net.drop = Box::new(|p| p.message.method() == Some(&Method::ACK));
    let (a_call, b_call) = ring(&mut net);
    let now = net.now;
    net.ues[B].answer(now, b_call).unwrap();
    net.run_for(Duration::from_secs(31));
    assert_eq!(net.ues[B].call_state(b_call), Some(CallState::Answered));
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.events[B].last(),
        Some(&UeEvent::CallEnded {
            call: b_call,
            reason: EndReason::AckTimeout
        })
    );
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallEnded {
            call: a_call,
            reason: EndReason::RemoteHangup
        })
    );
    // T1, 2T1, 4T1, then T2 (4 s) intervals over 32 s: about 11 retransmissions.
    let oks = net
        .log
        .iter()
        .filter(|p| p.src == addr(BOB) && p.message.status() == Some(StatusCode::OK))
        .filter(|p| p.message.cseq().is_ok_and(|c| c.method == Method::INVITE))
        .count();
    assert!((9..=13).contains(&oks), "{oks} 2xx transmissions");
}

#[test]
fn unknown_target_times_out_and_bad_commands_are_refused() {
    let mut net = setup();
    let now = net.now;
    let call = net.ues[A]
        .call(now, Uri::parse("sip:nobody@ims.example").unwrap())
        .unwrap();
    net.run_for(Duration::from_secs(40));
    assert_eq!(
        net.events[A].last(),
        Some(&UeEvent::CallFailed {
            call,
            status: StatusCode::REQUEST_TIMEOUT
        })
    );
    let now = net.now;
    assert!(net.ues[A].answer(now, call).is_err());
    assert!(net.ues[A].hangup(now, CallHandle(999)).is_err());
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let mut net = setup();
    let now = net.now;
    let a_call = net.ues[A].call(now, bob_uri()).unwrap();
    // Nothing has been delivered yet: §9.1 forbids sending the CANCEL now.
    net.ues[A].cancel(now, a_call).unwrap();
    net.run_for(Duration::from_millis(1));
    let position = |pred: &dyn Fn(&Packet) -> bool| net.log.iter().position(pred).unwrap();
    let first_provisional = position(&|p| {
        p.dst == addr(ALICE) && p.message.status().is_some_and(|s| s.is_provisional())
    });
    let cancel = position(&|p| p.src == addr(ALICE) && p.message.method() == Some(&Method::CANCEL));
    assert!(cancel > first_provisional);
    assert!(matches!(
        net.events[A].last(),
        Some(UeEvent::CallEnded {
            reason: EndReason::Cancelled,
            ..
        })
    ));
}

#[test]
fn stray_and_unsupported_requests_get_precise_answers() {
    let mut net = setup();
    let now = net.now;
    let relay = addr(RELAY);
    let request = |method: &str, to_tag: &str| {
        format!(
            "{method} sip:bob@{BOB} SIP/2.0\r\nVia: SIP/2.0/UDP {RELAY};branch=z9hG4bK{method}1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:x@ims.example>;tag=f1\r\nTo: <sip:bob@ims.example>{to_tag}\r\n\
             Call-ID: stray-{method}\r\nCSeq: 7 {method}\r\nContact: <sip:x@{RELAY}>\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let mut answer = |bytes: String| {
        net.ues[B]
            .handle_bytes(now, relay, bytes.as_bytes())
            .unwrap();
        // The last answer (an INVITE server transaction sends 100 Trying first).
        let mut last = None;
        while let Some(t) = net.ues[B].poll_transmit() {
            assert_eq!(t.destination, relay);
            last = t.message.status();
        }
        last.expect("an answer").0
    };
    // §15.1.2: BYE outside any dialog.
    assert_eq!(answer(request("BYE", ";tag=nope")), 481);
    // §11.2: OPTIONS is answered with our capabilities.
    assert_eq!(answer(request("OPTIONS", "")), 200);
    // §8.2.1: a method we do not implement.
    assert_eq!(answer(request("MESSAGE", "")), 405);
    // A re-INVITE for a dialog we do not have (session modification is not implemented).
    assert_eq!(answer(request("INVITE", ";tag=x")), 488);
    // RFC 3264 §6: an offer without a codec we support.
    let sdp = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 5000 RTP/AVP 18\r\n";
    let offer = request("INVITE", "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    );
    let offer = offer
        .replace("stray-INVITE", "g729-only")
        .replace("z9hG4bKINVITE1", "z9hG4bKINVITE2");
    assert_eq!(answer(offer), 488);
    // Garbage is an error, never a panic, and is not answered.
    assert!(net.ues[B]
        .handle_bytes(now, relay, b"\x00\xffnot sip")
        .is_err());
    assert!(net.ues[B].poll_transmit().is_none());
    assert!(net.ues[B].poll_event().is_none());
}

#[test]
fn late_2xx_after_timeout_is_acked_and_ended_with_bye() {
    let mut net = setup();
    let now = net.now;
    let call = net.ues[A]
        .call(now, Uri::parse("sip:nobody@ims.example").unwrap())
        .unwrap();
    net.run_for(Duration::from_secs(40));
    assert!(matches!(
        net.events[A].last(),
        Some(UeEvent::CallFailed { .. })
    ));
    // A 2xx turns up after Timer B: the INVITE client transaction is gone.
    let invite = net.requests_from(addr(ALICE), &Method::INVITE)[0]
        .message
        .clone();
    let mut ok = ims_sip::Message::response_to(&invite, StatusCode::OK);
    ok.headers_mut()
        .set("To", "<sip:nobody@ims.example>;tag=late");
    ok.headers_mut().push("Contact", "<sip:nobody@192.0.2.99>");
    let now = net.now;
    net.ues[A].handle_message(now, addr(RELAY), ok).unwrap();
    let sent: Vec<_> = std::iter::from_fn(|| net.ues[A].poll_transmit()).collect();
    let methods: Vec<String> = sent
        .iter()
        .filter_map(|t| t.message.method().map(|m| m.to_string()))
        .collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    assert_eq!(
        sent[1].message.request_uri().unwrap().to_string(),
        "sip:nobody@192.0.2.99"
    );
    // Nothing new is reported for the failed call.
    assert!(net.ues[A].poll_event().is_none());
    assert_eq!(net.ues[A].call_state(call), Some(CallState::Ended));
}
