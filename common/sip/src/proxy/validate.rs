//! Request validation, RFC 3261 §16.3.
//!
//! Steps 1–5 are checked here in the order of the RFC; step 6 (Proxy-Authorization) is the
//! application's (an IMS P-CSCF or S-CSCF authenticates in its own way), and step 3's
//! OPTIONS exception is left to the application too: an OPTIONS with Max-Forwards 0 is
//! handed up so that the proxy may answer it itself, and [`Proxy::forward`](super::Proxy::forward)
//! refuses to forward it.

use super::branch::{loop_hash, loop_part};
use super::{ProxyConfig, ProxyError};
use crate::header::{NameAddr, OptionTags};
use crate::{Message, Method};

/// Validates a received request; returns its loop hash (§16.6 step 8) on success.
pub fn validate_request(config: &ProxyConfig, request: &Message) -> Result<u64, ProxyError> {
    // Step 1: reasonable syntax — the fields a proxy reads must parse. Via, CSeq and the
    // framing headers were already checked by the codec and the transaction layer.
    let uri = request
        .request_uri()
        .ok_or(ProxyError::WrongMessageKind("request"))?;
    let max_forwards = match request.headers().get("Max-Forwards") {
        Some(_) => Some(
            request
                .max_forwards()
                .map_err(|e| malformed("Max-Forwards", e))?
                .0,
        ),
        None => None,
    };
    request.from().map_err(|e| malformed("From", e))?;
    request.to().map_err(|e| malformed("To", e))?;
    request.call_id().map_err(|e| malformed("Call-ID", e))?;
    request
        .name_addrs("Route")
        .map_err(|e| malformed("Route", e))?;
    let vias = request.vias().map_err(|e| malformed("Via", e))?;
    let mut proxy_require = Vec::new();
    for value in request.headers().get_all("Proxy-Require") {
        let tags = OptionTags::parse(value).map_err(|e| malformed("Proxy-Require", e))?;
        proxy_require.extend(tags.0);
    }

    // Step 2: URI scheme.
    if !config.schemes.contains(uri.scheme()) {
        return Err(ProxyError::UnsupportedUriScheme(
            uri.scheme().as_str().to_owned(),
        ));
    }

    // Step 3: Max-Forwards (OPTIONS may be answered by the element itself).
    if max_forwards == Some(0) && request.method() != Some(&Method::OPTIONS) {
        return Err(ProxyError::TooManyHops);
    }

    // Step 4: loop detection — a Via of ours whose branch carries this request's hash.
    let hash = loop_hash(request);
    if config.loop_detection {
        let looped = vias
            .iter()
            .any(|via| config.is_my_via(via) && via.branch().and_then(loop_part) == Some(hash));
        if looped {
            return Err(ProxyError::LoopDetected);
        }
    }

    // Step 5: Proxy-Require.
    let unsupported: Vec<String> = proxy_require
        .into_iter()
        .filter(|tag| !config.supported.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .collect();
    if !unsupported.is_empty() {
        return Err(ProxyError::BadExtension(unsupported));
    }
    Ok(hash)
}

/// The Route values of a request, top first (already validated by [`validate_request`]).
pub fn routes(request: &Message) -> Vec<NameAddr> {
    request.name_addrs("Route").unwrap_or_default()
}

fn malformed(header: &str, error: crate::HeaderError) -> ProxyError {
    ProxyError::Malformed(format!("Malformed {header}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::super::branch::stateful_branch;
    use super::*;
    use crate::Host;

    fn config() -> ProxyConfig {
        ProxyConfig::new(Host::Domain("proxy.example.com".into()), None)
    }

    fn request(method: &str, uri: &str, extra: &str) -> Message {
        let text = format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n{extra}\
             To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=f\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn accepts_a_plain_request() {
        let req = request("INVITE", "sip:bob@example.com", "Max-Forwards: 70\r\n");
        assert_eq!(validate_request(&config(), &req), Ok(loop_hash(&req)));
    }

    #[test]
    fn max_forwards_zero_is_483_except_options() {
        let req = request("INVITE", "sip:bob@example.com", "Max-Forwards: 0\r\n");
        assert_eq!(
            validate_request(&config(), &req),
            Err(ProxyError::TooManyHops)
        );
        let opt = request("OPTIONS", "sip:bob@example.com", "Max-Forwards: 0\r\n");
        assert!(validate_request(&config(), &opt).is_ok());
    }

    #[test]
    fn unsupported_scheme_is_416() {
        let req = request("MESSAGE", "im:bob@example.com", "");
        assert_eq!(
            validate_request(&config(), &req),
            Err(ProxyError::UnsupportedUriScheme("im".into()))
        );
        let tel = request("INVITE", "tel:+15551234567", "");
        assert!(validate_request(&config(), &tel).is_ok());
    }

    #[test]
    fn unknown_proxy_require_is_420_listing_the_tags() {
        let mut c = config();
        c.supported.push("sec-agree".into());
        let req = request(
            "REGISTER",
            "sip:example.com",
            "Proxy-Require: sec-agree, foo\r\nProxy-Require: bar\r\n",
        );
        assert_eq!(
            validate_request(&c, &req),
            Err(ProxyError::BadExtension(vec!["foo".into(), "bar".into()]))
        );
    }

    #[test]
    fn our_via_with_same_hash_is_a_loop_and_other_hash_a_spiral() {
        let c = config();
        let original = request("INVITE", "sip:bob@example.com", "");
        let branch = stateful_branch(loop_hash(&original), 42);
        let mut looped = original.clone();
        looped.headers_mut().push_front(
            "Via",
            &format!("SIP/2.0/UDP proxy.example.com;branch={branch}"),
        );
        looped
            .headers_mut()
            .push_front("Via", "SIP/2.0/UDP b.example.com;branch=z9hG4bKb");
        assert_eq!(validate_request(&c, &looped), Err(ProxyError::LoopDetected));

        // Retargeted (spiral): another Request-URI, so another hash.
        let mut spiral = looped.clone();
        spiral.set_request_uri(crate::Uri::parse("sip:bob@host.example.com").unwrap());
        assert!(validate_request(&c, &spiral).is_ok());

        // The same branch under another proxy's sent-by is not ours.
        let mut other = original.clone();
        other.headers_mut().push_front(
            "Via",
            &format!("SIP/2.0/UDP elsewhere.example.com;branch={branch}"),
        );
        assert!(validate_request(&c, &other).is_ok());
    }

    #[test]
    fn malformed_fields_name_the_header() {
        // The codec already rejects these on parse; a message edited in memory can still
        // carry them, and the proxy must not trust it.
        let mut req = request("INVITE", "sip:bob@example.com", "Max-Forwards: 70\r\n");
        req.headers_mut().set("Max-Forwards", "many");
        let Err(ProxyError::Malformed(reason)) = validate_request(&config(), &req) else {
            panic!("expected a 400");
        };
        assert!(reason.contains("Max-Forwards"), "{reason}");
        let mut req = request("INVITE", "sip:bob@example.com", "");
        req.headers_mut().push("Route", "<sip:x;lr");
        let Err(ProxyError::Malformed(reason)) = validate_request(&config(), &req) else {
            panic!("expected a 400");
        };
        assert!(reason.contains("Route"), "{reason}");
    }
}
