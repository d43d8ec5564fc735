//! AVP data types (RFC 6733 §4.2, §4.3, §4.4): round trips through the wire form,
//! padding, and the 5014/5004 errors of the typed getters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use ims_diameter::avp::{
    code, Address, Avp, AvpCode, AvpFlags, DiameterTime, DiameterUri, VendorId,
};
use ims_diameter::codec::decode_avps;
use ims_diameter::{DecodeError, ResultCode};

/// Encodes one AVP, checks length/padding, decodes it back.
fn wire(avp: &Avp) -> Avp {
    let bytes = avp.encode();
    assert_eq!(bytes.len() % 4, 0, "padded to 4");
    assert_eq!(bytes.len(), avp.encoded_len());
    let len = u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]) as usize;
    assert_eq!(
        len,
        avp.header_len() + avp.data.len(),
        "length excludes padding"
    );
    assert!(bytes[len..].iter().all(|b| *b == 0), "padding is zero");
    let mut back = decode_avps(&Bytes::from(bytes)).expect("decodes");
    assert_eq!(back.len(), 1);
    back.remove(0)
}

const C: AvpCode = AvpCode(9999);

#[test]
fn octet_string_round_trip_all_paddings() {
    for n in 0..9 {
        let data: Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
        let a = Avp::octet_string(C, None, data.clone());
        let b = wire(&a);
        assert_eq!(b, a);
        assert_eq!(b.as_octet_string().as_ref(), &data[..]);
    }
}

#[test]
fn integer_and_float_round_trips() {
    assert_eq!(wire(&Avp::integer32(C, None, -5)).as_integer32(), Ok(-5));
    assert_eq!(
        wire(&Avp::integer64(C, None, i64::MIN)).as_integer64(),
        Ok(i64::MIN)
    );
    assert_eq!(
        wire(&Avp::unsigned32(C, None, u32::MAX)).as_unsigned32(),
        Ok(u32::MAX)
    );
    assert_eq!(
        wire(&Avp::unsigned64(C, None, 1 << 40)).as_unsigned64(),
        Ok(1 << 40)
    );
    assert_eq!(wire(&Avp::float32(C, None, 1.5)).as_float32(), Ok(1.5));
    assert_eq!(wire(&Avp::float64(C, None, -2.25)).as_float64(), Ok(-2.25));
    assert_eq!(wire(&Avp::enumerated(C, None, 14)).as_enumerated(), Ok(14));
}

#[test]
fn strings_identity_uri_round_trip() {
    let s = wire(&Avp::utf8_string(C, None, "héllo wörld"));
    assert_eq!(s.as_utf8_string(), Ok("héllo wörld"));
    let id = wire(&Avp::diameter_identity(
        code::ORIGIN_HOST,
        None,
        "hss.ims.test",
    ));
    assert_eq!(id.as_diameter_identity(), Ok("hss.ims.test"));
    let uri = DiameterUri::parse("aaas://ccf.ims.test:3868;transport=tcp;protocol=diameter")
        .expect("valid");
    assert!(uri.secure);
    assert_eq!(uri.port, Some(3868));
    let back = wire(&Avp::diameter_uri(C, None, &uri)).as_diameter_uri();
    assert_eq!(back, Ok(uri));
    assert_eq!(
        DiameterUri::parse("aaa://x.test").map(|u| u.to_string()),
        Some("aaa://x.test".to_owned())
    );
    for bad in [
        "http://x",
        "aaa://",
        "aaa://x:99999",
        "aaa://x;foo=bar",
        "aaa://a b",
    ] {
        assert_eq!(DiameterUri::parse(bad), None, "{bad}");
    }
}

#[test]
fn address_ipv4_ipv6_and_other_families() {
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let a = wire(&Avp::address(code::HOST_IP_ADDRESS, None, v4));
    assert_eq!(&a.data[..2], &[0, 1], "IPv4 family 1");
    assert_eq!(a.as_ip_address(), Ok(v4));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let a = wire(&Avp::address(code::HOST_IP_ADDRESS, None, v6));
    assert_eq!(&a.data[..2], &[0, 2], "IPv6 family 2");
    assert_eq!(a.data.len(), 18);
    assert_eq!(a.as_address(), Ok(Address::Ip(v6)));
    let e164 = Address::Other {
        family: 8,
        address: Bytes::from_static(b"4912345"),
    };
    let a = wire(&Avp::address(C, None, e164.clone()));
    assert_eq!(a.as_address(), Ok(e164));
    assert_eq!(
        a.as_ip_address().map_err(|e| e.result_code()),
        Err(ResultCode::INVALID_AVP_VALUE)
    );
}

#[test]
fn time_is_ntp_seconds_with_era_rule() {
    // 2026-01-01T00:00:00Z = 1767225600 Unix = 3976214400 NTP.
    let t = DiameterTime::from_unix_seconds(1_767_225_600).expect("in range");
    assert_eq!(t.0, 3_976_214_400);
    let a = wire(&Avp::time(code::EVENT_TIMESTAMP, None, t));
    assert_eq!(a.data.as_ref(), &3_976_214_400u32.to_be_bytes());
    assert_eq!(a.as_time(), Ok(t));
    assert_eq!(
        t.to_system_time(),
        UNIX_EPOCH + Duration::from_secs(1_767_225_600)
    );
    // After 2036-02-07 the counter wraps; the top bit clear means era 1 (RFC 4330).
    let late = DiameterTime::from_unix_seconds(2_200_000_000).expect("in range");
    assert!(late.0 < 0x8000_0000);
    assert_eq!(late.unix_seconds(), 2_200_000_000);
    assert_eq!(
        DiameterTime::from_system_time(UNIX_EPOCH + Duration::from_secs(2_200_000_000)),
        Some(late)
    );
    assert_eq!(DiameterTime::from_unix_seconds(-3_000_000_000), None);
}

#[test]
fn grouped_round_trip_nested() {
    let inner = Avp::grouped(
        C,
        VendorId::TGPP,
        &[
            Avp::utf8_string(AvpCode(1), None, "abc"),
            Avp::unsigned32(AvpCode(2), None, 7),
        ],
    );
    let outer = Avp::grouped(
        AvpCode(9998),
        None,
        &[inner.clone(), Avp::octet_string(C, None, vec![1])],
    );
    let back = wire(&outer);
    let children = back.as_grouped().expect("grouped");
    assert_eq!(children.len(), 2);
    assert_eq!(children[0], inner);
    assert_eq!(
        children[0].as_grouped().expect("inner")[0].as_utf8_string(),
        Ok("abc")
    );
}

#[test]
fn vendor_flag_follows_vendor_id() {
    let a = Avp::utf8_string(code::PUBLIC_IDENTITY, VendorId::TGPP, "sip:a@b");
    assert!(a.flags.is_vendor());
    assert!(a.flags.is_mandatory(), "dictionary: Public-Identity is M,V");
    assert_eq!(a.header_len(), 12);
    let b = Avp::utf8_string(code::SESSION_ID, VendorId::IETF, "x");
    assert!(!b.flags.is_vendor(), "vendor 0 is IETF, no V bit");
    assert_eq!(b.vendor_id, None);
    let c = Avp::unsigned32(code::FEATURE_LIST_ID, VendorId::TGPP, 1);
    assert!(!c.flags.is_mandatory(), "Feature-List-ID must not have M");
    let d = Avp::unsigned32(AvpCode(77777), None, 1);
    assert!(!d.flags.is_mandatory(), "unknown AVPs are built without M");
    assert!(d.with_mandatory(true).flags.is_mandatory());
    // Explicit flags: reserved bits kept, V recomputed.
    let e = Avp::new(C, AvpFlags(0x87), None, vec![]);
    assert_eq!(e.flags, AvpFlags(0x07));
    assert_eq!(wire(&e).flags, AvpFlags(0x07), "reserved bits relayed");
}

fn code_of(e: DecodeError) -> ResultCode {
    e.result_code()
}

#[test]
fn fixed_size_getters_reject_wrong_lengths_with_5014() {
    let a = Avp::octet_string(C, None, vec![1, 2, 3]);
    for r in [
        a.as_unsigned32().map(drop),
        a.as_integer32().map(drop),
        a.as_unsigned64().map(drop),
        a.as_integer64().map(drop),
        a.as_float32().map(drop),
        a.as_float64().map(drop),
        a.as_time().map(drop),
    ] {
        let e = r.expect_err("wrong length");
        assert_eq!(e.failed_avp(), Some(&a), "failed AVP is the AVP itself");
        assert_eq!(code_of(e), ResultCode::INVALID_AVP_LENGTH);
    }
    let one = Avp::octet_string(C, None, vec![0]);
    assert_eq!(
        one.as_address().map_err(code_of),
        Err(ResultCode::INVALID_AVP_LENGTH)
    );
    let v4_bad = Avp::octet_string(C, None, vec![0, 1, 10, 0, 0]);
    assert_eq!(
        v4_bad.as_address().map_err(code_of),
        Err(ResultCode::INVALID_AVP_LENGTH)
    );
}

#[test]
fn invalid_strings_are_5004() {
    let a = Avp::octet_string(C, None, vec![0xff, 0xfe]);
    let e = a.as_utf8_string().expect_err("not UTF-8");
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_VALUE);
    assert_eq!(e.failed_avp(), Some(&a));
    let empty = Avp::octet_string(code::ORIGIN_HOST, None, Vec::new());
    assert_eq!(
        empty.as_diameter_identity().map_err(code_of),
        Err(ResultCode::INVALID_AVP_VALUE)
    );
    let not_uri = Avp::utf8_string(C, None, "sip:x");
    assert_eq!(
        not_uri.as_diameter_uri().map_err(code_of),
        Err(ResultCode::INVALID_AVP_VALUE)
    );
}

#[test]
fn grouped_child_error_is_wrapped_in_parent() {
    // Child claims 100 octets but the group holds 8.
    let bad_child = [0, 0, 0, 1, 0x40, 0, 0, 100];
    let parent = Avp::octet_string(code::PROXY_INFO, None, bad_child.to_vec());
    let e = parent.as_grouped().expect_err("bad child");
    assert_eq!(e.result_code(), ResultCode::INVALID_AVP_LENGTH);
    let failed = e.failed_avp().expect("failed avp");
    assert_eq!(
        failed.code,
        code::PROXY_INFO,
        "§7.5: parent wraps the child"
    );
    let inner = failed.as_grouped().expect("wrapper decodes");
    assert_eq!(inner[0].code, AvpCode(1));
    // User-Name is UTF8String: minimum payload 0 octets.
    assert!(inner[0].data.is_empty());
}
