//! What the box does with what it heard: a check-in through the same
//! cascade as a QR check-in (method = voice), a call to a room, next, repeat,
//! cancel, and the short back-and-forth when a name is unclear ("Sarah
//! Jones at two or at three?"). Never guesses between two people.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_sync::events::{BoxEvent, VoiceSeconds};
use serde::Serialize;

use super::intent::{self, Intent, SpokenTime};
use super::names::{self, Candidate, NameMatch};
use super::{Expected, Heard, ListenError, VoiceIn, Weighed};
use crate::checkin::{self, CheckinError, Outcome};
use crate::clinic::Clinic;
use crate::practice::Practice;
use crate::store::{self, CheckinStatus, Day, Method};
use crate::voice::Kind;

/// Who is speaking: a patient at the lobby kiosk, or staff at the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Kiosk,
    Desk { staff_id: String },
}

/// What the page shows (and the box says) after an utterance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reply {
    /// The transcript, for the on-screen "I heard: ...".
    pub heard: String,
    /// "check_in", "call", "next", "repeat", "cancel", "yes", "no",
    /// "answer", "unknown", "nothing"
    pub intent: &'static str,
    /// What the box answers, in words (spoken unless the lobby greeting or
    /// call announcement already says it).
    pub say: String,
    /// "checked_in", "already_checked_in", "called", "cancelled", or None
    /// when nothing changed.
    pub done: Option<&'static str>,
    pub checkin_id: Option<String>,
    /// When the box asks "which one?": the people it could mean, as the
    /// lobby may see them (first name, last initial, time).
    pub choices: Vec<String>,
}

#[derive(Debug, Clone)]
enum Purpose {
    CheckIn,
    Call { room: Option<String> },
}

#[derive(Debug, Clone)]
enum Pending {
    /// Several people fit: ids of the candidates.
    Which { ids: Vec<String>, purpose: Purpose },
    /// One person, not clearly: waiting for yes/no.
    Confirm { id: String, purpose: Purpose },
    /// A call without a room: waiting for the room.
    Room { checkin_id: String },
}

#[derive(Default)]
struct Conversation {
    pending: Option<(Pending, Instant)>,
    last_said: String,
}

/// A question the box asked stays open this long.
const PENDING_FOR: Duration = Duration::from_secs(60);

/// The open question and last answer, per mode (one kiosk, one desk).
#[derive(Default)]
pub struct Conversations {
    kiosk: Mutex<Conversation>,
    desk: Mutex<Conversation>,
}

impl Conversations {
    fn with<R>(&self, mode: &Mode, f: impl FnOnce(&mut Conversation) -> R) -> R {
        let m = match mode {
            Mode::Kiosk => &self.kiosk,
            Mode::Desk { .. } => &self.desk,
        };
        match m.lock() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn take_pending(&self, mode: &Mode) -> Option<Pending> {
        self.with(mode, |c| {
            c.pending
                .take()
                .filter(|(_, at)| at.elapsed() < PENDING_FOR)
                .map(|(p, _)| p)
        })
    }

    fn set_pending(&self, mode: &Mode, p: Pending) {
        self.with(mode, |c| c.pending = Some((p, Instant::now())));
    }
}

/// Today's people (booked, and waiting to be called) and providers: the
/// recogniser's prompt and the names weighed against the audio.
/// (`respond` reads the day again once the person has spoken: someone may
/// have checked in meanwhile.)
pub async fn expected_today(clinic: &Clinic) -> Expected {
    let today = clinic.today().await.unwrap_or_default();
    let mut people = candidates(&today, &Purpose::CheckIn);
    for c in candidates(&today, &Purpose::Call { room: None }) {
        if !people
            .iter()
            .any(|p| names::full_name(p) == names::full_name(&c))
        {
            people.push(c);
        }
    }
    let mut providers: Vec<String> = today
        .schedule
        .iter()
        .map(|e| e.provider_name.clone())
        .collect();
    providers.sort();
    providers.dedup();
    providers.retain(|p| !p.is_empty());
    Expected::new(people, &providers)
}

/// Opens the microphone for one utterance and answers it: the whole voice
/// path behind the kiosk's and the desk's "talk" button.
pub async fn listen_and_respond(
    clinic: Arc<Clinic>,
    listener: VoiceIn,
    mode: Mode,
) -> Result<Reply, DialogError> {
    let expected = expected_today(&clinic).await;
    let l = listener.ears.clone();
    let heard = tokio::task::spawn_blocking(move || l.hear_from_microphone(&expected))
        .await
        .map_err(|_| ListenError::Transcribe("the listening task stopped".into()))??;
    respond_to_heard(&clinic, &listener, mode, heard).await
}

/// Answers an utterance that was already heard (the microphone path, or
/// audio a test or benchmark fed in).
pub async fn respond_to_heard(
    clinic: &Clinic,
    listener: &VoiceIn,
    mode: Mode,
    heard: Heard,
) -> Result<Reply, DialogError> {
    record_voice_seconds(clinic, heard.speech).await;
    let (text, weighed) = heard
        .transcript
        .filter(|t| !t.is_empty())
        .map(|t| (t.text, t.weighed))
        .unwrap_or_default();
    let reply = respond_weighed(clinic, listener, mode, &text, &weighed).await?;
    speak(clinic, &reply);
    Ok(reply)
}

#[derive(Debug, thiserror::Error)]
pub enum DialogError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Checkin(#[from] CheckinError),
}

/// Billing: seconds of speech transcribed, through the outbox.
async fn record_voice_seconds(clinic: &Clinic, speech: Duration) {
    if speech.is_zero() {
        return;
    }
    let tenant = clinic.tenant_id();
    let event = BoxEvent::VoiceSeconds(VoiceSeconds {
        seconds: (speech.as_secs_f64() * 100.0).round() / 100.0,
        at: store::now_ms(),
    });
    let written = clinic
        .store
        .write(move |txn| store::enqueue_event(txn, &tenant, &event))
        .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not record voice-seconds for billing");
    }
}

/// Says the reply on the lobby speakers, unless the cascade's own greeting
/// or call announcement already says it.
fn speak(clinic: &Clinic, reply: &Reply) {
    if matches!(reply.done, Some("checked_in" | "called")) || reply.say.is_empty() {
        return;
    }
    if let Some(voice) = clinic.voice.get() {
        voice.say(Kind::Reply, &reply.say, None);
    }
}

fn intent_name(i: &Intent) -> &'static str {
    match i {
        Intent::CheckIn { .. } => "check_in",
        Intent::Call { .. } => "call",
        Intent::Next { .. } => "next",
        Intent::Repeat => "repeat",
        Intent::Cancel => "cancel",
        Intent::Yes => "yes",
        Intent::No => "no",
        Intent::Answer { .. } => "answer",
        Intent::Unknown => "unknown",
    }
}

/// Local (hour, minute) of an appointment.
fn local_time(practice: &Practice, at_ms: i64) -> Option<(u8, u8)> {
    let z = jiff::Timestamp::from_millisecond(at_ms)
        .ok()?
        .to_zoned(practice.timezone());
    Some((z.hour() as u8, z.minute() as u8))
}

/// Answers a transcript. Public for tests that start from text.
pub async fn respond(
    clinic: &Clinic,
    listener: &VoiceIn,
    mode: Mode,
    text: &str,
) -> Result<Reply, DialogError> {
    respond_weighed(clinic, listener, mode, text, &Weighed::default()).await
}

/// Answers a transcript whose nearest names were weighed against the audio.
pub async fn respond_weighed(
    clinic: &Clinic,
    listener: &VoiceIn,
    mode: Mode,
    text: &str,
    weighed: &Weighed,
) -> Result<Reply, DialogError> {
    let practice = clinic.practice();
    let conv = listener.conversations();
    let heard = text.trim().to_string();
    let mut reply = Reply {
        heard: heard.clone(),
        intent: "nothing",
        say: String::new(),
        done: None,
        checkin_id: None,
        choices: Vec::new(),
    };
    if heard.is_empty() {
        reply.say = match mode {
            Mode::Kiosk => "Sorry, I didn't catch that. Please tell me your name.".into(),
            Mode::Desk { .. } => "Sorry, I didn't catch that.".into(),
        };
        // An open question stays open: they may just try again.
        return Ok(finish(conv, &mode, reply));
    }
    let rooms = &practice.config.settings.rooms;
    let intent = intent::parse(&heard, rooms);
    reply.intent = intent_name(&intent);
    let pending = conv.take_pending(&mode);
    let today = clinic.today().await.map_err(CheckinError::from)?;

    match (intent, pending) {
        (Intent::Cancel, _) => {
            reply.say = "Okay, cancelled.".into();
            reply.done = Some("cancelled");
        }
        (Intent::Repeat, pending) => {
            if let Some(p) = pending {
                conv.set_pending(&mode, p);
            }
            let last = conv.with(&mode, |c| c.last_said.clone());
            reply.say = if last.is_empty() {
                "I haven't said anything yet.".into()
            } else {
                last
            };
            return Ok(reply);
        }
        (Intent::Yes, Some(Pending::Confirm { id, purpose })) => {
            act(
                clinic, conv, &practice, &mode, &today, &id, purpose, &mut reply,
            )
            .await?;
        }
        (Intent::No, Some(Pending::Confirm { .. })) => {
            reply.say = match mode {
                Mode::Kiosk => "Sorry about that. Please say your first and last name.".into(),
                Mode::Desk { .. } => "Okay. Who should I call?".into(),
            };
        }
        (Intent::Answer { time, room }, Some(Pending::Which { ids, purpose })) => {
            let fits: Vec<String> = ids
                .iter()
                .filter(|id| {
                    time.is_some_and(|t| {
                        start_of(&today, id)
                            .and_then(|ms| local_time(&practice, ms))
                            .is_some_and(|(h, m)| t.fits(h, m))
                    })
                })
                .cloned()
                .collect();
            let purpose = match (purpose, room) {
                (Purpose::Call { room: None }, Some(r)) => Purpose::Call { room: Some(r) },
                (p, _) => p,
            };
            if let [one] = fits.as_slice() {
                act(
                    clinic, conv, &practice, &mode, &today, one, purpose, &mut reply,
                )
                .await?;
            } else {
                ask_which(conv, &mode, &practice, &today, ids, purpose, &mut reply);
            }
        }
        (
            Intent::Answer {
                room: Some(room), ..
            },
            Some(Pending::Room { checkin_id }),
        ) => {
            call(clinic, &practice, &mode, &checkin_id, room, &mut reply).await?;
        }
        (
            intent @ (Intent::CheckIn { .. } | Intent::Call { .. }),
            Some(Pending::Which { ids, purpose }),
        ) => {
            // They said the name again, perhaps with the time: choose among
            // the same people only.
            let time = match &intent {
                Intent::CheckIn { time, .. } => *time,
                _ => None,
            };
            let people: Vec<Candidate> = candidates(&today, &purpose)
                .into_iter()
                .filter(|c| ids.contains(&c.id))
                .collect();
            let people = by_time(&practice, &today, people, time);
            match names::find(&heard, &people, weighed) {
                NameMatch::One { id, .. } => {
                    act(
                        clinic, conv, &practice, &mode, &today, &id, purpose, &mut reply,
                    )
                    .await?
                }
                _ => ask_which(conv, &mode, &practice, &today, ids, purpose, &mut reply),
            }
        }
        (Intent::CheckIn { time, provider }, _) => {
            if matches!(mode, Mode::Desk { .. }) && !names_anyone(&heard, &today, weighed) {
                reply.say = "Sorry, I didn't catch who.".into();
            } else {
                let purpose = Purpose::CheckIn;
                let people = candidates(&today, &purpose);
                let people = by_provider(&today, people, provider.as_deref());
                let people = by_time(&practice, &today, people, time);
                decide(
                    clinic, conv, &mode, &practice, &today, &heard, weighed, people, purpose,
                    &mut reply,
                )
                .await?;
            }
        }
        (Intent::Call { room }, _) if matches!(mode, Mode::Desk { .. }) => {
            let purpose = Purpose::Call { room };
            let people = candidates(&today, &purpose);
            decide(
                clinic, conv, &mode, &practice, &today, &heard, weighed, people, purpose,
                &mut reply,
            )
            .await?;
        }
        (Intent::Next { room }, _) if matches!(mode, Mode::Desk { .. }) => {
            let next = today
                .checkins
                .iter()
                .filter(|c| c.status == CheckinStatus::Waiting)
                .min_by_key(|c| (c.arrived_at, c.ticket));
            match next {
                None => reply.say = "Nobody is waiting.".to_string(),
                Some(c) => {
                    let id = c.checkin_id.clone();
                    act(
                        clinic,
                        conv,
                        &practice,
                        &mode,
                        &today,
                        &id,
                        Purpose::Call { room },
                        &mut reply,
                    )
                    .await?;
                }
            }
        }
        (_, pending) => {
            if let Some(p) = pending {
                conv.set_pending(&mode, p);
            }
            reply.say = match mode {
                Mode::Kiosk => "Sorry, I didn't understand. To check in, please say your first and last name."
                    .to_string(),
                Mode::Desk { .. } => {
                    "Sorry, I didn't understand. Say, for example, \"call Sarah Jones to room two\"."
                        .into()
                }
            };
        }
    }
    Ok(finish(conv, &mode, reply))
}

fn finish(conv: &Conversations, mode: &Mode, reply: Reply) -> Reply {
    conv.with(mode, |c| c.last_said = reply.say.clone());
    reply
}

/// Does the utterance name anybody on today's lists at all?
fn names_anyone(heard: &str, today: &Day, weighed: &Weighed) -> bool {
    let people = candidates(today, &Purpose::CheckIn);
    !matches!(names::find(heard, &people, weighed), NameMatch::None)
}

/// Who the utterance can mean: today's appointments for a check-in, the
/// people waiting (or already called) for a call.
fn candidates(today: &Day, purpose: &Purpose) -> Vec<Candidate> {
    match purpose {
        Purpose::CheckIn => today
            .schedule
            .iter()
            .map(|e| Candidate {
                id: e.appointment_id.clone(),
                first: e.first_name.clone(),
                last: e.last_name.clone(),
            })
            .collect(),
        Purpose::Call { .. } => today
            .checkins
            .iter()
            .filter(|c| matches!(c.status, CheckinStatus::Waiting | CheckinStatus::Called))
            .map(|c| Candidate {
                id: c.checkin_id.clone(),
                first: c.first_name.clone(),
                last: c.last_name.clone(),
            })
            .collect(),
    }
}

fn start_of(today: &Day, id: &str) -> Option<i64> {
    today
        .schedule
        .iter()
        .find(|e| e.appointment_id == id)
        .map(|e| e.starts_at)
        .or_else(|| {
            today
                .checkins
                .iter()
                .find(|c| c.checkin_id == id)
                .and_then(|c| c.starts_at)
        })
}

/// Keeps the people whose appointment fits the time said, if any do.
fn by_time(
    practice: &Practice,
    today: &Day,
    people: Vec<Candidate>,
    time: Option<SpokenTime>,
) -> Vec<Candidate> {
    let Some(t) = time else { return people };
    let fits: Vec<Candidate> = people
        .iter()
        .filter(|c| {
            start_of(today, &c.id)
                .and_then(|ms| local_time(practice, ms))
                .is_some_and(|(h, m)| t.fits(h, m))
        })
        .cloned()
        .collect();
    if fits.is_empty() { people } else { fits }
}

/// Keeps the people booked with the provider said ("with Doctor Lee").
fn by_provider(today: &Day, people: Vec<Candidate>, provider: Option<&str>) -> Vec<Candidate> {
    let Some(p) = provider else { return people };
    let fits: Vec<Candidate> = people
        .iter()
        .filter(|c| {
            today
                .schedule
                .iter()
                .find(|e| e.appointment_id == c.id)
                .is_some_and(|e| {
                    names::words(&e.provider_name)
                        .iter()
                        .any(|w| names::similarity(p, w) >= 0.85)
                })
        })
        .cloned()
        .collect();
    if fits.is_empty() { people } else { fits }
}

#[allow(clippy::too_many_arguments)]
async fn decide(
    clinic: &Clinic,
    conv: &Conversations,
    mode: &Mode,
    practice: &Practice,
    today: &Day,
    heard: &str,
    weighed: &Weighed,
    people: Vec<Candidate>,
    purpose: Purpose,
    reply: &mut Reply,
) -> Result<(), DialogError> {
    match names::find(heard, &people, weighed) {
        NameMatch::One { id, .. } => {
            act(clinic, conv, practice, mode, today, &id, purpose, reply).await?;
        }
        NameMatch::Unsure { id, .. } => {
            let name = full_name(today, &id).unwrap_or_default();
            reply.say = format!("Did you say {name}?");
            conv.set_pending(mode, Pending::Confirm { id, purpose });
        }
        NameMatch::Several(ids) => ask_which(conv, mode, practice, today, ids, purpose, reply),
        NameMatch::None => {
            reply.say = match (mode, &purpose) {
                (Mode::Kiosk, _) => format!(
                    "Sorry, I couldn't find your {} today. Please see the front desk.",
                    practice.vertical.terms.appointment
                ),
                (Mode::Desk { .. }, Purpose::CheckIn) => format!(
                    "I couldn't find that name on today's {}.",
                    practice.vertical.terms.appointments
                ),
                (Mode::Desk { .. }, Purpose::Call { .. }) => {
                    "I couldn't find that name among the people waiting.".into()
                }
            };
        }
    }
    Ok(())
}

fn full_name(today: &Day, id: &str) -> Option<String> {
    today
        .schedule
        .iter()
        .find(|e| e.appointment_id == id)
        .map(|e| format!("{} {}", e.first_name, e.last_name))
        .or_else(|| {
            today
                .checkins
                .iter()
                .find(|c| c.checkin_id == id)
                .map(|c| format!("{} {}", c.first_name, c.last_name))
        })
}

/// "Sarah J. at 2:00 PM": how the lobby may see a choice.
fn choice_label(practice: &Practice, today: &Day, id: &str) -> String {
    let (first, last) = today
        .schedule
        .iter()
        .find(|e| e.appointment_id == id)
        .map(|e| (e.first_name.clone(), e.last_name.clone()))
        .or_else(|| {
            today
                .checkins
                .iter()
                .find(|c| c.checkin_id == id)
                .map(|c| (c.first_name.clone(), c.last_name.clone()))
        })
        .unwrap_or_default();
    let initial: String = last.chars().take(1).collect();
    match start_of(today, id) {
        Some(ms) => format!("{first} {initial}. at {}", practice.clock(ms)),
        None => format!("{first} {initial}."),
    }
}

fn ask_which(
    conv: &Conversations,
    mode: &Mode,
    practice: &Practice,
    today: &Day,
    ids: Vec<String>,
    purpose: Purpose,
    reply: &mut Reply,
) {
    reply.choices = ids
        .iter()
        .map(|id| choice_label(practice, today, id))
        .collect();
    reply.say = format!(
        "I have more than one {} with that name: {}. What time is the {}?",
        practice.vertical.terms.customer,
        reply.choices.join(", or "),
        practice.vertical.terms.appointment,
    );
    conv.set_pending(mode, Pending::Which { ids, purpose });
}

/// Does it: check in (method = voice) or call to a room.
#[allow(clippy::too_many_arguments)]
async fn act(
    clinic: &Clinic,
    conv: &Conversations,
    practice: &Practice,
    mode: &Mode,
    today: &Day,
    id: &str,
    purpose: Purpose,
    reply: &mut Reply,
) -> Result<(), DialogError> {
    match purpose {
        Purpose::CheckIn => {
            let actor = match mode {
                Mode::Kiosk => checkin::actor_for(Method::Voice, None),
                Mode::Desk { staff_id } => checkin::actor_for(Method::Voice, Some(staff_id)),
            };
            match checkin::by_appointment(clinic, id, Method::Voice, actor).await? {
                Outcome::CheckedIn { checkin, .. } => {
                    reply.done = Some("checked_in");
                    reply.say = format!(
                        "Thank you, {}. You're checked in.",
                        practice.greeting_name(
                            &checkin.first_name,
                            &checkin.last_name,
                            checkin.ticket
                        )
                    );
                    reply.checkin_id = Some(checkin.checkin_id);
                }
                Outcome::AlreadyCheckedIn { checkin } => {
                    reply.done = Some("already_checked_in");
                    reply.say = format!(
                        "You're already checked in, {}. Please take a seat.",
                        practice.greeting_name(
                            &checkin.first_name,
                            &checkin.last_name,
                            checkin.ticket
                        )
                    );
                    reply.checkin_id = Some(checkin.checkin_id);
                }
                Outcome::NoMatch { .. } | Outcome::SeeDesk => {
                    reply.say = "Please see the front desk.".into();
                }
            }
        }
        Purpose::Call { room: Some(room) } => {
            call(clinic, practice, mode, id, room, reply).await?;
        }
        Purpose::Call { room: None } => {
            let name = today
                .checkins
                .iter()
                .find(|c| c.checkin_id == id)
                .map(|c| practice.lobby_name(&c.first_name, &c.last_name, c.ticket))
                .unwrap_or_default();
            reply.say = format!("Which room for {name}?");
            reply.checkin_id = Some(id.to_string());
            conv.set_pending(
                mode,
                Pending::Room {
                    checkin_id: id.to_string(),
                },
            );
        }
    }
    Ok(())
}

async fn call(
    clinic: &Clinic,
    practice: &Practice,
    mode: &Mode,
    checkin_id: &str,
    room: String,
    reply: &mut Reply,
) -> Result<(), DialogError> {
    let actor = match mode {
        Mode::Desk { staff_id } => format!("staff:{staff_id}"),
        Mode::Kiosk => "patient:voice".into(),
    };
    let row = checkin::set_status(
        clinic,
        checkin_id,
        CheckinStatus::Called,
        Some(room.clone()),
        actor,
    )
    .await?;
    reply.done = Some("called");
    reply.checkin_id = Some(row.checkin_id.clone());
    reply.say = checkin::call_announcement(practice, &row, &room);
    Ok(())
}
