//! Next-hop resolution towards the core network (RFC 3261 §16.6 step 7).
//!
//! RFC 3263 asks for NAPTR/SRV/A lookups on the next-hop URI; this is the stand-in until the
//! resolver issue: an IP-literal host is used as it is, a host name is looked up in the
//! configured [`HostTable`]. The transport comes from the URI (`transport` parameter, `sips`
//! means TLS, RFC 3263 §4.1) or else from the configured default; the port from the URI, else
//! the table entry, else 5060 (5061 for TLS).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ims_sip::{Host, Scheme, Uri};
use ims_transport::{Target, Transport};

use crate::error::PcscfError;

/// One host-table entry: an address, optionally with a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostEntry {
    /// The address the name stands for.
    pub ip: IpAddr,
    /// The port used when the URI names none.
    pub port: Option<u16>,
}

impl HostEntry {
    /// `IP` or `IP:port` (`[v6]:port` for IPv6 with a port).
    pub fn parse(s: &str) -> Option<HostEntry> {
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Some(HostEntry {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        s.parse::<IpAddr>()
            .ok()
            .map(|ip| HostEntry { ip, port: None })
    }
}

/// Host names (compared case-insensitively, a trailing dot ignored) and their addresses.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    entries: HashMap<String, HostEntry>,
}

/// A resolved next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// Where the transport sends.
    pub target: Target,
    /// Over which transport (for the Via and the transaction timers).
    pub transport: Transport,
}

impl HostTable {
    /// Adds or replaces an entry.
    pub fn insert(&mut self, name: &str, entry: HostEntry) {
        self.entries.insert(normalise(name), entry);
    }

    /// Whether [`HostTable::resolve`] can succeed for `uri`'s host.
    pub fn can_resolve(&self, uri: &Uri) -> bool {
        match uri.host() {
            Some(Host::Domain(d)) => self.entries.contains_key(&normalise(d)),
            Some(_) => true,
            None => false,
        }
    }

    /// The next hop for `uri` (a Route value or a Request-URI).
    pub fn resolve(&self, uri: &Uri, default: Transport) -> Result<NextHop, PcscfError> {
        let transport = match uri.param("transport").flatten() {
            Some(t) => crate::config::parse_transport(t)
                .ok_or_else(|| PcscfError::NoRoute(format!("unsupported transport {t}")))?,
            None if *uri.scheme() == Scheme::Sips => Transport::Tls,
            None => default,
        };
        let default_port = if transport == Transport::Tls {
            5061
        } else {
            5060
        };
        let (ip, table_port, server_name) = match uri.host() {
            Some(Host::Ipv4(a)) => (IpAddr::V4(*a), None, None),
            Some(Host::Ipv6(a)) => (IpAddr::V6(*a), None, None),
            Some(Host::Domain(d)) => {
                let entry = self
                    .entries
                    .get(&normalise(d))
                    .ok_or_else(|| PcscfError::NoRoute(format!("no address for host {d}")))?;
                (entry.ip, entry.port, Some(d.clone()))
            }
            None => return Err(PcscfError::NoRoute(format!("{uri} has no host"))),
        };
        let port = uri.port().or(table_port).unwrap_or(default_port);
        let remote = SocketAddr::new(ip, port);
        Ok(NextHop {
            target: Target::Remote {
                transport,
                remote,
                server_name: server_name.filter(|_| transport == Transport::Tls),
            },
            transport,
        })
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> HostTable {
        let mut t = HostTable::default();
        t.insert(
            "SCSCF.example.net.",
            HostEntry::parse("10.0.0.2:5070").unwrap(),
        );
        t.insert("icscf.example.net", HostEntry::parse("10.0.0.3").unwrap());
        t
    }

    fn remote(hop: &NextHop) -> SocketAddr {
        match &hop.target {
            Target::Remote { remote, .. } => *remote,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn port_comes_from_uri_then_table_then_default() {
        let t = table();
        let u = |s: &str| Uri::parse(s).unwrap();
        let hop = t
            .resolve(&u("sip:scscf.example.net;lr"), Transport::Udp)
            .unwrap();
        assert_eq!(remote(&hop), "10.0.0.2:5070".parse().unwrap());
        let hop = t
            .resolve(&u("sip:scscf.example.net:6000;lr"), Transport::Udp)
            .unwrap();
        assert_eq!(remote(&hop), "10.0.0.2:6000".parse().unwrap());
        let hop = t
            .resolve(&u("sip:icscf.example.net;transport=tcp"), Transport::Udp)
            .unwrap();
        assert_eq!(remote(&hop), "10.0.0.3:5060".parse().unwrap());
        assert_eq!(hop.transport, Transport::Tcp);
        let hop = t
            .resolve(&u("sips:icscf.example.net"), Transport::Udp)
            .unwrap();
        assert_eq!(remote(&hop), "10.0.0.3:5061".parse().unwrap());
        assert!(matches!(
            hop.target,
            Target::Remote { server_name: Some(ref n), .. } if n == "icscf.example.net"
        ));
        let hop = t
            .resolve(&u("sip:bob@[2001:db8::5]:5080"), Transport::Udp)
            .unwrap();
        assert_eq!(remote(&hop), "[2001:db8::5]:5080".parse().unwrap());
    }

    #[test]
    fn unknown_host_is_an_error() {
        let err = table()
            .resolve(
                &Uri::parse("sip:nowhere.example.net").unwrap(),
                Transport::Udp,
            )
            .unwrap_err();
        assert!(err.to_string().contains("nowhere.example.net"), "{err}");
    }
}
