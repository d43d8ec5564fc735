//! The RFC 4475 torture messages fed to a transaction layer: whatever parses is either
//! matched (a new transaction, an ACK for the TU, a stray response) or refused with an error
//! that answers 400, never a panic and never a "local" 500 error.

use std::path::Path;
use std::time::{Duration, Instant};

use ims_sip::transaction::{Event, TimerConfig, TransactionLayer};
use ims_sip::{Message, StatusCode};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/sip_torture"
);

fn messages() -> Vec<(String, Message)> {
    let mut out = Vec::new();
    for dir in ["valid", "semantic", "invalid"] {
        let dir = Path::new(VECTORS).join(dir);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "dat"))
            .collect();
        entries.sort();
        for path in entries {
            let bytes = std::fs::read(&path).expect("readable vector");
            if let Ok(message) = Message::parse(&bytes) {
                out.push((path.display().to_string(), message));
            }
        }
    }
    out
}

#[test]
fn torture_messages_are_matched_or_refused_with_400() {
    let t0 = Instant::now();
    let mut layer: TransactionLayer<u32> = TransactionLayer::new(TimerConfig::default());
    let all = messages();
    assert!(all.len() >= 20, "the RFC 4475 vectors are present");
    let mut created = Vec::new();
    for (name, message) in all {
        let was_request = message.is_request();
        let before = layer.len();
        match layer.handle_message(t0, message, 1, false) {
            Ok(()) => {
                let events: Vec<_> = std::iter::from_fn(|| layer.poll_event()).collect();
                match events.as_slice() {
                    [Event::Request { id, request, .. }] if was_request => {
                        assert_eq!(layer.len(), before + 1, "{name}");
                        created.push((*id, request.clone()));
                    }
                    // An ACK matching no transaction, or a retransmission absorbed by an
                    // earlier vector's transaction with the same key.
                    [Event::Ack { id: None, .. }] | [] if was_request => {}
                    [Event::StrayResponse { .. }] if !was_request => {}
                    other => panic!("{name}: unexpected {other:?}"),
                }
            }
            Err(error) => assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{name}: {error}"),
        }
        while layer.poll_transmit().is_some() {}
    }
    assert!(
        created.len() > 10,
        "most valid torture requests start transactions"
    );

    // The TU answers every one with a 500; then timers J and H (no ACK comes) end them all.
    for (id, request) in created {
        let mut response = Message::response_to(&request, StatusCode::SERVER_INTERNAL_ERROR);
        if let Some(to) = response.headers().get("To").map(|to| format!("{to};tag=t")) {
            response.headers_mut().set("To", &to);
        }
        layer.send_response(t0, id, response).expect("answerable");
    }
    while let Some(at) = layer.poll_timeout() {
        assert!(
            at <= t0 + Duration::from_secs(32),
            "64*T1 bounds every timer here"
        );
        layer.handle_timeout(at);
        while layer.poll_transmit().is_some() {}
        while layer.poll_event().is_some() {}
    }
    assert!(layer.is_empty());
}
