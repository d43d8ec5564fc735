//! `scscf --config scscf.toml`: runs the S-CSCF until SIGINT/SIGTERM.
//!
//! With `[storage] url`, registrations are loaded from the database at start (a restart
//! loses none) and every change the registrar makes is written by one task, in order.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use clap::Parser;
use scscf::store::{RegistrationStore, SqlStore, StoreOp};
use scscf::{FileConfig, Registrar, Scscf};

/// The S-CSCF of the IMS core (3GPP TS 24.229 §5.4).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, short, default_value = "scscf.toml")]
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
    let mut registrar =
        Registrar::new(config.registrar_config()).context("invalid registrar configuration")?;
    let mut writer = None;
    if let Some(storage) = &config.storage {
        let store = SqlStore::connect(&storage.url)
            .await
            .with_context(|| format!("cannot open the registration store {}", storage.url))?;
        let snapshot = store
            .load_all()
            .await
            .context("cannot load the stored registrations")?;
        let restored = registrar.restore(&snapshot);
        tracing::info!(restored, url = %storage.url, "registrations restored");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<StoreOp>();
        writer = Some((tokio::spawn(write_store(store, rx)), tx));
    }
    let mut function = Scscf::new(
        config.routing_config(),
        registrar,
        Instant::now(),
        SystemTime::now(),
    );
    if let Some((_, tx)) = &writer {
        let tx = tx.clone();
        function = function.with_store_sink(move |op| {
            if tx.send(op).is_err() {
                tracing::error!("registration store writer stopped; change not persisted");
            }
        });
    }
    let runner = ims_node::runner::Runner::bind(config.runner_config())
        .await
        .context("cannot start the SIP transports")?;
    for (transport, addr) in runner.local_addrs() {
        tracing::info!(%transport, %addr, "listening");
    }
    runner.run(function, ims_node::shutdown::signal()).await;
    // The function (and its sink) is gone: the writer drains what is queued, then ends.
    if let Some((task, tx)) = writer {
        drop(tx);
        let _ = task.await;
    }
    Ok(())
}

/// Applies the registrar's changes in the order they were made.
async fn write_store(store: SqlStore, mut ops: tokio::sync::mpsc::UnboundedReceiver<StoreOp>) {
    while let Some(op) = ops.recv().await {
        if let Err(error) = store.apply(&op).await {
            tracing::error!(%error, "registration change not persisted");
        }
    }
}
