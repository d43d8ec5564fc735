//! What every network-function binary needs: TOML configuration parsing with errors that name the
//! offending key, logging set-up, and a shutdown signal.
//!
//! Library crates never read files or the environment; binaries read the file and hand its text to
//! [`config::from_toml_str`].

pub mod config;
pub mod function;
pub mod logging;
pub mod runner;
pub mod shutdown;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
