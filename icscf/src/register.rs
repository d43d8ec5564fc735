//! The registration procedure at the I-CSCF (TS 24.229 §5.3.1): what goes into the user
//! registration status query (UAR, TS 29.228 §6.1.1), and when a failed S-CSCF is replaced.

use ims_diameter::cx::UserAuthorizationType;
use ims_sip::header::{Credentials, Expires, VisitedNetwork};
use ims_sip::{Message, StatusCode};

use crate::error::IcscfError;
use crate::identity::{derived_private_identity, public_identity};

/// The identities of a REGISTER, as the UAR carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterQuery {
    /// Public-Identity: the To URI (TS 24.229 §5.3.1.2).
    pub public_identity: String,
    /// User-Name: the Authorization `username`, or derived from the public identity.
    pub private_identity: String,
    /// Visited-Network-Identifier: the P-Visited-Network-ID the P-CSCF inserted, or our
    /// home domain for a UE at home.
    pub visited_network: String,
    /// REGISTRATION, or DE_REGISTRATION for a registration expiration interval of zero.
    pub authorization_type: UserAuthorizationType,
}

impl RegisterQuery {
    /// Reads the query from a REGISTER (TS 24.229 §5.3.1.2).
    pub fn from_request(request: &Message, home_domain: &str) -> Result<Self, IcscfError> {
        let to = request
            .to()
            .map_err(|e| IcscfError::BadRequest(format!("To: {e}")))?;
        let public_identity = public_identity(to.uri())
            .ok_or_else(|| IcscfError::BadRequest("To is not a sip, sips or tel URI".into()))?;
        let private_identity = authorization_username(request)
            .or_else(|| derived_private_identity(to.uri()))
            .ok_or_else(|| IcscfError::BadRequest("no private identity".into()))?;
        let visited_network = request
            .headers()
            .values("P-Visited-Network-ID")
            .find_map(|v| VisitedNetwork::parse(v).ok())
            .map_or_else(|| home_domain.to_owned(), |v| v.name().to_owned());
        let authorization_type = if is_deregistration(request) {
            UserAuthorizationType::DE_REGISTRATION
        } else {
            UserAuthorizationType::REGISTRATION
        };
        Ok(RegisterQuery {
            public_identity,
            private_identity,
            visited_network,
            authorization_type,
        })
    }
}

/// The `username` of the first Digest Authorization header that has one (the private user
/// identity, TS 24.229 §5.1.1.2).
fn authorization_username(request: &Message) -> Option<String> {
    request
        .headers()
        .get_all("Authorization")
        .filter_map(|v| Credentials::parse(v).ok())
        .find_map(|c| c.username().map(|u| u.trim_matches('"').to_owned()))
        .filter(|u| !u.is_empty())
}

/// Whether the registration expiration interval is zero (RFC 3261 §10.2.2): every Contact's
/// `expires` is 0, or it has none and the Expires header is 0 (also `Contact: *`).
pub fn is_deregistration(request: &Message) -> bool {
    let header_expires = request
        .headers()
        .get("Expires")
        .and_then(|v| Expires::parse(v).ok())
        .map(|e| e.0);
    let Ok(contacts) = request.contacts() else {
        return false;
    };
    if contacts.is_empty() {
        return false;
    }
    contacts.iter().all(|c| {
        let own = c.expires().ok().flatten();
        own.or(header_expires) == Some(0)
    })
}

/// Whether a final response of the chosen S-CSCF makes the I-CSCF select another one
/// (TS 24.229 §5.3.1.3: no response (a synthesized 408), a 3xx, 480, or a 5xx; a transport
/// error counts as a 503, RFC 3261 §16.9).
pub fn triggers_reselection(status: StatusCode) -> bool {
    matches!(status.0, 300..=399 | 408 | 480 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(extra: &str) -> Message {
        let text = format!(
            "REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\nTo: <sip:alice@ims.test>\r\nFrom: <sip:alice@ims.test>;tag=1\r\n\
             Call-ID: r1\r\nCSeq: 1 REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn identities_come_from_to_authorization_and_pvni() {
        let q = RegisterQuery::from_request(
            &register(
                "Contact: <sip:alice@192.0.2.1>\r\n\
                 Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n\
                 P-Visited-Network-ID: \"visited.example\"\r\n",
            ),
            "ims.test",
        )
        .unwrap();
        assert_eq!(q.public_identity, "sip:alice@ims.test");
        assert_eq!(q.private_identity, "alice@ims.test");
        assert_eq!(q.visited_network, "visited.example");
        assert_eq!(q.authorization_type, UserAuthorizationType::REGISTRATION);
    }

    #[test]
    fn private_identity_is_derived_without_authorization() {
        let q =
            RegisterQuery::from_request(&register("Contact: <sip:a@192.0.2.1>\r\n"), "home.test")
                .unwrap();
        assert_eq!(q.private_identity, "alice@ims.test");
        assert_eq!(q.visited_network, "home.test");
    }

    #[test]
    fn expiration_zero_is_deregistration() {
        assert!(is_deregistration(&register(
            "Contact: <sip:a@192.0.2.1>;expires=0\r\n"
        )));
        assert!(is_deregistration(&register(
            "Contact: <sip:a@192.0.2.1>\r\nExpires: 0\r\n"
        )));
        assert!(is_deregistration(&register("Contact: *\r\nExpires: 0\r\n")));
        assert!(!is_deregistration(&register(
            "Contact: <sip:a@192.0.2.1>;expires=600\r\nExpires: 0\r\n"
        )));
        assert!(!is_deregistration(&register(
            "Contact: <sip:a@192.0.2.1>\r\n"
        )));
        assert!(!is_deregistration(&register("")));
    }

    #[test]
    fn reselection_statuses() {
        for code in [302, 408, 480, 500, 503, 504] {
            assert!(triggers_reselection(StatusCode(code)), "{code}");
        }
        for code in [200, 401, 403, 404, 423, 600] {
            assert!(!triggers_reselection(StatusCode(code)), "{code}");
        }
    }
}
