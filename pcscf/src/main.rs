//! `pcscf --config pcscf.toml`: runs the P-CSCF until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use pcscf::file_config::{FileConfig, Loaded};
use pcscf::outbound::FlowTokenKey;
use pcscf::Pcscf;

/// The P-CSCF of the IMS core (3GPP TS 24.229 §5.2).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, short, default_value = "pcscf.toml")]
    config: PathBuf,
    /// Log filter (tracing EnvFilter syntax); overrides `RUST_LOG` and `[log] filter`.
    #[arg(long)]
    log: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let source = args.config.display().to_string();
    let loaded = match std::fs::read_to_string(&args.config) {
        Ok(text) => FileConfig::load(&source, &text),
        Err(error) => {
            eprintln!("error: cannot read {source}: {error}");
            return ExitCode::from(2);
        }
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    let filter = args
        .log
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| loaded.log_filter.clone());
    ims_node::logging::init(&filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(loaded)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(loaded: Loaded) -> anyhow::Result<()> {
    // A fresh key per process: flows do not survive a restart, and neither do their tokens.
    let key = FlowTokenKey::generate(&mut rand::rng());
    let function = Pcscf::new(loaded.settings, key);
    let runner = ims_node::runner::Runner::bind(loaded.runner)
        .await
        .context("cannot start the SIP transports")?;
    for (transport, addr) in runner.local_addrs() {
        tracing::info!(%transport, %addr, "listening");
    }
    runner.run(function, ims_node::shutdown::signal()).await;
    Ok(())
}
