//! Announcements waiting for the TVs to fetch and play (no speaker works).
//! A leaf: the box's state holds it without knowing the TVs' handlers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clips kept for TVs to fetch: a few, for a couple of minutes.
pub(crate) const KEEP: usize = 8;
const FOR: Duration = Duration::from_secs(120);

/// (id, kept at, WAV)
type Clip = (String, Instant, Arc<[u8]>);

#[derive(Default)]
pub struct LobbyAudio {
    clips: Mutex<VecDeque<Clip>>,
}

impl LobbyAudio {
    /// Keeps a WAV; returns its id.
    pub fn put(&self, wav: Arc<[u8]>) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut clips = self.clips.lock().unwrap_or_else(|p| p.into_inner());
        clips.retain(|(_, at, _)| at.elapsed() < FOR);
        while clips.len() >= KEEP {
            clips.pop_front();
        }
        clips.push_back((id.clone(), Instant::now(), wav));
        id
    }

    pub fn get(&self, id: &str) -> Option<Arc<[u8]>> {
        let clips = self.clips.lock().unwrap_or_else(|p| p.into_inner());
        clips
            .iter()
            .find(|(i, at, _)| i == id && at.elapsed() < FOR)
            .map(|(_, _, wav)| Arc::clone(wav))
    }
}
