//! Voice out for SOS Edge, with no product types: text in, audio out.
//!
//! * [`text`]: what may be spoken (sanitised), split into clauses.
//! * [`engine`]: the Piper voice, ONNX Runtime loaded at run time, the
//!   phonemes of a clause (also used by voice in to compare names by sound).
//! * [`cache`]: synthesised clauses on disk, content-addressed, bounded.
//! * [`player`]: the voice thread: one announcement at a time, priorities,
//!   chime, volume, quiet hours, streamed clause by clause to the output.
//! * [`audio`]: the box's speakers and microphones as ALSA offers them.
//! * [`memory`]: giving the models' freed memory back to the system.
//!
//! The appliance's `voice` module connects this to the lobby (greetings and
//! calls from the hub, billing, the practice's voice and quiet hours).

pub mod audio;
pub mod cache;
pub mod engine;
pub mod memory;
pub mod player;
pub mod text;

use std::path::PathBuf;

pub use engine::{DEFAULT_VOICE, PiperVoice, Synth, SynthSettings, VoiceFiles};
pub use player::{
    AudioOut, DeviceInfo, Kind, MemoryOut, PlayerOptions, QuietHours, RodioOut, Spoken,
    VoiceHandle, VoiceStatus, output_devices,
};

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("{0} is missing (run scripts/fetch-voice.sh)")]
    Missing(PathBuf),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("voice model: {0}")]
    Model(String),
    #[error("phonemes: {0}")]
    Phonemes(String),
    #[error("synthesis: {0}")]
    Synthesis(String),
    #[error("audio device: {0}")]
    Device(String),
    #[error("phrase cache: {0}")]
    Cache(String),
    #[error("{0}")]
    Config(String),
}
