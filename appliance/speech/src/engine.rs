//! The Piper voice: ONNX Runtime loaded at run time from the models
//! directory, the voice model loaded once and kept warm, and phonemisation
//! clause by clause with the punctuation kept.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::VoiceError;
use crate::cache::Pcm;
use crate::text::Clause;

/// The ONNX Runtime version `scripts/fetch-voice.sh` installs.
pub const ORT_LIB: &str = "libonnxruntime.so.1.31.1";
/// The voice every shipped vertical defaults to.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";
/// Bumped when anything that changes the audio for the same text changes.
const ENGINE_VERSION: &str = "piper-rs-0.2.0+clause-punct-1+bos-pad";

/// Something that turns one clause into audio (the Piper voice, or a fake in
/// tests).
pub trait Synth: Send {
    /// Identifies voice, model and settings: part of every cache key.
    fn tag(&self) -> &str;
    fn sample_rate(&self) -> u32;
    fn synth_clause(&mut self, clause: &Clause) -> Result<Pcm, VoiceError>;
}

/// Synthesis settings. `None` takes the voice's own defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthSettings {
    pub length_scale: Option<f32>,
    pub noise_scale: Option<f32>,
    pub noise_w: Option<f32>,
    /// ONNX Runtime intra-op threads (0: its default).
    pub threads: usize,
}

impl SynthSettings {
    /// Noise scales 0: the same text gives the same samples (tests, benches).
    pub fn deterministic() -> SynthSettings {
        SynthSettings {
            noise_scale: Some(0.0),
            noise_w: Some(0.0),
            ..SynthSettings::default()
        }
    }
}

/// Where the files of one voice are expected.
#[derive(Debug, Clone)]
pub struct VoiceFiles {
    pub ort_lib: PathBuf,
    pub model: PathBuf,
    pub config: PathBuf,
}

impl VoiceFiles {
    /// `<models>/onnxruntime/libonnxruntime.so.1.31.1` (or `$ORT_DYLIB_PATH`)
    /// and `<models>/voices/<voice>.onnx{,.json}`.
    pub fn locate(models_dir: &Path, voice: &str) -> VoiceFiles {
        let ort_lib = std::env::var_os("ORT_DYLIB_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| models_dir.join("onnxruntime").join(ORT_LIB));
        let voices = models_dir.join("voices");
        VoiceFiles {
            ort_lib,
            model: voices.join(format!("{voice}.onnx")),
            config: voices.join(format!("{voice}.onnx.json")),
        }
    }

    /// The first missing file, if any.
    pub fn missing(&self) -> Option<&Path> {
        [&self.ort_lib, &self.model, &self.config]
            .into_iter()
            .find(|p| !p.is_file())
            .map(PathBuf::as_path)
    }
}

/// Voices whose model and config are both present in `<models>/voices`.
pub fn installed_voices(models_dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(models_dir.join("voices"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".onnx")?.to_string();
            e.path()
                .with_extension("onnx.json")
                .is_file()
                .then_some(name)
        })
        .collect();
    out.sort();
    out
}

/// ONNX Runtime is loaded once per process. A missing library makes ort
/// rc.12 hang rather than fail, so the file is checked first.
fn init_ort(lib: &Path) -> Result<(), VoiceError> {
    static INIT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let loaded = INIT.get_or_init(|| {
        if !lib.is_file() {
            return Err(format!("{} is missing", lib.display()));
        }
        ort::init_from(lib)
            .map(|b| {
                b.with_name("sos-voice").commit();
                lib.to_path_buf()
            })
            .map_err(|e| format!("cannot load {}: {e}", lib.display()))
    });
    match loaded {
        Ok(_) => Ok(()),
        Err(e) => Err(VoiceError::Runtime(e.clone())),
    }
}

/// Piper's padding symbol (its phoneme map's "_").
const PIPER_PAD: char = '_';

/// espeak-ng keeps global state: one caller at a time.
static ESPEAK: Mutex<()> = Mutex::new(());

/// espeak-ng's phonemes (IPA) for plain text, e.g. to compare names by
/// sound; None when espeak-ng cannot phonemise it.
pub fn phonemes_of(text: &str, espeak_voice: &str) -> Option<String> {
    let _guard = ESPEAK.lock().unwrap_or_else(|p| p.into_inner());
    let parts = espeak_rs::text_to_phonemes(text, espeak_voice, None).ok()?;
    Some(parts.join(" "))
}

/// Phonemes for one clause with its punctuation kept, e.g. `wˈɛlkʌm,`.
/// (piper-rs 0.2.0 phonemises whole texts and loses the punctuation, which
/// removes the pauses; Piper's model needs the punctuation symbols.)
pub fn phonemise(clause: &Clause, espeak_voice: &str) -> Result<String, VoiceError> {
    let _guard = ESPEAK.lock().unwrap_or_else(|p| p.into_inner());
    let parts = espeak_rs::text_to_phonemes(&clause.body, espeak_voice, None)
        .map_err(|e| VoiceError::Phonemes(e.to_string()))?;
    let mut out = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    // espeak may or may not end a sentence with its own mark; use ours.
    while out.ends_with(['.', ',', '!', '?', ';', ':']) {
        out.pop();
    }
    out.push(clause.punct.unwrap_or('.'));
    Ok(out)
}

pub struct PiperVoice {
    piper: piper_rs::Piper,
    espeak_voice: String,
    sample_rate: u32,
    settings: SynthSettings,
    tag: String,
    name: String,
}

impl PiperVoice {
    /// Loads the voice (about a second: ONNX Runtime session creation).
    pub fn load(
        files: &VoiceFiles,
        name: &str,
        settings: SynthSettings,
    ) -> Result<PiperVoice, VoiceError> {
        if let Some(missing) = files.missing() {
            return Err(VoiceError::Missing(missing.to_path_buf()));
        }
        init_ort(&files.ort_lib)?;
        let json = std::fs::read(&files.config)
            .map_err(|e| VoiceError::Model(format!("{}: {e}", files.config.display())))?;
        let config: piper_rs::ModelConfig = serde_json::from_slice(&json)
            .map_err(|e| VoiceError::Model(format!("{}: {e}", files.config.display())))?;
        let espeak_voice = config.espeak.voice.clone();
        let sample_rate = config.audio.sample_rate;
        let model_err =
            |e: ort::Error| VoiceError::Model(format!("{}: {e}", files.model.display()));
        let mut builder = ort::session::Session::builder().map_err(model_err)?;
        if settings.threads > 0 {
            builder = builder
                .with_intra_threads(settings.threads)
                .map_err(|e| model_err(e.into()))?;
        }
        // ONNX Runtime's arena would keep the largest sentence's buffers
        // for good; without it (and its memory pattern) they are freed and
        // given back when the voice goes idle (crate::memory). The box
        // holds this voice and the recogniser in one process: 171 → 110 MB
        // for the voice, synthesis about a quarter slower (docs/voice.md).
        builder = builder
            .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
            .map_err(|e| model_err(e.into()))?
            .with_memory_pattern(false)
            .map_err(|e| model_err(e.into()))?;
        // Spinning threads would burn the box's two cores while idle.
        builder = builder
            .with_intra_op_spinning(false)
            .map_err(|e| model_err(e.into()))?
            .with_log_level(ort::logging::LogLevel::Warning)
            .map_err(|e| model_err(e.into()))?;
        let session = builder.commit_from_file(&files.model).map_err(model_err)?;
        let piper = piper_rs::Piper::from_session(session, config);

        let mut h = Sha256::new();
        h.update(&json);
        let model_id: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let tag = format!(
            "{ENGINE_VERSION}|{name}|{model_id}|{:?}|{:?}|{:?}",
            settings.length_scale, settings.noise_scale, settings.noise_w
        );
        Ok(PiperVoice {
            piper,
            espeak_voice,
            sample_rate,
            settings,
            tag,
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Synth for PiperVoice {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn synth_clause(&mut self, clause: &Clause) -> Result<Pcm, VoiceError> {
        // piper-rs 0.2.0 starts the ids with BOS and no PAD after it, unlike
        // Piper itself; the model then swallows the clause's first sound
        // ("Call" is heard as "all"). A leading PAD restores it.
        let phonemes = format!("{PIPER_PAD}{}", phonemise(clause, &self.espeak_voice)?);
        let (mut samples, sample_rate) = self
            .piper
            .create(
                &phonemes,
                true,
                None,
                self.settings.length_scale,
                self.settings.noise_scale,
                self.settings.noise_w,
            )
            .map_err(|e| VoiceError::Synthesis(e.to_string()))?;
        for s in &mut samples {
            *s = s.clamp(-1.0, 1.0);
        }
        Ok(Pcm {
            sample_rate,
            samples,
        })
    }
}
