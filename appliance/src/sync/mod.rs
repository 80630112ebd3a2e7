//! Box <-> cloud sync (protocol: `docs/sync-protocol.md`).
//!
//! * [`credential`]: enrollment and the device key (`device.key`, 0600).
//! * [`apply`]: config from the cloud into the replica, in one transaction.
//! * [`engine`]: the running loops: config long-poll down, outbox batches
//!   up with retries, exponential backoff and jitter.
//! * [`provision`]: `sos-appliance enroll`, and enrollment at first start
//!   from a provisioning file written by the flashing tool.
//!
//! [`status`] reports the sync state for `/healthz` and the desk page.

pub mod apply;
pub mod credential;
pub mod engine;
pub mod provision;

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::clinic::Clinic;
use crate::store::{self, StoreError};

pub use credential::{Credential, enroll};
pub use engine::{SyncOptions, spawn, spawn_with};
pub use provision::{EnrollReport, enroll_box, prepare_at_start};

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

/// Sync state as `/healthz` and the front desk show it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncState {
    /// The box has a cloud credential and the sync loops run.
    pub enrolled: bool,
    /// The last call to the cloud succeeded.
    pub online: bool,
    /// The cloud revoked this box; it needs a new enrollment token.
    pub revoked: bool,
    /// Unix ms of the last successful exchange (either direction).
    pub last_success_at: Option<i64>,
    /// Cloud config version applied to the replica.
    pub config_version: Option<i64>,
    /// Outbox events not yet acknowledged by the cloud.
    pub events_waiting: i64,
    /// Events acknowledged since the loops started.
    pub events_sent: u64,
    /// Plain-words reason of the last failure, cleared on success.
    pub last_error: Option<String>,
}

/// The sync loops' view of the cloud, shared with [`status`]. One per
/// running box (in [`Clinic`]); a new engine takes it over from an old one
/// that is still stopping (the generation), so the old one's stop does not
/// wipe what the new one reports.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus(Arc<Mutex<(u64, SyncState)>>);

impl SyncStatus {
    /// A starting engine: returns its generation.
    pub(crate) fn start(&self) -> u64 {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.0 += 1;
        s.1 = SyncState {
            enrolled: true,
            ..SyncState::default()
        };
        s.0
    }

    /// An engine stopped: the box shows as not syncing, unless a newer
    /// engine has started meanwhile.
    pub(crate) fn stop(&self, generation: u64) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 == generation {
            s.1 = SyncState::default();
        }
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut SyncState)) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s.1);
    }

    fn get(&self) -> SyncState {
        self.0.lock().map(|s| s.1.clone()).unwrap_or_default()
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
