//! User identities as Cx carries them (TS 23.003 §13; TS 29.229 §6.3.2 Public-Identity,
//! RFC 6733 User-Name).

use ims_sip::{Scheme, Uri};

/// The public user identity of a URI: `sip:user@host` (`sips:` kept) without port, URI
/// parameters or headers, or `tel:number` without parameters. `None` for other schemes or a
/// sip URI without host.
pub fn public_identity(uri: &Uri) -> Option<String> {
    match uri.scheme() {
        Scheme::Sip | Scheme::Sips => {
            let host = uri.host()?;
            Some(match uri.user() {
                Some(user) => format!("{}:{user}@{host}", uri.scheme().as_str()),
                None => format!("{}:{host}", uri.scheme().as_str()),
            })
        }
        Scheme::Tel => uri.user().map(|number| format!("tel:{number}")),
        _ => None,
    }
}

/// The private user identity derived from a public one when a REGISTER carries no
/// Authorization (TS 24.229 §5.3.1.2): the URI without scheme, port and parameters,
/// i.e. `user@host` (or the number of a tel URI).
pub fn derived_private_identity(uri: &Uri) -> Option<String> {
    let public = public_identity(uri)?;
    public
        .split_once(':')
        .map(|(_, rest)| rest.to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_drop_port_and_parameters() {
        let uri = |s: &str| Uri::parse(s).unwrap();
        assert_eq!(
            public_identity(&uri("sip:alice@ims.test:5070;user=phone")).as_deref(),
            Some("sip:alice@ims.test")
        );
        assert_eq!(
            public_identity(&uri("tel:+15551234;phone-context=x")).as_deref(),
            Some("tel:+15551234")
        );
        assert_eq!(
            derived_private_identity(&uri("sip:bob@ims.test:5060")).as_deref(),
            Some("bob@ims.test")
        );
        assert_eq!(public_identity(&uri("mailto:a@b")), None);
    }
}
