//! Requests initiated by a served user (TS 24.229 §5.4.3.2): recognised by the Route value
//! the P-CSCF took from our Service-Route (user part `orig`, set by the registrar,
//! §5.4.1.2.2), checked against the registrations, then routed towards the callee.
//!
//! Routing decision (§5.4.3.2 step 10 and its notes):
//! - a SIP URI in a home domain goes to the configured I-CSCF, which runs the location query
//!   (LIR) and hands it to the terminating S-CSCF (possibly this one again); without an
//!   I-CSCF configured this S-CSCF acts as the terminating S-CSCF itself;
//! - a tel URI is one of our users only if it is a registered tel IMPU here (handled as
//!   terminating at once); ENUM translation (RFC 6116) is out of scope, so any other tel URI
//!   is answered 404;
//! - other domains go to the configured breakout (BGCF/IBCF), else 404.
//!
//! Not done here: iFC evaluation and the ISC interface (requests are never sent to
//! application servers), P-Asserted-Identity insertion when the P-CSCF sent none.

use ims_sip::header::NameAddr;
use ims_sip::{Message, Scheme, Uri};

use crate::identity::impu_key;
use crate::register::Registrar;
use crate::routing::{RoutingConfig, SessionError};

/// The user part of our Service-Route that marks originating requests.
pub const ORIG_USER: &str = "orig";

/// Whether the Route value §16.4 removed is our Service-Route (its `orig` user part), i.e. the
/// request is originating (TS 24.229 §5.4.3.2).
pub fn is_originating(removed_route: Option<&NameAddr>) -> bool {
    removed_route.is_some_and(|r| r.uri.user() == Some(ORIG_USER))
}

/// The originating check on `request` as the proxy preprocessed it: the removed Service-Route
/// value is put back on top so [`Registrar::check_originating`] sees the request as received.
/// Returns the key of the served user's public identity.
pub fn check(
    registrar: &Registrar,
    request: &Message,
    removed_route: &NameAddr,
) -> Result<String, SessionError> {
    let mut probe = request.clone();
    probe
        .headers_mut()
        .insert_first("Route", &removed_route.to_string());
    registrar
        .check_originating(&probe)
        .map_err(|e| match e.status().0 {
            400 => SessionError::BadRequest(e.to_string()),
            _ => SessionError::Forbidden(e.to_string()),
        })
}

/// Where an originating request goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginatingRoute {
    /// To this hop (the I-CSCF or the breakout), pushed as a loose Route.
    Next(Uri),
    /// The callee is served here: run the terminating procedure (TS 24.229 §5.4.3.3) now.
    Terminating,
}

/// Chooses the next hop of an originating request to `request_uri` (see the module docs).
pub fn route(
    config: &RoutingConfig,
    registrar: &Registrar,
    request_uri: &Uri,
) -> Result<OriginatingRoute, SessionError> {
    if *request_uri.scheme() == Scheme::Tel {
        let key = impu_key(request_uri);
        return match registrar.registration(&key) {
            Some(_) => Ok(OriginatingRoute::Terminating),
            None => Err(SessionError::NotFound(format!(
                "{key} is not a user of this network (ENUM not supported)"
            ))),
        };
    }
    if config.is_home(request_uri) {
        return Ok(match &config.icscf {
            Some(icscf) => OriginatingRoute::Next(loose(icscf)),
            None => OriginatingRoute::Terminating,
        });
    }
    match &config.breakout {
        Some(breakout) => Ok(OriginatingRoute::Next(loose(breakout))),
        None => Err(SessionError::NotFound(format!(
            "no route to {}",
            request_uri
                .host()
                .map(ToString::to_string)
                .unwrap_or_default()
        ))),
    }
}

/// `uri` with `lr` (RFC 3261 §19.1.1), as a Route value must have to keep the Request-URI.
fn loose(uri: &Uri) -> Uri {
    let mut uri = uri.clone();
    uri.params_mut().set("lr", None);
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegistrarConfig;

    fn registrar() -> Registrar {
        Registrar::with_rng(
            RegistrarConfig::new("sip:scscf.ims.test:6060", "ims.test"),
            rand::SeedableRng::seed_from_u64(1),
        )
        .unwrap()
    }

    #[test]
    fn orig_marker_is_recognised() {
        let orig = NameAddr::parse("<sip:orig@scscf.ims.test:6060;lr>").unwrap();
        let plain = NameAddr::parse("<sip:scscf.ims.test:6060;lr>").unwrap();
        assert!(is_originating(Some(&orig)));
        assert!(!is_originating(Some(&plain)));
        assert!(!is_originating(None));
    }

    #[test]
    fn home_foreign_and_tel_targets() {
        let registrar = registrar();
        let mut config = RoutingConfig {
            home_domains: vec!["ims.test".into()],
            icscf: Some(Uri::parse("sip:icscf.ims.test").unwrap()),
            ..RoutingConfig::default()
        };
        let uri = |s: &str| Uri::parse(s).unwrap();
        assert_eq!(
            route(&config, &registrar, &uri("sip:bob@ims.test")),
            Ok(OriginatingRoute::Next(uri("sip:icscf.ims.test;lr")))
        );
        let foreign = route(&config, &registrar, &uri("sip:carol@other.test")).unwrap_err();
        assert_eq!(foreign.status().0, 404);
        let tel = route(&config, &registrar, &uri("tel:+15550000")).unwrap_err();
        assert_eq!(tel.status().0, 404);
        config.icscf = None;
        config.breakout = Some(uri("sip:bgcf.ims.test"));
        assert_eq!(
            route(&config, &registrar, &uri("sip:bob@ims.test")),
            Ok(OriginatingRoute::Terminating)
        );
        assert_eq!(
            route(&config, &registrar, &uri("sip:carol@other.test")),
            Ok(OriginatingRoute::Next(uri("sip:bgcf.ims.test;lr")))
        );
    }

    #[test]
    fn unregistered_caller_is_forbidden() {
        let registrar = registrar();
        let request = Message::parse(
            b"INVITE sip:bob@ims.test SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bK1\r\n\
              From: <sip:alice@ims.test>;tag=1\r\nTo: <sip:bob@ims.test>\r\nCall-ID: c\r\n\
              CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let removed = NameAddr::parse("<sip:orig@scscf.ims.test:6060;lr>").unwrap();
        let err = check(&registrar, &request, &removed).unwrap_err();
        assert_eq!(err.status().0, 403, "{err}");
    }
}
