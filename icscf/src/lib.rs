//! I-CSCF: the entry point of the home network (3GPP TS 24.229 §5.3).
//!
//! - REGISTER (§5.3.1, [`register`]): user registration status query (UAR/UAA, TS 29.228
//!   §6.1.1), then forward to the S-CSCF the HSS names (Server-Name) or one [`selection`]
//!   picks from the configured list by Server-Capabilities; when that S-CSCF fails (no
//!   answer, 3xx, 480, 5xx, transport error) another is selected (§5.3.1.3).
//! - Other initial requests (§5.3.2, [`terminating`]): location query (LIR/LIA, TS 29.228
//!   §6.1.4), forward to the assigned S-CSCF (or one selected for an unregistered user).
//! - Cx errors become SIP answers ([`IcscfError`]).
//!
//! The procedures are the sans-IO [`Icscf`] ([`ims_node::function::Function`]); the binary
//! (`src/main.rs`) runs it with [`ims_node::runner`].
//!
//! Not implemented yet: topology hiding (THIG) — the I-CSCF never Record-Routes and adds
//! nothing to Path/Service-Route; RFC 3263 DNS resolution (next hops given by name come from
//! the static `[hosts]` table); the trusted-domain check of §5.3.1.2 (every REGISTER is
//! treated as coming from a trusted P-CSCF); HSS selection through an SLF (one HSS peer).

pub mod config;
pub mod cx;
pub mod error;
mod icscf;
pub mod identity;
pub mod register;
pub mod routing;
pub mod selection;
pub mod terminating;

pub use config::{FileConfig, Settings};
pub use error::IcscfError;
pub use icscf::Icscf;
