//! Where an utterance starts and ends: an energy detector with an adaptive
//! noise floor, on 20 ms frames of 16 kHz audio.
//!
//! Why not a neural VAD: the box only listens inside a short push-to-talk
//! window, in a lobby whose noise floor we can measure in the first frames;
//! an energy detector with hysteresis and a hangover is enough there, costs
//! nothing on a Pi, and its behaviour is easy to reason about. See
//! docs/voice-in.md for the thresholds and why they are what they are.

use std::time::Duration;

/// 16 kHz mono everywhere after capture.
pub const RATE: u32 = 16_000;
/// 20 ms frames, the unit the detector decides on.
pub const FRAME: usize = (RATE / 50) as usize;

#[derive(Debug, Clone)]
pub struct VadSettings {
    /// Speech must rise this many dB over the noise floor to count.
    pub start_db: f32,
    /// ...and stays speech until it falls below floor + this (hysteresis).
    pub keep_db: f32,
    /// Quietest level that can ever be speech, in dBFS (a silent room
    /// must not turn its own hiss into "speech").
    pub min_speech_dbfs: f32,
    /// Silence after speech that ends the utterance.
    pub hangover: Duration,
    /// Shorter bursts (a click, a cough) are not an utterance.
    pub min_speech: Duration,
    /// An utterance is cut here even if the person keeps talking.
    pub max_utterance: Duration,
    /// Give up when nobody starts speaking within this window.
    pub no_speech_timeout: Duration,
    /// Audio kept from before the detected start, so soft onsets survive.
    pub pre_roll: Duration,
}

impl Default for VadSettings {
    fn default() -> Self {
        VadSettings {
            start_db: 12.0,
            keep_db: 6.0,
            min_speech_dbfs: -48.0,
            hangover: Duration::from_millis(500),
            min_speech: Duration::from_millis(250),
            max_utterance: Duration::from_secs(10),
            no_speech_timeout: Duration::from_secs(8),
            pre_roll: Duration::from_millis(200),
        }
    }
}

/// Frames (100 ms) that calibrate the noise floor before speech can start.
const CALIBRATION: usize = 5;

/// Silence kept after the last voiced frame: whisper hears a clean ending
/// better than a cut one.
const TAIL: Duration = Duration::from_millis(200);

fn frames(d: Duration) -> usize {
    (d.as_millis() as usize).div_ceil(20).max(1)
}

/// What the detector says after each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Still waiting for speech, or still inside it.
    Nothing,
    /// Speech started.
    Started,
    /// Speech paused: the utterance may be over (the hangover is running).
    /// The pipeline starts transcribing here, speculatively.
    Paused,
    /// Speech resumed within the hangover: any speculative work is stale.
    Resumed,
    /// The utterance is over.
    Ended(EndReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Silence after speech for the hangover.
    Silence,
    /// Hit the maximum length.
    MaxLength,
    /// Nobody spoke in the window (or only a burst too short to be speech).
    NoSpeech,
}

/// Feeds on 16 kHz mono samples, keeps the utterance, decides when it ends.
pub struct Endpointer {
    s: VadSettings,
    pending: Vec<f32>,
    /// Everything since the window opened (bounded by the timeouts).
    audio: Vec<f32>,
    frames_seen: usize,
    floor_db: f32,
    speaking: bool,
    /// Frame index where speech started (after pre-roll), and where the last
    /// voiced frame ended.
    start: Option<usize>,
    last_voiced: usize,
    voiced_frames: usize,
    ended: Option<EndReason>,
}

impl Endpointer {
    pub fn new(s: VadSettings) -> Endpointer {
        Endpointer {
            s,
            pending: Vec::with_capacity(FRAME),
            audio: Vec::new(),
            frames_seen: 0,
            floor_db: -60.0,
            speaking: false,
            start: None,
            last_voiced: 0,
            voiced_frames: 0,
            ended: None,
        }
    }

    /// Pushes samples; returns the events in order (most calls: none).
    pub fn push(&mut self, samples: &[f32]) -> Vec<Event> {
        let mut events = Vec::new();
        for &x in samples {
            if self.ended.is_some() {
                break;
            }
            self.pending.push(x);
            if self.pending.len() == FRAME {
                let frame = std::mem::take(&mut self.pending);
                let e = self.frame(&frame);
                self.audio.extend_from_slice(&frame);
                self.pending = frame;
                self.pending.clear();
                if e != Event::Nothing {
                    events.push(e);
                }
            }
        }
        events
    }

    /// The input ran out: decide with what we have.
    pub fn finish(&mut self) -> EndReason {
        if let Some(r) = self.ended {
            return r;
        }
        let r = if self.start.is_some() && self.enough_speech() {
            EndReason::Silence
        } else {
            EndReason::NoSpeech
        };
        self.ended = Some(r);
        r
    }

    pub fn ended(&self) -> Option<EndReason> {
        self.ended
    }

    /// The speech so far: from pre-roll before the start to the last voiced
    /// frame plus a little tail (whisper hears a clean ending better).
    pub fn speech(&self) -> &[f32] {
        let Some(start) = self.start else {
            return &[];
        };
        let tail = frames(TAIL);
        let end = ((self.last_voiced + tail) * FRAME).min(self.audio.len());
        &self.audio[(start * FRAME).min(end)..end]
    }

    /// How long the person actually spoke (voiced frames).
    pub fn voiced(&self) -> Duration {
        Duration::from_millis(self.voiced_frames as u64 * 20)
    }

    /// Position of the last voiced sample, in samples since the window
    /// opened: "end of speech" for latency figures.
    pub fn speech_end_sample(&self) -> usize {
        self.last_voiced * FRAME
    }

    /// Identifies the speech so far: (start frame, last voiced frame). Same
    /// key, same audio from [`Endpointer::speech`].
    pub fn speech_key(&self) -> Option<(usize, usize)> {
        self.start.map(|s| (s, self.last_voiced))
    }

    /// Some(key) while the speaker has paused long enough that the speech
    /// and its tail are complete: the moment to transcribe speculatively.
    pub fn settled_pause(&self) -> Option<(usize, usize)> {
        let settled = !self.speaking
            && self.enough_speech()
            && self.frames_seen >= self.last_voiced + frames(TAIL);
        if settled { self.speech_key() } else { None }
    }

    fn enough_speech(&self) -> bool {
        self.voiced_frames >= frames(self.s.min_speech)
    }

    fn frame(&mut self, frame: &[f32]) -> Event {
        let i = self.frames_seen;
        self.frames_seen += 1;
        let energy = frame.iter().map(|x| x * x).sum::<f32>() / frame.len() as f32;
        let db = 10.0 * (energy + 1e-12).log10();

        // The first frames after the window opens only measure the room:
        // the quietest of them is the starting noise floor. (Push-to-talk:
        // nobody is speaking yet 100 ms after the press.)
        if i < CALIBRATION {
            self.floor_db = if i == 0 { db } else { self.floor_db.min(db) };
            return Event::Nothing;
        }
        let start_level = (self.floor_db + self.s.start_db).max(self.s.min_speech_dbfs);
        let keep_level = (self.floor_db + self.s.keep_db).max(self.s.min_speech_dbfs - 6.0);
        let voiced = if self.speaking {
            db > keep_level
        } else {
            db > start_level
        };

        // The floor follows quiet frames quickly and loud ones slowly, so a
        // steady fan is learned but speech does not raise it much.
        if !voiced {
            let rate = if i < 10 { 0.5 } else { 0.05 };
            self.floor_db += (db.max(-90.0) - self.floor_db) * rate;
        }

        if voiced {
            self.voiced_frames += 1;
            self.last_voiced = i + 1;
            if self.start.is_none() {
                self.start = Some((i + 1).saturating_sub(frames(self.s.pre_roll)));
                self.speaking = true;
                return Event::Started;
            }
            if !self.speaking {
                self.speaking = true;
                return Event::Resumed;
            }
        } else if self.speaking {
            self.speaking = false;
            if self.enough_speech() {
                return Event::Paused;
            }
        }

        let Some(start) = self.start else {
            if i + 1 >= frames(self.s.no_speech_timeout) {
                self.ended = Some(EndReason::NoSpeech);
                return Event::Ended(EndReason::NoSpeech);
            }
            return Event::Nothing;
        };
        if i + 1 - start >= frames(self.s.max_utterance) {
            let r = if self.enough_speech() {
                EndReason::MaxLength
            } else {
                EndReason::NoSpeech
            };
            self.ended = Some(r);
            return Event::Ended(r);
        }
        if !self.speaking && i + 1 - self.last_voiced >= frames(self.s.hangover) {
            if self.enough_speech() {
                self.ended = Some(EndReason::Silence);
                return Event::Ended(EndReason::Silence);
            }
            // A burst too short to be speech (a cough, a door): forget it
            // and keep waiting for the person, within the window.
            self.start = None;
            self.voiced_frames = 0;
            if i + 1 >= frames(self.s.no_speech_timeout) {
                self.ended = Some(EndReason::NoSpeech);
                return Event::Ended(EndReason::NoSpeech);
            }
        }
        Event::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: u32, amp: f32) -> Vec<f32> {
        (0..RATE * ms / 1000)
            .map(|i| amp * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / RATE as f32).sin())
            .collect()
    }

    fn noise(ms: u32, amp: f32) -> Vec<f32> {
        // Deterministic pseudo-noise: a fan, not silence.
        let mut x: u32 = 12345;
        (0..RATE * ms / 1000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                amp * ((x >> 16) as f32 / 32768.0 - 1.0)
            })
            .collect()
    }

    fn run(ep: &mut Endpointer, audio: &[f32]) -> Vec<Event> {
        ep.push(audio)
    }

    #[test]
    fn speech_then_silence_ends_after_the_hangover() {
        let mut ep = Endpointer::new(VadSettings::default());
        let mut audio = noise(500, 0.001);
        audio.extend(tone(1500, 0.3));
        audio.extend(noise(1000, 0.001));
        let events = run(&mut ep, &audio);
        assert_eq!(events.first(), Some(&Event::Started));
        assert!(events.contains(&Event::Paused));
        assert_eq!(events.last(), Some(&Event::Ended(EndReason::Silence)));
        // The utterance is the tone plus pre-roll and tail, not the silence.
        let secs = ep.speech().len() as f32 / RATE as f32;
        assert!((1.5..=2.0).contains(&secs), "speech is {secs} s");
        // Ends 500 ms after the last voiced frame, not at the end of input.
        assert_eq!(ep.speech_end_sample(), 2000 * 16);
    }

    #[test]
    fn a_cough_is_not_an_utterance() {
        let s = VadSettings {
            no_speech_timeout: Duration::from_secs(2),
            ..VadSettings::default()
        };
        let mut ep = Endpointer::new(s);
        let mut audio = noise(300, 0.001);
        audio.extend(tone(120, 0.5));
        audio.extend(noise(3000, 0.001));
        let events = run(&mut ep, &audio);
        assert_eq!(events.last(), Some(&Event::Ended(EndReason::NoSpeech)));
    }

    #[test]
    fn a_steady_fan_is_learned_as_the_floor() {
        let mut ep = Endpointer::new(VadSettings::default());
        let audio = noise(3000, 0.05);
        let events = run(&mut ep, &audio);
        assert!(!events.contains(&Event::Started), "{events:?}");
        // Speech over the fan is still heard.
        let mut loud: Vec<f32> = tone(800, 0.5)
            .iter()
            .zip(noise(800, 0.05))
            .map(|(a, b)| a + b)
            .collect();
        loud.extend(noise(800, 0.05));
        let events = run(&mut ep, &loud);
        assert!(events.contains(&Event::Started), "{events:?}");
        assert_eq!(events.last(), Some(&Event::Ended(EndReason::Silence)));
    }

    #[test]
    fn pauses_inside_the_hangover_do_not_end_it() {
        let mut ep = Endpointer::new(VadSettings::default());
        let mut audio = noise(200, 0.0);
        audio.extend(tone(600, 0.3));
        audio.extend(noise(300, 0.0));
        audio.extend(tone(600, 0.3));
        audio.extend(noise(700, 0.0));
        let events = run(&mut ep, &audio);
        assert!(events.contains(&Event::Resumed), "{events:?}");
        assert_eq!(events.last(), Some(&Event::Ended(EndReason::Silence)));
        let secs = ep.speech().len() as f32 / RATE as f32;
        assert!(secs > 1.4, "both halves kept: {secs} s");
    }

    #[test]
    fn long_talk_is_cut_at_the_maximum() {
        let s = VadSettings {
            max_utterance: Duration::from_secs(2),
            ..VadSettings::default()
        };
        let mut ep = Endpointer::new(s);
        let mut audio = noise(200, 0.001);
        audio.extend(tone(5000, 0.3));
        let events = run(&mut ep, &audio);
        assert_eq!(events.last(), Some(&Event::Ended(EndReason::MaxLength)));
    }

    #[test]
    fn silence_times_out() {
        let s = VadSettings {
            no_speech_timeout: Duration::from_secs(1),
            ..VadSettings::default()
        };
        let mut ep = Endpointer::new(s);
        let events = run(&mut ep, &vec![0.0; RATE as usize * 2]);
        assert_eq!(events, vec![Event::Ended(EndReason::NoSpeech)]);
        assert!(ep.speech().is_empty());
    }
}
