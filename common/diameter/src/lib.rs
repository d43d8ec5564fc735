//! Diameter base protocol (RFC 6733) codec, dictionary, typed Cx/Dx commands (TS 29.229) and the
//! peer state machine.
//!
//! Layers, bottom up:
//! - [`header`], [`avp`], [`codec`], [`message`]: the wire format (RFC 6733 §3, §4), pure and
//!   panic-free on any input; errors are [`DecodeError`]s that map to the Result-Code and
//!   Failed-AVP of the answer (§7).
//! - [`dictionary`]: base and Cx/Dx AVP and command definitions, and [`dictionary::validate`].
//! - [`base`] (CER/CEA, DWR/DWA, DPR/DPA, RFC 6733 §5) and [`cx`] (TS 29.229 §6.1): typed
//!   commands with `to_message` / `from_message`.

pub mod avp;
pub mod base;
pub mod codec;
mod command;
pub mod cx;
pub mod dictionary;
pub mod driver;
pub mod error;
pub mod header;
pub mod message;
pub mod peer;
pub mod result;

pub use avp::{code, Address, Avp, AvpCode, AvpFlags, DiameterTime, DiameterUri, VendorId};
pub use command::Command;
pub use dictionary::AvpType;
pub use error::DecodeError;
pub use header::{ApplicationId, CommandCode, CommandFlags, Header};
pub use message::{error_answer, message_length, Message};
pub use result::{ExperimentalResultCode, ResultCode};
