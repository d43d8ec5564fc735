//! The I-CSCF configuration file (TOML) and its validation.
//!
//! ```toml
//! home_domains = ["ims.test"]
//!
//! [sip]
//! host = "icscf.ims.test"      # our name in Via (and the Route values that name us)
//! port = 5060
//! udp = ["0.0.0.0:5060"]
//! tcp = ["0.0.0.0:5060"]
//!
//! [diameter]
//! origin_host = "icscf.ims.test"
//! origin_realm = "ims.test"
//! hss_host = "hss.ims.test"
//! hss_address = "127.0.0.1:3868"
//!
//! [[scscf]]
//! name = "scscf1"
//! uri = "sip:scscf1.ims.test:6060"
//! capabilities = [1, 2]
//!
//! [hosts]
//! "scscf1.ims.test" = "127.0.0.1:6060"
//! ```
//!
//! Next hops given by name are resolved with the static `[hosts]` table; RFC 3263 DNS
//! (NAPTR/SRV/A) is not implemented yet.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ims_diameter::driver::{NodeConfig, PeerSpec};
use ims_diameter::peer::{node_capabilities, with_cx};
use ims_diameter::ApplicationId;
use ims_node::config::{from_toml_str, ConfigError, Validator};
use ims_node::runner::{EngineSettings, RunnerConfig};
use ims_sip::proxy::{LocalAddress, ProxyConfig};
use ims_sip::{Host, Uri};
use ims_transport::Transport;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Domains this network serves (Request-URI hosts the I-CSCF terminates for).
    pub home_domains: Vec<String>,
    pub sip: SipSection,
    pub diameter: DiameterSection,
    /// The S-CSCFs the I-CSCF may select (TS 24.229 §5.3.1.2).
    #[serde(default)]
    pub scscf: Vec<ScscfSection>,
    /// Static name resolution: host name -> socket address.
    #[serde(default)]
    pub hosts: BTreeMap<String, SocketAddr>,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// Our host name (or IP) in Via; Route values naming it are ours.
    pub host: String,
    pub port: Option<u16>,
    /// Other names or addresses that are this I-CSCF (host or host:port).
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub udp: Vec<SocketAddr>,
    #[serde(default)]
    pub tcp: Vec<SocketAddr>,
    /// Requests in progress at once; more are answered 503 (default 10000).
    pub max_transactions: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiameterSection {
    pub origin_host: String,
    pub origin_realm: String,
    /// Our Host-IP-Address in CER (default 127.0.0.1).
    pub host_ip: Option<IpAddr>,
    /// The HSS's Diameter identity and address.
    pub hss_host: String,
    pub hss_address: SocketAddr,
    /// Destination-Realm of Cx requests (default: origin_realm).
    pub destination_realm: Option<String>,
    /// Answer timeout of a Cx request in milliseconds (default 5000).
    pub request_timeout_ms: Option<u64>,
    /// At start, how long to wait for the HSS connection before taking SIP traffic, in
    /// milliseconds (default 5000).
    pub startup_wait_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScscfSection {
    /// A label for logs.
    pub name: String,
    /// The S-CSCF's SIP URI, as the HSS names it in Server-Name.
    pub uri: String,
    /// Capabilities it supports (TS 29.229 §6.3.5/§6.3.6 values, operator defined).
    #[serde(default)]
    pub capabilities: Vec<u32>,
    /// Where to send; default: the URI's host resolved (IP literal or `[hosts]`).
    pub address: Option<SocketAddr>,
    /// `udp` (default) or `tcp`.
    pub transport: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            filter: "info".into(),
        }
    }
}

/// One S-CSCF as the procedures use it.
#[derive(Debug, Clone)]
pub struct Scscf {
    pub name: String,
    pub uri: Uri,
    pub capabilities: Vec<u32>,
    pub address: Option<SocketAddr>,
    pub transport: Transport,
}

/// What the procedures need, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub home_domains: Vec<String>,
    pub origin_host: String,
    pub origin_realm: String,
    pub destination_realm: String,
    pub scscfs: Vec<Scscf>,
    pub hosts: HashMap<String, SocketAddr>,
}

impl FileConfig {
    /// Parses and validates; every problem is reported, each naming its key.
    pub fn parse(source_name: &str, text: &str) -> Result<FileConfig, Vec<ConfigError>> {
        let config: FileConfig = from_toml_str(source_name, text).map_err(|e| vec![e])?;
        config.validate(source_name)?;
        Ok(config)
    }

    fn validate(&self, source_name: &str) -> Result<(), Vec<ConfigError>> {
        let mut v = Validator::new(source_name);
        v.check(
            !self.home_domains.is_empty() && self.home_domains.iter().all(|d| !d.is_empty()),
            "home_domains",
            "list at least one non-empty domain",
        );
        v.check(
            Host::parse(&self.sip.host).is_ok(),
            "sip.host",
            "not a host name or IP address",
        );
        for (i, alias) in self.sip.aliases.iter().enumerate() {
            v.check(
                parse_alias(alias).is_some(),
                &format!("sip.aliases[{i}]"),
                "expected host or host:port",
            );
        }
        v.check(
            !self.sip.udp.is_empty() || !self.sip.tcp.is_empty(),
            "sip",
            "give at least one `udp` or `tcp` listen address",
        );
        v.check(
            self.sip.max_transactions != Some(0),
            "sip.max_transactions",
            "must be at least 1",
        );
        v.check(
            !self.diameter.origin_host.is_empty(),
            "diameter.origin_host",
            "must not be empty",
        );
        v.check(
            !self.diameter.origin_realm.is_empty(),
            "diameter.origin_realm",
            "must not be empty",
        );
        v.check(
            !self.diameter.hss_host.is_empty(),
            "diameter.hss_host",
            "must not be empty",
        );
        let mut names = HashSet::new();
        for (i, s) in self.scscf.iter().enumerate() {
            let key = |field: &str| format!("scscf[{i}].{field}");
            v.check(
                names.insert(s.name.as_str()),
                &key("name"),
                format!("duplicate S-CSCF name {:?}", s.name),
            );
            match Uri::parse(&s.uri) {
                Ok(uri) if uri.is_sip() && uri.host().is_some() => {
                    let resolvable = s.address.is_some()
                        || crate::routing::resolve_uri(&uri, &self.hosts_map()).is_ok();
                    v.check(
                        resolvable,
                        &key("address"),
                        format!(
                            "no address, and the host of {:?} is neither an IP address nor in [hosts]",
                            s.uri
                        ),
                    );
                }
                Ok(_) => v.check(
                    false,
                    &key("uri"),
                    "must be a sip: or sips: URI with a host",
                ),
                Err(e) => v.check(false, &key("uri"), e),
            }
            v.check(
                parse_transport(s.transport.as_deref()).is_some(),
                &key("transport"),
                "expected \"udp\" or \"tcp\"",
            );
        }
        v.finish()
    }

    fn hosts_map(&self) -> HashMap<String, SocketAddr> {
        self.hosts
            .iter()
            .map(|(name, addr)| (name.to_ascii_lowercase(), *addr))
            .collect()
    }

    /// The settings of the procedures. Call on a validated configuration.
    pub fn settings(&self) -> Settings {
        let scscfs = self
            .scscf
            .iter()
            .filter_map(|s| {
                Some(Scscf {
                    name: s.name.clone(),
                    uri: Uri::parse(&s.uri).ok()?,
                    capabilities: s.capabilities.clone(),
                    address: s.address,
                    transport: parse_transport(s.transport.as_deref())?,
                })
            })
            .collect();
        Settings {
            home_domains: self.home_domains.clone(),
            origin_host: self.diameter.origin_host.clone(),
            origin_realm: self.diameter.origin_realm.clone(),
            destination_realm: self.destination_realm(),
            scscfs,
            hosts: self.hosts_map(),
        }
    }

    fn destination_realm(&self) -> String {
        self.diameter
            .destination_realm
            .clone()
            .unwrap_or_else(|| self.diameter.origin_realm.clone())
    }

    /// The runner configuration: listeners, proxy identity, Diameter node towards the HSS.
    pub fn runner_config(&self) -> RunnerConfig {
        let host = Host::parse(&self.sip.host).unwrap_or(Host::Ipv4(Ipv4Addr::LOCALHOST));
        let mut proxy = ProxyConfig::new(host, self.sip.port);
        proxy.aliases = self
            .sip
            .aliases
            .iter()
            .filter_map(|a| parse_alias(a))
            .collect();
        // The addresses we listen on are us too (a Route or Via may name them).
        for addr in self.sip.udp.iter().chain(&self.sip.tcp) {
            if !addr.ip().is_unspecified() {
                proxy.aliases.push(LocalAddress {
                    host: ip_host(addr.ip()),
                    port: Some(addr.port()),
                });
            }
        }
        let mut config = RunnerConfig::new(proxy);
        config.udp = self.sip.udp.clone();
        config.tcp = self.sip.tcp.clone();
        config.engine = EngineSettings {
            max_contexts: self.sip.max_transactions.unwrap_or(10_000),
            ..EngineSettings::default()
        };
        let d = &self.diameter;
        let ip = d.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut node = NodeConfig::new(with_cx(node_capabilities(
            d.origin_host.clone(),
            d.origin_realm.clone(),
            vec![ip],
        )));
        node.peers.push(PeerSpec {
            host: d.hss_host.clone(),
            address: Some(d.hss_address),
        });
        node.routes.add_route(
            self.destination_realm(),
            ApplicationId::CX.0,
            [d.hss_host.clone()],
        );
        node.timers.request_timeout = Duration::from_millis(d.request_timeout_ms.unwrap_or(5000));
        config.diameter = Some(node);
        config.diameter_wait = Duration::from_millis(d.startup_wait_ms.unwrap_or(5000));
        config
    }
}

fn ip_host(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(ip) => Host::Ipv4(ip),
        IpAddr::V6(ip) => Host::Ipv6(ip),
    }
}

fn parse_alias(alias: &str) -> Option<LocalAddress> {
    let uri = Uri::parse(&format!("sip:{alias}")).ok()?;
    Some(LocalAddress {
        host: uri.host()?.clone(),
        port: uri.port(),
    })
}

fn parse_transport(name: Option<&str>) -> Option<Transport> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("udp") => Some(Transport::Udp),
        Some("tcp") => Some(Transport::Tcp),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../icscf.toml");

    #[test]
    fn the_example_file_is_valid() {
        let config = FileConfig::parse("icscf.toml", EXAMPLE).unwrap();
        let settings = config.settings();
        assert_eq!(settings.scscfs.len(), 2);
        assert_eq!(settings.destination_realm, "ims.test");
        let runner = config.runner_config();
        assert!(runner.diameter.is_some());
        assert!(!runner.udp.is_empty());
    }

    #[test]
    fn errors_name_their_keys() {
        let text = r#"
home_domains = []
[sip]
host = "icscf.ims.test"
[diameter]
origin_host = "icscf.ims.test"
origin_realm = "ims.test"
hss_host = "hss.ims.test"
hss_address = "127.0.0.1:3868"
[[scscf]]
name = "a"
uri = "sip:unknown.ims.test"
[[scscf]]
name = "a"
uri = "tel:+123"
transport = "sctp"
"#;
        let errors = FileConfig::parse("t.toml", text).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for key in [
            "`home_domains`",
            "`sip`",
            "`scscf[0].address`",
            "`scscf[1].name`",
            "`scscf[1].uri`",
            "`scscf[1].transport`",
        ] {
            assert!(text.iter().any(|t| t.contains(key)), "{key} in {text:?}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = EXAMPLE.replace("[sip]", "[sip]\nlisten = 1");
        let errors = FileConfig::parse("t.toml", &text).unwrap_err();
        assert!(errors[0].to_string().contains("listen"), "{}", errors[0]);
    }
}
