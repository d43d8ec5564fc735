//! Logging set-up shared by the binaries: `tracing` to stderr, filtered by `RUST_LOG` when the
//! binary passes it in (library code never reads the environment itself).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `filter` is an `EnvFilter` directive such as `info` or
/// `ims_sip=debug,info`; an invalid directive falls back to `info` and says so.
pub fn init(filter: &str) {
    let (env_filter, bad) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    // A second call (tests, `ims up` starting several functions) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .try_init();
    if let Some(e) = bad {
        tracing::warn!(directive = filter, error = %e, "invalid log filter, using `info`");
    }
}
