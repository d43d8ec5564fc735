//! The P-CSCF as an RFC 5626 (SIP Outbound) edge proxy: the sans-IO pieces that name flows.
//!
//! Each flow (a TCP or TLS connection, or a UDP 5-tuple) is owned by one task; a flow token
//! (RFC 5626 §5.2) names it in the Path and Record-Route the P-CSCF inserts, e.g.
//! `sip:TOKEN@pcscf.example;lr;ob`, and in the P-CSCF's own Via so responses follow the flow
//! rather than the IP address.
//!
//! - [`flow_token`]: [`FlowTokenKey`] encodes a [`FlowId`] into an HMAC-SHA1-80 protected token
//!   and decodes it back, refusing anything forged or malformed.
//! - [`flow_table`]: [`FlowTable`] maps live flows to the handle of their owning task and
//!   resolves a token only while that very flow lives, so a request for a flow that ended never
//!   reaches a new client that reuses the address and port (the EPSIP "problem (a)" guard).
//! - `base32`: the unreserved-character encoding the token uses in a SIP URI user part.

mod base32;
pub mod flow_table;
pub mod flow_token;

pub use flow_table::{FlowLookupError, FlowTable, Inserted};
pub use flow_token::{FlowId, FlowTokenError, FlowTokenKey, FlowTransport};
