//! STUN codec for SIP Outbound keep-alives (RFC 5389 / RFC 5626 §8): RFC 5769 test vectors,
//! round trips, server and client behaviour, and robustness against truncated or mangled input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ims_transport::stun::{
    binding_request, binding_response, crc32, fingerprint_of, handle_request, is_stun,
    parse_binding_response, Attribute, AttributeType, Class, ErrorCode, MappingChange,
    MappingMonitor, Message, MessageType, Method, ServerAction, StunError, TransactionId,
    HEADER_LEN,
};

/// Hex with whitespace, as the RFC prints it.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// RFC 5769 §2.1 "Sample Request" (password "VOkJxbRl1RmTxUk/WvJxBt").
const RFC5769_REQUEST: &str = "
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf";

/// RFC 5769 §2.2 "Sample IPv4 Response": 192.0.2.1:32853.
const RFC5769_IPV4_RESPONSE: &str = "
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96";

/// RFC 5769 §2.3 "Sample IPv6 Response": [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RFC5769_IPV6_RESPONSE: &str = "
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c";

/// The transaction id shared by the RFC 5769 samples.
const RFC5769_TID: TransactionId = TransactionId([
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
]);

fn tid(seed: u8) -> TransactionId {
    let mut id = [0u8; 12];
    for (i, b) in id.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 17);
    }
    TransactionId(id)
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

fn v6(s: &str, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(s.parse::<Ipv6Addr>().unwrap()), port)
}

// ---- RFC 5769 test vectors ----

#[test]
fn rfc5769_sample_request_fingerprint_and_attributes() {
    let bytes = hex(RFC5769_REQUEST);
    assert!(is_stun(&bytes));
    let msg = Message::decode(&bytes).expect("sample request decodes");
    assert_eq!(msg.typ, MessageType::BINDING_REQUEST);
    assert_eq!(msg.transaction_id, RFC5769_TID);
    assert!(msg.fingerprint, "FINGERPRINT e57a3bcf verified");
    assert_eq!(msg.software(), Some("STUN test client"));
    // USERNAME is 9 bytes; its 3 padding bytes are spaces, which must be ignored.
    assert!(msg.attributes.contains(&Attribute::Other {
        typ: AttributeType::USERNAME,
        value: b"evtj:h6vY".to_vec(),
    }));
    // PRIORITY (0x0024, ICE) is comprehension-required and not understood here; ICE-CONTROLLED
    // (0x8029) is comprehension-optional and ignored.
    assert_eq!(
        msg.unknown_comprehension_required(),
        vec![AttributeType(0x0024)]
    );
}

#[test]
fn rfc5769_sample_request_gets_420_listing_priority() {
    let bytes = hex(RFC5769_REQUEST);
    let ServerAction::Reply(answer) = handle_request(&bytes, v4(192, 0, 2, 1, 32853)) else {
        panic!("a request must be answered");
    };
    let answer = Message::decode(&answer).unwrap();
    assert_eq!(answer.typ, MessageType::BINDING_ERROR);
    assert_eq!(answer.transaction_id, RFC5769_TID);
    assert_eq!(
        answer.error_code().map(|e| e.0),
        Some(ErrorCode::UNKNOWN_ATTRIBUTE)
    );
    assert_eq!(
        answer.unknown_attributes(),
        Some(&[AttributeType(0x0024)][..])
    );
    assert!(answer.fingerprint);
}

#[test]
fn rfc5769_ipv4_response() {
    let bytes = hex(RFC5769_IPV4_RESPONSE);
    let msg = Message::decode(&bytes).expect("IPv4 sample decodes");
    assert_eq!(msg.typ, MessageType::BINDING_SUCCESS);
    assert!(msg.fingerprint, "FINGERPRINT c07d4c96 verified");
    // "test vector" is 11 bytes, padded with one space that is not part of the value.
    assert_eq!(msg.software(), Some("test vector"));
    assert_eq!(msg.xor_mapped_address(), Some(v4(192, 0, 2, 1, 32853)));
    assert_eq!(
        parse_binding_response(&bytes, &RFC5769_TID),
        Ok(v4(192, 0, 2, 1, 32853))
    );
}

#[test]
fn rfc5769_ipv6_response() {
    let bytes = hex(RFC5769_IPV6_RESPONSE);
    let msg = Message::decode(&bytes).expect("IPv6 sample decodes");
    assert!(msg.fingerprint, "FINGERPRINT c8fb0b4c verified");
    let expected = v6("2001:db8:1234:5678:11:2233:4455:6677", 32853);
    assert_eq!(msg.xor_mapped_address(), Some(expected));
    assert_eq!(parse_binding_response(&bytes, &RFC5769_TID), Ok(expected));
}

#[test]
fn rfc5769_fingerprints_match_independent_crc() {
    // The FINGERPRINT is the last 4 bytes; it covers everything before its attribute header.
    for sample in [
        RFC5769_REQUEST,
        RFC5769_IPV4_RESPONSE,
        RFC5769_IPV6_RESPONSE,
    ] {
        let bytes = hex(sample);
        let (covered, tail) = bytes.split_at(bytes.len() - 8);
        let stated = u32::from_be_bytes(tail[4..8].try_into().unwrap());
        assert_eq!(fingerprint_of(covered), stated);
        assert_eq!(crc32(covered) ^ 0x5354_554E, stated);
    }
}

#[test]
fn rfc5769_re_encoding_drops_nothing_but_padding_bytes() {
    // Re-encoding the IPv4 sample gives the same bytes except the SOFTWARE padding (0x20 in the
    // RFC, zero from us) and the FINGERPRINT that covers it; MESSAGE-INTEGRITY is kept raw.
    let bytes = hex(RFC5769_IPV4_RESPONSE);
    let msg = Message::decode(&bytes).unwrap();
    let again = msg.encode();
    assert_eq!(again.len(), bytes.len());
    let diffs: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != again[i]).collect();
    assert!(diffs.contains(&35), "SOFTWARE padding byte");
    assert!(diffs.iter().all(|&i| i == 35 || i >= bytes.len() - 4));
    assert_eq!(Message::decode(&again).unwrap(), msg);
}

// ---- demultiplexing ----

#[test]
fn is_stun_separates_stun_from_sip() {
    assert!(is_stun(&binding_request(tid(1))));
    assert!(!is_stun(b"REGISTER sip:ims.example SIP/2.0\r\n"));
    assert!(!is_stun(b"SIP/2.0 200 OK\r\n"));
    assert!(!is_stun(b"\r\n\r\n"));
    assert!(!is_stun(b""));
    // Right first bits, wrong cookie: an RFC 3489 message is not taken for this usage's STUN.
    let mut old = binding_request(tid(1));
    old[4] ^= 0xFF;
    assert!(!is_stun(&old));
    // Top bits set: not STUN even with the cookie in place.
    let mut top = binding_request(tid(1));
    top[0] |= 0x40;
    assert!(!is_stun(&top));
    assert!(!is_stun(&binding_request(tid(1))[..7]));
    assert!(is_stun(&binding_request(tid(1))[..8]));
}

// ---- round trips ----

#[test]
fn binding_request_round_trip() {
    let bytes = binding_request(tid(7));
    assert_eq!(bytes.len(), HEADER_LEN + 8, "header and FINGERPRINT only");
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(msg.typ, MessageType::BINDING_REQUEST);
    assert_eq!(msg.transaction_id, tid(7));
    assert!(msg.attributes.is_empty());
    assert!(msg.fingerprint);
}

#[test]
fn every_attribute_round_trips() {
    let mut msg = Message::new(MessageType::new(Method(0x0ABC), Class::Indication), tid(3));
    msg.attributes = vec![
        Attribute::XorMappedAddress(v4(10, 1, 2, 3, 5060)),
        Attribute::XorMappedAddress(v6("2001:db8::1", 65535)),
        Attribute::MappedAddress(v4(198, 51, 100, 7, 1)),
        Attribute::MappedAddress(v6("::ffff:192.0.2.9", 0)),
        Attribute::Software("ims-pcscf ✓".to_owned()),
        Attribute::ErrorCode {
            code: ErrorCode(438),
            reason: "Stale Nonce".to_owned(),
        },
        Attribute::UnknownAttributes(vec![AttributeType(0x0024), AttributeType(0x7777)]),
        Attribute::Other {
            typ: AttributeType(0xC001),
            value: vec![1, 2, 3, 4, 5],
        },
    ];
    for fingerprint in [true, false] {
        msg.fingerprint = fingerprint;
        let bytes = msg.encode();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(Message::decode(&bytes), Ok(msg.clone()));
    }
}

#[test]
fn message_type_round_trips_for_all_classes() {
    for class in [
        Class::Request,
        Class::Indication,
        Class::SuccessResponse,
        Class::ErrorResponse,
    ] {
        for method in [0x001u16, 0x002, 0x0FFF, 0x0800, 0x0080] {
            let typ = MessageType::new(Method(method), class);
            let msg = Message::new(typ, tid(9));
            assert_eq!(Message::decode(&msg.encode()).unwrap().typ, typ);
        }
    }
}

// ---- server: RFC 5626 §8 ----

#[test]
fn server_answers_binding_with_observed_address() {
    for observed in [v4(203, 0, 113, 5, 40000), v6("2001:db8::abcd", 5062)] {
        let ServerAction::Reply(answer) = handle_request(&binding_request(tid(4)), observed) else {
            panic!("Binding request must be answered");
        };
        let msg = Message::decode(&answer).unwrap();
        assert_eq!(msg.typ, MessageType::BINDING_SUCCESS);
        assert!(msg.fingerprint);
        assert_eq!(msg.xor_mapped_address(), Some(observed));
        assert_eq!(parse_binding_response(&answer, &tid(4)), Ok(observed));
    }
}

#[test]
fn binding_response_without_fingerprint_in_request_still_works() {
    let mut req = Message::new(MessageType::BINDING_REQUEST, tid(5));
    req.fingerprint = false;
    let answer = binding_response(&req, v4(1, 2, 3, 4, 5));
    assert_eq!(
        parse_binding_response(&answer, &tid(5)),
        Ok(v4(1, 2, 3, 4, 5))
    );
}

#[test]
fn server_ignores_unknown_optional_attributes() {
    let mut req = Message::new(MessageType::BINDING_REQUEST, tid(6));
    req.attributes.push(Attribute::Other {
        typ: AttributeType(0x8029),
        value: vec![0; 8],
    });
    let ServerAction::Reply(answer) = handle_request(&req.encode(), v4(1, 1, 1, 1, 1)) else {
        panic!("must answer");
    };
    assert_eq!(
        Message::decode(&answer).unwrap().typ,
        MessageType::BINDING_SUCCESS
    );
}

#[test]
fn server_refuses_other_methods_with_400() {
    let req = Message::new(MessageType::new(Method(0x003), Class::Request), tid(8));
    let ServerAction::Reply(answer) = handle_request(&req.encode(), v4(1, 1, 1, 1, 1)) else {
        panic!("must answer");
    };
    let msg = Message::decode(&answer).unwrap();
    assert_eq!(
        msg.typ,
        MessageType::new(Method(0x003), Class::ErrorResponse)
    );
    assert_eq!(msg.error_code().map(|e| e.0), Some(ErrorCode::BAD_REQUEST));
}

#[test]
fn server_answers_malformed_attribute_with_400() {
    // XOR-MAPPED-ADDRESS with family 0x03 in a request: the header is sound, so answer 400.
    let mut req = Message::new(MessageType::BINDING_REQUEST, tid(10));
    req.fingerprint = false;
    req.attributes.push(Attribute::Other {
        typ: AttributeType(0x0020),
        value: vec![0, 3, 0, 0, 1, 2, 3, 4],
    });
    let bytes = req.encode();
    assert_eq!(Message::decode(&bytes), Err(StunError::BadAddressFamily(3)));
    let ServerAction::Reply(answer) = handle_request(&bytes, v4(1, 1, 1, 1, 1)) else {
        panic!("must answer");
    };
    let msg = Message::decode(&answer).unwrap();
    assert_eq!(msg.transaction_id, tid(10));
    assert_eq!(msg.error_code().map(|e| e.0), Some(ErrorCode::BAD_REQUEST));
}

#[test]
fn server_discards_responses_indications_and_bad_fingerprints() {
    let response = binding_response(
        &Message::new(MessageType::BINDING_REQUEST, tid(11)),
        v4(1, 1, 1, 1, 1),
    );
    assert!(matches!(
        handle_request(&response, v4(1, 1, 1, 1, 1)),
        ServerAction::Discard(StunError::Unexpected(_))
    ));
    let indication = Message::new(
        MessageType::new(Method::BINDING, Class::Indication),
        tid(11),
    );
    assert!(matches!(
        handle_request(&indication.encode(), v4(1, 1, 1, 1, 1)),
        ServerAction::Discard(StunError::Unexpected(_))
    ));
    let mut bad = binding_request(tid(11));
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        handle_request(&bad, v4(1, 1, 1, 1, 1)),
        ServerAction::Discard(StunError::FingerprintMismatch { .. })
    ));
}

// ---- client: RFC 5626 §4.4.2 ----

#[test]
fn client_rejects_foreign_or_failed_responses() {
    let ok = binding_response(
        &Message::new(MessageType::BINDING_REQUEST, tid(12)),
        v4(9, 9, 9, 9, 9),
    );
    assert!(matches!(
        parse_binding_response(&ok, &tid(13)),
        Err(StunError::TransactionMismatch { .. })
    ));
    // A request is not a response.
    assert!(matches!(
        parse_binding_response(&binding_request(tid(12)), &tid(12)),
        Err(StunError::Unexpected(_))
    ));
    // The 420 our own server produces for the RFC 5769 request.
    let ServerAction::Reply(err) = handle_request(&hex(RFC5769_REQUEST), v4(1, 1, 1, 1, 1)) else {
        panic!("must answer");
    };
    assert_eq!(
        parse_binding_response(&err, &RFC5769_TID),
        Err(StunError::ErrorResponse {
            code: ErrorCode::UNKNOWN_ATTRIBUTE,
            reason: "Unknown Attribute".to_owned()
        })
    );
    // A success response without any mapped address.
    let empty = Message::new(MessageType::BINDING_SUCCESS, tid(12)).encode();
    assert_eq!(
        parse_binding_response(&empty, &tid(12)),
        Err(StunError::MissingMappedAddress)
    );
    // A success response with an unknown comprehension-required attribute fails (§7.3.3).
    let mut odd = Message::new(MessageType::BINDING_SUCCESS, tid(12));
    odd.attributes
        .push(Attribute::XorMappedAddress(v4(9, 9, 9, 9, 9)));
    odd.attributes.push(Attribute::Other {
        typ: AttributeType(0x7001),
        value: vec![],
    });
    assert_eq!(
        parse_binding_response(&odd.encode(), &tid(12)),
        Err(StunError::UnknownComprehensionRequired(vec![
            AttributeType(0x7001)
        ]))
    );
}

#[test]
fn client_falls_back_to_mapped_address() {
    let mut old = Message::new(MessageType::BINDING_SUCCESS, tid(14));
    old.attributes
        .push(Attribute::MappedAddress(v4(5, 6, 7, 8, 9)));
    assert_eq!(
        parse_binding_response(&old.encode(), &tid(14)),
        Ok(v4(5, 6, 7, 8, 9))
    );
}

#[test]
fn mapping_monitor_reports_nat_rebinding() {
    let mut monitor = MappingMonitor::new();
    let first = v4(203, 0, 113, 1, 30000);
    let rebound = v4(203, 0, 113, 1, 30001);
    assert_eq!(monitor.observe(first), MappingChange::Learned(first));
    assert_eq!(monitor.observe(first), MappingChange::Unchanged);
    assert_eq!(
        monitor.observe(rebound),
        MappingChange::Changed {
            previous: first,
            current: rebound
        }
    );
    assert_eq!(monitor.current(), Some(rebound));
}

// ---- malformed input: precise errors, no panics ----

#[test]
fn every_truncation_prefix_is_an_error() {
    for sample in [
        hex(RFC5769_REQUEST),
        hex(RFC5769_IPV4_RESPONSE),
        hex(RFC5769_IPV6_RESPONSE),
        binding_request(tid(1)),
    ] {
        for cut in 0..sample.len() {
            let prefix = &sample[..cut];
            let err = Message::decode(prefix).expect_err("a prefix is not a whole message");
            if cut < HEADER_LEN {
                assert_eq!(
                    err,
                    StunError::Truncated {
                        needed: HEADER_LEN,
                        available: cut
                    }
                );
            } else if (cut - HEADER_LEN).is_multiple_of(4) {
                assert!(matches!(err, StunError::LengthMismatch { .. }), "{err:?}");
            }
            assert!(matches!(
                handle_request(prefix, v4(1, 1, 1, 1, 1)),
                ServerAction::Discard(_)
            ));
            assert!(parse_binding_response(prefix, &RFC5769_TID).is_err());
        }
    }
}

#[test]
fn truncation_with_patched_length_never_panics() {
    // Cut the message and fix the header length, so the attribute parser itself sees the cut:
    // a cut inside an attribute is an overrun; a cut on an attribute boundary is a shorter,
    // valid message (without FINGERPRINT).
    for sample in [
        hex(RFC5769_REQUEST),
        hex(RFC5769_IPV4_RESPONSE),
        hex(RFC5769_IPV6_RESPONSE),
    ] {
        let boundaries = attribute_boundaries(&sample);
        for cut in (HEADER_LEN..sample.len()).step_by(4) {
            let mut prefix = sample[..cut].to_vec();
            let len = (cut - HEADER_LEN) as u16;
            prefix[2..4].copy_from_slice(&len.to_be_bytes());
            match Message::decode(&prefix) {
                Ok(msg) => {
                    assert!(boundaries.contains(&cut), "cut {cut} decoded");
                    assert!(!msg.fingerprint);
                }
                Err(err) => {
                    assert!(!boundaries.contains(&cut), "cut {cut}: {err:?}");
                    assert!(
                        matches!(err, StunError::AttributeOverrun { .. }),
                        "cut {cut}: {err:?}"
                    );
                }
            }
        }
    }
}

/// Offsets where an attribute starts, walked independently of the decoder.
fn attribute_boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut at = HEADER_LEN;
    let mut out = vec![at];
    while at + 4 <= bytes.len() {
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        at += 4 + len.div_ceil(4) * 4;
        out.push(at);
    }
    out
}

#[test]
fn header_errors_are_precise() {
    let good = binding_request(tid(2));
    let mut b = good.clone();
    b[0] = 0x80;
    assert_eq!(Message::decode(&b), Err(StunError::NotStun));
    let mut b = good.clone();
    b[7] = 0;
    assert_eq!(
        Message::decode(&b),
        Err(StunError::BadMagicCookie(0x2112_A400))
    );
    let mut b = good.clone();
    b[3] = 7;
    assert_eq!(Message::decode(&b), Err(StunError::LengthNotAligned(7)));
    let mut b = good.clone();
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        Message::decode(&b),
        Err(StunError::LengthMismatch {
            header: 8,
            actual: 12
        })
    );
}

#[test]
fn attribute_errors_are_precise() {
    let with = |typ: u16, value: &[u8]| {
        let mut m = Message::new(MessageType::BINDING_SUCCESS, tid(3));
        m.fingerprint = false;
        m.attributes.push(Attribute::Other {
            typ: AttributeType(typ),
            value: value.to_vec(),
        });
        Message::decode(&m.encode())
    };
    assert_eq!(
        with(0x0020, &[0, 1, 0, 0, 1, 2]),
        Err(StunError::BadAttributeLength {
            typ: AttributeType::XOR_MAPPED_ADDRESS,
            len: 6
        })
    );
    assert_eq!(
        with(0x0001, &[0, 2, 0, 0, 1, 2, 3, 4]),
        Err(StunError::BadAttributeLength {
            typ: AttributeType::MAPPED_ADDRESS,
            len: 8
        })
    );
    assert_eq!(
        with(0x0001, &[0, 9, 0, 0]),
        Err(StunError::BadAddressFamily(9))
    );
    assert_eq!(
        with(0x8022, &[0xff, 0xfe]),
        Err(StunError::BadText(AttributeType::SOFTWARE))
    );
    assert_eq!(
        with(0x8022, &[b'a'; 764]),
        Err(StunError::BadText(AttributeType::SOFTWARE))
    );
    assert_eq!(
        with(0x0009, &[0, 0, 2, 0]),
        Err(StunError::BadErrorCode {
            class: 2,
            number: 0
        })
    );
    assert_eq!(
        with(0x0009, &[0, 0, 4, 100]),
        Err(StunError::BadErrorCode {
            class: 4,
            number: 100
        })
    );
    assert_eq!(
        with(0x000A, &[0, 1, 2]),
        Err(StunError::BadAttributeLength {
            typ: AttributeType::UNKNOWN_ATTRIBUTES,
            len: 3
        })
    );
    assert_eq!(
        with(0x8028, &[1, 2, 3]),
        Err(StunError::BadAttributeLength {
            typ: AttributeType::FINGERPRINT,
            len: 3
        })
    );
}

#[test]
fn fingerprint_must_be_last() {
    let mut bytes = binding_request(tid(4));
    // Append a SOFTWARE attribute after FINGERPRINT and fix the length.
    bytes.extend_from_slice(&[0x80, 0x22, 0x00, 0x04, b'a', b'b', b'c', b'd']);
    let len = (bytes.len() - HEADER_LEN) as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
    // The CRC no longer matches either, because the length changed; it is checked first.
    assert!(matches!(
        Message::decode(&bytes),
        Err(StunError::FingerprintMismatch { .. })
    ));
    // Recompute the FINGERPRINT for the new length: now the order is the error.
    let fp_at = HEADER_LEN;
    let crc = fingerprint_of(&bytes[..fp_at]);
    bytes[fp_at + 4..fp_at + 8].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        Message::decode(&bytes),
        Err(StunError::AttributeAfterFingerprint(
            AttributeType::SOFTWARE
        ))
    );
}

#[test]
fn attributes_after_message_integrity_are_ignored() {
    // RFC 5389 §15.4: everything after MESSAGE-INTEGRITY except FINGERPRINT is ignored.
    let mut m = Message::new(MessageType::BINDING_SUCCESS, tid(5));
    m.attributes.push(Attribute::Other {
        typ: AttributeType::MESSAGE_INTEGRITY,
        value: vec![0; 20],
    });
    m.attributes
        .push(Attribute::XorMappedAddress(v4(1, 2, 3, 4, 5)));
    let decoded = Message::decode(&m.encode()).unwrap();
    assert_eq!(decoded.attributes.len(), 1);
    assert_eq!(decoded.xor_mapped_address(), None);
    assert!(decoded.fingerprint);
}

#[test]
fn mangled_bytes_never_panic() {
    // Deterministic pseudo-random single- and multi-byte corruptions of the vectors. Each result
    // is either an error or a message that re-encodes and decodes to itself.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let samples = [
        hex(RFC5769_REQUEST),
        hex(RFC5769_IPV4_RESPONSE),
        hex(RFC5769_IPV6_RESPONSE),
    ];
    let mut decoded = 0;
    for round in 0..20_000 {
        let mut bytes = samples[round % samples.len()].clone();
        for _ in 0..=(next() % 3) {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        // Keep the length field consistent half of the time so attribute parsing is reached.
        if round % 2 == 0 {
            let len = (bytes.len() - HEADER_LEN) as u16;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
        let _ = handle_request(&bytes, v4(1, 1, 1, 1, 1));
        let _ = parse_binding_response(&bytes, &RFC5769_TID);
        if let Ok(msg) = Message::decode(&bytes) {
            decoded += 1;
            assert_eq!(Message::decode(&msg.encode()).as_ref(), Ok(&msg));
        }
    }
    // Corruptions that hit only padding or raw values still decode; the loop must reach them.
    assert!(decoded > 0);
}
