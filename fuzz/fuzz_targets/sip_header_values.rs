//! The typed header parsers of `ims_sip::header` (and `Uri`/`Host`) one at a time.
//!
//! Input layout: the first byte picks the parser (modulo the number of kinds), the rest is the
//! header value as UTF-8 (header values reach the typed parsers as `&str`, so other input is
//! skipped). For every value a parser accepts, `Display` is the wire form the proxy writes, so
//! `parse(value.to_string())` must succeed and give back an equal value; a mismatch is a bug.
//! The accessors that parse parameters on demand (q, expires, spi-c, ...) are called too.
#![no_main]

use std::fmt::{Debug, Display};

use ims_sip::header::{
    parse_qvalue, Accept, Allow, AuthParams, CSeq, CallId, Challenge, Contact, ContentLength,
    Credentials, Event, Expires, FlowTimer, MaxForwards, MediaType, MinExpires, NameAddr,
    OptionTags, PChargingVector, SecMechanism, SipDate, SubscriptionState, Via, VisitedNetwork,
};
use ims_sip::{Host, Uri};
use libfuzzer_sys::fuzz_target;

/// Parses `text`; when accepted, checks that its `Display` form parses back to an equal value.
fn round_trip<T, E>(kind: &str, text: &str, parse: impl Fn(&str) -> Result<T, E>) -> Option<T>
where
    T: Display + PartialEq + Debug,
    E: Debug,
{
    let first = parse(text).ok()?;
    let wire = first.to_string();
    let second = parse(&wire).unwrap_or_else(|e| {
        panic!("{kind}: {text:?} parsed, but its Display form {wire:?} does not: {e:?}")
    });
    assert_eq!(
        second, first,
        "{kind}: {text:?} changed through its Display form {wire:?}"
    );
    Some(first)
}

const KINDS: u8 = 26;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % KINDS {
        0 => {
            if let Some(v) = round_trip("Via", s, Via::parse) {
                let _ = (
                    v.branch(),
                    v.received(),
                    v.rport(),
                    v.maddr(),
                    v.has_rfc3261_branch(),
                );
            }
        }
        1 => {
            if let Some(a) = round_trip("NameAddr", s, NameAddr::parse) {
                let _ = (a.display(), a.tag(), a.param("expires"));
            }
        }
        2 => {
            if let Some(c) = round_trip("Contact", s, Contact::parse) {
                let _ = (c.expires(), c.q(), c.instance(), c.reg_id());
            }
        }
        3 => {
            round_trip("CSeq", s, CSeq::parse);
        }
        4 => {
            if let Some(c) = round_trip("Credentials", s, Credentials::parse) {
                let _ = (c.0.is_digest(), c.0.get("response"));
            }
        }
        5 => {
            if let Some(c) = round_trip("Challenge", s, Challenge::parse) {
                let _ = c.stale();
            }
        }
        6 => {
            if let Some(m) = round_trip("SecMechanism", s, SecMechanism::parse) {
                let _ = (
                    m.is_ipsec_3gpp(),
                    m.q(),
                    m.alg(),
                    m.ealg(),
                    m.prot(),
                    m.mode(),
                );
                let _ = (m.spi_c(), m.spi_s(), m.port_c(), m.port_s());
            }
        }
        7 => {
            if let Some(u) = round_trip("Uri", s, Uri::parse) {
                let _ = (
                    u.user(),
                    u.password(),
                    u.host(),
                    u.port(),
                    u.opaque(),
                    u.param("lr"),
                );
                if let Some(user) = u.user() {
                    let _ = ims_sip::uri::pct_decode(user);
                }
            }
        }
        8 => {
            if let Some(t) = round_trip("MediaType", s, MediaType::parse) {
                let _ = (t.is("application/sdp"), t.accepts("application/sdp"));
            }
        }
        9 => {
            if let Ok(a) = Accept::parse(s) {
                let _ = a.accepts("application/sdp");
            }
        }
        10 => {
            if let Some(p) = round_trip("PChargingVector", s, PChargingVector::parse) {
                let _ = (
                    p.icid_value(),
                    p.icid_generated_at(),
                    p.orig_ioi(),
                    p.term_ioi(),
                );
            }
        }
        11 => {
            if let Some(v) = round_trip("VisitedNetwork", s, VisitedNetwork::parse) {
                let _ = v.name();
            }
        }
        12 => {
            if let Some(e) = round_trip("Event", s, Event::parse) {
                let _ = e.id();
            }
        }
        13 => {
            if let Some(st) = round_trip("SubscriptionState", s, SubscriptionState::parse) {
                let _ = (st.expires(), st.retry_after(), st.reason());
            }
        }
        14 => {
            round_trip("SipDate", s, SipDate::parse);
        }
        15 => {
            if let Some(t) = round_trip("OptionTags", s, OptionTags::parse) {
                let _ = t.contains("sec-agree");
            }
        }
        16 => {
            round_trip("Allow", s, Allow::parse);
        }
        17 => {
            round_trip("Expires", s, Expires::parse);
        }
        18 => {
            round_trip("MaxForwards", s, MaxForwards::parse);
        }
        19 => {
            round_trip("CallId", s, CallId::parse);
        }
        20 => {
            if let Some(p) = round_trip("AuthParams", s, AuthParams::parse) {
                let _ = (p.is_digest(), p.get("realm"));
            }
        }
        21 => {
            round_trip("Host", s, Host::parse);
        }
        22 => {
            round_trip("ContentLength", s, ContentLength::parse);
        }
        23 => {
            let _ = parse_qvalue(s);
        }
        24 => {
            // Whole comma-separated lines, the way a proxy reads Contact / Security-Client.
            let _ = Contact::parse_list(s);
            let _ = SecMechanism::parse_list(s);
            let _ = VisitedNetwork::parse_list(s);
            let _ = NameAddr::parse_list(s);
        }
        _ => {
            round_trip("MinExpires", s, MinExpires::parse);
            round_trip("FlowTimer", s, FlowTimer::parse);
        }
    }
});
