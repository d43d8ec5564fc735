//! Instruction-count profile of `Message::parse` on the benchmark INVITE (the one of
//! `benches/parse.rs`): parses it N times (first argument, default 1000) and checks the result,
//! so that `valgrind --tool=callgrind` gives a stable instructions-per-parse figure.
//!
//! Run: `cargo build --release -p ims-sip --example parse_profile` then
//! `valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out target/release/examples/parse_profile 1000`
//! and subtract a run with N = 0 (process start-up, about 0.3 M instructions) before dividing
//! by N. A second argument `lazy` profiles `Message::parse_lazy` instead.

use std::hint::black_box;

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

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let lazy = args.next().as_deref() == Some("lazy");
    let wire = format!(
        "{INVITE_HEAD}Content-Length: {}\r\n\r\n{INVITE_SDP}",
        INVITE_SDP.len()
    )
    .into_bytes();
    let mut headers = 0;
    for _ in 0..n {
        let parsed = if lazy {
            Message::parse_lazy(black_box(&wire), &Limits::DEFAULT)
        } else {
            Message::parse(black_box(&wire))
        };
        match parsed {
            Ok(m) => headers += black_box(m).headers().len(),
            Err(e) => {
                eprintln!("benchmark INVITE refused: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("{n} parses, {headers} header fields");
}
