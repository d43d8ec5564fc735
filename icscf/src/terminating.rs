//! Requests other than REGISTER at the I-CSCF (TS 24.229 §5.3.2): an initial request for a
//! user of a home domain gets a location query (LIR, TS 29.228 §6.1.4) and goes to the
//! S-CSCF serving that user; anything already routed (a Route set left after §16.4, or an
//! in-dialog request) is forwarded like any proxy would.

use ims_sip::header::NameAddr;
use ims_sip::{Host, Message, Scheme, Uri};

use crate::error::IcscfError;
use crate::identity::public_identity;

/// What to do with a non-REGISTER request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// TS 24.229 §5.3.2.1: ask the HSS where `public_identity` is served.
    LocationQuery { public_identity: String },
    /// Forward to the next hop this URI names (top Route, or the Request-URI of an
    /// in-dialog request), without Cx.
    RouteTo(Uri),
    /// Answer with this error.
    Reject(IcscfError),
}

/// Classifies a request after RFC 3261 §16.4 preprocessing.
pub fn classify(request: &Message, home_domains: &[String]) -> Disposition {
    let routes = match request.name_addrs("Route") {
        Ok(routes) => routes,
        Err(e) => return Disposition::Reject(IcscfError::BadRequest(format!("Route: {e}"))),
    };
    if let Some(NameAddr { uri, .. }) = routes.into_iter().next() {
        return Disposition::RouteTo(uri);
    }
    let Some(uri) = request.request_uri() else {
        return Disposition::Reject(IcscfError::BadRequest("no Request-URI".into()));
    };
    let in_dialog = request.to().is_ok_and(|to| to.tag().is_some());
    if in_dialog {
        return Disposition::RouteTo(uri.clone());
    }
    if !is_home_user(uri, home_domains) {
        return Disposition::Reject(IcscfError::NotHomeUser);
    }
    match public_identity(uri) {
        Some(public_identity) => Disposition::LocationQuery { public_identity },
        None => Disposition::Reject(IcscfError::NotHomeUser),
    }
}

/// A tel URI (global numbers are looked up in the HSS), or a sip/sips URI of a home domain.
fn is_home_user(uri: &Uri, home_domains: &[String]) -> bool {
    match (uri.scheme(), uri.host()) {
        (Scheme::Tel, _) => true,
        (Scheme::Sip | Scheme::Sips, Some(Host::Domain(domain))) => {
            let domain = domain.trim_end_matches('.');
            home_domains.iter().any(|h| h.eq_ignore_ascii_case(domain))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, extra: &str) -> Message {
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\nTo: <{uri}>{extra}\r\nFrom: <sip:a@ims.test>;tag=1\r\n\
             Call-ID: t1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn home_users_are_queried_others_refused() {
        let home = vec!["ims.test".to_owned()];
        assert_eq!(
            classify(&request("sip:bob@IMS.test;user=phone", ""), &home),
            Disposition::LocationQuery {
                public_identity: "sip:bob@IMS.test".into()
            }
        );
        assert_eq!(
            classify(&request("tel:+15551234", ""), &home),
            Disposition::LocationQuery {
                public_identity: "tel:+15551234".into()
            }
        );
        assert_eq!(
            classify(&request("sip:bob@elsewhere.test", ""), &home),
            Disposition::Reject(IcscfError::NotHomeUser)
        );
    }

    #[test]
    fn routed_and_in_dialog_requests_are_forwarded() {
        let home = vec!["ims.test".to_owned()];
        let mut routed = request("sip:bob@ims.test", "");
        routed
            .headers_mut()
            .push("Route", "<sip:scscf.ims.test;lr>");
        assert_eq!(
            classify(&routed, &home),
            Disposition::RouteTo(Uri::parse("sip:scscf.ims.test;lr").unwrap())
        );
        assert_eq!(
            classify(&request("sip:bob@192.0.2.9", ";tag=x"), &home),
            Disposition::RouteTo(Uri::parse("sip:bob@192.0.2.9").unwrap())
        );
    }
}
