//! The front desk: staff sign-in, today's schedule and live queue, calling
//! patients, checking people in by hand, pairing and removing TVs. Every
//! action is written to the audit log by the module that performs it.

pub mod auth;
pub mod http;

pub use auth::{Sessions, StaffApi, StaffPage};
