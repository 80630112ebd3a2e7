//! Voice out: greetings and calls spoken on the lobby speakers.
//!
//! [`spawn`] listens to the lobby hub: an arrival's greeting ("Welcome,
//! Sarah! Doctor Lee will be with you shortly.") and a call's announcement
//! ("Sarah J., please come to Room 2.") are queued on the voice thread
//! ([`player`]), which says one at a time, calls first, drops greetings that
//! waited too long, respects mute and quiet hours, and streams audio clause
//! by clause from the Piper voice ([`engine`]) through the phrase cache
//! ([`cache`]). Today's names and the templates' fixed parts are synthesised
//! ahead of time while the voice is idle.
//!
//! Everything runs on the box. The voice and ONNX Runtime are files fetched
//! by `scripts/fetch-voice.sh`; without them the voice is off, says so once
//! in the log and in [`VoiceStatus`], and the box works as before. Nothing is
//! downloaded at run time. Spoken text contains first names: it is never
//! logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cloud_sync::events::{BoxEvent, GreetingSpoken};

use crate::core::Core;
use crate::display::hub::LobbyEvent;
use crate::practice::{Practice, fill};
use crate::store::{self, CheckinStatus, NameDisplay};

// The speech library (crate sos-speech), under the names the box uses.
pub use sos_speech::{
    AudioOut, DEFAULT_VOICE, DeviceInfo, Kind, MemoryOut, PiperVoice, PlayerOptions, QuietHours,
    RodioOut, Spoken, Synth, SynthSettings, VoiceError, VoiceFiles, VoiceHandle, VoiceStatus,
    cache, engine, output_devices, player, text,
};

/// How the box's voice is set up (flags / environment, see [`VoiceArgs`]).
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    pub enabled: bool,
    /// Where `scripts/fetch-voice.sh` put `voices/` and `onnxruntime/`.
    pub models_dir: PathBuf,
    /// Overrides the practice's configured voice.
    pub voice: Option<String>,
    /// Output device (see `sos-appliance audio-devices`); None: default.
    pub device: Option<String>,
    /// 0.0 ..= 1.0
    pub volume: f32,
    pub quiet_hours: Option<QuietHours>,
    pub chime: bool,
    pub chime_file: Option<PathBuf>,
    pub muted: bool,
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
    pub max_greeting_age: Duration,
    pub settings: SynthSettings,
    /// Re-read today's schedule for pre-warming this often.
    pub prewarm_every: Duration,
}

impl VoiceConfig {
    /// Defaults for a box whose data lives in `data_dir`.
    pub fn new(data_dir: &Path) -> VoiceConfig {
        VoiceConfig {
            enabled: true,
            models_dir: default_models_dir(),
            voice: None,
            device: None,
            volume: 0.8,
            quiet_hours: None,
            chime: true,
            chime_file: None,
            muted: false,
            cache_dir: data_dir.join("voice-cache"),
            cache_max_bytes: 64 << 20,
            max_greeting_age: Duration::from_secs(8),
            settings: SynthSettings::default(),
            prewarm_every: Duration::from_secs(600),
        }
    }
}

/// The first of `$SOS_MODELS_DIR`, `<exe>/models`, the source tree's
/// `models/` (development builds), `/usr/share/sos-edge/models`.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOS_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let mut candidates = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join("models"));
        // target/{debug,release}/ -> the checkout's models/
        if let Some(root) = exe_dir.parent().and_then(Path::parent) {
            candidates.push(root.join("models"));
        }
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"));
    candidates.push(PathBuf::from("/usr/share/sos-edge/models"));
    candidates
        .iter()
        .find(|d| d.join("voices").is_dir())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/usr/share/sos-edge/models"))
}

/// Command-line flags (each also an environment variable) for the voice.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VoiceArgs {
    /// Directory with voices/ and onnxruntime/ from scripts/fetch-voice.sh.
    #[arg(long, env = "SOS_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Voice to use instead of the practice's (e.g. en_US-joe-medium).
    #[arg(long, env = "SOS_VOICE")]
    pub voice: Option<String>,
    /// Output device id or name (see `sos-appliance audio-devices`).
    #[arg(long, env = "SOS_AUDIO_DEVICE")]
    pub audio_device: Option<String>,
    /// Speaker volume, 0-100.
    #[arg(long, env = "SOS_VOICE_VOLUME", default_value_t = 80, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub voice_volume: u8,
    /// No announcements in this local time window, e.g. 20:00-07:30.
    #[arg(long, env = "SOS_VOICE_QUIET_HOURS")]
    pub quiet_hours: Option<String>,
    /// Play no chime before announcements.
    #[arg(long, env = "SOS_VOICE_NO_CHIME")]
    pub no_chime: bool,
    /// A WAV file to use as the chime.
    #[arg(long, env = "SOS_VOICE_CHIME_FILE")]
    pub chime_file: Option<PathBuf>,
    /// Start with the voice muted.
    #[arg(long, env = "SOS_VOICE_MUTED")]
    pub voice_muted: bool,
    /// Turn the voice off entirely.
    #[arg(long, env = "SOS_VOICE_OFF")]
    pub voice_off: bool,
}

impl VoiceArgs {
    pub fn into_config(self, data_dir: &Path) -> Result<VoiceConfig, VoiceError> {
        let mut c = VoiceConfig::new(data_dir);
        c.enabled = !self.voice_off;
        if let Some(dir) = self.models_dir {
            c.models_dir = dir;
        }
        c.voice = self.voice.filter(|v| !v.trim().is_empty());
        c.device = self.audio_device.filter(|d| !d.trim().is_empty());
        c.volume = f32::from(self.voice_volume) / 100.0;
        c.quiet_hours = match self.quiet_hours.as_deref().map(str::trim) {
            Some(q) if !q.is_empty() => Some(q.parse()?),
            _ => None,
        };
        c.chime = !self.no_chime;
        c.chime_file = self.chime_file;
        c.muted = self.voice_muted;
        Ok(c)
    }
}

/// `sos-appliance audio-devices`: one line per output device.
pub fn describe_devices() -> String {
    match output_devices() {
        Ok(list) if list.is_empty() => "no audio output devices found\n".to_string(),
        Ok(list) => list
            .iter()
            .map(|d| {
                format!(
                    "{}{}\t{}\n",
                    d.id,
                    if d.is_default { " (default)" } else { "" },
                    d.name
                )
            })
            .collect(),
        Err(e) => format!("cannot list audio devices: {e}\n"),
    }
}

/// The practice's voice if installed, else the default voice, else any.
fn choose_voice(config: &VoiceConfig, practice: &Practice) -> Option<String> {
    let installed = engine::installed_voices(&config.models_dir);
    let wanted = [
        config.voice.clone(),
        Some(practice.config.agent_voice.clone()),
        Some(practice.vertical.default_agent_voice.clone()),
        Some(DEFAULT_VOICE.to_string()),
    ];
    wanted
        .into_iter()
        .flatten()
        .find(|v| installed.contains(v))
        .or_else(|| installed.first().cloned())
}

/// Starts the voice for the box: subscribes to its lobby events, pre-warms
/// the cache with today's schedule, records a billing event per greeting
/// spoken. Must be called inside the tokio runtime. Never fails: problems
/// leave the voice off (see [`VoiceHandle::status`]).
pub fn spawn(core: Arc<Core>, config: VoiceConfig) -> VoiceHandle {
    let device = config.device.clone();
    spawn_with(
        core,
        config,
        Box::new(move || Box::new(RodioOut::new(device)) as Box<dyn AudioOut>),
    )
}

/// [`spawn`] with another output (tests, benchmarks).
pub fn spawn_with(core: Arc<Core>, config: VoiceConfig, out: player::OutFactory) -> VoiceHandle {
    let practice = core.practice();
    if !config.enabled {
        tracing::info!("voice off (turned off by configuration)");
        return VoiceHandle::off("turned off by configuration");
    }
    // The plan is not checked here: it is checked for every greeting and
    // call, so a practice whose plan changes is heard (or silent) at once.
    let Some(voice) = choose_voice(&config, &practice) else {
        let reason = format!(
            "no voice installed in {} (run scripts/fetch-voice.sh)",
            config.models_dir.join("voices").display()
        );
        tracing::warn!("voice off: {reason}");
        return VoiceHandle::off(reason);
    };
    let files = VoiceFiles::locate(&config.models_dir, &voice);
    if let Some(missing) = files.missing() {
        let reason = format!(
            "{} is missing (run scripts/fetch-voice.sh)",
            missing.display()
        );
        tracing::warn!("voice off: {reason}");
        return VoiceHandle::off(reason);
    }

    let options = PlayerOptions {
        volume: config.volume.clamp(0.0, 1.0),
        chime: config.chime,
        chime_file: config.chime_file.clone(),
        max_greeting_age: config.max_greeting_age,
        quiet_hours: config.quiet_hours,
        timezone: practice.timezone(),
        cache_dir: Some(config.cache_dir.clone()),
        cache_max_bytes: config.cache_max_bytes,
        voice_name: Some(voice.clone()),
        ..PlayerOptions::default()
    };
    let settings = config.settings.clone();
    let voice_name = voice.clone();
    let synth: player::SynthFactory = Box::new(move || {
        let started = std::time::Instant::now();
        let v = PiperVoice::load(&files, &voice_name, settings)?;
        tracing::info!(voice = %voice_name, load_ms = started.elapsed().as_millis() as u64, "voice loaded");
        Ok(Box::new(v) as Box<dyn Synth>)
    });
    let on_spoken = billing_recorder(Arc::clone(&core));
    let handle = match VoiceHandle::start(synth, out, options, on_spoken) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "voice off");
            return VoiceHandle::off(e.to_string());
        }
    };
    handle.set_muted(config.muted);
    let box_settings = BoxSettings {
        volume: config.volume.clamp(0.0, 1.0),
        quiet_hours: config.quiet_hours,
    };
    apply_practice_settings(&handle, &practice, &box_settings);
    // Subscribed before returning, so no lobby event after start is missed.
    let events = core.hub.events();
    tokio::spawn(forward_events(
        Arc::clone(&core),
        events,
        handle.clone(),
        config.prewarm_every,
        box_settings,
    ));
    handle
}

/// Each greeting spoken becomes a `billing.greeting_spoken` outbox event.
fn billing_recorder(core: Arc<Core>) -> player::OnSpoken {
    let rt = tokio::runtime::Handle::current();
    Box::new(move |s: Spoken| {
        if s.kind != Kind::Greeting {
            return;
        }
        let store = core.store.clone();
        let tenant = core.tenant_id();
        rt.spawn(async move {
            let event = BoxEvent::GreetingSpoken(GreetingSpoken {
                checkin_id: s.checkin_id,
                audio_ms: s.audio_ms,
                cached: s.cached,
                at: jiff::Timestamp::now().as_millisecond(),
            });
            let written = store
                .write(move |txn| store::enqueue_event(txn, &tenant, &event))
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not record a spoken greeting for billing");
            }
        });
    })
}

/// The box's own volume and quiet hours (flags), used where the practice
/// sets none.
struct BoxSettings {
    volume: f32,
    quiet_hours: Option<QuietHours>,
}

/// The practice's volume and quiet hours (set by the owner, replicated from
/// the cloud) win over the box's own flags.
fn apply_practice_settings(handle: &VoiceHandle, practice: &Practice, own: &BoxSettings) {
    let s = &practice.config.settings;
    handle.set_volume(
        s.voice_volume
            .map(|v| f32::from(v.min(100)) / 100.0)
            .unwrap_or(own.volume),
    );
    let quiet = match s.quiet_hours.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => own.quiet_hours,
        Some(q) => q.parse::<QuietHours>().map(Some).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the practice's quiet hours are not understood; using the box's");
            own.quiet_hours
        }),
    };
    handle.set_quiet_hours(quiet);
}

async fn forward_events(
    core: Arc<Core>,
    mut events: tokio::sync::broadcast::Receiver<LobbyEvent>,
    handle: VoiceHandle,
    prewarm_every: Duration,
    own: BoxSettings,
) {
    let mut shutdown = core.shutdown.clone();
    let mut prewarm = tokio::time::interval(prewarm_every.max(Duration::from_secs(5)));
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
            _ = prewarm.tick() => prewarm_today(&core, &handle).await,
            event = events.recv() => match event {
                Ok(LobbyEvent::PracticeChanged) => {
                    apply_practice_settings(&handle, &core.practice(), &own);
                    on_event(&core, &handle, LobbyEvent::PracticeChanged).await;
                }
                Ok(event) => on_event(&core, &handle, event).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    handle.shutdown();
}

async fn on_event(core: &Arc<Core>, handle: &VoiceHandle, event: LobbyEvent) {
    let voice_on = || core.practice().feature("voice_guidance");
    match event {
        LobbyEvent::Arrived {
            checkin_id,
            greeting,
            ..
        } if voice_on() => {
            handle.say(Kind::Greeting, &greeting, Some(checkin_id));
        }
        LobbyEvent::StatusChanged {
            checkin_id,
            status: CheckinStatus::Called,
            announcement: Some(announcement),
            ..
        } if voice_on() => {
            handle.say(Kind::Call, &announcement, Some(checkin_id));
        }
        LobbyEvent::PracticeChanged => prewarm_today(core, handle).await,
        _ => {}
    }
}

/// The greetings and calls today's expected people would hear.
pub fn expected_phrases(practice: &Practice, schedule: &[store::ScheduleEntry]) -> Vec<String> {
    let templates = &practice.vertical.templates;
    let rooms = &practice.config.settings.rooms;
    let mut out = Vec::new();
    for (i, e) in schedule.iter().enumerate() {
        if e.checkin_id.is_some() {
            continue;
        }
        // A ticket is only drawn at check-in: nothing to say ahead.
        if practice.config.settings.name_display == NameDisplay::Ticket {
            continue;
        }
        let mut values = practice.values();
        values.insert(
            "first_name",
            practice.greeting_name(&e.first_name, &e.last_name, 0),
        );
        values.insert("provider", practice.provider_phrase(Some(&e.provider_name)));
        out.push(fill(&templates.welcome, &values));
        values.insert(
            "display_name",
            practice.lobby_name(&e.first_name, &e.last_name, 0),
        );
        // One call per person (their name), and each room once.
        let room = rooms
            .get(i % rooms.len().max(1))
            .cloned()
            .unwrap_or_default();
        values.insert("room", room);
        out.push(fill(&templates.call, &values));
    }
    if let Some(e) = schedule.first()
        && practice.config.settings.name_display != NameDisplay::Ticket
    {
        for room in rooms {
            let mut values = practice.values();
            values.insert(
                "display_name",
                practice.lobby_name(&e.first_name, &e.last_name, 0),
            );
            values.insert("room", room.clone());
            out.push(fill(&templates.call, &values));
        }
    }
    out
}

async fn prewarm_today(core: &Arc<Core>, handle: &VoiceHandle) {
    let practice = core.practice();
    if !practice.feature("voice_guidance") {
        return;
    }
    let tenant = practice.tenant_id().to_string();
    let today = practice.today();
    match core
        .store
        .read(move |c| store::schedule_for_day(c, &tenant, &today))
        .await
    {
        Ok(schedule) => handle.prewarm(expected_phrases(&practice, &schedule)),
        Err(e) => tracing::warn!(error = %e, "cannot read today's schedule for the voice"),
    }
}
