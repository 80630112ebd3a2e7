//! Voice in, the conversation: what the box does with a transcript, against
//! a real replica. Two similar names are never guessed between (the box
//! asks, the time decides), a near miss is confirmed with yes/no, a call
//! without a room asks which room, "next" takes the longest waiting, cancel
//! and repeat work, and nothing is applied twice.

mod common;

use std::sync::Arc;

use appliance::clinic::Clinic;
use appliance::import::ImportedAppointment;
use appliance::listen::VoiceIn;
use appliance::listen::dialog::{self, Mode, Reply};
use appliance::store::{self, CheckinRow};

struct Box_ {
    clinic: Arc<Clinic>,
    ears: VoiceIn,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn clinic_with(people: &[(&str, &str, i8)]) -> Box_ {
    let c = common::clinic::demo_practice_with(|today| {
        people
            .iter()
            .enumerate()
            .map(|(i, (first, last, hour))| ImportedAppointment {
                line: i + 1,
                external_id: Some(format!("a{i}")),
                first_name: first.to_string(),
                last_name: last.to_string(),
                date_of_birth: jiff::civil::date(1980, 1, 1 + i as i8),
                starts_at: today.at(*hour, 0, 0, 0),
                provider: "Dr. Lee".into(),
                kind: "Check-up".into(),
                notes: String::new(),
            })
            .collect()
    })
    .await;
    // The conversation needs no model: these tests start from text.
    let ears = common::clinic::text_only_ears();
    Box_ {
        clinic: c.clinic,
        ears,
        _dir: c.dir,
        _stop: c.stop,
    }
}

impl Box_ {
    async fn say(&self, mode: &Mode, text: &str) -> Reply {
        dialog::respond(&self.clinic, &self.ears, mode.clone(), text)
            .await
            .unwrap()
    }

    async fn checkins(&self) -> Vec<CheckinRow> {
        let p = self.clinic.practice();
        let (t, d) = (p.tenant_id().to_string(), p.today());
        self.clinic
            .store
            .read(move |c| store::checkins_for_day(c, &t, &d))
            .await
            .unwrap()
    }
}

fn desk() -> Mode {
    Mode::Desk {
        staff_id: "desk".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_similar_names_are_asked_about_and_the_time_decides() {
    let b = clinic_with(&[
        ("Sarah", "Jones", 14),
        ("Sara", "Jones", 15),
        ("Dan", "Brown", 10),
    ])
    .await;
    let r = b.say(&Mode::Kiosk, "Hi, I'm Sarah Jones.").await;
    assert_eq!(r.intent, "check_in");
    assert_eq!(r.done, None, "{r:?}");
    assert_eq!(r.choices.len(), 2, "{r:?}");
    assert!(
        r.choices
            .iter()
            .all(|c| c.starts_with("Sar") && c.contains("J. at")),
        "{r:?}"
    );
    assert!(r.say.contains("What time"), "{r:?}");
    assert!(b.checkins().await.is_empty(), "nothing until it is clear");

    let r = b.say(&Mode::Kiosk, "At three o'clock.").await;
    assert_eq!(r.done, Some("checked_in"), "{r:?}");
    let rows = b.checkins().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].first_name, "Sara", "the 3 PM Sara, not Sarah");
    assert_eq!(rows[0].method, "voice");

    // Saying the time up front decides at once; and never twice.
    let r = b
        .say(&Mode::Kiosk, "I'm Sarah Jones, I have a two o'clock.")
        .await;
    assert_eq!(r.done, Some("checked_in"), "{r:?}");
    let r = b
        .say(&Mode::Kiosk, "I'm Sarah Jones, I have a two o'clock.")
        .await;
    assert_eq!(r.done, Some("already_checked_in"), "{r:?}");
    assert_eq!(b.checkins().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_near_miss_is_confirmed_and_no_means_nothing_happens() {
    let b = clinic_with(&[("Dan", "Brown", 10), ("Ngozi", "Okafor", 11)]).await;
    let r = b.say(&Mode::Kiosk, "I'm Dan Bowen.").await;
    assert_eq!(r.say, "Did you say Dan Brown?");
    let r = b.say(&Mode::Kiosk, "No.").await;
    assert_eq!(r.intent, "no");
    assert!(b.checkins().await.is_empty());

    b.say(&Mode::Kiosk, "I'm Dan Bowen.").await;
    let r = b.say(&Mode::Kiosk, "Yes, that's me.").await;
    assert_eq!(r.done, Some("checked_in"), "{r:?}");
    assert_eq!(b.checkins().await[0].first_name, "Dan");

    // Someone who is not booked today: the desk, nothing stored.
    let r = b
        .say(&Mode::Kiosk, "Hello, my name is Peter Gregory.")
        .await;
    assert_eq!(r.done, None);
    assert!(r.say.contains("front desk"), "{r:?}");
    // Nothing heard: asked again.
    let r = b.say(&Mode::Kiosk, "").await;
    assert!(r.say.contains("didn't catch"), "{r:?}");
    assert_eq!(b.checkins().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_drops_the_question_and_repeat_says_it_again() {
    let b = clinic_with(&[("Sarah", "Jones", 14), ("Sara", "Jones", 15)]).await;
    let asked = b.say(&Mode::Kiosk, "I'm Sarah Jones").await;
    let again = b.say(&Mode::Kiosk, "Can you repeat that?").await;
    assert_eq!(again.say, asked.say);
    let r = b.say(&Mode::Kiosk, "Never mind.").await;
    assert_eq!(r.done, Some("cancelled"));
    // The question is gone: a time alone now means nothing.
    let r = b.say(&Mode::Kiosk, "At two o'clock.").await;
    assert_eq!(r.done, None, "{r:?}");
    assert!(b.checkins().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_call_by_name_and_next_and_are_asked_for_a_room() {
    let b = clinic_with(&[
        ("Dan", "Brown", 10),
        ("Ngozi", "Okafor", 11),
        ("Wei", "Zhang", 12),
    ])
    .await;
    for name in ["Dan Brown", "Ngozi Okafor", "Wei Zhang"] {
        let r = b.say(&desk(), &format!("Check in {name}, please.")).await;
        assert_eq!(r.done, Some("checked_in"), "{name}: {r:?}");
    }
    // A call without a room asks for the room.
    let r = b.say(&desk(), "Call Ngozi Okafor.").await;
    assert!(r.say.starts_with("Which room for Ngozi"), "{r:?}");
    let r = b.say(&desk(), "Room three.").await;
    assert_eq!(r.done, Some("called"), "{r:?}");
    assert!(r.say.contains("Room 3"), "{r:?}");

    // Next: the longest waiting (Dan checked in first).
    let r = b.say(&desk(), "Next patient to room two.").await;
    assert_eq!(r.done, Some("called"), "{r:?}");
    let rows = b.checkins().await;
    let dan = rows.iter().find(|c| c.first_name == "Dan").unwrap();
    assert_eq!(dan.room.as_deref(), Some("Room 2"));
    let wei = rows.iter().find(|c| c.first_name == "Wei").unwrap();
    assert_eq!(wei.status, store::CheckinStatus::Waiting);

    // A room the practice does not have is a clear refusal, nothing changes.
    let r = dialog::respond(&b.clinic, &b.ears, desk(), "Call Wei Zhang to room nine.").await;
    let r = r.unwrap();
    assert!(
        r.say.starts_with("Which room"),
        "room nine is not a room here: {r:?}"
    );
    // Chatter at the desk is not an order.
    let r = b
        .say(&desk(), "Sarah said the coffee machine is broken again.")
        .await;
    assert_eq!(r.done, None, "{r:?}");
    let rows = b.checkins().await;
    assert_eq!(
        rows.iter()
            .filter(|c| c.status == store::CheckinStatus::Called)
            .count(),
        2
    );
}
