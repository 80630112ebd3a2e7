//! What the lobby perceives follows the practice's privacy mode, whatever
//! it is: the TV's text (the welcome line and the queue, which the Cast
//! page shows too: it is the same page on the same stream), the spoken
//! greeting and call (the very strings the voice is handed, which are also
//! what the TV-speaker fallback clip is synthesised from), and the voice
//! dialog's spoken replies. "Sarah Jones" checks in and is called to a
//! room in each of the three modes.

mod common;

use appliance::checkin::{self, Outcome, PatientDetails};
use appliance::display::hub::LobbyEvent;
use appliance::import::ImportedAppointment;
use appliance::listen::dialog::{self, Mode};
use appliance::store::{CheckinStatus, Method, NameDisplay};

/// Everything the lobby saw or heard about her, as text.
struct Lobby {
    /// TV frames (JSON) from the check-in on, and the snapshot after.
    tv: Vec<String>,
    greeting: String,
    call: String,
    /// The box's spoken answer when she asks to check in again by voice.
    reply: String,
}

async fn lobby_in(mode: NameDisplay) -> Lobby {
    let c = common::clinic::demo_practice_where(
        |t| t.settings.name_display = mode,
        |today| {
            vec![ImportedAppointment {
                line: 1,
                external_id: Some("a1".into()),
                first_name: "Sarah".into(),
                last_name: "Jones".into(),
                date_of_birth: jiff::civil::date(1985, 4, 23),
                starts_at: today.at(10, 0, 0, 0),
                provider: "Dr. Lee".into(),
                kind: "Cleaning".into(),
                notes: String::new(),
            }]
        },
    )
    .await;
    let clinic = &c.clinic;
    let mut events = clinic.hub.events();
    let (_, mut frames) = clinic.hub.subscribe_tv();

    let outcome = checkin::by_patient(
        clinic,
        PatientDetails {
            first_name: "Sarah".into(),
            last_name: "Jones".into(),
            date_of_birth: "1985-04-23".into(),
            walk_in: false,
        },
        Method::Qr,
        "patient:qr".into(),
    )
    .await
    .unwrap();
    let Outcome::CheckedIn { checkin, .. } = outcome else {
        panic!("not checked in: {outcome:?}");
    };
    checkin::set_status(
        clinic,
        &checkin.checkin_id,
        CheckinStatus::Called,
        Some("Room 2".into()),
        "staff:desk".into(),
    )
    .await
    .unwrap();

    let (mut greeting, mut call) = (String::new(), String::new());
    while let Ok(e) = events.try_recv() {
        match e {
            LobbyEvent::Arrived { greeting: g, .. } => greeting = g,
            LobbyEvent::StatusChanged {
                announcement: Some(a),
                ..
            } => call = a,
            _ => {}
        }
    }
    let mut tv = Vec::new();
    while let Ok(f) = frames.try_recv() {
        tv.push(f.json.to_string());
    }
    tv.push(clinic.hub.snapshot().json.to_string());

    // Asked again at the kiosk, the box answers aloud.
    let ears = common::clinic::text_only_ears();
    let reply = dialog::respond(clinic, &ears, Mode::Kiosk, "I'm Sarah Jones, checking in.")
        .await
        .unwrap();
    assert_eq!(reply.done, Some("already_checked_in"), "{reply:?}");
    Lobby {
        tv,
        greeting,
        call,
        reply: reply.say,
    }
}

fn never(lobby: &Lobby, words: &[&str]) {
    for w in words {
        for (what, text) in [
            ("greeting", &lobby.greeting),
            ("call", &lobby.call),
            ("reply", &lobby.reply),
        ] {
            assert!(!text.contains(w), "the {what} says {w:?}: {text}");
        }
        for frame in &lobby.tv {
            assert!(!frame.contains(w), "a TV frame shows {w:?}: {frame}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn first_name_and_initial_mode_greets_by_first_name_and_never_says_the_surname() {
    let l = lobby_in(NameDisplay::FirstLastInitial).await;
    assert_eq!(
        l.greeting,
        "Welcome, Sarah! Dr. Lee will be with you shortly."
    );
    assert_eq!(l.call, "Sarah J., please come to Room 2.");
    assert!(l.tv.iter().any(|f| f.contains("Sarah J.")), "{:?}", l.tv);
    assert!(l.reply.contains("Sarah"), "{}", l.reply);
    never(&l, &["Jones"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn initials_mode_never_says_or_shows_a_name() {
    let l = lobby_in(NameDisplay::Initials).await;
    assert_eq!(
        l.greeting,
        "Welcome, S. J.! Dr. Lee will be with you shortly."
    );
    assert_eq!(l.call, "S. J., please come to Room 2.");
    assert!(l.tv.iter().any(|f| f.contains("S. J.")), "{:?}", l.tv);
    assert!(l.reply.contains("S. J."), "{}", l.reply);
    never(&l, &["Sarah", "Jones"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ticket_mode_says_and_shows_only_the_ticket() {
    let l = lobby_in(NameDisplay::Ticket).await;
    assert!(l.call.starts_with("Ticket "), "{}", l.call);
    let ticket = l
        .call
        .trim_end_matches(", please come to Room 2.")
        .to_string();
    assert_eq!(
        l.greeting,
        format!("Welcome, {ticket}! Dr. Lee will be with you shortly.")
    );
    assert!(l.tv.iter().any(|f| f.contains(&ticket)), "{:?}", l.tv);
    assert!(l.reply.contains(&ticket), "{}", l.reply);
    never(&l, &["Sarah", "Jones", "S. J."]);
}

/// Names and dates of birth never reach the log, at any level: the real
/// daemon at `trace` (its own and its libraries' lines), with the lobby
/// voice speaking into a file-backed ALSA device, takes a booked check-in
/// from a phone, a walk-in from a phone, a walk-in typed at the desk, a
/// form with a bad date, and a call to a room.
#[tokio::test(flavor = "multi_thread")]
async fn no_name_or_birth_date_reaches_a_log_line_at_any_level() {
    let home = tempfile::tempdir().unwrap();
    common::file_speaker(home.path());
    let log_path = home.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sos-appliance"));
    cmd.env("HOME", home.path())
        .env("SOS_LOG", "trace")
        .env("SOS_NO_LISTEN", "true");
    let mut d = common::Daemon::demo_logging(
        cmd,
        tempfile::tempdir().unwrap(),
        &["--no-chime"],
        log.into(),
    );
    let ready = wait_voice(&d, |v| v["state"] == "ready").await;
    assert_eq!(ready["state"], "ready", "{ready}");

    let r = common::check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = common::check_in(&d, "Zebulon", "Quixote", "1971-09-30", true).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = common::check_in(&d, "Ottoline", "Marchbanks", "1960-13-45", true).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let staff = common::sign_in(&d).await;
    let (st, body) = staff
        .post(
            &d,
            "/desk/api/checkins",
            serde_json::json!({"first_name": "Philippa", "last_name": "Wrenfield", "date_of_birth": "1990-02-11"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let today = staff.today(&d).await;
    let sarah = today["queue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Sarah Jones")
        .expect("Sarah in the queue");
    let id = sarah["checkin_id"].as_str().unwrap();
    let (st, body) = staff
        .post(
            &d,
            &format!("/desk/api/checkins/{id}/call"),
            serde_json::json!({"room": "Room 2"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    // Three greetings and a call, spoken.
    let said = wait_voice(&d, |v| v["spoken"].as_u64().unwrap_or(0) >= 4).await;
    assert!(said["spoken"].as_u64().unwrap_or(0) >= 4, "{said}");
    let stopped = d.stop();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        stopped.success(),
        "the daemon stopped with {stopped}: {}",
        log.lines().rev().take(60).collect::<Vec<_>>().join("\n")
    );
    assert!(
        log.lines().count() > 100,
        "a trace log this short says nothing:\n{log}"
    );
    let secret = [
        "Sarah",
        "Jones",
        "Zebulon",
        "Quixote",
        "Ottoline",
        "Marchbanks",
        "Philippa",
        "Wrenfield",
        "1985-04-23",
        "1971-09-30",
        "1960-13-45",
        "1990-02-11",
    ];
    let lower = log.to_lowercase();
    for s in secret {
        if let Some(at) = lower.find(&s.to_lowercase()) {
            let line = log[..at].lines().count();
            panic!(
                "{s:?} is in the log (line {line}): {}",
                log.lines().nth(line.saturating_sub(1)).unwrap_or("")
            );
        }
    }
}

async fn wait_voice(
    d: &common::Daemon,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let h = common::get_json(&d.url("/healthz")).await;
        if done(&h["voice"]) || start.elapsed() > std::time::Duration::from_secs(60) {
            return h["voice"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
