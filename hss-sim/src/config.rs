//! The `hss-sim` configuration file (TOML). Every table rejects unknown keys, and
//! [`Config::parse`] validates values with errors that name the key.

pub use ims_node::config::ConfigError;
use ims_node::config::{from_toml_str, Validator};
use serde::Deserialize;
use std::net::SocketAddr;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub diameter: DiameterConfig,
    pub database: DatabaseConfig,
    pub rest: RestConfig,
    #[serde(default)]
    pub server_capabilities: ServerCapabilities,
    #[serde(default)]
    pub authentication: AuthenticationConfig,
    /// Log filter (`tracing` EnvFilter syntax), e.g. `info` or `hss_sim=debug,info`.
    #[serde(default = "default_log")]
    pub log: String,
}

fn default_log() -> String {
    "info".into()
}

/// The HSS as a Diameter node (RFC 6733 §2.1, §5.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiameterConfig {
    /// Origin-Host, e.g. `hss.ims.example`.
    pub origin_host: String,
    /// Origin-Realm, e.g. `ims.example`.
    pub origin_realm: String,
    /// TCP listen address for Cx, e.g. `0.0.0.0:3868`.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://hss.db?mode=rwc`, `sqlite::memory:` or `postgres://user:pw@host/db`.
    pub url: String,
    /// Subscribers upserted at start-up (TOML, see `seed.toml`); a path relative to the
    /// working directory.
    #[serde(default)]
    pub seed_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// Listen address of the provisioning API.
    pub listen: SocketAddr,
}

/// Server-Capabilities returned when no S-CSCF is assigned (TS 29.229 §6.3.4), used by the
/// I-CSCF to select one (TS 29.228 Annex A).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServerCapabilities {
    #[serde(default)]
    pub mandatory: Vec<u32>,
    #[serde(default)]
    pub optional: Vec<u32>,
    /// S-CSCF SIP URIs the I-CSCF may pick from directly.
    #[serde(default)]
    pub server_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// Upper bound for SIP-Number-Auth-Items in one MAA.
    #[serde(default = "default_max_auth_items")]
    pub max_auth_items: u32,
}

fn default_max_auth_items() -> u32 {
    5
}

impl Default for AuthenticationConfig {
    fn default() -> Self {
        Self {
            max_auth_items: default_max_auth_items(),
        }
    }
}

impl Config {
    /// Parses and validates `text` read from `source_name`.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, Vec<ConfigError>> {
        let config: Config = from_toml_str(source_name, text).map_err(|e| vec![e])?;
        config.validate(source_name)?;
        Ok(config)
    }

    fn validate(&self, source_name: &str) -> Result<(), Vec<ConfigError>> {
        let mut v = Validator::new(source_name);
        let d = &self.diameter;
        v.check(
            is_fqdn(&d.origin_host),
            "diameter.origin_host",
            "must be a host name (letters, digits, '-', '.')",
        );
        v.check(
            is_fqdn(&d.origin_realm),
            "diameter.origin_realm",
            "must be a realm (letters, digits, '-', '.')",
        );
        let url = &self.database.url;
        v.check(
            url.starts_with("sqlite:")
                || url.starts_with("postgres:")
                || url.starts_with("postgresql:"),
            "database.url",
            "must start with sqlite: or postgres:",
        );
        if let Some(seed) = &self.database.seed_file {
            v.check(
                !seed.trim().is_empty(),
                "database.seed_file",
                "must not be empty",
            );
        }
        for (i, name) in self.server_capabilities.server_names.iter().enumerate() {
            v.check(
                name.starts_with("sip:") || name.starts_with("sips:"),
                &format!("server_capabilities.server_names[{i}]"),
                "must be a sip: or sips: URI",
            );
        }
        v.check(
            (1..=32).contains(&self.authentication.max_auth_items),
            "authentication.max_auth_items",
            "must be between 1 and 32",
        );
        v.finish()
    }
}

fn is_fqdn(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [diameter]
        origin_host = "hss.ims.example"
        origin_realm = "ims.example"
        listen = "127.0.0.1:3868"
        [database]
        url = "sqlite::memory:"
        [rest]
        listen = "127.0.0.1:8088"
        [server_capabilities]
        mandatory = [1]
        server_names = ["sip:scscf.ims.example:6060"]
    "#;

    #[test]
    fn parses_the_shipped_example() {
        let text = include_str!("../hss.toml");
        let c = Config::parse("hss.toml", text).unwrap();
        assert_eq!(c.diameter.listen.port(), 3868);
        assert!(c.database.seed_file.is_some());
    }

    #[test]
    fn good_config_and_defaults() {
        let c = Config::parse("t.toml", GOOD).unwrap();
        assert_eq!(c.authentication.max_auth_items, 5);
        assert_eq!(c.server_capabilities.mandatory, vec![1]);
        assert_eq!(c.log, "info");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = GOOD.replace("[rest]", "[rest]\nlisten_port = 1");
        let errs = Config::parse("t.toml", &text).unwrap_err();
        assert!(errs[0].to_string().contains("listen_port"), "{}", errs[0]);
    }

    #[test]
    fn bad_values_name_their_keys() {
        let text = GOOD
            .replace("hss.ims.example", "hss ims")
            .replace("sqlite::memory:", "mysql://x")
            .replace("sip:scscf", "scscf");
        let errs: Vec<String> = Config::parse("t.toml", &text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            errs.iter().any(|e| e.contains("`diameter.origin_host`")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("`database.url`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("`server_capabilities.server_names[0]`")),
            "{errs:?}"
        );
    }
}
