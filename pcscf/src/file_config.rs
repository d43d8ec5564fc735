//! The `pcscf` binary's configuration file: where to listen, the log filter, and the
//! procedures' own settings under `[pcscf]` ([`PcscfConfig`]).
//!
//! ```toml
//! [log]
//! filter = "info"
//!
//! [listen]
//! udp = ["127.0.0.1:5060"]
//! tcp = ["127.0.0.1:5060"]
//! max_transactions = 10000      # beyond it new requests get 503 + Retry-After
//!
//! [pcscf]
//! host = "127.0.0.1"
//! visited_network_id = "visited.example"
//! icscf = "sip:127.0.0.1:5061"
//! ```

use std::net::SocketAddr;

use ims_node::config::{from_toml_str, ConfigError, Validator};
use ims_node::runner::{EngineSettings, RunnerConfig};
use serde::Deserialize;

use crate::config::{PcscfConfig, Settings};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub log: LogConfig,
    pub listen: ListenConfig,
    pub pcscf: PcscfConfig,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` EnvFilter directive.
    #[serde(default = "default_filter")]
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: default_filter(),
        }
    }
}

fn default_filter() -> String {
    "info".to_owned()
}

/// `[listen]`: the sockets UEs and the core reach us on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    #[serde(default)]
    pub udp: Vec<SocketAddr>,
    #[serde(default)]
    pub tcp: Vec<SocketAddr>,
    /// Open proxy contexts before new requests get 503 with Retry-After.
    pub max_transactions: Option<usize>,
}

/// A validated file: what the runner and the procedures need.
pub struct Loaded {
    pub log_filter: String,
    pub settings: Settings,
    pub runner: RunnerConfig,
}

impl FileConfig {
    /// Parses and validates the file's text; every problem names its key.
    pub fn load(source_name: &str, text: &str) -> Result<Loaded, Vec<ConfigError>> {
        let file: FileConfig = from_toml_str(source_name, text).map_err(|e| vec![e])?;
        let mut v = Validator::new(source_name);
        v.check(
            !(file.listen.udp.is_empty() && file.listen.tcp.is_empty()),
            "listen",
            "needs at least one `udp` or `tcp` address",
        );
        v.check(
            file.listen.max_transactions != Some(0),
            "listen.max_transactions",
            "must be at least 1",
        );
        let listen_ok = v.finish();
        // Report the listen problems and the procedure problems together.
        let settings = file.pcscf.validate(source_name).map_err(|mut errors| {
            if let Err(listen) = &listen_ok {
                errors.splice(0..0, listen.iter().cloned());
            }
            errors
        })?;
        listen_ok?;

        let mut runner = RunnerConfig::new(settings.proxy_config());
        runner.udp = file.listen.udp.clone();
        runner.tcp = file.listen.tcp.clone();
        runner.engine = EngineSettings {
            max_contexts: file.listen.max_transactions.unwrap_or(10_000),
            ..EngineSettings::default()
        };
        Ok(Loaded {
            log_filter: file.log.filter,
            settings,
            runner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [listen]
        udp = ["127.0.0.1:5060"]
        [pcscf]
        host = "127.0.0.1"
        visited_network_id = "visited.example"
        icscf = "sip:127.0.0.1:5061"
    "#;

    #[test]
    fn shipped_example_loads() {
        let loaded = FileConfig::load("pcscf.toml", include_str!("../pcscf.toml")).unwrap();
        assert!(!loaded.runner.udp.is_empty());
    }

    #[test]
    fn good_file_loads_with_defaults() {
        let loaded = FileConfig::load("t.toml", GOOD).unwrap();
        assert_eq!(loaded.log_filter, "info");
        assert_eq!(loaded.runner.udp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert_eq!(loaded.runner.engine.max_contexts, 10_000);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = GOOD.replace("[listen]", "[listen]\nsctp = []");
        let errors = FileConfig::load("t.toml", &text).err().expect("rejected");
        assert!(errors[0].to_string().contains("sctp"), "{}", errors[0]);
    }

    #[test]
    fn listen_and_procedure_problems_are_reported_together() {
        let text = GOOD
            .replace("udp = [\"127.0.0.1:5060\"]", "max_transactions = 0")
            .replace("sip:127.0.0.1:5061", "http://x");
        let errors: Vec<String> = FileConfig::load("t.toml", &text)
            .err()
            .expect("rejected")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(errors.iter().any(|e| e.contains("`listen`")), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`listen.max_transactions`")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.contains("`icscf`")), "{errors:?}");
    }
}
