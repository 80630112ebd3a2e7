//! Box <-> cloud sync (protocol: `docs/sync-protocol.md`).
//!
//! * [`credential`]: enrollment and the device key (`device.key`, 0600).
//! * [`apply`]: config from the cloud into the replica, in one transaction.
//! * [`engine`]: the running loops: config long-poll down, outbox batches
//!   up with retries, exponential backoff and jitter.
//! * [`provision`]: `sos-appliance enroll`, and enrollment at first start
//!   from a provisioning file written by the flashing tool.
//!
//! * [`certificate`]: the box's own HTTPS certificate, asked of the cloud
//!   and renewed.
//!
//! [`status`] reports the sync state for `/healthz` and the desk page;
//! [`report`] tells the cloud how the box is, for the owner's boxes page.

pub mod apply;
pub mod certificate;
pub mod credential;
pub mod engine;
pub mod provision;
pub mod report;
pub mod status;

use std::path::Path;

use crate::clinic::Clinic;
use crate::store::{self, StoreError};

pub use credential::{CLOUD_FILE, Credential, KEY_FILE, enroll};
pub use engine::{SyncOptions, spawn, spawn_with};
pub use provision::{EnrollReport, enroll_box, prepare_at_start};
pub use status::{SyncState, SyncStatus};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] cloud_sync::client::ClientError),
    #[error(transparent)]
    Auth(#[from] cloud_sync::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Credential(String),
    #[error("unexpected answer from the cloud: {0}")]
    Protocol(String),
}

impl SyncError {
    fn io(path: &Path, source: std::io::Error) -> SyncError {
        SyncError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The box's sync state: online/offline, last success, events waiting.
/// Cheap (one COUNT on a reader); call it from `/healthz` and the desk page.
pub async fn status(clinic: &Clinic) -> SyncState {
    let mut state = clinic.sync.get();
    let tenant = clinic.tenant_id();
    match clinic
        .store
        .read(move |c| store::count_pending_events(c, &tenant))
        .await
    {
        Ok(n) => state.events_waiting = n,
        Err(e) => tracing::warn!(error = %e, "cannot count waiting events"),
    }
    state
}
