//! `ims up`: the whole IMS core (HSS, I-CSCF, S-CSCF, P-CSCF) as tasks of one tokio runtime.
//!
//! Each function is configured from an embedded TOML default (`ims/defaults/*.toml`) through
//! its own configuration parser, so `ims up` runs exactly the validation the function's own
//! binary runs. The defaults name the nodes `<function>.ims.example` and resolve those names
//! with each function's static `[hosts]` table; the P-CSCF is named by its IP address so a
//! softphone can reach every Path and Record-Route entry it is given without DNS.
//!
//! Start-up order: the HSS first (the CSCFs connect to it), then every SIP listener is bound
//! before any function runs (a port in use fails the whole start, not a half-started core),
//! then the three CSCFs run, each on [`ims_node::runner::Runner`]. [`RunningCore::shutdown`]
//! stops the CSCFs together (each drains its transactions and says DPR to the HSS), waits for
//! the S-CSCF's registration store to be written, and stops the HSS last.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use hss_sim::app::{self as hss_app, RunningHss, Seed, StartError};
use hss_sim::config::Config as HssConfig;
use icscf::Icscf;
use ims_node::config::ConfigError;
use ims_node::function::Function;
use ims_node::runner::{Runner, RunnerConfig, RunnerError};
use ims_transport::Transport;
use pcscf::outbound::FlowTokenKey;
use pcscf::{Pcscf, PcscfConfig};
use scscf::store::{RegistrationStore, SqlStore, StoreOp};
use scscf::{RegisterError, Registrar, Scscf, StoreError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The embedded HSS defaults (hss-sim configuration format).
pub const HSS_DEFAULTS: &str = include_str!("../defaults/hss.toml");
/// The embedded P-CSCF defaults (`pcscf::PcscfConfig`).
pub const PCSCF_DEFAULTS: &str = include_str!("../defaults/pcscf.toml");
/// The embedded I-CSCF defaults (`icscf::FileConfig`).
pub const ICSCF_DEFAULTS: &str = include_str!("../defaults/icscf.toml");
/// The embedded S-CSCF defaults (`scscf::FileConfig`).
pub const SCSCF_DEFAULTS: &str = include_str!("../defaults/scscf.toml");
/// The demo subscribers (`ims/demo-subscribers.toml`).
pub const DEMO_SUBSCRIBERS: &str = include_str!("../demo-subscribers.toml");

/// The home domain of the embedded defaults.
pub const HOME_DOMAIN: &str = "ims.example";

/// Where the stores live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In-memory SQLite: the HSS's provisioning and the S-CSCF's registrations are lost on exit.
    Memory,
    /// SQLite files `hss.db` and `scscf.db` in this (existing) directory: provisioning, SQNs,
    /// S-CSCF assignments and the S-CSCF's registrations survive a restart. The P-CSCF keeps
    /// its registrations and its flow-token key in memory only, so after a restart a request
    /// for a UE registered before it is refused (403, its flow token no longer verifies)
    /// until the UE registers again.
    Directory(PathBuf),
}

/// What `ims up` runs; [`UpConfig::default`] gives the standard loopback ports.
#[derive(Debug, Clone)]
pub struct UpConfig {
    /// P-CSCF, UDP and TCP (the address softphones use as outbound proxy).
    pub pcscf: SocketAddr,
    /// I-CSCF, UDP and TCP.
    pub icscf: SocketAddr,
    /// S-CSCF, UDP and TCP.
    pub scscf: SocketAddr,
    /// HSS Cx (Diameter over TCP).
    pub hss: SocketAddr,
    /// HSS REST provisioning API.
    pub rest: SocketAddr,
    pub storage: Storage,
    /// Subscribers upserted into the HSS at start-up: (name for messages, TOML text).
    pub seed: Option<(String, String)>,
}

impl Default for UpConfig {
    /// P-CSCF 127.0.0.1:5060, I-CSCF :5061, S-CSCF :6060, HSS :3868, REST :8088, in memory,
    /// with the demo subscribers.
    fn default() -> Self {
        let at = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        UpConfig {
            pcscf: at(5060),
            icscf: at(5061),
            scscf: at(6060),
            hss: at(3868),
            rest: at(8088),
            storage: Storage::Memory,
            seed: Some(("demo subscribers".to_owned(), DEMO_SUBSCRIBERS.to_owned())),
        }
    }
}

/// Why the core could not start.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// An embedded default did not pass its function's validation (a bad port or address
    /// given to `ims up` ends up here too).
    #[error("{function} configuration: {}", join(errors))]
    Config {
        function: &'static str,
        errors: Vec<ConfigError>,
    },
    /// The P-CSCF's address is also its host in Via, Path and Record-Route: UEs must be able
    /// to send to it, so it cannot be the unspecified address.
    #[error("P-CSCF address {0}: give an address UEs can reach, not 0.0.0.0 or ::")]
    UnspecifiedPcscfAddress(SocketAddr),
    #[error("starting the HSS: {0}")]
    Hss(#[from] StartError),
    #[error("S-CSCF registrar: {0}")]
    Registrar(#[from] RegisterError),
    #[error("S-CSCF registration store {url}: {source}")]
    Storage {
        url: String,
        #[source]
        source: StoreError,
    },
    #[error("{function}: {source}")]
    Bind {
        function: &'static str,
        #[source]
        source: RunnerError,
    },
}

fn join(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The addresses the running core listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreAddrs {
    pub pcscf: Vec<(Transport, SocketAddr)>,
    pub icscf: Vec<(Transport, SocketAddr)>,
    pub scscf: Vec<(Transport, SocketAddr)>,
    pub hss: SocketAddr,
    pub rest: SocketAddr,
}

impl CoreAddrs {
    /// The P-CSCF's UDP address (the one UEs send to).
    pub fn pcscf_udp(&self) -> Option<SocketAddr> {
        self.pcscf
            .iter()
            .find(|(t, _)| *t == Transport::Udp)
            .map(|(_, a)| *a)
    }
}

/// The four functions, running.
pub struct RunningCore {
    pub addrs: CoreAddrs,
    stop: watch::Sender<bool>,
    functions: Vec<(&'static str, JoinHandle<()>)>,
    store_writer: Option<JoinHandle<()>>,
    hss: RunningHss,
}

/// The configuration texts of the four functions with `config`'s addresses filled in.
#[derive(Debug, Clone)]
pub struct ConfigTexts {
    pub hss: String,
    pub pcscf: String,
    pub icscf: String,
    pub scscf: String,
}

impl ConfigTexts {
    /// Fills the `@NAME@` markers of the embedded defaults.
    pub fn for_config(config: &UpConfig) -> ConfigTexts {
        let (hss_db, scscf_storage) = match &config.storage {
            Storage::Memory => ("sqlite::memory:".to_owned(), None),
            Storage::Directory(dir) => (
                format!("sqlite://{}?mode=rwc", dir.join("hss.db").display()),
                Some(format!("sqlite://{}", dir.join("scscf.db").display())),
            ),
        };
        let fill = |template: &str| {
            template
                .replace("@PCSCF_IP@", &config.pcscf.ip().to_string())
                .replace("@PCSCF_PORT@", &config.pcscf.port().to_string())
                .replace("@ICSCF_ADDR@", &config.icscf.to_string())
                .replace("@ICSCF_PORT@", &config.icscf.port().to_string())
                .replace("@SCSCF_ADDR@", &config.scscf.to_string())
                .replace("@SCSCF_PORT@", &config.scscf.port().to_string())
                .replace("@HSS_ADDR@", &config.hss.to_string())
                .replace("@REST_ADDR@", &config.rest.to_string())
                .replace("@HSS_DATABASE_URL@", &hss_db)
        };
        let mut scscf = fill(SCSCF_DEFAULTS);
        if let Some(url) = scscf_storage {
            scscf.push_str(&format!("\n[storage]\nurl = \"{url}\"\n"));
        }
        ConfigTexts {
            hss: fill(HSS_DEFAULTS),
            pcscf: fill(PCSCF_DEFAULTS),
            icscf: fill(ICSCF_DEFAULTS),
            scscf,
        }
    }
}

/// Validates every configuration, starts the HSS, binds every SIP listener, then runs the
/// three CSCFs. Nothing is left running when it fails.
pub async fn start(config: &UpConfig) -> Result<RunningCore, UpError> {
    if config.pcscf.ip().is_unspecified() {
        return Err(UpError::UnspecifiedPcscfAddress(config.pcscf));
    }
    let texts = ConfigTexts::for_config(config);
    let config_error = |function| move |errors| UpError::Config { function, errors };
    // All four are validated before anything starts.
    let hss_config =
        HssConfig::parse("embedded HSS defaults", &texts.hss).map_err(config_error("HSS"))?;
    let pcscf_settings = PcscfConfig::from_toml_str("embedded P-CSCF defaults", &texts.pcscf)
        .map_err(config_error("P-CSCF"))?;
    let icscf_config = icscf::FileConfig::parse("embedded I-CSCF defaults", &texts.icscf)
        .map_err(config_error("I-CSCF"))?;
    let scscf_config = scscf::FileConfig::parse("embedded S-CSCF defaults", &texts.scscf)
        .map_err(config_error("S-CSCF"))?;
    let registrar = Registrar::new(scscf_config.registrar_config())?;

    let seed = config.seed.as_ref().map(|(name, text)| Seed { name, text });
    let hss = hss_app::start(&hss_config, seed).await?;

    match start_cscfs(pcscf_settings, &icscf_config, &scscf_config, registrar).await {
        Ok(started) => {
            let [pcscf, icscf, scscf] = started.addrs;
            Ok(RunningCore {
                addrs: CoreAddrs {
                    pcscf,
                    icscf,
                    scscf,
                    hss: hss.diameter_addr,
                    rest: hss.rest_addr,
                },
                stop: started.stop,
                functions: started.functions,
                store_writer: started.store_writer,
                hss,
            })
        }
        Err(error) => {
            hss.shutdown().await;
            Err(error)
        }
    }
}

struct StartedCscfs {
    /// P, I, S.
    addrs: [Vec<(Transport, SocketAddr)>; 3],
    stop: watch::Sender<bool>,
    functions: Vec<(&'static str, JoinHandle<()>)>,
    store_writer: Option<JoinHandle<()>>,
}

async fn start_cscfs(
    pcscf_settings: pcscf::Settings,
    icscf_config: &icscf::FileConfig,
    scscf_config: &scscf::FileConfig,
    mut registrar: Registrar,
) -> Result<StartedCscfs, UpError> {
    // With storage, registrations are reloaded before the S-CSCF takes traffic and every
    // change is written by one task, in order (as the scscf binary does). Done before any
    // socket is bound, so a bad store leaves nothing to clean up.
    let mut store = None;
    if let Some(storage) = &scscf_config.storage {
        let storage_error = |source| UpError::Storage {
            url: storage.url.clone(),
            source,
        };
        let sql = SqlStore::connect(&storage.url)
            .await
            .map_err(storage_error)?;
        let snapshot = sql.load_all().await.map_err(storage_error)?;
        let restored = registrar.restore(&snapshot);
        tracing::info!(restored, url = %storage.url, "S-CSCF registrations restored");
        store = Some(sql);
    }

    // The P-CSCF's file has no listen addresses (its binary is not written yet): it listens
    // on UDP and TCP at its own host and port.
    let mut pcscf_runner = RunnerConfig::new(pcscf_settings.proxy_config());
    let pcscf_addr = SocketAddr::new(
        match &pcscf_settings.host {
            ims_sip::Host::Ipv4(ip) => IpAddr::V4(*ip),
            ims_sip::Host::Ipv6(ip) => IpAddr::V6(*ip),
            ims_sip::Host::Domain(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        },
        pcscf_settings.port,
    );
    pcscf_runner.udp = vec![pcscf_addr];
    pcscf_runner.tcp = vec![pcscf_addr];
    let pcscf = Pcscf::new(pcscf_settings, FlowTokenKey::generate(&mut rand::rng()));
    let boot = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let icscf = Icscf::new(icscf_config.settings(), boot);

    // Every listener is bound before any function runs; when one fails, those bound before
    // it are released.
    let bind_error = |function| move |source| UpError::Bind { function, source };
    let pcscf_runner = Runner::bind(pcscf_runner)
        .await
        .map_err(bind_error("P-CSCF"))?;
    let icscf_runner = match Runner::bind(icscf_config.runner_config()).await {
        Ok(runner) => runner,
        Err(source) => {
            release(pcscf_runner, pcscf).await;
            return Err(bind_error("I-CSCF")(source));
        }
    };
    let scscf_runner = match Runner::bind(scscf_config.runner_config()).await {
        Ok(runner) => runner,
        Err(source) => {
            release(pcscf_runner, pcscf).await;
            release(icscf_runner, icscf).await;
            return Err(bind_error("S-CSCF")(source));
        }
    };

    let mut scscf = Scscf::new(
        scscf_config.routing_config(),
        registrar,
        Instant::now(),
        SystemTime::now(),
    );
    let mut store_writer = None;
    if let Some(store) = store {
        let (tx, rx) = mpsc::unbounded_channel::<StoreOp>();
        store_writer = Some(tokio::spawn(write_store(store, rx)));
        scscf = scscf.with_store_sink(move |op| {
            if tx.send(op).is_err() {
                tracing::error!("registration store writer stopped; change not persisted");
            }
        });
    }

    let addrs = [
        pcscf_runner.local_addrs().to_vec(),
        icscf_runner.local_addrs().to_vec(),
        scscf_runner.local_addrs().to_vec(),
    ];
    let (stop, stopped) = watch::channel(false);
    let until_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            // An error means the sender is gone: stop as well.
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let functions = vec![
        (
            "S-CSCF",
            tokio::spawn(scscf_runner.run(scscf, until_stopped())),
        ),
        (
            "I-CSCF",
            tokio::spawn(icscf_runner.run(icscf, until_stopped())),
        ),
        (
            "P-CSCF",
            tokio::spawn(pcscf_runner.run(pcscf, until_stopped())),
        ),
    ];
    Ok(StartedCscfs {
        addrs,
        stop,
        functions,
        store_writer,
    })
}

/// Closes a bound runner's sockets. A dropped [`Runner`] leaves its transport tasks (and
/// ports) behind, so it is run with a shutdown that has already happened: it takes no
/// traffic, finds nothing to drain and closes its transports.
async fn release<F: Function>(runner: Runner, function: F) {
    runner.run(function, std::future::ready(())).await;
}

/// Applies the registrar's changes in the order they were made.
async fn write_store(store: SqlStore, mut ops: mpsc::UnboundedReceiver<StoreOp>) {
    while let Some(op) = ops.recv().await {
        if let Err(error) = store.apply(&op).await {
            tracing::error!(%error, "registration change not persisted");
        }
    }
}

impl RunningCore {
    /// Stops the CSCFs (each drains its open transactions), waits for the S-CSCF's store
    /// writes, then stops the HSS.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for (function, task) in self.functions {
            if let Err(error) = task.await {
                tracing::error!(function, %error, "function task failed");
            }
        }
        // The S-CSCF (and with it the store sink) is gone: the writer drains and ends.
        if let Some(writer) = self.store_writer {
            let _ = writer.await;
        }
        self.hss.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hss_sim::subscriber::AuthScheme;

    fn texts() -> ConfigTexts {
        ConfigTexts::for_config(&UpConfig::default())
    }

    #[test]
    fn every_marker_is_filled() {
        let t = texts();
        for (name, text) in [
            ("hss", &t.hss),
            ("pcscf", &t.pcscf),
            ("icscf", &t.icscf),
            ("scscf", &t.scscf),
        ] {
            // Comments mention the markers; values must not contain any.
            let unfilled = text
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .find(|line| line.contains('@'));
            assert_eq!(unfilled, None, "{name}: unfilled marker");
        }
    }

    #[test]
    fn the_defaults_pass_each_functions_validation() {
        let t = texts();
        let hss = HssConfig::parse("hss", &t.hss).unwrap();
        assert_eq!(hss.diameter.listen.port(), 3868);
        assert_eq!(hss.database.url, "sqlite::memory:");
        let pcscf = PcscfConfig::from_toml_str("pcscf", &t.pcscf).unwrap();
        assert_eq!(pcscf.port, 5060);
        let icscf = icscf::FileConfig::parse("icscf", &t.icscf).unwrap();
        assert_eq!(icscf.runner_config().udp, vec![UpConfig::default().icscf]);
        let scscf = scscf::FileConfig::parse("scscf", &t.scscf).unwrap();
        assert!(scscf.storage.is_none(), "in memory by default");
        assert_eq!(scscf.registrar_config().default_auth_scheme, "Unknown");
    }

    /// The HSS names the S-CSCF in UAA/LIA by the name the S-CSCF gives itself in MAR/SAR;
    /// the I-CSCF and the P-CSCF must be able to reach the names they are given.
    #[test]
    fn the_functions_agree_on_names_and_addresses() {
        let config = UpConfig::default();
        let t = ConfigTexts::for_config(&config);
        let hss = HssConfig::parse("hss", &t.hss).unwrap();
        let scscf = scscf::FileConfig::parse("scscf", &t.scscf).unwrap();
        let server_name = scscf.registrar_config().server_name;
        assert_eq!(
            hss.server_capabilities.server_names,
            vec![server_name.clone()]
        );
        let icscf = icscf::FileConfig::parse("icscf", &t.icscf)
            .unwrap()
            .settings();
        assert_eq!(icscf.scscfs[0].uri.to_string(), server_name);
        assert_eq!(icscf.hosts["scscf.ims.example"], config.scscf);
        let pcscf = PcscfConfig::from_toml_str("pcscf", &t.pcscf).unwrap();
        assert_eq!(
            pcscf.icscf.to_string(),
            format!("sip:icscf.ims.example:{};lr", config.icscf.port())
        );
        let routing = scscf.routing_config();
        assert_eq!(routing.hosts["icscf.ims.example"], config.icscf);
    }

    #[test]
    fn a_data_directory_puts_both_stores_there() {
        let config = UpConfig {
            storage: Storage::Directory(PathBuf::from("/var/lib/ims")),
            ..UpConfig::default()
        };
        let t = ConfigTexts::for_config(&config);
        let hss = HssConfig::parse("hss", &t.hss).unwrap();
        assert_eq!(hss.database.url, "sqlite:///var/lib/ims/hss.db?mode=rwc");
        let scscf = scscf::FileConfig::parse("scscf", &t.scscf).unwrap();
        assert_eq!(
            scscf.storage.map(|s| s.url).as_deref(),
            Some("sqlite:///var/lib/ims/scscf.db")
        );
    }

    #[test]
    fn other_ports_reach_every_function() {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let config = UpConfig {
            pcscf: at(15060),
            icscf: at(15061),
            scscf: at(16060),
            ..UpConfig::default()
        };
        let t = ConfigTexts::for_config(&config);
        let pcscf = PcscfConfig::from_toml_str("pcscf", &t.pcscf).unwrap();
        assert_eq!(pcscf.port, 15060);
        let scscf = scscf::FileConfig::parse("scscf", &t.scscf).unwrap();
        assert_eq!(
            scscf.registrar_config().server_name,
            "sip:scscf.ims.example:16060"
        );
        assert_eq!(
            scscf
                .routing_config()
                .icscf
                .map(|u| u.to_string())
                .as_deref(),
            Some("sip:icscf.ims.example:15061")
        );
    }

    /// No application server runs in `ims up`: no iFC may send requests to one. Both AKA and
    /// SIP Digest users exist, and every SIP Digest user has a password.
    #[test]
    fn the_demo_subscribers_suit_ims_up() {
        let subscribers = hss_sim::seed::parse("demo", DEMO_SUBSCRIBERS).unwrap();
        assert!(subscribers
            .iter()
            .flat_map(|s| &s.service_profiles)
            .all(|p| p.initial_filter_criteria.is_empty()));
        let first_schemes: Vec<AuthScheme> = subscribers
            .iter()
            .filter_map(|s| s.auth_schemes.first().copied())
            .collect();
        assert!(first_schemes.iter().any(|s| s.is_aka()));
        assert!(first_schemes.iter().any(|s| !s.is_aka()));
        // The UE simulator's AKA users are challenged with AKAv1-MD5 (TS 33.203 §6.1).
        for impi in ["alice@ims.example", "bob@ims.example"] {
            let s = subscribers.iter().find(|s| s.impi == impi).unwrap();
            assert_eq!(s.auth_schemes.first(), Some(&AuthScheme::DigestAkaV1Md5));
        }
        for s in &subscribers {
            if s.auth_schemes.iter().any(|a| !a.is_aka()) {
                assert!(s.password.is_some(), "{} needs a password", s.impi);
            }
            assert!(s.impi.ends_with(HOME_DOMAIN), "{}", s.impi);
        }
    }
}
