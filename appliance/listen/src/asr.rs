//! Speech to text with whisper.cpp (whisper-rs), kept warm, tuned for short
//! front-desk utterances: greedy decoding, an audio context sized to the
//! utterance instead of the full 30 s window, no timestamps, non-speech
//! tokens suppressed, silence and hallucinations rejected, and a prompt
//! biased with today's names.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use super::ListenError;
use super::names::Weighed;
use super::vad::RATE;

/// The recogniser's view of one utterance.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub text: String,
    /// whisper's own estimate that there was no speech at all.
    pub no_speech: f32,
    pub audio: Duration,
    pub took: Duration,
    /// Today's names nearest to the text, weighed against the audio.
    pub weighed: Weighed,
}

impl Transcript {
    /// Nothing a person said: silence, noise, or one of the phrases Whisper
    /// is known to invent on non-speech ("Thank you.", "[BLANK_AUDIO]").
    pub fn is_empty(&self) -> bool {
        let t = self
            .text
            .trim()
            .trim_matches(|c: char| !c.is_alphanumeric());
        if t.is_empty() || self.no_speech > 0.6 {
            return true;
        }
        let lower = t.to_lowercase();
        const INVENTED: &[&str] = &[
            "thank you",
            "thanks for watching",
            "you",
            "bye",
            "blank_audio",
            "music",
            "applause",
            "silence",
            "coughing",
            "cough",
            "laughter",
            "inaudible",
        ];
        INVENTED.contains(&lower.as_str())
            || (t.starts_with(['[', '(', '*']) && t.ends_with([']', ')', '*']))
            || (self.text.trim().starts_with(['[', '(']) && self.text.trim().ends_with([']', ')']))
    }
}

pub struct Transcriber {
    ctx: WhisperContext,
    state: whisper_rs::WhisperState,
    threads: i32,
    model: PathBuf,
    /// The prompt of the last transcription, while its audio and prompt
    /// are still in the state: [`Transcriber::weigh`] reads that audio and
    /// reuses the decoded prompt.
    transcribed: Option<String>,
    /// Set when the box is stopping: whisper.cpp gives up the utterance in
    /// hand between two of its steps, so a stop never waits for it.
    stop: Arc<AtomicBool>,
    /// What every transcription shares, built once: whisper-rs leaks the
    /// abort callback it is given, so it is given one per model load.
    params: FullParams<'static, 'static>,
}

/// The model the box runs: tiny.en with 8-bit matrices (about twice as fast
/// as f16 on a 2-core box; docs/voice-in.md has the accuracy of both).
pub const DEFAULT_MODEL: &str = "tiny.en-q8_0";

/// Where a model lives under the models directory.
pub fn model_path(models_dir: &Path, model: &str) -> PathBuf {
    models_dir.join("whisper").join(format!("ggml-{model}.bin"))
}

static LOGS: Once = Once::new();

impl Transcriber {
    /// Loads the model (~0.2 s for tiny.en) and allocates its working state
    /// once, so every utterance after that starts warm.
    pub fn load(model: &Path, threads: usize) -> Result<Transcriber, ListenError> {
        Transcriber::load_stoppable(model, threads, Arc::new(AtomicBool::new(false)))
    }

    /// [`Transcriber::load`], ending every transcription early with
    /// [`ListenError::Off`] once `stop` is set (the box is stopping).
    pub fn load_stoppable(
        model: &Path,
        threads: usize,
        stop: Arc<AtomicBool>,
    ) -> Result<Transcriber, ListenError> {
        if !model.is_file() {
            return Err(ListenError::ModelMissing(model.to_path_buf()));
        }
        // whisper.cpp logs to stderr by default; route it through tracing
        // (at debug) so the box's log stays one stream.
        LOGS.call_once(whisper_rs::install_logging_hooks);
        let path = model
            .to_str()
            .ok_or_else(|| ListenError::ModelMissing(model.to_path_buf()))?;
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| ListenError::Model(model.to_path_buf(), e.to_string()))?;
        let state = ctx
            .create_state()
            .map_err(|e| ListenError::Model(model.to_path_buf(), e.to_string()))?;
        let threads = threads.clamp(1, 8) as i32;
        Ok(Transcriber {
            ctx,
            state,
            threads,
            model: model.to_path_buf(),
            transcribed: None,
            params: shared_params(threads, Arc::clone(&stop)),
            stop,
        })
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn model(&self) -> &Path {
        &self.model
    }

    pub fn multilingual(&self) -> bool {
        self.ctx.is_multilingual()
    }

    /// Transcribes 16 kHz mono samples. `prompt` biases spelling towards
    /// today's names and providers.
    pub fn transcribe(&mut self, samples: &[f32], prompt: &str) -> Result<Transcript, ListenError> {
        let started = Instant::now();
        let audio = Duration::from_secs_f32(samples.len() as f32 / RATE as f32);
        self.transcribed = None;
        if samples.len() < RATE as usize / 10 {
            return Ok(Transcript {
                text: String::new(),
                no_speech: 1.0,
                audio,
                took: started.elapsed(),
                weighed: Weighed::default(),
            });
        }
        if self.stopping() {
            return Err(stopping());
        }
        let mut p = self.params.clone();
        // A person says about three words (four tokens) a second; more than
        // that is the decoder looping, which whisper does on short audio.
        p.set_max_tokens(max_tokens(samples.len()));
        p.set_audio_ctx(audio_ctx(samples.len()));
        if !prompt.is_empty() {
            p.set_initial_prompt(prompt);
        }
        let done = self.state.full(p, samples);
        if self.stopping() {
            return Err(stopping());
        }
        done.map_err(|e| ListenError::Transcribe(e.to_string()))?;
        self.transcribed = Some(prompt.to_string());
        let mut text = String::new();
        let mut no_speech: f32 = 0.0;
        for seg in self.state.as_iter() {
            no_speech = no_speech.max(seg.no_speech_probability());
            if let Ok(s) = seg.to_str_lossy() {
                text.push_str(&s);
            }
        }
        Ok(Transcript {
            text: without_loops(text.trim()),
            no_speech,
            audio,
            took: started.elapsed(),
            weighed: Weighed::default(),
        })
    }
}

/// The decoding settings of every utterance, and the stop flag whisper.cpp
/// polls between its steps.
fn shared_params(threads: i32, stop: Arc<AtomicBool>) -> FullParams<'static, 'static> {
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    p.set_n_threads(threads);
    p.set_language(Some("en"));
    p.set_translate(false);
    p.set_no_timestamps(true);
    p.set_single_segment(true);
    p.set_no_context(true);
    p.set_suppress_blank(true);
    p.set_suppress_nst(true);
    p.set_temperature(0.0);
    // No fallback re-decoding at higher temperatures: on a short
    // utterance it mostly turns noise into invented words, slowly.
    p.set_temperature_inc(0.0);
    p.set_no_speech_thold(0.6);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_special(false);
    p.set_print_timestamps(false);
    let abort: Box<dyn FnMut() -> bool> = Box::new(move || stop.load(Ordering::SeqCst));
    p.set_abort_callback_safe::<_, Box<dyn FnMut() -> bool>>(Some(abort));
    p
}

/// What an utterance cut short by a stop answers.
pub(crate) fn stopping() -> ListenError {
    ListenError::Off("the box is stopping".into())
}

impl Transcriber {
    /// How well each of several readings of the utterance fits the audio
    /// just transcribed (call right after [`Transcriber::transcribe`] on the
    /// same audio: the encoder's output is still in the state). Every
    /// reading is `before` + one of `spans` + `after`; the result is, per
    /// span, the log-probability whisper gives the span and the first few
    /// tokens after it, in the same context as the transcription (the
    /// prompt with today's names). Comparing spans shows which name the
    /// audio says, even when greedy decoding wrote it as other words.
    ///
    /// Cost grows with the tokens weighed, so only `spans[..=near]` and the
    /// `more` others whose first token is likeliest are weighed in full;
    /// the rest are `None`.
    ///
    /// The transcription left the prompt decoded in the state; only its
    /// last token is decoded again. whisper.cpp computes the vocabulary's
    /// logits for every token of a batch, so decoding today's names again
    /// would cost about as much as all the rest.
    pub fn weigh(
        &mut self,
        prompt: &str,
        before: &str,
        spans: &[String],
        after: &str,
        near: usize,
        more: usize,
    ) -> Result<Vec<Option<f32>>, ListenError> {
        self.weigh_from(prompt, before, spans, after, near, more, true)
    }

    /// [`Transcriber::weigh`], decoding the prompt again instead of reusing
    /// the transcription's: the reference a test compares it with.
    #[doc(hidden)]
    pub fn weigh_decoding_the_prompt_again(
        &mut self,
        prompt: &str,
        before: &str,
        spans: &[String],
        after: &str,
    ) -> Result<Vec<Option<f32>>, ListenError> {
        self.weigh_from(prompt, before, spans, after, spans.len(), 0, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn weigh_from(
        &mut self,
        prompt: &str,
        before: &str,
        spans: &[String],
        after: &str,
        near: usize,
        more: usize,
        reuse_prompt: bool,
    ) -> Result<Vec<Option<f32>>, ListenError> {
        if self.transcribed.as_deref() != Some(prompt) || spans.is_empty() {
            return Err(ListenError::Transcribe(
                "names can only be weighed right after transcribing with the same prompt".into(),
            ));
        }
        let err = |e: whisper_rs::WhisperError| ListenError::Transcribe(e.to_string());
        let tokens = |ctx: &WhisperContext, text: &str| -> Result<Vec<i32>, ListenError> {
            if text.trim().is_empty() {
                return Ok(Vec::new());
            }
            ctx.tokenize(text, 1024).map_err(err)
        };
        let mut context = Vec::new();
        if !prompt.is_empty() {
            context.push(self.ctx.token_prev());
            context.extend(tokens(&self.ctx, prompt)?);
        }
        context.push(self.ctx.token_sot());
        context.push(self.ctx.token_not());
        // What whisper_full decoded first, at positions 0..decoded.
        let decoded = context.len();
        if !before.trim().is_empty() {
            context.extend(tokens(&self.ctx, &format!(" {}", before.trim()))?);
        }
        // The first tokens after the span say whether it used up the right
        // stretch of audio; the rest of the utterance adds cost, not signal.
        let mut tail = tokens(&self.ctx, after)?;
        tail.truncate(2);
        if tail.is_empty() {
            tail.push(self.ctx.token_eot());
        }
        let threads = self.threads as usize;
        // whisper.cpp keeps only the last token's logits of a batch (and
        // whisper-rs reads the first row): decode all but the last token
        // as one batch, then the last one alone.
        let n = context.len();
        let from = if reuse_prompt { decoded - 1 } else { 0 };
        if n - 1 > from {
            self.state
                .decode(&context[from..n - 1], from, threads)
                .map_err(err)?;
        }
        self.state
            .decode(&context[n - 1..], n - 1, threads)
            .map_err(err)?;
        let first = self.state.get_logits().map_err(err)?.to_vec();
        let norm = log_sum_exp(&first);
        let mut readings = Vec::with_capacity(spans.len());
        for span in spans {
            let mut toks = tokens(&self.ctx, &format!(" {}", span.trim()))?;
            toks.extend(&tail);
            readings.push(toks);
        }
        // Which to weigh in full: the nearest by letters and sound, and the
        // ones whose first token the audio already favours (free: one row
        // of logits covers them all).
        let mut rest: Vec<(f32, usize)> = (near + 1..spans.len())
            .map(|i| (logprob_given(&first, norm, readings[i][0]), i))
            .collect();
        rest.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut chosen: Vec<usize> = (0..spans.len().min(near + 1)).collect();
        chosen.extend(rest.iter().take(more).map(|(_, i)| *i));
        let mut out = vec![None; spans.len()];
        for i in chosen {
            let toks = &readings[i];
            let mut lp = logprob_given(&first, norm, toks[0]);
            for (j, pair) in toks.windows(2).enumerate() {
                self.state.decode(&pair[..1], n + j, threads).map_err(err)?;
                lp += logprob(self.state.get_logits().map_err(err)?, pair[1]);
            }
            out[i] = Some(lp);
        }
        Ok(out)
    }
}

/// log P(token) from the decoder's raw logits.
fn logprob(logits: &[f32], token: i32) -> f32 {
    logprob_given(logits, log_sum_exp(logits), token)
}

/// The same, with the row's log-sum-exp already known (one row of logits
/// serves every name's first token).
fn logprob_given(logits: &[f32], norm: f32, token: i32) -> f32 {
    logits
        .get(token as usize)
        .map_or(f32::NEG_INFINITY, |l| l - norm)
}

fn log_sum_exp(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln()
}

fn max_tokens(n: usize) -> i32 {
    let secs = n as f32 / RATE as f32;
    (secs * 6.0 + 12.0).round() as i32
}

/// Cuts the decoder's loops: "Yuki Sato, Yuki Sato, Yuki Sato" → "Yuki
/// Sato". A phrase (of 1..=8 words) immediately repeated is kept once.
pub fn without_loops(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let key = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        i += 1;
        // After each word, drop immediate repeats of the last k words,
        // until none follows.
        let mut skipped = true;
        while skipped {
            skipped = false;
            for k in 1..=8.min(out.len()) {
                let tail: Vec<String> = out[out.len() - k..].iter().map(|w| key(w)).collect();
                if i + k <= words.len()
                    && words[i..i + k].iter().map(|w| key(w)).collect::<Vec<_>>() == tail
                {
                    i += k;
                    skipped = true;
                    break;
                }
            }
        }
    }
    // A loop cut off by the token limit: the text starts over ("Call Dan to
    // room 2. Call Dan to"). Keep the first pass.
    // Loops can differ by a word ("Call I Chobello … Col I Chobello").
    let keys: Vec<String> = out.iter().map(|w| key(w)).collect();
    for j in 2..keys.len() {
        let rest = &keys[j..];
        if rest.len() < 2 || j < rest.len() {
            continue;
        }
        let same = rest.iter().zip(&keys[..]).filter(|(a, b)| a == b).count();
        if same == rest.len() || (rest.len() >= 4 && same * 4 >= rest.len() * 3) {
            return out[..j].join(" ");
        }
    }
    out.join(" ")
}

/// Encoder frames for `n` samples: 50 per second, plus headroom, rounded up
/// to a multiple of 64 so nearby lengths share one graph. The full window
/// is 1500 (30 s); an 4 s utterance needs about 270, which makes the
/// encoder several times cheaper.
pub fn audio_ctx(n: usize) -> i32 {
    let frames = n.div_ceil(RATE as usize / 50) + 64;
    (frames.div_ceil(64) * 64).min(1500) as i32
}

/// "Front desk. Today: Sarah Jones, Ngozi Okafor. Dr. Lee." — whisper
/// treats it as preceding text and spells those names as written.
pub fn prompt(names: &[String], providers: &[String]) -> String {
    let mut p = String::from("Front desk check-in.");
    if !names.is_empty() {
        p.push_str(" Today: ");
        p.push_str(&names.join(", "));
        p.push('.');
    }
    if !providers.is_empty() {
        p.push(' ');
        p.push_str(&providers.join(", "));
        p.push('.');
    }
    // Bounded: whisper keeps at most half its text context for the prompt.
    let mut end = p.len().min(600);
    while !p.is_char_boundary(end) {
        end -= 1;
    }
    p.truncate(end);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_context_fits_the_utterance() {
        assert_eq!(audio_ctx(16_000 * 4), 320);
        assert_eq!(audio_ctx(16_000 * 2), 192);
        assert_eq!(audio_ctx(16_000 * 60), 1500);
        assert!(audio_ctx(16_000 * 8) >= 400);
    }

    #[test]
    fn decoder_loops_are_cut() {
        assert_eq!(
            without_loops("Yuki Sato, Yuki Sato, Yuki Sato, Yuki Sato,"),
            "Yuki Sato,"
        );
        assert_eq!(without_loops("Yes. Yes. Yes. Yes."), "Yes.");
        assert_eq!(
            without_loops(
                "Check in O'mar Fara, Please. Check in O'mar Fara, Please. Please, Please"
            ),
            "Check in O'mar Fara, Please."
        );
        // Real speech is left alone.
        assert_eq!(
            without_loops("Hi, I'm Sarah Jones, I have a two o'clock."),
            "Hi, I'm Sarah Jones, I have a two o'clock."
        );
        assert_eq!(
            without_loops("Call Dan to room two"),
            "Call Dan to room two"
        );
        assert_eq!(
            without_loops("Paul Hannah Smith, to Room 2. Paul Hannah Smith, to"),
            "Paul Hannah Smith, to Room 2."
        );
        assert_eq!(without_loops("Yes, yes"), "Yes,");
        assert_eq!(
            without_loops("Call I Chobello to Room 1, Please, Col I Chobello to Room 1, Please,"),
            "Call I Chobello to Room 1, Please,"
        );
    }

    #[test]
    fn invented_text_on_silence_is_empty() {
        let t = |text: &str, no_speech: f32| Transcript {
            text: text.into(),
            no_speech,
            audio: Duration::ZERO,
            took: Duration::ZERO,
            weighed: Weighed::default(),
        };
        assert!(t(" Thank you.", 0.1).is_empty());
        assert!(t("[BLANK_AUDIO]", 0.1).is_empty());
        assert!(t("(coughing)", 0.1).is_empty());
        assert!(t("Sarah Jones", 0.9).is_empty());
        assert!(!t("Sarah Jones", 0.1).is_empty());
        assert!(!t("Yes.", 0.1).is_empty());
    }

    #[test]
    fn missing_model_is_a_clear_error() {
        let e = Transcriber::load(Path::new("/nonexistent/ggml-tiny.en.bin"), 2)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/ggml-tiny.en.bin"), "{e}");
        assert!(e.contains("fetch-whisper"), "{e}");
    }

    #[test]
    fn prompt_names_people_and_is_bounded() {
        let p = prompt(
            &["Sarah Jones".into(), "Ngozi Okafor".into()],
            &["Dr. Lee".into()],
        );
        assert_eq!(
            p,
            "Front desk check-in. Today: Sarah Jones, Ngozi Okafor. Dr. Lee."
        );
        let many: Vec<String> = (0..500).map(|i| format!("Person Number{i}")).collect();
        assert!(prompt(&many, &[]).len() <= 600);
    }
}
