//! The tokio driver: runs the sans-IO [`crate::peer`] machines over TCP.
//!
//! A [`DiameterNode`] is one Diameter node: a single task owns every [`Peer`](crate::peer::Peer)
//! machine, the routing table and the requests in flight; per connection a reader task frames
//! messages and a writer task writes them. The node
//!
//! * connects to the peers it is configured to initiate to, and reconnects with backoff;
//! * accepts connections on an optional listener, answers CER (3010 for unknown hosts unless
//!   [`NodeConfig::accept_unknown_peers`]), DWR and DPR;
//! * routes requests from [`DiameterClient::request`] by Destination-Host/Destination-Realm and
//!   Application-Id, fails them over to an alternate peer (T flag set) when the watchdog or the
//!   transport says the peer failed (RFC 6733 §5.5.4);
//! * hands requests from peers to a [`Handler`] and sends its answers back;
//! * on [`DiameterNode::shutdown`] sends DPR to every open peer and waits for the DPAs.
//!
//! ```no_run
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Duration;
//! use ims_diameter::driver::{handler, DiameterNode, NodeConfig, PeerSpec};
//! use ims_diameter::peer::{node_capabilities, with_cx};
//! use ims_diameter::{code, ApplicationId, Avp, Message, VendorId};
//!
//! # async fn demo() -> Result<(), ims_diameter::driver::Error> {
//! let ip = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
//! // Server side (the HSS): accept any CSCF, answer every request.
//! let mut hss = NodeConfig::new(with_cx(node_capabilities("hss.ims.test", "ims.test", ip.clone())));
//! hss.accept_unknown_peers = true;
//! hss.handler = Some(handler(|request: Message| async move {
//!     Message::answer_to(&request).with(Avp::unsigned32(code::RESULT_CODE, VendorId::IETF, 2001))
//! }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3868").await?;
//! let hss = DiameterNode::start(hss, Some(listener));
//!
//! // Client side (a CSCF): connect to the HSS, route the realm's Cx traffic to it.
//! let mut cscf = NodeConfig::new(with_cx(node_capabilities("scscf.ims.test", "ims.test", ip)));
//! cscf.peers.push(PeerSpec { host: "hss.ims.test".into(), address: Some("127.0.0.1:3868".parse().unwrap()) });
//! cscf.routes.add_route("ims.test", ApplicationId::CX.0, ["hss.ims.test"]);
//! let cscf = DiameterNode::start(cscf, None);
//! let client = cscf.client();
//! client.wait_available("hss.ims.test", Duration::from_secs(5)).await;
//! # let uar = Message::new(ims_diameter::Header::request(
//! #     ims_diameter::CommandCode::USER_AUTHORIZATION, ApplicationId::CX, true, 0, 0));
//! let uaa = client.request(uar).await?;
//! cscf.shutdown().await; // DPR, then close
//! hss.shutdown().await;
//! # let _ = uaa;
//! # Ok(())
//! # }
//! ```
//!
//! Streams come from a [`Transport`]: plain TCP by default. TLS (RFC 6733 §13) is not built in
//! (this crate has no TLS dependency); a deployment plugs a [`Transport`] that wraps the TCP
//! stream with tokio-rustls. The older in-band TLS negotiation through Inband-Security-Id in
//! CER/CEA is not supported.

mod connection;
mod node;
mod transport;

pub use transport::{BoxStream, Stream, Tcp, Transport};

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::avp::{code, Avp, VendorId};
use crate::header::CommandFlags;
use crate::message::Message;
use crate::peer::{
    Capabilities, DisconnectCause, PeerState, RouteError, RoutingTable, WatchdogState,
};
use crate::result::ResultCode;

/// A boxed future, as [`Handler`]s return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The application: turns a request from a peer into its answer (same Hop-by-Hop and
/// End-to-End Identifiers; the node enforces them).
pub type Handler = Arc<dyn Fn(Message) -> BoxFuture<Message> + Send + Sync + 'static>;

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Message> + Send + 'static,
{
    Arc::new(move |m| Box::pin(f(m)))
}

/// One configured peer.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// The peer's Diameter identity (Origin-Host).
    pub host: String,
    /// Where to connect; `None` for a peer that connects to us.
    pub address: Option<SocketAddr>,
}

/// Timers applied to every peer (see [`crate::peer::PeerConfig`] for their meaning).
#[derive(Debug, Clone)]
pub struct Timers {
    /// RFC 3539 Twinit.
    pub tw_init: Duration,
    /// Jitter span around Twinit.
    pub tw_jitter: Duration,
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Tc, the reconnect cap.
    pub tc: Duration,
    /// Transport connect timeout.
    pub connect_timeout: Duration,
    /// CEA wait.
    pub cea_timeout: Duration,
    /// DPA wait.
    pub dpa_timeout: Duration,
    /// Default answer timeout of a request.
    pub request_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            tw_init: crate::peer::watchdog::DEFAULT_TW_INIT,
            tw_jitter: crate::peer::watchdog::DEFAULT_TW_JITTER,
            reconnect_initial: Duration::from_secs(1),
            tc: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            cea_timeout: Duration::from_secs(10),
            dpa_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Configuration of a node.
#[derive(Clone)]
pub struct NodeConfig {
    /// What the node advertises in CER/CEA.
    pub local: Capabilities,
    /// Known peers.
    pub peers: Vec<PeerSpec>,
    /// Realm routing for requests from [`DiameterClient::request`].
    pub routes: RoutingTable,
    /// Accept CER from hosts not in `peers` (an HSS serving any CSCF) instead of answering
    /// 3010 DIAMETER_UNKNOWN_PEER.
    pub accept_unknown_peers: bool,
    /// Timers.
    pub timers: Timers,
    /// Seed of jitter and identifiers; `None` seeds from the clock.
    pub seed: Option<u64>,
    /// The application handling requests from peers; `None` answers them with
    /// 3001 DIAMETER_COMMAND_UNSUPPORTED.
    pub handler: Option<Handler>,
    /// How streams are made; `None` is plain TCP ([`Tcp`]).
    pub transport: Option<Arc<dyn Transport>>,
}

impl NodeConfig {
    /// A node with no peers, routes or handler.
    pub fn new(local: Capabilities) -> Self {
        Self {
            local,
            peers: Vec::new(),
            routes: RoutingTable::new(),
            accept_unknown_peers: false,
            timers: Timers::default(),
            seed: None,
            handler: None,
            transport: None,
        }
    }
}

/// Errors of the driver; each maps to a Result-Code a relay would answer with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No route or no available peer (3002/3003).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// No answer within the request timeout (3002 DIAMETER_UNABLE_TO_DELIVER).
    #[error("request timed out")]
    Timeout,
    /// The peer failed and no alternate was available (3002 DIAMETER_UNABLE_TO_DELIVER).
    #[error("peer failed and no alternate peer is available")]
    PeerFailed,
    /// The node has shut down (3002 DIAMETER_UNABLE_TO_DELIVER).
    #[error("the Diameter node is shut down")]
    Shutdown,
    /// The request was not a request.
    #[error("not a request")]
    NotARequest,
    /// Socket error when starting.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The Result-Code an answer reporting this error carries.
    pub fn result_code(&self) -> ResultCode {
        match self {
            Error::Route(e) => ResultCode(e.result_code()),
            Error::NotARequest => ResultCode::UNABLE_TO_COMPLY,
            Error::Timeout | Error::PeerFailed | Error::Shutdown | Error::Io(_) => {
                ResultCode::UNABLE_TO_DELIVER
            }
        }
    }

    /// The answer a relaying node (e.g. an I-CSCF forwarding Cx) sends back for `request` when
    /// it could not be delivered: the error's Result-Code, with the E bit for 3xxx
    /// (RFC 6733 §7.2 answer-message), from the local Origin-Host/Realm.
    pub fn answer_to(&self, request: &Message, local: &Capabilities) -> Message {
        let result = self.result_code();
        let mut answer = Message::answer_to(request);
        answer.header.flags = answer
            .header
            .flags
            .with(CommandFlags::ERROR, result.is_protocol_error());
        answer
            .with(Avp::diameter_identity(
                code::ORIGIN_HOST,
                VendorId::IETF,
                &local.origin_host,
            ))
            .with(Avp::diameter_identity(
                code::ORIGIN_REALM,
                VendorId::IETF,
                &local.origin_realm,
            ))
            .with(Avp::unsigned32(code::RESULT_CODE, VendorId::IETF, result.0))
            .with(Avp::utf8_string(
                code::ERROR_MESSAGE,
                VendorId::IETF,
                &self.to_string(),
            ))
    }
}

/// A peer's status, for tests and admin pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer's Diameter identity.
    pub host: String,
    /// RFC 6733 §5.6 state.
    pub state: PeerState,
    /// RFC 3539 watchdog state.
    pub watchdog: WatchdogState,
    /// Whether requests are routed to it.
    pub available: bool,
    /// DWRs we sent and DWAs we received on it, DWRs we answered.
    pub watchdog_counts: crate::peer::machine::WatchdogCounts,
}

pub(crate) enum Command {
    Request {
        request: Message,
        timeout: Option<Duration>,
        reply: oneshot::Sender<Result<Message, Error>>,
    },
    Status(oneshot::Sender<Vec<PeerStatus>>),
    Shutdown {
        cause: DisconnectCause,
        done: oneshot::Sender<()>,
    },
}

/// A cheap, cloneable handle that sends requests through the node.
#[derive(Clone)]
pub struct DiameterClient {
    commands: mpsc::UnboundedSender<Command>,
}

impl DiameterClient {
    /// Sends a request and waits for its answer. Hop-by-Hop is assigned per hop; End-to-End is
    /// generated when the request carries 0. Many requests may be in flight at once.
    pub async fn request(&self, request: Message) -> Result<Message, Error> {
        self.request_with_timeout(request, None).await
    }

    /// [`DiameterClient::request`] with an explicit answer timeout.
    pub async fn request_with_timeout(
        &self,
        request: Message,
        timeout: Option<Duration>,
    ) -> Result<Message, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                request,
                timeout,
                reply,
            })
            .map_err(|_| Error::Shutdown)?;
        answer.await.map_err(|_| Error::Shutdown)?
    }

    /// Waits until the peer `host` is available for requests (open, watchdog OKAY), for at
    /// most `limit`; returns whether it became available. Requests sent before any peer of a
    /// route is open fail at once with 3002, so a node that must not lose its first requests
    /// waits here after start.
    pub async fn wait_available(&self, host: &str, limit: Duration) -> bool {
        let poll = async {
            loop {
                let peers = self.peers().await;
                if peers.is_empty() && self.commands.is_closed() {
                    return false;
                }
                if peers
                    .iter()
                    .any(|p| p.host.eq_ignore_ascii_case(host) && p.available)
                {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(limit, poll).await.unwrap_or(false)
    }

    /// The status of every peer.
    pub async fn peers(&self) -> Vec<PeerStatus> {
        let (reply, status) = oneshot::channel();
        if self.commands.send(Command::Status(reply)).is_err() {
            return Vec::new();
        }
        status.await.unwrap_or_default()
    }
}

/// A running Diameter node.
pub struct DiameterNode {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
    local_addr: Option<SocketAddr>,
}

impl DiameterNode {
    /// Starts the node; with a `listener` it also accepts peer connections.
    pub fn start(config: NodeConfig, listener: Option<TcpListener>) -> Self {
        let local_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(node::run(config, listener, rx));
        Self {
            commands,
            task,
            local_addr,
        }
    }

    /// The listening address, if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// A client handle.
    pub fn client(&self) -> DiameterClient {
        DiameterClient {
            commands: self.commands.clone(),
        }
    }

    /// Graceful shutdown (RFC 6733 §5.4): DPR with `cause` to every open peer, wait for the
    /// DPAs (or the DPA timeout), then stop.
    pub async fn shutdown_with(self, cause: DisconnectCause) {
        let (done, wait) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { cause, done })
            .is_ok()
        {
            let _ = wait.await;
        }
        let _ = self.task.await;
    }

    /// Graceful shutdown with Disconnect-Cause REBOOTING (peers may reconnect later).
    pub async fn shutdown(self) {
        self.shutdown_with(DisconnectCause::REBOOTING).await
    }

    /// Stops the node abruptly, as a crash would: no DPR, every connection dropped.
    pub fn abort(self) {
        self.task.abort();
    }
}
