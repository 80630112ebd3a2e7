//! SOS Edge, the per-clinic box.
//!
//! A check-in enters through [`checkin`] (the patient's phone or the desk)
//! or through [`listen`] (spoken to the box), is stored durably in [`store`] together with its audit
//! entry and its outbox events for the cloud, and reaches the lobby TVs
//! through [`display`], the lobby speakers through [`voice`], the front desk
//! through [`desk`], the patient's own phone through the status page in
//! [`checkin::http`], and the cloud through [`sync`]. [`web`] wires the
//! routes; [`clinic`] holds one running box's state.

pub mod cast;
pub mod checkin;
pub mod clinic;
pub mod config;
pub mod core;
pub mod demo;
pub mod desk;
pub mod display;
pub mod import;
#[cfg(feature = "listen")]
pub mod listen;
pub mod metrics;
pub mod practice;
pub mod qr;
pub mod schedule;
pub mod secrets;
pub mod service;
pub mod sync;
pub mod voice;
pub mod web;

// Shared by voice out and voice in; they live in the speech crate.
pub use sos_speech::{audio, memory};
// The replica (crate sos-store).
pub use sos_store as store;
