//! Diameter peer connections (RFC 6733 §5, RFC 3539), sans-IO.
//!
//! * [`machine`]: the RFC 6733 §5.6 peer state machine ([`Peer`]) with the §5.6.4 election,
//!   CER/CEA, DWR/DWA, DPR/DPA and answer correlation by Hop-by-Hop Identifier.
//! * [`watchdog`]: the RFC 3539 §3.4 transport failure detection (OKAY/SUSPECT/DOWN/REOPEN).
//! * [`capabilities`]: what CER/CEA advertise and the §5.3 check (3010, 5010).
//! * [`wire`]: building and reading the base messages.
//! * [`routing`]: the realm-based routing table (§2.7, §6.1.6) choosing among peers.
//! * [`backoff`], [`ids`]: reconnect timing, identifier generation and the seeded randomness.
//!
//! Everything here takes `now` and messages in and hands bytes and events out, in the style of
//! quinn-proto: `handle_*`, `handle_timeout`, `poll_timeout`, `poll_transmit`, `poll_event`.
//! The tokio driver in [`crate::driver`] moves the bytes.

pub mod backoff;
pub mod capabilities;
pub mod ids;
pub mod machine;
pub mod routing;
pub mod watchdog;
pub mod wire;

pub use capabilities::{
    check_capabilities, common_applications, node_capabilities, with_cx, Capabilities,
    CapabilitiesError,
};
pub use machine::{
    election_won, ConnectionId, Peer, PeerConfig, PeerError, PeerEvent, PeerState, RequestFailure,
    RequestToken, Transmit, WatchdogCounts,
};
pub use routing::{Route, RouteError, RoutingTable};
pub use watchdog::{Watchdog, WatchdogState};
pub use wire::DisconnectCause;
