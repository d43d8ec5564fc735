//! RFC 5626 §5.2 flow tokens and the flow table: round trips, forgery and corruption refused,
//! and the EPSIP guard (a token for an ended flow never reaches a new flow on the same 5-tuple).

use std::net::{IpAddr, SocketAddr};

use ims_sip::StatusCode;
use pcscf::outbound::{
    FlowId, FlowLookupError, FlowTable, FlowTokenError, FlowTokenKey, FlowTransport,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn key(seed: u64) -> FlowTokenKey {
    FlowTokenKey::generate(&mut StdRng::seed_from_u64(seed))
}

/// Local/remote pairs covering every address-family mix.
fn address_pairs() -> Vec<(SocketAddr, SocketAddr)> {
    vec![
        (addr("192.0.2.10:5060"), addr("198.51.100.7:40000")),
        (
            addr("[2001:db8::10]:5061"),
            addr("[2001:db8:ffff::7]:50123"),
        ),
        (addr("192.0.2.10:5060"), addr("[2001:db8::7]:1")),
        (addr("[::1]:65535"), addr("0.0.0.0:0")),
    ]
}

fn flow(transport: FlowTransport, local: &str, remote: &str, nonce: u64) -> FlowId {
    FlowId {
        transport,
        local: addr(local),
        remote: addr(remote),
        nonce,
    }
}

/// Whether every character is `unreserved` in a SIP URI user part (RFC 3261 §25.1).
fn is_unreserved(token: &str) -> bool {
    token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b))
}

#[test]
fn round_trip_every_transport_and_family() {
    let key = key(1);
    let mut rng = StdRng::seed_from_u64(2);
    for transport in FlowTransport::ALL {
        for (local, remote) in address_pairs() {
            let id = FlowId {
                transport,
                local,
                remote,
                nonce: rng.random(),
            };
            let token = key.encode(&id);
            let expected_len = match (local.is_ipv6(), remote.is_ipv6()) {
                (false, false) => 50,
                (true, true) => 88,
                _ => 69,
            };
            assert_eq!(token.len(), expected_len, "{token}");
            assert!(is_unreserved(&token), "{token}");
            assert_eq!(key.decode(&token), Ok(id));
        }
    }
}

#[test]
fn known_answer_matches_independent_computation() {
    // Computed with Python's hmac/hashlib/base64 from the layout in the module documentation:
    // base32(HMAC-SHA1(key, S)[..10] ‖ S), lower case, no padding; key = 00 01 .. 13.
    let key = FlowTokenKey::from_bytes(core::array::from_fn(|i| i as u8));
    let udp = flow(
        FlowTransport::Udp,
        "192.0.2.10:5060",
        "198.51.100.7:40000",
        0x0123_4567_89ab_cdef,
    );
    assert_eq!(
        key.encode(&udp),
        "msyhfwb2zj7r3m4cadaaaaqkcpcmmm3ea6oeaajdivtytk6n54"
    );
    let tls = flow(
        FlowTransport::Tls,
        "[2001:db8::10]:5061",
        "[2001:db8:ffff::7]:50123",
        0xfedc_ba98_7654_3210,
    );
    let expected =
        "ysghsvyyagthvbmayiqacdnyaaaaaaaaaaaaaaaaaaibhrjaaeg3r777aaaaaaaaaaaaaaahypf75xf2tb3fimqq";
    assert_eq!(key.encode(&tls), expected);
    assert_eq!(key.decode(expected), Ok(tls));
}

#[test]
fn usable_as_uri_user_part() {
    let token = key(3).encode(&flow(
        FlowTransport::Tcp,
        "10.0.0.1:5060",
        "10.0.0.2:1234",
        7,
    ));
    let uri = format!("sip:{token}@pcscf.ims.example;lr;ob");
    // Nothing in the token needs escaping, and it ends where the host begins.
    assert_eq!(uri.split('@').next(), Some(format!("sip:{token}").as_str()));
    assert!(is_unreserved(&token));
}

#[test]
fn every_modified_character_is_refused() {
    let key = key(4);
    for (local, remote) in address_pairs() {
        let id = FlowId {
            transport: FlowTransport::Tls,
            local,
            remote,
            nonce: 0x5555_aaaa_0f0f_f0f0,
        };
        let token = key.encode(&id);
        for position in 0..token.len() {
            for replacement in "abcdefghijklmnopqrstuvwxyz234567".chars() {
                let mut bytes = token.clone().into_bytes();
                if bytes[position] == replacement as u8 {
                    continue;
                }
                bytes[position] = replacement as u8;
                let forged = String::from_utf8(bytes).unwrap();
                let err = key.decode(&forged).expect_err(&forged);
                assert!(
                    matches!(
                        err,
                        FlowTokenError::BadMac
                            | FlowTokenError::NonCanonical
                            | FlowTokenError::LengthMismatch { .. }
                    ),
                    "{forged}: {err:?}"
                );
                assert_eq!(err.status_code(), StatusCode::FORBIDDEN);
            }
        }
    }
}

#[test]
fn token_from_another_key_is_refused() {
    let id = flow(FlowTransport::Udp, "192.0.2.1:5060", "203.0.113.9:4000", 42);
    let token = key(5).encode(&id);
    assert_eq!(key(6).decode(&token), Err(FlowTokenError::BadMac));
    assert_eq!(key(5).decode(&token), Ok(id));
}

#[test]
fn truncated_and_garbage_tokens_are_errors() {
    let key = key(7);
    let token = key.encode(&flow(
        FlowTransport::Tcp,
        "[2001:db8::1]:5060",
        "[2001:db8::2]:5060",
        9,
    ));
    for cut in 0..token.len() {
        let err = key.decode(&token[..cut]).expect_err("a prefix is refused");
        // Cuts that land on another valid length fail later, on the format byte or the MAC.
        if ![50, 69].contains(&cut) {
            assert_eq!(err, FlowTokenError::WrongLength(cut));
        }
    }
    let mut longer = token.clone();
    longer.push('a');
    assert_eq!(
        key.decode(&longer),
        Err(FlowTokenError::WrongLength(token.len() + 1))
    );
    // Upper case is refused at the first letter (digits 2-7 have no case).
    let first_letter = token.bytes().position(|b| b.is_ascii_lowercase()).unwrap();
    assert_eq!(
        key.decode(&token.to_uppercase()),
        Err(FlowTokenError::BadCharacter {
            position: first_letter,
            byte: token.as_bytes()[first_letter].to_ascii_uppercase()
        })
    );
    let mut padded = token[..86].to_owned();
    padded.push_str("==");
    assert_eq!(
        key.decode(&padded),
        Err(FlowTokenError::BadCharacter {
            position: 86,
            byte: b'='
        })
    );
    // 25 two-byte characters: 50 bytes, the right byte length, and not base32.
    let accented = "é".repeat(25);
    assert!(matches!(
        key.decode(&accented),
        Err(FlowTokenError::BadCharacter { position: 0, .. })
    ));
    assert_eq!(key.decode(""), Err(FlowTokenError::WrongLength(0)));
}

#[test]
fn random_strings_of_valid_length_are_refused() {
    let key = key(8);
    let mut rng = StdRng::seed_from_u64(9);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    for round in 0..5_000 {
        let len = [50, 69, 88][round % 3];
        let garbage: String = (0..len)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect();
        assert!(key.decode(&garbage).is_err(), "{garbage}");
    }
}

#[test]
fn key_debug_does_not_leak() {
    let key = FlowTokenKey::from_bytes([0xAB; 20]);
    let shown = format!("{key:?}");
    assert!(!shown.to_lowercase().contains("ab"), "{shown}");
    assert!(!shown.contains("171"), "{shown}");
}

// ---- flow table ----

#[test]
fn live_flow_resolves_and_removed_flow_fails_with_430() {
    let mut rng = StdRng::seed_from_u64(10);
    let mut table = FlowTable::new(key(11));
    let local = addr("192.0.2.1:5060");
    let remote = addr("203.0.113.5:33000");
    let first = table.insert(&mut rng, FlowTransport::Tcp, local, remote, "task-1");
    assert!(first.replaced.is_none());
    assert_eq!(table.len(), 1);
    let (flow, handle) = table.lookup(&first.token).unwrap();
    assert_eq!((flow, *handle), (first.flow, "task-1"));
    assert_eq!(
        table.flow_for(FlowTransport::Tcp, local, remote),
        Some(first.flow)
    );
    assert_eq!(table.flow_for(FlowTransport::Tls, local, remote), None);

    assert_eq!(table.remove(&first.flow), Some("task-1"));
    assert!(table.is_empty());
    let err = table.lookup(&first.token).unwrap_err();
    assert_eq!(err, FlowLookupError::FlowFailed(first.flow));
    assert_eq!(err.status_code(), StatusCode::FLOW_FAILED);
}

#[test]
fn token_of_ended_flow_never_reaches_new_client_on_same_address() {
    // EPSIP problem (a): the UA's connection closes, another client connects from the very same
    // IP address and port. The old token must not route to it.
    let mut rng = StdRng::seed_from_u64(12);
    let mut table = FlowTable::new(key(13));
    let local = addr("[2001:db8::1]:5061");
    let remote = addr("[2001:db8:aa::9]:41000");
    for transport in FlowTransport::ALL {
        let old = table.insert(&mut rng, transport, local, remote, 1u32);
        assert_eq!(table.remove(&old.flow), Some(1));
        let new = table.insert(&mut rng, transport, local, remote, 2u32);
        assert_ne!(new.flow.nonce, old.flow.nonce);
        assert_ne!(new.token, old.token);
        assert_eq!(
            table.lookup(&old.token).unwrap_err(),
            FlowLookupError::FlowFailed(old.flow)
        );
        assert_eq!(table.lookup(&new.token).map(|(_, h)| *h), Ok(2));
    }
}

#[test]
fn replacing_a_flow_on_the_same_tuple_kills_the_old_token() {
    let mut rng = StdRng::seed_from_u64(14);
    let mut table = FlowTable::new(key(15));
    let local = addr("192.0.2.1:5060");
    let remote = addr("198.51.100.1:5060");
    let old = table.insert(&mut rng, FlowTransport::Udp, local, remote, "old");
    let new = table.insert(&mut rng, FlowTransport::Udp, local, remote, "new");
    assert_eq!(new.replaced, Some("old"));
    assert_eq!(table.len(), 1);
    assert!(matches!(
        table.lookup(&old.token),
        Err(FlowLookupError::FlowFailed(_))
    ));
    // A late "closed" notice from the old task must not remove its successor.
    assert_eq!(table.remove(&old.flow), None);
    assert_eq!(table.get(&new.flow), Some(&"new"));
    assert_eq!(table.get(&old.flow), None);
}

/// An RNG that repeats one value a few times, to force a nonce collision.
struct Stuck {
    values: Vec<u64>,
}

impl rand::RngCore for Stuck {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        if self.values.len() > 1 {
            self.values.remove(0)
        } else {
            self.values[0]
        }
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for b in dst {
            *b = self.next_u64() as u8;
        }
    }
}

#[test]
fn replacement_never_reuses_the_old_nonce() {
    let mut table = FlowTable::new(key(16));
    let local = addr("192.0.2.1:5060");
    let remote = addr("198.51.100.1:5060");
    let mut rng = Stuck {
        values: vec![77, 77, 77, 78],
    };
    let old = table.insert(&mut rng, FlowTransport::Tcp, local, remote, ());
    let new = table.insert(&mut rng, FlowTransport::Tcp, local, remote, ());
    assert_eq!(old.flow.nonce, 77);
    assert_eq!(new.flow.nonce, 78);
    assert!(table.lookup(&old.token).is_err());
}

#[test]
fn forged_token_gets_403_from_the_table() {
    let mut rng = StdRng::seed_from_u64(17);
    let mut table = FlowTable::new(key(18));
    let ins = table.insert(
        &mut rng,
        FlowTransport::Tls,
        addr("192.0.2.1:5061"),
        addr("198.51.100.1:50000"),
        (),
    );
    // Same flow, signed by someone else.
    let forged = key(19).encode(&ins.flow);
    let err = table.lookup(&forged).unwrap_err();
    assert_eq!(err, FlowLookupError::Token(FlowTokenError::BadMac));
    assert_eq!(err.status_code(), StatusCode::FORBIDDEN);
    assert_eq!(table.token(&ins.flow), ins.token);
}

#[test]
fn distinct_flows_on_distinct_tuples_coexist() {
    let mut rng = StdRng::seed_from_u64(20);
    let mut table = FlowTable::new(key(21));
    let local = addr("192.0.2.1:5060");
    let mut tokens = Vec::new();
    for port in 1000..1100u16 {
        let remote = SocketAddr::new(IpAddr::from([203, 0, 113, 7]), port);
        tokens.push((
            table
                .insert(&mut rng, FlowTransport::Udp, local, remote, port)
                .token,
            port,
        ));
    }
    assert_eq!(table.len(), 100);
    for (token, port) in tokens {
        let (flow, handle) = table.lookup(&token).unwrap();
        assert_eq!(*handle, port);
        assert_eq!(flow.remote.port(), port);
    }
}
