//! Route information preprocessing (RFC 3261 §16.4) and building the forwarded copy of a
//! request (§16.6 steps 1–6 and 8).

use super::{ForwardOptions, ProxyConfig, ProxyError, Target};
use crate::header::{NameAddr, Via};
use crate::Message;

/// §16.4 on a validated request, in place. Returns the Route value naming this proxy that
/// was removed, if any: an IMS node reads its parameters (e.g. the S-CSCF's `orig`,
/// TS 24.229 §5.4.3.2).
///
/// - A Request-URI that is one of our Record-Route URIs means the previous hop is a strict
///   router: the Request-URI is replaced by the last Route value, which is removed. Our
///   Record-Route URIs always carry `lr`, which tells them from a user's URI at our host.
/// - A first Route value naming us is removed.
///
/// `maddr` in the Request-URI (the third rule of §16.4) is not handled: IMS does not use it.
pub fn preprocess(config: &ProxyConfig, request: &mut Message) -> Option<NameAddr> {
    let strict_router_fixup = request
        .request_uri()
        .is_some_and(|uri| uri.param("lr").is_some() && config.is_me(uri));
    if strict_router_fixup {
        let mut routes = request.name_addrs("Route").unwrap_or_default();
        if let Some(last) = routes.pop() {
            request.set_request_uri(last.uri);
            set_routes(request, &routes);
        }
    }
    let first = request.name_addrs("Route").ok()?.into_iter().next()?;
    if config.is_me(&first.uri) {
        request.headers_mut().remove_first_value("Route");
        Some(first)
    } else {
        None
    }
}

/// Replaces the Route set by `routes` (one comma-separated field at the place of the first).
fn set_routes(request: &mut Message, routes: &[NameAddr]) {
    if routes.is_empty() {
        request.headers_mut().remove("Route");
    } else {
        let joined: Vec<String> = routes.iter().map(ToString::to_string).collect();
        request.headers_mut().set("Route", &joined.join(", "));
    }
}

/// The copy of `original` for `target` (§16.6 steps 1–6 and 8), with `via` on top.
pub fn build_copy<A>(
    original: &Message,
    target: &Target<A>,
    options: &ForwardOptions,
    via: &Via,
) -> Result<Message, ProxyError> {
    // Step 1: copy.
    let mut copy = original.clone();
    // Step 2: Request-URI (URI headers are not allowed in a Request-URI, §19.1.5).
    let mut uri = target.uri.clone();
    uri.clear_headers();
    copy.set_request_uri(uri);
    // Step 3: Max-Forwards.
    let max_forwards = match copy.headers().get("Max-Forwards") {
        Some(_) => match copy.max_forwards() {
            Ok(mf) if mf.0 == 0 => return Err(ProxyError::TooManyHops),
            Ok(mf) => mf.0 - 1,
            Err(e) => {
                return Err(ProxyError::Malformed(format!(
                    "Malformed Max-Forwards: {e}"
                )))
            }
        },
        None => 70,
    };
    copy.headers_mut()
        .set("Max-Forwards", &max_forwards.to_string());
    // Step 4: Record-Route, above any existing value.
    if let Some(rr) = &options.record_route {
        copy.headers_mut()
            .insert_first("Record-Route", &NameAddr::new(rr.clone()).to_string());
    }
    // Step 5: additional header fields.
    for name in &options.remove_headers {
        copy.headers_mut().remove(name);
    }
    for (name, value) in &options.add_headers {
        copy.headers_mut().push(name, value);
    }
    // Step 6: postprocess routing information — the target's pushed Route values go on top,
    // then a strict next hop (no `lr`) gets the Request-URI swap of §16.6 step 6.
    for route in target.route.iter().rev() {
        copy.headers_mut().insert_first("Route", &route.to_string());
    }
    let routes = copy
        .name_addrs("Route")
        .map_err(|e| ProxyError::Malformed(format!("Malformed Route: {e}")))?;
    if let Some(top) = routes.first() {
        if top.uri.param("lr").is_none() {
            let mut rest: Vec<NameAddr> = routes.iter().skip(1).cloned().collect();
            if let Some(request_uri) = copy.request_uri().cloned() {
                rest.push(NameAddr::new(request_uri));
            }
            copy.set_request_uri(top.uri.clone());
            set_routes(&mut copy, &rest);
        }
    }
    // Step 8: our Via on top.
    copy.headers_mut().insert_first("Via", &via.to_string());
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Host, Uri};

    fn config() -> ProxyConfig {
        ProxyConfig::new(Host::Domain("p.example.com".into()), None)
    }

    fn request(uri: &str, extra: &str) -> Message {
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n{extra}\
             To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=f\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn our_top_route_is_removed_and_returned() {
        let mut req = request(
            "sip:bob@example.com",
            "Route: <sip:p.example.com;lr;orig>, <sip:as.example.com;lr>\r\n",
        );
        let removed = preprocess(&config(), &mut req).unwrap();
        assert_eq!(removed.uri.param("orig"), Some(None));
        assert_eq!(req.headers().get("Route"), Some("<sip:as.example.com;lr>"));
        // Not ours: untouched.
        assert_eq!(preprocess(&config(), &mut req), None);
        assert_eq!(req.headers().count("Route"), 1);
    }

    #[test]
    fn strict_router_fixup_restores_the_request_uri() {
        // A strict router put our Record-Route URI in the Request-URI and the real one last.
        let mut req = request(
            "sip:p.example.com;lr",
            "Route: <sip:next.example.com;lr>, <sip:bob@example.com>\r\n",
        );
        assert_eq!(preprocess(&config(), &mut req), None);
        assert_eq!(
            req.request_uri().unwrap().to_string(),
            "sip:bob@example.com"
        );
        assert_eq!(
            req.headers().get("Route"),
            Some("<sip:next.example.com;lr>")
        );
    }

    #[test]
    fn copy_follows_section_16_6() {
        let original = request("sip:bob@example.com", "Max-Forwards: 10\r\n");
        let mut target = Target::new(Uri::parse("sip:bob@192.0.2.4?x=y").unwrap(), ());
        target.route = vec![NameAddr::parse("<sip:pcscf.example.com;lr>").unwrap()];
        let options = ForwardOptions {
            record_route: Some(config().record_route_uri()),
            add_headers: vec![("P-Charging-Vector".into(), "icid-value=1".into())],
            ..ForwardOptions::default()
        };
        let via = config().via(None, "z9hG4bKnew");
        let copy = build_copy(&original, &target, &options, &via).unwrap();
        assert_eq!(copy.request_uri().unwrap().to_string(), "sip:bob@192.0.2.4");
        assert_eq!(copy.headers().get("Max-Forwards"), Some("9"));
        assert_eq!(
            copy.headers().get("Record-Route"),
            Some("<sip:p.example.com;lr>")
        );
        assert_eq!(
            copy.headers().get("Route"),
            Some("<sip:pcscf.example.com;lr>")
        );
        assert_eq!(
            copy.headers().get("P-Charging-Vector"),
            Some("icid-value=1")
        );
        let vias: Vec<&str> = copy.headers().values("Via").collect();
        assert_eq!(vias.len(), 2);
        assert!(vias[0].contains("branch=z9hG4bKnew"));
        // The original is untouched (the copy is per branch).
        assert_eq!(original.headers().get("Max-Forwards"), Some("10"));
    }

    #[test]
    fn missing_max_forwards_becomes_70_and_zero_is_refused() {
        let via = config().via(None, "z9hG4bKnew");
        let target = Target::new(Uri::parse("sip:bob@h").unwrap(), ());
        let copy = build_copy(
            &request("sip:bob@example.com", ""),
            &target,
            &ForwardOptions::default(),
            &via,
        )
        .unwrap();
        assert_eq!(copy.headers().get("Max-Forwards"), Some("70"));
        let zero = request("sip:bob@example.com", "Max-Forwards: 0\r\n");
        assert_eq!(
            build_copy(&zero, &target, &ForwardOptions::default(), &via),
            Err(ProxyError::TooManyHops)
        );
    }

    #[test]
    fn strict_next_hop_gets_the_request_uri_swap() {
        let original = request("sip:bob@example.com", "Route: <sip:strict.example.com>\r\n");
        let target = Target::new(Uri::parse("sip:bob@example.com").unwrap(), ());
        let via = config().via(None, "z9hG4bKnew");
        let copy = build_copy(&original, &target, &ForwardOptions::default(), &via).unwrap();
        assert_eq!(
            copy.request_uri().unwrap().to_string(),
            "sip:strict.example.com"
        );
        assert_eq!(copy.headers().get("Route"), Some("<sip:bob@example.com>"));
    }
}
