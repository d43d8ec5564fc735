//! HSS simulator: a Diameter Cx server (TS 29.228 procedures, TS 29.229 messages) with a
//! subscriber store (sqlx: SQLite or PostgreSQL), a seed file and a REST provisioning API.
//!
//! * [`subscriber`]: the subscription model (IMPI, IMPUs in service profiles = implicit
//!   registration sets, K with OP or OPc, AMF, SQN, schemes, iFCs);
//! * [`store`]: persistence, migrations, registration state and S-CSCF assignment per IMPU;
//! * [`user_data`]: the IMS subscription XML of TS 29.228 Annex D/E;
//! * [`cx`]: the UAR, MAR, SAR and LIR procedures as a socket-free core ([`cx::Hss`]);
//! * [`wire`]: the Diameter side of Cx ([`wire::CxServer::handle`]: request `Message` in,
//!   answer `Message` out) and the RTR/PPR requests;
//! * [`server`]: the tokio glue (the diameter crate's node) and HSS-initiated RTR/PPR;
//! * [`rest`], [`openapi`]: the axum provisioning API and its OpenAPI 3 document;
//! * [`config`], [`seed`]: the configuration and seed files.
//!
//! Deliberately left out (answered as noted, never silently wrong):
//! * a public identity shared by several private identities (the store refuses it, 409);
//! * wildcarded PSIs, emergency registration (UAR-Flags is ignored), Charging-Information,
//!   Associated-Identities, S-CSCF restoration;
//! * Server-Assignment-Types AAA_USER_DATA_REQUEST, PGW_UPDATE, RESTORATION (answered
//!   DIAMETER_ERROR_IN_ASSIGNMENT_TYPE).

pub mod app;
pub mod config;
pub mod cx;
pub mod openapi;
pub mod rest;
pub mod seed;
pub mod server;
pub mod store;
pub mod subscriber;
pub mod user_data;
pub mod wire;
