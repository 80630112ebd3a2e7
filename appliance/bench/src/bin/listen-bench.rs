//! Voice-in benchmark: end of speech → intent decided for 2-, 4-
//! and 8-second front-desk utterances fed in real time, the recogniser's
//! real-time factor, and RSS with tiny.en (8-bit) loaded; compared in the same run
//! with faster-whisper (int8, float32, beam 1) and pywhispercpp transcribing
//! the same clips the usual way (scripts/listen_reference.py).
//!
//! Run it with `scripts/listen-bench.sh` (sets up the Python side).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use appliance::listen::capture::ToMono16k;
use appliance::listen::{self, Asr, Candidate, Expected, VadSettings, intent, names, vad};
use appliance::memory;
use appliance::voice::{self, PiperVoice, Synth, SynthSettings, VoiceFiles, text};
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, env = "SOS_MODELS_DIR")]
    models_dir: Option<PathBuf>,
    /// Python with faster-whisper and pywhispercpp (scripts/listen-bench.sh).
    #[arg(long)]
    python: Option<PathBuf>,
    /// scripts/listen_reference.py
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Runs per clip (median reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

const DAY: [(&str, &str); 20] = [
    ("Sarah", "Jones"),
    ("Oluwaseun", "Adeyemi"),
    ("Liam", "Adeyemi"),
    ("Ngozi", "Okafor"),
    ("Siobhan", "O'Brien"),
    ("José", "Núñez"),
    ("Wei", "Zhang"),
    ("Priya", "Raman"),
    ("Mohammed", "Haddad"),
    ("Aleksandra", "Kowalski"),
    ("Hiroshi", "Tanaka"),
    ("Kwame", "Mensah"),
    ("Ingrid", "Johansson"),
    ("Dan", "Brown"),
    ("Maria", "Garcia"),
    ("Yuki", "Sato"),
    ("Fatima", "Rahman"),
    ("Liam", "Murphy"),
    ("Anh", "Nguyen"),
    ("Aisha", "Bello"),
];

const CLIPS: [(&str, &str); 5] = [
    ("2s", "Call Sarah Jones to room two."),
    (
        "4s",
        "Hi, I'm Sarah Jones, I have a two o'clock with Doctor Lee.",
    ),
    // tiny.en misspells this name, so the names are weighed against the
    // audio before the intent is decided.
    (
        "4s-unusual-name",
        "Hi, I'm Aisha Bello, I have a two o'clock with Doctor Lee.",
    ),
    // tiny.en writes this name as other words ("Always an Ad Amy"): the
    // names are weighed in the stretch nearest a booked name and in the
    // one the sentence frame leaves for it, and the box asks "did you
    // say …?".
    (
        "3s-misheard-name",
        "Call Oluwaseun Adeyemi to room four, please.",
    ),
    (
        "8s",
        "Hello, my name is Oluwaseun Adeyemi, I have a two o'clock appointment with Doctor Lee, and my son Liam is here for his check-up too.",
    ),
];

/// Scratch directory for the clips, removed at the end.
struct BenchDir(PathBuf);

impl BenchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Median time to transcribe the finished clip the usual way, after a warm-up.
fn whole_clip_ms(asr: &Asr, speech: &[f32], prompt: &str, repeat: usize) -> Result<f64> {
    asr.transcribe(speech.to_vec(), prompt)?;
    let mut whole = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        asr.transcribe(speech.to_vec(), prompt)?;
        whole.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(whole))
}

/// The box's own voice, loaded once and kept, as the daemon keeps it.
fn lobby_voice(models: &Path) -> Result<PiperVoice> {
    let files = VoiceFiles::locate(models, voice::DEFAULT_VOICE);
    if let Some(m) = files.missing() {
        bail!("{} is missing: run scripts/fetch-voice.sh", m.display());
    }
    Ok(PiperVoice::load(
        &files,
        voice::DEFAULT_VOICE,
        SynthSettings::deterministic(),
    )?)
}

fn synthesise(v: &mut PiperVoice, text_: &str) -> Result<Vec<f32>> {
    let mut pcm = Vec::new();
    for c in text::clauses(text_) {
        pcm.extend(v.synth_clause(&c)?.samples);
    }
    Ok(ToMono16k::convert_all(&pcm, v.sample_rate())?)
}

fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: vad::RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
    }
    w.finalize()?;
    Ok(())
}

struct Live {
    /// VAD decided the end → intent decided.
    after_end_ms: f64,
    /// Last voiced sample → intent decided (includes the hangover).
    after_speech_ms: f64,
    speculative: bool,
    text: String,
    intent: String,
    /// Names weighed against the audio (0: a booked name was spelled exactly).
    weighed: usize,
}

/// Feeds the clip in real time (20 ms chunks), after 300 ms of room noise
/// and followed by silence, as a microphone would.
fn live(asr: &Asr, speech: &[f32], expected: &Expected, rooms: &[String]) -> Result<Live> {
    let mut audio = vec![0.0005f32; vad::RATE as usize * 3 / 10];
    audio.extend_from_slice(speech);
    audio.extend(vec![0.0005f32; vad::RATE as usize * 2]);
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let feeder = std::thread::spawn(move || {
        for (i, c) in audio.chunks(vad::FRAME).enumerate() {
            let due = started + Duration::from_millis(20 * i as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if tx.send(c.to_vec()).is_err() {
                break;
            }
        }
    });
    let heard = listen::listen_once(
        &rx,
        &VadSettings::default(),
        asr,
        expected,
        Duration::from_secs(5),
    )?;
    let decided_at = Instant::now();
    let text = heard
        .transcript
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    let parsed = intent::parse(&text, rooms);
    let weighed = heard.transcript.map(|t| t.weighed).unwrap_or_default();
    let n_weighed = weighed.names.len();
    let who = names::find(&text, &expected.people, &weighed);
    let intent_at = Instant::now();
    drop(rx);
    let _ = feeder.join();
    // The speech's last sample left the "microphone" at this offset.
    let speech_end = started
        + Duration::from_millis(300)
        + Duration::from_secs_f64(speech.len() as f64 / vad::RATE as f64);
    let after_end = heard.after_end + (intent_at - decided_at);
    Ok(Live {
        after_end_ms: after_end.as_secs_f64() * 1000.0,
        after_speech_ms: intent_at
            .saturating_duration_since(speech_end)
            .as_secs_f64()
            * 1000.0,
        speculative: heard.speculative,
        text,
        intent: format!("{parsed:?} {who:?}"),
        weighed: n_weighed,
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let models = args
        .models_dir
        .clone()
        .unwrap_or_else(voice::default_models_dir);
    let model = listen::asr::model_path(&models, listen::asr::DEFAULT_MODEL);
    // The same weights in f16, when fetched (SOS_WHISPER_MODELS="tiny.en-q8_0 tiny.en").
    let f16_model = listen::asr::model_path(&models, "tiny.en");
    let dir =
        BenchDir(std::env::temp_dir().join(format!("sos-listen-bench-{}", std::process::id())));
    std::fs::create_dir_all(dir.path())?;
    let rooms: Vec<String> = (1..=4).map(|n| format!("Room {n}")).collect();
    // A day of 20 people: the bench's clips name three of them, and the
    // names nearest to what was heard are weighed against the audio.
    let people: Vec<Candidate> = DAY
        .iter()
        .enumerate()
        .map(|(i, (first, last))| Candidate {
            id: format!("p{i}"),
            first: first.to_string(),
            last: last.to_string(),
        })
        .collect();
    let expected = Expected::new(people, &["Dr. Lee".into()]);
    let prompt = expected.prompt.clone();

    println!(
        "voice-in benchmark: {} ({}), {} threads, {} runs per clip (median)",
        listen::asr::DEFAULT_MODEL,
        model.display(),
        args.threads,
        args.repeat
    );
    // Held to the end: the daemon holds its lobby voice and the recogniser
    // in one process, and the RSS below is that process's.
    let mut lobby = lobby_voice(&models)?;
    let mut clips = Vec::new();
    for (label, t) in CLIPS {
        let s = synthesise(&mut lobby, t)?;
        let path = dir.path().join(format!("{label}.wav"));
        write_wav(&path, &s)?;
        clips.push((label, t, s, path));
    }
    // What the daemon's voice thread does once it is idle.
    memory::give_back();
    let (rss_before, _) = rss_mb();
    let load = Instant::now();
    let asr = Asr::start(&model, args.threads)?;
    let load_ms = load.elapsed().as_secs_f64() * 1000.0;

    println!();
    println!(
        "| clip | audio s | whole-clip transcribe ms | RTF | VAD end → intent ms | last word → intent ms | speculative | names weighed | intent |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut ours = Vec::new();
    for (label, _, speech, _) in &clips {
        let secs = speech.len() as f64 / vad::RATE as f64;
        let whole_ms = whole_clip_ms(&asr, speech, &prompt, args.repeat)?;
        let mut after_end = Vec::new();
        let mut after_speech = Vec::new();
        let mut last = None;
        for _ in 0..args.repeat {
            let l = live(&asr, speech, &expected, &rooms)?;
            after_end.push(l.after_end_ms);
            after_speech.push(l.after_speech_ms);
            last = Some(l);
        }
        let l = last.context("no run")?;
        println!(
            "| {label} | {secs:.2} | {whole_ms:.0} | {:.3} | {:.0} | {:.0} | {} | {} | {} |",
            whole_ms / 1000.0 / secs,
            median(after_end),
            median(after_speech),
            l.speculative,
            l.weighed,
            l.intent
        );
        println!("|   | heard: {:?} ||||||||", l.text);
        ours.push((label.to_string(), whole_ms));
    }
    let (rss_busy, hwm) = rss_mb();
    // The recogniser's thread gives freed memory back once idle.
    std::thread::sleep(memory::AFTER_IDLE + Duration::from_millis(500));
    let (rss, _) = rss_mb();
    println!();
    println!(
        "sos-appliance voice in: model load {load_ms:.0} ms; RSS {rss:.0} MB idle with the lobby voice and tiny.en warm ({rss_busy:.0} MB right after the last clip, peak {hwm:.0} MB; {rss_before:.0} MB with the lobby voice alone)"
    );

    // The box's 8-bit weights against the f16 ones they were made from.
    let mut ours_f16 = Vec::new();
    if f16_model.is_file() {
        drop(asr);
        let asr = Asr::start(&f16_model, args.threads)?;
        for (label, _, speech, _) in &clips {
            let ms = whole_clip_ms(&asr, speech, &prompt, args.repeat)?;
            ours_f16.push((label.to_string(), ms));
        }
        println!(
            "the same whole-clip transcriptions with f16 weights ({}): {}",
            f16_model.display(),
            ours_f16
                .iter()
                .map(|(l, ms)| format!("{l} {ms:.0} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let (Some(python), Some(reference)) = (&args.python, &args.reference) else {
        println!("\n(no --python/--reference: the Python comparison was skipped)");
        return Ok(());
    };
    let ct2 = models.join("whisper").join("ct2-tiny.en");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(reference)
        .arg("--ct2-dir")
        .arg(&ct2)
        .arg("--ggml")
        .arg(&model)
        .args([
            "--threads",
            &args.threads.to_string(),
            "--repeat",
            &args.repeat.to_string(),
            "--prompt",
            &prompt,
        ]);
    for (_, _, _, p) in &clips {
        cmd.arg(p);
    }
    let out = cmd.output().context("run the Python reference")?;
    if !out.status.success() {
        bail!(
            "the Python reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    println!();
    println!(
        "Reference (same clips, same weights, same prompt of today's names, {} threads, transcribing each whole clip the usual way):",
        args.threads
    );
    println!(
        "| engine | RSS MB | {} |",
        clips
            .iter()
            .map(|c| format!("{} ms", c.0))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|{}", "---|".repeat(clips.len()));
    let engines = v["engines"]
        .as_object()
        .context("reference JSON has no engines")?;
    for (name, e) in engines {
        let cells: Vec<String> = clips
            .iter()
            .map(|(_, _, _, p)| {
                let c = &e["clips"][p.to_string_lossy().as_ref()];
                format!("{:.0}", c["median_ms"].as_f64().unwrap_or(f64::NAN))
            })
            .collect();
        println!(
            "| {name} | {:.0} | {} |",
            e["rss_mb"].as_f64().unwrap_or(f64::NAN),
            cells.join(" | ")
        );
    }
    println!();
    for (label, _, _, p) in &clips {
        let key = p.to_string_lossy();
        let fw = ["faster-whisper-int8", "faster-whisper-float32"]
            .iter()
            .filter_map(|n| engines.get(*n))
            .filter_map(|e| e["clips"][key.as_ref()]["median_ms"].as_f64())
            .fold(f64::INFINITY, f64::min);
        let whole = ours
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, ms)| *ms)
            .unwrap_or(f64::NAN);
        let f16 = ours_f16
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, ms)| format!("; with f16 weights {ms:.0} ms ({:.2}x)", fw / ms))
            .unwrap_or_default();
        println!(
            "{label}: fastest faster-whisper {fw:.0} ms for the whole clip; the box's whole-clip transcription {whole:.0} ms ({:.2}x){f16}",
            fw / whole
        );
    }
    Ok(())
}
