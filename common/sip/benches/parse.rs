//! SIP codec benchmarks: `ims-sip` against `ezk-sip-types` 0.6 on the same two IMS messages,
//! in the same run.
//!
//! Messages: an originating MMTel INVITE on the Gm/Mw path (TS 24.229 §5.1.2A, §5.2.7: two Vias
//! with rport, Route, Record-Route, P-Asserted-Identity, P-Charging-Vector, P-Preferred-Service,
//! ICSI feature tags in Contact and Accept-Contact, SDP offer
//! with AMR-WB and telephone-event, 1.7 KB; the To URI is a `sip:...;user=phone` because
//! ezk-sip-types 0.6 does not parse `To: <tel:...>`), and a REGISTER of the IMS AKA
//! procedure (TS 24.229 §5.1.1.5.1 / TS 33.203: Authorization with AKAv1-MD5,
//! Security-Client, sec-agree option tags, Contact with +sip.instance and reg-id).
//!
//! Groups (each has an `ims-sip` and an `ezk` function):
//! - `parse/<msg>`: bytes to message. `ims-sip` `Message::parse` copies the input and checks
//!   Via/From/To/Call-ID/CSeq/Max-Forwards/Contact/Content-Length eagerly;
//!   `Message::parse_bytes` is the zero-copy entry (`ims-sip-shared`). ezk-sip-types has no
//!   whole-message parser (that lives in ezk-sip-core), so its path is the one its docs give:
//!   `PullParser` lines, `MessageLine` for the start line, `Line` for each header into
//!   `Headers`, then the body framed by `Content-Length`; header values are not parsed.
//! - `parse_typed/<msg>`: parse, then top Via, CSeq, From, To and every Contact as typed values.
//! - `serialise/<msg>`: an already parsed message to bytes (`to_bytes()`; for ezk the start
//!   line's `Print`, `Headers`' `Display`, the empty line and the body).
//!
//! Run: `cargo bench -p ims-sip --bench parse -- --warm-up-time 1 --measurement-time 3`.

use std::fmt::Write as _;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use ezk_sip_types::header::typed::{
    CSeq as EzkCSeq, Contact as EzkContact, ContentLength, FromTo, Via as EzkVia,
};
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse as _;
use ezk_sip_types::print::AppendCtx as _;
use ezk_sip_types::{Headers as EzkHeaders, Name};
use ims_sip::{Limits, Message};

const INVITE_HEAD: &str = "INVITE sip:+4930555012345@ims.mnc001.mcc262.3gppnetwork.org;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8:10::5]:5060;branch=z9hG4bK3a5f1c2e7b9d;rport\r\n\
Via: SIP/2.0/UDP [2001:db8:20::a1]:50601;branch=z9hG4bK77e1d0c9a4;rport=50601;received=2001:db8:20::a1\r\n\
Route: <sip:[2001:db8:10::5]:5060;lr>\r\n\
Record-Route: <sip:pcscf.ims.mnc001.mcc262.3gppnetwork.org;lr>\r\n\
Max-Forwards: 69\r\n\
From: <sip:+4930555098765@ims.mnc001.mcc262.3gppnetwork.org>;tag=7f3a91c2\r\n\
To: <sip:+4930555012345@ims.mnc001.mcc262.3gppnetwork.org;user=phone>\r\n\
Call-ID: b4e2f9a07c3d41e6@2001:db8:20::a1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:[2001:db8:20::a1]:50601>;+sip.instance=\"<urn:gsma:imei:35209900-176148-0>\";+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
P-Asserted-Identity: <sip:+4930555098765@ims.mnc001.mcc262.3gppnetwork.org>\r\n\
P-Charging-Vector: icid-value=\"AyretyU0dm+6O2IrT5tAFrbHLso=023551024\";orig-ioi=ims.mnc001.mcc262.3gppnetwork.org\r\n\
P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.mmtel\r\n\
Supported: 100rel,timer,precondition,sec-agree\r\n\
Allow: INVITE,ACK,CANCEL,BYE,UPDATE,PRACK,OPTIONS,INFO,MESSAGE,REFER,NOTIFY\r\n\
Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
Content-Type: application/sdp\r\n";

const INVITE_SDP: &str = "v=0\r\n\
o=- 1700000000 1700000000 IN IP6 2001:db8:20::a1\r\n\
s=-\r\n\
c=IN IP6 2001:db8:20::a1\r\n\
t=0 0\r\n\
m=audio 49152 RTP/AVP 96 97 98\r\n\
b=AS:49\r\n\
a=rtpmap:96 AMR-WB/16000/1\r\n\
a=fmtp:96 mode-change-capability=2;max-red=0\r\n\
a=rtpmap:97 AMR-WB/16000/1\r\n\
a=fmtp:97 octet-align=1;mode-change-capability=2;max-red=0\r\n\
a=rtpmap:98 telephone-event/16000\r\n\
a=fmtp:98 0-15\r\n\
a=ptime:20\r\n\
a=maxptime:240\r\n\
a=curr:qos local none\r\n\
a=des:qos mandatory local sendrecv\r\n\
a=sendrecv\r\n";

const REGISTER: &str = "REGISTER sip:ims.mnc001.mcc262.3gppnetwork.org SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8:20::a1]:5060;branch=z9hG4bK1d9e3b7f05;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:262011234567890@ims.mnc001.mcc262.3gppnetwork.org>;tag=4fa3\r\n\
To: <sip:262011234567890@ims.mnc001.mcc262.3gppnetwork.org>\r\n\
Call-ID: apb03a0s09dkjdfglkj49111@2001:db8:20::a1\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:[2001:db8:20::a1]:5060>;+sip.instance=\"<urn:gsma:imei:35209900-176148-0>\";reg-id=1;expires=600000;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
Authorization: Digest username=\"262011234567890@ims.mnc001.mcc262.3gppnetwork.org\", realm=\"ims.mnc001.mcc262.3gppnetwork.org\", nonce=\"A34Cm+Fva37UYWpGNB34JP8a6UwtYQAAp8bFmxtTy1w=\", uri=\"sip:ims.mnc001.mcc262.3gppnetwork.org\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=AKAv1-MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n\
Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=23456789;spi-s=12345678;port-c=2468;port-s=1357;prot=esp;mod=trans\r\n\
Path: <sip:term@pcscf.ims.mnc001.mcc262.3gppnetwork.org;lr>\r\n\
Supported: path,sec-agree\r\n\
Require: sec-agree\r\n\
Proxy-Require: sec-agree\r\n\
Expires: 600000\r\n\
Content-Length: 0\r\n\
\r\n";

/// The INVITE with an exact Content-Length.
fn invite() -> Vec<u8> {
    format!(
        "{INVITE_HEAD}Content-Length: {}\r\n\r\n{INVITE_SDP}",
        INVITE_SDP.len()
    )
    .into_bytes()
}

/// What ezk-sip-types gives for a message: start line, raw header map, body.
struct EzkMessage {
    line: MessageLine,
    headers: EzkHeaders,
    body: Bytes,
}

/// Whole-message parse with ezk-sip-types' building blocks (see the module docs).
fn ezk_parse(buf: &Bytes) -> Option<EzkMessage> {
    let mut lines = PullParser::new(buf, 0);
    let first = std::str::from_utf8(lines.next()?.ok()?).ok()?;
    let (_, line) = MessageLine::parse(buf)(first).ok()?;
    let mut headers = EzkHeaders::with_capacity(20);
    for raw in &mut lines {
        let text = std::str::from_utf8(raw.ok()?).ok()?;
        let (_, Line { name, value }) = Line::parse(buf, text).ok()?;
        headers.insert(name, value);
    }
    let start = lines.head_end();
    let body = match headers.get_named::<ContentLength>() {
        Ok(ContentLength(n)) => buf.slice(start..start.checked_add(n)?.min(buf.len())),
        Err(_) => buf.slice(start..),
    };
    Some(EzkMessage {
        line,
        headers,
        body,
    })
}

fn ezk_serialise(m: &EzkMessage) -> Vec<u8> {
    let mut head = String::with_capacity(m.headers.printed_len() + 128);
    // Writing to a String cannot fail.
    let _ = write!(head, "{}\r\n{}\r\n", m.line.default_print_ctx(), m.headers);
    let mut out = head.into_bytes();
    out.extend_from_slice(&m.body);
    out
}

/// The typed values a proxy reads on every request.
fn ims_typed(m: &Message) -> usize {
    let via = m.top_via().map(|v| v.branch().map_or(0, str::len));
    let cseq = m.cseq().map(|c| c.seq as usize);
    let from = m.from().map(|f| f.tag().map_or(0, str::len));
    let to = m.to().map(|t| t.tag().map_or(0, str::len));
    let contacts = m.contacts().map(|c| c.len());
    via.unwrap_or(0)
        + cseq.unwrap_or(0)
        + from.unwrap_or(0)
        + to.unwrap_or(0)
        + contacts.unwrap_or(0)
}

fn ezk_typed(m: &EzkMessage) -> usize {
    let h = &m.headers;
    let via = h.get_named::<EzkVia>().map(|v| v.transport.len());
    let cseq = h.get_named::<EzkCSeq>().map(|c| c.cseq as usize);
    let from = h
        .get::<FromTo>(Name::FROM)
        .map(|f| f.tag.map_or(0, |t| t.len()));
    let to = h
        .get::<FromTo>(Name::TO)
        .map(|t| t.tag.map_or(0, |t| t.len()));
    let contacts = h.get_named::<Vec<EzkContact>>().map(|c| c.len());
    via.unwrap_or(0)
        + cseq.unwrap_or(0)
        + from.unwrap_or(0)
        + to.unwrap_or(0)
        + contacts.unwrap_or(0)
}

/// Every typed getter the benchmark times must succeed on both sides, or one side would be
/// timed on its error path.
fn check_typed_readable(ours: &Message, theirs: &EzkMessage) {
    assert!(ours.top_via().is_ok(), "ims-sip Via");
    assert!(ours.cseq().is_ok(), "ims-sip CSeq");
    assert!(ours.from().is_ok() && ours.to().is_ok(), "ims-sip From/To");
    assert!(
        ours.contacts().is_ok_and(|c| !c.is_empty()),
        "ims-sip Contact"
    );
    let h = &theirs.headers;
    assert!(h.get_named::<EzkVia>().is_ok(), "ezk Via");
    assert!(h.get_named::<EzkCSeq>().is_ok(), "ezk CSeq");
    assert!(h.get::<FromTo>(Name::FROM).is_ok(), "ezk From");
    assert!(h.get::<FromTo>(Name::TO).is_ok(), "ezk To");
    assert!(
        h.get_named::<Vec<EzkContact>>()
            .is_ok_and(|c| !c.is_empty()),
        "ezk Contact"
    );
}

fn bench_message(c: &mut Criterion, name: &str, wire: &[u8]) {
    let shared = Bytes::copy_from_slice(wire);
    // Both libraries must accept the message, or the comparison means nothing.
    let ours = Message::parse(wire).expect("ims-sip parses the benchmark message");
    let theirs = ezk_parse(&shared).expect("ezk-sip-types parses the benchmark message");
    check_typed_readable(&ours, &theirs);
    assert_eq!(ours.body(), &theirs.body[..], "both frame the same body");
    // Both serialisers must produce a message the other side reads back the same.
    assert_eq!(Message::parse(&ours.to_bytes()).as_ref(), Ok(&ours));
    let printed = Bytes::from(ezk_serialise(&theirs));
    let reread = ezk_parse(&printed).expect("ezk reads its own output");
    assert_eq!(reread.headers.iter().count(), theirs.headers.iter().count());
    assert_eq!(reread.body, theirs.body);

    let mut g = c.benchmark_group(format!("parse/{name}"));
    g.bench_function("ims-sip", |b| b.iter(|| Message::parse(black_box(wire))));
    g.bench_function("ims-sip-shared", |b| {
        b.iter(|| Message::parse_bytes(black_box(shared.clone()), &Limits::DEFAULT))
    });
    g.bench_function("ezk", |b| b.iter(|| ezk_parse(black_box(&shared))));
    g.finish();

    let mut g = c.benchmark_group(format!("parse_typed/{name}"));
    g.bench_function("ims-sip", |b| {
        b.iter(|| Message::parse(black_box(wire)).map(|m| ims_typed(&m)))
    });
    g.bench_function("ezk", |b| {
        b.iter(|| ezk_parse(black_box(&shared)).map(|m| ezk_typed(&m)))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("serialise/{name}"));
    g.bench_function("ims-sip", |b| b.iter(|| black_box(&ours).to_bytes()));
    g.bench_function("ezk", |b| b.iter(|| ezk_serialise(black_box(&theirs))));
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_message(c, "invite", &invite());
    bench_message(c, "register", REGISTER.as_bytes());
}

criterion_group!(sip_codec, benches);
criterion_main!(sip_codec);
