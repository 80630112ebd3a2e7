//! Chromecast for SOS Edge, with no product types: find Cast devices and
//! advertise the box on mDNS ([`discovery`], crate mdns-sd), and hold one
//! CASTV2 session that shows a URL on a TV ([`session`], crate rust_cast
//! over our own TLS transport).
//!
//! The appliance's `cast` module decides what to cast (the box's own TV
//! page with a one-time grant), remembers the chosen TVs and re-casts when
//! a session drops. A Chromecast is then only another lobby TV.

pub mod discovery;
pub mod session;

/// mDNS could not be used (no multicast interface, a socket refused).
#[derive(Debug, thiserror::Error)]
#[error("mDNS is not available: {0}")]
pub struct MdnsError(pub String);
