//! The whole check-in cascade against the real daemon: phone → durable
//! record → every TV, the front desk and the patient's status page.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn a_qr_check_in_reaches_the_tv_the_desk_and_the_phone() {
    let d = Daemon::demo();
    let staff = sign_in(&d).await;
    let (mut tv1, _, snap1) = paired_tv(&d, &staff).await;
    let (mut tv2, _, _) = paired_tv(&d, &staff).await;
    assert_eq!(snap1["practice"]["name"], "Bright Smile Dental");

    let before = events_waiting(&d).await;
    // Different case, one typo in the last name.
    let r = check_in(&d, "sarah", "JOMES", "1985-04-23", false).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let status_path = r.location.unwrap();
    assert!(status_path.starts_with("/status/"));

    for tv in [&mut tv1, &mut tv2] {
        let arrived = next_of(tv, "arrived", 3).await;
        assert_eq!(arrived["entry"]["name"], "Sarah J.");
        assert_eq!(arrived["welcome"], "Welcome, Sarah J.!");
        // The lobby never learns more than first name and last initial.
        assert!(!text_of(&arrived).contains("Jones"));
        assert!(arrived["seq"].as_u64().unwrap() > 0);
    }

    // The phone's status page.
    let page = get_text(&d.url(&status_path)).await;
    assert!(page.contains("Thanks, Sarah"), "{page}");
    assert!(page.contains("You&#x27;re checked in") || page.contains("You're checked in"));
    let mut phone = ws(&d.ws_url(&format!("{status_path}/ws"))).await;
    let first = next_of(&mut phone, "status", 3).await;
    assert_eq!(first["status"], "waiting");

    // The desk sees her with the provider brief.
    let today = staff.today(&d).await;
    let q = &today["queue"][0];
    assert_eq!(q["name"], "Sarah Jones");
    assert_eq!(q["method"], "qr");
    assert_eq!(q["brief"]["provider"], "Dr. Lee");
    assert_eq!(q["brief"]["appointment"], "Cleaning");
    assert_eq!(q["brief"]["notes"], "Prefers the window chair");
    let id = q["checkin_id"].as_str().unwrap().to_string();
    // The check-in, its billing event and its audit entry wait in the
    // outbox for the cloud.
    assert_eq!(today["sync"]["events_waiting"].as_i64(), Some(before + 3));

    // Call her to room 2: TV highlight and the phone update live.
    let (st, body) = staff
        .post(
            &d,
            &format!("/desk/api/checkins/{id}/call"),
            json!({"room": "Room 2"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let called = next_of(&mut tv1, "called", 3).await;
    assert_eq!(called["entry"]["name"], "Sarah J.");
    assert_eq!(called["entry"]["room"], "Room 2");
    let now = next_of(&mut phone, "status", 3).await;
    assert_eq!(now["status"], "called");
    assert_eq!(now["message"], "We're ready for you — Room 2.");

    // Seen: she leaves the lobby list.
    let (st, _) = staff
        .post(&d, &format!("/desk/api/checkins/{id}/seen"), json!({}))
        .await;
    assert_eq!(st, 200);
    let removed = next_of(&mut tv2, "removed", 3).await;
    assert_eq!(removed["id"], id.as_str());

    // Every step is in the audit log.
    let audit: serde_json::Value = staff
        .http
        .get(d.url("/desk/api/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for expected in [
        "checkin.arrived",
        "checkin.called",
        "checkin.seen",
        "display.paired",
        "staff.login",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_double_tapped_submit_checks_in_once() {
    let d = Daemon::demo();
    let before = events_waiting(&d).await;
    let (a, b) = tokio::join!(
        check_in(&d, "José", "Núñez", "1979-11-02", false),
        check_in(&d, "jose", "nunez", "1979-11-02", false),
    );
    let statuses = [a.status, b.status];
    assert!(statuses.contains(&303), "{statuses:?}");
    let again = if a.status == 303 { &b } else { &a };
    assert!(
        again.status == 303 || again.body.contains("already checked in"),
        "{}",
        again.body
    );
    let staff = sign_in(&d).await;
    let today = staff.today(&d).await;
    assert_eq!(today["queue"].as_array().unwrap().len(), 1);
    // The check-in, its billing event and its audit entry, once (the
    // staff's sign-in above is an audit entry too).
    assert_eq!(
        today["sync"]["events_waiting"].as_i64(),
        Some(before + 4),
        "events applied once"
    );
    let third = check_in(&d, "Jose", "Nunez", "1979-11-02", false).await;
    assert_eq!(third.status, 200);
    assert!(third.body.contains("already checked in"));
}

#[tokio::test]
async fn no_match_never_reveals_who_is_booked_and_walk_ins_are_offered() {
    let d = Daemon::demo();
    // Right name, wrong birthday vs. a stranger: the same answer.
    let wrong_dob = check_in(&d, "Sarah", "Jones", "1985-04-24", false).await;
    let stranger = check_in(&d, "Zed", "Nobody", "1985-04-24", false).await;
    for r in [&wrong_dob, &stranger] {
        assert_eq!(r.status, 200);
        assert!(r.body.contains("data-kind=\"no_match\""), "{}", r.body);
        assert!(r.body.contains("walk-in"));
        assert!(!r.body.contains("Dr. Lee"));
    }
    let staff = sign_in(&d).await;
    assert_eq!(staff.today(&d).await["queue"].as_array().unwrap().len(), 0);

    let walk = check_in(&d, "Zed", "Nobody", "1985-04-24", true).await;
    assert_eq!(walk.status, 303);
    let today = staff.today(&d).await;
    assert_eq!(today["queue"][0]["walk_in"], true);
    assert_eq!(today["queue"][0]["name"], "Zed Nobody");
}

#[tokio::test]
async fn two_people_equally_close_are_sent_to_the_desk() {
    let d = Daemon::demo();
    let staff = sign_in(&d).await;
    // Add "Jon Smith" and "Jan Smith" with the same birthday for today.
    let csv = format!(
        "first_name,last_name,date_of_birth,date,time,provider\n\
         Jon,Smith,1980-01-01,{t},10:00,Dr. Lee\n\
         Jan,Smith,1980-01-01,{t},10:30,Dr. Lee\n",
        t = today()
    );
    let file = d.data_dir().join("smiths.csv");
    std::fs::write(&file, csv).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sos-appliance"))
        .args(["import", "--data-dir"])
        .arg(d.data_dir())
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = check_in(&d, "Jen", "Smith", "1980-01-01", false).await;
    assert!(r.body.contains("data-kind=\"see_desk\""), "{}", r.body);
    assert!(!r.body.contains("walk-in"));
    assert_eq!(staff.today(&d).await["queue"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_desk_checks_in_by_hand_and_moves_people_along() {
    let d = Daemon::demo();
    let staff = sign_in(&d).await;
    let (mut tv, _, _) = paired_tv(&d, &staff).await;
    let today = staff.today(&d).await;
    let appt = today["schedule"][2]["appointment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, body) = staff
        .post(&d, "/desk/api/checkins", json!({"appointment_id": appt}))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["result"], "checked_in");
    let arrived = next_of(&mut tv, "arrived", 3).await;
    assert_eq!(arrived["entry"]["name"], "Siobhán O.");
    let id = body["checkin_id"].as_str().unwrap();

    // A call needs a real room.
    let (st, body) = staff
        .post(&d, &format!("/desk/api/checkins/{id}/call"), json!({}))
        .await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "Please choose a room.");
    let (st, body) = staff
        .post(
            &d,
            &format!("/desk/api/checkins/{id}/call"),
            json!({"room": "Basement"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(body["error"].as_str().unwrap().contains("Basement"));
    let (st, _) = staff
        .post(&d, &format!("/desk/api/checkins/{id}/no-show"), json!({}))
        .await;
    assert_eq!(st, 200);
    let today = staff.today(&d).await;
    assert_eq!(today["queue"][0]["status"], "no_show");
    let (st, _) = staff
        .post(&d, "/desk/api/checkins/nope/seen", json!({}))
        .await;
    assert_eq!(st, 404);
    let (st, body) = staff
        .post(
            &d,
            "/desk/api/checkins",
            json!({"appointment_id": "not-today"}),
        )
        .await;
    assert_eq!(st, 404, "{body}");
}
