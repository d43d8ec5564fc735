//! P-CSCF (3GPP TS 24.229 §5.2): the first hop of the UE, as a sans-IO
//! [`ims_node::function::Function`] on top of the RFC 3261 §16 proxy core.
//!
//! - [`function`]: [`Pcscf`], the procedures wired to proxy and transport events.
//! - [`register`]: registration (§5.2.2): Path, P-Visited-Network-ID, P-Charging-Vector, the
//!   AKA keys of the 401, the registration from the 200.
//! - [`originating`]: requests from a registered UE (§5.2.6.3): asserted identity,
//!   Service-Route enforcement, Record-Route.
//! - [`terminating`]: requests for a UE (§5.2.6.4), over its flow.
//! - [`registration_cache`]: the registrations, by source and contact, with expiry.
//! - [`routing`]: next hops into the core (a host table; RFC 3263 DNS later).
//! - [`config`]: the TOML configuration and its validation.
//! - [`error`]: why a request is refused, and the SIP answer.
//! - [`outbound`]: the RFC 5626 edge-proxy building blocks: flow tokens and the flow table.

pub mod config;
pub mod error;
pub mod file_config;
pub mod function;
pub mod originating;
pub mod outbound;
pub mod register;
pub mod registration_cache;
pub mod routing;
pub mod terminating;

pub use config::{PcscfConfig, Settings};
pub use error::PcscfError;
pub use function::Pcscf;
pub use registration_cache::{Registration, RegistrationCache, SecurityKeys};
