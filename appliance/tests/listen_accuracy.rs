//! Voice in, the accuracy suite: 118 generated front-desk utterances with
//! varied names (not only common English ones), spoken by the box's own
//! Piper voice and by several espeak-ng voices, through the real pipeline
//! (endpointing, whisper.cpp tiny.en with today's names in the prompt,
//! today's nearest names weighed against the audio, intent parsing, name
//! matching), plus 11 walk-ins whose names are near someone booked, each
//! said by every voice. Reports intent and name accuracy; fails under
//! floors just below the last measured figures, if the Piper voice's
//! walk-in is ever taken for someone booked, or if more espeak-ng ones are
//! than last measured.
//!
//! Needs scripts/fetch-voice.sh and scripts/fetch-whisper.sh to have run.

mod speech;

use appliance::listen::Expected;
use appliance::listen::intent::{self, Intent};
use appliance::listen::names::{self, Candidate, NameMatch, Weighed};
use speech::{Speaker, people, providers, rooms};

#[derive(Debug, Clone, PartialEq)]
enum Want {
    CheckIn(usize),
    Call(usize, &'static str),
    Next(Option<&'static str>),
    Yes,
    No,
    Cancel,
    Repeat,
    /// Someone not on today's list: must never be checked in at once as
    /// somebody else.
    Stranger,
}

fn utterances() -> Vec<(String, Want)> {
    let ppl = people();
    let times = [
        "two o'clock",
        "ten thirty",
        "three",
        "nine fifteen",
        "eleven",
    ];
    let room_words = [
        ("two", "Room 2"),
        ("three", "Room 3"),
        ("one", "Room 1"),
        ("four", "Room 4"),
    ];
    let mut out = Vec::new();
    for (i, p) in ppl.iter().enumerate() {
        let name = format!("{} {}", p.0, p.1);
        let t = times[i % times.len()];
        let (rw, room) = room_words[i % room_words.len()];
        let check_in = match i % 5 {
            0 => format!("Hi, I'm {name}, I have a {t} with {}.", p.2),
            1 => format!("Hello, my name is {name}."),
            2 => format!("This is {name}, checking in."),
            3 => format!("I'm {name}, here for my {t} appointment."),
            _ => format!("Hi, {name} checking in, please."),
        };
        out.push((check_in, Want::CheckIn(i)));
        let call = match i % 3 {
            0 => format!("Call {name} to room {rw}."),
            1 => format!("Please call {name} to room {rw}."),
            _ => format!("Call {name} to room {rw}, please."),
        };
        out.push((call, Want::Call(i, room)));
        if i % 2 == 0 {
            out.push((format!("{name}."), Want::CheckIn(i)));
        }
        let desk = if i % 2 == 0 {
            format!("Check in {name}, please.")
        } else {
            format!("It's {name}, I have an appointment at {t}.")
        };
        out.push((desk, Want::CheckIn(i)));
    }
    for (text, want) in [
        ("Next patient, please.", Want::Next(None)),
        ("Next patient to room three.", Want::Next(Some("Room 3"))),
        ("Next patient to room one.", Want::Next(Some("Room 1"))),
        ("Next one, please.", Want::Next(None)),
        ("Yes.", Want::Yes),
        ("Yes, that's me.", Want::Yes),
        ("Yeah.", Want::Yes),
        ("No.", Want::No),
        ("No, that's not me.", Want::No),
        ("Cancel.", Want::Cancel),
        ("Never mind.", Want::Cancel),
        ("Can you repeat that?", Want::Repeat),
        ("Repeat that, please.", Want::Repeat),
    ] {
        out.push((text.to_string(), want));
    }
    out
}

/// Walk-ins not on today's list whose names are near someone booked
/// (a first name a letter or a sound away, the same last name): each is
/// said by every voice, since one voice may be heard as the booked name
/// where another is not.
fn walk_ins() -> Vec<&'static str> {
    vec![
        "Hi, I'm Peter Schmidt, checking in.",
        "Hello, my name is Kevin Okafor.",
        "This is Maria Lopez, checking in.",
        "Hi, I'm Daniel Brownlee, I have a three o'clock.",
        "It's Mohammed Hassan, checking in.",
        "Hi, I'm Lucy Fernandes.",
        "Hello, I'm Anna Nguyen.",
        "Hi, I'm Dana Brown, checking in.",
        "Hello, my name is Leah Murphy.",
        "This is Yuko Sato, checking in.",
        "It's Grace Kimura, I have an appointment at eleven.",
    ]
}

/// Name outcome: right at once, right after a "did you say ...? yes", wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NameOk {
    AtOnce,
    AfterYes,
    Wrong,
}

fn judge(
    heard: &str,
    weighed: &Weighed,
    want: &Want,
    cands: &[Candidate],
    rooms: &[String],
) -> (bool, Option<NameOk>) {
    let got = intent::parse(heard, rooms);
    let name_ok = |i: usize| match names::find(heard, cands, weighed) {
        NameMatch::One { id, .. } if id == cands[i].id => NameOk::AtOnce,
        NameMatch::Unsure { id, .. } if id == cands[i].id => NameOk::AfterYes,
        _ => NameOk::Wrong,
    };
    match want {
        Want::CheckIn(i) => (matches!(got, Intent::CheckIn { .. }), Some(name_ok(*i))),
        Want::Call(i, room) => (
            got == Intent::Call {
                room: Some(room.to_string()),
            },
            Some(name_ok(*i)),
        ),
        Want::Next(room) => (
            got == Intent::Next {
                room: room.map(str::to_string),
            },
            None,
        ),
        Want::Yes => (got == Intent::Yes, None),
        Want::No => (got == Intent::No, None),
        Want::Cancel => (got == Intent::Cancel, None),
        Want::Repeat => (got == Intent::Repeat, None),
        Want::Stranger => (
            matches!(got, Intent::CheckIn { .. }),
            Some(match names::find(heard, cands, weighed) {
                NameMatch::One { .. } => NameOk::Wrong,
                _ => NameOk::AtOnce,
            }),
        ),
    }
}

#[derive(Default)]
struct Tally {
    utterances: u32,
    intents: u32,
    names: u32,
    at_once: u32,
    after_yes: u32,
    /// Walk-ins not on the list, and how many were taken for someone booked.
    strangers: u32,
    strangers_taken: u32,
}

impl Tally {
    fn pct(a: u32, b: u32) -> f64 {
        a as f64 / b.max(1) as f64 * 100.0
    }
    fn intent_pct(&self) -> f64 {
        Self::pct(self.intents, self.utterances)
    }
    fn at_once_pct(&self) -> f64 {
        Self::pct(self.at_once, self.names)
    }
    fn with_yes_pct(&self) -> f64 {
        Self::pct(self.at_once + self.after_yes, self.names)
    }
}

fn candidates() -> Vec<Candidate> {
    people()
        .iter()
        .enumerate()
        .map(|(i, p)| Candidate {
            id: format!("p{i}"),
            first: p.0.to_string(),
            last: p.1.to_string(),
        })
        .collect()
}

/// Weighing reuses the prompt the transcription left decoded in whisper's
/// state: it must give what decoding everything again gives, and the name
/// said must weigh most.
#[test]
fn names_are_weighed_against_the_audio_just_transcribed() {
    let mut t = appliance::listen::Transcriber::load(&speech::whisper_model(), 2)
        .unwrap_or_else(|e| panic!("{e}"));
    let cands = candidates();
    let expected = Expected::new(cands.clone(), &providers());
    // tiny.en writes this as "Check in Chavano, Brian, please."
    let audio = speech::in_the_lobby(speech::piper("Check in Siobhan O'Brien, please."));
    let heard = t
        .transcribe(&audio, &expected.prompt)
        .unwrap_or_else(|e| panic!("{e}"));
    let slot = names::slot(&heard.text, &cands).unwrap_or_else(|| panic!("no slot in {heard:?}"));
    let spans = slot.readings();
    let reused = t
        .weigh(
            &expected.prompt,
            &slot.before,
            &spans,
            &slot.after,
            spans.len(),
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let again = t
        .weigh_decoding_the_prompt_again(&expected.prompt, &slot.before, &spans, &slot.after)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reused.len(), spans.len());
    for ((span, a), b) in spans.iter().zip(&reused).zip(&again) {
        let (a, b) = (a.unwrap_or(f32::NAN), b.unwrap_or(f32::NAN));
        assert!(
            (a - b).abs() < 0.05,
            "{span}: reused {a}, decoded again {b}"
        );
    }
    let (best, _) = slot
        .names
        .iter()
        .zip(&reused[1..])
        .max_by(|a, b| a.1.unwrap_or(f32::MIN).total_cmp(&b.1.unwrap_or(f32::MIN)))
        .unwrap_or_else(|| panic!("nothing weighed"));
    assert_eq!(
        best, "Siobhan O'Brien",
        "heard {:?}, slot {slot:?}, weights {reused:?}",
        heard.text
    );
    // With another prompt, or no transcription just before, there is no
    // audio to weigh against: an error, not a guess.
    assert!(t.weigh("Other prompt.", "", &spans, "", 1, 0).is_err());
    let _ = t.transcribe(&[0.0; 100], &expected.prompt);
    assert!(t.weigh(&expected.prompt, "", &spans, "", 1, 0).is_err());
}

#[test]
fn front_desk_utterances_are_understood() {
    let asr = speech::asr();
    let cands = candidates();
    let expected = Expected::new(cands.clone(), &providers());
    let rooms = rooms();
    let speakers = Speaker::all();
    // Each walk-in by every voice (Piper is listed more than once).
    let mut voices: Vec<&Speaker> = Vec::new();
    for s in &speakers {
        if !voices.iter().any(|v| v.label() == s.label()) {
            voices.push(s);
        }
    }
    let list: Vec<(&Speaker, String, Want)> = utterances()
        .into_iter()
        .enumerate()
        .map(|(n, (text, want))| (&speakers[n % speakers.len()], text, want))
        .chain(walk_ins().into_iter().flat_map(|text| {
            voices
                .iter()
                .map(move |v| (*v, text.to_string(), Want::Stranger))
        }))
        .collect();
    assert!(list.len() >= 100, "{} utterances", list.len());

    // Piper (the box's own neural voice) and espeak-ng (formant synthesis,
    // much harder for any recogniser) are reported apart.
    let mut piper = Tally::default();
    let mut espeak = Tally::default();
    let mut misses = Vec::new();
    for (speaker, text, want) in &list {
        let audio = speaker.say(text);
        let (heard, weighed) = speech::hear(&asr, audio, &expected);
        let (intent_ok, name_ok) = judge(&heard, &weighed, want, &cands, &rooms);
        let t = match speaker {
            Speaker::Piper => &mut piper,
            Speaker::Espeak(_) => &mut espeak,
        };
        t.utterances += 1;
        t.intents += u32::from(intent_ok);
        if *want == Want::Stranger {
            t.strangers += 1;
            t.strangers_taken += u32::from(name_ok == Some(NameOk::Wrong));
        } else if let Some(ok) = name_ok {
            t.names += 1;
            t.at_once += u32::from(ok == NameOk::AtOnce);
            t.after_yes += u32::from(ok == NameOk::AfterYes);
        }
        if !intent_ok || name_ok.is_some_and(|n| n != NameOk::AtOnce) {
            misses.push(format!(
                "[{}] said {text:?} heard {heard:?} (intent {}, name {:?}) weighed {:?}",
                speaker.label(),
                if intent_ok { "ok" } else { "WRONG" },
                name_ok,
                weighed
            ));
        }
    }
    println!("{} utterances, {} voices", list.len(), voices.len());
    for (label, t) in [
        ("piper en_US-joe-medium", &piper),
        ("espeak-ng (4 voices)", &espeak),
    ] {
        println!(
            "{label}: {} utterances; intents {:.1} %; names right at once {:.1} %, right after a yes {:.1} % (of {})",
            t.utterances,
            t.intent_pct(),
            t.at_once_pct(),
            t.with_yes_pct(),
            t.names
        );
        println!(
            "  walk-ins not on the list taken for someone booked: {} of {}",
            t.strangers_taken, t.strangers
        );
    }
    for m in &misses {
        println!("  miss: {m}");
    }
    assert_eq!(
        piper.strangers_taken, 0,
        "a walk-in was checked in as someone booked"
    );
    assert!(
        espeak.strangers_taken <= ESPEAK_WALK_INS_TAKEN_CEILING,
        "espeak-ng: {} walk-ins checked in as someone booked",
        espeak.strangers_taken
    );
    // Floors just under the last measured figures (docs/voice-in.md): a
    // change that makes understanding worse fails here.
    assert!(
        piper.intent_pct() >= 95.0,
        "piper intents {:.1} %",
        piper.intent_pct()
    );
    assert!(
        piper.at_once_pct() >= PIPER_AT_ONCE_FLOOR,
        "piper names right at once {:.1} %",
        piper.at_once_pct()
    );
    assert!(
        piper.with_yes_pct() >= PIPER_NAMES_FLOOR,
        "piper names {:.1} %",
        piper.with_yes_pct()
    );
    assert!(
        espeak.intent_pct() >= ESPEAK_INTENTS_FLOOR,
        "espeak intents {:.1} %",
        espeak.intent_pct()
    );
    assert!(
        espeak.with_yes_pct() >= ESPEAK_NAMES_FLOOR,
        "espeak names {:.1} %",
        espeak.with_yes_pct()
    );
}

// Names right at once fell from 96.2 % to 94.3 % when a stretch of frame
// words alone ("to") stopped being where names are weighed: "Always in
// Adami" (Oluwaseun Adeyemi) had been acted on only because the name was
// never weighed against the audio; weighed, it fits much worse than what
// was written, so the box now asks. The floor leaves one utterance of
// slack.
const PIPER_AT_ONCE_FLOOR: f64 = 92.0;
const PIPER_NAMES_FLOOR: f64 = 98.0;
const ESPEAK_INTENTS_FLOOR: f64 = 93.0;
// espeak-ng names after a yes: 80.8 % until a name that spelling and the
// audio both lean to was asked about ("Shih Mong O Brian"), 82.7 % since.
const ESPEAK_NAMES_FLOOR: f64 = 80.0;
// tiny.en hears espeak-ng's formant voices saying a walk-in's name as the
// booked one: "Anh Nguyen" for Anna Nguyen and "Dan Brown" for Dana Brown,
// written exactly, "Vayner Brown" (Dan Brown fits the audio 21 nats
// better), "Lucy Fernonges". 10 of 44 before the rival name written was
// weighed ("Lee Murphy" is not Liam Murphy), 7 after, 5 since a booked
// name with a word glued on is asked about ("Grace Kim Jour" for Grace
// Kimura); the Piper voice, 0 of 11. docs/voice-in.md says what is left.
const ESPEAK_WALK_INS_TAKEN_CEILING: u32 = 5;
