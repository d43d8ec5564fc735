//! The edge proxy's table of live flows (RFC 5626 §5.2, §5.3), sans-IO.
//!
//! One entry per flow: the 5-tuple (transport, local, remote), the random nonce drawn when the
//! flow was created, and an opaque handle `H` to the task that owns the flow (in the tokio layer,
//! e.g. a connection handle or a channel sender). A token resolves only to the live flow whose
//! nonce it carries. This is the guard for EPSIP problem (a): when a UA's connection closes and a
//! different client later connects from the same IP address and port, the new flow has a new
//! nonce, so requests routed by the old token get 430 (Flow Failed) instead of reaching the
//! stranger.

use std::collections::HashMap;
use std::net::SocketAddr;

use ims_sip::StatusCode;
use rand::RngCore;

use super::flow_token::{FlowId, FlowTokenError, FlowTokenKey, FlowTransport};

/// Why [`FlowTable::lookup`] found no flow for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowLookupError {
    /// The token is not one we issued (tampered, garbage, other key).
    #[error(transparent)]
    Token(#[from] FlowTokenError),
    /// The token is authentic, but its flow has ended (or was replaced by a newer flow on the
    /// same addresses and ports).
    #[error("flow {} {} -> {} has ended", .0.transport_name(), .0.local, .0.remote)]
    FlowFailed(FlowId),
}

impl FlowLookupError {
    /// The SIP answer for a request routed by this token (RFC 5626 §5.3): 403 (Forbidden) for a
    /// tampered token, 430 (Flow Failed) when the flow no longer exists.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Token(e) => e.status_code(),
            Self::FlowFailed(_) => StatusCode::FLOW_FAILED,
        }
    }
}

impl FlowId {
    fn transport_name(&self) -> &'static str {
        match self.transport {
            FlowTransport::Udp => "UDP",
            FlowTransport::Tcp => "TCP",
            FlowTransport::Tls => "TLS",
        }
    }

    fn five_tuple(&self) -> FiveTuple {
        FiveTuple {
            transport: self.transport,
            local: self.local,
            remote: self.remote,
        }
    }
}

/// The addresses of a flow without its nonce: the table key, since at most one flow can be live
/// on a given 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FiveTuple {
    transport: FlowTransport,
    local: SocketAddr,
    remote: SocketAddr,
}

#[derive(Debug)]
struct Entry<H> {
    nonce: u64,
    handle: H,
}

/// What [`FlowTable::insert`] did.
#[derive(Debug)]
pub struct Inserted<H> {
    /// The new flow.
    pub flow: FlowId,
    /// Its token, ready for the user part of a Path or Record-Route URI.
    pub token: String,
    /// The handle of a flow that was still registered on the same 5-tuple and is now replaced
    /// (its task should be told to stop; its token no longer resolves).
    pub replaced: Option<H>,
}

/// Live flows by 5-tuple, with the key that signs their tokens.
#[derive(Debug)]
pub struct FlowTable<H> {
    key: FlowTokenKey,
    flows: HashMap<FiveTuple, Entry<H>>,
}

impl<H> FlowTable<H> {
    /// An empty table whose tokens are signed with `key`.
    pub fn new(key: FlowTokenKey) -> Self {
        Self {
            key,
            flows: HashMap::new(),
        }
    }

    /// The signing key.
    pub fn key(&self) -> &FlowTokenKey {
        &self.key
    }

    /// Records a new flow, drawing its nonce from `rng`. A flow still registered on the same
    /// 5-tuple is replaced (a TCP peer can reconnect from the same port before we noticed the
    /// old connection die; a UDP 5-tuple is re-created after its keep-alives failed); the new
    /// nonce is guaranteed to differ from the replaced one, so old tokens stop resolving.
    pub fn insert<R: RngCore + ?Sized>(
        &mut self,
        rng: &mut R,
        transport: FlowTransport,
        local: SocketAddr,
        remote: SocketAddr,
        handle: H,
    ) -> Inserted<H> {
        let key = FiveTuple {
            transport,
            local,
            remote,
        };
        let previous_nonce = self.flows.get(&key).map(|e| e.nonce);
        let mut nonce = rng.next_u64();
        while Some(nonce) == previous_nonce {
            nonce = rng.next_u64();
        }
        let replaced = self
            .flows
            .insert(key, Entry { nonce, handle })
            .map(|e| e.handle);
        let flow = FlowId {
            transport,
            local,
            remote,
            nonce,
        };
        Inserted {
            token: self.key.encode(&flow),
            flow,
            replaced,
        }
    }

    /// Forgets a flow that ended, returning its handle. Does nothing if a newer flow has taken
    /// the 5-tuple (different nonce): a late "closed" notice from an old task must not remove
    /// its successor.
    pub fn remove(&mut self, flow: &FlowId) -> Option<H> {
        let key = flow.five_tuple();
        if self.flows.get(&key)?.nonce != flow.nonce {
            return None;
        }
        self.flows.remove(&key).map(|e| e.handle)
    }

    /// The handle of `flow` if it is still the live flow on its 5-tuple.
    pub fn get(&self, flow: &FlowId) -> Option<&H> {
        self.flows
            .get(&flow.five_tuple())
            .filter(|e| e.nonce == flow.nonce)
            .map(|e| &e.handle)
    }

    /// The live flow on a 5-tuple: how an incoming message learns which flow it arrived on.
    pub fn flow_for(
        &self,
        transport: FlowTransport,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<FlowId> {
        let key = FiveTuple {
            transport,
            local,
            remote,
        };
        self.flows.get(&key).map(|e| FlowId {
            transport,
            local,
            remote,
            nonce: e.nonce,
        })
    }

    /// The token for a flow (whether or not it is live).
    pub fn token(&self, flow: &FlowId) -> String {
        self.key.encode(flow)
    }

    /// Resolves a token from a Route or Via to the live flow it names (RFC 5626 §5.3): the token
    /// must verify under our key and its nonce must match the flow now on that 5-tuple.
    pub fn lookup(&self, token: &str) -> Result<(FlowId, &H), FlowLookupError> {
        let flow = self.key.decode(token)?;
        self.get(&flow)
            .map(|h| (flow, h))
            .ok_or(FlowLookupError::FlowFailed(flow))
    }

    /// The number of live flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether no flow is live.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}
