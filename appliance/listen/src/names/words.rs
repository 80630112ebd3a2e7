//! Names as written: words folded to lower-case ASCII, spelling and
//! phonetic-code similarity (Jaro-Winkler, Double Metaphone), and the whole
//! name against runs of the utterance.

use rphonetic::DoubleMetaphone;

use super::*;

/// Lower-case ASCII words, accents folded, apostrophes and hyphens joined
/// ("O'Brien" → "obrien", "Núñez" → "nunez").
pub fn words(text: &str) -> Vec<String> {
    deunicode::deunicode(text)
        .to_lowercase()
        .replace(['\'', '’', '-'], "")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Similarity of a folded word the recogniser wrote (`said`) to one of a
/// booked name (`name`), in 0..=1: spelling, or sound when the recogniser
/// wrote a different spelling of the same name (Sara / Sarah, Jon / John,
/// Catherine / Kathryn).
///
/// Only the same spelling, or a spelling said the same way, reaches
/// [`SURE`]. Another spelling that is said differently may be another
/// person's own name, written right: "Dana" is not Dan, "Yuko" is not
/// Yuki, "Lucy" is not Lucia, though their letters (Jaro-Winkler 0.94 for
/// Dana / Dan) and consonants (Double Metaphone) are close. It stays a
/// question ("did you say …?"), which the audio may still settle.
pub fn similarity(said: &str, name: &str) -> f32 {
    if said == name {
        return 1.0;
    }
    if said.is_empty() || name.is_empty() {
        return 0.0;
    }
    let spelled = strsim::jaro_winkler(said, name) as f32;
    let dm = DoubleMetaphone::default();
    let (pa, pb) = (dm.double_metaphone(said), dm.double_metaphone(name));
    let sounds_alike = !pa.primary().is_empty()
        && (pa.primary() == pb.primary()
            || pa.primary() == pb.alternate()
            || pa.alternate() == pb.primary());
    if !sounds_alike && spelled < SURE {
        return spelled;
    }
    if said_the_same(said, name) {
        // A strong match, a little below an exact spelling so that an
        // exact spelling wins a tie-break against a homophone.
        spelled.max(0.93)
    } else {
        let near = SURE - 0.01;
        if sounds_alike {
            near
        } else {
            spelled.min(near)
        }
    }
}

/// Are two spellings of a name pronounced the same (espeak-ng's
/// phonemes), but for the quality of some vowels ("Shivon" / Siobhan,
/// "Dimitri" / Dmitri)? A sound more or less ("Dana" / Dan, "Yuko" /
/// Yuki) or another consonant ("Lucy" / Lucia) makes another name.
pub(super) fn said_the_same(said: &str, name: &str) -> bool {
    match (said_sounds(said), name_sounds(name)) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| x == y || (is_vowel(*x) && is_vowel(*y)))
        }
        _ => false,
    }
}

/// Best similarity of `name` (possibly several words) to any run of 1..=3
/// words in `said` starting at or after `from`; returns (score, end index).
pub(super) fn best_run(
    said: &[String],
    name: &[String],
    from: usize,
) -> Option<(f32, usize, usize)> {
    if name.is_empty() {
        return None;
    }
    let target: String = name.concat();
    let mut best: Option<(f32, usize, usize)> = None;
    for i in from..said.len() {
        for k in 1..=3 {
            if i + k > said.len() {
                break;
            }
            let run: String = said[i..i + k].concat();
            let s = similarity(&run, &target);
            if best.is_none_or(|(b, _, _)| s > b) {
                best = Some((s, i, i + k));
            }
        }
    }
    best
}

/// The whole name against runs of the utterance with the word boundaries
/// ignored: the recogniser often splits or joins unfamiliar names
/// ("Yukisato", "Chobello", "Lu Shifurnandes"). Spelling only, and scored
/// lower than a word-by-word match, so it mostly leads to "did you say?".
pub(super) fn whole_name(said: &[String], first: &[String], last: &[String]) -> f32 {
    let whole: String = first.iter().chain(last.iter()).cloned().collect();
    if whole.len() < 4 {
        return 0.0;
    }
    let mut best = 0.0f32;
    for i in 0..said.len() {
        let mut run = String::new();
        for w in &said[i..said.len().min(i + 4)] {
            run.push_str(w);
            if run.len() + 3 < whole.len() / 2 {
                continue;
            }
            if run == whole {
                return 1.0; // the same letters: just joined or split
            }
            best = best.max(letters_alike(&run, &whole));
            if run.len() > whole.len() * 2 {
                break;
            }
        }
    }
    // Never "sure" on spelling alone.
    best.min(SURE - 0.01)
}

/// How alike two runs of letters are when the word boundaries in them
/// mean nothing: Jaro-Winkler alone would call any word that begins with
/// the other near ("kimurai" / "kim", 0.87), so the share of letters to
/// change counts as much.
pub(super) fn letters_alike(run: &str, name: &str) -> f32 {
    let jw = strsim::jaro_winkler(run, name) as f32;
    let lev = strsim::normalized_levenshtein(run, name) as f32;
    (jw + lev) / 2.0
}
