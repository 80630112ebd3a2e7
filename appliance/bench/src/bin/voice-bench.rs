//! `voice-bench`: how fast the lobby voice starts speaking.
//!
//! Measures, on this machine, with the real voice (en_US-joe-medium):
//! - voice load time (ONNX Runtime session creation);
//! - check-in event (an arrival published on the lobby hub) → first audio
//!   sample handed to the output, with nothing cached (cold) and with the
//!   greeting in the phrase cache;
//! - real-time factor of the whole greeting (synthesis time / audio length);
//! - resident memory with one voice loaded.
//!
//! In the same run it measures the Python reference `piper-tts` (same voice,
//! same ONNX Runtime, warm) synthesising the same greeting, when
//! `--python <python with piper-tts>` is given (scripts/voice-bench.sh sets
//! one up from PyPI).
//!
//! Usage: voice-bench [--models-dir DIR] [--runs N] [--python PATH]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use appliance::voice::cache::Pcm;
use appliance::voice::{self, AudioOut, SynthSettings, VoiceError, VoiceFiles, VoiceHandle};

const GREETING: &str = "Welcome, Sarah! Doctor Lee will be with you shortly.";

/// Records when each piece of audio was handed over; plays nothing.
#[derive(Clone, Default)]
struct TimingOut(Arc<Mutex<Vec<Instant>>>);

impl AudioOut for TimingOut {
    fn open(&mut self) -> Result<String, VoiceError> {
        Ok("timing".into())
    }
    fn is_open(&self) -> bool {
        true
    }
    fn play(&mut self, _pcm: &Pcm, _volume: f32) -> Result<(), VoiceError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Instant::now());
        Ok(())
    }
    fn drain(&mut self) -> Result<(), VoiceError> {
        Ok(())
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A demo practice with no appointments (so nothing is pre-warmed).
async fn bench_clinic(
    dir: &std::path::Path,
) -> Result<(
    Arc<appliance::clinic::Clinic>,
    tokio::sync::watch::Sender<bool>,
)> {
    use appliance::store::{self, Store};
    let store = Store::open(&dir.join("sos-edge.db"))?;
    let tenant = appliance::demo::practice().into_tenant()?;
    store
        .write(move |txn| store::upsert_tenant(txn, &tenant))
        .await?;
    store.close();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let clinic = appliance::clinic::Clinic::open(
        dir,
        "http://localhost:1".into(),
        appliance::web::limits::RateLimits::new(100),
        stop_rx,
    )?;
    Ok((clinic, stop_tx))
}

fn clear_cache(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
}

/// Publishes an arrival on the lobby hub (what a check-in does) and returns
/// ms until the greeting's first audio was handed to the output.
fn arrival_to_first_audio(
    clinic: &appliance::clinic::Clinic,
    voice: &VoiceHandle,
    out: &TimingOut,
    i: usize,
    greeting: &str,
) -> Result<f64> {
    use appliance::display::hub::QueueEntry;
    let before = out.0.lock().map(|v| v.len()).unwrap_or(0);
    let entry = QueueEntry {
        id: format!("bench-{i}"),
        name: "Sarah J.".into(),
        status: appliance::store::CheckinStatus::Waiting,
        room: None,
        arrived_at: 0,
    };
    let t0 = Instant::now();
    clinic
        .hub
        .arrived(entry, "Welcome!".into(), greeting.to_string());
    let deadline = t0 + Duration::from_secs(30);
    let first = loop {
        if let Some(t) = out.0.lock().ok().and_then(|v| v.get(before).copied()) {
            break t;
        }
        if Instant::now() > deadline {
            bail!("the greeting was not played");
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    if !voice.wait_idle(Duration::from_secs(60)) {
        bail!("the voice did not finish");
    }
    Ok(first.duration_since(t0).as_secs_f64() * 1000.0)
}

const PYTHON_BENCH: &str = r#"
import io, json, sys, time, wave
from piper import PiperVoice, SynthesisConfig
model, text = sys.argv[1], sys.argv[2]
t = time.perf_counter(); v = PiperVoice.load(model); load = time.perf_counter() - t
cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
def synth():
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        v.synthesize_wav(text, w, syn_config=cfg)
    return buf.getvalue()
synth()  # warm
print(json.dumps({"load_s": load}), flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    t = time.perf_counter(); audio = synth(); dt = time.perf_counter() - t
    rss = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(json.dumps({"synth_ms": dt * 1000, "audio_s": (len(audio) - 44) / 2 / v.config.sample_rate,
                      "peak_rss_kib": int(rss)}), flush=True)
"#;

fn main() -> Result<()> {
    let mut models_dir = voice::default_models_dir();
    let mut runs = 5usize;
    let mut python: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--models-dir" => models_dir = args.next().context("--models-dir DIR")?.into(),
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--python" => python = Some(args.next().context("--python PATH")?.into()),
            _ => bail!("usage: voice-bench [--models-dir DIR] [--runs N] [--python PATH]"),
        }
    }
    let files = VoiceFiles::locate(&models_dir, voice::DEFAULT_VOICE);
    if let Some(missing) = files.missing() {
        bail!(
            "{} is missing: run scripts/fetch-voice.sh",
            missing.display()
        );
    }
    println!(
        "voice-bench: {} on {} core(s)",
        voice::DEFAULT_VOICE,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("greeting: \"{GREETING}\"");

    let mut pyref = match &python {
        Some(py) => Some(PyRef::start(py, &files.model)?),
        None => None,
    };
    let rss_before = rss_kib("VmRSS");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let work = tempfile_dir()?;
    let (clinic, _stop) = rt.block_on(bench_clinic(&work))?;
    let cache_dir = work.join("voice-cache");
    let mut config = voice::VoiceConfig::new(&work);
    config.models_dir = models_dir.clone();
    config.voice = Some(voice::DEFAULT_VOICE.into());
    config.settings = SynthSettings::deterministic();
    config.chime = false;
    config.cache_dir = cache_dir.clone();
    let out = TimingOut::default();
    let o2 = out.clone();
    let t = Instant::now();
    let handle = {
        let _guard = rt.enter();
        voice::spawn_with(
            Arc::clone(&clinic.core),
            config,
            Box::new(move || Box::new(o2) as Box<dyn AudioOut>),
        )
    };
    if !handle.wait_ready(Duration::from_secs(60)) || handle.status().state != "ready" {
        bail!("the voice did not start: {:?}", handle.status());
    }
    let load_s = t.elapsed().as_secs_f64();

    // Whole-greeting synthesis (nothing cached), for the real-time factor.
    let mut synth_ms = Vec::new();
    let mut audio_s = 0.0;
    for i in 0..=runs {
        clear_cache(&cache_dir);
        let t = Instant::now();
        let wav = handle.render_wav(GREETING, Duration::from_secs(60))?;
        if i > 0 {
            synth_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            if let Some(p) = pyref.as_mut() {
                p.run_once()?;
            }
        }
        audio_s = (wav.len().saturating_sub(44) / 2) as f64 / 22050.0;
    }
    let synth_ms = median(synth_ms);

    // Check-in event on the lobby hub -> first sample handed to the output:
    // cold (cache emptied: every clause synthesised) and cached.
    let names = [
        "Sarah",
        "Amara",
        "Bartholomew",
        "Zoë",
        "Kenji",
        "Priya",
        "Olu",
        "Mateo",
        "Ines",
        "Yusuf",
        "Hana",
    ];
    let mut cold = Vec::new();
    let mut cached = Vec::new();
    for (i, name) in names.iter().cycle().enumerate().take(runs) {
        let greeting = GREETING.replace("Sarah", name);
        clear_cache(&cache_dir);
        cold.push(arrival_to_first_audio(
            &clinic, &handle, &out, i, &greeting,
        )?);
        cached.push(arrival_to_first_audio(
            &clinic, &handle, &out, i, &greeting,
        )?);
        if let Some(p) = pyref.as_mut() {
            p.run_once()?;
        }
    }
    // The voice thread gives freed memory back once it has been idle.
    std::thread::sleep(appliance::memory::AFTER_IDLE + Duration::from_millis(1500));
    let rss_one_voice = rss_kib("VmRSS");
    let hwm_one_voice = rss_kib("VmHWM");
    handle.shutdown_and_wait(Duration::from_secs(10));
    clinic.store.close();
    let _ = std::fs::remove_dir_all(&work);
    let (cold, cached) = (median(cold), median(cached));

    println!();
    println!(
        "| engine | load s | first audio cold ms | first audio cached ms | greeting synth ms | audio s | RTF | RSS one voice, idle MB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| sos-edge (piper-rs 0.2.0, clause streaming) | {load_s:.2} | {cold:.1} | {cached:.2} | {synth_ms:.1} | {audio_s:.2} | {:.3} | {:.0} (peak {:.0}; +{:.0} for the voice) |",
        synth_ms / 1000.0 / audio_s,
        rss_one_voice as f64 / 1024.0,
        hwm_one_voice as f64 / 1024.0,
        (rss_one_voice.saturating_sub(rss_before)) as f64 / 1024.0
    );
    match pyref {
        Some(p) => {
            let py_synth = median(p.synth_ms.clone());
            println!(
                "| python piper-tts 1.8 (warm, whole greeting; runs interleaved with ours) | {:.2} | {py_synth:.1} (whole text before any audio) | — | {py_synth:.1} | {:.2} | {:.3} | peak {:.0} |",
                p.load_s,
                p.audio_s,
                py_synth / 1000.0 / p.audio_s,
                p.peak_rss_kib / 1024.0
            );
            println!();
            println!(
                "first sound vs the Python reference's whole render: cold {:.1}x faster, cached {:.0}x faster; whole-greeting synthesis ours/theirs {:.2}",
                py_synth / cold,
                py_synth / cached,
                synth_ms / py_synth
            );
        }
        None => println!("\n(python reference skipped: pass --python, see scripts/voice-bench.sh)"),
    }
    println!(
        "targets: first audio <= 60 ms cold: {}; <= 5 ms cached: {}; RSS <= 250 MB: {}",
        ok(cold <= 60.0),
        ok(cached <= 5.0),
        ok(hwm_one_voice <= 250 * 1024)
    );
    Ok(())
}

/// The Python reference, warm in its own process, synthesising on demand so
/// its runs interleave with ours under the same machine load.
struct PyRef {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    load_s: f64,
    synth_ms: Vec<f64>,
    audio_s: f64,
    peak_rss_kib: f64,
}

impl PyRef {
    fn start(py: &std::path::Path, model: &std::path::Path) -> Result<PyRef> {
        use std::process::Stdio;
        let mut child = std::process::Command::new(py)
            .args(["-c", PYTHON_BENCH])
            .arg(model)
            .arg(GREETING)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", py.display()))?;
        let stdin = child.stdin.take().context("python stdin")?;
        let stdout = std::io::BufReader::new(child.stdout.take().context("python stdout")?);
        let mut me = PyRef {
            child,
            stdin,
            stdout,
            load_s: f64::NAN,
            synth_ms: Vec::new(),
            audio_s: f64::NAN,
            peak_rss_kib: f64::NAN,
        };
        me.load_s = me.read()?["load_s"].as_f64().unwrap_or(f64::NAN);
        Ok(me)
    }

    fn read(&mut self) -> Result<serde_json::Value> {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        if line.is_empty() {
            bail!("the python reference stopped (is piper-tts installed?)");
        }
        Ok(serde_json::from_str(&line)?)
    }

    fn run_once(&mut self) -> Result<()> {
        use std::io::Write;
        writeln!(self.stdin, "go")?;
        self.stdin.flush()?;
        let r = self.read()?;
        self.synth_ms
            .push(r["synth_ms"].as_f64().unwrap_or(f64::NAN));
        self.audio_s = r["audio_s"].as_f64().unwrap_or(f64::NAN);
        self.peak_rss_kib = r["peak_rss_kib"].as_f64().unwrap_or(f64::NAN);
        Ok(())
    }
}

impl Drop for PyRef {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(b: bool) -> &'static str {
    if b { "met" } else { "NOT met" }
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("voice-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
