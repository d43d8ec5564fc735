//! Choosing the response a proxy sends upstream when no 2xx arrived (RFC 3261 §16.7 steps
//! 6–7).

use crate::{Message, StatusCode};

/// The preference of a final non-2xx response for §16.7 step 6; lower is better.
///
/// 6xx beats everything (it is authoritative, and it also cancels the other branches);
/// otherwise the lowest class wins. Within 4xx the responses a client can act on
/// (401, 407, 415, 420, 484; the RFC names them as "SHOULD be given preference") go first.
/// Equal preferences keep the response that arrived first.
pub fn preference(status: StatusCode) -> (u16, u16) {
    let class = status.0 / 100;
    if class == 6 {
        return (0, 0);
    }
    let actionable = matches!(status.0, 401 | 407 | 415 | 420 | 484);
    (class, u16::from(!actionable))
}

/// Whether `candidate` should replace `best` as the best response so far.
pub fn better(candidate: StatusCode, best: StatusCode) -> bool {
    preference(candidate) < preference(best)
}

/// Finishes the chosen response: for a 401/407, the challenges of every other 401/407 are
/// added (§16.7 step 7, so the client can answer all realms at once); a 503 becomes a 500,
/// since the 503 describes the downstream element, not this proxy (§16.7 step 6).
pub fn finish_best<'a>(best: &Message, all: impl Iterator<Item = &'a Message>) -> Message {
    let mut out = best.clone();
    let status = best.status().unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
    if matches!(status.0, 401 | 407) {
        for other in all {
            if std::ptr::eq(other, best)
                || !matches!(other.status(), Some(s) if s.0 == 401 || s.0 == 407)
            {
                continue;
            }
            for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
                for challenge in other.headers().get_all(name) {
                    let present = out.headers().get_all(name).any(|c| c == challenge);
                    if !present {
                        let challenge = challenge.to_owned();
                        out.headers_mut().push(name, &challenge);
                    }
                }
            }
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let mut converted = Message::response(StatusCode::SERVER_INTERNAL_ERROR);
        *converted.headers_mut() = out.headers().clone();
        converted.set_body(out.body_bytes().clone());
        out = converted;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(code: u16, extra: &str) -> Message {
        let text = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n{extra}\
             To: <sip:bob@example.com>;tag=t\r\nFrom: <sip:alice@example.com>;tag=f\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn six_beats_all_then_lowest_class_then_actionable_4xx() {
        let s = StatusCode;
        assert!(better(s(603), s(302)));
        assert!(better(s(404), s(503)));
        assert!(better(s(302), s(404)));
        assert!(better(s(401), s(404)));
        assert!(!better(s(486), s(404)), "equal preference keeps the first");
        assert!(!better(s(500), s(408)));
    }

    #[test]
    fn challenges_of_all_401_and_407_are_combined() {
        let a = resp(401, "WWW-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\n");
        let b = resp(
            407,
            "Proxy-Authenticate: Digest realm=\"b\", nonce=\"2\"\r\n",
        );
        let c = resp(404, "");
        let all = [a.clone(), b, c];
        let out = finish_best(&all[0], all.iter());
        assert_eq!(out.status(), Some(StatusCode(401)));
        assert_eq!(out.headers().get_all("WWW-Authenticate").count(), 1);
        assert_eq!(
            out.headers().get("Proxy-Authenticate"),
            Some("Digest realm=\"b\", nonce=\"2\"")
        );
    }

    #[test]
    fn a_503_goes_upstream_as_500() {
        let only = resp(503, "Retry-After: 5\r\n");
        let out = finish_best(&only, std::iter::once(&only));
        assert_eq!(out.status(), Some(StatusCode::SERVER_INTERNAL_ERROR));
        assert_eq!(out.headers().get("Retry-After"), Some("5"));
        assert_eq!(out.headers().get("Call-ID"), Some("c1"));
    }
}
