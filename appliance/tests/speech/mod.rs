//! Spoken test audio for the voice-in tests: the box's own Piper voice and
//! espeak-ng voices for variety, resampled to 16 kHz the way the microphone
//! path does it, and a helper that runs audio through the real pipeline.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use appliance::listen::capture::ToMono16k;
use appliance::listen::{self, Asr, Expected, VadSettings, Weighed};
use appliance::voice::text;
use appliance::voice::{self, PiperVoice, Synth, SynthSettings, VoiceFiles};

pub fn models_dir() -> PathBuf {
    std::env::var_os("SOS_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"))
}

pub fn whisper_model() -> PathBuf {
    let m = listen::asr::model_path(&models_dir(), listen::asr::DEFAULT_MODEL);
    assert!(
        m.is_file(),
        "{} is missing: run scripts/fetch-whisper.sh (or set SOS_MODELS_DIR)",
        m.display()
    );
    m
}

pub fn asr() -> Asr {
    Asr::start(&whisper_model(), 2).expect("load tiny.en")
}

/// Today's people: first, last, provider. Deliberately varied origins.
pub fn people() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("Sarah", "Jones", "Doctor Lee"),
        ("Ngozi", "Okafor", "Doctor Lee"),
        ("Siobhan", "O'Brien", "Doctor Patel"),
        ("José", "Núñez", "Doctor Lee"),
        ("Wei", "Zhang", "Doctor Patel"),
        ("Priya", "Raman", "Doctor Lee"),
        ("Mohammed", "Haddad", "Doctor Patel"),
        ("Aleksandra", "Kowalski", "Doctor Lee"),
        ("Hiroshi", "Tanaka", "Doctor Patel"),
        ("Kwame", "Mensah", "Doctor Lee"),
        ("Ingrid", "Johansson", "Doctor Patel"),
        ("Mateo", "Rossi", "Doctor Lee"),
        ("Chloe", "Dubois", "Doctor Patel"),
        ("Dmitri", "Volkov", "Doctor Lee"),
        ("Aisha", "Bello", "Doctor Patel"),
        ("Tomasz", "Nowak", "Doctor Lee"),
        ("Lucia", "Fernandez", "Doctor Patel"),
        ("Anh", "Nguyen", "Doctor Lee"),
        ("Rahul", "Sharma", "Doctor Patel"),
        ("Grace", "Kim", "Doctor Lee"),
        ("Liam", "Murphy", "Doctor Patel"),
        ("Fatima", "Diallo", "Doctor Lee"),
        ("Yuki", "Sato", "Doctor Patel"),
        ("Oluwaseun", "Adeyemi", "Doctor Lee"),
        ("Dan", "Brown", "Doctor Patel"),
        ("Elena", "Popescu", "Doctor Lee"),
        ("Kofi", "Asante", "Doctor Patel"),
        ("Marta", "Silva", "Doctor Lee"),
        ("Omar", "Farouk", "Doctor Patel"),
        ("Noah", "Schmidt", "Doctor Lee"),
    ]
}

pub fn providers() -> Vec<String> {
    vec!["Dr. Lee".into(), "Dr. Patel".into()]
}

pub fn rooms() -> Vec<String> {
    (1..=4).map(|n| format!("Room {n}")).collect()
}

/// Who says the test sentence.
pub enum Speaker {
    Piper,
    Espeak(&'static str),
}

impl Speaker {
    pub fn all() -> Vec<Speaker> {
        vec![
            Speaker::Piper,
            Speaker::Espeak("en-us"),
            Speaker::Piper,
            Speaker::Espeak("en-gb"),
            Speaker::Piper,
            Speaker::Espeak("en-us+f3"),
            Speaker::Piper,
            Speaker::Espeak("en-gb-x-rp"),
        ]
    }

    pub fn label(&self) -> String {
        match self {
            Speaker::Piper => "piper:joe".into(),
            Speaker::Espeak(v) => format!("espeak-ng:{v}"),
        }
    }

    /// 16 kHz mono samples of `text`.
    pub fn say(&self, text: &str) -> Vec<f32> {
        match self {
            Speaker::Piper => piper(text),
            Speaker::Espeak(v) => espeak(text, v),
        }
    }
}

fn to_16k(samples: &[f32], rate: u32) -> Vec<f32> {
    ToMono16k::convert_all(samples, rate).expect("resampler")
}

pub fn piper(text: &str) -> Vec<f32> {
    use std::sync::{Mutex, OnceLock};
    static VOICE: OnceLock<Mutex<PiperVoice>> = OnceLock::new();
    let v = VOICE.get_or_init(|| {
        let files = VoiceFiles::locate(&models_dir(), voice::DEFAULT_VOICE);
        if let Some(m) = files.missing() {
            panic!("{} is missing: run scripts/fetch-voice.sh", m.display());
        }
        Mutex::new(
            PiperVoice::load(&files, voice::DEFAULT_VOICE, SynthSettings::deterministic())
                .expect("load piper voice"),
        )
    });
    let mut v = v.lock().unwrap_or_else(|p| p.into_inner());
    let rate = v.sample_rate();
    let mut pcm = Vec::new();
    for clause in text::clauses(&text::sanitise(text, 400)) {
        pcm.extend(v.synth_clause(&clause).expect("synthesis").samples);
    }
    to_16k(&pcm, rate)
}

pub fn espeak(text: &str, voice: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("u.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is needed (scripts/setup.sh installs it)");
    assert!(status.success(), "espeak-ng -v {voice} failed");
    let mut r = hound::WavReader::open(&wav).expect("espeak wav");
    let rate = r.spec().sample_rate;
    let f: Vec<f32> = r
        .samples::<i16>()
        .map(|s| s.unwrap_or(0) as f32 / 32768.0)
        .collect();
    to_16k(&f, rate)
}

/// A lobby: quiet room noise before (the moment after "talk" is pressed)
/// and silence after.
pub fn in_the_lobby(speech: Vec<f32>) -> Vec<f32> {
    let mut x: u32 = 7;
    let mut noise = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                0.002 * ((x >> 16) as f32 / 32768.0 - 1.0)
            })
            .collect()
    };
    let mut out = noise(16_000 * 3 / 10);
    out.extend(speech.iter().zip(noise(speech.len())).map(|(a, b)| a + b));
    out.extend(noise(16_000));
    out
}

/// Feeds audio as 100 ms chunks (unpaced) through the real pipeline:
/// what was heard, and today's nearest names weighed against the audio.
pub fn hear(asr: &Asr, speech: Vec<f32>, expected: &Expected) -> (String, Weighed) {
    let audio = in_the_lobby(speech);
    let (tx, rx) = mpsc::channel();
    for c in audio.chunks(1600) {
        tx.send(c.to_vec()).expect("send");
    }
    drop(tx);
    let heard = listen::listen_once(
        &rx,
        &VadSettings::default(),
        asr,
        expected,
        Duration::from_secs(5),
    )
    .expect("pipeline");
    heard
        .transcript
        .filter(|t| !t.is_empty())
        .map(|t| (t.text, t.weighed))
        .unwrap_or_default()
}
