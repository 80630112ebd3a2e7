//! What the sync loops last saw, for `/healthz` and the desk. A leaf: the
//! box's state (`Clinic`) holds one without knowing the loops.

use std::sync::{Arc, Mutex};

use serde::Serialize;

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

    pub(crate) fn get(&self) -> SyncState {
        self.0.lock().map(|s| s.1.clone()).unwrap_or_default()
    }
}
