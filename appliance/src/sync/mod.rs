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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

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

/// Live state of one running engine, shared with [`status`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub state: SyncState,
}

type Registry = Mutex<HashMap<PathBuf, Arc<Mutex<Shared>>>>;

/// One entry per replica (keyed by its path), so several boxes can run in
/// one process (tests) and `status` needs nothing but the clinic.
static RUNNING: LazyLock<Registry> = LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn register(store_path: &Path) -> Arc<Mutex<Shared>> {
    let mut map = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    let shared = Arc::new(Mutex::new(Shared::default()));
    map.insert(store_path.to_path_buf(), Arc::clone(&shared));
    shared
}

pub(crate) fn unregister(store_path: &Path, shared: &Arc<Mutex<Shared>>) {
    let mut map = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    if map.get(store_path).is_some_and(|s| Arc::ptr_eq(s, shared)) {
        map.remove(store_path);
    }
}

/// The box's sync state: online/offline, last success, events waiting.
/// Cheap (one COUNT on a reader); call it from `/healthz` and the desk page.
pub async fn status(clinic: &Clinic) -> SyncState {
    let shared = {
        let map = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        map.get(clinic.store.path()).cloned()
    };
    let mut state = match &shared {
        Some(s) => s.lock().map(|s| s.state.clone()).unwrap_or_default(),
        None => SyncState::default(),
    };
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
