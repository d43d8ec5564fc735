//! Diameter messages (RFC 6733 §3, §4) through `ims_diameter::Message::decode`.
//!
//! Properties checked on every input the decoder accepts:
//! - `encoded_len()` is the length `encode()` writes;
//! - `decode(encode(m)) == m` (padding and the V bit are re-derived, so the bytes may differ
//!   from the input, but never the decoded message);
//! - encoding is a fixpoint after one round.
//!
//! Also exercised: the dictionary validation a node runs on a request, the typed accessor of
//! each known AVP (recursively into Grouped), the answers built from a request, and on a
//! decode error the raw error answer (`answer_to_raw`) with its own round trip.
#![no_main]

use ims_diameter::avp::Avp;
use ims_diameter::dictionary::{self, AvpType};
use ims_diameter::message::answer_to_raw;
use ims_diameter::Message;
use libfuzzer_sys::fuzz_target;

/// Calls the accessor of the AVP's dictionary type; Grouped AVPs are walked to `depth`.
fn exercise_avp(avp: &Avp, depth: u32) {
    let Some(def) = dictionary::lookup(avp.code, avp.vendor()) else {
        return;
    };
    match def.data_type {
        AvpType::OctetString => {
            let _ = avp.as_octet_string();
        }
        AvpType::Integer32 => {
            let _ = avp.as_integer32();
        }
        AvpType::Integer64 => {
            let _ = avp.as_integer64();
        }
        AvpType::Unsigned32 => {
            let _ = avp.as_unsigned32();
        }
        AvpType::Unsigned64 => {
            let _ = avp.as_unsigned64();
        }
        AvpType::Float32 => {
            let _ = avp.as_float32();
        }
        AvpType::Float64 => {
            let _ = avp.as_float64();
        }
        AvpType::Grouped => {
            if depth > 0 {
                if let Ok(children) = avp.as_grouped() {
                    for child in &children {
                        exercise_avp(child, depth - 1);
                    }
                }
            }
        }
        AvpType::Address => {
            let _ = avp.as_address();
            let _ = avp.as_ip_address();
        }
        AvpType::Time => {
            let _ = avp.as_time().map(|t| t.unix_seconds());
        }
        AvpType::UTF8String => {
            let _ = avp.as_utf8_string();
        }
        AvpType::DiameterIdentity => {
            let _ = avp.as_diameter_identity();
        }
        AvpType::DiameterURI => {
            let _ = avp.as_diameter_uri();
        }
        AvpType::Enumerated => {
            let _ = avp.as_enumerated();
        }
    }
}

fn check_round_trip(first: &Message, what: &str) -> Vec<u8> {
    let wire = first.encode();
    assert_eq!(
        wire.len(),
        first.encoded_len(),
        "{what}: encoded_len disagrees"
    );
    let second = Message::decode(&wire)
        .unwrap_or_else(|e| panic!("{what}: our own encoding does not decode: {e:?}"));
    assert_eq!(
        &second, first,
        "{what}: message changed through encode/decode"
    );
    assert_eq!(second.encode(), wire, "{what}: encoding is not a fixpoint");
    wire
}

fuzz_target!(|data: &[u8]| {
    let first = match Message::decode(data) {
        Ok(m) => m,
        Err(error) => {
            // What a server sends back for bytes it could not decode must itself be valid.
            let _ = error.result_code();
            if let Some(answer) = answer_to_raw(data, &error, "hss.example.net", "example.net") {
                check_round_trip(&answer, "answer_to_raw");
            }
            return;
        }
    };
    check_round_trip(&first, "decoded message");

    let _ = (first.session_id(), first.result_code(), first.is_request());
    for avp in &first.avps {
        exercise_avp(avp, 8);
    }
    if first.is_request() {
        match dictionary::validate(
            first.header.application_id,
            first.header.command_code,
            &first.avps,
        ) {
            Ok(()) => {
                let _ = ims_diameter::cx::validate_request(&first);
                check_round_trip(&Message::answer_to(&first), "answer_to");
            }
            Err(error) => {
                let answer = first.error_answer(&error, "hss.example.net", "example.net");
                check_round_trip(&answer, "error_answer");
            }
        }
    }
});
