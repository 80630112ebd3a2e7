//! The box <-> cloud sync protocol, shared by the box (`sos-appliance`) and
//! the cloud (`sos-cloud`, in `cloud-sync/server`).
//!
//! * [`wire`]: the JSON messages and the protocol version.
//! * [`events`]: every event the box sends, typed (the privacy boundary).
//! * [`plans`]: starter / pro / elite as data, and what a plan in a status
//!   allows ([`plans::Entitlements`], sent to the box in its config).
//! * [`verticals`]: dental, vet, legal as data (`assets/verticals/`).
//! * [`auth`]: device keys and request signing (Ed25519 over method, path,
//!   timestamp, nonce and body hash).
//! * `client` (feature `client`): a small HTTP client for the three calls.
//!
//! The wire format is documented in `docs/sync-protocol.md`.

#![forbid(unsafe_code)]

pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod demo;
pub mod events;
pub mod plans;
pub mod practice;
pub mod verticals;
pub mod wire;

pub use auth::{AuthError, DeviceKey, SignedHeaders};
pub use wire::PROTOCOL_VERSION;
