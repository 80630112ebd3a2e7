//! One running box: the shared [`Core`] and the state each service keeps
//! (TV pairings, staff sessions, rate limits, Cast, the voice, voice in,
//! the TVs' speaker clips, sync status). HTTP handlers receive it as state.
//!
//! `Clinic` dereferences to [`Core`], so a function that needs only the
//! replica, the practice and the hub takes `&Core` and can be handed a
//! `&Clinic`.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

pub use crate::core::{Core, CoreError};
use crate::desk::Sessions;
use crate::display::pairing::Pairings;
use crate::web::limits::RateLimits;

pub struct Clinic {
    pub core: Arc<Core>,
    pub pairings: Pairings,
    pub sessions: Sessions,
    pub limits: RateLimits,
    pub cast: crate::cast::CastSlot,
    /// The lobby voice, once started (absent in tools that never speak).
    pub voice: std::sync::OnceLock<crate::voice::VoiceHandle>,
    /// Announcements waiting for the TVs to play them (no speaker works).
    pub lobby_audio: crate::display::clips::LobbyAudio,
    /// Voice in, once its model is loaded.
    #[cfg(feature = "listen")]
    pub listener: std::sync::OnceLock<crate::listen::VoiceIn>,
    /// What the sync loops last saw (online, revoked, last success).
    pub sync: crate::sync::status::SyncStatus,
}

impl std::ops::Deref for Clinic {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Clinic {
    /// Opens the box's state from `data_dir`: the replica must already hold
    /// a practice.
    pub fn open(
        data_dir: &Path,
        public_url: String,
        limits: RateLimits,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Clinic>, CoreError> {
        let core = Core::open(data_dir, public_url, shutdown)?;
        Ok(Arc::new(Clinic {
            core: Arc::new(core),
            pairings: Pairings::default(),
            sessions: Sessions::default(),
            limits,
            cast: Default::default(),
            voice: Default::default(),
            lobby_audio: Default::default(),
            #[cfg(feature = "listen")]
            listener: Default::default(),
            sync: Default::default(),
        }))
    }

    /// Voice in's state for `/healthz` and the desk (null: not started, or
    /// a build without voice in).
    pub fn listen_status(&self) -> serde_json::Value {
        #[cfg(feature = "listen")]
        if let Some(l) = self.listener.get() {
            return serde_json::to_value(l.status()).unwrap_or_default();
        }
        serde_json::Value::Null
    }
}
