//! Names as sounds: espeak-ng phonemes of today's names and of the
//! utterance's runs of words (cached per day and per utterance), and the
//! distance between two of them.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::*;

/// What each run of 1..=4 words of the utterance sounds like. Read once
/// per utterance: espeak-ng is shared with the lobby voice, one caller at
/// a time.
pub(super) fn run_sounds(said: &[String]) -> Vec<Vec<char>> {
    (0..said.len())
        .flat_map(|i| {
            (1..=4)
                .filter(move |k| i + k <= said.len())
                .map(move |k| (i, k))
        })
        .filter_map(|(i, k)| said_sounds(&said[i..i + k].join(" ")))
        .collect()
}

/// Sounds already read from espeak-ng, which costs a fraction of a
/// millisecond per call and is shared with the lobby voice. Without this,
/// each utterance read today's names and its own runs of words again for
/// the slot and for every name match (several hundred calls, tens of
/// milliseconds after the person stopped speaking).
#[derive(Default)]
pub(super) struct Sounds {
    /// Today's names: kept, they are the schedule.
    pub(super) names: HashMap<String, Option<Vec<char>>>,
    /// Runs of words of the current utterance: forgotten when the next one
    /// starts ([`new_utterance`]), so what people said is not kept.
    pub(super) said: HashMap<String, Option<Vec<char>>>,
}

pub(super) static SOUNDS: LazyLock<Mutex<Sounds>> = LazyLock::new(Mutex::default);

/// Bounds each cache (a day has far fewer names; tests and benchmarks that
/// never start an utterance still stay small).
pub(super) const SOUNDS_MAX: usize = 2048;

/// Forgets the sounds of the previous utterance's words.
pub fn new_utterance() {
    cache().said.clear();
}

pub(super) fn cache() -> std::sync::MutexGuard<'static, Sounds> {
    SOUNDS.lock().unwrap_or_else(|p| p.into_inner())
}

/// [`sounds`] of one of today's names.
pub(super) fn name_sounds(name: &str) -> Option<Vec<char>> {
    remembered(name, |c| &mut c.names)
}

/// [`sounds`] of a run of words of the utterance.
pub(super) fn said_sounds(run: &str) -> Option<Vec<char>> {
    remembered(run, |c| &mut c.said)
}

pub(super) fn remembered(
    text: &str,
    map: fn(&mut Sounds) -> &mut HashMap<String, Option<Vec<char>>>,
) -> Option<Vec<char>> {
    if let Some(known) = map(&mut cache()).get(text) {
        return known.clone();
    }
    // Read without holding the cache: espeak-ng has its own lock.
    let read = sounds(text);
    let mut c = cache();
    let m = map(&mut c);
    if m.len() >= SOUNDS_MAX {
        m.clear();
    }
    m.insert(text.to_string(), read.clone());
    read
}

/// espeak-ng's phonemes for `text` with stress and length marks and word
/// breaks removed: what the words sound like, as one string of sounds.
pub(super) fn sounds(text: &str) -> Option<Vec<char>> {
    let ipa = sos_speech::engine::phonemes_of(text, "en-us")?;
    let out: Vec<char> = ipa
        .chars()
        .filter(|c| !matches!(c, 'ˈ' | 'ˌ' | 'ː' | ' ' | '-' | '_') && !c.is_ascii_punctuation())
        .collect();
    (!out.is_empty()).then_some(out)
}

pub(super) fn is_vowel(c: char) -> bool {
    "aeiouyæɑɐɒɔəɚɛɜɪʊʌɵœø".contains(c)
}

/// Edit distance between two strings of sounds where vowels count less:
/// they are what a recogniser (and an accent) changes most, while the
/// consonants carry the name.
pub(super) fn sound_distance(a: &[char], b: &[char]) -> f32 {
    let indel = |c: char| if is_vowel(c) { 0.6 } else { 1.0 };
    let subst = |x: char, y: char| match (x == y, is_vowel(x) && is_vowel(y)) {
        (true, _) => 0.0,
        (false, true) => 0.4,
        (false, false) => 1.0,
    };
    let mut prev: Vec<f32> = std::iter::once(0.0)
        .chain(b.iter().scan(0.0, |acc, &c| {
            *acc += indel(c);
            Some(*acc)
        }))
        .collect();
    for &x in a {
        let mut row = Vec::with_capacity(prev.len());
        row.push(prev[0] + indel(x));
        for (j, &y) in b.iter().enumerate() {
            let v = (prev[j] + subst(x, y))
                .min(prev[j + 1] + indel(x))
                .min(row[j] + indel(y));
            row.push(v);
        }
        prev = row;
    }
    prev[b.len()]
}

/// The whole name against runs of the utterance compared as sounds: the
/// recogniser writes an unfamiliar name as words that sound like it
/// ("Chavano Brian" for Siobhan O'Brien). Never "sure" on this alone, so
/// it leads to "did you say …?".
pub(super) fn whole_name_by_sound(heard: &[Vec<char>], c: &Candidate) -> f32 {
    let Some(target) = name_sounds(&full_name(c)) else {
        return 0.0;
    };
    if target.len() < 4 {
        return 0.0;
    }
    heard
        .iter()
        .filter(|run| run.len() * 2 >= target.len() && run.len() <= target.len() * 2)
        .map(|run| 1.0 - sound_distance(run, &target) / run.len().max(target.len()) as f32)
        .fold(0.0f32, f32::max)
        .min(SURE - 0.01)
}
