//! The lobby voice with the real Piper voice (en_US-joe-medium, noise scales
//! 0 so the audio is deterministic) and a real ALSA device that needs no
//! sound card (a file-backed default PCM under a test-owned HOME).
//!
//! Needs `scripts/fetch-voice.sh` to have run (models in `$SOS_MODELS_DIR`
//! or the checkout's `models/`); `scripts/test.sh` does that first.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use appliance::voice::cache::Pcm;
use appliance::voice::text::{self, Clause};
use appliance::voice::{
    self, AudioOut, Kind, MemoryOut, PiperVoice, PlayerOptions, RodioOut, Synth, SynthSettings,
    VoiceError, VoiceFiles, VoiceHandle,
};

fn models_dir() -> PathBuf {
    let dir = std::env::var_os("SOS_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"));
    let files = VoiceFiles::locate(&dir, voice::DEFAULT_VOICE);
    if let Some(missing) = files.missing() {
        panic!(
            "{} is missing: run scripts/fetch-voice.sh (or set SOS_MODELS_DIR)",
            missing.display()
        );
    }
    dir
}

fn load() -> PiperVoice {
    let files = VoiceFiles::locate(&models_dir(), voice::DEFAULT_VOICE);
    PiperVoice::load(&files, voice::DEFAULT_VOICE, SynthSettings::deterministic()).unwrap()
}

/// One warm voice shared by the tests of this process (loading costs ~1 s).
fn shared_voice() -> Arc<Mutex<PiperVoice>> {
    static VOICE: OnceLock<Arc<Mutex<PiperVoice>>> = OnceLock::new();
    Arc::clone(VOICE.get_or_init(|| Arc::new(Mutex::new(load()))))
}

struct Shared(Arc<Mutex<PiperVoice>>, String);

impl Synth for Shared {
    fn tag(&self) -> &str {
        &self.1
    }
    fn sample_rate(&self) -> u32 {
        self.0.lock().unwrap().sample_rate()
    }
    fn synth_clause(&mut self, clause: &Clause) -> Result<Pcm, VoiceError> {
        self.0.lock().unwrap().synth_clause(clause)
    }
}

fn shared_synth() -> Box<dyn Synth> {
    let v = shared_voice();
    let tag = v.lock().unwrap().tag().to_string();
    Box::new(Shared(v, tag))
}

fn synth_text(text: &str) -> Pcm {
    let v = shared_voice();
    let mut v = v.lock().unwrap();
    let mut samples = Vec::new();
    for c in text::clauses(&text::sanitise(text, 240)) {
        samples.extend(v.synth_clause(&c).unwrap().samples);
    }
    Pcm {
        sample_rate: v.sample_rate(),
        samples,
    }
}

/// 10 ms frames: true when the frame's RMS is below -40 dBFS.
fn silent_frames(samples: &[f32], rate: u32) -> Vec<bool> {
    let frame = (rate / 100) as usize;
    samples
        .chunks(frame)
        .map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt() < 0.01)
        .collect()
}

/// Silences of at least `min_ms` strictly inside the sound, as (start s, length s).
fn inner_gaps(samples: &[f32], rate: u32, min_ms: usize) -> Vec<(f32, f32)> {
    let frames = silent_frames(samples, rate);
    let first = frames.iter().position(|s| !s).unwrap_or(0);
    let last = frames.iter().rposition(|s| !s).unwrap_or(0);
    let mut gaps = Vec::new();
    let mut i = first;
    while i <= last {
        if frames[i] {
            let start = i;
            while i <= last && frames[i] {
                i += 1;
            }
            if (i - start) * 10 >= min_ms {
                gaps.push((start as f32 / 100.0, (i - start) as f32 / 100.0));
            }
        } else {
            i += 1;
        }
    }
    gaps
}

/// Lengths (s) of the sounds separated by at least `min_frames` silent 10 ms frames.
fn segments(samples: &[f32], rate: u32, min_frames: usize) -> Vec<f32> {
    let frames = silent_frames(samples, rate);
    let mut out = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        if frames[i] {
            i += 1;
            continue;
        }
        let (start, mut end, mut quiet) = (i, i, 0);
        while i < frames.len() && quiet < min_frames {
            if frames[i] {
                quiet += 1;
            } else {
                quiet = 0;
                end = i;
            }
            i += 1;
        }
        out.push((end + 1 - start) as f32 / 100.0);
    }
    out
}

/// Seconds from the first to the last sound.
fn voiced_span(samples: &[f32], rate: u32) -> f32 {
    let frames = silent_frames(samples, rate);
    match (
        frames.iter().position(|s| !s),
        frames.iter().rposition(|s| !s),
    ) {
        (Some(a), Some(b)) => (b + 1 - a) as f32 / 100.0,
        _ => 0.0,
    }
}

#[test]
fn real_speech_has_a_sane_duration_and_pauses_at_punctuation() {
    let text = "Welcome, Sarah Jones. Please take a seat, Doctor Lee will see you shortly.";
    let pcm = synth_text(text);
    assert_eq!(pcm.sample_rate, 22050);
    let secs = pcm.duration().as_secs_f32();
    assert!((3.0..7.0).contains(&secs), "duration {secs} s");
    let rms = (pcm.samples.iter().map(|s| s * s).sum::<f32>() / pcm.samples.len() as f32).sqrt();
    let peak = pcm.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(
        rms > 0.03 && peak > 0.2,
        "too quiet: rms {rms}, peak {peak}"
    );
    // A pause after "Welcome,", "Jones." and "seat,".
    let gaps = inner_gaps(&pcm.samples, pcm.sample_rate, 100);
    eprintln!("audio {secs:.2} s, rms {rms:.3}, pauses {gaps:?}");
    assert!(gaps.len() >= 3, "expected pauses at , . , — got {gaps:?}");
    // The full stop pauses longer than the commas.
    let longest = gaps.iter().map(|g| g.1).fold(0f32, f32::max);
    assert!(longest >= 0.2, "{gaps:?}");
}

#[test]
fn phonemes_keep_the_clause_punctuation() {
    let _ = models_dir();
    let p = voice::engine::phonemise(
        &Clause {
            body: "Welcome".into(),
            punct: Some(','),
        },
        "en-us",
    )
    .unwrap();
    assert!(p.ends_with(','), "{p}");
    assert!(p.starts_with("wˈɛlkʌm"), "{p}");
}

#[test]
fn synthesis_is_deterministic_and_the_cache_returns_identical_audio() {
    let cache = tempfile::tempdir().unwrap();
    let out = MemoryOut::new();
    let options = PlayerOptions {
        chime: false,
        gap: Duration::ZERO,
        volume: 1.0,
        cache_dir: Some(cache.path().to_path_buf()),
        ..PlayerOptions::default()
    };
    let o2 = out.clone();
    let voice = VoiceHandle::start(
        Box::new(|| Ok(shared_synth())),
        Box::new(move || Box::new(o2) as Box<dyn AudioOut>),
        options,
        Box::new(|_| {}),
    )
    .unwrap();
    let greeting = "Welcome, Zoë! Doctor Lee will be with you shortly.";
    voice.say(Kind::Greeting, greeting, None);
    assert!(voice.wait_idle(Duration::from_secs(30)));
    let first: Vec<Pcm> = std::mem::take(&mut *out.played.lock().unwrap());
    let s = voice.status();
    assert_eq!((s.cache_misses, s.cache_hits), (3, 0));
    assert_eq!(s.cache_entries, 3);

    let started = Instant::now();
    voice.say(Kind::Greeting, greeting, None);
    assert!(voice.wait_idle(Duration::from_secs(30)));
    let cached_ms = started.elapsed().as_secs_f64() * 1000.0;
    let second: Vec<Pcm> = std::mem::take(&mut *out.played.lock().unwrap());
    assert_eq!(voice.status().cache_hits, 3);
    assert_eq!(first, second, "the cache must return the same samples");
    eprintln!(
        "cached greeting end to end {cached_ms:.1} ms, first audio {:?} ms",
        voice.status().last_first_audio_ms
    );

    // Deterministic synthesis: the same text synthesised again matches too.
    let again = synth_text(greeting);
    let joined: Vec<f32> = first.iter().flat_map(|p| p.samples.clone()).collect();
    assert_eq!(again.samples, joined);
}

#[test]
fn without_models_the_voice_is_off_and_says_why() {
    let rt = one_worker_runtime();
    rt.block_on(async {
        let (clinic, _dir, _stop) = demo_clinic(0).await;
        let mut config = voice::VoiceConfig::new(_dir.path());
        config.models_dir = _dir.path().join("nothing-here");
        let handle = voice::spawn(Arc::clone(&clinic.core), config);
        let status = handle.status();
        assert_eq!(status.state, "off");
        assert!(status.reason.unwrap().contains("fetch-voice.sh"));
        assert!(!handle.say(Kind::Greeting, "Welcome, Ann!", None));
        clinic.store.close();
    });
}

#[test]
fn an_unknown_output_device_degrades_without_stopping_anything() {
    let mut out = RodioOut::new(Some("alsa:no-such-device-here".into()));
    let err = out.open().unwrap_err();
    assert!(matches!(err, VoiceError::Device(_)), "{err}");
    assert!(!out.is_open());
    assert!(voice::describe_devices().lines().count() >= 1);
}

async fn demo_clinic(
    appointments: usize,
) -> (
    Arc<appliance::clinic::Clinic>,
    tempfile::TempDir,
    tokio::sync::watch::Sender<bool>,
) {
    let c = common::clinic::demo_practice_with(|today| {
        appliance::demo::appointments(today)
            .into_iter()
            .take(appointments)
            .collect()
    })
    .await;
    (c.clinic, c.dir, c.stop)
}

/// A runtime with one worker: the voice's own threads get the other core.
fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The clinic's voice with the real model (deterministic, no chime),
/// playing into memory; `tweak` adjusts the configuration first.
fn voice_into_memory(
    clinic: &Arc<appliance::clinic::Clinic>,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut voice::VoiceConfig),
) -> (MemoryOut, voice::VoiceHandle) {
    let mut config = voice::VoiceConfig::new(dir);
    config.models_dir = models_dir();
    config.settings = SynthSettings::deterministic();
    config.chime = false;
    tweak(&mut config);
    let out = MemoryOut::new();
    let o2 = out.clone();
    let handle = voice::spawn_with(
        Arc::clone(&clinic.core),
        config,
        Box::new(move || Box::new(o2) as Box<dyn AudioOut>),
    );
    (out, handle)
}

#[test]
fn a_check_in_is_greeted_from_the_prewarmed_cache_then_called_and_billed() {
    let rt = one_worker_runtime();
    rt.block_on(async {
        use appliance::store::{self, CheckinStatus};
        let (clinic, dir, _stop) = demo_clinic(2).await;
        let (out, handle) = voice_into_memory(&clinic, dir.path(), |_| {});
        let h2 = handle.clone();
        // Loading and pre-warming today's two people.
        assert!(
            tokio::task::spawn_blocking(move || h2.wait_ready(Duration::from_secs(30))
                && h2.wait_idle(Duration::from_secs(60)))
            .await
            .unwrap()
        );
        let warmed = handle.status();
        assert_eq!(warmed.state, "ready");
        assert!(warmed.cache_entries >= 4, "{warmed:?}");

        let practice = clinic.practice();
        let (t, d) = (practice.tenant_id().to_string(), practice.today());
        let schedule = clinic
            .store
            .read(move |c| store::schedule_for_day(c, &t, &d))
            .await
            .unwrap();
        let outcome = appliance::checkin::by_appointment(
            &clinic,
            &schedule[0].appointment_id,
            appliance::store::Method::Desk,
            "staff".into(),
        )
        .await
        .unwrap();
        let appliance::checkin::Outcome::CheckedIn { checkin, .. } = outcome else {
            panic!("not checked in: {outcome:?}");
        };
        appliance::checkin::set_status(
            &clinic,
            &checkin.checkin_id,
            CheckinStatus::Called,
            Some("Room 2".into()),
            "staff".into(),
        )
        .await
        .unwrap();
        let h2 = handle.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        tokio::task::spawn_blocking(move || {
            while h2.status().spoken < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap();
        let status = handle.status();
        assert_eq!(status.spoken, 2, "{status:?}");
        assert!(!out.played.lock().unwrap().is_empty());

        // The greeting came entirely from the cache; it was billed once.
        let tenant = clinic.tenant_id();
        let mut billed = Vec::new();
        for _ in 0..100 {
            let t = tenant.clone();
            billed = clinic
                .store
                .read(move |c| store::pending_events(c, &t, 1000))
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == "billing.greeting_spoken")
                .collect::<Vec<_>>();
            if !billed.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(billed.len(), 1, "one billing event per greeting");
        assert_eq!(billed[0].payload["checkin_id"], checkin.checkin_id.as_str());
        assert_eq!(billed[0].payload["cached"], true);
        // No names leave the box in the billing event.
        assert!(
            !billed[0]
                .payload
                .to_string()
                .contains(&schedule[0].first_name)
        );
        handle.shutdown();
        clinic.store.close();
    });
}

/// Plays three announcements to ALSA's default device, which the child
/// process's `~/.asoundrc` turns into a raw file (16 kHz mono s16), then
/// reads back what reached the device.
#[test]
fn the_alsa_device_hears_each_announcement_whole_in_priority_order() {
    let models = models_dir();
    let home = tempfile::tempdir().unwrap();
    let raw = common::file_speaker(home.path());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "alsa_child", "--nocapture", "--test-threads=1"])
        .env("HOME", home.path())
        .env("SOS_MODELS_DIR", &models)
        .env("VOICE_ALSA_CHILD", &raw)
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{log}");
    for line in log.lines().filter(|l| l.contains("device heard")) {
        eprintln!("{line}");
    }
    assert!(log.contains("ALSA-CHILD-OK"), "child did not run:\n{log}");
}

const TEXTS: [(Kind, &str); 3] = [
    (
        Kind::Greeting,
        "Welcome, Annabelle! Doctor Lee will be with you shortly.",
    ),
    (Kind::Greeting, "Welcome, Bo!"),
    (Kind::Call, "Carla M., please come to Room 3."),
];

#[test]
fn alsa_child() {
    let Some(raw) = std::env::var_os("VOICE_ALSA_CHILD").map(PathBuf::from) else {
        return; // only runs inside the test above
    };
    let gap = Duration::from_millis(500);
    let voice = VoiceHandle::start(
        Box::new(|| Ok(shared_synth())),
        Box::new(|| Box::new(RodioOut::new(None)) as Box<dyn AudioOut>),
        PlayerOptions {
            chime: false,
            gap,
            volume: 1.0,
            ..PlayerOptions::default()
        },
        Box::new(|_| {}),
    )
    .unwrap();
    assert!(voice.wait_ready(Duration::from_secs(30)));
    let status = voice.status();
    assert_eq!(status.state, "ready", "{status:?}");
    assert!(status.device_ok);
    voice.set_paused(true);
    for (i, (kind, text)) in TEXTS.iter().enumerate() {
        voice.say(*kind, text, Some(i.to_string()));
    }
    voice.set_paused(false);
    assert!(voice.wait_idle(Duration::from_secs(60)));
    assert_eq!(voice.status().spoken, 3);
    assert!(voice.shutdown_and_wait(Duration::from_secs(10)));

    let bytes = std::fs::read(&raw).unwrap();
    let heard: Vec<f32> = bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    // The file-backed device is not paced: whenever the player's queue runs
    // dry (while the next clause is synthesised) it writes silence at once,
    // so compare clause by clause: split at silences of 200 ms or more.
    let got = segments(&heard, 16000, 20);
    // Calls first, then greetings in arrival order; each clause whole.
    let v = shared_voice();
    let mut expected = Vec::new();
    for i in [2, 0, 1] {
        for c in text::clauses(TEXTS[i].1) {
            let pcm = v.lock().unwrap().synth_clause(&c).unwrap();
            expected.push(voiced_span(&pcm.samples, pcm.sample_rate));
        }
    }
    eprintln!("device heard clauses {got:?}, expected {expected:?}");
    assert_eq!(
        got.len(),
        expected.len(),
        "heard {got:?}, expected {expected:?}"
    );
    for (g, e) in got.iter().zip(&expected) {
        assert!(
            (g - e).abs() <= 0.06,
            "heard {got:?}, expected {expected:?}"
        );
    }
    println!("ALSA-CHILD-OK");
}

/// The owner's volume and quiet hours arrive with the practice config (from
/// the cloud) and apply without a restart; the box's own flags are only the
/// default.
#[test]
fn the_practices_volume_and_quiet_hours_apply_live() {
    let rt = one_worker_runtime();
    rt.block_on(async {
        use appliance::store;
        let (clinic, dir, _stop) = demo_clinic(1).await;
        let (out, handle) = voice_into_memory(&clinic, dir.path(), |c| c.volume = 0.8);
        assert!(
            (handle.status().volume - 0.8).abs() < 1e-6,
            "the box's own volume first"
        );

        // The owner sets 30 % and quiet hours all day; the box reloads.
        let mut tenant = clinic
            .store
            .read(store::load_tenant)
            .await
            .unwrap()
            .unwrap();
        tenant.settings.voice_volume = Some(30);
        tenant.settings.quiet_hours = Some("00:00-23:59".into());
        clinic
            .store
            .write(move |txn| store::upsert_tenant(txn, &tenant))
            .await
            .unwrap();
        clinic.reload_practice().await.unwrap();
        let h2 = handle.clone();
        let applied = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if (h2.status().volume - 0.3).abs() < 1e-6 {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
        .await
        .unwrap();
        assert!(applied, "volume not applied: {:?}", handle.status());

        // In quiet hours nothing is played.
        handle.say(Kind::Call, "Dan B., please come to Room 1.", None);
        let h3 = handle.clone();
        assert!(
            tokio::task::spawn_blocking(move || h3.wait_idle(Duration::from_secs(60)))
                .await
                .unwrap()
        );
        let s = handle.status();
        assert_eq!(s.skipped_muted, 1, "{s:?}");
        assert_eq!(s.spoken, 0);
        assert!(out.played.lock().unwrap().is_empty());
        handle.shutdown();
        clinic.store.close();
    });
}
