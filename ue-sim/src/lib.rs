//! UE simulator: a sans-IO IMS UE ([`Ue`]) and a tokio driver ([`runner::UeRunner`]) that runs
//! one or many of them over one `ims-transport` endpoint.
//!
//! The UE registers per TS 24.229 §5.1.1 (IMS-AKA with Digest AKAv1/AKAv2-MD5 via `ims-aka`,
//! or SIP Digest MD5), refreshes and de-registers, and places and answers calls as an RFC 3261
//! UA core (§12 dialogs, §13 INVITE, §9 CANCEL, §15 BYE) on the `ims-sip` transaction layer.
//!
//! Module map:
//! - [`config`]: identities, credentials, P-CSCF, contact, outbound.
//! - [`ue`]: the sans-IO core and its poll API; `originating.rs` / `terminating.rs` hold the
//!   call procedures, [`register`] the registration, [`auth`] the Digest client,
//!   [`dialog`] the dialog state, [`sdp`] the minimal offer/answer.
//! - [`runner`]: the tokio driver and the async [`runner::UeHandle`]; [`flow`] its RFC 5626
//!   CRLF keep-alives on TCP flows.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use ue_sim::{Credentials, Ue, UeConfig};
//!
//! let config = UeConfig::new(
//!     "alice@ims.example",
//!     "sip:alice@ims.example".parse()?,
//!     "ims.example",
//!     Credentials::Md5 { password: "secret".into() },
//!     "192.0.2.1:5060".parse()?,  // P-CSCF
//!     "192.0.2.10:5060".parse()?, // our address
//! );
//! let mut ue = Ue::new(config)?;
//! let now = Instant::now();
//! ue.register(now)?;
//! let register = ue.poll_transmit().expect("REGISTER");
//! assert_eq!(register.destination, "192.0.2.1:5060".parse()?);
//! assert!(register.message.headers().get("Authorization").is_some());
//! // Feed answers with `ue.handle_message`, timers with `ue.handle_timeout(ue.poll_timeout())`,
//! // read outcomes with `ue.poll_event()`.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Not implemented (known gaps): sec-agree and IPsec (TS 33.203), SigComp, RFC 5626 STUN
//! keep-alives on UDP and Flow-Timer handling, reg-event subscription, GRUU, re-INVITE/UPDATE
//! (answered 488/405), PRACK (100rel), preconditions, authentication of requests other than
//! REGISTER (a 401/407 to INVITE is reported as CallFailed), real RTP media.

pub mod auth;
pub mod call;
pub mod config;
pub mod dialog;
pub mod error;
pub mod event;
pub mod flow;
mod ids;
mod originating;
pub mod register;
pub mod runner;
pub mod sdp;
mod terminating;
pub mod ue;

pub use call::CallState;
pub use config::{Credentials, OperatorKey, SipTransport, UeConfig};
pub use error::UeError;
pub use event::{CallHandle, EndReason, UeEvent};
pub use register::RegistrationState;
pub use ue::{Transmit, Ue};
