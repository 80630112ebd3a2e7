//! The TV as the lobby speaker of last resort: when no speaker works, the
//! voice hands each announcement here as a WAV, every paired TV is told to
//! play it (a "speak" frame), and fetches it by an unguessable, short-lived
//! id. The clip is exactly what the lobby would have heard anyway.

use std::sync::{Arc, Weak};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::clinic::Clinic;
use crate::web::error::WebError;

pub use super::clips::LobbyAudio;

/// Wires the voice's fallback to the TVs. Holds the clinic weakly: the
/// clinic owns the voice, which owns this callback.
pub fn use_tvs_as_speaker(clinic: &Arc<Clinic>, voice: &crate::voice::VoiceHandle) {
    let weak: Weak<Clinic> = Arc::downgrade(clinic);
    voice.set_fallback(move |f| {
        if let Some(clinic) = weak.upgrade() {
            let id = clinic.lobby_audio.put(f.wav);
            clinic.hub.speak(&format!("/tv/audio/{id}"));
        }
    });
}

/// `GET /tv/audio/{id}`: one announcement as WAV.
pub async fn clip(State(clinic): State<Arc<Clinic>>, Path(id): Path<String>) -> Response {
    match clinic.lobby_audio.get(&id) {
        Some(wav) => (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            wav.to_vec(),
        )
            .into_response(),
        None => WebError::not_found("This announcement is no longer available.").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::clips::KEEP;

    #[test]
    fn clips_are_kept_briefly_and_only_a_few() {
        let a = LobbyAudio::default();
        let first = a.put(Arc::from(&b"RIFF1"[..]));
        assert_eq!(a.get(&first).as_deref(), Some(&b"RIFF1"[..]));
        assert!(a.get("nope").is_none());
        for i in 0..KEEP {
            a.put(Arc::from(format!("RIFF{i}").as_bytes()));
        }
        assert!(a.get(&first).is_none(), "the oldest is dropped");
    }
}
