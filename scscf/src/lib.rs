//! S-CSCF (3GPP TS 24.229 §5.4).
//!
//! The registrar core (sans-IO):
//! * [`register::Registrar`] (TS 24.229 §5.4.1, TS 29.228 §6.1, TS 33.203 §6.1): IMS-AKA
//!   (AKAv1-MD5, AKAv2-MD5) and SIP Digest (MD5) authentication with MAR/MAA, AUTS
//!   resynchronisation, stale/replayed nonce handling, SAR/SAA for registration,
//!   re-registration, user and timeout de-registration, bindings with Path and RFC 5626
//!   instance/reg-id, 200 OK with Service-Route, P-Associated-URI and
//!   P-Charging-Function-Addresses, binding lookup for terminating routing and the
//!   Service-Route check for originating requests ([`auth`], [`bindings`], [`identity`],
//!   [`error`], [`config`]);
//! * [`user_data`]: a tolerant reader of the IMS subscription XML (TS 29.228 Annex D/E);
//! * [`store`]: persistence of registrations and outstanding challenges (SQLite/PostgreSQL via
//!   sqlx, or in memory), reloaded with [`register::Registrar::restore`].
//!
//! Around it, the network function and its binary: [`function`], [`settings`],
//! [`originating`], [`terminating`], [`routing`] (see their module documentation).
//!
//! The registrar does not handle RTR/PPR, reg-event (RFC 3680), iFC evaluation or
//! unregistered-user services yet.

pub mod auth;
pub mod bindings;
pub mod config;
pub mod error;
pub mod function;
pub mod identity;
pub mod originating;
pub mod register;
pub mod routing;
pub mod settings;
pub mod store;
pub mod terminating;
pub mod user_data;

pub use bindings::Binding;
pub use config::RegistrarConfig;
pub use error::RegisterError;
pub use function::Scscf;
pub use register::{Action, CxMessage, CxToken, Registrar, Registration};
pub use settings::FileConfig;
pub use store::{MemoryStore, RegistrationStore, SqlStore, StoreError, StoreOp, StoreSnapshot};
