//! A box in this process (the appliance crate's `Clinic` and its sync
//! task) against the cloud under test.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use appliance::checkin::{self, Outcome, PatientDetails};
use appliance::clinic::Clinic;
use appliance::store::Method;
use appliance::sync::{self, Credential, SyncOptions};
use tokio::sync::watch;

/// Sync timings short enough for tests.
pub fn fast() -> SyncOptions {
    SyncOptions {
        batch_size: 100,
        idle_poll: Duration::from_millis(50),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        revoked_retry: Duration::from_millis(500),
        report_every: Duration::from_millis(300),
        ..Default::default()
    }
}

pub struct Box_ {
    pub clinic: Arc<Clinic>,
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

pub fn start_box(dir: &Path) -> Box_ {
    let (stop, stop_rx) = watch::channel(false);
    let clinic = Clinic::open(
        dir,
        "http://127.0.0.1:9".into(),
        appliance::web::limits::RateLimits::new(10_000),
        stop_rx,
    )
    .unwrap();
    let cred = Credential::load(dir).unwrap().expect("enrolled");
    let task = sync::spawn_with(Arc::clone(&clinic), cred, fast()).unwrap();
    Box_ { clinic, stop, task }
}

impl Box_ {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.clinic.store.close();
    }
}

/// A walk-in checks in at the desk.
pub async fn walk_in(clinic: &Clinic, first: &str) {
    let out = checkin::by_patient(
        clinic,
        PatientDetails {
            first_name: first.into(),
            last_name: "Walker".into(),
            date_of_birth: "1990-01-01".into(),
            walk_in: true,
        },
        Method::Desk,
        "test".into(),
    )
    .await
    .unwrap();
    assert!(matches!(out, Outcome::CheckedIn { .. }), "{out:?}");
}

/// A box of `tenant` enrolled (as "front desk") and syncing, once it holds
/// the practice named `practice`. Keep the directory while the box runs.
pub async fn enrolled_box(
    pool: &deadpool_postgres::Pool,
    cloud_url: &str,
    tenant: &str,
    practice: &str,
) -> (tempfile::TempDir, Box_) {
    let dir = tempfile::tempdir().unwrap();
    let tok = super::token(pool, tenant).await;
    sync::enroll_box(dir.path(), cloud_url, &tok, "front desk")
        .await
        .unwrap();
    let the_box = start_box(dir.path());
    let core = Arc::clone(&the_box.clinic.core);
    super::eventually(Duration::from_secs(20), "the box has the practice", || {
        let core = Arc::clone(&core);
        async move { core.practice().config.name == practice }
    })
    .await;
    (dir, the_box)
}
