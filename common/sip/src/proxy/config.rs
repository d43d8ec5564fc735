//! What a proxy knows about itself: the addresses that are "me" (RFC 3261 §16.4, §16.3
//! step 4), the extensions it supports (§16.3 step 5) and its timers.

use std::fmt;
use std::sync::Arc;

use crate::header::Via;
use crate::transaction::TimerConfig;
use crate::{Host, Scheme, Uri};

/// An extra "this URI names me" test, e.g. for a cluster's shared name or a DNS alias the
/// proxy only knows at run time.
pub type IsMe = Arc<dyn Fn(&Uri) -> bool + Send + Sync>;

/// One address the proxy answers on: host and port (`None` means the scheme's default,
/// 5060, or 5061 for `sips`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddress {
    pub host: Host,
    pub port: Option<u16>,
}

/// The proxy's configuration.
#[derive(Clone)]
pub struct ProxyConfig {
    /// The sent-by of the Via the proxy inserts (§16.6 step 8) and the host of its
    /// Record-Route URI (§16.6 step 4).
    pub host: Host,
    /// The port of that sent-by / Record-Route URI.
    pub port: Option<u16>,
    /// The Via transport used when a [`Target`](super::Target) names none.
    pub transport: String,
    /// Further addresses that are this proxy (other interfaces, the FQDN next to the IP).
    pub aliases: Vec<LocalAddress>,
    /// An extra "this is me" predicate, consulted after `host`/`port`/`aliases`.
    pub is_me: Option<IsMe>,
    /// Request-URI schemes the proxy accepts (§16.3 step 2); others get 416.
    pub schemes: Vec<Scheme>,
    /// Option-tags the proxy supports in Proxy-Require (§16.3 step 5); others get 420.
    pub supported: Vec<String>,
    /// Whether §16.3 step 4 loop detection runs (it is a SHOULD; RFC 5393 makes the hash
    /// check recommended for forking proxies).
    pub loop_detection: bool,
    /// Transaction timers, including Timer C (§16.6 step 11).
    pub timers: TimerConfig,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .field("aliases", &self.aliases)
            .field("is_me", &self.is_me.as_ref().map(|_| "fn"))
            .field("schemes", &self.schemes)
            .field("supported", &self.supported)
            .field("loop_detection", &self.loop_detection)
            .field("timers", &self.timers)
            .finish()
    }
}

impl ProxyConfig {
    /// A configuration for a proxy at `host:port` over UDP accepting sip, sips and tel
    /// Request-URIs, with loop detection and default timers.
    pub fn new(host: Host, port: Option<u16>) -> ProxyConfig {
        ProxyConfig {
            host,
            port,
            transport: "UDP".to_owned(),
            aliases: Vec::new(),
            is_me: None,
            schemes: vec![Scheme::Sip, Scheme::Sips, Scheme::Tel],
            supported: Vec::new(),
            loop_detection: true,
            timers: TimerConfig::default(),
        }
    }

    /// The URI this proxy puts in Record-Route (§16.6 step 4): `sip:host[:port];lr` (loose
    /// routing, §19.1.1). Add parameters with [`Uri::params_mut`] before use.
    pub fn record_route_uri(&self) -> Uri {
        let mut uri = Uri::sip(self.host.clone());
        uri.set_port(self.port);
        uri.params_mut().set("lr", None);
        uri
    }

    /// Whether `uri` names this proxy (§16.4: "a value this proxy previously placed into a
    /// Record-Route", "the first value in the Route header field indicates this proxy").
    pub fn is_me(&self, uri: &Uri) -> bool {
        if uri.is_sip() {
            if let Some(host) = uri.host() {
                let default = if *uri.scheme() == Scheme::Sips {
                    5061
                } else {
                    5060
                };
                let port = uri.port().unwrap_or(default);
                let ours = std::iter::once((&self.host, self.port))
                    .chain(self.aliases.iter().map(|a| (&a.host, a.port)));
                for (h, p) in ours {
                    if same_host(h, host) && p.unwrap_or(default) == port {
                        return true;
                    }
                }
            }
        }
        self.is_me.as_ref().is_some_and(|f| f(uri))
    }

    /// Whether a Via's sent-by is this proxy's (for §16.3 step 4 and §16.7 step 3).
    pub fn is_my_via(&self, via: &Via) -> bool {
        let default = if via.transport.eq_ignore_ascii_case("TLS") {
            5061
        } else {
            5060
        };
        let port = via.port.unwrap_or(default);
        std::iter::once((&self.host, self.port))
            .chain(self.aliases.iter().map(|a| (&a.host, a.port)))
            .any(|(h, p)| same_host(h, &via.host) && p.unwrap_or(default) == port)
    }

    /// The Via this proxy inserts, with `branch` (§16.6 step 8).
    pub fn via(&self, transport: Option<&str>, branch: &str) -> Via {
        Via::new(
            transport.unwrap_or(&self.transport),
            self.host.clone(),
            self.port,
            branch,
        )
    }
}

/// Host equality: names case-insensitively (§19.1.4), addresses by value.
fn same_host(a: &Host, b: &Host) -> bool {
    match (a, b) {
        (Host::Domain(x), Host::Domain(y)) => x
            .trim_end_matches('.')
            .eq_ignore_ascii_case(y.trim_end_matches('.')),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProxyConfig {
        let mut c = ProxyConfig::new(Host::Domain("pcscf.example.net".into()), None);
        c.aliases.push(LocalAddress {
            host: Host::Ipv4("192.0.2.10".parse().unwrap()),
            port: Some(5070),
        });
        c
    }

    #[test]
    fn is_me_compares_host_case_insensitively_and_default_ports() {
        let c = config();
        assert!(c.is_me(&Uri::parse("sip:PCSCF.example.net;lr").unwrap()));
        assert!(c.is_me(&Uri::parse("sip:pcscf.example.net:5060").unwrap()));
        assert!(!c.is_me(&Uri::parse("sip:pcscf.example.net:5080").unwrap()));
        assert!(c.is_me(&Uri::parse("sip:192.0.2.10:5070;lr").unwrap()));
        assert!(!c.is_me(&Uri::parse("sip:192.0.2.10;lr").unwrap()));
        assert!(!c.is_me(&Uri::parse("tel:+15551234567").unwrap()));
    }

    #[test]
    fn predicate_extends_is_me() {
        let mut c = config();
        assert!(!c.is_me(&Uri::parse("sip:cluster.example.net").unwrap()));
        c.is_me = Some(Arc::new(
            |u: &Uri| matches!(u.host(), Some(Host::Domain(d)) if d == "cluster.example.net"),
        ));
        assert!(c.is_me(&Uri::parse("sip:cluster.example.net").unwrap()));
    }

    #[test]
    fn record_route_uri_is_loose() {
        let c = ProxyConfig::new(Host::Domain("p.example.net".into()), Some(5080));
        assert_eq!(
            c.record_route_uri().to_string(),
            "sip:p.example.net:5080;lr"
        );
        let via = c.via(Some("TCP"), "z9hG4bKx");
        assert!(c.is_my_via(&via));
        assert_eq!(
            via.to_string(),
            "SIP/2.0/TCP p.example.net:5080;branch=z9hG4bKx"
        );
    }
}
