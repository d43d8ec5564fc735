//! Public and private user identities (3GPP TS 23.228 §4.3.3, TS 24.229 §5.4.1.2.1).

use ims_sip::{Scheme, Uri};

/// The comparison key of a public user identity: scheme, user and host (lowercased), port;
/// URI parameters and headers dropped. For tel URIs the number without visual separators
/// (RFC 3966 §4). Two IMPUs that differ only in parameters name the same registration.
pub fn impu_key(uri: &Uri) -> String {
    match uri.scheme() {
        Scheme::Tel => {
            let number: String = uri
                .user()
                .unwrap_or("")
                .chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
                .collect();
            format!("tel:{}", number.to_ascii_lowercase())
        }
        scheme => {
            let host = uri
                .host()
                .map(|h| h.to_string().to_ascii_lowercase())
                .unwrap_or_default();
            let mut key = format!("{}:", scheme.as_str());
            if let Some(user) = uri.user() {
                key.push_str(user);
                key.push('@');
            }
            key.push_str(&host);
            if let Some(port) = uri.port() {
                key.push_str(&format!(":{port}"));
            }
            key
        }
    }
}

/// [`impu_key`] of a URI given as text; text that is not a URI is compared as written.
pub fn impu_key_str(identity: &str) -> String {
    match Uri::parse(identity.trim()) {
        Ok(uri) => impu_key(&uri),
        Err(_) => identity.trim().to_owned(),
    }
}

/// The private user identity derived from a public one when the REGISTER carries no
/// Authorization (TS 24.229 §5.4.1.2.1 refers to TS 33.203: the IMPI is the IMPU without the
/// scheme, `user@domain`, as the ISIM-less derivation of TS 23.003 §13.3 does).
pub fn impi_from_impu(uri: &Uri) -> String {
    match (uri.user(), uri.host()) {
        (Some(u), Some(h)) => format!("{u}@{h}"),
        (Some(u), None) => u.to_owned(),
        (None, Some(h)) => h.to_string(),
        (None, None) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_parameters_and_host_case() {
        assert_eq!(
            impu_key_str("sip:Alice@IMS.Example;user=phone"),
            "sip:Alice@ims.example"
        );
        assert_eq!(impu_key_str("tel:+1-555-1234"), "tel:+15551234");
        assert_ne!(
            impu_key_str("sip:alice@ims.example"),
            impu_key_str("sip:alice@ims.example:5070")
        );
        assert_eq!(impu_key_str(" not a uri "), "not a uri");
    }

    #[test]
    fn impi_derivation() {
        let uri = Uri::parse("sip:alice@ims.example").unwrap();
        assert_eq!(impi_from_impu(&uri), "alice@ims.example");
    }
}
