//! RFC 4475 SIP torture tests, table-driven over /work/shared/vectors/sip_torture.
//!
//! - §3.1.1 valid messages parse, and serialising then re-parsing gives the same start line,
//!   header fields and body;
//! - §3.1.2 invalid messages are rejected with the specific error named per file;
//! - §3.2-§3.4 semantic messages parse, and [`rfc4475_expected_response`] yields the response
//!   the RFC prescribes for each.

use ims_sip::{rfc4475_expected_response, HeaderError, Message, ParseError, StatusCode, UriError};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/sip_torture"
);

fn read(sub: &str, file: &str) -> Vec<u8> {
    let path = format!("{DIR}/{sub}/{file}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every file listed in manifest.csv for a category.
fn manifest(category: &str) -> Vec<String> {
    let csv = std::fs::read_to_string(format!("{DIR}/manifest.csv")).expect("manifest.csv");
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            let section = f.next()?;
            let name = f.next()?;
            let cat = f.next()?;
            (cat == category).then(|| format!("{section}_{name}.dat"))
        })
        .collect()
}

#[test]
fn valid_messages_parse_and_round_trip() {
    let files = manifest("valid");
    assert_eq!(files.len(), 13);
    for file in files {
        let bytes = read("valid", &file);
        let msg = Message::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let wire = msg.to_bytes();
        let again = Message::parse(&wire).unwrap_or_else(|e| panic!("{file} re-parse: {e}"));
        assert_eq!(again.start_line(), msg.start_line(), "{file}");
        assert_eq!(again.headers(), msg.headers(), "{file}");
        assert_eq!(again.body(), msg.body(), "{file}");
        // Serialising is stable after one round.
        assert_eq!(again.to_bytes(), wire, "{file}");
    }
}

#[test]
fn valid_message_details() {
    let wsinv = Message::parse(&read("valid", "3.1.1.1_wsinv.dat")).unwrap();
    assert_eq!(wsinv.vias().unwrap().len(), 3);
    assert_eq!(wsinv.to().unwrap().tag(), Some("1918181833n"));
    assert_eq!(wsinv.from().unwrap().tag(), Some("98asjd8"));
    assert_eq!(wsinv.cseq().unwrap().seq, 9);
    assert_eq!(wsinv.max_forwards().unwrap().0, 68);
    assert_eq!(
        wsinv.headers().get("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        wsinv.headers().get("UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    assert_eq!(wsinv.contacts().unwrap()[0].q(), Ok(Some(330)));
    assert_eq!(wsinv.body().len(), 150);

    let intmeth = Message::parse(&read("valid", "3.1.1.2_intmeth.dat")).unwrap();
    assert_eq!(
        intmeth.method().unwrap().as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert_eq!(
        intmeth.request_uri().unwrap().password(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );

    let esc02 = Message::parse(&read("valid", "3.1.1.5_esc02.dat")).unwrap();
    // C%6Fntact is an unknown header, not Contact.
    assert_eq!(esc02.contacts().unwrap().len(), 2);
    assert_eq!(
        esc02.top_via().unwrap().branch(),
        Some("z9hG4bK209%fzsnel234")
    );

    let longreq = Message::parse(&read("valid", "3.1.1.7_longreq.dat")).unwrap();
    assert_eq!(longreq.vias().unwrap().len(), 34);

    let dblreq = Message::parse(&read("valid", "3.1.1.8_dblreq.dat")).unwrap();
    assert!(dblreq.body().is_empty());
    assert_eq!(dblreq.method().map(|m| m.as_str()), Some("REGISTER"));

    let mpart = Message::parse(&read("valid", "3.1.1.11_mpart01.dat")).unwrap();
    assert_eq!(mpart.body().len(), 553);

    let unreason = Message::parse(&read("valid", "3.1.1.12_unreason.dat")).unwrap();
    assert_eq!(unreason.status(), Some(StatusCode::OK));
    assert!(unreason.reason().unwrap().starts_with("= 2**3 * 5**2 "));
    let noreason = Message::parse(&read("valid", "3.1.1.13_noreason.dat")).unwrap();
    assert_eq!(noreason.status(), Some(StatusCode::TRYING));
    assert_eq!(noreason.reason(), Some(""));
}

fn bad(name: &'static str, error: HeaderError) -> ParseError {
    ParseError::BadHeader { name, error }
}

#[test]
fn invalid_messages_are_rejected_with_specific_errors() {
    let expected: Vec<(&str, ParseError)> = vec![
        ("3.1.2.1_badinv01.dat", bad("Via", HeaderError::BadParam)),
        (
            "3.1.2.2_clerr.dat",
            ParseError::BodyTruncated {
                declared: 9999,
                available: 154,
            },
        ),
        ("3.1.2.3_ncl.dat", ParseError::BadContentLength),
        (
            "3.1.2.4_scalar02.dat",
            bad("CSeq", HeaderError::NumberOutOfRange),
        ),
        (
            "3.1.2.5_scalarlg.dat",
            bad("CSeq", HeaderError::NumberOutOfRange),
        ),
        (
            "3.1.2.6_quotbal.dat",
            bad("To", HeaderError::UnterminatedQuote),
        ),
        (
            "3.1.2.7_ltgtruri.dat",
            ParseError::BadRequestUri(UriError::BadScheme),
        ),
        ("3.1.2.8_lwsruri.dat", ParseError::BadRequestLine),
        ("3.1.2.9_lwsstart.dat", ParseError::BadRequestLine),
        ("3.1.2.10_trws.dat", ParseError::BadRequestLine),
        (
            "3.1.2.11_escruri.dat",
            ParseError::BadRequestUri(UriError::HeadersNotAllowed),
        ),
        ("3.1.2.12_baddate.dat", bad("Date", HeaderError::BadDate)),
        (
            "3.1.2.13_regbadct.dat",
            bad("Contact", HeaderError::AddrSpecNeedsAngleBrackets),
        ),
        (
            "3.1.2.14_badaspec.dat",
            bad("To", HeaderError::WhitespaceInAngleBrackets),
        ),
        // The archive's baddn lacks the final empty line; see the test below for the display name.
        ("3.1.2.15_baddn.dat", ParseError::MissingEmptyLine),
        ("3.1.2.16_badvers.dat", ParseError::BadVersion),
        ("3.1.2.17_mismatch01.dat", ParseError::CSeqMethodMismatch),
        ("3.1.2.18_mismatch02.dat", ParseError::CSeqMethodMismatch),
        ("3.1.2.19_bigcode.dat", ParseError::BadStatusCode),
    ];
    let mut listed = manifest("invalid");
    listed.sort();
    let mut covered: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    covered.sort();
    assert_eq!(listed, covered, "every invalid file has an expectation");
    for (file, error) in expected {
        let got = Message::parse(&read("invalid", file));
        assert_eq!(got.as_ref().err(), Some(&error), "{file}");
        // Each maps to a 4xx/5xx answer; only the version error is not a 400.
        let status = error.status();
        if error == ParseError::BadVersion {
            assert_eq!(status, StatusCode::VERSION_NOT_SUPPORTED);
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{file}");
        }
    }
}

#[test]
fn baddn_with_its_empty_line_fails_on_the_display_name() {
    let mut bytes = read("invalid", "3.1.2.15_baddn.dat");
    bytes.extend_from_slice(b"\r\n");
    assert_eq!(
        Message::parse(&bytes).err(),
        Some(bad("From", HeaderError::BadDisplayName))
    );
}

#[test]
fn extra_file_without_version_is_rejected() {
    assert_eq!(
        Message::parse(&read("extra", "test.dat")).err(),
        Some(ParseError::BadRequestLine)
    );
}

#[test]
fn semantic_messages_parse_and_get_the_prescribed_response() {
    let expected: Vec<(&str, Option<StatusCode>)> = vec![
        // §3.2.1: a branch of just the magic cookie is an RFC 2543 transaction id; processed.
        ("3.2.1_badbranch.dat", None),
        // §3.3.1: To, From, Call-ID missing.
        ("3.3.1_insuf.dat", Some(StatusCode::BAD_REQUEST)),
        ("3.3.2_unkscm.dat", Some(StatusCode::UNSUPPORTED_URI_SCHEME)),
        (
            "3.3.3_novelsc.dat",
            Some(StatusCode::UNSUPPORTED_URI_SCHEME),
        ),
        // §3.3.4: a registrar rejects a non-SIP address-of-record.
        ("3.3.4_unksm2.dat", Some(StatusCode::BAD_REQUEST)),
        ("3.3.5_bext01.dat", Some(StatusCode::BAD_EXTENSION)),
        ("3.3.6_invut.dat", Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
        ("3.3.7_regaut01.dat", Some(StatusCode::UNAUTHORIZED)),
        ("3.3.8_multi01.dat", Some(StatusCode::BAD_REQUEST)),
        ("3.3.9_mcl01.dat", Some(StatusCode::BAD_REQUEST)),
        // §3.3.10: a response; never answered (dropped by the Via check).
        ("3.3.10_bcast.dat", None),
        ("3.3.11_zeromf.dat", Some(StatusCode::TOO_MANY_HOPS)),
        ("3.3.12_cparam01.dat", None),
        ("3.3.13_cparam02.dat", None),
        // §3.3.14: the escaped header in a bracketed Contact URI is stored as is.
        ("3.3.14_regescrt.dat", None),
        ("3.3.15_sdp01.dat", Some(StatusCode::NOT_ACCEPTABLE)),
        // §3.4.1: RFC 2543 syntax (no Max-Forwards, no branch) is accepted.
        ("3.4.1_inv2543.dat", None),
    ];
    let mut listed = manifest("semantic");
    listed.sort();
    let mut covered: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    covered.sort();
    assert_eq!(listed, covered, "every semantic file has an expectation");
    for (file, status) in expected {
        let msg = Message::parse(&read("semantic", file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(rfc4475_expected_response(&msg), status, "{file}");
    }
}

#[test]
fn semantic_details() {
    let cparam01 = Message::parse(&read("semantic", "3.3.12_cparam01.dat")).unwrap();
    let c = cparam01.contacts().unwrap();
    // Without <>, ;unknownparam is a header parameter, not a URI parameter.
    let addr = c[0].name_addr().unwrap();
    assert_eq!(addr.param("unknownparam"), Some(None));
    assert_eq!(addr.uri.param("unknownparam"), None);
    let cparam02 = Message::parse(&read("semantic", "3.3.13_cparam02.dat")).unwrap();
    let c = cparam02.contacts().unwrap();
    assert_eq!(c[0].uri().unwrap().param("unknownparam"), Some(None));

    let regescrt = Message::parse(&read("semantic", "3.3.14_regescrt.dat")).unwrap();
    let c = regescrt.contacts().unwrap();
    assert_eq!(c[0].uri().unwrap().headers()[0].0, "Route");

    let bcast = Message::parse(&read("semantic", "3.3.10_bcast.dat")).unwrap();
    let vias = bcast.vias().unwrap();
    assert_eq!(vias[1].host.to_string(), "255.255.255.255");

    let badbranch = Message::parse(&read("semantic", "3.2.1_badbranch.dat")).unwrap();
    assert!(!badbranch.top_via().unwrap().has_rfc3261_branch());

    let inv2543 = Message::parse(&read("semantic", "3.4.1_inv2543.dat")).unwrap();
    assert!(inv2543.top_via().unwrap().branch().is_none());
    assert!(inv2543.max_forwards().is_err());
}
