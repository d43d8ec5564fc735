//! The `ims` command: `ims up` runs the IMS core on this machine with embedded defaults
//! (see [`ims::up`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ims::up::{self, CoreAddrs, Storage, UpConfig, HOME_DOMAIN};

#[derive(Parser)]
#[command(version, about = "IMS core: run it locally, drive UEs, measure it")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the IMS core (HSS, I-CSCF, S-CSCF, P-CSCF) on loopback until Ctrl-C.
    Up {
        /// Keep the subscriber store and the S-CSCF's registrations in this directory (SQLite
        /// files `hss.db`, `scscf.db`) instead of in memory, so they survive a restart.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// P-CSCF address, UDP and TCP: the outbound proxy of UEs. It is also the P-CSCF's
        /// host in Path and Record-Route, so give an address UEs can reach (e.g. a LAN
        /// address for softphones on other machines), not 0.0.0.0.
        #[arg(long, default_value = "127.0.0.1:5060")]
        pcscf: SocketAddr,
        /// I-CSCF address, UDP and TCP.
        #[arg(long, default_value = "127.0.0.1:5061")]
        icscf: SocketAddr,
        /// S-CSCF address, UDP and TCP.
        #[arg(long, default_value = "127.0.0.1:6060")]
        scscf: SocketAddr,
        /// HSS Cx address (Diameter over TCP).
        #[arg(long, default_value = "127.0.0.1:3868")]
        hss: SocketAddr,
        /// HSS REST provisioning address.
        #[arg(long, default_value = "127.0.0.1:8088")]
        rest: SocketAddr,
        /// Subscribers to provision instead of the demo ones (hss-sim seed format, see
        /// ims/demo-subscribers.toml).
        #[arg(long)]
        seed: Option<PathBuf>,
        /// Log filter (`tracing` EnvFilter syntax).
        #[arg(long, default_value = "info")]
        log: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Up {
            data_dir,
            pcscf,
            icscf,
            scscf,
            hss,
            rest,
            seed,
            log,
        } => {
            ims_node::logging::init(&log);
            let storage = match data_dir.map(data_directory).transpose() {
                Ok(Some(dir)) => Storage::Directory(dir),
                Ok(None) => Storage::Memory,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            };
            let seed = match seed {
                None => UpConfig::default().seed,
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(text) => Some((path.display().to_string(), text)),
                    Err(e) => {
                        eprintln!("error: cannot read {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                },
            };
            let config = UpConfig {
                pcscf,
                icscf,
                scscf,
                hss,
                rest,
                storage,
                seed,
            };
            match run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                // The message names the function and includes every cause.
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Creates `dir` if needed and makes it absolute, so the database URLs and the banner do not
/// depend on the working directory.
fn data_directory(dir: PathBuf) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::canonicalize(&dir))
        .map_err(|e| format!("data directory {}: {e}", dir.display()))
}

async fn run(config: UpConfig) -> Result<(), up::UpError> {
    let core = up::start(&config).await?;
    print_banner(&core.addrs, &config);
    ims_node::shutdown::signal().await;
    println!("stopping: open transactions finish, then the HSS stops");
    core.shutdown().await;
    Ok(())
}

fn print_banner(addrs: &CoreAddrs, config: &UpConfig) {
    let list = |addrs: &[(ims_transport::Transport, SocketAddr)]| {
        addrs
            .iter()
            .map(|(t, a)| format!("{t} {a}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let proxy = addrs
        .pcscf_udp()
        .map_or_else(|| "127.0.0.1:5060".to_owned(), |a| a.to_string());
    println!("IMS core running (Ctrl-C stops it), home domain {HOME_DOMAIN}:");
    println!("  P-CSCF  {}", list(&addrs.pcscf));
    println!("  I-CSCF  {}", list(&addrs.icscf));
    println!("  S-CSCF  {}", list(&addrs.scscf));
    println!("  HSS     Cx (Diameter/TCP) {}", addrs.hss);
    println!(
        "          REST provisioning http://{}/subscribers  (OpenAPI: /openapi.json)",
        addrs.rest
    );
    match &config.storage {
        Storage::Memory => println!("  store: in memory"),
        Storage::Directory(dir) => println!("  store: {}", dir.display()),
    }
    let demo = config
        .seed
        .as_ref()
        .is_some_and(|(_, text)| text == up::DEMO_SUBSCRIBERS);
    if let (false, Some((name, _))) = (demo, &config.seed) {
        println!("  subscribers from {name}");
        return;
    }
    println!();
    println!("Demo subscribers (ims/demo-subscribers.toml):");
    println!("  alice@{HOME_DOMAIN}, bob@{HOME_DOMAIN}   IMS-AKA (UE simulator, SIPp)");
    println!(
        "  carol@{HOME_DOMAIN} / carol-secret, dave@{HOME_DOMAIN} / dave-secret   SIP Digest (MD5)"
    );
    println!();
    println!("Point a softphone at it (the P-CSCF is the outbound proxy; user name = IMPI):");
    println!(
        "  baresip (~/.baresip/accounts):\n    \
         <sip:carol@{HOME_DOMAIN}>;auth_user=carol@{HOME_DOMAIN};auth_pass=carol-secret;\
         outbound=\"sip:{proxy};lr\";regint=600"
    );
    println!(
        "  linphone / other: identity sip:carol@{HOME_DOMAIN}, proxy/outbound proxy sip:{proxy}, \
         transport UDP or TCP,\n    auth user carol@{HOME_DOMAIN}, password carol-secret, \
         domain/realm {HOME_DOMAIN}"
    );
    println!("  then call sip:dave@{HOME_DOMAIN} from a second account (dave / dave-secret).");
}
