//! STUN messages (RFC 5389 §6, §15) through `ims_transport::stun::Message::decode`, the
//! parser that sees every datagram arriving on the shared SIP/STUN port (RFC 5626 §8.4).
//!
//! Properties checked on every input the decoder accepts:
//! - `decode(encode(m)) == m` (padding is re-zeroed and FINGERPRINT recomputed, so the bytes
//!   may differ from the input, but never the decoded message);
//! - encoding is a fixpoint after one round.
//!
//! The server path (`handle_request`, which builds Binding responses) and the client path
//! (`parse_binding_response`) run on the same bytes.
#![no_main]

use std::net::{Ipv6Addr, SocketAddr};

use ims_transport::stun::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let observed = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 5060));
    let _ = stun::is_stun(data);
    if let stun::ServerAction::Reply(reply) = stun::handle_request(data, observed) {
        // What the server sends must be a well-formed STUN message.
        Message::decode(&reply).unwrap_or_else(|e| panic!("our reply does not decode: {e:?}"));
    }

    let Ok(first) = Message::decode(data) else {
        return;
    };
    let wire = first.encode();
    let second = Message::decode(&wire)
        .unwrap_or_else(|e| panic!("our own encoding does not decode: {e:?}"));
    assert_eq!(second, first, "message changed through encode/decode");
    assert_eq!(second.encode(), wire, "encoding is not a fixpoint");

    let _ = (
        first.xor_mapped_address(),
        first.mapped_address(),
        first.software(),
        first.error_code(),
        first.unknown_attributes(),
        first.unknown_comprehension_required(),
    );
    let _ = stun::parse_binding_response(data, &first.transaction_id);
    let response = stun::binding_response(&first, observed);
    Message::decode(&response)
        .unwrap_or_else(|e| panic!("binding response does not decode: {e:?}"));
});
