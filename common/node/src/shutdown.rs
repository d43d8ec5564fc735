//! Graceful shutdown: resolves on SIGINT or SIGTERM so binaries can stop accepting work, let
//! transactions finish and say goodbye to Diameter peers (DPR) before exiting.

/// Waits for SIGINT (Ctrl-C) or, on Unix, SIGTERM (what `docker stop` sends).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
