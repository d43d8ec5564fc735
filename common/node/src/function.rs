//! The seam between a call session control function's procedures and the runner that moves its
//! bytes.
//!
//! A P-, I- or S-CSCF is a [`Function`]: sans-IO procedures (TS 24.229 §5.2, §5.3, §5.4) that
//! react to the events of an RFC 3261 §16 [`Proxy`] and to Diameter Cx answers, and that may ask
//! for Cx requests to be sent. The runner owns the proxy, the SIP transports and the Diameter
//! client; it only moves bytes and reads clocks. Tests drive the same functions over an in-memory
//! network on virtual time.
//!
//! Destinations are [`ims_transport::Target`]s: an existing connection or flow (RFC 5626), a
//! datagram from a given socket, or a remote address reached over a transport.

use ims_sip::proxy::{Proxy, ProxyEvent};
use ims_transport::Target;
use std::time::Instant;

/// Correlates a Cx request a function asked for with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CxToken(pub u64);

/// What became of a Cx request.
#[derive(Debug, Clone)]
pub enum CxOutcome {
    /// The answer (any Result-Code or Experimental-Result: the function interprets it).
    Answer(ims_diameter::Message),
    /// No answer: no open peer for the realm (3002/3003), a timeout, or a local error. The
    /// function answers its SIP request accordingly (usually 500 or 503 with Retry-After).
    Failed {
        /// The Diameter Result-Code that describes the failure (e.g. 3002 UNABLE_TO_DELIVER).
        result_code: u32,
        /// Human-readable reason for the log.
        reason: String,
    },
}

/// Work a function hands back to the runner besides what it did on the proxy.
#[derive(Debug, Default)]
pub struct Effects {
    /// Cx requests to send; each outcome comes back through [`Function::handle_cx`].
    pub cx_requests: Vec<(CxToken, ims_diameter::Message)>,
}

impl Effects {
    /// Queues a Cx request.
    pub fn send_cx(&mut self, token: CxToken, request: ims_diameter::Message) {
        self.cx_requests.push((token, request));
    }
}

/// The procedures of one network function.
pub trait Function {
    /// Reacts to a proxy event: decide where a request goes (`proxy.forward`), answer it
    /// (`proxy.respond`), edit a response under review (`proxy.send_upstream`), etc.
    fn handle_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        event: ProxyEvent<Target>,
        effects: &mut Effects,
    );

    /// Reacts to the outcome of a Cx request asked for earlier.
    fn handle_cx(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<Target>,
        token: CxToken,
        outcome: CxOutcome,
        effects: &mut Effects,
    );

    /// Reacts to a transport event the proxy does not see (a flow opened or closed, a
    /// keep-alive). The default ignores it.
    fn handle_transport_event(
        &mut self,
        _now: Instant,
        _proxy: &mut Proxy<Target>,
        _event: &ims_transport::Event,
        _effects: &mut Effects,
    ) {
    }

    /// Runs the function's own timers (registration expiry, ...). The default has none.
    fn handle_timeout(
        &mut self,
        _now: Instant,
        _proxy: &mut Proxy<Target>,
        _effects: &mut Effects,
    ) {
    }

    /// When [`Function::handle_timeout`] wants to run next.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
