//! RFC 6733 §5.6 peer state machine and RFC 3539 watchdog, on virtual time: every test drives
//! a sans-IO [`Peer`] with explicit instants and plays the remote side with the base messages.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ims_diameter::avp::{code, Avp, VendorId};
use ims_diameter::header::{ApplicationId, CommandCode, CommandFlags, Header};
use ims_diameter::message::Message;
use ims_diameter::peer::{
    node_capabilities, wire, with_cx, Capabilities, ConnectionId, DisconnectCause, Peer,
    PeerConfig, PeerEvent, PeerState, RequestFailure, RequestToken, Transmit, WatchdogState,
};
use ims_diameter::result::ResultCode;

const I: ConnectionId = ConnectionId(1);
const R: ConnectionId = ConnectionId(2);
const R2: ConnectionId = ConnectionId(3);

fn caps(host: &str) -> Capabilities {
    with_cx(node_capabilities(
        host,
        "example.net",
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    ))
}

fn config(local: &str, remote: &str) -> PeerConfig {
    let mut c = PeerConfig::new(caps(local), remote);
    c.seed = 7;
    c.unix_time = 1_700_000_000;
    c
}

/// Everything the peer queued: transmits decoded, and events.
fn drain(peer: &mut Peer) -> (Vec<(ConnectionId, Message)>, Vec<PeerEvent>) {
    let mut tx = Vec::new();
    while let Some(Transmit {
        connection,
        payload,
    }) = peer.poll_transmit()
    {
        tx.push((
            connection,
            Message::decode(&payload).expect("peer emits valid messages"),
        ));
    }
    let mut ev = Vec::new();
    while let Some(e) = peer.poll_event() {
        ev.push(e);
    }
    (tx, ev)
}

fn command(m: &Message) -> (CommandCode, bool) {
    (m.header.command_code, m.header.is_request())
}

fn cx_request(session: &str) -> Message {
    Message {
        header: Header::request(
            CommandCode::USER_AUTHORIZATION,
            ApplicationId::CX,
            true,
            0,
            0,
        ),
        avps: vec![
            Avp::utf8_string(code::SESSION_ID, None, session),
            Avp::diameter_identity(code::DESTINATION_REALM, None, "example.net"),
        ],
    }
}

fn answer(request: &Message, result: ResultCode) -> Message {
    Message {
        header: request.header.answer(),
        avps: vec![Avp::unsigned32(code::RESULT_CODE, None, result.0)],
    }
}

/// A client peer "a.example.net" brought to I-Open with "hss.example.net".
fn open_initiator(t0: Instant) -> Peer {
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    let (tx, _) = drain(&mut p);
    let cea = wire::cea(&caps("hss.example.net"), &tx[0].1, ResultCode::SUCCESS);
    p.handle_message(t0, I, cea);
    drain(&mut p);
    assert_eq!(p.state(), PeerState::IOpen);
    p
}

#[test]
fn start_connect_cer_cea_reaches_i_open() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    assert_eq!(p.state(), PeerState::Closed);
    p.start(t0);
    assert_eq!(p.state(), PeerState::WaitConnAck);
    let (tx, ev) = drain(&mut p);
    assert!(tx.is_empty());
    assert_eq!(ev, vec![PeerEvent::Connect]);

    p.handle_connected(t0, I);
    assert_eq!(p.state(), PeerState::WaitICea);
    let (tx, _) = drain(&mut p);
    assert_eq!(tx.len(), 1);
    let (conn, cer) = &tx[0];
    assert_eq!(*conn, I);
    assert_eq!(command(cer), (CommandCode::CAPABILITIES_EXCHANGE, true));
    assert_eq!(wire::origin_host(cer), Some("a.example.net"));
    let advertised = wire::parse_capabilities(cer).unwrap();
    assert_eq!(advertised.supported_vendor_ids, vec![VendorId::TGPP]);
    assert_eq!(advertised.vendor_specific_application_ids.len(), 1);

    let cea = wire::cea(&caps("hss.example.net"), cer, ResultCode::SUCCESS);
    assert_eq!(cea.header.hop_by_hop, cer.header.hop_by_hop);
    p.handle_message(t0, I, cea);
    assert_eq!(p.state(), PeerState::IOpen);
    assert_eq!(p.watchdog_state(), WatchdogState::Okay);
    assert!(p.is_available());
    let (_, ev) = drain(&mut p);
    assert!(ev.iter().any(|e| matches!(e,
        PeerEvent::Opened { connection, applications, .. }
            if *connection == I && applications == &vec![ApplicationId::CX])));
    assert!(ev.contains(&PeerEvent::Availability(true)));
    assert_eq!(
        p.remote().map(|r| r.origin_host.as_str()),
        Some("hss.example.net")
    );
}

#[test]
fn backoff_delays_double_per_failed_attempt() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..6 {
        drain(&mut p);
        p.handle_connect_failed(now);
        let at = p.poll_timeout().expect("reconnect scheduled");
        delays.push(at - now);
        now = at;
        p.handle_timeout(now);
        assert_eq!(p.state(), PeerState::WaitConnAck);
    }
    let expected = [1u64, 2, 4, 8, 16, 30];
    for (d, e) in delays.iter().zip(expected) {
        let e = Duration::from_secs(e);
        assert!(*d >= e * 3 / 4 && *d <= e * 5 / 4, "{d:?} vs {e:?}");
    }
}

#[test]
fn wait_conn_ack_timeout_closes() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    let t = p.poll_timeout().unwrap();
    assert_eq!(t - t0, Duration::from_secs(10));
    p.handle_timeout(t);
    assert_eq!(p.state(), PeerState::Closed);
    // A connection that completes after the timeout is closed at once.
    drain(&mut p);
    p.handle_connected(t, I);
    let (tx, ev) = drain(&mut p);
    assert!(tx.is_empty());
    assert_eq!(ev, vec![PeerEvent::Disconnect(I)]);
}

#[test]
fn wait_i_cea_timeout_and_non_cea_are_errors() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    let t = p.poll_timeout().unwrap();
    p.handle_timeout(t);
    assert_eq!(p.state(), PeerState::Closed);
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Disconnect(I)));

    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    drain(&mut p);
    let dwr = wire::dwr(&caps("hss.example.net"), 5, 5);
    p.handle_message(t0, I, dwr);
    assert_eq!(p.state(), PeerState::Closed);
}

#[test]
fn rejected_cea_does_not_open() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    let (tx, _) = drain(&mut p);
    let cea = wire::cea(
        &caps("hss.example.net"),
        &tx[0].1,
        ResultCode::NO_COMMON_APPLICATION,
    );
    p.handle_message(t0, I, cea);
    assert_eq!(p.state(), PeerState::Closed);
    assert!(!p.is_available());
    let (_, ev) = drain(&mut p);
    assert!(ev.iter().any(|e| matches!(e,
        PeerEvent::CapabilitiesFailed(err) if err.result_code() == ResultCode::NO_COMMON_APPLICATION)));
}

#[test]
fn responder_accepts_cer_and_reaches_r_open() {
    let t0 = Instant::now();
    let mut cfg = config("hss.example.net", "a.example.net");
    cfg.initiator = false;
    let mut p = Peer::new(cfg);
    p.start(t0); // no effect on a responder-only peer
    assert_eq!(p.state(), PeerState::Closed);
    let cer = wire::cer(&caps("a.example.net"), 77, 88);
    p.handle_incoming_cer(t0, R, cer);
    assert_eq!(p.state(), PeerState::ROpen);
    let (tx, ev) = drain(&mut p);
    assert_eq!(tx.len(), 1);
    let (conn, cea) = &tx[0];
    assert_eq!(*conn, R);
    assert_eq!(command(cea), (CommandCode::CAPABILITIES_EXCHANGE, false));
    assert_eq!(wire::result_code(cea), Some(ResultCode::SUCCESS));
    assert_eq!(cea.header.hop_by_hop, 77);
    assert_eq!(cea.header.end_to_end, 88);
    assert!(ev.contains(&PeerEvent::Availability(true)));
}

#[test]
fn cer_from_wrong_host_is_3010_and_unknown_peer_cea_is_3010() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("hss.example.net", "a.example.net"));
    let cer = wire::cer(&caps("intruder.example.net"), 1, 1);
    p.handle_incoming_cer(t0, R, cer.clone());
    assert_eq!(p.state(), PeerState::Closed);
    let (tx, ev) = drain(&mut p);
    assert_eq!(wire::result_code(&tx[0].1), Some(ResultCode::UNKNOWN_PEER));
    assert!(
        tx[0].1.header.flags.is_error(),
        "3xxx answers carry the E bit"
    );
    assert!(matches!(ev.as_slice(),
        [PeerEvent::CapabilitiesFailed(e), PeerEvent::Disconnect(R)]
            if e.result_code() == ResultCode::UNKNOWN_PEER));

    let cea = wire::unknown_peer_cea(&caps("hss.example.net"), &cer);
    assert_eq!(wire::result_code(&cea), Some(ResultCode(3010)));
}

#[test]
fn cer_without_common_application_is_5010() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("hss.example.net", "a.example.net"));
    let mut other = node_capabilities(
        "a.example.net",
        "example.net",
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    );
    other.auth_application_ids.push(ApplicationId(4)); // Credit-Control only
    other.supported_vendor_ids.push(VendorId::TGPP);
    let cer = wire::cer(&other, 1, 1);
    p.handle_incoming_cer(t0, R, cer);
    assert_eq!(p.state(), PeerState::Closed);
    let (tx, ev) = drain(&mut p);
    assert_eq!(
        wire::result_code(&tx[0].1),
        Some(ResultCode::NO_COMMON_APPLICATION)
    );
    assert!(!tx[0].1.header.flags.is_error());
    assert_eq!(ev.last(), Some(&PeerEvent::Disconnect(R)));
}

#[test]
fn election_won_in_wait_conn_ack_elect_keeps_responder_connection() {
    let t0 = Instant::now();
    // "b" > "a": we win.
    let mut p = Peer::new(config("b.example.net", "a.example.net"));
    p.start(t0);
    drain(&mut p);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("a.example.net"), 1, 1));
    assert_eq!(p.state(), PeerState::WaitConnAckElect);
    assert!(drain(&mut p).0.is_empty(), "no CEA before the election");
    p.handle_connected(t0, I);
    // I-Snd-CER, Elect -> Win-Election: I-Disc, R-Snd-CEA -> R-Open.
    assert_eq!(p.state(), PeerState::ROpen);
    let (tx, ev) = drain(&mut p);
    assert_eq!(
        command(&tx[0].1),
        (CommandCode::CAPABILITIES_EXCHANGE, true)
    );
    assert_eq!(tx[0].0, I);
    assert_eq!(
        command(&tx[1].1),
        (CommandCode::CAPABILITIES_EXCHANGE, false)
    );
    assert_eq!(tx[1].0, R);
    assert!(ev.contains(&PeerEvent::Disconnect(I)));
}

#[test]
fn election_lost_in_wait_returns_keeps_initiator_connection() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    let (tx, _) = drain(&mut p);
    let our_cer = tx[0].1.clone();
    p.handle_incoming_cer(t0, R, wire::cer(&caps("B.EXAMPLE.NET"), 1, 1));
    assert_eq!(p.state(), PeerState::WaitReturns);
    assert!(drain(&mut p).0.is_empty(), "the loser does not answer on R");
    p.handle_message(
        t0,
        I,
        wire::cea(&caps("b.example.net"), &our_cer, ResultCode::SUCCESS),
    );
    assert_eq!(p.state(), PeerState::IOpen);
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Disconnect(R)));
}

#[test]
fn election_won_in_wait_i_cea() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("z.example.net", "b.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    drain(&mut p);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    assert_eq!(p.state(), PeerState::ROpen);
    let (tx, ev) = drain(&mut p);
    assert_eq!(tx[0].0, R);
    assert!(ev.contains(&PeerEvent::Disconnect(I)));
}

#[test]
fn wait_returns_peer_disconnects() {
    let t0 = Instant::now();
    // I-Peer-Disc in Wait-Returns: I-Disc, R-Snd-CEA -> R-Open.
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    drain(&mut p);
    p.handle_disconnected(t0, I);
    assert_eq!(p.state(), PeerState::ROpen);
    let (tx, _) = drain(&mut p);
    assert_eq!(wire::result_code(&tx[0].1), Some(ResultCode::SUCCESS));

    // R-Peer-Disc in Wait-Returns: back to Wait-I-CEA.
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    p.handle_disconnected(t0, R);
    assert_eq!(p.state(), PeerState::WaitICea);
}

#[test]
fn wait_conn_ack_elect_transitions() {
    let t0 = Instant::now();
    // I-Rcv-Conn-Nack: R-Snd-CEA -> R-Open.
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    p.handle_connect_failed(t0);
    assert_eq!(p.state(), PeerState::ROpen);
    // R-Peer-Disc: back to Wait-Conn-Ack.
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    p.handle_disconnected(t0, R);
    assert_eq!(p.state(), PeerState::WaitConnAck);
    // A second CER: R-Reject, state unchanged.
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    drain(&mut p);
    p.handle_incoming_cer(t0, R2, wire::cer(&caps("b.example.net"), 2, 2));
    assert_eq!(p.state(), PeerState::WaitConnAckElect);
    let (tx, ev) = drain(&mut p);
    assert!(tx.is_empty());
    assert_eq!(ev, vec![PeerEvent::Disconnect(R2)]);
    // Timeout: Error -> Closed.
    p.handle_timeout(t0 + Duration::from_secs(11));
    assert_eq!(p.state(), PeerState::Closed);
}

#[test]
fn open_peer_rejects_second_connection() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("hss.example.net"), 1, 1));
    assert_eq!(p.state(), PeerState::IOpen);
    let (tx, ev) = drain(&mut p);
    assert!(tx.is_empty());
    assert_eq!(ev, vec![PeerEvent::Disconnect(R)]);
}

#[test]
fn simultaneous_open_between_two_machines_converges_on_one_connection() {
    // Two machines that both initiate; the in-memory "network" pairs a.I with b.R (conn 10)
    // and b.I with a.R (conn 20).
    let t0 = Instant::now();
    let mut a = Peer::new(config("a.example.net", "b.example.net"));
    let mut b = Peer::new(config("b.example.net", "a.example.net"));
    a.start(t0);
    b.start(t0);
    drain(&mut a);
    drain(&mut b);
    a.handle_connected(t0, ConnectionId(10));
    b.handle_connected(t0, ConnectionId(20));
    let mut a_cer = drain(&mut a).0;
    let mut b_cer = drain(&mut b).0;
    b.handle_incoming_cer(t0, ConnectionId(10), a_cer.remove(0).1);
    a.handle_incoming_cer(t0, ConnectionId(20), b_cer.remove(0).1);
    // Shuttle messages and disconnects until quiet.
    for _ in 0..5 {
        let (atx, aev) = drain(&mut a);
        let (btx, bev) = drain(&mut b);
        for (c, m) in atx {
            b.handle_message(t0, c, m);
        }
        for (c, m) in btx {
            a.handle_message(t0, c, m);
        }
        for e in aev {
            if let PeerEvent::Disconnect(c) = e {
                b.handle_disconnected(t0, c);
            }
        }
        for e in bev {
            if let PeerEvent::Disconnect(c) = e {
                a.handle_disconnected(t0, c);
            }
        }
    }
    // b wins (b > a): it keeps the connection a initiated.
    assert_eq!(b.state(), PeerState::ROpen);
    assert_eq!(a.state(), PeerState::IOpen);
}

#[test]
fn dwr_is_answered_with_dwa_on_the_same_identifiers() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.handle_message(t0, I, wire::dwr(&caps("hss.example.net"), 4242, 99));
    let (tx, _) = drain(&mut p);
    assert_eq!(command(&tx[0].1), (CommandCode::DEVICE_WATCHDOG, false));
    assert_eq!(tx[0].1.header.hop_by_hop, 4242);
    assert_eq!(wire::result_code(&tx[0].1), Some(ResultCode::SUCCESS));
    assert_eq!(p.watchdog_counts().dwr_received, 1);
}

#[test]
fn watchdog_okay_suspect_down_then_reconnect() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    let token = RequestToken(1);
    p.send_request(t0, token, cx_request("s1"), Some(Duration::from_secs(600)))
        .unwrap();
    drain(&mut p);
    // Tw expires with nothing received: DWR.
    let t1 = p.poll_timeout().unwrap();
    assert!(t1 - t0 >= Duration::from_secs(28) && t1 - t0 <= Duration::from_secs(32));
    p.handle_timeout(t1);
    let (tx, _) = drain(&mut p);
    assert_eq!(command(&tx[0].1), (CommandCode::DEVICE_WATCHDOG, true));
    assert_eq!(p.watchdog_state(), WatchdogState::Okay);
    // Tw again without DWA: SUSPECT, failover of the pending request.
    let t2 = p.poll_timeout().unwrap();
    p.handle_timeout(t2);
    assert_eq!(p.watchdog_state(), WatchdogState::Suspect);
    assert_eq!(p.state(), PeerState::IOpen);
    assert!(!p.is_available());
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Availability(false)));
    assert!(ev.iter().any(|e| matches!(e,
        PeerEvent::RequestFailed { token: t, reason: RequestFailure::Failover, .. } if *t == token)));
    // Tw once more: DOWN, connection closed, reconnection scheduled.
    let t3 = p.poll_timeout().unwrap();
    p.handle_timeout(t3);
    assert_eq!(p.watchdog_state(), WatchdogState::Down);
    assert_eq!(p.state(), PeerState::Closed);
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Disconnect(I)));
    assert!(ev.contains(&PeerEvent::Closed));
    let t4 = p.poll_timeout().expect("reconnect timer");
    p.handle_timeout(t4);
    assert_eq!(p.state(), PeerState::WaitConnAck);
}

#[test]
fn suspect_fails_back_when_traffic_returns() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    let t1 = p.poll_timeout().unwrap();
    p.handle_timeout(t1);
    let t2 = p.poll_timeout().unwrap();
    p.handle_timeout(t2);
    assert_eq!(p.watchdog_state(), WatchdogState::Suspect);
    let (tx, _) = drain(&mut p);
    let dwr = tx
        .iter()
        .find(|(_, m)| command(m) == (CommandCode::DEVICE_WATCHDOG, true))
        .unwrap();
    p.handle_message(t2, I, wire::dwa(&caps("hss.example.net"), &dwr.1));
    assert_eq!(p.watchdog_state(), WatchdogState::Okay);
    assert!(p.is_available());
}

#[test]
fn reopen_fails_back_after_three_dwas() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    // Transport failure: OKAY -> DOWN.
    p.handle_disconnected(t0, I);
    assert_eq!(p.watchdog_state(), WatchdogState::Down);
    drain(&mut p);
    let t1 = p.poll_timeout().unwrap();
    p.handle_timeout(t1);
    p.handle_connected(t1, R);
    let (tx, _) = drain(&mut p);
    p.handle_message(
        t1,
        R,
        wire::cea(&caps("hss.example.net"), &tx[0].1, ResultCode::SUCCESS),
    );
    assert_eq!(p.state(), PeerState::IOpen);
    assert_eq!(p.watchdog_state(), WatchdogState::Reopen);
    assert!(!p.is_available(), "not routed to before failback");
    let mut now = t1;
    for n in 1..=3 {
        let (tx, ev) = drain(&mut p);
        assert!(!ev.contains(&PeerEvent::Availability(true)));
        let dwr = tx
            .iter()
            .find(|(_, m)| command(m) == (CommandCode::DEVICE_WATCHDOG, true))
            .expect("DWR in REOPEN");
        p.handle_message(now, R, wire::dwa(&caps("hss.example.net"), &dwr.1));
        if n < 3 {
            assert_eq!(p.watchdog_state(), WatchdogState::Reopen);
            now = p.poll_timeout().unwrap();
            p.handle_timeout(now);
        }
    }
    assert_eq!(p.watchdog_state(), WatchdogState::Okay);
    assert!(p.is_available());
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Availability(true)));
    assert_eq!(p.watchdog_counts().dwa_received, 3);
}

#[test]
fn answers_are_correlated_by_hop_by_hop() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.send_request(t0, RequestToken(1), cx_request("one"), None)
        .unwrap();
    p.send_request(t0, RequestToken(2), cx_request("two"), None)
        .unwrap();
    let (tx, _) = drain(&mut p);
    assert_eq!(tx.len(), 2);
    assert_ne!(tx[0].1.header.hop_by_hop, tx[1].1.header.hop_by_hop);
    assert_eq!(p.pending_requests(), 2);
    // Answers in reverse order.
    p.handle_message(t0, I, answer(&tx[1].1, ResultCode::SUCCESS));
    p.handle_message(t0, I, answer(&tx[0].1, ResultCode::UNABLE_TO_COMPLY));
    let (_, ev) = drain(&mut p);
    let answers: Vec<(RequestToken, Option<ResultCode>)> = ev
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Answer { token, answer } => Some((*token, wire::result_code(answer))),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (RequestToken(2), Some(ResultCode::SUCCESS)),
            (RequestToken(1), Some(ResultCode::UNABLE_TO_COMPLY)),
        ]
    );
    assert_eq!(p.pending_requests(), 0);
}

#[test]
fn request_timeout_fails_request_and_late_answer_is_dropped() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.send_request(
        t0,
        RequestToken(5),
        cx_request("slow"),
        Some(Duration::from_secs(2)),
    )
    .unwrap();
    let (tx, _) = drain(&mut p);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    p.handle_timeout(t0 + Duration::from_secs(2));
    let (_, ev) = drain(&mut p);
    assert!(matches!(
        ev.as_slice(),
        [PeerEvent::RequestFailed {
            token: RequestToken(5),
            reason: RequestFailure::Timeout,
            ..
        }]
    ));
    p.handle_message(t0, I, answer(&tx[0].1, ResultCode::SUCCESS));
    let (_, ev) = drain(&mut p);
    assert!(ev.is_empty());
}

#[test]
fn transport_failure_fails_over_pending_requests_with_t_flag_helper() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.send_request(t0, RequestToken(1), cx_request("a"), None)
        .unwrap();
    p.send_request(t0, RequestToken(2), cx_request("b"), None)
        .unwrap();
    drain(&mut p);
    p.handle_disconnected(t0, I);
    assert_eq!(p.state(), PeerState::Closed);
    let (_, ev) = drain(&mut p);
    let mut failed: Vec<Message> = ev
        .into_iter()
        .filter_map(|e| match e {
            PeerEvent::RequestFailed {
                request,
                reason: RequestFailure::Failover,
                ..
            } => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(!failed[0].header.flags.is_retransmit());
    wire::mark_retransmission(&mut failed[0]);
    assert!(failed[0].header.flags.is_retransmit());
    assert_eq!(
        failed[0].header.flags.0 & CommandFlags::REQUEST,
        CommandFlags::REQUEST
    );
    // Sending on a closed peer is refused with 3002.
    let err = p
        .send_request(t0, RequestToken(3), cx_request("c"), None)
        .unwrap_err();
    assert_eq!(err.result_code(), ResultCode::UNABLE_TO_DELIVER);
}

#[test]
fn stop_sends_dpr_and_closes_on_dpa_without_reconnecting() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.stop(t0, DisconnectCause::DO_NOT_WANT_TO_TALK_TO_YOU);
    assert_eq!(p.state(), PeerState::Closing);
    let (tx, _) = drain(&mut p);
    let dpr = &tx[0].1;
    assert_eq!(command(dpr), (CommandCode::DISCONNECT_PEER, true));
    assert_eq!(
        wire::disconnect_cause(dpr),
        DisconnectCause::DO_NOT_WANT_TO_TALK_TO_YOU
    );
    p.handle_message(t0, I, wire::dpa(&caps("hss.example.net"), dpr));
    assert_eq!(p.state(), PeerState::Closed);
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Disconnect(I)));
    assert_eq!(p.poll_timeout(), None, "no reconnection after Stop");
}

#[test]
fn closing_times_out_without_dpa() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.stop(t0, DisconnectCause::REBOOTING);
    let t = p.poll_timeout().unwrap();
    p.handle_timeout(t);
    assert_eq!(p.state(), PeerState::Closed);
}

#[test]
fn received_dpr_is_answered_and_cause_controls_reconnection() {
    let t0 = Instant::now();
    for (cause, reconnects) in [
        (DisconnectCause::REBOOTING, true),
        (DisconnectCause::BUSY, false),
        (DisconnectCause::DO_NOT_WANT_TO_TALK_TO_YOU, false),
    ] {
        let mut p = open_initiator(t0);
        p.handle_message(t0, I, wire::dpr(&caps("hss.example.net"), cause, 31, 32));
        assert_eq!(p.state(), PeerState::Closed);
        let (tx, ev) = drain(&mut p);
        assert_eq!(command(&tx[0].1), (CommandCode::DISCONNECT_PEER, false));
        assert_eq!(tx[0].1.header.hop_by_hop, 31);
        assert!(ev.contains(&PeerEvent::DisconnectRequested { cause }));
        assert_eq!(p.poll_timeout().is_some(), reconnects, "cause {cause:?}");
    }
}

#[test]
fn requests_from_the_peer_are_delivered_and_answered() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    let mut req = cx_request("from-hss");
    req.header.hop_by_hop = 1234;
    p.handle_message(t0, I, req.clone());
    let (_, ev) = drain(&mut p);
    assert_eq!(ev, vec![PeerEvent::Request(req.clone())]);
    p.send_answer(t0, &answer(&req, ResultCode::SUCCESS))
        .unwrap();
    let (tx, _) = drain(&mut p);
    assert_eq!(tx[0].1.header.hop_by_hop, 1234);
    assert!(
        p.send_answer(t0, &req).is_err(),
        "a request is not an answer"
    );
}

#[test]
fn end_to_end_identifiers_carry_time_in_high_bits() {
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    let first = p.next_end_to_end();
    assert_eq!(first >> 20, (1_700_000_000u64 & 0xFFF) as u32);
    assert_eq!(p.next_end_to_end(), first.wrapping_add(1));
}

#[test]
fn responder_r_open_handles_dwr_requests_and_dpr_without_reconnecting() {
    let t0 = Instant::now();
    let mut cfg = config("hss.example.net", "a.example.net");
    cfg.initiator = false;
    let mut p = Peer::new(cfg);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("a.example.net"), 1, 1));
    drain(&mut p);
    assert_eq!(p.state(), PeerState::ROpen);
    p.handle_message(t0, R, wire::dwr(&caps("a.example.net"), 2, 2));
    let mut req = cx_request("r");
    req.header.hop_by_hop = 3;
    p.handle_message(t0, R, req.clone());
    let (tx, ev) = drain(&mut p);
    assert_eq!(command(&tx[0].1), (CommandCode::DEVICE_WATCHDOG, false));
    assert_eq!(ev, vec![PeerEvent::Request(req)]);
    // Messages on a connection the peer does not own are ignored.
    p.handle_message(t0, R2, wire::dwr(&caps("a.example.net"), 4, 4));
    assert!(drain(&mut p).0.is_empty());
    p.handle_message(
        t0,
        R,
        wire::dpr(&caps("a.example.net"), DisconnectCause::REBOOTING, 5, 5),
    );
    assert_eq!(p.state(), PeerState::Closed);
    let (tx, ev) = drain(&mut p);
    assert_eq!(command(&tx[0].1), (CommandCode::DISCONNECT_PEER, false));
    assert!(ev.contains(&PeerEvent::Disconnect(R)));
    assert_eq!(
        p.poll_timeout(),
        None,
        "a responder-only peer never connects out"
    );
}

#[test]
fn closing_ends_when_the_peer_disconnects() {
    let t0 = Instant::now();
    let mut p = open_initiator(t0);
    p.stop(t0, DisconnectCause::BUSY);
    assert_eq!(p.state(), PeerState::Closing);
    assert!(p
        .send_request(t0, RequestToken(1), cx_request("late"), None)
        .is_err());
    p.handle_disconnected(t0, I);
    assert_eq!(p.state(), PeerState::Closed);
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Closed));
}

#[test]
fn stop_before_open_closes_everything() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    drain(&mut p);
    p.stop(t0, DisconnectCause::REBOOTING);
    assert_eq!(p.state(), PeerState::Closed);
    let (tx, ev) = drain(&mut p);
    assert!(tx.is_empty(), "no DPR outside the open states");
    assert_eq!(ev, vec![PeerEvent::Disconnect(I)]);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn wait_i_cea_peer_disconnect_closes() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "hss.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    p.handle_disconnected(t0, I);
    assert_eq!(p.state(), PeerState::Closed);
    assert!(p.poll_timeout().is_some(), "reconnection scheduled");
}

#[test]
fn wait_conn_ack_elect_lost_election_waits_for_cea() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    drain(&mut p);
    p.handle_connected(t0, I);
    // I-Snd-CER, Elect (lost) -> Wait-Returns, nothing sent on R.
    assert_eq!(p.state(), PeerState::WaitReturns);
    let (tx, ev) = drain(&mut p);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].0, I);
    assert!(ev.is_empty());
}

#[test]
fn wait_returns_rejects_third_connection_and_times_out() {
    let t0 = Instant::now();
    let mut p = Peer::new(config("a.example.net", "b.example.net"));
    p.start(t0);
    p.handle_connected(t0, I);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("b.example.net"), 1, 1));
    drain(&mut p);
    assert_eq!(p.state(), PeerState::WaitReturns);
    p.handle_incoming_cer(t0, R2, wire::cer(&caps("b.example.net"), 2, 2));
    assert_eq!(p.state(), PeerState::WaitReturns);
    let (_, ev) = drain(&mut p);
    assert_eq!(ev, vec![PeerEvent::Disconnect(R2)]);
    let t = p.poll_timeout().unwrap();
    p.handle_timeout(t);
    assert_eq!(p.state(), PeerState::Closed);
    let (_, ev) = drain(&mut p);
    assert!(ev.contains(&PeerEvent::Disconnect(I)));
    assert!(ev.contains(&PeerEvent::Disconnect(R)));
}

#[test]
fn r_open_stop_sends_dpr_on_responder_and_peer_disc_closes() {
    let t0 = Instant::now();
    let mut cfg = config("hss.example.net", "a.example.net");
    cfg.initiator = false;
    let mut p = Peer::new(cfg.clone());
    p.handle_incoming_cer(t0, R, wire::cer(&caps("a.example.net"), 1, 1));
    drain(&mut p);
    p.stop(t0, DisconnectCause::BUSY);
    assert_eq!(p.state(), PeerState::Closing);
    let (tx, _) = drain(&mut p);
    assert_eq!(tx[0].0, R);
    assert_eq!(wire::disconnect_cause(&tx[0].1), DisconnectCause::BUSY);

    let mut p = Peer::new(cfg);
    p.handle_incoming_cer(t0, R, wire::cer(&caps("a.example.net"), 1, 1));
    drain(&mut p);
    p.handle_disconnected(t0, R);
    assert_eq!(p.state(), PeerState::Closed);
    assert_eq!(p.watchdog_state(), WatchdogState::Down);
}
