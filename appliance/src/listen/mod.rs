//! Voice in, as the box runs it: someone presses "talk" on the kiosk, the
//! front desk page (`web`) or a physical button (`button`); the recogniser
//! (crate sos-listen: microphone, speech detection, whisper.cpp, intents and
//! names) hears one utterance, and `dialog` acts on it through the same
//! check-in cascade as a QR check-in. Audio never leaves the box.
//!
//! Latency: transcription starts speculatively when the speaker pauses
//! (after the short tail whisper needs), while the end-of-speech hangover is
//! still running; if they do not resume, the result is already there when
//! the hangover ends. See docs/voice-in.md.

pub mod button;
pub mod dialog;
pub mod http;

use std::path::{Path, PathBuf};
use std::sync::Arc;

// The recogniser (crate sos-listen), under the names the box uses.
pub use sos_listen::{
    Asr, Candidate, EndReason, Expected, Heard, ListenConfig, ListenError, ListenStatus, Listener,
    Transcriber, Transcript, VadSettings, Weighed, asr, capture, intent, listen_once, model, names,
    vad,
};

pub use dialog::{Mode, Reply};

/// Voice in as the box runs it: the recogniser, and what the dialog
/// remembers between utterances (a question asked, a name to confirm).
#[derive(Clone)]
pub struct VoiceIn {
    pub ears: Listener,
    conversations: Arc<dialog::Conversations>,
}

impl VoiceIn {
    pub fn new(ears: Listener) -> VoiceIn {
        VoiceIn {
            ears,
            conversations: Arc::default(),
        }
    }

    pub fn status(&self) -> ListenStatus {
        self.ears.status()
    }

    pub(crate) fn conversations(&self) -> &dialog::Conversations {
        &self.conversations
    }
}

/// `sos-appliance run` flags for voice in.
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Turn voice in (speech recognition) off.
    #[arg(long = "no-listen", env = "SOS_NO_LISTEN")]
    pub no_listen: bool,
    /// Whisper model, as models/whisper/ggml-<name>.bin: tiny.en-q8_0
    /// (default), tiny.en (f16 weights) or base-q8_0 (multilingual base;
    /// fetch it with SOS_WHISPER_MODELS=base-q8_0 scripts/fetch-whisper.sh).
    #[arg(
        long = "listen-model",
        env = "SOS_LISTEN_MODEL",
        default_value = asr::DEFAULT_MODEL
    )]
    pub model: String,
    /// Microphone (see `sos-appliance microphones`); default: the system default.
    #[arg(long = "microphone", env = "SOS_MICROPHONE")]
    pub microphone: Option<String>,
    /// Debug only: keep each utterance as a WAV in this directory. Off by
    /// default: audio is health information and never leaves memory.
    #[arg(long = "debug-keep-audio", env = "SOS_DEBUG_KEEP_AUDIO")]
    pub debug_keep_audio: Option<PathBuf>,
    /// A physical talk button: a FIFO that gets one line per press (a GPIO
    /// button through `gpiomon`), or, with --talk-key-code, a Linux input
    /// device (/dev/input/event*).
    #[arg(long = "talk-button", env = "SOS_TALK_BUTTON")]
    pub talk_button: Option<PathBuf>,
    /// The key code that means "talk" on --talk-button's input device
    /// (e.g. 57 for the space bar, 164 for a media play/pause pedal).
    #[arg(
        long = "talk-key-code",
        env = "SOS_TALK_KEY_CODE",
        requires = "talk_button"
    )]
    pub talk_key_code: Option<u16>,
}

impl ListenArgs {
    /// The physical talk button, if one is configured.
    pub fn button(&self) -> Option<button::Button> {
        let path = self.talk_button.clone()?;
        Some(match self.talk_key_code {
            Some(code) => button::Button::Key { device: path, code },
            None => button::Button::Lines(path),
        })
    }

    pub fn into_config(self, models_dir: &Path) -> ListenConfig {
        ListenConfig {
            enabled: !self.no_listen,
            model: asr::model_path(models_dir, &self.model),
            microphone: self.microphone,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .min(4),
            vad: VadSettings::default(),
            debug_keep_audio: self.debug_keep_audio,
        }
    }
}
