//! The HSS as a running service: store, seed, Cx server over Diameter/TCP and the REST
//! provisioning API, started from a [`Config`]. Both the `hss-sim` binary and `ims up` use it.

use crate::config::Config;
use crate::cx::Hss;
use crate::rest::{self, ApiState};
use crate::seed::SeedError;
use crate::server::{start_diameter, Notifier};
use crate::store::{Store, StoreError};
use crate::wire::CxServer;
use ims_diameter::driver::DiameterNode;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Why the HSS could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening database {url}: {source}")]
    Store {
        url: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("binding {what} listener {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A seed file's name (for error messages) and its text.
pub struct Seed<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The running HSS.
pub struct RunningHss {
    node: DiameterNode,
    rest_stop: oneshot::Sender<()>,
    rest_task: JoinHandle<std::io::Result<()>>,
    /// Where Cx is served.
    pub diameter_addr: SocketAddr,
    /// Where the REST API is served.
    pub rest_addr: SocketAddr,
}

/// Opens the store, applies the seed, and starts the Cx and REST listeners.
pub async fn start(config: &Config, seed: Option<Seed<'_>>) -> Result<RunningHss, StartError> {
    let url = &config.database.url;
    let store = Store::connect(url)
        .await
        .map_err(|source| StartError::Store {
            url: url.clone(),
            source,
        })?;
    if let Some(seed) = seed {
        let n = crate::seed::apply(&store, seed.name, seed.text).await?;
        tracing::info!(subscribers = n, file = %seed.name, "seed applied");
    }
    let hss = Hss::new(
        store,
        config.server_capabilities.clone(),
        config.authentication.clone(),
    );
    let d = &config.diameter;
    let cx = CxServer::new(hss.clone(), &d.origin_host, &d.origin_realm);
    let listener = bind("Diameter", d.listen).await?;
    let diameter_addr = local_addr(&listener, d.listen);
    let node = start_diameter(cx.clone(), listener, &d.origin_realm);
    tracing::info!(listen = %diameter_addr, origin_host = %d.origin_host, "Cx server listening");

    let app = rest::router(ApiState {
        hss,
        notifier: Some(Notifier::new(cx, node.client())),
    });
    let rest_listener = bind("REST", config.rest.listen).await?;
    let rest_addr = local_addr(&rest_listener, config.rest.listen);
    tracing::info!(listen = %rest_addr, "REST provisioning API listening");
    let (rest_stop, stopped) = oneshot::channel::<()>();
    let rest_task = tokio::spawn(async move {
        axum::serve(rest_listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningHss {
        node,
        rest_stop,
        rest_task,
        diameter_addr,
        rest_addr,
    })
}

impl RunningHss {
    /// Stops the REST API and says goodbye to the Diameter peers (DPR).
    pub async fn shutdown(self) {
        let _ = self.rest_stop.send(());
        match self.rest_task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "REST server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "REST server task failed"),
        }
        self.node.shutdown().await;
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { what, addr, source })
}

fn local_addr(listener: &TcpListener, configured: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(configured)
}
