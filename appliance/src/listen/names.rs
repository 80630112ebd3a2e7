//! Which of today's people a spoken name means: phonetic codes (Double
//! Metaphone) and edit distance (Jaro-Winkler) over the words the recogniser
//! wrote, and the whole name compared as sounds (espeak-ng phonemes),
//! scanning the whole utterance rather than trusting a parse of where the
//! name starts. Never guesses between two close matches.

use rphonetic::DoubleMetaphone;

/// A person the utterance may name.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub first: String,
    pub last: String,
}

/// How sure we are.
#[derive(Debug, Clone, PartialEq)]
pub enum NameMatch {
    /// One person clearly.
    One { id: String, score: f32 },
    /// One person, but not clearly enough to act without a "yes".
    Unsure { id: String, score: f32 },
    /// Several people fit about equally well: ask which.
    Several(Vec<String>),
    /// Nobody.
    None,
}

/// Clear match: act on it.
const SURE: f32 = 0.92;
/// Plausible match: ask "did you say ...?".
const PLAUSIBLE: f32 = 0.84;
/// Two candidates closer than this are "about equally good".
const TIE: f32 = 0.05;
/// A weaker match that is still far ahead of everyone else today: ask.
const LONE: f32 = 0.74;
const LONE_MARGIN: f32 = 0.12;

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

/// Similarity of two folded words in 0..=1: spelling, or sound when the
/// recogniser wrote a different spelling of the same name (Sara / Sarah,
/// Jon / John, Catherine / Kathryn).
pub fn similarity(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let spelled = strsim::jaro_winkler(a, b) as f32;
    let dm = DoubleMetaphone::default();
    let (pa, pb) = (dm.double_metaphone(a), dm.double_metaphone(b));
    let sounds_alike = !pa.primary().is_empty()
        && (pa.primary() == pb.primary()
            || pa.primary() == pb.alternate()
            || pa.alternate() == pb.primary());
    if sounds_alike {
        // Same sound: a strong match, a little below an exact spelling so
        // that an exact spelling wins a tie-break against a homophone.
        spelled.max(0.93)
    } else {
        spelled
    }
}

/// Best similarity of `name` (possibly several words) to any run of 1..=3
/// words in `said` starting at or after `from`; returns (score, end index).
fn best_run(said: &[String], name: &[String], from: usize) -> Option<(f32, usize, usize)> {
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

/// How well the utterance names this person: first name then last name,
/// next to each other (one filler word allowed: "Sarah, uh, Jones").
/// `heard` is [`run_sounds`] of `said`, computed once per utterance.
fn score(said: &[String], heard: &[Vec<char>], c: &Candidate) -> f32 {
    let first = words(&c.first);
    let last = words(&c.last);
    let mut best = 0.0f32;
    for i in 0..said.len() {
        for k in 1..=3 {
            if i + k > said.len() {
                break;
            }
            let run: String = said[i..i + k].concat();
            let sf = similarity(&run, &first.concat());
            if sf < 0.7 {
                continue;
            }
            let after = i + k;
            let window = &said[after..said.len().min(after + 4)];
            if let Some((sl, start, _)) = best_run(window, &last, 0) {
                // The weaker half decides: a right first name must not
                // carry a wrong last name ("Dan Bowen" is not Dan Brown).
                if start <= 1 {
                    best = best.max(sf.min(sl));
                }
            }
        }
    }
    // Only the last name came through clearly ("Chavano Brian" for Siobhan
    // O'Brien): worth asking about, never acting on.
    if let Some((sl, _, _)) = best_run(said, &last, 0) {
        best = best.max(sl * 0.8);
    }
    best.max(whole_name(said, &first, &last))
        .max(whole_name_by_sound(heard, c))
}

/// What each run of 1..=4 words of the utterance sounds like. Read once
/// per utterance: espeak-ng is shared with the lobby voice, one caller at
/// a time.
fn run_sounds(said: &[String]) -> Vec<Vec<char>> {
    (0..said.len())
        .flat_map(|i| {
            (1..=4)
                .filter(move |k| i + k <= said.len())
                .map(move |k| (i, k))
        })
        .filter_map(|(i, k)| sounds(&said[i..i + k].join(" ")))
        .collect()
}

/// espeak-ng's phonemes for `text` with stress and length marks and word
/// breaks removed: what the words sound like, as one string of sounds.
fn sounds(text: &str) -> Option<Vec<char>> {
    let ipa = crate::voice::engine::phonemes_of(text, "en-us")?;
    let out: Vec<char> = ipa
        .chars()
        .filter(|c| !matches!(c, 'ˈ' | 'ˌ' | 'ː' | ' ' | '-' | '_') && !c.is_ascii_punctuation())
        .collect();
    (!out.is_empty()).then_some(out)
}

fn is_vowel(c: char) -> bool {
    "aeiouyæɑɐɒɔəɚɛɜɪʊʌɵœø".contains(c)
}

/// Edit distance between two strings of sounds where vowels count less:
/// they are what a recogniser (and an accent) changes most, while the
/// consonants carry the name.
fn sound_distance(a: &[char], b: &[char]) -> f32 {
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
fn whole_name_by_sound(heard: &[Vec<char>], c: &Candidate) -> f32 {
    let Some(target) = sounds(&format!("{} {}", c.first, c.last)) else {
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

/// The whole name against runs of the utterance with the word boundaries
/// ignored: the recogniser often splits or joins unfamiliar names
/// ("Yukisato", "Chobello", "Lu Shifurnandes"). Spelling only, and scored
/// lower than a word-by-word match, so it mostly leads to "did you say?".
fn whole_name(said: &[String], first: &[String], last: &[String]) -> f32 {
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
            let jw = strsim::jaro_winkler(&run, &whole) as f32;
            let lev = strsim::normalized_levenshtein(&run, &whole) as f32;
            best = best.max((jw + lev) / 2.0);
            if run.len() > whole.len() * 2 {
                break;
            }
        }
    }
    // Never "sure" on spelling alone.
    best.min(SURE - 0.01)
}

/// Picks the person the utterance names among `candidates`.
pub fn find(said: &[String], candidates: &[Candidate]) -> NameMatch {
    if candidates.is_empty() {
        return NameMatch::None;
    }
    let heard = run_sounds(said);
    let mut scored: Vec<(f32, &Candidate)> = candidates
        .iter()
        .map(|c| (score(said, &heard, c), c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some(&(top, best)) = scored.first() else {
        return NameMatch::None;
    };
    let second_best = scored.get(1).map(|(s, _)| *s).unwrap_or(0.0);
    // Below "plausible" a name can still be worth a "did you say?" when it
    // is the only one of today's people that comes anywhere near.
    if top < PLAUSIBLE {
        if top >= LONE && top - second_best >= LONE_MARGIN {
            return NameMatch::Unsure {
                id: best.id.clone(),
                score: top,
            };
        }
        return NameMatch::None;
    }
    let close: Vec<String> = scored
        .iter()
        // Someone just under "plausible" but within a tie of the top still
        // makes it a question of which one.
        .take_while(|(s, _)| *s >= PLAUSIBLE - TIE && top - *s < TIE)
        .map(|(_, c)| c.id.clone())
        .collect();
    if close.len() > 1 {
        return NameMatch::Several(close);
    }

    if top >= SURE {
        NameMatch::One {
            id: best.id.clone(),
            score: top,
        }
    } else {
        NameMatch::Unsure {
            id: best.id.clone(),
            score: top,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, first: &str, last: &str) -> Candidate {
        Candidate {
            id: id.into(),
            first: first.into(),
            last: last.into(),
        }
    }

    fn today() -> Vec<Candidate> {
        vec![
            c("a", "Sarah", "Jones"),
            c("b", "Ngozi", "Okafor"),
            c("c", "Siobhan", "O'Brien"),
            c("d", "José", "Núñez"),
            c("e", "Mary Ann", "Van der Berg"),
            c("f", "Dan", "Brown"),
        ]
    }

    #[test]
    fn sounds_match_a_name_the_recogniser_wrote_as_other_words() {
        let people = [
            c("siobhan", "Siobhan", "O'Brien"),
            c("dan", "Dan", "Brown"),
            c("yuki", "Yuki", "Sato"),
            c("anh", "Anh", "Nguyen"),
        ];
        // Vowels weigh less than consonants.
        let v = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(sound_distance(&v("bat"), &v("bit")) < sound_distance(&v("bat"), &v("pat")));
        assert_eq!(sound_distance(&v("abc"), &v("abc")), 0.0);
        // Never acted on without a "yes".
        assert_eq!(
            find(&words("Check in Chavano, Brian, please"), &people),
            NameMatch::Unsure {
                id: "siobhan".into(),
                score: whole_name_by_sound(
                    &run_sounds(&words("Check in Chavano, Brian, please")),
                    &people[0]
                )
            }
        );
        assert!(matches!(
            find(&words("Check a Nuky Sato, please"), &people),
            NameMatch::Unsure { id, .. } if id == "yuki"
        ));
    }

    #[test]
    fn exact_and_respelled_names_match_the_right_person() {
        let people = today();
        for (said, want) in [
            ("Hi, I'm Sarah Jones, I have a two o'clock", "a"),
            ("hi im sara jones", "a"),
            ("This is Ngozi Okafor checking in.", "b"),
            ("Siobhan O'Brien for my cleaning", "c"),
            ("Jose Nunez", "d"),
            ("Maryann Vanderberg", "e"),
            ("Mary Ann van der Berg here", "e"),
            ("This is Josenunez checking in", "d"),
        ] {
            match find(&words(said), &people) {
                NameMatch::One { id, .. } => assert_eq!(id, want, "{said}"),
                other => panic!("{said}: {other:?}"),
            }
        }
    }

    #[test]
    fn two_close_names_are_never_guessed() {
        let mut people = today();
        people.push(c("g", "Sara", "Jones"));
        assert_eq!(
            find(&words("I'm Sarah Jones"), &people),
            NameMatch::Several(vec!["a".into(), "g".into()])
        );
    }

    #[test]
    fn an_unknown_name_matches_nobody() {
        assert_eq!(
            find(&words("Hi I'm Peter Schmidt"), &today()),
            NameMatch::None
        );
        assert_eq!(
            find(&words("next patient please"), &today()),
            NameMatch::None
        );
        assert_eq!(find(&[], &today()), NameMatch::None);
        assert_eq!(find(&words("Sarah Jones"), &[]), NameMatch::None);
    }

    #[test]
    fn a_mangled_but_lone_name_is_asked_about() {
        // Only Omar Farouk comes near "Omar Tharok" today: ask, never act.
        let mut people = today();
        people.push(c("o", "Omar", "Farouk"));
        match find(&words("Omar Tharok,"), &people) {
            NameMatch::Unsure { id, .. } => assert_eq!(id, "o"),
            other => panic!("{other:?}"),
        }
        // With a second person about as near, it is not asked about.
        people.push(c("p", "Omar", "Farooq"));
        assert!(matches!(
            find(&words("Omar Tharok,"), &people),
            NameMatch::None | NameMatch::Several(_)
        ));
    }

    #[test]
    fn a_near_miss_asks_for_confirmation() {
        // "Dan Bowen" is close to Dan Brown but not certain.
        match find(&words("I'm Dan Bowen"), &today()) {
            NameMatch::Unsure { id, .. } => assert_eq!(id, "f"),
            other => panic!("{other:?}"),
        }
    }
}
