//! What a front-desk utterance asks for: check in, call a named person to a
//! room, next, repeat, cancel, yes, no. Names are not parsed here; they are
//! matched against today's people by `names` over the whole utterance.

use super::names::words;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// "Hi, I'm Sarah Jones, I have a two o'clock with Doctor Lee."
    CheckIn {
        time: Option<SpokenTime>,
        provider: Option<String>,
    },
    /// "Call Sarah Jones to room two."
    Call {
        room: Option<String>,
    },
    /// "Next patient", "next patient to room three".
    Next {
        room: Option<String>,
    },
    Repeat,
    Cancel,
    Yes,
    No,
    /// Only a time or a room: the answer to "which one?" / "which room?".
    Answer {
        time: Option<SpokenTime>,
        room: Option<String>,
    },
    Unknown,
}

/// "two o'clock", "2:30", "ten thirty": the hour on a 12-hour clock, since
/// nobody says "fourteen hundred" at a dentist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpokenTime {
    pub hour12: u8,
    pub minute: u8,
    pub pm: Option<bool>,
}

impl SpokenTime {
    /// Does an appointment at local `hour:minute` (24 h) fit what was said?
    pub fn fits(&self, hour: u8, minute: u8) -> bool {
        let h12 = match hour % 12 {
            0 => 12,
            h => h,
        };
        let am_pm_ok = self.pm.is_none_or(|pm| pm == (hour >= 12));
        h12 == self.hour12 && am_pm_ok && self.minute.abs_diff(minute) <= 15
    }
}

/// Number words the recogniser may write out, including the homophones a
/// short utterance produces ("room to", "room for").
fn number(w: &str) -> Option<u8> {
    Some(match w {
        "one" | "won" => 1,
        "two" | "to" | "too" => 2,
        // "free", "tree": "three" in accents that front or stop "th"
        // (London, Caribbean, West African, Irish English); a number only
        // after "room" (see strict_number).
        "three" | "free" | "tree" => 3,
        "four" | "for" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "fifteen" => 15,
        "thirty" => 30,
        "fortyfive" => 45,
        _ => return w.parse().ok(),
    })
}

/// Number words without the homophones, where "to"/"for" are just words.
fn strict_number(w: &str) -> Option<u8> {
    match w {
        "to" | "too" | "for" | "won" | "free" | "tree" => None,
        _ => number(w),
    }
}

fn has(said: &[String], phrase: &str) -> bool {
    let p: Vec<&str> = phrase.split(' ').collect();
    said.windows(p.len())
        .any(|w| w.iter().zip(&p).all(|(a, b)| a == b))
}

fn any(said: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has(said, p))
}

/// How the recogniser writes "to room" / "room" when it mishears them on a
/// short clip ("Tarum 3", "Turin IV", "Run 3"): normalised to "to room".
fn room_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "room" | "rooms" | "rum" | "rue" | "roum" | "run" | "rune" | "ruin" => "room",
        "taroom" | "tarum" | "turoom" | "terume" | "terune" | "terum" | "tarun" | "turin"
        | "thirun" | "tirun" | "toroom" | "torum" | "troom" | "tarrum" | "taruum" => "toroom",
        _ => return None,
    })
}

/// Roman numerals the recogniser uses for small numbers ("Room II").
fn roman(w: &str) -> Option<&'static str> {
    Some(match w {
        "ii" => "2",
        "iii" => "3",
        "iv" => "4",
        "vi" => "6",
        _ => return None,
    })
}

/// A folded word (see `names::words`) that begins the rest of a sentence
/// rather than continuing a name: a number, a time, a room as the
/// recogniser writes it ("Sarah Jones two o'clock", "Sarah Jones T-Room
/// II").
pub fn ends_a_name(w: &str) -> bool {
    number(w).is_some()
        || room_word(w.trim_end_matches(|c: char| c.is_ascii_digit())).is_some()
        || roman(w).is_some()
        || matches!(w, "am" | "pm" | "oclock")
}

/// Splits "2:30" and "2pm" the way people say them.
fn tokens(text: &str) -> Vec<String> {
    let spaced = text
        .to_lowercase()
        .replace("o'clock", " oclock ")
        .replace("o’clock", " oclock ")
        .replace("p.m.", " pm ")
        .replace("a.m.", " am ")
        .replace(':', " ")
        .replace("forty five", "fortyfive")
        .replace("forty-five", "fortyfive");
    let mut out = Vec::new();
    for w in words(&spaced) {
        // "2pm" → "2", "pm"
        let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
        let rest = &w[digits.len()..];
        // "Room-3", "Tarum-3": the hyphen joined the room and its number.
        let letters = w.trim_end_matches(|c: char| c.is_ascii_digit());
        let number_after = &w[letters.len()..];
        if !digits.is_empty() && (rest == "pm" || rest == "am") {
            out.push(digits);
            out.push(rest.to_string());
        } else if let Some(r) = room_word(letters) {
            if r == "toroom" {
                out.push("to".into());
            }
            out.push("room".into());
            if !number_after.is_empty() {
                out.push(number_after.to_string());
            }
        } else if let Some(n) = roman(&w).filter(|_| out.last().is_some_and(|l| l == "room")) {
            out.push(n.into());
        } else {
            out.push(w);
        }
    }
    out
}

fn spoken_time(said: &[String]) -> Option<SpokenTime> {
    for (i, w) in said.iter().enumerate() {
        let Some(h) = strict_number(w).filter(|h| (1..=12).contains(h)) else {
            continue;
        };
        let next = said.get(i + 1).map(String::as_str);
        let prev = i.checked_sub(1).map(|p| said[p].as_str());
        let (minute, after) = match next.and_then(strict_number) {
            Some(m @ (0 | 15 | 30 | 45)) => (m, said.get(i + 2).map(String::as_str)),
            _ => (0, next),
        };
        let pm = match after {
            Some("pm") => Some(true),
            Some("am") => Some(false),
            _ => None,
        };
        // A bare number is a time only when something says so.
        let marked = pm.is_some()
            || matches!(after, Some("oclock"))
            || minute != 0
            || matches!(prev, Some("at" | "a" | "an" | "my"));
        if marked && !matches!(prev, Some("room")) {
            return Some(SpokenTime {
                hour12: h,
                minute,
                pm,
            });
        }
    }
    None
}

/// The room named in the utterance, as one of the practice's rooms: by its
/// full name ("exam room b") or by its number after "room"/"to"/"in".
pub fn room(said: &[String], rooms: &[String]) -> Option<String> {
    for r in rooms {
        let rw = words(r);
        if !rw.is_empty() && said.windows(rw.len()).any(|w| w == rw.as_slice()) {
            return Some(r.clone());
        }
    }
    let room_number = |n: u8| -> Option<String> {
        let mut hits = rooms.iter().filter(|r| {
            words(r)
                .last()
                .and_then(|w| strict_number(w))
                .is_some_and(|x| x == n)
        });
        let first = hits.next()?;
        hits.next().is_none().then(|| first.clone())
    };
    for (i, w) in said.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| said[p].as_str());
        let n = match prev {
            Some("room" | "rooms" | "operatory" | "exam") => number(w),
            Some("to" | "into" | "in") if i + 1 == said.len() => strict_number(w),
            _ => None,
        };
        if let Some(r) = n.and_then(room_number) {
            return Some(r);
        }
    }
    // "... to Rint II": a number at the end, one misheard word after "to".
    let n = said.len();
    if n >= 3 && matches!(said[n - 3].as_str(), "to" | "into") {
        let last = roman(&said[n - 1]).unwrap_or(&said[n - 1]);
        if let Some(r) = strict_number(last).and_then(room_number) {
            return Some(r);
        }
    }
    None
}

/// "with Doctor Lee" → "lee".
fn provider(said: &[String]) -> Option<String> {
    let i = said.iter().position(|w| w == "with")?;
    let mut rest = said[i + 1..].iter().map(String::as_str);
    let mut w = rest.next()?;
    if matches!(
        w,
        "doctor" | "dr" | "dentist" | "vet" | "attorney" | "lawyer"
    ) {
        w = rest.next()?;
    }
    Some(w.to_string())
}

/// Does the recogniser's word sound like this command word?
fn sounds_like(w: &str, command: &str) -> bool {
    rphonetic::DoubleMetaphone::default().is_double_metaphone_equal(w, command, false)
}

fn commands_by_sound(said: Vec<String>) -> Vec<String> {
    said.into_iter()
        .map(|w| {
            ["cancel", "repeat", "yes", "next"]
                .into_iter()
                .find(|c| w.len() >= 4 && sounds_like(&w, c))
                .map(str::to_string)
                .unwrap_or(w)
        })
        .collect()
}

/// Reads the recogniser's text.
pub fn parse(text: &str, rooms: &[String]) -> Intent {
    let said = tokens(text);
    if said.is_empty() {
        return Intent::Unknown;
    }
    let short = said.len() <= 4;
    // A one-word command the recogniser misspelled ("Kansal"): the command
    // words sound unlike each other, so compare sounds. Not in two words:
    // those are as likely a name ("Weis Zhang" is Wei Zhang, not "yes").
    let said = if said.len() == 1 {
        commands_by_sound(said)
    } else {
        said
    };
    if any(&said, &["cancel", "never mind", "nevermind", "forget it"]) {
        return Intent::Cancel;
    }
    if any(
        &said,
        &[
            "repeat",
            "say that again",
            "say it again",
            "what did you say",
        ],
    ) {
        return Intent::Repeat;
    }
    if has(&said, "next") && !has(&said, "next to") {
        return Intent::Next {
            room: room(&said, rooms),
        };
    }
    if any(&said, &["call", "page", "send"]) {
        return Intent::Call {
            room: room(&said, rooms),
        };
    }
    // "Koal Chloe … room 2", "Cal Dan Brown, room two": the verb misheard
    // as a word that sounds like it; the room says it was a call.
    if said.len() >= 3
        && sounds_like(&said[0], "call")
        && let Some(r) = room(&said, rooms)
    {
        return Intent::Call { room: Some(r) };
    }
    // "<name> to room two": a call even when the recogniser lost the verb
    // ("Call" is often heard as "Paul" or "All" at the start of a clip).
    if !short
        && (has(&said, "to room") || has(&said, "into room"))
        && let Some(r) = room(&said, rooms)
    {
        return Intent::Call { room: Some(r) };
    }
    if short
        && any(
            &said,
            &[
                "yes",
                "yeah",
                "yep",
                "yup",
                "correct",
                "thats right",
                "thats me",
                "right",
                "sure",
                "okay",
                "ok",
            ],
        )
        && !any(&said, &["no", "not"])
    {
        return Intent::Yes;
    }
    if short && any(&said, &["no", "nope", "not me", "wrong", "thats not"]) {
        return Intent::No;
    }
    let time = spoken_time(&said);
    let checkin_words = any(
        &said,
        &[
            "im",
            "i am",
            "my name",
            "this is",
            "its",
            "checking in",
            "checking",
            // how the recogniser writes "checking" or "check in" when rushed
            "checkin",
            "check in",
            "check me in",
            "here for",
            "here with",
            "appointment",
            "name is",
        ],
    );
    if checkin_words {
        return Intent::CheckIn {
            time,
            provider: provider(&said),
        };
    }
    let room_said = room(&said, rooms);
    if short && (time.is_some() || room_said.is_some()) {
        return Intent::Answer {
            time,
            room: room_said,
        };
    }
    // A bare name ("Sarah Jones.") at the kiosk is a check-in; at the desk it
    // means nothing without a verb. The dialog decides.
    if said.len() <= 5 && said.iter().all(|w| w.chars().all(char::is_alphabetic)) {
        return Intent::CheckIn {
            time,
            provider: None,
        };
    }
    Intent::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms() -> Vec<String> {
        (1..=4).map(|n| format!("Room {n}")).collect()
    }

    fn t(h: u8, m: u8, pm: Option<bool>) -> Option<SpokenTime> {
        Some(SpokenTime {
            hour12: h,
            minute: m,
            pm,
        })
    }

    #[test]
    fn check_ins_with_time_and_provider() {
        let r = rooms();
        assert_eq!(
            parse(
                "Hi, I'm Sarah Jones, I have a two o'clock with Doctor Lee.",
                &r
            ),
            Intent::CheckIn {
                time: t(2, 0, None),
                provider: Some("lee".into())
            }
        );
        assert_eq!(
            parse("This is Ngozi Okafor, my appointment is at 10:30 a.m.", &r),
            Intent::CheckIn {
                time: t(10, 30, Some(false)),
                provider: None
            }
        );
        assert_eq!(
            parse("Hello, my name is José Núñez. I'm here at 3pm.", &r),
            Intent::CheckIn {
                time: t(3, 0, Some(true)),
                provider: None
            }
        );
        assert_eq!(
            parse("Sarah Jones.", &r),
            Intent::CheckIn {
                time: None,
                provider: None
            }
        );
        for rushed in [
            "Ms N U K S A O, Checkin You!",
            "Checkin' White Hang, please.",
        ] {
            assert!(
                matches!(parse(rushed, &r), Intent::CheckIn { .. }),
                "{rushed}"
            );
        }
        assert!(matches!(
            parse("Hi, I'm Sarah Jones, I'm free at three.", &r),
            Intent::CheckIn { .. }
        ));
        // A first name that sounds like "call" is still a check-in.
        assert!(matches!(
            parse("Cole Smith, checking in.", &r),
            Intent::CheckIn { .. }
        ));
    }

    #[test]
    fn calls_and_next_with_rooms() {
        let r = rooms();
        assert_eq!(
            parse("Call Sarah Jones to room two.", &r),
            Intent::Call {
                room: Some("Room 2".into())
            }
        );
        assert_eq!(
            parse("Please call Dan Brown to Room 4", &r),
            Intent::Call {
                room: Some("Room 4".into())
            }
        );
        assert_eq!(
            parse("call sarah jones room to", &r),
            Intent::Call {
                room: Some("Room 2".into())
            }
        );
        assert_eq!(
            parse("Paul Hannah Smith, to Room 2.", &r),
            Intent::Call {
                room: Some("Room 2".into())
            }
        );
        for misheard in [
            "Alquay Mensah, Tarum 3,",
            "Al Mateo Rossi, Turin III, Please,",
            "All Fatima Dialo, to Run 3.",
            "Almar DeSova, Thirun Three",
            "Call David Cohen to Rint III.",
            "Kalkway Mensah, Tarum-3,",
            "Call and Núan, Tarum-3, please.",
            "Please call Dan Brown to Room-3.",
            "Koal Chloe, Núb Watter, Rún 3,",
            "Cal Dan Brown, room three.",
            "Koal Fatima Nylo Terune Free,",
            "Call Dan Brown to room tree.",
        ] {
            assert_eq!(
                parse(misheard, &r),
                Intent::Call {
                    room: Some("Room 3".into())
                },
                "{misheard}"
            );
        }
        assert_eq!(parse("Next patient.", &r), Intent::Next { room: None });
        assert_eq!(
            parse("Next patient to room three, please.", &r),
            Intent::Next {
                room: Some("Room 3".into())
            }
        );
        assert_eq!(parse("Room 5", &r), Intent::Unknown, "not a room here");
    }

    #[test]
    fn short_answers() {
        let r = rooms();
        assert_eq!(parse("Yes.", &r), Intent::Yes);
        assert_eq!(parse("Yeah, that's me.", &r), Intent::Yes);
        assert_eq!(parse("No.", &r), Intent::No);
        assert_eq!(parse("No, not me", &r), Intent::No);
        assert_eq!(parse("Cancel that.", &r), Intent::Cancel);
        assert_eq!(parse("Never mind.", &r), Intent::Cancel);
        assert_eq!(parse("Kansal,", &r), Intent::Cancel);
        assert_ne!(parse("Weis Zhang,", &r), Intent::Yes, "a name, not a yes");
        assert_eq!(parse("Can you repeat that?", &r), Intent::Repeat);
        assert_eq!(
            parse("At two o'clock.", &r),
            Intent::Answer {
                time: t(2, 0, None),
                room: None
            }
        );
        assert_eq!(
            parse("Room three.", &r),
            Intent::Answer {
                time: None,
                room: Some("Room 3".into())
            }
        );
    }

    #[test]
    fn noise_and_chatter_are_unknown() {
        let r = rooms();
        assert_eq!(parse("", &r), Intent::Unknown);
        assert_eq!(
            parse("The weather has been lovely this week, hasn't it, 12", &r),
            Intent::Unknown
        );
    }

    #[test]
    fn times_fit_appointments() {
        let two = SpokenTime {
            hour12: 2,
            minute: 0,
            pm: None,
        };
        assert!(two.fits(14, 0));
        assert!(two.fits(2, 10));
        assert!(!two.fits(15, 0));
        let ten_am = SpokenTime {
            hour12: 10,
            minute: 30,
            pm: Some(false),
        };
        assert!(ten_am.fits(10, 30));
        assert!(!ten_am.fits(22, 30));
    }
}
