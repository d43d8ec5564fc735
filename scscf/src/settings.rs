//! The S-CSCF configuration file (TOML) and its validation: every problem is reported at
//! once, each naming its key. It yields the [`RegistrarConfig`], the session
//! [`RoutingConfig`], and the runner configuration (SIP listeners, proxy identity, Diameter
//! node towards the HSS).
//!
//! ```toml
//! home_domains = ["ims.test"]
//!
//! [sip]
//! host = "scscf.ims.test"       # our name in Via, Record-Route and Service-Route
//! port = 6060
//! udp = ["0.0.0.0:6060"]
//!
//! [registrar]                   # all optional
//! server_name = "sip:scscf.ims.test:6060"
//! min_expires = 60
//!
//! [routing]
//! icscf = "sip:icscf.ims.test:5060"
//!
//! [diameter]
//! origin_host = "scscf.ims.test"
//! origin_realm = "ims.test"
//! hss_host = "hss.ims.test"
//! hss_address = "127.0.0.1:3868"
//!
//! [storage]
//! url = "sqlite:scscf.db"
//!
//! [hosts]
//! "icscf.ims.test" = "127.0.0.1:5060"
//! ```
//!
//! Next hops given by name are resolved with the static `[hosts]` table; RFC 3263 DNS is not
//! implemented yet.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ims_diameter::driver::{NodeConfig, PeerSpec};
use ims_diameter::peer::{node_capabilities, with_cx};
use ims_diameter::ApplicationId;
use ims_node::config::{from_toml_str, ConfigError, Validator};
use ims_node::runner::{EngineSettings, RunnerConfig};
use ims_sip::proxy::{LocalAddress, ProxyConfig};
use ims_sip::{Host, Uri};
use serde::Deserialize;

use crate::config::RegistrarConfig;
use crate::routing::{resolve_uri, RoutingConfig};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Domains this network serves; the first is the realm of the registrar's challenges
    /// unless `[registrar] realm` says otherwise.
    pub home_domains: Vec<String>,
    pub sip: SipSection,
    #[serde(default)]
    pub registrar: RegistrarSection,
    #[serde(default)]
    pub routing: RoutingSection,
    pub diameter: DiameterSection,
    /// Persistence of registrations; without it they live in memory only.
    pub storage: Option<StorageSection>,
    /// Static name resolution: host name -> socket address.
    #[serde(default)]
    pub hosts: BTreeMap<String, SocketAddr>,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// Our host name (or IP) in Via, Record-Route and Service-Route.
    pub host: String,
    pub port: Option<u16>,
    /// Other names or addresses that are this S-CSCF (host or host:port).
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub udp: Vec<SocketAddr>,
    #[serde(default)]
    pub tcp: Vec<SocketAddr>,
    /// Requests in progress at once; more are answered 503 (default 10000).
    pub max_transactions: Option<usize>,
}

/// Registration policy; every key is optional (defaults of [`RegistrarConfig::new`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// Our SIP URI as the HSS knows it (Server-Name); default `sip:<sip.host>[:<sip.port>]`.
    pub server_name: Option<String>,
    /// Digest realm; default the first home domain.
    pub realm: Option<String>,
    pub min_expires: Option<u32>,
    pub max_expires: Option<u32>,
    pub default_expires: Option<u32>,
    /// SIP-Authentication-Scheme asked for when the UE names none (e.g. `Digest-AKAv1-MD5`).
    pub default_auth_scheme: Option<String>,
    /// Timer reg-await-auth in seconds (default 240).
    pub reg_await_auth_secs: Option<u64>,
    pub max_contacts: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    /// The I-CSCF for originating requests to home users; without it this S-CSCF terminates
    /// them itself.
    pub icscf: Option<String>,
    /// Where originating requests to other domains go; without it they get 404.
    pub breakout: Option<String>,
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
pub struct StorageSection {
    /// `sqlite:<file>` or `postgres://...`.
    pub url: String,
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
        let r = &self.registrar;
        if let Some(name) = &r.server_name {
            v.check(
                Uri::parse(name).is_ok_and(|u| u.is_sip() && u.host().is_some()),
                "registrar.server_name",
                "must be a sip: URI with a host",
            );
        }
        let defaults = RegistrarConfig::new("sip:x", "x");
        let min = r.min_expires.unwrap_or(defaults.min_expires);
        let max = r.max_expires.unwrap_or(defaults.max_expires);
        v.check(
            min <= max,
            "registrar.min_expires",
            format!("{min} is above max_expires {max}"),
        );
        if let Some(default) = r.default_expires {
            v.check(
                (min..=max).contains(&default),
                "registrar.default_expires",
                format!("must lie between min_expires {min} and max_expires {max}"),
            );
        }
        v.check(
            r.max_contacts != Some(0),
            "registrar.max_contacts",
            "must be at least 1",
        );
        v.check(
            r.reg_await_auth_secs != Some(0),
            "registrar.reg_await_auth_secs",
            "must be at least 1",
        );
        let hosts = self.hosts_map();
        for (key, value) in [
            ("routing.icscf", &self.routing.icscf),
            ("routing.breakout", &self.routing.breakout),
        ] {
            let Some(value) = value else { continue };
            match Uri::parse(value) {
                Ok(uri) if uri.is_sip() => v.check(
                    resolve_uri(&uri, &hosts).is_ok(),
                    key,
                    format!("the host of {value:?} is neither an IP address nor in [hosts]"),
                ),
                Ok(_) => v.check(false, key, "must be a sip: or sips: URI"),
                Err(e) => v.check(false, key, e),
            }
        }
        let d = &self.diameter;
        for (key, value) in [
            ("diameter.origin_host", &d.origin_host),
            ("diameter.origin_realm", &d.origin_realm),
            ("diameter.hss_host", &d.hss_host),
        ] {
            v.check(!value.is_empty(), key, "must not be empty");
        }
        if let Some(storage) = &self.storage {
            v.check(
                ["sqlite:", "postgres:", "postgresql:"]
                    .iter()
                    .any(|p| storage.url.starts_with(p)),
                "storage.url",
                "must start with sqlite: or postgres:",
            );
        }
        v.finish()
    }

    fn hosts_map(&self) -> HashMap<String, SocketAddr> {
        self.hosts
            .iter()
            .map(|(name, addr)| (name.trim_end_matches('.').to_ascii_lowercase(), *addr))
            .collect()
    }

    fn destination_realm(&self) -> String {
        self.diameter
            .destination_realm
            .clone()
            .unwrap_or_else(|| self.diameter.origin_realm.clone())
    }

    /// The registrar's configuration. Call on a validated configuration.
    pub fn registrar_config(&self) -> RegistrarConfig {
        let r = &self.registrar;
        let server_name = r
            .server_name
            .clone()
            .unwrap_or_else(|| match self.sip.port {
                Some(port) => format!("sip:{}:{port}", self.sip.host),
                None => format!("sip:{}", self.sip.host),
            });
        let realm = r
            .realm
            .clone()
            .or_else(|| self.home_domains.first().cloned())
            .unwrap_or_default();
        let mut config = RegistrarConfig::new(&server_name, &realm);
        config.origin_host = self.diameter.origin_host.clone();
        config.origin_realm = self.diameter.origin_realm.clone();
        config.destination_realm = self.destination_realm();
        config.destination_host = Some(self.diameter.hss_host.clone());
        config.min_expires = r.min_expires.unwrap_or(config.min_expires);
        config.max_expires = r.max_expires.unwrap_or(config.max_expires);
        config.default_expires = r.default_expires.unwrap_or(config.default_expires);
        if let Some(scheme) = &r.default_auth_scheme {
            config.default_auth_scheme = scheme.clone();
        }
        if let Some(secs) = r.reg_await_auth_secs {
            config.reg_await_auth = Duration::from_secs(secs);
        }
        config.max_contacts = r.max_contacts.unwrap_or(config.max_contacts);
        config
    }

    /// The session routing configuration. Call on a validated configuration.
    pub fn routing_config(&self) -> RoutingConfig {
        RoutingConfig {
            home_domains: self.home_domains.clone(),
            icscf: self
                .routing
                .icscf
                .as_deref()
                .and_then(|u| Uri::parse(u).ok()),
            breakout: self
                .routing
                .breakout
                .as_deref()
                .and_then(|u| Uri::parse(u).ok()),
            hosts: self.hosts_map(),
        }
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
        // The Server-Name's host (in our Service-Route) and the addresses we listen on are us
        // too: a Route may name any of them.
        if let Some(alias) = Uri::parse(&self.registrar_config().server_name)
            .ok()
            .and_then(|u| {
                Some(LocalAddress {
                    host: u.host()?.clone(),
                    port: u.port(),
                })
            })
        {
            proxy.aliases.push(alias);
        }
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
        config.diameter = Some(self.diameter_config());
        config.diameter_wait = Duration::from_millis(self.diameter.startup_wait_ms.unwrap_or(5000));
        config
    }

    /// The Diameter node: Cx client with the HSS as its one peer.
    pub fn diameter_config(&self) -> NodeConfig {
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
        node
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

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../scscf.toml");

    #[test]
    fn the_example_file_is_valid() {
        let config = FileConfig::parse("scscf.toml", EXAMPLE).unwrap();
        let registrar = config.registrar_config();
        assert_eq!(registrar.server_name, "sip:scscf.ims.test:6060");
        assert_eq!(registrar.realm, "ims.test");
        assert_eq!(registrar.destination_host.as_deref(), Some("hss.ims.test"));
        let routing = config.routing_config();
        assert!(routing.icscf.is_some());
        assert!(routing.hosts.contains_key("icscf.ims.test"));
        let runner = config.runner_config();
        assert!(runner.diameter.is_some());
        assert!(!runner.udp.is_empty());
        assert!(config.storage.is_some());
    }

    #[test]
    fn errors_name_their_keys() {
        let text = r#"
home_domains = []
[sip]
host = "scscf.ims.test"
[registrar]
server_name = "tel:+1"
min_expires = 7200
max_expires = 3600
max_contacts = 0
[routing]
icscf = "sip:unknown.ims.test"
breakout = "not a uri"
[diameter]
origin_host = ""
origin_realm = "ims.test"
hss_host = "hss.ims.test"
hss_address = "127.0.0.1:3868"
[storage]
url = "mysql://x"
"#;
        let errors = FileConfig::parse("t.toml", text).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for key in [
            "`home_domains`",
            "`sip`",
            "`registrar.server_name`",
            "`registrar.min_expires`",
            "`registrar.max_contacts`",
            "`routing.icscf`",
            "`routing.breakout`",
            "`diameter.origin_host`",
            "`storage.url`",
        ] {
            assert!(text.iter().any(|t| t.contains(key)), "{key} in {text:?}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = EXAMPLE.replace("[registrar]", "[registrar]\nmin_expire = 1");
        let errors = FileConfig::parse("t.toml", &text).unwrap_err();
        assert!(
            errors[0].to_string().contains("min_expire"),
            "{}",
            errors[0]
        );
    }
}
