//! The tokio runner every CSCF binary uses: binds the SIP transports, starts the Diameter
//! client, and drives one [`Function`] through the sans-IO [`Engine`] until shutdown.
//!
//! One task owns the engine (the function and its RFC 3261 §16 proxy). It waits on four
//! things at once: a transport [`Event`], the outcome of a Cx request, a failed send, and the
//! engine's next timer (`tokio::time::sleep_until`). After each it drains the engine:
//! transmits go to per-destination sender tasks (so a slow TCP connect never stalls the
//! loop, and messages to one destination keep their order), Cx requests go to spawned
//! tasks whose outcomes come back over a channel.
//!
//! ```no_run
//! # use ims_node::runner::{run_function, RunnerConfig};
//! # async fn demo(function: impl ims_node::function::Function) {
//! let proxy = ims_sip::proxy::ProxyConfig::new(ims_sip::Host::Domain("icscf.ims.test".into()), None);
//! let mut config = RunnerConfig::new(proxy);
//! config.udp.push("0.0.0.0:5060".parse().unwrap());
//! run_function(function, config, ims_node::shutdown::signal()).await.unwrap();
//! # }
//! ```
//!
//! Graceful shutdown: when the shutdown future resolves, new out-of-dialog requests get 503
//! with Retry-After while the open contexts finish (at most [`RunnerConfig::shutdown_grace`]);
//! then the Diameter node says goodbye to its peers (DPR) and the transports close.

pub mod engine;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ims_diameter::driver::{DiameterClient, DiameterNode, NodeConfig};
use ims_sip::proxy::{CounterTokens, Proxy, ProxyConfig};
use ims_sip::transaction::{TransactionId, Transmit};
use ims_transport::{
    ConnectionId, Event, Target, Transport, TransportConfig, TransportError, TransportLayer,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::function::{CxOutcome, CxToken, Function};
pub use engine::{Engine, EngineSettings};

/// A TLS listener: address and the rustls server configuration
/// (see [`ims_transport::tls::server_config`]).
#[derive(Clone)]
pub struct TlsListen {
    pub addr: SocketAddr,
    pub config: Arc<rustls::ServerConfig>,
}

/// Everything the runner needs besides the function.
pub struct RunnerConfig {
    /// UDP sockets to bind.
    pub udp: Vec<SocketAddr>,
    /// TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners.
    pub tls: Vec<TlsListen>,
    /// Needed to open TLS connections to other nodes.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    pub transport: TransportConfig,
    pub proxy: ProxyConfig,
    /// Seed of the proxy's branch and tag values.
    pub token_seed: u64,
    pub engine: EngineSettings,
    /// The Diameter node (Cx client); `None` for a function without Cx (the P-CSCF).
    pub diameter: Option<NodeConfig>,
    /// At start, wait up to this long for the configured Diameter peers to open before
    /// taking SIP traffic (which queues meanwhile), so the first requests do not fail with
    /// 3002. Zero does not wait.
    pub diameter_wait: Duration,
    /// How long open contexts may take to finish after the shutdown signal.
    pub shutdown_grace: Duration,
}

impl RunnerConfig {
    /// No listeners, default transport and engine settings, no Diameter, a 5 s grace
    /// period, and a token seed taken from the clock.
    pub fn new(proxy: ProxyConfig) -> Self {
        let token_seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64);
        RunnerConfig {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            tls_client: None,
            transport: TransportConfig::default(),
            proxy,
            token_seed,
            engine: EngineSettings::default(),
            diameter: None,
            diameter_wait: Duration::ZERO,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Why the runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot listen on {transport} {addr}: {source}")]
    Bind {
        transport: Transport,
        addr: SocketAddr,
        source: TransportError,
    },
}

/// Binds and runs in one call; see [`Runner`].
pub async fn run_function<F: Function>(
    function: F,
    config: RunnerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunnerError> {
    Runner::bind(config).await?.run(function, shutdown).await;
    Ok(())
}

/// Bound sockets, ready to run a function. Two steps so that callers (tests, `ims up`) can
/// learn the addresses of port-0 listeners before traffic starts.
pub struct Runner {
    config: RunnerConfig,
    transport: TransportLayer,
    events: mpsc::Receiver<Event>,
    local: Vec<(Transport, SocketAddr)>,
}

impl Runner {
    /// Binds every configured listener.
    pub async fn bind(config: RunnerConfig) -> Result<Runner, RunnerError> {
        let (transport, events) =
            TransportLayer::new(config.transport.clone(), config.tls_client.clone());
        let mut local = Vec::new();
        let bind_error = |transport, addr| {
            move |source| RunnerError::Bind {
                transport,
                addr,
                source,
            }
        };
        for &addr in &config.udp {
            let handle = transport
                .bind_udp(addr)
                .await
                .map_err(bind_error(Transport::Udp, addr))?;
            local.push((Transport::Udp, handle.info().local));
        }
        for &addr in &config.tcp {
            let bound = transport
                .listen_tcp(addr)
                .await
                .map_err(bind_error(Transport::Tcp, addr))?;
            local.push((Transport::Tcp, bound));
        }
        for tls in &config.tls {
            let bound = transport
                .listen_tls(tls.addr, tls.config.clone())
                .await
                .map_err(bind_error(Transport::Tls, tls.addr))?;
            local.push((Transport::Tls, bound));
        }
        Ok(Runner {
            config,
            transport,
            events,
            local,
        })
    }

    /// The bound addresses, in configuration order (UDP, TCP, TLS).
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.local
    }

    /// Runs `function` until `shutdown` resolves, then shuts down gracefully.
    pub async fn run<F: Function>(self, function: F, shutdown: impl Future<Output = ()>) {
        let Runner {
            config,
            transport,
            mut events,
            ..
        } = self;
        let proxy = Proxy::new(config.proxy, CounterTokens::new(config.token_seed));
        let peers: Vec<String> = config
            .diameter
            .iter()
            .flat_map(|c| c.peers.iter().filter(|p| p.address.is_some()))
            .map(|p| p.host.clone())
            .collect();
        let diameter = config.diameter.map(|c| DiameterNode::start(c, None));
        if let (Some(node), false) = (&diameter, config.diameter_wait.is_zero()) {
            let client = node.client();
            for peer in &peers {
                if !client.wait_available(peer, config.diameter_wait).await {
                    tracing::warn!(peer, "Diameter peer not available yet; starting anyway");
                }
            }
        }
        let (cx_tx, mut cx_rx) = mpsc::unbounded_channel();
        let (error_tx, mut error_rx) = mpsc::unbounded_channel();
        let mut io = Io {
            transport: transport.clone(),
            senders: HashMap::new(),
            sender_tasks: JoinSet::new(),
            send_errors: error_tx,
            cx: diameter.as_ref().map(DiameterNode::client),
            cx_outcomes: cx_tx,
        };
        let mut engine = Engine::new(function, proxy, config.engine);
        tokio::pin!(shutdown);
        let mut grace_end: Option<tokio::time::Instant> = None;

        loop {
            let timer = engine.poll_timeout().map(tokio::time::Instant::from_std);
            let wake = match (timer, grace_end) {
                (Some(t), Some(g)) => Some(t.min(g)),
                (t, g) => t.or(g),
            };
            tokio::select! {
                () = &mut shutdown, if grace_end.is_none() => {
                    tracing::info!("shutdown requested: draining open transactions");
                    engine.start_draining();
                    grace_end = Some(tokio::time::Instant::now() + config.shutdown_grace);
                }
                event = events.recv() => match event {
                    Some(event) => on_transport_event(&mut engine, event),
                    None => break,
                },
                Some((token, outcome)) = cx_rx.recv() => {
                    engine.handle_cx(Instant::now(), token, outcome);
                }
                Some(transaction) = error_rx.recv() => {
                    engine.handle_transport_error(Instant::now(), transaction);
                }
                () = sleep_until(wake) => engine.handle_timeout(Instant::now()),
            }
            io.drain(&mut engine);
            let grace_over = grace_end.is_some_and(|g| tokio::time::Instant::now() >= g);
            if grace_end.is_some() && (engine.is_idle() || grace_over) {
                break;
            }
        }

        // Let the sender tasks hand what is queued to the transport before it closes.
        io.senders.clear();
        let flush = async { while io.sender_tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), flush).await;
        if let Some(node) = diameter {
            node.shutdown().await;
        }
        transport.shutdown(Duration::from_secs(2)).await;
        tracing::info!("stopped");
    }
}

async fn sleep_until(wake: Option<tokio::time::Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Messages go to the engine, everything else to the function.
fn on_transport_event<F: Function>(engine: &mut Engine<F>, event: Event) {
    let now = Instant::now();
    match event {
        Event::Message {
            conn,
            transport,
            remote,
            data,
            ..
        } => {
            let source = if transport.is_stream() {
                Target::Connection(conn)
            } else {
                Target::Datagram {
                    socket: conn,
                    remote,
                }
            };
            engine.handle_bytes(now, data, source, transport.is_stream(), remote);
        }
        other => engine.handle_transport_event(now, &other),
    }
}

/// `Target` has no `Hash`; this key names the same destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SendKey {
    Connection(ConnectionId),
    Datagram(ConnectionId, SocketAddr),
    Remote(Transport, SocketAddr, Option<String>),
}

impl From<&Target> for SendKey {
    fn from(target: &Target) -> Self {
        match target {
            Target::Connection(c) => SendKey::Connection(*c),
            Target::Datagram { socket, remote } => SendKey::Datagram(*socket, *remote),
            Target::Remote {
                transport,
                remote,
                server_name,
            } => SendKey::Remote(*transport, *remote, server_name.clone()),
        }
    }
}

struct Outgoing {
    transaction: Option<TransactionId>,
    data: Bytes,
}

/// The I/O side of the loop: sender tasks and Cx tasks.
struct Io {
    transport: TransportLayer,
    senders: HashMap<SendKey, mpsc::UnboundedSender<Outgoing>>,
    sender_tasks: JoinSet<()>,
    send_errors: mpsc::UnboundedSender<TransactionId>,
    cx: Option<DiameterClient>,
    cx_outcomes: mpsc::UnboundedSender<(CxToken, CxOutcome)>,
}

/// A sender task ends after this long without work.
const SENDER_IDLE: Duration = Duration::from_secs(30);

impl Io {
    fn drain<F: Function>(&mut self, engine: &mut Engine<F>) {
        // Reap sender tasks that ended (idle), so the set does not grow.
        while self.sender_tasks.try_join_next().is_some() {}
        while let Some(transmit) = engine.poll_transmit() {
            self.send(transmit);
        }
        while let Some((token, request)) = engine.poll_cx_request() {
            self.send_cx(token, request);
        }
    }

    fn send(&mut self, transmit: Transmit<Target>) {
        let key = SendKey::from(&transmit.destination);
        let mut outgoing = Outgoing {
            transaction: transmit.transaction,
            data: Bytes::from(transmit.message.to_bytes()),
        };
        if let Some(sender) = self.senders.get(&key) {
            match sender.send(outgoing) {
                Ok(()) => return,
                // The task ended while idle: start a new one below.
                Err(mpsc::error::SendError(back)) => outgoing = back,
            }
        }
        if self.senders.len() >= 1024 {
            self.senders.retain(|_, s| !s.is_closed());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        // A fresh channel with its receiver alive cannot refuse.
        let _ = tx.send(outgoing);
        self.senders.insert(key, tx);
        self.sender_tasks.spawn(sender_task(
            self.transport.clone(),
            transmit.destination,
            rx,
            self.send_errors.clone(),
        ));
    }

    fn send_cx(&self, token: CxToken, request: ims_diameter::Message) {
        let outcomes = self.cx_outcomes.clone();
        let Some(client) = self.cx.clone() else {
            let _ = outcomes.send((
                token,
                CxOutcome::Failed {
                    result_code: ims_diameter::ResultCode::UNABLE_TO_DELIVER.0,
                    reason: "no Diameter node configured".into(),
                },
            ));
            return;
        };
        tokio::spawn(async move {
            let outcome = match client.request(request).await {
                Ok(answer) => CxOutcome::Answer(answer),
                Err(error) => CxOutcome::Failed {
                    result_code: error.result_code().0,
                    reason: error.to_string(),
                },
            };
            let _ = outcomes.send((token, outcome));
        });
    }
}

/// Sends everything queued for one destination, in order; ends after [`SENDER_IDLE`].
async fn sender_task(
    transport: TransportLayer,
    destination: Target,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    errors: mpsc::UnboundedSender<TransactionId>,
) {
    let send = |outgoing: Outgoing| {
        let transport = transport.clone();
        let destination = destination.clone();
        let errors = errors.clone();
        async move {
            if let Err(error) = transport.send(destination.clone(), outgoing.data).await {
                tracing::warn!(?destination, %error, "send failed");
                if let Some(transaction) = outgoing.transaction {
                    let _ = errors.send(transaction);
                }
            }
        }
    };
    loop {
        match tokio::time::timeout(SENDER_IDLE, queue.recv()).await {
            Ok(Some(outgoing)) => send(outgoing).await,
            Ok(None) => return,
            Err(_idle) => {
                // Refuse new work, then flush what raced in before the close.
                queue.close();
                while let Ok(outgoing) = queue.try_recv() {
                    send(outgoing).await;
                }
                return;
            }
        }
    }
}
