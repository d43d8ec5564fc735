//! The P-CSCF's configuration (TOML) and its validated form.
//!
//! ```toml
//! host = "pcscf.ims.example.net"      # Via sent-by, Path and Record-Route host
//! port = 5060
//! transport = "udp"                   # the Via transport when a next hop names none
//! aliases = ["192.0.2.10:5060"]       # further addresses that are this P-CSCF
//! visited_network_id = "visited.example.net"   # P-Visited-Network-ID (TS 24.229 §5.2.2.1)
//! icscf = "sip:icscf.ims.example.net"          # where REGISTER requests go (§5.2.2.1)
//!
//! core_sources = ["10.0.0.4"]        # optional: only these may send requests towards UEs
//!
//! [hosts]                             # next-hop addresses of host names (see `routing`)
//! "icscf.ims.example.net" = "127.0.0.1:5061"
//! "scscf.ims.example.net" = "127.0.0.1"
//! ```
//!
//! [`PcscfConfig::validate`] checks every key and reports all problems at once, each naming its
//! key, and returns the [`Settings`] the procedures use.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ims_node::config::{ConfigError, Validator};
use ims_sip::proxy::{LocalAddress, ProxyConfig};
use ims_sip::{Host, Scheme, Uri};
use ims_transport::Transport;
use serde::Deserialize;

use crate::routing::{HostEntry, HostTable};

/// The configuration file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcscfConfig {
    /// Our SIP host name or IP address.
    pub host: String,
    /// Our SIP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// `udp`, `tcp` or `tls`: the default transport towards the core network.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Other `host` or `host:port` values that name this P-CSCF (RFC 3261 §16.4).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The value of the P-Visited-Network-ID we insert in REGISTER (RFC 7315 §4.3).
    pub visited_network_id: String,
    /// The SIP URI of the I-CSCF REGISTER requests are sent to.
    pub icscf: String,
    /// Host name -> `IP` or `IP:port`: the next-hop table (RFC 3263 DNS is not used yet).
    #[serde(default)]
    pub hosts: BTreeMap<String, String>,
    /// The IP addresses of the core network (the trust domain, RFC 3325 §2.3) allowed to send
    /// requests towards UEs. Empty (the default): any source that is not a registered UE.
    #[serde(default)]
    pub core_sources: Vec<String>,
}

fn default_port() -> u16 {
    5060
}

fn default_transport() -> String {
    "udp".to_owned()
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our host.
    pub host: Host,
    /// Our port.
    pub port: u16,
    /// Default transport towards the core network.
    pub transport: Transport,
    /// Further addresses that are us.
    pub aliases: Vec<LocalAddress>,
    /// P-Visited-Network-ID value (a token, checked).
    pub visited_network_id: String,
    /// The I-CSCF, as a loose-routing URI (`lr` added) pushed as Route on REGISTER.
    pub icscf: Uri,
    /// Next-hop addresses by host name.
    pub hosts: HostTable,
    /// Addresses allowed to send requests towards UEs; empty means any.
    pub core_sources: Vec<IpAddr>,
}

impl PcscfConfig {
    /// Parses TOML text (`source_name` names it in errors) and validates it.
    pub fn from_toml_str(source_name: &str, text: &str) -> Result<Settings, Vec<ConfigError>> {
        let config: PcscfConfig =
            ims_node::config::from_toml_str(source_name, text).map_err(|e| vec![e])?;
        config.validate(source_name)
    }

    /// Checks every key; returns the settings or every problem found.
    pub fn validate(&self, source_name: &str) -> Result<Settings, Vec<ConfigError>> {
        let mut v = Validator::new(source_name);
        let host = Host::parse(&self.host).ok();
        v.check(host.is_some(), "host", "not a host name or IP address");
        v.check(self.port != 0, "port", "must not be 0");
        let transport = parse_transport(&self.transport);
        v.check(
            transport.is_some(),
            "transport",
            "must be \"udp\", \"tcp\" or \"tls\"",
        );
        let mut aliases = Vec::new();
        for (i, alias) in self.aliases.iter().enumerate() {
            match parse_host_port(alias) {
                Some((host, port)) => aliases.push(LocalAddress { host, port }),
                None => v.check(false, &format!("aliases[{i}]"), "not `host` or `host:port`"),
            }
        }
        v.check(
            !self.visited_network_id.is_empty() && self.visited_network_id.bytes().all(is_token),
            "visited_network_id",
            "must be a non-empty SIP token (RFC 3261 §25.1)",
        );
        let mut hosts = HostTable::default();
        for (name, value) in &self.hosts {
            let key = format!("hosts.\"{name}\"");
            v.check(!name.is_empty(), &key, "empty host name");
            match HostEntry::parse(value) {
                Some(entry) => hosts.insert(name, entry),
                None => v.check(false, &key, "not `IP` or `IP:port`"),
            }
        }
        let mut core_sources = Vec::new();
        for (i, source) in self.core_sources.iter().enumerate() {
            match source.parse::<IpAddr>() {
                Ok(ip) => core_sources.push(ip),
                Err(_) => v.check(false, &format!("core_sources[{i}]"), "not an IP address"),
            }
        }
        let icscf = Uri::parse(&self.icscf)
            .ok()
            .filter(|u| matches!(u.scheme(), Scheme::Sip | Scheme::Sips) && u.host().is_some());
        v.check(
            icscf.is_some(),
            "icscf",
            "not a sip: or sips: URI with a host",
        );
        if let Some(uri) = &icscf {
            v.check(
                hosts.can_resolve(uri),
                "icscf",
                "its host is neither an IP address nor listed under [hosts]",
            );
        }
        v.finish()?;
        match (host, transport, icscf) {
            (Some(host), Some(transport), Some(mut icscf)) => {
                icscf.params_mut().set("lr", None);
                Ok(Settings {
                    host,
                    port: self.port,
                    transport,
                    aliases,
                    visited_network_id: self.visited_network_id.clone(),
                    icscf,
                    hosts,
                    core_sources,
                })
            }
            // Every `None` above was recorded by the validator, which then returned early.
            _ => Err(Vec::new()),
        }
    }
}

impl Settings {
    /// The RFC 3261 §16 proxy configuration that matches these settings: our address, the
    /// aliases, and the option tags we can honour in Proxy-Require (§16.3 step 5). `sec-agree`
    /// is not among them until the IPsec issue lands, so a UE requiring it gets 420.
    pub fn proxy_config(&self) -> ProxyConfig {
        let mut config = ProxyConfig::new(self.host.clone(), Some(self.port));
        config.transport = self.transport.as_via_str().to_owned();
        config.aliases = self.aliases.clone();
        config.supported = vec!["path".to_owned(), "outbound".to_owned()];
        config
    }

    /// A URI naming us with `user` as user part and `lr`: our Path and Record-Route entries.
    pub fn own_uri(&self, user: &str) -> Uri {
        let mut uri = Uri::sip(self.host.clone());
        uri.set_user(Some(user));
        uri.set_port(Some(self.port));
        uri.params_mut().set("lr", None);
        uri
    }
}

/// `udp`, `tcp`, `tls` (any case).
pub fn parse_transport(s: &str) -> Option<Transport> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Some(Transport::Udp),
        "tcp" => Some(Transport::Tcp),
        "tls" => Some(Transport::Tls),
        _ => None,
    }
}

/// `host` or `host:port`, IPv6 addresses bracketed.
fn parse_host_port(s: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.ends_with(']')) => {
            (h, Some(p.parse::<u16>().ok()?))
        }
        _ => (s, None),
    };
    Some((Host::parse(host).ok()?, port))
}

/// RFC 3261 §25.1 `token` characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
host = "pcscf.ims.example.net"
port = 5070
visited_network_id = "visited.example.net"
icscf = "sip:icscf.ims.example.net"
aliases = ["192.0.2.10:5070", "[2001:db8::1]"]
[hosts]
"icscf.ims.example.net" = "127.0.0.1:5061"
"#;

    #[test]
    fn good_config_validates() {
        let s = PcscfConfig::from_toml_str("p.toml", GOOD).unwrap();
        assert_eq!(s.port, 5070);
        assert_eq!(s.transport, Transport::Udp);
        assert_eq!(s.icscf.to_string(), "sip:icscf.ims.example.net;lr");
        assert_eq!(s.aliases.len(), 2);
        assert_eq!(s.aliases[0].port, Some(5070));
        assert_eq!(
            s.own_uri("term").to_string(),
            "sip:term@pcscf.ims.example.net:5070;lr"
        );
        let pc = s.proxy_config();
        assert!(pc.is_me(&Uri::parse("sip:mo@192.0.2.10:5070;lr").unwrap()));
    }

    #[test]
    fn unknown_key_is_refused() {
        let text = format!("{GOOD}\nbogus = 1\n");
        let errs = PcscfConfig::from_toml_str("p.toml", &text).unwrap_err();
        assert!(errs[0].to_string().contains("bogus"), "{}", errs[0]);
    }

    #[test]
    fn every_bad_value_is_named() {
        let text = r#"
host = "bad host"
port = 0
transport = "sctp"
visited_network_id = "has space"
icscf = "sip:unknown.example.net"
aliases = ["x:notaport"]
core_sources = ["10.0.0.4", "core.example.net"]
[hosts]
"a.example.net" = "not-an-ip"
"#;
        let errs = PcscfConfig::from_toml_str("p.toml", text).unwrap_err();
        let all: Vec<String> = errs.iter().map(ToString::to_string).collect();
        for key in [
            "`host`",
            "`port`",
            "`transport`",
            "`visited_network_id`",
            "`icscf`",
            "`aliases[0]`",
            "`core_sources[1]`",
            "`hosts.\"a.example.net\"`",
        ] {
            assert!(
                all.iter().any(|e| e.contains(key)),
                "{key} missing in {all:?}"
            );
        }
    }
}
