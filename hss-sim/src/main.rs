//! `hss-sim --config hss.toml`: the HSS simulator binary. Reads the configuration and seed
//! files, then serves Cx over Diameter/TCP and the REST provisioning API until SIGINT/SIGTERM.

use anyhow::Context;
use clap::Parser;
use hss_sim::app::{self, Seed};
use hss_sim::config::Config;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    version,
    about = "HSS simulator: Diameter Cx server with a subscriber store"
)]
struct Args {
    /// The TOML configuration file.
    #[arg(long, default_value = "hss.toml")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let source = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading configuration {source}"))?;
    let config = match Config::parse(&source, &text) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            std::process::exit(2);
        }
    };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log.clone());
    ims_node::logging::init(&filter);

    // A relative seed path is relative to the configuration file, so the pair can be moved
    // together.
    let seed = match &config.database.seed_file {
        Some(seed) => {
            let path = relative_to(&args.config, Path::new(seed));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading seed file {}", path.display()))?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    let hss = app::start(
        &config,
        seed.as_ref().map(|(name, text)| Seed { name, text }),
    )
    .await?;
    ims_node::shutdown::signal().await;
    tracing::info!("shutting down: DPR to Diameter peers");
    hss.shutdown().await;
    Ok(())
}

fn relative_to(config: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    config
        .parent()
        .map_or_else(|| path.to_owned(), |dir| dir.join(path))
}
