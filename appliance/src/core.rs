//! What every part of a running box shares: the replica, the box key, the
//! practice, the lobby hub, metrics, the public URL and the shutdown signal.
//!
//! This module imports only the store, the practice, secrets, metrics and
//! the hub, none of which know a service: a function that takes `&Core`
//! touches those and nothing else. The services (voice, voice in, Cast,
//! pairings, staff sessions, sync) keep their own state in
//! [`crate::clinic::Clinic`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::display::hub::{Hub, PracticeView, QueueEntry};
use crate::metrics::Metrics;
use crate::practice::{Practice, VerticalError};
use crate::secrets::{BoxKey, SecretError};
use crate::store::{self, CheckinStatus, Store, StoreError};
use crate::web::https::HttpsStatus;

/// The replica's file in the box's data directory.
pub fn replica_path(data_dir: &Path) -> PathBuf {
    data_dir.join("sos-edge.db")
}

/// The box key's file (32 random bytes, mode 0600) in the data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("box.key")
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Vertical(#[from] VerticalError),
    #[error(
        "this box has no practice configured yet: run `sos-appliance demo`, or give a [practice] section in the config file"
    )]
    NoPractice,
}

pub struct Core {
    pub store: Store,
    pub key: BoxKey,
    practice: RwLock<Arc<Practice>>,
    pub hub: Hub,
    pub metrics: Metrics,
    /// Base URL printed in QR codes and pairing links, e.g.
    /// `http://bright-smile-sos.local:8080`; the HTTPS name once the box
    /// serves HTTPS (see [`Core::public_url`]).
    public_url: RwLock<String>,
    /// The box itself serves HTTPS now: plain HTTP only redirects.
    serving_https: std::sync::atomic::AtomicBool,
    pub shutdown: watch::Receiver<bool>,
    pub started_at: std::time::Instant,
    /// Whether phones reach the box over HTTPS, and if not, why.
    https_status: RwLock<HttpsStatus>,
}

impl Core {
    /// Opens the box's state from `data_dir`: the replica must already hold
    /// a practice.
    pub fn open(
        data_dir: &Path,
        public_url: String,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Core, CoreError> {
        let store = Store::open(&replica_path(data_dir))?;
        let key = BoxKey::load_or_create(&key_path(data_dir))?;
        let config = store
            .read_blocking(store::load_tenant)?
            .ok_or(CoreError::NoPractice)?;
        let practice = Practice::new(config)?;
        let queue = lobby_queue(&store, &practice)?;
        let hub = Hub::new(PracticeView::of(&practice), queue);
        Ok(Core {
            store,
            key,
            practice: RwLock::new(Arc::new(practice)),
            hub,
            metrics: Metrics::new(),
            https_status: RwLock::new(HttpsStatus::assumed(&public_url)),
            public_url: RwLock::new(public_url),
            serving_https: Default::default(),
            shutdown,
            started_at: std::time::Instant::now(),
        })
    }

    pub fn practice(&self) -> Arc<Practice> {
        self.practice
            .read()
            .map(|p| Arc::clone(&p))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Where phones, TVs and the desk reach the box: what QR codes,
    /// pairing links and redirects carry.
    pub fn public_url(&self) -> String {
        read(&self.public_url)
    }

    /// Phones and the desk reach the box over HTTPS (its own certificate,
    /// or a TLS proxy in front): cookies are `Secure`, HSTS is sent.
    pub fn https(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    /// The box serves HTTPS itself, at `public_url`; plain HTTP redirects
    /// there from now on.
    pub fn serve_https_at(&self, public_url: String, status: HttpsStatus) {
        write(&self.public_url, public_url);
        self.set_https_status(status);
        self.serving_https
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn serving_https(&self) -> bool {
        self.serving_https.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn https_status(&self) -> HttpsStatus {
        read(&self.https_status)
    }

    pub fn set_https_status(&self, status: HttpsStatus) {
        write(&self.https_status, status);
    }

    pub fn tenant_id(&self) -> String {
        self.practice().tenant_id().to_string()
    }

    /// Today at the practice (in its time zone): schedule and arrivals.
    pub async fn today(&self) -> Result<store::Day, StoreError> {
        let practice = self.practice();
        let (t, d) = (practice.tenant_id().to_string(), practice.today());
        self.store.read(move |c| store::day(c, &t, &d)).await
    }

    /// Replaces the practice config (from the cloud, or an operator) and
    /// pushes it to every TV without a restart.
    pub async fn reload_practice(&self) -> Result<(), CoreError> {
        let config = self
            .store
            .read(store::load_tenant)
            .await?
            .ok_or(CoreError::NoPractice)?;
        let practice = Practice::new(config)?;
        let store = self.store.clone();
        let p2 = practice.clone();
        let queue = tokio::task::spawn_blocking(move || lobby_queue(&store, &p2))
            .await
            .map_err(|_| StoreError::WriterGone)??;
        let view = PracticeView::of(&practice);
        // Swapped before anyone is told: a listener (the voice applying
        // the owner's volume) reads `practice()` on the event and must not
        // get the old one.
        if let Ok(mut slot) = self.practice.write() {
            *slot = Arc::new(practice);
        }
        self.hub.practice_changed(view, queue);
        Ok(())
    }
}

/// A lock's value, poisoned or not (its writers cannot leave it torn).
fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read()
        .map(|v| v.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut v) => *v = value,
        Err(p) => *p.into_inner() = value,
    }
}

/// Today's waiting and called people as the lobby may see them.
pub fn lobby_queue(store: &Store, practice: &Practice) -> Result<Vec<QueueEntry>, StoreError> {
    let tenant = practice.tenant_id().to_string();
    let today = practice.today();
    let rows = store.read_blocking(move |c| store::checkins_for_day(c, &tenant, &today))?;
    Ok(rows
        .into_iter()
        .filter(|r| matches!(r.status, CheckinStatus::Waiting | CheckinStatus::Called))
        .map(|r| QueueEntry::of(practice, &r))
        .collect())
}
