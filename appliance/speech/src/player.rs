//! The voice thread: one announcement at a time, highest priority first,
//! synthesised clause by clause (from the phrase cache when it can) and
//! streamed to the output so the first clause plays while the next is being
//! synthesised. Idle time goes to pre-warming the cache.

use std::collections::VecDeque;
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::VoiceError;
use crate::cache::{self, Pcm, PhraseCache};
use crate::engine::Synth;
use crate::memory::GiveBack;
use crate::text::{self, Clause};

/// What kind of announcement; calls go before greetings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Greeting,
    Call,
    /// The box answering someone who spoke to it ("What time is your
    /// appointment?"): they are waiting for it, like a call.
    Reply,
}

impl Kind {
    fn priority(self) -> u8 {
        match self {
            Kind::Greeting => 1,
            Kind::Call | Kind::Reply => 2,
        }
    }
}

#[derive(Debug, Clone)]
struct Request {
    seq: u64,
    kind: Kind,
    text: String,
    checkin_id: Option<String>,
    enqueued: Instant,
}

/// A greeting or call that was played to the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spoken {
    pub kind: Kind,
    pub checkin_id: Option<String>,
    /// All clauses came from the phrase cache.
    pub cached: bool,
    pub audio_ms: u64,
    /// From the request to the first sample handed to the output.
    pub first_audio_ms: f64,
}

/// Where audio goes: a real device (rodio) or, in tests, memory.
pub trait AudioOut {
    /// (Re)opens the output; returns a description of the device.
    fn open(&mut self) -> Result<String, VoiceError>;
    fn is_open(&self) -> bool;
    /// Queues audio behind what is already queued; does not wait.
    fn play(&mut self, pcm: &Pcm, volume: f32) -> Result<(), VoiceError>;
    /// Waits until everything queued has been played.
    fn drain(&mut self) -> Result<(), VoiceError>;
}

/// Quiet hours in the practice's local time, e.g. 22:00-07:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start_min: u16,
    pub end_min: u16,
}

impl std::str::FromStr for QuietHours {
    type Err = VoiceError;

    fn from_str(s: &str) -> Result<QuietHours, VoiceError> {
        let bad = || {
            VoiceError::Config(format!(
                "quiet hours must look like 22:00-07:00 (got \"{s}\")"
            ))
        };
        let minutes = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        Ok(QuietHours {
            start_min: minutes(a).ok_or_else(bad)?,
            end_min: minutes(b).ok_or_else(bad)?,
        })
    }
}

impl QuietHours {
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.start_min <= self.end_min {
            (self.start_min..self.end_min).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start_min || minute_of_day < self.end_min
        }
    }
}

/// How the voice thread behaves.
#[derive(Clone)]
pub struct PlayerOptions {
    /// 0.0 ..= 1.0
    pub volume: f32,
    pub chime: bool,
    /// A WAV chime instead of the built-in two-tone one.
    pub chime_file: Option<std::path::PathBuf>,
    /// Greetings waiting longer than this are dropped, not played late.
    pub max_greeting_age: Duration,
    pub max_chars: usize,
    pub quiet_hours: Option<QuietHours>,
    pub timezone: jiff::tz::TimeZone,
    /// Silence after each announcement.
    pub gap: Duration,
    /// How often to try a missing or failed output device again.
    pub device_retry: Duration,
    pub cache_dir: Option<std::path::PathBuf>,
    pub cache_max_bytes: u64,
    pub cache_max_age: Duration,
    /// Shown in the status.
    pub voice_name: Option<String>,
}

impl Default for PlayerOptions {
    fn default() -> Self {
        PlayerOptions {
            volume: 0.8,
            chime: true,
            chime_file: None,
            max_greeting_age: Duration::from_secs(8),
            max_chars: text::DEFAULT_MAX_CHARS,
            quiet_hours: None,
            timezone: jiff::tz::TimeZone::UTC,
            gap: Duration::from_millis(300),
            device_retry: Duration::from_secs(15),
            cache_dir: None,
            cache_max_bytes: 64 << 20,
            cache_max_age: Duration::from_secs(2 * 24 * 3600),
            voice_name: None,
        }
    }
}

/// The voice's state for `/healthz` and the front desk. Never holds text.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VoiceStatus {
    /// "off", "loading", "ready", "no_device", "error"
    pub state: String,
    /// Plain-language reason when not "ready".
    pub reason: Option<String>,
    pub voice: Option<String>,
    pub device: Option<String>,
    pub device_ok: bool,
    pub muted: bool,
    pub paused: bool,
    pub quiet_now: bool,
    pub volume: f32,
    pub queued: usize,
    pub spoken: u64,
    pub dropped_stale: u64,
    pub skipped_muted: u64,
    pub skipped_no_device: u64,
    /// Announcements handed to the fallback (the TV page) for lack of a speaker.
    pub sent_to_fallback: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_entries: usize,
    pub prewarm_pending: usize,
    pub last_first_audio_ms: Option<f64>,
    pub last_error: Option<String>,
}

type RenderReply = std::sync::mpsc::Sender<Result<Vec<u8>, VoiceError>>;

/// An announcement that no speaker could play, as a WAV for another player
/// (the lobby TV page plays it through the TV's own speakers).
#[derive(Debug, Clone)]
pub struct Fallback {
    pub kind: Kind,
    pub checkin_id: Option<String>,
    /// 16-bit mono WAV.
    pub wav: Arc<[u8]>,
}

type FallbackFn = Arc<dyn Fn(Fallback) + Send + Sync>;

struct Inner {
    requests: Vec<Request>,
    renders: VecDeque<(String, RenderReply)>,
    fallback: Option<FallbackFn>,
    prewarm: VecDeque<Clause>,
    next_seq: u64,
    stop: bool,
    paused: bool,
    muted: bool,
    /// Live settings (the practice can change them from the cloud).
    volume: f32,
    quiet_hours: Option<QuietHours>,
    status: VoiceStatus,
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Control of the running voice. Cheap to clone.
#[derive(Clone)]
pub struct VoiceHandle {
    shared: Arc<Shared>,
    max_chars: usize,
}

pub type SynthFactory = Box<dyn FnOnce() -> Result<Box<dyn Synth>, VoiceError> + Send>;
pub type OutFactory = Box<dyn FnOnce() -> Box<dyn AudioOut> + Send>;
pub type OnSpoken = Box<dyn Fn(Spoken) + Send>;

impl VoiceHandle {
    /// A handle for a voice that is off: everything is accepted and ignored,
    /// and the status says why.
    pub fn off(reason: impl Into<String>) -> VoiceHandle {
        let handle = VoiceHandle::new_shared(text::DEFAULT_MAX_CHARS);
        {
            let mut inner = handle.shared.lock();
            inner.stop = true;
            inner.status.state = "off".into();
            inner.status.reason = Some(reason.into());
        }
        handle
    }

    fn new_shared(max_chars: usize) -> VoiceHandle {
        VoiceHandle {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    requests: Vec::new(),
                    renders: VecDeque::new(),
                    fallback: None,
                    prewarm: VecDeque::new(),
                    next_seq: 0,
                    stop: false,
                    paused: false,
                    muted: false,
                    volume: 1.0,
                    quiet_hours: None,
                    status: VoiceStatus {
                        state: "loading".into(),
                        ..VoiceStatus::default()
                    },
                }),
                cv: Condvar::new(),
            }),
            max_chars,
        }
    }

    /// Starts the voice thread. The voice is loaded and the output opened on
    /// that thread, so this returns at once.
    pub fn start(
        synth: SynthFactory,
        out: OutFactory,
        options: PlayerOptions,
        on_spoken: OnSpoken,
    ) -> Result<VoiceHandle, VoiceError> {
        let handle = VoiceHandle::new_shared(options.max_chars);
        {
            let mut inner = handle.shared.lock();
            inner.volume = options.volume.clamp(0.0, 1.0);
            inner.quiet_hours = options.quiet_hours;
            inner.status.volume = inner.volume;
            inner.status.voice = options.voice_name.clone();
        }
        let shared = Arc::clone(&handle.shared);
        std::thread::Builder::new()
            .name("voice".into())
            .spawn(move || Worker::run(shared, synth, out, options, on_spoken))
            .map_err(|e| VoiceError::Runtime(format!("cannot start the voice thread: {e}")))?;
        Ok(handle)
    }

    /// Queues an announcement. Returns false when the voice is off.
    pub fn say(&self, kind: Kind, text: &str, checkin_id: Option<String>) -> bool {
        let mut inner = self.shared.lock();
        if inner.stop {
            return false;
        }
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner.requests.push(Request {
            seq,
            kind,
            text: text.to_string(),
            checkin_id,
            enqueued: Instant::now(),
        });
        inner.status.queued = inner.requests.len();
        drop(inner);
        self.shared.cv.notify_all();
        true
    }

    /// Queues texts whose clauses should be in the cache before they are
    /// needed (synthesised only while nothing else is to be said).
    pub fn prewarm<I: IntoIterator<Item = String>>(&self, texts: I) {
        let mut inner = self.shared.lock();
        if inner.stop {
            return;
        }
        for t in texts {
            for clause in text::clauses(&text::sanitise(&t, self.max_chars)) {
                if !inner.prewarm.contains(&clause) {
                    inner.prewarm.push_back(clause);
                }
            }
        }
        inner.status.prewarm_pending = inner.prewarm.len();
        drop(inner);
        self.shared.cv.notify_all();
    }

    /// Synthesises `text` to a 16-bit mono WAV without playing it (a TV page
    /// or the desk's preview). Blocking: call from `spawn_blocking`.
    pub fn render_wav(&self, text: &str, timeout: Duration) -> Result<Vec<u8>, VoiceError> {
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let mut inner = self.shared.lock();
            if inner.stop {
                return Err(VoiceError::Config(
                    inner
                        .status
                        .reason
                        .clone()
                        .unwrap_or_else(|| "the voice is off".into()),
                ));
            }
            inner.renders.push_back((text.to_string(), tx));
        }
        self.shared.cv.notify_all();
        rx.recv_timeout(timeout)
            .map_err(|_| VoiceError::Synthesis("the voice did not answer in time".into()))?
    }

    /// Where announcements go when no speaker works (e.g. a broadcast to the
    /// lobby TV pages, which play the WAV themselves).
    pub fn set_fallback(&self, f: impl Fn(Fallback) + Send + Sync + 'static) {
        self.shared.lock().fallback = Some(Arc::new(f));
    }

    /// Volume 0..=1 from now on (the practice's setting, from the cloud).
    pub fn set_volume(&self, volume: f32) {
        let mut inner = self.shared.lock();
        inner.volume = volume.clamp(0.0, 1.0);
        inner.status.volume = inner.volume;
    }

    /// Quiet hours from now on (the practice's setting, from the cloud).
    pub fn set_quiet_hours(&self, quiet: Option<QuietHours>) {
        self.shared.lock().quiet_hours = quiet;
    }

    /// The front desk's "mute voice" switch: while muted, announcements are
    /// discarded (not played later).
    pub fn set_muted(&self, muted: bool) {
        let mut inner = self.shared.lock();
        inner.muted = muted;
        inner.status.muted = muted;
    }

    /// Holds announcements in the queue (staff taking over) until resumed.
    pub fn set_paused(&self, paused: bool) {
        let mut inner = self.shared.lock();
        inner.paused = paused;
        inner.status.paused = paused;
        drop(inner);
        self.shared.cv.notify_all();
    }

    pub fn status(&self) -> VoiceStatus {
        self.shared.lock().status.clone()
    }

    /// True once the voice is loaded (or has failed / is off).
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.status.state == "loading" {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .shared
                .cv
                .wait_timeout(inner, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }

    /// Waits until nothing is queued or being said (tests, benchmarks).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        loop {
            // Pre-warming only runs once the voice is loaded and ready.
            let warming = inner.status.state == "ready"
                && (!inner.prewarm.is_empty() || inner.status.prewarm_pending > 0);
            let busy = !inner.requests.is_empty() || inner.status.queued > 0;
            if !(busy || warming || inner.status.state == "loading") {
                break;
            }
            if inner.stop {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .shared
                .cv
                .wait_timeout(inner, left.min(Duration::from_millis(50)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }

    /// Stops the voice thread after the current announcement.
    pub fn shutdown(&self) {
        self.shared.lock().stop = true;
        self.shared.cv.notify_all();
    }

    /// Stops the voice thread and waits until it has closed the output.
    pub fn shutdown_and_wait(&self, timeout: Duration) -> bool {
        self.shutdown();
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while !matches!(inner.status.state.as_str(), "stopped" | "off" | "error") {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .shared
                .cv
                .wait_timeout(inner, left.min(Duration::from_millis(50)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }
}

enum Job {
    Speak(Request),
    Render(String, RenderReply),
    Prewarm(Clause),
}

struct Worker {
    shared: Arc<Shared>,
    /// Loaded when first needed: at start if a speaker works, else when
    /// there is something to say (a box without speakers never loads it).
    synth: Option<Box<dyn Synth>>,
    factory: Option<SynthFactory>,
    out: Box<dyn AudioOut>,
    options: PlayerOptions,
    cache: Option<PhraseCache>,
    chime: Option<Pcm>,
    last_open_attempt: Option<Instant>,
    last_sweep: Instant,
    give_back: GiveBack,
    on_spoken: OnSpoken,
}

impl Worker {
    fn run(
        shared: Arc<Shared>,
        synth: SynthFactory,
        out: OutFactory,
        options: PlayerOptions,
        on_spoken: OnSpoken,
    ) {
        let cache = options.cache_dir.as_ref().and_then(|dir| {
            PhraseCache::open(dir, options.cache_max_bytes, options.cache_max_age)
                .map_err(|e| tracing::warn!(error = %e, "phrase cache unavailable; synthesising every time"))
                .ok()
        });
        let mut worker = Worker {
            shared,
            synth: None,
            factory: Some(synth),
            out: out(),
            options,
            cache,
            chime: None,
            last_open_attempt: None,
            last_sweep: Instant::now(),
            give_back: GiveBack::default(),
            on_spoken,
        };
        worker.try_open();
        {
            let mut inner = worker.shared.lock();
            inner.status.cache_entries = worker.cache.as_ref().map_or(0, PhraseCache::len);
        }
        worker.shared.cv.notify_all();
        while let Some(job) = worker.next_job() {
            match job {
                Job::Speak(r) => worker.speak(r),
                Job::Render(text, reply) => {
                    let _ = reply.send(worker.wav_of(&text));
                }
                Job::Prewarm(c) => worker.prewarm(&c),
            }
            worker.shared.cv.notify_all();
            worker.give_back.worked();
        }
        // Close the device before saying so (a file-backed device flushes).
        let Worker { out, shared, .. } = worker;
        drop(out);
        shared.lock().status.state = "stopped".into();
        shared.cv.notify_all();
    }

    /// The voice, loading it on first use. A failure to load turns the
    /// voice off for good (status "error").
    fn synth(&mut self) -> Result<&mut Box<dyn Synth>, VoiceError> {
        if self.synth.is_none() {
            let Some(factory) = self.factory.take() else {
                return Err(VoiceError::Runtime("the voice could not be loaded".into()));
            };
            match factory() {
                Ok(synth) => {
                    let rate = synth.sample_rate();
                    self.chime = self.options.chime.then(|| match &self.options.chime_file {
                        Some(path) => load_wav(path).unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "chime file unusable; using the built-in chime");
                            chime(rate)
                        }),
                        None => chime(rate),
                    });
                    self.synth = Some(synth);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "voice off: the voice could not be loaded");
                    let mut inner = self.shared.lock();
                    inner.stop = true;
                    inner.requests.clear();
                    inner.prewarm.clear();
                    inner.status.queued = 0;
                    inner.status.state = "error".into();
                    inner.status.reason = Some(format!("the voice could not be loaded: {e}"));
                    drop(inner);
                    self.shared.cv.notify_all();
                    return Err(e);
                }
            }
        }
        self.synth
            .as_mut()
            .ok_or_else(|| VoiceError::Runtime("the voice could not be loaded".into()))
    }

    fn try_open(&mut self) {
        self.last_open_attempt = Some(Instant::now());
        let result = self.out.open();
        match result {
            Ok(device) => {
                // A working speaker: load the voice now so it is warm.
                if self.synth().is_err() {
                    return;
                }
                tracing::info!(device = %device, "voice ready: speaking on this output");
                let mut inner = self.shared.lock();
                inner.status.state = "ready".into();
                inner.status.reason = None;
                inner.status.device = Some(device);
                inner.status.device_ok = true;
            }
            Err(e) => {
                let mut inner = self.shared.lock();
                if inner.status.state != "no_device" {
                    tracing::warn!(error = %e, "voice has no working speaker; the box keeps running without sound");
                }
                inner.status.state = "no_device".into();
                inner.status.reason = Some(format!("no working speaker: {e}"));
                inner.status.device_ok = false;
                inner.status.last_error = Some(e.to_string());
            }
        }
    }

    fn next_job(&mut self) -> Option<Job> {
        let shared = Arc::clone(&self.shared);
        let mut inner = shared.lock();
        loop {
            if inner.stop {
                return None;
            }
            if !inner.paused {
                // Stale greetings are dropped rather than played late.
                let max_age = self.options.max_greeting_age;
                let before = inner.requests.len();
                inner
                    .requests
                    .retain(|r| r.kind != Kind::Greeting || r.enqueued.elapsed() <= max_age);
                let dropped = before - inner.requests.len();
                inner.status.dropped_stale += dropped as u64;
                if dropped > 0 {
                    tracing::info!(dropped, "dropped greetings that waited too long");
                }
                let best = inner
                    .requests
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, r)| (r.kind.priority(), std::cmp::Reverse(r.seq)))
                    .map(|(i, _)| i);
                if let Some(i) = best {
                    let r = inner.requests.remove(i);
                    // Still counted as queued until it has been said.
                    inner.status.queued = inner.requests.len() + 1;
                    return Some(Job::Speak(r));
                }
                if let Some((text, reply)) = inner.renders.pop_front() {
                    return Some(Job::Render(text, reply));
                }
                if let Some(c) = self
                    .synth
                    .is_some()
                    .then(|| inner.prewarm.pop_front())
                    .flatten()
                {
                    inner.status.prewarm_pending = inner.prewarm.len() + 1;
                    return Some(Job::Prewarm(c));
                }
                inner.status.queued = 0;
                inner.status.prewarm_pending = 0;
            }
            if self.give_back.is_due() {
                // Not under the lock: whoever queues the next greeting
                // must not wait for the trim.
                drop(inner);
                self.give_back.when_idle();
                inner = shared.lock();
                continue;
            }
            inner = shared
                .cv
                .wait_timeout(inner, Duration::from_secs(1))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    fn quiet_now(&self) -> bool {
        let Some(q) = self.shared.lock().quiet_hours else {
            return false;
        };
        let now = jiff::Timestamp::now().to_zoned(self.options.timezone.clone());
        q.contains(now.hour() as u16 * 60 + now.minute() as u16)
    }

    /// A clause's audio from the cache, or synthesised and then cached.
    fn clause_audio(&mut self, clause: &Clause) -> Result<(Pcm, bool), VoiceError> {
        let key = cache::key(self.synth()?.tag(), &clause.text());
        if let Some(pcm) = self.cache.as_mut().and_then(|c| c.get(&key)) {
            return Ok((pcm, true));
        }
        let pcm = self.synth()?.synth_clause(clause)?;
        if let Some(cache) = self.cache.as_mut()
            && let Err(e) = cache.put(&key, &pcm)
        {
            tracing::warn!(error = %e, "could not store a phrase in the cache");
        }
        Ok((pcm, false))
    }

    /// The whole text as a 16-bit mono WAV (through the cache).
    fn wav_of(&mut self, text: &str) -> Result<Vec<u8>, VoiceError> {
        let mut samples = Vec::new();
        let mut rate = self.synth()?.sample_rate();
        for clause in text::clauses(&text::sanitise(text, self.options.max_chars)) {
            let (pcm, _) = self.clause_audio(&clause)?;
            rate = pcm.sample_rate;
            samples.extend(pcm.samples);
        }
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let err = |e: hound::Error| VoiceError::Synthesis(format!("wav: {e}"));
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut buf, spec).map_err(err)?;
        for s in samples {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                .map_err(err)?;
        }
        w.finalize().map_err(err)?;
        Ok(buf.into_inner())
    }

    fn prewarm(&mut self, clause: &Clause) {
        // Spoken names must not linger: expire old entries now and then.
        if self.last_sweep.elapsed() > Duration::from_secs(3600) {
            self.last_sweep = Instant::now();
            let max_age = self.options.cache_max_age;
            if let Some(cache) = self.cache.as_mut() {
                cache.expire(max_age);
            }
        }
        let Some(tag) = self.synth.as_ref().map(|s| s.tag().to_string()) else {
            return;
        };
        let key = cache::key(&tag, &clause.text());
        if self.cache.as_ref().is_none_or(|c| c.contains(&key)) {
            return;
        }
        let started = Instant::now();
        if let Err(e) = self.clause_audio(clause) {
            tracing::warn!(error = %e, "could not pre-synthesise a phrase");
        }
        // Low priority: rest as long as the work took (an announcement
        // arriving meanwhile wakes the thread at once).
        let rest = started.elapsed();
        {
            let inner = self.shared.lock();
            if inner.requests.is_empty() && !inner.stop {
                let _ = self.shared.cv.wait_timeout(inner, rest);
            }
        }
        let entries = self.cache.as_ref().map_or(0, PhraseCache::len);
        let mut inner = self.shared.lock();
        inner.status.cache_entries = entries;
        inner.status.prewarm_pending = inner.prewarm.len();
    }

    fn finish(&self, update: impl FnOnce(&mut VoiceStatus)) {
        let mut inner = self.shared.lock();
        update(&mut inner.status);
        inner.status.queued = inner.requests.len();
        inner.status.cache_entries = self.cache.as_ref().map_or(0, PhraseCache::len);
    }

    fn speak(&mut self, r: Request) {
        let quiet = self.quiet_now();
        let muted = self.shared.lock().muted;
        self.shared.lock().status.quiet_now = quiet;
        if muted || quiet {
            self.finish(|s| s.skipped_muted += 1);
            return;
        }
        if !self.out.is_open()
            && self
                .last_open_attempt
                .is_none_or(|t| t.elapsed() >= self.options.device_retry)
        {
            self.try_open();
        }
        if !self.out.is_open() {
            let fallback = self.shared.lock().fallback.clone();
            match fallback.map(|f| (f, self.wav_of(&r.text))) {
                Some((f, Ok(wav))) => {
                    f(Fallback {
                        kind: r.kind,
                        checkin_id: r.checkin_id,
                        wav: wav.into(),
                    });
                    self.finish(|s| s.sent_to_fallback += 1);
                }
                Some((_, Err(e))) => {
                    tracing::warn!(error = %e, "could not synthesise an announcement");
                    self.finish(|s| s.skipped_no_device += 1);
                }
                None => self.finish(|s| s.skipped_no_device += 1),
            }
            return;
        }
        let clauses = text::clauses(&text::sanitise(&r.text, self.options.max_chars));
        if clauses.is_empty() {
            self.finish(|_| {});
            return;
        }
        let volume = self.shared.lock().volume;
        let mut first_audio_ms = None;
        let mut all_cached = true;
        let mut samples = 0usize;
        let mut rate = match self.synth() {
            Ok(s) => s.sample_rate(),
            Err(_) => return,
        };
        let mut failure = None;
        if let Some(chime) = self.chime.clone() {
            if let Err(e) = self.out.play(&chime, volume) {
                failure = Some(e);
            } else {
                first_audio_ms = Some(r.enqueued.elapsed().as_secs_f64() * 1000.0);
            }
        }
        for clause in &clauses {
            if failure.is_some() {
                break;
            }
            let (pcm, cached) = match self.clause_audio(clause) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "could not synthesise an announcement");
                    failure = Some(e);
                    break;
                }
            };
            all_cached &= cached;
            {
                let mut inner = self.shared.lock();
                if cached {
                    inner.status.cache_hits += 1;
                } else {
                    inner.status.cache_misses += 1;
                }
            }
            samples += pcm.samples.len();
            rate = pcm.sample_rate;
            if let Err(e) = self.out.play(&pcm, volume) {
                failure = Some(e);
                break;
            }
            if first_audio_ms.is_none() {
                first_audio_ms = Some(r.enqueued.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if failure.is_none() && !self.options.gap.is_zero() {
            let gap = Pcm {
                sample_rate: rate,
                samples: vec![0.0; (self.options.gap.as_secs_f64() * f64::from(rate)) as usize],
            };
            if let Err(e) = self.out.play(&gap, volume) {
                failure = Some(e);
            }
        }
        let drained = self.out.drain();
        match failure.or(drained.err()) {
            Some(e) => {
                tracing::warn!(error = %e, "an announcement could not be played");
                let device_error = matches!(e, VoiceError::Device(_));
                self.finish(|s| {
                    s.last_error = Some(e.to_string());
                    if device_error {
                        s.device_ok = false;
                        s.state = "no_device".into();
                        s.reason = Some(format!("the speaker stopped working: {e}"));
                    }
                });
            }
            None => {
                let spoken = Spoken {
                    kind: r.kind,
                    checkin_id: r.checkin_id,
                    cached: all_cached,
                    audio_ms: (samples as u64 * 1000) / u64::from(rate.max(1)),
                    first_audio_ms: first_audio_ms.unwrap_or_default(),
                };
                self.finish(|s| {
                    s.spoken += 1;
                    s.last_first_audio_ms = first_audio_ms;
                });
                (self.on_spoken)(spoken);
            }
        }
    }
}

/// A short two-tone chime (no downloaded media), at `rate`.
pub fn chime(rate: u32) -> Pcm {
    let rate_f = rate as f32;
    let mut samples = Vec::new();
    for (freq, secs) in [(659.25f32, 0.14f32), (880.0, 0.22)] {
        let n = (secs * rate_f) as usize;
        for i in 0..n {
            let t = i as f32 / rate_f;
            let attack = (t / 0.01).min(1.0);
            let decay = (-(t / secs) * 3.0).exp();
            let s = (2.0 * std::f32::consts::PI * freq * t).sin()
                + 0.3 * (2.0 * std::f32::consts::PI * 2.0 * freq * t).sin();
            samples.push(0.25 * attack * decay * s);
        }
    }
    samples.extend(std::iter::repeat_n(0.0, (0.12 * rate_f) as usize));
    Pcm {
        sample_rate: rate,
        samples,
    }
}

/// A mono or stereo WAV, downmixed (no resampling: the output resamples).
fn load_wav(path: &std::path::Path) -> Result<Pcm, VoiceError> {
    let err = |e: String| VoiceError::Config(format!("chime {}: {e}", path.display()));
    let mut reader = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| err(e.to_string()))?
        }
    };
    if raw.len() > 10 * spec.sample_rate as usize * channels {
        return Err(err("longer than 10 seconds".into()));
    }
    let samples = raw
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok(Pcm {
        sample_rate: spec.sample_rate,
        samples,
    })
}

/// The speakers, through rodio. `device` is a cpal device id such as
/// `alsa:default` or `alsa:hw:CARD=Headphones,DEV=0`, a device name, or
/// None for the system default.
pub struct RodioOut {
    device: Option<String>,
    sink: Option<(rodio::MixerDeviceSink, rodio::Player)>,
    failed: Arc<AtomicBool>,
    queued: Duration,
}

impl RodioOut {
    pub fn new(device: Option<String>) -> RodioOut {
        RodioOut {
            device,
            sink: None,
            failed: Arc::new(AtomicBool::new(false)),
            queued: Duration::ZERO,
        }
    }
}

pub use crate::audio::DeviceInfo;

/// The output devices the audio host offers.
pub fn output_devices() -> Result<Vec<DeviceInfo>, VoiceError> {
    crate::audio::list(crate::audio::Direction::Output).map_err(VoiceError::Device)
}

fn find_device(selector: Option<&str>) -> Result<rodio::Device, VoiceError> {
    crate::audio::find(crate::audio::Direction::Output, selector).map_err(VoiceError::Device)
}

impl AudioOut for RodioOut {
    fn open(&mut self) -> Result<String, VoiceError> {
        use rodio::cpal::traits::DeviceTrait;
        self.sink = None;
        self.failed.store(false, Ordering::SeqCst);
        let device = find_device(self.device.as_deref())?;
        let label = device
            .id()
            .map(|i| i.to_string())
            .unwrap_or_else(|_| device.to_string());
        let failed = Arc::clone(&self.failed);
        let mut sink = rodio::DeviceSinkBuilder::from_device(device)
            .map_err(|e| VoiceError::Device(format!("{label}: {e}")))?
            .with_error_callback(move |_e| failed.store(true, Ordering::SeqCst))
            .open_sink_or_fallback()
            .map_err(|e| VoiceError::Device(format!("{label}: {e}")))?;
        sink.log_on_drop(false);
        let player = rodio::Player::connect_new(sink.mixer());
        self.sink = Some((sink, player));
        self.queued = Duration::ZERO;
        Ok(label)
    }

    fn is_open(&self) -> bool {
        self.sink.is_some() && !self.failed.load(Ordering::SeqCst)
    }

    fn play(&mut self, pcm: &Pcm, volume: f32) -> Result<(), VoiceError> {
        let Some((_, player)) = &self.sink else {
            return Err(VoiceError::Device("the speaker is not open".into()));
        };
        let rate = NonZero::new(pcm.sample_rate)
            .ok_or_else(|| VoiceError::Synthesis("sample rate 0".into()))?;
        let channels =
            NonZero::new(1u16).ok_or_else(|| VoiceError::Synthesis("channels".into()))?;
        player.set_volume(volume.clamp(0.0, 1.0));
        player.append(rodio::buffer::SamplesBuffer::new(
            channels,
            rate,
            pcm.samples.clone(),
        ));
        self.queued += pcm.duration();
        Ok(())
    }

    fn drain(&mut self) -> Result<(), VoiceError> {
        let Some((_, player)) = &self.sink else {
            return Err(VoiceError::Device("the speaker is not open".into()));
        };
        let deadline = Instant::now() + self.queued + Duration::from_secs(3);
        self.queued = Duration::ZERO;
        while !player.empty() {
            if self.failed.load(Ordering::SeqCst) {
                self.sink = None;
                return Err(VoiceError::Device(
                    "the audio device reported an error".into(),
                ));
            }
            if Instant::now() > deadline {
                self.sink = None;
                return Err(VoiceError::Device(
                    "the audio device stopped consuming audio".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Let the device's own buffer (about 50 ms) play out.
        std::thread::sleep(Duration::from_millis(60));
        Ok(())
    }
}

/// Records what would have been played (tests).
#[derive(Clone, Default)]
pub struct MemoryOut {
    pub played: Arc<Mutex<Vec<Pcm>>>,
    pub fail_open: bool,
    open: bool,
}

impl MemoryOut {
    pub fn new() -> MemoryOut {
        MemoryOut::default()
    }

    pub fn failing() -> MemoryOut {
        MemoryOut {
            fail_open: true,
            ..MemoryOut::default()
        }
    }
}

impl AudioOut for MemoryOut {
    fn open(&mut self) -> Result<String, VoiceError> {
        if self.fail_open {
            return Err(VoiceError::Device("no such device".into()));
        }
        self.open = true;
        Ok("memory".into())
    }

    fn is_open(&self) -> bool {
        self.open
    }

    fn play(&mut self, pcm: &Pcm, volume: f32) -> Result<(), VoiceError> {
        let mut pcm = pcm.clone();
        for s in &mut pcm.samples {
            *s *= volume;
        }
        self.played
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pcm);
        Ok(())
    }

    fn drain(&mut self) -> Result<(), VoiceError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample per character, valued by the clause's first letter, so
    /// what was played can be read back.
    struct Fake;

    impl Synth for Fake {
        fn tag(&self) -> &str {
            "fake"
        }
        fn sample_rate(&self) -> u32 {
            1000
        }
        fn synth_clause(&mut self, clause: &Clause) -> Result<Pcm, VoiceError> {
            let first = clause.body.chars().next().unwrap_or(' ') as u32 as f32;
            Ok(Pcm {
                sample_rate: 1000,
                samples: vec![first / 1000.0; clause.text().chars().count()],
            })
        }
    }

    fn options() -> PlayerOptions {
        PlayerOptions {
            volume: 1.0,
            chime: false,
            gap: Duration::ZERO,
            ..PlayerOptions::default()
        }
    }

    fn start(out: MemoryOut, options: PlayerOptions) -> (VoiceHandle, Arc<Mutex<Vec<Spoken>>>) {
        let spoken = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&spoken);
        let handle = VoiceHandle::start(
            Box::new(|| Ok(Box::new(Fake) as Box<dyn Synth>)),
            Box::new(move || Box::new(out) as Box<dyn AudioOut>),
            options,
            Box::new(move |s| s2.lock().unwrap().push(s)),
        )
        .unwrap();
        assert!(handle.wait_ready(Duration::from_secs(5)));
        (handle, spoken)
    }

    /// First letters of the clauses played, in order.
    fn heard(out: &MemoryOut) -> String {
        out.played
            .lock()
            .unwrap()
            .iter()
            .map(|p| char::from_u32((p.samples[0] * 1000.0).round() as u32).unwrap_or('?'))
            .collect()
    }

    #[test]
    fn a_call_goes_before_queued_greetings_one_at_a_time() {
        let out = MemoryOut::new();
        let (voice, spoken) = start(out.clone(), options());
        voice.set_paused(true);
        voice.say(Kind::Greeting, "Welcome, Ann!", Some("a".into()));
        voice.say(Kind::Greeting, "Hello, Bob!", Some("b".into()));
        voice.say(
            Kind::Call,
            "Carla M., please come to Room 3.",
            Some("c".into()),
        );
        assert_eq!(voice.status().queued, 3);
        voice.set_paused(false);
        assert!(voice.wait_idle(Duration::from_secs(5)));
        // Carla's call, then Ann's greeting, then Bob's: whole announcements.
        assert_eq!(heard(&out), "CpWAHB");
        let ids: Vec<_> = spoken
            .lock()
            .unwrap()
            .iter()
            .map(|s| (s.kind, s.checkin_id.clone().unwrap()))
            .collect();
        assert_eq!(
            ids,
            [
                (Kind::Call, "c".to_string()),
                (Kind::Greeting, "a".to_string()),
                (Kind::Greeting, "b".to_string())
            ]
        );
        assert_eq!(voice.status().spoken, 3);
    }

    #[test]
    fn stale_greetings_are_dropped_and_calls_are_not() {
        let out = MemoryOut::new();
        let (voice, _) = start(
            out.clone(),
            PlayerOptions {
                max_greeting_age: Duration::from_millis(50),
                ..options()
            },
        );
        voice.set_paused(true);
        voice.say(Kind::Greeting, "Welcome, Ann!", None);
        voice.say(Kind::Call, "Dan, please come to Room 1.", None);
        std::thread::sleep(Duration::from_millis(120));
        voice.set_paused(false);
        assert!(voice.wait_idle(Duration::from_secs(5)));
        assert_eq!(heard(&out), "Dp");
        assert_eq!(voice.status().dropped_stale, 1);
    }

    #[test]
    fn muted_and_quiet_hours_say_nothing() {
        let out = MemoryOut::new();
        let (voice, spoken) = start(out.clone(), options());
        voice.set_muted(true);
        voice.say(Kind::Call, "Dan, please come to Room 1.", None);
        assert!(voice.wait_idle(Duration::from_secs(5)));
        assert_eq!(heard(&out), "");
        assert_eq!(voice.status().skipped_muted, 1);
        voice.set_muted(false);
        voice.say(Kind::Call, "Dan, please come to Room 1.", None);
        assert!(voice.wait_idle(Duration::from_secs(5)));
        assert_eq!(heard(&out), "Dp");
        assert_eq!(spoken.lock().unwrap().len(), 1);

        let out = MemoryOut::new();
        let (voice, _) = start(
            out.clone(),
            PlayerOptions {
                quiet_hours: Some("00:00-23:59".parse().unwrap()),
                ..options()
            },
        );
        voice.say(Kind::Greeting, "Welcome, Ann!", None);
        assert!(voice.wait_idle(Duration::from_secs(5)));
        assert_eq!(heard(&out), "");
        assert!(voice.status().quiet_now);
    }

    #[test]
    fn without_a_device_the_voice_reports_it_and_keeps_going() {
        let (voice, spoken) = start(MemoryOut::failing(), options());
        let status = voice.status();
        assert_eq!(status.state, "no_device");
        assert!(!status.device_ok);
        assert!(status.reason.unwrap().contains("no working speaker"));
        assert!(voice.say(Kind::Greeting, "Welcome, Ann!", None));
        assert!(voice.wait_idle(Duration::from_secs(5)));
        assert_eq!(voice.status().skipped_no_device, 1);
        assert!(spoken.lock().unwrap().is_empty());
        assert!(voice.shutdown_and_wait(Duration::from_secs(5)));
    }

    #[test]
    fn without_a_speaker_announcements_can_go_to_the_tv_instead() {
        let (voice, spoken) = start(MemoryOut::failing(), options());
        let sent = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&sent);
        voice.set_fallback(move |f| s2.lock().unwrap().push(f));
        voice.say(Kind::Call, "Dan, please come to Room 1.", Some("d".into()));
        assert!(voice.wait_idle(Duration::from_secs(5)));
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].checkin_id.as_deref(), Some("d"));
        let wav = hound::WavReader::new(std::io::Cursor::new(sent[0].wav.to_vec())).unwrap();
        assert_eq!(wav.spec().sample_rate, 1000);
        assert_eq!(
            wav.len() as usize,
            "Dan,".len() + "please come to Room 1.".len()
        );
        assert_eq!(voice.status().sent_to_fallback, 1);
        assert!(spoken.lock().unwrap().is_empty());
        let wav = voice.render_wav("Hello.", Duration::from_secs(5)).unwrap();
        assert!(wav.starts_with(b"RIFF"));
    }

    #[test]
    fn volume_and_chime_are_applied() {
        let out = MemoryOut::new();
        let (voice, _) = start(
            out.clone(),
            PlayerOptions {
                volume: 0.5,
                chime: true,
                ..options()
            },
        );
        voice.say(Kind::Call, "Dan.", None);
        assert!(voice.wait_idle(Duration::from_secs(5)));
        let played = out.played.lock().unwrap();
        assert_eq!(played.len(), 2, "chime then the clause");
        assert!(played[0].duration() > Duration::from_millis(300));
        assert!((played[1].samples[0] - 0.5 * 68.0 / 1000.0).abs() < 1e-6);
    }

    #[test]
    fn quiet_hours_parse_and_wrap_midnight() {
        let q: QuietHours = "22:00-07:30".parse().unwrap();
        assert!(q.contains(23 * 60) && q.contains(0) && q.contains(7 * 60 + 29));
        assert!(!q.contains(7 * 60 + 30) && !q.contains(12 * 60));
        let q: QuietHours = "12:00-13:00".parse().unwrap();
        assert!(q.contains(12 * 60 + 30) && !q.contains(13 * 60));
        assert!("25:00-01:00".parse::<QuietHours>().is_err());
        assert!("noon".parse::<QuietHours>().is_err());
    }

    #[test]
    fn the_built_in_chime_is_short_and_not_silent() {
        let c = chime(22050);
        assert!(c.duration() < Duration::from_millis(600));
        assert!(c.samples.iter().any(|s| s.abs() > 0.1));
        assert!(c.samples.iter().all(|s| s.abs() <= 1.0));
    }
}
