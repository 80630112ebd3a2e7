//! Where in the transcript a name is: the stretch the sentence frame
//! leaves for it ("I'm ___, I have a two o'clock"), and the stretch that
//! may name someone else instead (the rival).

use super::*;

/// The stretch of the transcript that most likely holds a name, and the
/// names to weigh against the audio there (see
/// `asr::Transcriber::weigh`).
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// The transcript before the stretch.
    pub before: String,
    /// What the recogniser wrote there.
    pub heard: String,
    /// The transcript after it (starting with its punctuation, if any).
    pub after: String,
    /// Every candidate's full name as booked ("Siobhan O'Brien"), nearest
    /// to the stretch (by letters or sound) first.
    pub names: Vec<String>,
    /// The same place taking in the word before, the word after, or both
    /// (each with no wider slots of its own).
    pub wider: Vec<Slot>,
}

impl Slot {
    /// What the slot may say: what was written first, then each name.
    pub fn readings(&self) -> Vec<String> {
        std::iter::once(self.heard.clone())
            .chain(self.names.iter().cloned())
            .collect()
    }
}

/// The full name as booked: the key of [`Weighed`].
pub fn full_name(c: &Candidate) -> String {
    format!("{} {}", c.first.trim(), c.last.trim())
}

/// Words the front desk's sentences wrap a name in ("please call … to
/// room 3", "hi, I'm … checking in"). A stretch made only of these is not
/// where a name was said, however near it comes to one: "Please" was the
/// nearest stretch to Elena Popescu while "Quaint Mitz of" went unweighed
/// for Kwame Mensah. Only whole stretches are ruled out, so a name heard
/// as "me Kim" or "no Schmidt" still has its stretch.
pub(super) fn frame_word(w: &str) -> bool {
    const FRAME: &[&str] = &[
        "a",
        "am",
        "an",
        "and",
        "appointment",
        "at",
        "call",
        "calling",
        "check",
        "checking",
        "checkin",
        "clock",
        "doctor",
        "dr",
        "for",
        "have",
        "hello",
        "here",
        "hey",
        "hi",
        "i",
        "im",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "name",
        "next",
        "no",
        "oclock",
        "of",
        "okay",
        "ok",
        "patient",
        "please",
        "room",
        "thank",
        "thanks",
        "the",
        "this",
        "to",
        "with",
        "yes",
        "you",
    ];
    FRAME.contains(&w) || w.chars().all(|c| c.is_ascii_digit())
}

/// Words that end the name in a front-desk sentence: "… to room 3",
/// "… checking in", "…, please", "…, I have a two o'clock", "… here for".
pub(super) fn ends_name(w: &str) -> bool {
    const AFTER: &[&str] = &[
        "to", "room", "check", "checking", "checkin", "please", "i", "im", "here", "for", "at",
        "with", "have",
    ];
    AFTER.contains(&w)
}

/// A word written straight after a name that belongs to the sentence, not
/// to the name: the frame, a time or room ("two o'clock", "T-Room"), or
/// how staff finish a call ("now").
pub(super) fn goes_with_sentence(w: &str) -> bool {
    const MORE: &[&str] = &["now", "today", "again", "then", "there"];
    frame_word(w) || ends_name(w) || MORE.contains(&w) || crate::intent::ends_a_name(w)
}

/// The words of a transcript as written, split from their punctuation.
pub(super) struct Written<'a> {
    pub(super) raw: Vec<&'a str>,
    /// (leading punctuation, word, trailing punctuation)
    pub(super) parts: Vec<(&'a str, &'a str, &'a str)>,
    /// Each word folded (see [`words`]), "" for punctuation alone.
    pub(super) folded: Vec<String>,
}

impl<'a> Written<'a> {
    pub(super) fn new(text: &'a str) -> Written<'a> {
        let raw: Vec<&str> = text.split_whitespace().collect();
        let parts: Vec<(&str, &str, &str)> = raw
            .iter()
            .map(|w| {
                let core = w.trim_matches(|c: char| !c.is_alphanumeric());
                let lead = &w[..w.find(core).unwrap_or(0)];
                (lead, core, &w[lead.len() + core.len()..])
            })
            .collect();
        let folded = parts.iter().map(|p| words(p.1).concat()).collect();
        Written { raw, parts, folded }
    }

    /// Where the sentence frame puts the name: after the words that lead
    /// into it ("please call", "hi, I'm", "my name is") and before the
    /// first that ends it ("to room", "checking in", "please"), at most
    /// four words.
    pub(super) fn frame(&self) -> Option<(usize, usize)> {
        let n = self.folded.len();
        let i = (0..n).find(|&i| !self.folded[i].is_empty() && !frame_word(&self.folded[i]))?;
        let end = (i + 1..n)
            .find(|&j| ends_name(&self.folded[j]))
            .unwrap_or(n)
            .min(i + 4);
        Some((i, end - i))
    }

    /// Is `person`'s whole name written exactly with a word glued on
    /// after it: no punctuation between, and not a word the sentence goes
    /// on with ("to room 2", "two o'clock", "now")? The recogniser writes
    /// a pause as a comma ("Sarah Jones, T-Room II"), so a glued word may
    /// be the rest of a longer name ("Grace Kim Jour" for Grace Kimura).
    pub(super) fn goes_on(&self, person: &Candidate) -> bool {
        let name = words(&full_name(person)).concat();
        let n = self.folded.len();
        (0..n).any(|i| {
            let Some(k) = (1..=n - i).find(|&k| self.folded[i..i + k].concat().len() >= name.len())
            else {
                return false;
            };
            let next = i + k;
            self.folded[i..next].concat() == name
                && next < n
                && self.parts[next - 1].2.is_empty()
                && self.parts[next].0.is_empty()
                && !self.folded[next].is_empty()
                && !goes_with_sentence(&self.folded[next])
        })
    }

    /// The stretch at words `i..i + k`, with `names` to weigh there and
    /// no wider forms.
    pub(super) fn stretch(&self, i: usize, k: usize, names: &[String]) -> Slot {
        let mut before = self.raw[..i].join(" ");
        before.push_str(self.parts[i].0);
        let heard: Vec<&str> = self.parts[i..i + k].iter().map(|p| p.1).collect();
        let mut after = self.parts[i + k - 1].2.to_string();
        if i + k < self.raw.len() {
            after.push(' ');
            after.push_str(&self.raw[i + k..].join(" "));
        }
        Slot {
            before: before.trim().to_string(),
            heard: heard.join(" "),
            after,
            names: names.to_vec(),
            wider: Vec::new(),
        }
    }

    /// The slot at words `i..i + k`, with `names` to weigh there and its
    /// wider forms.
    pub(super) fn slot(&self, i: usize, k: usize, names: Vec<String>) -> Slot {
        let at = |i: usize, k: usize| self.stretch(i, k, &names);
        // tiny.en often splits a name it does not know into a stray word
        // beside the stretch ("in Gozi, Aqefer" for Ngozi Okafor), so the
        // name may also take the place of the word before and/or after it.
        let left = i > 0 && !self.parts[i - 1].1.is_empty();
        let right = i + k < self.parts.len() && !self.parts[i + k].1.is_empty();
        let mut wider = Vec::new();
        if left {
            wider.push(at(i - 1, k + 1));
        }
        if right {
            wider.push(at(i, k + 1));
        }
        if left && right {
            wider.push(at(i - 1, k + 2));
        }
        Slot { wider, ..at(i, k) }
    }
}

/// The stretches of `text` where a name was most likely said, each with
/// the names to weigh against the audio there: the run of 1..=4 words
/// nearest to any of today's names, by letters or by sound; then, if it
/// is elsewhere, the stretch the sentence frame leaves for a name ("Hi,
/// Quaint Mitz of checking in", said for Kwame Mensah, came nearer to
/// other names elsewhere). In each slot every name is weighed in that one
/// place, so their weights compare with each other.
pub fn slots(text: &str, candidates: &[Candidate]) -> Vec<Slot> {
    let written = Written::new(text);
    let n = written.parts.len();
    let mut runs = Vec::new();
    for i in 0..n {
        for k in 1..=4.min(n - i) {
            let said = &written.folded[i..i + k];
            if said.iter().all(|w| w.is_empty() || frame_word(w)) {
                continue;
            }
            let spoken: Vec<&str> = written.parts[i..i + k].iter().map(|p| p.1).collect();
            runs.push(((i, k), said.concat(), said_sounds(&spoken.join(" "))));
        }
    }
    // Each name's letters and sounds, read once for both stretches.
    let targets: Vec<(String, String, Option<Vec<char>>)> = candidates
        .iter()
        .map(|c| {
            let name = full_name(c);
            let folded = words(&name).concat();
            let sounds = name_sounds(&name);
            (name, folded, sounds)
        })
        .collect();
    // Each candidate's nearness to the runs inside `i..i + k`, nearest
    // first, and where the nearest of all is.
    let nearest = |within: (usize, usize)| -> Option<((usize, usize), Vec<String>)> {
        let inside = |&&((i, k), _, _): &&((usize, usize), String, Option<Vec<char>>)| {
            i >= within.0 && i + k <= within.0 + within.1
        };
        let mut named: Vec<(f32, (usize, usize), String)> = targets
            .iter()
            .map(|(name, folded, target)| {
                let (near, at) = runs
                    .iter()
                    .filter(inside)
                    .map(|(at, f, heard)| {
                        let letters = strsim::jaro_winkler(f, folded) as f32;
                        let sound = match (heard, target) {
                            (Some(h), Some(t)) => {
                                1.0 - sound_distance(h, t) / h.len().max(t.len()) as f32
                            }
                            _ => 0.0,
                        };
                        (letters.max(sound), *at)
                    })
                    .fold((f32::MIN, (0, 0)), |a, b| if b.0 > a.0 { b } else { a });
                (near, at, name.clone())
            })
            .collect();
        named.sort_by(|a, b| b.0.total_cmp(&a.0));
        named.dedup_by(|a, b| a.2 == b.2);
        let &(_, at, _) = named.first().filter(|n| n.0 > f32::MIN)?;
        Some((at, named.into_iter().map(|n| n.2).collect()))
    };
    let Some(((i, k), names)) = nearest((0, n)) else {
        return Vec::new();
    };
    let mut found = vec![written.slot(i, k, names)];
    if let Some(frame) = written.frame()
        && frame != (i, k)
        && let Some((_, names)) = nearest(frame)
    {
        found.push(written.slot(frame.0, frame.1, names));
    }
    found
}

/// The first of [`slots`]: the run nearest to any of today's names.
pub fn slot(text: &str, candidates: &[Candidate]) -> Option<Slot> {
    slots(text, candidates).into_iter().next()
}

/// Where the transcript names someone else who shares a name with
/// `person`: a word of the booked name written exactly, beside a word that
/// is not the rest of it ("Lee Murphy" for Liam Murphy, "Peter Schmidt"
/// for Noah Schmidt). Each slot is that pair of words, with the booked
/// name to weigh there: it must fit the audio at least as well as the
/// other person's name before the audio may act on it.
pub fn rival_slots(text: &str, person: &Candidate) -> Vec<Slot> {
    let written = Written::new(text);
    let (first, last) = (words(&person.first).concat(), words(&person.last).concat());
    let n = written.folded.len();
    // The word at `j` names someone else, unless it is a frame word, the
    // rest of the name, or a piece of the rest split in two with the word
    // at `beyond` ("Iro Shi Tanaka" for Hiroshi Tanaka, 0.91; "Grace
    // Kimura, I" for Grace Kim is not, 0.65).
    let other = |j: usize, beyond: Option<usize>, rest: &str| {
        let w = &written.folded[j];
        let split = beyond
            .and_then(|b| Some((b, written.folded.get(b)?)))
            .is_some_and(|(b, far)| {
                let joined = if b < j {
                    format!("{far}{w}")
                } else {
                    format!("{w}{far}")
                };
                letters_alike(&joined, rest) >= LONE
            });
        !w.is_empty() && !frame_word(w) && w != rest && !split
    };
    let mut pairs = Vec::new();
    for i in 0..n {
        let w = &written.folded[i];
        if *w == last && i > 0 && other(i - 1, i.checked_sub(2), &first) {
            pairs.push(i - 1);
        }
        if *w == first && i + 1 < n && other(i + 1, Some(i + 2), &last) {
            pairs.push(i);
        }
    }
    pairs
        .into_iter()
        .map(|i| written.stretch(i, 2, &[full_name(person)]))
        .collect()
}
