//! S-CSCF selection (TS 24.229 §5.3.1.2, §5.3.1.3; TS 29.228 §6.1.1, §6.1.4): the S-CSCF
//! the HSS names in Server-Name, or one chosen from the configured list by the
//! Server-Capabilities the HSS returns (TS 29.229 §6.3.4–§6.3.6).

use std::net::SocketAddr;

use ims_diameter::cx::ServerCapabilities;
use ims_sip::{Host, Uri};
use ims_transport::Transport;

use crate::config::Settings;
use crate::error::IcscfError;
use crate::routing::{resolve_uri, uri_transport};

/// An S-CSCF to forward to, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The configured name, or the URI for an S-CSCF the list does not know.
    pub name: String,
    pub uri: Uri,
    pub addr: SocketAddr,
    pub transport: Transport,
}

/// The S-CSCF a Server-Name (a SIP URI, TS 29.229 §6.3.3) names: the configured entry with
/// the same host and port if there is one, otherwise the URI resolved on its own.
pub fn by_name(settings: &Settings, server_name: &str) -> Result<Candidate, IcscfError> {
    let uri = Uri::parse(server_name.trim()).map_err(|e| {
        IcscfError::UnexpectedCxAnswer(format!("Server-Name {server_name:?} is not a URI: {e}"))
    })?;
    if let Some(entry) = settings.scscfs.iter().find(|s| same_server(&s.uri, &uri)) {
        let addr = match entry.address {
            Some(addr) => addr,
            None => resolve_uri(&entry.uri, &settings.hosts)?,
        };
        return Ok(Candidate {
            name: entry.name.clone(),
            uri: entry.uri.clone(),
            addr,
            transport: entry.transport,
        });
    }
    Ok(Candidate {
        name: uri.to_string(),
        addr: resolve_uri(&uri, &settings.hosts)?,
        transport: uri_transport(&uri),
        uri,
    })
}

/// Selects an S-CSCF that was not `tried` yet:
/// 1. the Server-Name values inside Server-Capabilities, in the HSS's order (operator
///    preference), that resolve;
/// 2. otherwise the configured S-CSCF that has every mandatory capability and the most
///    optional ones (ties: configuration order).
///
/// `None` when no S-CSCF qualifies.
pub fn by_capabilities(
    settings: &Settings,
    capabilities: &ServerCapabilities,
    tried: &[Uri],
) -> Option<Candidate> {
    let untried = |uri: &Uri| !tried.iter().any(|t| same_server(t, uri));
    for name in &capabilities.server_names {
        if let Ok(candidate) = by_name(settings, name) {
            if untried(&candidate.uri) {
                return Some(candidate);
            }
        }
    }
    let mut best: Option<(usize, &crate::config::Scscf)> = None;
    for entry in &settings.scscfs {
        let has = |c: &u32| entry.capabilities.contains(c);
        if !untried(&entry.uri) || !capabilities.mandatory_capabilities.iter().all(has) {
            continue;
        }
        let optional = capabilities
            .optional_capabilities
            .iter()
            .filter(|c| has(c))
            .count();
        if best.is_none_or(|(score, _)| optional > score) {
            best = Some((optional, entry));
        }
    }
    let (_, entry) = best?;
    by_name(settings, &entry.uri.to_string()).ok()
}

/// Whether two S-CSCF URIs name the same server: same host (names case-insensitively) and
/// port (5060 when absent); parameters such as `lr` do not matter.
pub fn same_server(a: &Uri, b: &Uri) -> bool {
    let host = |u: &Uri| match u.host() {
        Some(Host::Domain(d)) => Some(d.trim_end_matches('.').to_ascii_lowercase()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    host(a).is_some() && host(a) == host(b) && a.port().unwrap_or(5060) == b.port().unwrap_or(5060)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scscf;
    use std::collections::HashMap;

    fn settings() -> Settings {
        let entry = |name: &str, uri: &str, caps: &[u32], addr: &str| Scscf {
            name: name.into(),
            uri: Uri::parse(uri).unwrap(),
            capabilities: caps.to_vec(),
            address: Some(addr.parse().unwrap()),
            transport: Transport::Udp,
        };
        Settings {
            home_domains: vec!["ims.test".into()],
            origin_host: "icscf.ims.test".into(),
            origin_realm: "ims.test".into(),
            destination_realm: "ims.test".into(),
            scscfs: vec![
                entry("s1", "sip:s1.ims.test", &[1], "10.0.0.1:5060"),
                entry("s2", "sip:s2.ims.test", &[1, 2, 3], "10.0.0.2:5060"),
                entry("s3", "sip:s3.ims.test", &[1, 2], "10.0.0.3:5060"),
            ],
            hosts: HashMap::from([(
                "other.ims.test".to_owned(),
                "10.0.0.9:5070".parse().unwrap(),
            )]),
        }
    }

    fn caps(mandatory: &[u32], optional: &[u32], names: &[&str]) -> ServerCapabilities {
        ServerCapabilities {
            mandatory_capabilities: mandatory.to_vec(),
            optional_capabilities: optional.to_vec(),
            server_names: names.iter().map(|s| s.to_string()).collect(),
            extra: Vec::new(),
        }
    }

    #[test]
    fn server_name_matches_the_list_or_resolves_alone() {
        let s = settings();
        let c = by_name(&s, "sip:S2.ims.test:5060").unwrap();
        assert_eq!(
            (c.name.as_str(), c.addr),
            ("s2", "10.0.0.2:5060".parse().unwrap())
        );
        let other = by_name(&s, "sip:other.ims.test").unwrap();
        assert_eq!(other.addr, "10.0.0.9:5070".parse().unwrap());
        assert_eq!(by_name(&s, "sip:nowhere.test").unwrap_err().status().0, 503);
        assert_eq!(by_name(&s, "not a uri").unwrap_err().status().0, 500);
    }

    #[test]
    fn mandatory_must_all_match_and_optional_ranks() {
        let s = settings();
        let pick = |c: &ServerCapabilities, tried: &[&str]| {
            let tried: Vec<Uri> = tried.iter().map(|t| Uri::parse(t).unwrap()).collect();
            by_capabilities(&s, c, &tried).map(|c| c.name)
        };
        assert_eq!(pick(&caps(&[2], &[], &[]), &[]).as_deref(), Some("s2"));
        assert_eq!(pick(&caps(&[1], &[3], &[]), &[]).as_deref(), Some("s2"));
        assert_eq!(pick(&caps(&[1], &[], &[]), &[]).as_deref(), Some("s1"));
        assert_eq!(
            pick(&caps(&[2], &[], &[]), &["sip:s2.ims.test;lr"]).as_deref(),
            Some("s3")
        );
        assert_eq!(pick(&caps(&[4], &[], &[]), &[]), None);
        assert_eq!(
            pick(&caps(&[4], &[], &["sip:s3.ims.test"]), &[]).as_deref(),
            Some("s3"),
            "server names in Server-Capabilities come first"
        );
    }
}
