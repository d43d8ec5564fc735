//! The sans-IO stateful proxy core of RFC 3261 §16, the base of the P-, I- and S-CSCF.
//!
//! [`Proxy`] is the transaction user (§16.2 "stateful proxy") on top of a
//! [`TransactionLayer`](crate::transaction::TransactionLayer) it owns. Like the layer it
//! never reads a clock or touches a socket: every call takes `now`; what to send is pulled
//! with [`Proxy::poll_transmit`], what the application must decide with
//! [`Proxy::poll_event`], and [`Proxy::handle_timeout`] is called at
//! [`Proxy::poll_timeout`]. Branch values come from an injected [`TokenSource`].
//!
//! The division of work with the application (the CSCF):
//!
//! | RFC 3261 | done by |
//! |----------|---------|
//! | §16.3 validation (steps 1–5) | [`validate`]; failures answered by the proxy |
//! | §16.4 route preprocessing | [`route::preprocess`]; the removed Route is reported |
//! | §16.5 target determination | the application ([`ProxyEvent::Request`] → [`Proxy::forward`] / [`Proxy::respond`]) |
//! | §16.6 forwarding, forking, Timer C | [`Proxy::forward`], [`route::build_copy`], [`Forking`] |
//! | §16.6 steps 6–7 next hop (RFC 3263) | the application: [`Target::destination`], see [`Target::next_hop_uri`] |
//! | §16.7 response processing, best response | the proxy, [`response`]; hooks [`ProxyEvent::BranchResponse`], [`ForwardOptions::hold_final`], [`ForwardOptions::review_responses`] |
//! | §16.8 Timer C, §16.9 transport errors | the proxy (CANCEL or synthesized 408 / 503) |
//! | §16.10 CANCEL | the proxy: 200 to the CANCEL, pending branches cancelled; no match → 481 |
//! | §16.11 stateless forwarding | ACK for 2xx: [`ProxyEvent::Ack`] → [`Proxy::forward_stateless`]; stray responses: [`ProxyEvent::StrayResponse`] → [`Proxy::send_stateless`] |
//!
//! Not done: recursion on 3xx Contacts (§16.7 step 4; the application can use
//! `hold_final` and forward again), `maddr` in §16.4, RFC 5658 double Record-Route, and
//! stateless forwarding of a CANCEL that matches no transaction (it is answered 481, which
//! §16.10 also allows a stateful proxy).

pub mod branch;
mod config;
mod context;
mod core;
mod error;
pub mod response;
pub mod route;
mod target;
pub mod validate;

pub use self::core::Proxy;
pub use branch::{CounterTokens, TokenSource};
pub use config::{IsMe, LocalAddress, ProxyConfig};
pub use error::ProxyError;
pub use target::{Forking, ForwardOptions, Target};

use crate::header::NameAddr;
use crate::{Message, Uri};

/// Names one response context (§16.2: the state a stateful proxy keeps per server
/// transaction); never reused by a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContextId(pub u64);

/// Names one branch (one forwarded copy, one client transaction) of a response context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BranchId {
    pub context: ContextId,
    /// The branch's position among its context's branches, in the order they started.
    pub index: usize,
}

/// What the proxy tells the application.
#[derive(Debug, Clone)]
pub enum ProxyEvent<A> {
    /// A request passed §16.3 and §16.4 and waits for the application's decision
    /// (§16.5): [`Proxy::forward`] to targets, or [`Proxy::respond`] (e.g. a registrar, an
    /// OPTIONS with Max-Forwards 0, a 401 challenge).
    Request {
        context: ContextId,
        /// The request after §16.4 preprocessing (also kept by the proxy, see
        /// [`Proxy::request_mut`]).
        request: Message,
        source: A,
        /// The Route value naming this proxy that §16.4 removed, with its parameters.
        removed_route: Option<NameAddr>,
    },
    /// An ACK for a 2xx (or one that matched no INVITE transaction) after §16.3 and §16.4:
    /// forward it with [`Proxy::forward_stateless`] (§16.11; no transaction) or drop it.
    Ack {
        request: Message,
        source: A,
        removed_route: Option<NameAddr>,
    },
    /// A branch ended with a final response — received, or synthesized: 408 on Timer B/F/C
    /// (§16.8) and 503 on a transport error (§16.9). Our Via is already removed. The
    /// application may react by calling [`Proxy::forward`] again while the context waits
    /// (e.g. another flow after a 430, RFC 5626 §5.3; another S-CSCF for an I-CSCF).
    BranchResponse {
        branch: BranchId,
        target: Uri,
        response: Message,
    },
    /// Every branch failed and no target is left, with [`ForwardOptions::hold_final`] set:
    /// the proxy waits for [`Proxy::forward`], [`Proxy::respond`] or [`Proxy::send_best`].
    BranchesExhausted { context: ContextId, best: Message },
    /// With [`ForwardOptions::review_responses`]: a response due upstream, to be edited
    /// and passed to [`Proxy::send_upstream`].
    Response {
        context: ContextId,
        response: Message,
    },
    /// The client CANCELled the request of `context` (§16.10); the proxy answered the
    /// CANCEL and cancels the pending branches itself.
    Cancelled { context: ContextId },
    /// A response that matched no transaction (§16.11, e.g. a 2xx retransmission after the
    /// transactions ended), with this proxy's Via removed: send it towards the (new) top
    /// Via (§18.2.2) with [`Proxy::send_stateless`].
    StrayResponse { response: Message },
    /// The context's transactions all ended and its state was released.
    Finished { context: ContextId },
}
