//! Voice in for SOS Edge, with no product types: the box opens its
//! microphone for one utterance (`capture`), finds where the speech starts
//! and ends (`vad`), transcribes it on the box with whisper.cpp (`asr`) and
//! reads what it asks for (`intent`, `names`). What it then does (check in,
//! call a patient) is the appliance's `listen::dialog`. Audio never leaves
//! the box and is not stored unless the debug switch is on. `model`
//! converts the registry's CTranslate2 weights to ggml for whisper.cpp.
//!
//! Latency: transcription starts speculatively when the speaker pauses
//! (after the short tail whisper needs), while the end-of-speech hangover is
//! still running; if they do not resume, the result is already there when
//! the hangover ends. See docs/voice-in.md.

pub mod asr;
pub mod capture;
pub mod intent;
pub mod model;
pub mod names;
pub mod vad;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use sos_speech::memory::{self, GiveBack};

pub use asr::{Transcriber, Transcript};
pub use names::{Candidate, Weighed};
pub use vad::{EndReason, VadSettings};

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("the speech model {} is missing (run scripts/fetch-whisper.sh)", .0.display())]
    ModelMissing(PathBuf),
    #[error("the speech model {path} could not be loaded: {reason}", path = .0.display(), reason = .1)]
    Model(PathBuf, String),
    #[error("transcription failed: {0}")]
    Transcribe(String),
    #[error("microphone: {0}")]
    Device(String),
    #[error("The box is already listening. Please wait a moment and try again.")]
    Busy,
    #[error("Voice check-in is off: {0}")]
    Off(String),
}

#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub enabled: bool,
    pub model: PathBuf,
    pub microphone: Option<String>,
    pub threads: usize,
    pub vad: VadSettings,
    pub debug_keep_audio: Option<PathBuf>,
}

/// What one listening window produced.
#[derive(Debug, Clone)]
pub struct Heard {
    pub end: EndReason,
    /// None when nobody spoke (no transcription was run).
    pub transcript: Option<Transcript>,
    /// Seconds of speech transcribed (billing: voice-seconds).
    pub speech: Duration,
    /// From the end of speech being decided (hangover over) to the text.
    pub after_end: Duration,
    /// The speculative transcription was used.
    pub speculative: bool,
    /// The utterance itself, dropped once transcribed (kept on disk only
    /// with the debug switch).
    pub audio: Vec<f32>,
}

/// For `/healthz` and the desk page.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ListenStatus {
    /// "off", "ready", "listening", "error"
    pub state: String,
    pub reason: Option<String>,
    pub model: Option<String>,
    pub microphone: Option<String>,
    pub utterances: u64,
    pub last_after_end_ms: Option<f64>,
}

/// What the box expects to hear today: the recogniser's prompt (today's
/// names and providers), and the people whose names are weighed against
/// the audio of each utterance.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub prompt: String,
    pub people: Vec<Candidate>,
}

impl Expected {
    pub fn new(people: Vec<Candidate>, providers: &[String]) -> Expected {
        let mut names: Vec<String> = people.iter().map(names::full_name).collect();
        names.dedup();
        Expected {
            prompt: asr::prompt(&names, providers),
            people,
        }
    }
}

/// Today's people weighed against the audio of one utterance: the
/// nearest by letters and sound, and the ones whose name's first token the
/// audio favours most.
const WEIGH_NEAR: usize = 3;
const WEIGH_MORE: usize = 3;

/// How many of the best-weighed names are also tried across a word beside
/// the stretch when the first weighing did not settle it.
const WEIGH_WIDER: usize = 2;

/// Each name's weight in `slot`: its log-probability there minus that of
/// what was written. Weighing only sharpens the answer: if it fails, the
/// transcript alone still serves.
fn weigh_slot(
    t: &mut Transcriber,
    expected: &Expected,
    slot: &names::Slot,
    near: usize,
    more: usize,
) -> Vec<(String, f32)> {
    let spans = slot.readings();
    let w = t
        .weigh(
            &expected.prompt,
            &slot.before,
            &spans,
            &slot.after,
            near,
            more,
        )
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not weigh names against the audio");
            Vec::new()
        });
    let Some(Some(heard_lp)) = w.first() else {
        return Vec::new();
    };
    slot.names
        .iter()
        .zip(&w[1..])
        .filter_map(|(name, lp)| lp.map(|lp| (name.clone(), lp - heard_lp)))
        .collect()
}

/// When the first weighing did not settle it, the best two names may fit
/// better across a word beside the stretch. Each keeps its best fit (both
/// get the same chances); the result counts only if it settles the matter
/// by a wide margin. Nothing weighed means weighing failed: no retry.
fn weigh_wider(
    t: &mut Transcriber,
    expected: &Expected,
    slot: &names::Slot,
    first: &Weighed,
) -> Option<Weighed> {
    if first.names.is_empty() || first.clearly().is_some() {
        return None;
    }
    let mut best = first.names.clone();
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    let names: Vec<String> = best.into_iter().take(WEIGH_WIDER).map(|(n, _)| n).collect();
    let mut wider = first.clone();
    for wide in &slot.wider {
        let wide = names::Slot {
            names: names.clone(),
            ..wide.clone()
        };
        wider.keep_better(weigh_slot(t, expected, &wide, names.len(), 0));
    }
    wider
        .clearly_by(names::CLEARLY_WIDER)
        .is_some()
        .then_some(wider)
}

/// How much better the name the audio clearly says fits than the other
/// person the transcript may name instead ("Lee Murphy" for Liam
/// Murphy), at worst; `None` when there is no such name or no such
/// person (see [`names::rival_slots`]).
fn weigh_rivals(
    t: &mut Transcriber,
    expected: &Expected,
    text: &str,
    weighed: &Weighed,
    already: &[(names::Slot, Vec<(String, f32)>)],
) -> Option<f32> {
    let name = weighed.clearly()?;
    let person = expected
        .people
        .iter()
        .find(|c| names::full_name(c) == name)?;
    names::rival_slots(text, person)
        .iter()
        .map(|slot| {
            // The rival pair is often the very stretch the names were
            // weighed in ("Asha Bello" for Aisha Bello): that weight is
            // the answer, and weighing again would decode the prompt again.
            let known = already
                .iter()
                .filter(|(s, _)| {
                    (&s.before, &s.heard, &s.after) == (&slot.before, &slot.heard, &slot.after)
                })
                .find_map(|(_, w)| w.iter().find(|(n, _)| n == name).map(|w| w.1));
            // A rival that could not be weighed is not ruled out.
            known.unwrap_or_else(|| {
                weigh_slot(t, expected, slot, 1, 0)
                    .first()
                    .map_or(f32::NEG_INFINITY, |w| w.1)
            })
        })
        .reduce(f32::min)
}

/// A transcription on its way.
type Pending = mpsc::Receiver<Result<Transcript, ListenError>>;

type Job = (
    Arc<Vec<f32>>,
    Arc<Expected>,
    mpsc::Sender<Result<Transcript, ListenError>>,
);

/// Transcribes, then weighs the names nearest to what was written against
/// the same audio.
fn transcribe_and_weigh(
    t: &mut Transcriber,
    samples: &[f32],
    expected: &Expected,
) -> Result<Transcript, ListenError> {
    names::new_utterance();
    let mut heard = t.transcribe(samples, &expected.prompt)?;
    if heard.is_empty() || expected.people.is_empty() {
        return Ok(heard);
    }
    // A booked name spelled exactly, and no one else near it: nothing for
    // the audio to settle, and the person is not kept waiting for it. (If
    // a word is glued on after it, spelling asks and the audio cannot
    // settle that either: see `names::find`.)
    let by_spelling = names::find(&heard.text, &expected.people, &Weighed::default());
    if let names::NameMatch::One { score, .. } | names::NameMatch::Unsure { score, .. } =
        by_spelling
        && score >= 1.0
    {
        return Ok(heard);
    }
    if t.stopping() {
        return Err(asr::stopping());
    }
    let started = Instant::now();
    let mut slots = names::slots(&heard.text, &expected.people).into_iter();
    if let Some(nearest) = slots.next() {
        let near_weights = weigh_slot(t, expected, &nearest, WEIGH_NEAR, WEIGH_MORE);
        let mut first = Weighed::new(near_weights.clone());
        let mut already = vec![(nearest.clone(), near_weights)];
        let mut from = nearest;
        // The frame's stretch counts only when it settles the name by a
        // wide margin: a longer stretch of garbled words lifts every name
        // weighed there (see `names::CLEARLY_WIDER`). Each name then keeps
        // its better fit.
        for frame in slots {
            let here = Weighed::new(weigh_slot(t, expected, &frame, WEIGH_NEAR, WEIGH_MORE));
            already.push((frame.clone(), here.names.clone()));
            if here.clearly_by(names::CLEARLY_WIDER).is_none() {
                continue;
            }
            first.keep_better(here.names);
            from = frame;
        }
        heard.weighed = weigh_wider(t, expected, &from, &first).unwrap_or(first);
        // A rival matters only where the audio may act on a name spelling
        // alone did not settle.
        if !matches!(by_spelling, names::NameMatch::One { .. }) {
            heard.weighed.over_rivals =
                weigh_rivals(t, expected, &heard.text, &heard.weighed, &already);
        }
    }
    heard.took += started.elapsed();
    // Timing only: what was said is health information and stays out of logs.
    tracing::debug!(
        weigh_ms = started.elapsed().as_secs_f64() * 1000.0,
        names = heard.weighed.names.len(),
        "names weighed against the audio"
    );
    Ok(heard)
}

/// The recogniser on its own thread, kept warm; jobs run one at a time.
#[derive(Clone)]
pub struct Asr {
    jobs: mpsc::Sender<Job>,
    /// Disconnected once the recogniser's thread has ended (its sender is
    /// dropped with the thread).
    exited: Arc<Mutex<mpsc::Receiver<()>>>,
    /// Set by [`Asr::stop`]: the utterance in hand and every queued one end
    /// at once with [`ListenError::Off`].
    stop: Arc<AtomicBool>,
}

impl Asr {
    /// Loads the model on a new thread and waits for it; fails if it cannot
    /// be loaded (tests, benchmarks).
    pub fn start(model: &Path, threads: usize) -> Result<Asr, ListenError> {
        let (asr, ready) = Asr::spawn(model, threads)?;
        ready
            .recv()
            .map_err(|_| ListenError::Transcribe("the recogniser thread stopped".into()))??;
        Ok(asr)
    }

    /// Starts loading the model on a new thread and returns at once: jobs
    /// submitted meanwhile wait for it (the box loads it while the first
    /// person is still speaking). `ready` says when, or why not.
    pub fn spawn(
        model: &Path,
        threads: usize,
    ) -> Result<(Asr, mpsc::Receiver<Result<(), ListenError>>), ListenError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        let model = model.to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("asr".into())
            .spawn(move || {
                let _exit = exit_tx;
                let mut t = match Transcriber::load_stoppable(&model, threads, stopped) {
                    Ok(t) => {
                        let _ = ready_tx.send(Ok(()));
                        t
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = ready_tx.send(Err(e));
                        // Whoever is waiting gets the reason, not a hang.
                        while let Ok((_, _, reply)) = rx.try_recv() {
                            let _ = reply.send(Err(ListenError::Transcribe(msg.clone())));
                        }
                        return;
                    }
                };
                // Loading read the whole model file into buffers it freed.
                let mut give_back = GiveBack::default();
                give_back.worked();
                loop {
                    match rx.recv_timeout(memory::AFTER_IDLE) {
                        Ok((samples, expected, reply)) => {
                            let heard = if t.stopping() {
                                Err(asr::stopping())
                            } else {
                                transcribe_and_weigh(&mut t, &samples, &expected)
                            };
                            let _ = reply.send(heard);
                            give_back.worked();
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => give_back.when_idle(),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|e| ListenError::Transcribe(e.to_string()))?;
        Ok((
            Asr {
                jobs: tx,
                exited: Arc::new(Mutex::new(exit_rx)),
                stop,
            },
            ready_rx,
        ))
    }

    /// Ends the utterance in hand and every queued one early (the box is
    /// stopping); returns at once.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Stops the recogniser and waits at most `timeout` for its thread to
    /// be gone (whisper.cpp freed).
    fn close_and_wait(self, timeout: Duration) -> bool {
        self.stop();
        let Asr { jobs, exited, .. } = self;
        drop(jobs);
        let exited = exited.lock().unwrap_or_else(|p| p.into_inner());
        matches!(
            exited.recv_timeout(timeout),
            Err(mpsc::RecvTimeoutError::Disconnected)
        )
    }

    /// Queues a transcription; the answer arrives on the returned channel.
    pub fn submit(
        &self,
        samples: Arc<Vec<f32>>,
        expected: Arc<Expected>,
    ) -> mpsc::Receiver<Result<Transcript, ListenError>> {
        let (tx, rx) = mpsc::channel();
        if let Err(mpsc::SendError((_, _, reply))) = self.jobs.send((samples, expected, tx)) {
            let _ = reply.send(Err(ListenError::Transcribe(
                "the recogniser thread stopped".into(),
            )));
        }
        rx
    }

    /// Transcribes `samples` with `prompt` only (no names weighed).
    pub fn transcribe(&self, samples: Vec<f32>, prompt: &str) -> Result<Transcript, ListenError> {
        let expected = Expected {
            prompt: prompt.to_string(),
            people: Vec::new(),
        };
        self.submit(Arc::new(samples), Arc::new(expected))
            .recv()
            .map_err(|_| ListenError::Transcribe("the recogniser thread stopped".into()))?
    }
}

/// Listens to one utterance from `chunks` (16 kHz mono, any chunk size) and
/// transcribes it. Blocks; run it off the async runtime. `chunk_timeout`
/// bounds how long a silent device may starve us.
pub fn listen_once(
    chunks: &mpsc::Receiver<Vec<f32>>,
    settings: &VadSettings,
    asr: &Asr,
    expected: &Expected,
    chunk_timeout: Duration,
) -> Result<Heard, ListenError> {
    let expected = Arc::new(expected.clone());
    let mut ep = vad::Endpointer::new(settings.clone());
    // (speech start, last voiced) the speculative job was made for.
    let mut speculation: Option<((usize, usize), Pending)> = None;
    let end = loop {
        if asr.stopping() {
            return Err(asr::stopping());
        }
        let chunk = match chunks.recv_timeout(chunk_timeout) {
            Ok(c) => c,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(ListenError::Device(
                    "the microphone stopped sending audio".into(),
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break ep.finish(),
        };
        let events = ep.push(&chunk);
        if let Some(vad::Event::Ended(r)) = events.last() {
            break *r;
        }
        if events.contains(&vad::Event::Resumed) {
            speculation = None;
        }
        if let Some(key) = ep.settled_pause()
            && speculation.as_ref().is_none_or(|(k, _)| *k != key)
        {
            let rx = asr.submit(Arc::new(ep.speech().to_vec()), expected.clone());
            speculation = Some((key, rx));
        }
    };
    let ended_at = Instant::now();
    if end == EndReason::NoSpeech {
        return Ok(Heard {
            end,
            transcript: None,
            speech: Duration::ZERO,
            after_end: ended_at.elapsed(),
            speculative: false,
            audio: Vec::new(),
        });
    }
    let speech = ep.speech().to_vec();
    let seconds = Duration::from_secs_f32(speech.len() as f32 / vad::RATE as f32);
    let (rx, speculative) = match speculation {
        Some((key, rx)) if Some(key) == ep.speech_key() => (rx, true),
        _ => (asr.submit(Arc::new(speech.clone()), expected), false),
    };
    let transcript = rx
        .recv()
        .map_err(|_| ListenError::Transcribe("the recogniser thread stopped".into()))??;
    Ok(Heard {
        end,
        transcript: Some(transcript),
        speech: seconds,
        after_end: ended_at.elapsed(),
        speculative,
        audio: speech,
    })
}

/// The running voice-in service of one box.
#[derive(Clone)]
pub struct Listener {
    inner: Arc<Inner>,
}

struct Inner {
    /// Loaded on the first utterance, then kept warm (an idle box that is
    /// never spoken to does not carry the model's ~250 MB).
    asr: Mutex<Option<Asr>>,
    available: bool,
    /// The box is stopping: no recogniser starts any more.
    closed: AtomicBool,
    config: ListenConfig,
    busy: Mutex<()>,
    status: Mutex<ListenStatus>,
}

impl Listener {
    /// Voice in switched off, with the reason shown on `/healthz` and the desk.
    pub fn off(reason: impl Into<String>, config: ListenConfig) -> Listener {
        Listener {
            inner: Arc::new(Inner {
                asr: Mutex::new(None),
                available: false,
                closed: AtomicBool::new(false),
                status: Mutex::new(ListenStatus {
                    state: "off".into(),
                    reason: Some(reason.into()),
                    ..ListenStatus::default()
                }),
                config,
                busy: Mutex::new(()),
            }),
        }
    }

    /// Checks the model is installed; it is loaded on the first utterance.
    /// Never fails: problems leave voice in off with a reason.
    pub fn start(config: ListenConfig) -> Listener {
        if !config.enabled {
            return Listener::off("turned off by configuration", config);
        }
        if !config.model.is_file() {
            let e = ListenError::ModelMissing(config.model.clone());
            tracing::warn!(error = %e, "voice in off");
            return Listener::off(e.to_string(), config);
        }
        tracing::info!(model = %config.model.display(), "voice in ready (model loads on first use)");
        let status = ListenStatus {
            state: "ready".into(),
            model: config
                .model
                .file_name()
                .map(|f| f.to_string_lossy().into_owned()),
            microphone: Some(
                config
                    .microphone
                    .clone()
                    .unwrap_or_else(|| "default".into()),
            ),
            ..ListenStatus::default()
        };
        Listener {
            inner: Arc::new(Inner {
                asr: Mutex::new(None),
                available: true,
                closed: AtomicBool::new(false),
                status: Mutex::new(status),
                config,
                busy: Mutex::new(()),
            }),
        }
    }

    /// The warm recogniser, starting it if this is the first utterance.
    fn recogniser(&self) -> Result<Asr, ListenError> {
        let mut slot = self.inner.asr.lock().unwrap_or_else(|p| p.into_inner());
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(asr::stopping());
        }
        if let Some(asr) = slot.as_ref() {
            return Ok(asr.clone());
        }
        let (asr, _ready) = Asr::spawn(&self.inner.config.model, self.inner.config.threads)?;
        *slot = Some(asr.clone());
        Ok(asr)
    }

    /// Stops voice in before the process exits: no utterance starts any
    /// more, the recogniser finishes the one in hand and its thread ends,
    /// so whisper.cpp is never mid-inference while the C and C++ runtimes
    /// tear down. False if it took longer than `timeout`.
    pub fn shutdown_and_wait(&self, timeout: Duration) -> bool {
        self.begin_shutdown();
        let asr = {
            let mut slot = self.inner.asr.lock().unwrap_or_else(|p| p.into_inner());
            self.inner.closed.store(true, Ordering::SeqCst);
            slot.take()
        };
        asr.is_none_or(|a| a.close_and_wait(timeout))
    }

    /// The first half of [`Listener::shutdown_and_wait`], at once: no
    /// utterance starts any more and the one being heard or transcribed
    /// ends now, so the request waiting for it answers before the web
    /// server closes.
    pub fn begin_shutdown(&self) {
        let slot = self.inner.asr.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Some(asr) = slot.as_ref() {
            asr.stop();
        }
    }

    /// Forgets a recogniser that failed, so the next press tries again.
    fn drop_recogniser(&self) {
        *self.inner.asr.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn status(&self) -> ListenStatus {
        self.inner
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    fn set_state(&self, f: impl FnOnce(&mut ListenStatus)) {
        if let Ok(mut s) = self.inner.status.lock() {
            f(&mut s);
        }
    }

    /// Opens the microphone for one utterance and transcribes it. Blocking.
    pub fn hear_from_microphone(&self, expected: &Expected) -> Result<Heard, ListenError> {
        let chunks = {
            let (tx, rx) = mpsc::sync_channel::<Vec<f32>>(64);
            let mic = self.inner.config.microphone.clone();
            // The capture stream lives on its own thread (cpal streams are
            // not Send on every host) and stops when the receiver is dropped.
            let (open_tx, open_rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("microphone".into())
                .spawn(move || {
                    let cap = match capture::open(mic.as_deref()) {
                        Ok(c) => {
                            let _ = open_tx.send(Ok(c.label.clone()));
                            c
                        }
                        Err(e) => {
                            let _ = open_tx.send(Err(e));
                            return;
                        }
                    };
                    while let Ok(chunk) = cap.chunks.recv_timeout(Duration::from_secs(3)) {
                        if tx.send(chunk).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| ListenError::Device(e.to_string()))?;
            let label = open_rx
                .recv()
                .map_err(|_| ListenError::Device("the microphone thread stopped".into()))??;
            self.set_state(|s| s.microphone = Some(label));
            rx
        };
        self.hear(&chunks, expected)
    }

    /// One utterance from any 16 kHz source (the microphone, or a test's
    /// audio). Only one at a time per box: there is one microphone.
    pub fn hear(
        &self,
        chunks: &mpsc::Receiver<Vec<f32>>,
        expected: &Expected,
    ) -> Result<Heard, ListenError> {
        if !self.inner.available {
            let reason = self.status().reason.unwrap_or_default();
            return Err(ListenError::Off(reason));
        }
        let _one_at_a_time = self.inner.busy.try_lock().map_err(|_| ListenError::Busy)?;
        let asr = self.recogniser()?;
        self.set_state(|s| s.state = "listening".into());
        let heard = listen_once(
            chunks,
            &self.inner.config.vad,
            &asr,
            expected,
            Duration::from_secs(3),
        );
        if matches!(heard, Err(ListenError::Transcribe(_))) {
            self.drop_recogniser();
        }
        let mut heard = heard;
        if let Ok(h) = &mut heard {
            if let Some(dir) = &self.inner.config.debug_keep_audio {
                keep_audio(dir, &h.audio);
            }
            h.audio = Vec::new();
        }
        self.set_state(|s| {
            match &heard {
                Ok(h) => {
                    s.state = "ready".into();
                    s.reason = None;
                    s.utterances += 1;
                    s.last_after_end_ms = Some(h.after_end.as_secs_f64() * 1000.0);
                }
                Err(e) => {
                    s.state = "error".into();
                    s.reason = Some(e.to_string());
                }
            };
        });
        heard
    }
}

/// Debug switch only: writes the utterance as a WAV. Never on by default.
fn keep_audio(dir: &Path, samples: &[f32]) {
    if samples.is_empty() {
        return;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: vad::RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let path = dir.join(format!("utterance-{}.wav", uuid::Uuid::now_v7()));
    let written = std::fs::create_dir_all(dir)
        .map_err(|e| e.to_string())
        .and_then(|_| hound::WavWriter::create(&path, spec).map_err(|e| e.to_string()))
        .and_then(|mut w| {
            for &s in samples {
                w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                    .map_err(|e| e.to_string())?;
            }
            w.finalize().map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::warn!(error = %e, "debug: could not keep the utterance");
    }
}
