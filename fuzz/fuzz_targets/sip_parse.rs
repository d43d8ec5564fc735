//! Whole SIP messages (RFC 3261 §7) through `Message::parse`.
//!
//! Properties checked on every input the parser accepts:
//! - serialising with `to_bytes()` and parsing again succeeds (our own output is valid SIP);
//! - the re-parse agrees on the start line, every header (name, value, order) and the body;
//!   Content-Length is the one field `to_bytes()` rewrites (§20.14: always the body length,
//!   duplicates dropped), so it is compared against the body instead;
//! - a second serialisation is byte-identical to the first (serialisation is a fixpoint);
//! - the typed getters of the headers `Message::parse` validates eagerly (Via, From, To,
//!   CSeq, Contact, Max-Forwards) succeed whenever the header is present, and the
//!   Request-URI survives `Uri::parse(uri.to_string())`.
//!
//! The other typed headers found in the message are parsed too, only for their panics.
#![no_main]

use ims_sip::header::{
    Accept, Allow, Challenge, ContentType, Credentials, Event, Expires, MinExpires, OptionTags,
    PAssertedIdentity, PChargingVector, Path, RecordRoute, Route, SecMechanism, ServiceRoute,
    SipDate, SubscriptionState, VisitedNetwork,
};
use ims_sip::headers::canonical_name;
use ims_sip::{Limits, Message, Uri};
use libfuzzer_sys::fuzz_target;

fn is_content_length(name: &str) -> bool {
    canonical_name(name) == Some("Content-Length")
}

/// The fields `to_bytes()` copies verbatim, in order.
fn verbatim_fields(m: &Message) -> Vec<(&str, &str)> {
    m.headers()
        .iter()
        .filter(|(n, _)| !is_content_length(n))
        .collect()
}

/// Getters for the headers the parser validated: they must not fail on an accepted message.
fn check_validated_getters(m: &Message) {
    let h = m.headers();
    if h.contains("Via") {
        let top = m.top_via().expect("top Via of an accepted message");
        let _ = (
            top.branch(),
            top.received(),
            top.rport(),
            top.maddr(),
            top.has_rfc3261_branch(),
        );
        m.vias().expect("Vias of an accepted message");
    }
    if h.contains("From") {
        let from = m.from().expect("From of an accepted message");
        let _ = (from.tag(), from.uri().user(), from.display());
    }
    if h.contains("To") {
        let to = m.to().expect("To of an accepted message");
        let _ = (to.tag(), to.uri().host());
    }
    if h.contains("CSeq") {
        let cseq = m.cseq().expect("CSeq of an accepted message");
        if let Some(method) = m.method() {
            assert_eq!(
                &cseq.method, method,
                "CSeq method differs from the request's"
            );
        }
    }
    if h.contains("Call-ID") {
        m.call_id().expect("Call-ID of an accepted message");
    }
    if h.contains("Max-Forwards") {
        m.max_forwards()
            .expect("Max-Forwards of an accepted message");
    }
    if h.contains("Contact") {
        for c in m.contacts().expect("Contacts of an accepted message") {
            let _ = (c.expires(), c.q(), c.instance(), c.reg_id(), c.uri());
        }
    }
    if let Some(uri) = m.request_uri() {
        let text = uri.to_string();
        let again = Uri::parse(&text)
            .unwrap_or_else(|e| panic!("Request-URI {text:?} does not re-parse: {e:?}"));
        assert_eq!(&again, uri, "Request-URI changed through {text:?}");
    }
}

/// Every other typed header, parsed only to exercise its parser.
fn exercise_other_headers(m: &Message) {
    let h = m.headers();
    for v in h
        .get_all("Authorization")
        .chain(h.get_all("Proxy-Authorization"))
    {
        if let Ok(c) = Credentials::parse(v) {
            let _ = (c.0.is_digest(), c.0.get("nonce"));
        }
    }
    for v in h
        .get_all("WWW-Authenticate")
        .chain(h.get_all("Proxy-Authenticate"))
    {
        if let Ok(c) = Challenge::parse(v) {
            let _ = c.stale();
        }
    }
    for name in ["Security-Client", "Security-Server", "Security-Verify"] {
        for v in h.get_all(name) {
            for mech in SecMechanism::parse_list(v).into_iter().flatten() {
                let _ = (
                    mech.q(),
                    mech.spi_c(),
                    mech.spi_s(),
                    mech.port_c(),
                    mech.port_s(),
                );
            }
        }
    }
    for v in h.values("Route") {
        let _ = Route::parse(v);
    }
    for v in h.values("Record-Route") {
        let _ = RecordRoute::parse(v);
    }
    for v in h.values("Path") {
        let _ = Path::parse(v);
    }
    for v in h.values("Service-Route") {
        let _ = ServiceRoute::parse(v);
    }
    for v in h.values("P-Asserted-Identity") {
        let _ = PAssertedIdentity::parse(v);
    }
    if let Some(v) = h.get("P-Charging-Vector") {
        if let Ok(p) = PChargingVector::parse(v) {
            let _ = (p.icid_value(), p.orig_ioi(), p.term_ioi());
        }
    }
    for v in h.get_all("P-Visited-Network-ID") {
        let _ = VisitedNetwork::parse_list(v);
    }
    if let Some(v) = h.get("Content-Type") {
        if let Ok(t) = ContentType::parse(v) {
            let _ = t.is("application/sdp");
        }
    }
    if let Some(v) = h.get("Accept") {
        let _ = Accept::parse(v);
    }
    for name in ["Supported", "Require", "Proxy-Require", "Unsupported"] {
        for v in h.get_all(name) {
            let _ = OptionTags::parse(v);
        }
    }
    for v in h.get_all("Allow") {
        let _ = Allow::parse(v);
    }
    if let Some(v) = h.get("Expires") {
        let _ = Expires::parse(v);
    }
    if let Some(v) = h.get("Min-Expires") {
        let _ = MinExpires::parse(v);
    }
    if let Some(v) = h.get("Event") {
        let _ = Event::parse(v).map(|e| e.id().map(str::len));
    }
    if let Some(v) = h.get("Subscription-State") {
        let _ = SubscriptionState::parse(v).map(|s| (s.expires(), s.retry_after()));
    }
    if let Some(v) = h.get("Date") {
        let _ = SipDate::parse(v).map(|d| d.to_string());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(first) = Message::parse(data) else {
        return;
    };
    check_validated_getters(&first);
    exercise_other_headers(&first);

    let wire = first.to_bytes();
    // Our output may legitimately outgrow the input: ": " after each name, CRLF for bare LF,
    // one added Content-Length field. Give the re-parse that much room, no more.
    let d = Limits::DEFAULT;
    let room = Limits {
        max_headers: d.max_headers + 1,
        max_line_len: d.max_line_len * 2 + 16,
        max_body_len: d.max_body_len,
        max_message_len: d.max_message_len * 2 + 64,
    };
    let second = Message::parse_with_limits(&wire, &room).unwrap_or_else(|e| {
        panic!(
            "our own serialisation does not parse: {e:?}\n{}",
            String::from_utf8_lossy(&wire)
        )
    });

    assert_eq!(
        first.start_line(),
        second.start_line(),
        "start line changed"
    );
    assert_eq!(first.body(), second.body(), "body changed");
    assert_eq!(
        verbatim_fields(&first),
        verbatim_fields(&second),
        "headers changed"
    );
    let lengths: Vec<&str> = second
        .headers()
        .iter()
        .filter(|(n, _)| is_content_length(n))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        lengths,
        [first.body().len().to_string()],
        "Content-Length is not exactly the body length"
    );
    assert_eq!(second.to_bytes(), wire, "serialisation is not a fixpoint");
});
