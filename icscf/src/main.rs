//! `icscf --config icscf.toml`: runs the I-CSCF until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use icscf::{FileConfig, Icscf};

/// The I-CSCF of the IMS core (3GPP TS 24.229 §5.3).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, short, default_value = "icscf.toml")]
    config: PathBuf,
    /// Log filter (tracing EnvFilter syntax); overrides `RUST_LOG` and `[log] filter`.
    #[arg(long)]
    log: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let source = args.config.display().to_string();
    let config = match std::fs::read_to_string(&args.config) {
        Ok(text) => FileConfig::parse(&source, &text),
        Err(error) => {
            eprintln!("error: cannot read {source}: {error}");
            return ExitCode::from(2);
        }
    };
    let config = match config {
        Ok(config) => config,
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
        .unwrap_or_else(|| config.log.filter.clone());
    ims_node::logging::init(&filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: FileConfig) -> anyhow::Result<()> {
    let boot = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let function = Icscf::new(config.settings(), boot);
    let runner = ims_node::runner::Runner::bind(config.runner_config())
        .await
        .context("cannot start the SIP transports")?;
    for (transport, addr) in runner.local_addrs() {
        tracing::info!(%transport, %addr, "listening");
    }
    runner.run(function, ims_node::shutdown::signal()).await;
    Ok(())
}
