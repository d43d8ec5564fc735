//! Message framing, decoding of hand-built wire messages, answers, and every decoding
//! error path with its Result-Code and Failed-AVP (RFC 6733 §3, §4, §6.2, §7).

use ims_diameter::avp::{code, Avp, AvpCode, AvpFlags, VendorId};
use ims_diameter::base::AnswerMessage;
use ims_diameter::dictionary;
use ims_diameter::message::answer_to_raw;
use ims_diameter::{
    message_length, ApplicationId, CommandCode, CommandFlags, DecodeError, Header, Message,
    ResultCode,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A DWR written out by hand from RFC 6733 §3, §4.1, §5.5.1.
const DWR_HEX: &str = "
    01 00 00 3c  80 00 01 18  00 00 00 00  12 34 56 78  9a bc de f0
    00 00 01 08  40 00 00 0f  68 73 73 2e 69 6d 73 00
    00 00 01 28  40 00 00 0b  69 6d 73 00
    00 00 01 16  40 00 00 0c  00 00 00 07";

#[test]
fn decodes_hand_built_dwr() {
    let raw = hex(DWR_HEX);
    assert_eq!(message_length(&raw), Some(60));
    let m = Message::decode(&raw).expect("valid DWR");
    assert!(m.header.is_request());
    assert!(!m.header.flags.is_proxiable());
    assert_eq!(m.header.command_code, CommandCode::DEVICE_WATCHDOG);
    assert_eq!(m.header.application_id, ApplicationId::COMMON);
    assert_eq!(m.header.hop_by_hop, 0x1234_5678);
    assert_eq!(m.header.end_to_end, 0x9abc_def0);
    assert_eq!(m.avps.len(), 3);
    let host = m.find(code::ORIGIN_HOST, VendorId::IETF).expect("host");
    assert_eq!(host.as_diameter_identity(), Ok("hss.ims"));
    assert!(host.flags.is_mandatory());
    let osi = m.find(code::ORIGIN_STATE_ID, VendorId::IETF).expect("osi");
    assert_eq!(osi.as_unsigned32(), Ok(7));
    assert_eq!(m.encode(), raw, "re-encodes byte for byte");
    let shared = bytes::Bytes::from(raw.clone());
    assert_eq!(Message::decode_bytes(shared.clone()), Ok(m.clone()));
    assert_eq!(
        Message::decode_bytes(shared.slice(..40)).map_err(|e| e.result_code()),
        Err(ResultCode::INVALID_MESSAGE_LENGTH)
    );
    assert_eq!(
        dictionary::validate(m.header.application_id, m.header.command_code, &m.avps),
        Ok(())
    );
}

/// A Cx request fragment with a vendor-specific AVP (Public-Identity, 601/10415) and
/// an unknown non-mandatory vendor AVP that must be relayed untouched.
#[test]
fn decodes_vendor_avps_and_keeps_unknown_ones() {
    let raw = hex("
        01 00 00 38  c0 00 01 2c  01 00 00 00  00 00 00 01  00 00 00 02
        00 00 02 59  c0 00 00 13  00 00 28 af  73 69 70 3a 61 40 62 00
        00 00 13 88  80 00 00 0e  00 00 30 39  ab cd 00 00");
    let m = Message::decode(&raw).expect("valid");
    assert_eq!(m.header.command_code, CommandCode::USER_AUTHORIZATION);
    assert_eq!(m.header.application_id, ApplicationId::CX);
    assert!(m.header.flags.is_proxiable());
    let pi = m
        .find(code::PUBLIC_IDENTITY, VendorId::TGPP)
        .expect("Public-Identity");
    assert_eq!(pi.as_utf8_string(), Ok("sip:a@b"));
    assert!(
        m.find(code::PUBLIC_IDENTITY, VendorId::IETF).is_none(),
        "vendor matters"
    );
    let unknown = &m.avps[1];
    assert_eq!(unknown.code, AvpCode(5000));
    assert_eq!(unknown.vendor_id, Some(VendorId(12345)));
    assert_eq!(unknown.data.as_ref(), &[0xab, 0xcd]);
    assert_eq!(m.encode(), raw, "unknown AVP relayed untouched");
    // Unknown without M is fine for the dictionary.
    assert_eq!(dictionary::validate_avps(&m.avps), Ok(()));
}

#[test]
fn message_length_framing() {
    assert_eq!(message_length(&[]), None);
    assert_eq!(message_length(&[1, 0, 0]), None);
    assert_eq!(message_length(&[1, 0x01, 0x02, 0x03]), Some(0x010203));
}

fn sample_request() -> Message {
    Message::new(Header::request(
        CommandCode::USER_AUTHORIZATION,
        ApplicationId::CX,
        true,
        11,
        22,
    ))
    .with(Avp::utf8_string(code::SESSION_ID, None, "icscf;1;2"))
    .with(Avp::diameter_identity(
        code::ORIGIN_HOST,
        None,
        "icscf.ims.test",
    ))
    .with(Avp::utf8_string(
        code::PUBLIC_IDENTITY,
        VendorId::TGPP,
        "sip:alice@ims.test",
    ))
    .with(Avp::utf8_string(
        code::PUBLIC_IDENTITY,
        VendorId::TGPP,
        "tel:+1234",
    ))
}

#[test]
fn builder_find_all_and_answer_to() {
    let req = sample_request();
    let all: Vec<_> = req
        .find_all(code::PUBLIC_IDENTITY, VendorId::TGPP)
        .map(|a| a.as_utf8_string().expect("utf8").to_owned())
        .collect();
    assert_eq!(all, ["sip:alice@ims.test", "tel:+1234"]);
    let decoded = Message::decode(&req.encode()).expect("round trip");
    assert_eq!(decoded, req);
    assert_eq!(decoded.session_id(), Some("icscf;1;2"));

    let mut req_t = req.clone();
    req_t.header.flags = req_t.header.flags.with(CommandFlags::RETRANSMIT, true);
    let ans = Message::answer_to(&req_t);
    assert!(!ans.header.is_request());
    assert!(ans.header.flags.is_proxiable(), "P copied");
    assert!(!ans.header.flags.is_retransmit());
    assert_eq!(ans.header.hop_by_hop, 11);
    assert_eq!(ans.header.end_to_end, 22);
    assert_eq!(ans.header.command_code, req.header.command_code);
    assert_eq!(ans.session_id(), Some("icscf;1;2"));
}

fn err(raw: &[u8]) -> DecodeError {
    Message::decode(raw).expect_err("must fail")
}

#[test]
fn header_errors() {
    let good = hex(DWR_HEX);
    // 5015: too short, bad length field, not a multiple of 4.
    assert_eq!(
        err(&good[..19]).result_code(),
        ResultCode::INVALID_MESSAGE_LENGTH
    );
    let mut l = good.clone();
    l[3] = 0x40;
    assert_eq!(err(&l).result_code(), ResultCode::INVALID_MESSAGE_LENGTH);
    let mut l = good.clone();
    l.push(0);
    l[3] = 61;
    assert_eq!(err(&l).result_code(), ResultCode::INVALID_MESSAGE_LENGTH);
    let mut l = good.clone();
    l[3] = 0x10;
    assert_eq!(
        err(&l[..16]).result_code(),
        ResultCode::INVALID_MESSAGE_LENGTH
    );
    // 5011: version 2.
    let mut v = good.clone();
    v[0] = 2;
    assert_eq!(err(&v), DecodeError::UnsupportedVersion { version: 2 });
    assert_eq!(err(&v).result_code(), ResultCode::UNSUPPORTED_VERSION);
    // 3008: E bit in a request.
    let mut e = good.clone();
    e[4] |= CommandFlags::ERROR;
    assert_eq!(err(&e).result_code(), ResultCode::INVALID_HDR_BITS);
    assert!(err(&e).is_protocol_error());
}

#[test]
fn avp_length_errors_are_5014_with_failed_avp() {
    let mut raw = hex(DWR_HEX);
    // Origin-State-Id length 0x0c -> 0x04 (below the 8-octet header).
    raw[55] = 0x04;
    let e = err(&raw);
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_LENGTH);
    let f = e.failed_avp().expect("failed avp");
    assert_eq!(f.code, code::ORIGIN_STATE_ID);
    assert_eq!(
        f.data.as_ref(),
        &[0, 0, 0, 0],
        "zero payload of Unsigned32's size"
    );

    // Origin-Host length runs past the message.
    let mut raw = hex(DWR_HEX);
    raw[27] = 0xff;
    let e = err(&raw);
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_LENGTH);
    assert_eq!(e.failed_avp().map(|a| a.code), Some(code::ORIGIN_HOST));

    // V flag set but no room for the Vendor-ID.
    let raw = hex(
        "01 00 00 1c  80 00 01 18  00 00 00 00  00 00 00 01  00 00 00 02
                   00 00 02 59  80 00 00 08",
    );
    let e = err(&raw);
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_LENGTH);
    assert_eq!(e.failed_avp().map(|a| a.code), Some(code::PUBLIC_IDENTITY));

    // Trailing 4 octets that cannot be an AVP header.
    let raw = hex("01 00 00 18  80 00 01 18  00 00 00 00  00 00 00 01  00 00 00 02  00 00 01 08");
    assert_eq!(err(&raw).result_code(), ResultCode::INVALID_AVP_LENGTH);
}

fn validate(m: &Message) -> Result<(), DecodeError> {
    dictionary::validate(m.header.application_id, m.header.command_code, &m.avps)
}

#[test]
fn dictionary_errors() {
    let base = sample_request();
    // 5001: unknown AVP with M.
    let unknown = Avp::unsigned32(AvpCode(4242), VendorId(99), 1).with_mandatory(true);
    let e = validate(&base.clone().with(unknown.clone())).expect_err("5001");
    assert_eq!(e.result_code(), ResultCode::AVP_UNSUPPORTED);
    assert_eq!(e.failed_avp(), Some(&unknown));
    assert!(validate(&base.clone().with(unknown.with_mandatory(false))).is_ok());

    // 5001 also inside a Grouped AVP, wrapped in the parent (§7.5).
    let inner_unknown = Avp::unsigned32(AvpCode(4243), None, 1).with_mandatory(true);
    let group = Avp::grouped(
        code::SERVER_CAPABILITIES,
        VendorId::TGPP,
        std::slice::from_ref(&inner_unknown),
    );
    let e = validate(&base.clone().with(group)).expect_err("5001 nested");
    assert_eq!(e.result_code(), ResultCode::AVP_UNSUPPORTED);
    let f = e.failed_avp().expect("failed");
    assert_eq!(f.code, code::SERVER_CAPABILITIES);
    assert_eq!(f.as_grouped().expect("group"), vec![inner_unknown]);

    // 3009: M bit on an AVP whose definition says "must not" (Feature-List-ID).
    let bad_bits = Avp::unsigned32(code::FEATURE_LIST_ID, VendorId::TGPP, 1).with_mandatory(true);
    let sf = Avp::grouped(
        code::SUPPORTED_FEATURES,
        VendorId::TGPP,
        std::slice::from_ref(&bad_bits),
    );
    let e = validate(&base.clone().with(sf)).expect_err("3009");
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_BITS);
    assert_eq!(
        e.failed_avp().and_then(|f| f.as_grouped().ok()),
        Some(vec![bad_bits])
    );
    // Error-Message must not have M.
    let em = Avp::utf8_string(code::ERROR_MESSAGE, None, "x").with_mandatory(true);
    assert_eq!(
        validate(&base.clone().with(em)).map_err(|e| e.result_code()),
        Err(ResultCode::INVALID_AVP_BITS)
    );

    // 5014: an Unsigned32 AVP with 3 octets.
    let short = Avp::octet_string(code::SIP_NUMBER_AUTH_ITEMS, VendorId::TGPP, vec![0, 0, 1]);
    let e = validate(&base.clone().with(short.clone())).expect_err("5014");
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_LENGTH);
    assert_eq!(e.failed_avp(), Some(&short));

    // 5004: invalid UTF-8 in a UTF8String, malformed DiameterURI.
    let bad_utf8 = Avp::octet_string(code::USER_NAME, None, vec![0xc3, 0x28]);
    let e = validate(&base.clone().with(bad_utf8.clone())).expect_err("5004");
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_VALUE);
    assert_eq!(e.failed_avp(), Some(&bad_utf8));
    let bad_uri = Avp::utf8_string(code::REDIRECT_HOST, None, "not a uri");
    assert_eq!(
        validate(&base.clone().with(bad_uri)).map_err(|e| e.result_code()),
        Err(ResultCode::INVALID_AVP_VALUE)
    );

    // 3001: unknown command in a known application; 3007: unknown application.
    let mut m = base.clone();
    m.header.command_code = CommandCode(999);
    assert_eq!(
        validate(&m),
        Err(DecodeError::CommandUnsupported {
            command_code: CommandCode(999),
            application_id: ApplicationId::CX
        })
    );
    assert_eq!(
        validate(&m).map_err(|e| e.result_code()),
        Err(ResultCode::COMMAND_UNSUPPORTED)
    );
    m.header.application_id = ApplicationId(42);
    assert_eq!(
        validate(&m).map_err(|e| e.result_code()),
        Err(ResultCode::APPLICATION_UNSUPPORTED)
    );
}

#[test]
fn p_bit_must_match_the_command_definition() {
    let req = sample_request();
    assert_eq!(dictionary::validate_message(&req), Ok(()));
    let mut no_p = req.clone();
    no_p.header.flags = no_p.header.flags.with(CommandFlags::PROXIABLE, false);
    let e = dictionary::validate_message(&no_p).expect_err("Cx requests are proxiable");
    assert_eq!(e.result_code(), ResultCode::INVALID_HDR_BITS);
    // CER must not be proxiable (RFC 6733 §5.3.1).
    let mut cer = Message::new(Header::request(
        CommandCode::CAPABILITIES_EXCHANGE,
        ApplicationId::COMMON,
        true,
        1,
        1,
    ));
    assert_eq!(
        dictionary::validate_message(&cer).map_err(|e| e.result_code()),
        Err(ResultCode::INVALID_HDR_BITS)
    );
    cer.header.flags = cer.header.flags.with(CommandFlags::PROXIABLE, false);
    assert_eq!(dictionary::validate_message(&cer), Ok(()));
    // Answers are not checked (they copy P from the request, §6.2).
    let ans = Message::answer_to(&no_p);
    assert_eq!(dictionary::validate_message(&ans), Ok(()));
}

#[test]
fn error_answers_carry_result_code_failed_avp_and_e_bit() {
    let req = sample_request();
    let unknown = Avp::unsigned32(AvpCode(4242), None, 1).with_mandatory(true);
    let e = validate(&req.clone().with(unknown.clone())).expect_err("5001");
    let ans = req.error_answer(&e, "hss.ims.test", "ims.test");
    assert!(!ans.header.flags.is_error(), "5xxx: no E bit (§7.1.5)");
    assert!(!ans.is_request());
    assert_eq!(ans.header.hop_by_hop, 11);
    assert_eq!(ans.header.end_to_end, 22);
    let decoded = Message::decode(&ans.encode()).expect("answer decodes");
    let am = AnswerMessage::from_message(&decoded).expect("answer-message layout");
    assert_eq!(am.result_code, ResultCode::AVP_UNSUPPORTED);
    assert_eq!(am.session_id.as_deref(), Some("icscf;1;2"));
    assert_eq!(am.origin_host, "hss.ims.test");
    assert_eq!(am.failed_avp, Some(vec![unknown]));
    assert!(am.error_message.is_some());

    let mut m = req.clone();
    m.header.command_code = CommandCode(999);
    let e = validate(&m).expect_err("3001");
    let ans = m.error_answer(&e, "hss.ims.test", "ims.test");
    assert!(ans.header.flags.is_error(), "3xxx: E bit (§7.1.3)");
    assert!(ans.header.flags.is_proxiable());
    assert_eq!(ans.result_code(), Some(ResultCode::COMMAND_UNSUPPORTED));
    assert!(ans.find(code::FAILED_AVP, VendorId::IETF).is_none());
}

#[test]
fn answer_to_raw_bytes_that_do_not_decode() {
    let mut raw = sample_request().encode();
    let n = raw.len();
    raw[3] = raw[3].wrapping_add(4); // length disagrees with the buffer
    let e = err(&raw);
    assert_eq!(e.result_code(), ResultCode::INVALID_MESSAGE_LENGTH);
    let ans = answer_to_raw(&raw, &e, "hss", "ims").expect("answerable");
    assert_eq!(ans.header.hop_by_hop, 11);
    assert_eq!(ans.session_id(), Some("icscf;1;2"), "Session-Id salvaged");
    assert_eq!(ans.result_code(), Some(ResultCode::INVALID_MESSAGE_LENGTH));
    assert!(answer_to_raw(&raw[..19], &e, "hss", "ims").is_none());
    // Never answer an answer.
    let mut a = raw.clone();
    a[4] &= !CommandFlags::REQUEST;
    assert!(answer_to_raw(&a[..n], &e, "hss", "ims").is_none());
}

#[test]
fn every_truncation_fails_cleanly() {
    let msgs = [hex(DWR_HEX), sample_request().encode()];
    for full in msgs {
        for n in 0..full.len() {
            let e = Message::decode(&full[..n]).expect_err("truncated");
            // A prefix always disagrees with the length field.
            assert_eq!(
                e.result_code(),
                ResultCode::INVALID_MESSAGE_LENGTH,
                "prefix {n}"
            );
        }
        assert!(Message::decode(&full).is_ok());
    }
}

/// xorshift64*: deterministic pseudo-random bytes for the property tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Whatever the bytes, decoding returns (never panics), and whatever decodes
/// re-encodes to a message that decodes to the same value.
fn check_any(bytes: &[u8]) {
    if let Ok(m) = Message::decode(bytes) {
        let again = Message::decode(&m.encode()).expect("re-encoded message decodes");
        assert_eq!(again, m);
        let _ = dictionary::validate(m.header.application_id, m.header.command_code, &m.avps);
        for a in &m.avps {
            let _ = a.as_grouped();
            let _ = a.as_address();
            let _ = a.as_diameter_uri();
        }
    }
    let _ = answer_to_raw(
        bytes,
        &DecodeError::InvalidMessageLength {
            declared: 0,
            available: 0,
        },
        "h",
        "r",
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let len = rng.below(96);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Make a fraction of inputs pass the header checks so AVP parsing is exercised.
        if len >= 20 && rng.below(2) == 0 {
            b[0] = 1;
            let l = (len & !3) as u32;
            b[1..4].copy_from_slice(&l.to_be_bytes()[1..]);
            b[4] &= !CommandFlags::ERROR;
            b.truncate(l as usize);
        }
        check_any(&b);
    }
}

#[test]
fn mutated_valid_messages_never_panic() {
    let mut rng = Rng(42);
    let seeds = [hex(DWR_HEX), sample_request().encode()];
    for _ in 0..20_000 {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            b[i] = rng.next() as u8;
        }
        check_any(&b);
    }
}

#[test]
fn reserved_header_bits_survive_a_relay() {
    let mut raw = hex(DWR_HEX);
    raw[4] |= 0x0f;
    let m = Message::decode(&raw).expect("reserved bits are ignored (§3)");
    assert_eq!(m.header.flags, CommandFlags(0x8f));
    assert_eq!(m.encode(), raw);
}

/// A random AVP: random code/vendor/reserved flag bits and payload, Grouped children
/// up to `depth` levels.
fn random_avp(rng: &mut Rng, depth: u32) -> Avp {
    let code = AvpCode(rng.next() as u32);
    let vendor = (rng.below(2) == 0).then(|| VendorId(1 + rng.next() as u32 % 20000));
    let flags = AvpFlags(rng.next() as u8 & 0x7f);
    if depth > 0 && rng.below(3) == 0 {
        let children: Vec<Avp> = (0..rng.below(4))
            .map(|_| random_avp(rng, depth - 1))
            .collect();
        let mut g = Avp::grouped(code, vendor, &children);
        g.flags = AvpFlags((flags.0 & !AvpFlags::VENDOR) | (g.flags.0 & AvpFlags::VENDOR));
        return g;
    }
    let data: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
    Avp::new(code, flags, vendor, data)
}

#[test]
fn random_messages_round_trip() {
    let mut rng = Rng(0xdead_beef);
    for _ in 0..2_000 {
        let mut m = Message::new(Header {
            flags: CommandFlags(rng.next() as u8 & !CommandFlags::ERROR),
            command_code: CommandCode(rng.next() as u32 & 0x00ff_ffff),
            application_id: ApplicationId(rng.next() as u32),
            hop_by_hop: rng.next() as u32,
            end_to_end: rng.next() as u32,
        });
        for _ in 0..rng.below(8) {
            m.push(random_avp(&mut rng, 3));
        }
        let wire = m.encode();
        assert_eq!(wire.len(), m.encoded_len());
        assert_eq!(message_length(&wire), Some(wire.len()));
        let back = Message::decode(&wire).expect("own encoding decodes");
        assert_eq!(back, m);
        for (a, b) in back.avps.iter().zip(&m.avps) {
            // Grouped payloads decode to the same children.
            assert_eq!(a.as_grouped().ok(), b.as_grouped().ok());
        }
    }
}
