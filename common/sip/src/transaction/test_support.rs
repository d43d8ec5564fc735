//! Message builders shared by the unit tests of the transaction machines.

use crate::{Message, StatusCode};
use std::time::{Duration, Instant};

/// A request of `method` with the given top Via branch, over UDP from atlanta.
pub(crate) fn request(method: &str, branch: &str) -> Message {
    request_with_via(
        method,
        &format!("SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}"),
    )
}

pub(crate) fn request_with_via(method: &str, via: &str) -> Message {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: {via}\r\n\
         Via: SIP/2.0/UDP proxy.atlanta.example.com;branch=z9hG4bKouter\r\n\
         Route: <sip:p1.example.com;lr>\r\n\
         Route: <sip:p2.example.com;lr>\r\n\
         Max-Forwards: 69\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).expect("test request parses")
}

/// A response with `code` to `request`, with a To tag when given.
pub(crate) fn response(request: &Message, code: u16, to_tag: Option<&str>) -> Message {
    let mut response = Message::response_to(request, StatusCode(code));
    if let Some(tag) = to_tag {
        let to = format!(
            "{};tag={tag}",
            response.headers().get("To").expect("To copied")
        );
        response.headers_mut().set("To", &to);
    }
    response
}

/// Milliseconds from `t0` to `at`, to state schedules readably.
pub(crate) fn ms(t0: Instant, at: Instant) -> u128 {
    at.duration_since(t0).as_millis()
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
