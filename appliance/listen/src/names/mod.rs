//! Which of today's people a spoken name means: phonetic codes (Double
//! Metaphone) and edit distance (Jaro-Winkler) over the words the recogniser
//! wrote, and the whole name compared as sounds (espeak-ng phonemes),
//! scanning the whole utterance rather than trusting a parse of where the
//! name starts; then what the audio itself says, when the recogniser
//! weighed the nearest names against it ([`Weighed`]) in the stretch
//! nearest a booked name and in the one the sentence frame leaves for a
//! name ([`slots`]), and against the other person the transcript may name
//! instead ([`rival_slots`]). Never guesses between two close matches.

mod slots;
mod sounds;
mod words;

use slots::*;
pub use slots::{Slot, full_name, rival_slots, slot, slots};
pub use sounds::new_utterance;
use sounds::*;
use words::*;
pub use words::{similarity, words};

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

/// What the audio says about each weighed name: log-probability (nats) of
/// the name in its slot minus that of what the recogniser wrote there.
/// Near zero or above: the audio fits the name about as well as the
/// transcript. Far below: the name was not said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weighed {
    /// Each booked name weighed, with its weight.
    pub names: Vec<(String, f32)>,
    /// For the name the audio clearly says: how much better it fits than
    /// the other person the transcript may name instead (see
    /// [`rival_slots`]), at worst. `None` when there is no such person.
    pub over_rivals: Option<f32>,
}

impl Weighed {
    /// Names weighed, with no rival weighed yet.
    pub fn new(names: Vec<(String, f32)>) -> Weighed {
        Weighed {
            names,
            over_rivals: None,
        }
    }

    /// The one name the audio clearly says, if any: it fits about as well
    /// as what was written, and much better than every other name weighed.
    pub fn clearly(&self) -> Option<&str> {
        self.clearly_by(CLEARLY)
    }

    /// [`Weighed::clearly`] with another margin over the second name.
    pub fn clearly_by(&self, margin: f32) -> Option<&str> {
        let mut by_weight: Vec<&(String, f32)> = self.names.iter().collect();
        by_weight.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (name, gain) = by_weight.first()?;
        let second = by_weight.get(1).map_or(f32::NEG_INFINITY, |w| w.1);
        (*gain >= -FITS && gain - second >= margin).then_some(name.as_str())
    }

    /// Adds names weighed elsewhere; a name weighed twice keeps its better
    /// fit.
    pub fn keep_better(&mut self, more: Vec<(String, f32)>) {
        for (name, gain) in more {
            match self.names.iter_mut().find(|(n, _)| *n == name) {
                Some(w) => w.1 = w.1.max(gain),
                None => self.names.push((name, gain)),
            }
        }
    }

    /// The weight of the person with this id, if their name was weighed.
    fn of_id(&self, candidates: &[Candidate], id: &str) -> Option<f32> {
        let name = full_name(candidates.iter().find(|c| c.id == id)?);
        self.names.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
    }
}

/// The audio fits a name at most this much (nats) worse than what the
/// recogniser wrote in its place...
const FITS: f32 = 6.0;
/// ... and fits it at least this much better than any other name weighed.
const CLEARLY: f32 = 5.0;
/// A name weighed across a word beside the stretch must lead by this much:
/// replacing more of a garbled transcript lifts every name, and a walk-in
/// "Lucy Fernandes" heard as "Lucifer, Arne" led Lucia Fernandez by 5.4
/// there (the names it settled led by 15 or more).
pub const CLEARLY_WIDER: f32 = 10.0;
/// A name near enough by spelling to be asked about alone, but with
/// another near it too, is asked about when the audio's best name is the
/// same and leads the others weighed by this much.
const AGREE: f32 = 1.0;

/// Picks the person the transcript names among `candidates`. `weighed`
/// is what the audio says about the nearest names (empty when the
/// utterance is only text).
///
/// The audio can turn a "did you say …?" or a "which one?" into acting at
/// once, when it clearly says one of the people asked about and fits them
/// at least as well as any rival written ([`Weighed::over_rivals`]); it turns a
/// name the spelling alone was sure of into a question when it fits the
/// audio much worse than what was written, or when the audio clearly says
/// someone else; and it can ask about a name the spelling missed, or one
/// that spelling and the audio both lean to without either being sure.
/// It never acts on a name the spelling did not already point to.
pub fn find(transcript: &str, candidates: &[Candidate], weighed: &Weighed) -> NameMatch {
    let (text, nearest) = by_text(&words(transcript), candidates);
    // The booked name written whole, with a word glued on after it ("It's
    // Grace Kim Jour" from a walk-in Grace Kimura): the name may go on, so
    // ask. The audio cannot settle this: the recogniser's own language
    // weighs a familiar short name above "Kim Jour", and "Grace Kim" fit
    // that walk-in's audio 10.4 nats better than what was written.
    if let NameMatch::One { id, score } = &text
        && candidates
            .iter()
            .find(|c| c.id == *id)
            .is_some_and(|c| Written::new(transcript).goes_on(c))
    {
        return NameMatch::Unsure {
            id: id.clone(),
            score: *score,
        };
    }
    // Spelled nearly right, but the audio fits what was written much
    // better than the booked name ("Lucy Fernandes" is not Lucia
    // Fernandez): ask.
    if let NameMatch::One { id, score } = &text
        && *score < 1.0
        && weighed.of_id(candidates, id).is_some_and(|g| g < -FITS)
    {
        return NameMatch::Unsure {
            id: id.clone(),
            score: *score,
        };
    }
    let Some(heard) = weighed.clearly() else {
        return asked_by_both(text, nearest, candidates, weighed);
    };
    let Some(person) = the_one_named(candidates, heard) else {
        return text;
    };
    let id = person.id.clone();
    // The transcript may name someone else who shares a name with them
    // ("Lee Murphy" for Liam Murphy): the audio may then act only if the
    // booked name fits it at least as well.
    let no_rival = weighed.over_rivals.is_none_or(|o| o >= 0.0);
    match text {
        NameMatch::One { id: sure, score } if sure != id => {
            let sure_fits = weighed.of_id(candidates, &sure);
            if sure_fits.is_some() {
                NameMatch::Several(vec![sure, id])
            } else {
                NameMatch::One { id: sure, score }
            }
        }
        NameMatch::Unsure { id: asked, score } if asked == id && no_rival => {
            NameMatch::One { id, score }
        }
        NameMatch::Several(ids) if ids.contains(&id) && no_rival => {
            NameMatch::One { id, score: SURE }
        }
        NameMatch::One { .. } => text,
        _ => NameMatch::Unsure { id, score: 0.0 },
    }
}

/// Spelling found no one for sure, and the audio does not clearly say
/// anyone, but both lean the same way: the nearest by letters and sound
/// is near enough to be asked about alone, were no one else near too,
/// and the audio fits that name best, about as well as what was written
/// ("Shih Mong O Brian" for Siobhan O'Brien: weighed 4.0 against Wei
/// Zhang's 2.4). Two weak signals that agree are worth a "did you say
/// …?", never acting on.
fn asked_by_both(
    text: NameMatch,
    nearest: Option<(&Candidate, f32)>,
    candidates: &[Candidate],
    weighed: &Weighed,
) -> NameMatch {
    let (NameMatch::None, Some((person, score))) = (&text, nearest) else {
        return text;
    };
    let leads = weighed
        .clearly_by(AGREE)
        .and_then(|n| the_one_named(candidates, n))
        .is_some_and(|c| c.id == person.id);
    if leads && score >= LONE {
        NameMatch::Unsure {
            id: person.id.clone(),
            score,
        }
    } else {
        text
    }
}

/// The one person booked under this full name; `None` when nobody is, or
/// when two people share it (that is a "which one?").
fn the_one_named<'c>(candidates: &'c [Candidate], name: &str) -> Option<&'c Candidate> {
    let mut named = candidates.iter().filter(|c| full_name(c) == name);
    let person = named.next()?;
    named.next().is_none().then_some(person)
}

/// The name alone, by letters and sound; and the person nearest by them,
/// however far.
fn by_text<'c>(
    said: &[String],
    candidates: &'c [Candidate],
) -> (NameMatch, Option<(&'c Candidate, f32)>) {
    let heard = run_sounds(said);
    let mut scored: Vec<(f32, &Candidate)> = candidates
        .iter()
        .map(|c| (score(said, &heard, c), c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some(&(top, best)) = scored.first() else {
        return (NameMatch::None, None);
    };
    let nearest = Some((best, top));
    let second_best = scored.get(1).map(|(s, _)| *s).unwrap_or(0.0);
    // Below "plausible" a name can still be worth a "did you say?" when it
    // is the only one of today's people that comes anywhere near.
    if top < PLAUSIBLE {
        if top >= LONE && top - second_best >= LONE_MARGIN {
            let asked = NameMatch::Unsure {
                id: best.id.clone(),
                score: top,
            };
            return (asked, nearest);
        }
        return (NameMatch::None, nearest);
    }
    let close: Vec<String> = scored
        .iter()
        // Someone just under "plausible" but within a tie of the top still
        // makes it a question of which one.
        .take_while(|(s, _)| *s >= PLAUSIBLE - TIE && top - *s < TIE)
        .map(|(_, c)| c.id.clone())
        .collect();
    if close.len() > 1 {
        return (NameMatch::Several(close), nearest);
    }
    let id = best.id.clone();
    let found = if top >= SURE {
        NameMatch::One { id, score: top }
    } else {
        NameMatch::Unsure { id, score: top }
    };
    (found, nearest)
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
    fn what_was_said_is_forgotten_when_the_next_utterance_starts() {
        let run = "Zorblax Quuxington the third";
        let name = "Zorblaxia Quux";
        assert_eq!(said_sounds(run), sounds(run));
        assert_eq!(name_sounds(name), sounds(name));
        assert!(cache().said.contains_key(run));
        new_utterance();
        assert!(!cache().said.contains_key(run), "the words said are kept");
        assert!(
            cache().names.contains_key(name),
            "today's names are read again"
        );
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
            find(
                "Check in Chavano, Brian, please",
                &people,
                &Weighed::default()
            ),
            NameMatch::Unsure {
                id: "siobhan".into(),
                score: whole_name_by_sound(
                    &run_sounds(&words("Check in Chavano, Brian, please")),
                    &people[0]
                )
            }
        );
        assert!(matches!(
            find("Check a Nuky Sato, please", &people, &Weighed::default()),
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
            match find(said, &people, &Weighed::default()) {
                NameMatch::One { id, .. } => assert_eq!(id, want, "{said}"),
                other => panic!("{said}: {other:?}"),
            }
        }
    }

    #[test]
    fn spelling_and_audio_leaning_the_same_way_ask() {
        let people = [
            c("siobhan", "Siobhan", "O'Brien"),
            c("wei", "Wei", "Zhang"),
            c("sarah", "Sarah", "Jones"),
            c("dan", "Dan", "Brown"),
            c("jose", "José", "Núñez"),
        ];
        // espeak-ng saying "Siobhan O'Brien", as tiny.en wrote it: near
        // Siobhan O'Brien, but Dan Brown is near too ("Brian").
        let heard = "Shih Mong O Brian, Sh";
        assert_eq!(find(heard, &people, &Weighed::default()), NameMatch::None);
        let weighed = |siobhan: f32, wei: f32| {
            Weighed::new(vec![
                ("Siobhan O'Brien".into(), siobhan),
                ("Wei Zhang".into(), wei),
                ("Sarah Jones".into(), -3.5),
            ])
        };
        // The audio leans the same way, though not clearly: ask.
        assert!(matches!(
            find(heard, &people, &weighed(4.0, 2.4)),
            NameMatch::Unsure { id, .. } if id == "siobhan"
        ));
        // The audio leans elsewhere, barely leans, or fits the name much
        // worse than what was written: nobody.
        for (siobhan, wei) in [(2.4, 4.0), (4.0, 3.5), (-8.0, -12.0)] {
            assert_eq!(
                find(heard, &people, &weighed(siobhan, wei)),
                NameMatch::None,
                "Siobhan {siobhan}, Wei {wei}"
            );
        }
        // Spelling far from everyone: the audio alone does not ask unless
        // it is clear.
        assert_eq!(
            find("Listen, Ayhmana", &people, &weighed(4.0, 2.4)),
            NameMatch::None
        );
    }

    #[test]
    fn another_name_written_right_is_asked_about_not_taken() {
        let people = [
            c("dan", "Dan", "Brown"),
            c("yuki", "Yuki", "Sato"),
            c("lucia", "Lucia", "Fernandez"),
            c("sarah", "Sarah", "Jones"),
            c("jon", "Jon", "Murphy"),
            c("catherine", "Catherine", "Okafor"),
            c("steven", "Steven", "Haddad"),
            c("dmitri", "Dmitri", "Volkov"),
        ];
        // Walk-ins whose own names the recogniser wrote right (the base
        // model did, for espeak-ng's and Piper's voices): near a booked
        // name by letters and consonants, but said differently.
        for (said, near) in [
            ("Hi, I'm Dana Brown, checking in.", "dan"),
            ("This is Yuko Sato, checking in.", "yuki"),
            ("Hi, I'm Lucy Fernandez.", "lucia"),
        ] {
            match find(said, &people, &Weighed::default()) {
                NameMatch::Unsure { id, .. } => assert_eq!(id, near, "{said}"),
                other => panic!("{said}: {other:?}"),
            }
        }
        // Another spelling said the same way is the booked person.
        for (said, who) in [
            ("Hi, I'm Sara Jones", "sarah"),
            ("John Murphy checking in", "jon"),
            ("It's Kathryn Okafor", "catherine"),
            ("Stephen Hadad", "steven"),
            ("I'm Dimitri Volkov", "dmitri"),
        ] {
            match find(said, &people, &Weighed::default()) {
                NameMatch::One { id, .. } => assert_eq!(id, who, "{said}"),
                other => panic!("{said}: {other:?}"),
            }
        }
    }

    #[test]
    fn two_close_names_are_never_guessed() {
        let mut people = today();
        people.push(c("g", "Sara", "Jones"));
        assert_eq!(
            find("I'm Sarah Jones", &people, &Weighed::default()),
            NameMatch::Several(vec!["a".into(), "g".into()])
        );
    }

    #[test]
    fn an_unknown_name_matches_nobody() {
        assert_eq!(
            find("Hi I'm Peter Schmidt", &today(), &Weighed::default()),
            NameMatch::None
        );
        assert_eq!(
            find("next patient please", &today(), &Weighed::default()),
            NameMatch::None
        );
        assert_eq!(find("", &today(), &Weighed::default()), NameMatch::None);
        assert_eq!(
            find("Sarah Jones", &[], &Weighed::default()),
            NameMatch::None
        );
    }

    #[test]
    fn a_mangled_but_lone_name_is_asked_about() {
        // Only Omar Farouk comes near "Omar Tharok" today: ask, never act.
        let mut people = today();
        people.push(c("o", "Omar", "Farouk"));
        match find("Omar Tharok,", &people, &Weighed::default()) {
            NameMatch::Unsure { id, .. } => assert_eq!(id, "o"),
            other => panic!("{other:?}"),
        }
        // With a second person about as near, it is not asked about.
        people.push(c("p", "Omar", "Farooq"));
        assert!(matches!(
            find("Omar Tharok,", &people, &Weighed::default()),
            NameMatch::None | NameMatch::Several(_)
        ));
    }

    #[test]
    fn a_near_miss_asks_for_confirmation() {
        // "Dan Bowen" is close to Dan Brown but not certain.
        match find("I'm Dan Bowen", &today(), &Weighed::default()) {
            NameMatch::Unsure { id, .. } => assert_eq!(id, "f"),
            other => panic!("{other:?}"),
        }
    }

    fn weighed(w: &[(&str, f32)]) -> Weighed {
        Weighed::new(w.iter().map(|(n, g)| (n.to_string(), *g)).collect())
    }

    #[test]
    fn the_name_slot_is_the_stretch_nearest_a_booked_name() {
        let people = [
            c("siobhan", "Siobhan", "O'Brien"),
            c("dan", "Dan", "Brown"),
            c("yuki", "Yuki", "Sato"),
        ];
        let s =
            slot("Check in Chavano, Brian, please.", &people).unwrap_or_else(|| panic!("no slot"));
        assert_eq!(s.before, "Check in");
        assert_eq!(s.heard, "Chavano Brian");
        assert_eq!(s.after, ", please.");
        assert_eq!(s.names[0], "Siobhan O'Brien");
        assert_eq!(s.names.len(), 3, "every booked name is weighed there");
        // The same place taking in the word before, after, or both.
        let wider: Vec<(&str, &str, &str)> = s
            .wider
            .iter()
            .map(|w| (w.before.as_str(), w.heard.as_str(), w.after.as_str()))
            .collect();
        assert_eq!(
            wider,
            [
                ("Check", "in Chavano Brian", ", please."),
                ("Check in", "Chavano Brian please", "."),
                ("Check", "in Chavano Brian please", "."),
            ]
        );
        assert!(
            s.wider
                .iter()
                .all(|w| w.names == s.names && w.wider.is_empty())
        );
        let s = slot("Yuki Sato", &people).unwrap_or_else(|| panic!("no slot"));
        assert_eq!(
            (s.before.as_str(), s.heard.as_str(), s.after.as_str()),
            ("", "Yuki Sato", "")
        );
        assert!(s.wider.is_empty(), "no word beside it");
        assert_eq!(slot("", &people), None);
        assert_eq!(slot("... !", &people), None);
    }

    #[test]
    fn the_sentence_frame_offers_a_second_stretch_and_never_frame_words_alone() {
        let people = [
            c("elena", "Elena", "Popescu"),
            c("kwame", "Kwame", "Mensah"),
            c("dmitri", "Dmitri", "Volkov"),
            c("tomasz", "Tomasz", "Nowak"),
        ];
        // tiny.en's reading of "Hi, Kwame Mensah checking in, please."
        let found = slots("Hi, Quaint Mitz of Checking In, Please?", &people);
        let heard: Vec<&str> = found.iter().map(|s| s.heard.as_str()).collect();
        assert!(
            !heard.contains(&"Please"),
            "a stretch of frame words alone is no name: {heard:?}"
        );
        let frame = found
            .iter()
            .find(|s| s.heard == "Quaint Mitz of")
            .unwrap_or_else(|| panic!("the frame's stretch is missing: {heard:?}"));
        assert_eq!(frame.before, "Hi,");
        assert_eq!(frame.after, " Checking In, Please?");
        assert_eq!(
            frame.names.len(),
            4,
            "every booked name may be weighed there"
        );
        // Frame words lead into the name and end it: "please call …
        // to room", "hi, I'm …, I am".
        let found = slots("Please call the Meetream, I'll come to room 3.", &people);
        assert!(
            found.iter().any(|s| s.heard == "Meetream I'll come"),
            "{found:?}"
        );
        assert!(found.iter().all(|s| s.heard != "to"));
        let found = slots("Hi, I'm Thomas Noep, I am a two-at-lock.", &people);
        // The nearest run swallows "I am"; the frame stops before it.
        let heard: Vec<&str> = found.iter().map(|s| s.heard.as_str()).collect();
        assert_eq!(heard, ["Thomas Noep I am", "Thomas Noep"]);
        // Where the frame agrees with the nearest run, one slot.
        assert_eq!(slots("Call Tomasz Nowak to room 2.", &people).len(), 1);
        // Nothing but frame words: no slot at all.
        assert!(slots("Please call to room 3.", &people).is_empty());
    }

    #[test]
    fn a_name_weighed_in_two_places_keeps_its_better_fit() {
        let mut w = weighed(&[("Kwame Mensah", -30.0), ("Dan Brown", -2.0)]);
        w.keep_better(vec![
            ("Kwame Mensah".into(), 8.0),
            ("Dan Brown".into(), -9.0),
            ("Anh Nguyen".into(), -8.5),
        ]);
        assert_eq!(
            w,
            weighed(&[
                ("Kwame Mensah", 8.0),
                ("Dan Brown", -2.0),
                ("Anh Nguyen", -8.5)
            ])
        );
        assert_eq!(w.clearly(), Some("Kwame Mensah"));
    }

    #[test]
    fn the_audio_decides_only_when_it_is_clear() {
        let people = [
            c("siobhan", "Siobhan", "O'Brien"),
            c("dan", "Dan", "Brown"),
            c("sarah", "Sarah", "Jones"),
            c("sara", "Sara", "Jonas"),
        ];
        let said = "Check in Chavano, Brian, please";
        // Spelling alone asks "did you say Siobhan O'Brien?"...
        assert!(matches!(
            find(said, &people, &Weighed::default()),
            NameMatch::Unsure { id, .. } if id == "siobhan"
        ));
        // ... the audio clearly saying her name acts at once.
        let clear = weighed(&[
            ("Siobhan O'Brien", 11.8),
            ("Dan Brown", -9.9),
            ("Sarah Jones", -30.0),
        ]);
        assert!(
            matches!(find(said, &people, &clear), NameMatch::One { id, .. } if id == "siobhan")
        );
        // Weighed across a word beside the stretch, it must lead by more.
        let lifted = weighed(&[("Siobhan O'Brien", 2.7), ("Dan Brown", -2.7)]);
        assert_eq!(lifted.clearly(), Some("Siobhan O'Brien"));
        assert_eq!(lifted.clearly_by(CLEARLY_WIDER), None);
        // Not far enough ahead of the next name, or fitting the audio much
        // worse than what was written: still a question.
        for unclear in [
            weighed(&[("Siobhan O'Brien", -1.0), ("Dan Brown", -4.0)]),
            weighed(&[("Siobhan O'Brien", -9.0), ("Dan Brown", -30.0)]),
        ] {
            assert!(
                matches!(find(said, &people, &unclear), NameMatch::Unsure { id, .. } if id == "siobhan"),
                "{unclear:?}"
            );
        }
        // Spelling sure of one name, audio clearly another: ask which.
        let other = weighed(&[("Sarah Jones", -12.0), ("Sara Jonas", 0.5)]);
        match find("I'm Sarah Jones", &people, &other) {
            NameMatch::Several(ids) => assert_eq!(ids, ["sarah", "sara"]),
            got => panic!("{got:?}"),
        }
        // The audio alone never acts: a name spelling missed is asked about.
        let missed = weighed(&[("Dan Brown", 2.0), ("Sarah Jones", -20.0)]);
        assert!(matches!(
            find("Hi, quaint mitz checking in", &people, &missed),
            NameMatch::Unsure { id, .. } if id == "dan"
        ));
        // Spelled another way that is said the same, but the audio fits
        // what was written much better: a question, not a check-in.
        let near = [c("sarah", "Sarah", "Jones"), c("dan", "Dan", "Brown")];
        let said = "Hi, I'm Sara Jones";
        assert!(matches!(
            find(said, &near, &Weighed::default()),
            NameMatch::One { .. }
        ));
        let w = weighed(&[("Sarah Jones", -6.3), ("Dan Brown", -30.0)]);
        assert!(matches!(find(said, &near, &w), NameMatch::Unsure { id, .. } if id == "sarah"));
        // Two people with the same name stay a question of which one.
        let twins = [c("a", "Sarah", "Jones"), c("b", "Sarah", "Jones")];
        let w = weighed(&[("Sarah Jones", 0.0), ("Dan Brown", -20.0)]);
        assert!(matches!(
            find("Sarah Jones", &twins, &w),
            NameMatch::Several(_)
        ));
    }

    #[test]
    fn a_transcript_naming_someone_else_with_the_same_last_name_is_a_rival() {
        let liam = c("liam", "Liam", "Murphy");
        let heard = |text: &str, who: &Candidate| -> Vec<String> {
            rival_slots(text, who)
                .into_iter()
                .map(|s| s.heard)
                .collect()
        };
        // Another first name beside the booked last name, or another last
        // name after the booked first name: someone else, maybe.
        assert_eq!(
            heard("Hello, my name is Lee Murphy.", &liam),
            ["Lee Murphy"]
        );
        let omar = c("omar", "Omar", "Farouk");
        assert_eq!(heard("Omar Tharo,", &omar), ["Omar Tharo"]);
        let noah = c("noah", "Noah", "Schmidt");
        let slots = rival_slots("Hi, I'm Peter Schmidt, Chaakin' Yoo,", &noah);
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].before, "Hi, I'm");
        assert_eq!(slots[0].names, ["Noah Schmidt"]);
        // The booked name itself, a frame word beside it, or nothing
        // kept exactly: no rival.
        assert!(heard("Call Liam Murphy to room 2", &liam).is_empty());
        let dan = c("dan", "Dan", "Brown");
        assert!(heard("Ko and Brown, Tarum 2,", &dan).is_empty());
        assert!(heard("Check in Van Drown, please.", &dan).is_empty());
        // The rest of the name split in two is no one else.
        let hiroshi = c("hiroshi", "Hiroshi", "Tanaka");
        assert!(heard("Iro Shi Tanaka,", &hiroshi).is_empty());
        assert!(heard("Check in Hiroshi Tat Arka, Please...", &hiroshi).is_empty());
        assert_eq!(
            heard("Check in Hiroshi Tatsumi, please.", &hiroshi),
            ["Hiroshi Tatsumi"]
        );
        let grace = c("grace", "Grace", "Kim");
        assert_eq!(
            heard("It's Grace Kimura, I have an appointment", &grace),
            ["Grace Kimura"]
        );
    }

    #[test]
    fn a_booked_name_with_a_word_glued_on_may_be_a_longer_name() {
        let people = [
            c("grace", "Grace", "Kim"),
            c("sarah", "Sarah", "Jones"),
            c("mary", "Mary Ann", "Van der Berg"),
        ];
        let at_once = |said: &str| -> Option<String> {
            match find(said, &people, &Weighed::default()) {
                NameMatch::One { id, .. } => Some(id),
                _ => None,
            }
        };
        // A walk-in Grace Kimura, as tiny.en wrote her: asked about.
        for said in [
            "It's Grace Kim Jour.",
            "It's Grace Kim Jora",
            "Maryann Vanderberg Smith",
        ] {
            assert!(
                matches!(
                    find(said, &people, &Weighed::default()),
                    NameMatch::Unsure { .. }
                ),
                "{said}"
            );
        }
        // A pause written as punctuation, or the sentence going on: the
        // booked name, at once.
        for (said, who) in [
            ("It's Grace Kim. Jour.", "grace"),
            ("Hi, I'm Sarah Jones, I have a two o'clock", "sarah"),
            ("Sarah Jones two o'clock with Doctor Lee", "sarah"),
            ("Call Sarah Jones to room 2", "sarah"),
            ("Call Sarah Jones T-Room II", "sarah"),
            ("Call Sarah Jones room3", "sarah"),
            ("Call Sarah Jones now", "sarah"),
            ("Sarah Jones checking in", "sarah"),
            ("Sarah Jones", "sarah"),
            ("Mary Ann van der Berg here", "mary"),
        ] {
            assert_eq!(at_once(said).as_deref(), Some(who), "{said}");
        }
        // The audio saying Grace Kim clearly does not settle it: it fit
        // that walk-in's audio 10.4 nats better than what was written.
        let w = weighed(&[("Grace Kim", 10.4), ("Sarah Jones", -5.1)]);
        assert!(matches!(
            find("It's Grace Kim Jour, I am an appointment", &people, &w),
            NameMatch::Unsure { id, .. } if id == "grace"
        ));
    }

    #[test]
    fn the_audio_acts_only_if_the_booked_name_beats_the_rival_written() {
        let people = [c("liam", "Liam", "Murphy"), c("dan", "Dan", "Brown")];
        let said = "Hello, my name is Lee Murphy.";
        let mut w = weighed(&[("Liam Murphy", -3.9), ("Dan Brown", -30.0)]);
        // Spelling asks about Liam Murphy, the audio clearly says him.
        assert!(matches!(
            find(said, &people, &Weighed::default()),
            NameMatch::Unsure { id, .. } if id == "liam"
        ));
        assert!(matches!(find(said, &people, &w), NameMatch::One { .. }));
        // But "Lee Murphy" fits the audio 3.9 better: still a question.
        w.over_rivals = Some(-3.9);
        assert!(matches!(
            find(said, &people, &w),
            NameMatch::Unsure { id, .. } if id == "liam"
        ));
        // The booked name fitting at least as well acts at once.
        w.over_rivals = Some(1.6);
        assert!(matches!(find(said, &people, &w), NameMatch::One { id, .. } if id == "liam"));
    }
}
