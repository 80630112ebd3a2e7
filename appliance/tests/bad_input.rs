//! Bad input gets a plain-language 4xx and changes nothing; staff-only
//! things stay staff-only; the box only ever serves its own practice.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn a_tampered_or_foreign_check_in_link_is_refused() {
    let d = Daemon::demo();
    let before = events_waiting(&d).await;
    let (prefix, sig) = d.checkin_url.rsplit_once('/').unwrap();
    let mut bad = sig.to_string();
    let first = if bad.starts_with('A') { "B" } else { "A" };
    bad.replace_range(0..1, first);
    let c = client();
    for url in [
        format!("{prefix}/{bad}"),
        d.url(&format!("/c/other-practice/{sig}")),
        d.url("/c/demo-bright-smile/"),
    ] {
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{url}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("not valid for this practice") || body.contains("no page here"),
            "{body}"
        );
    }
    let r = c
        .post(format!("{prefix}/{bad}"))
        .form(&[
            ("first_name", "Sarah"),
            ("last_name", "Jones"),
            ("date_of_birth", "1985-04-23"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(events_waiting(&d).await, before);
}

#[tokio::test]
async fn malformed_or_oversized_forms_get_plain_errors_and_store_nothing() {
    let d = Daemon::demo();
    let before = events_waiting(&d).await;
    let c = client();
    let form = c
        .get(&d.checkin_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = hidden_value(&form, "form_token").unwrap();

    type Case = (Vec<(&'static str, String)>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("first_name", "Sarah".into()),
                ("last_name", "Jones".into()),
                ("date_of_birth", "23rd of April".into()),
                ("form_token", token.clone()),
            ],
            400,
            "date of birth",
        ),
        (
            vec![
                ("first_name", "".into()),
                ("last_name", "Jones".into()),
                ("date_of_birth", "1985-04-23".into()),
                ("form_token", token.clone()),
            ],
            400,
            "Please enter your first name",
        ),
        (
            vec![
                ("first_name", "<script>alert(1)</script>".into()),
                ("last_name", "Jones".into()),
                ("date_of_birth", "1985-04-23".into()),
                ("form_token", token.clone()),
            ],
            400,
            "characters we can",
        ),
        (
            vec![
                ("first_name", "Sarah".into()),
                ("last_name", "Jones".into()),
                ("date_of_birth", "1985-04-23".into()),
                ("form_token", "forged.token".into()),
            ],
            403,
            "Please check your details and send again",
        ),
    ];
    for (fields, status, needle) in cases {
        let r = c.post(&d.checkin_url).form(&fields).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{fields:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{needle} not in {body}");
        assert!(!body.contains("panicked") && !body.contains("rusqlite"));
    }

    // Far too big: refused before anything is parsed.
    let big = "x".repeat(64 * 1024);
    let r = c
        .post(&d.checkin_url)
        .form(&[("first_name", big.as_str()), ("form_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(r.text().await.unwrap().contains("too much data"));

    // Not a form at all.
    let r = c
        .post(&d.checkin_url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    // A cross-site post is refused even with a valid token.
    let r = c
        .post(&d.checkin_url)
        .header("origin", "http://evil.example")
        .form(&[
            ("first_name", "Sarah"),
            ("last_name", "Jones"),
            ("date_of_birth", "1985-04-23"),
            ("form_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    assert_eq!(events_waiting(&d).await, before, "nothing may be stored");
}

#[tokio::test]
async fn one_phone_cannot_flood_check_ins() {
    let d = Daemon::demo();
    let mut statuses = Vec::new();
    for i in 0..30 {
        let r = check_in(&d, &format!("Flood{i}"), "Test", "1990-01-01", false).await;
        statuses.push(r.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let r = check_in(&d, "Flood", "Again", "1990-01-01", false).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Too many attempts"));
}

#[tokio::test]
async fn the_desk_is_staff_only_and_changes_need_the_page_token() {
    let d = Daemon::demo();
    let anon = client();
    let r = anon.get(d.url("/desk")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/desk/login")
    );
    let r = anon.get(d.url("/desk/api/today")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = anon
        .post(d.url("/desk/api/checkins"))
        .json(&json!({"appointment_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = anon.get(d.url("/desk/ws")).send().await.unwrap();
    assert_ne!(r.status().as_u16(), 101);

    let staff = sign_in(&d).await;
    // Signed in, but without the page's CSRF token: refused.
    let r = staff
        .http
        .post(d.url("/desk/api/displays/pair"))
        .json(&json!({"code": "ABCDEF"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("reload"));
    // Malformed JSON: a plain sentence.
    let r = staff
        .http
        .post(d.url("/desk/api/checkins"))
        .header("x-csrf-token", &staff.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not in the expected shape")
    );
}

#[tokio::test]
async fn repeated_wrong_pins_lock_sign_in() {
    let d = Daemon::demo();
    let c = client();
    let mut last = 0;
    for _ in 0..5 {
        let r = c
            .post(d.url("/desk/login"))
            .form(&[("pin", "0000")])
            .send()
            .await
            .unwrap();
        last = r.status().as_u16();
        assert_ne!(last, 303);
    }
    assert!(last == 401 || last == 429);
    // Even the right PIN is refused while locked.
    let r = c
        .post(d.url("/desk/login"))
        .form(&[("pin", PIN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.text().await.unwrap().contains("locked"));
}

#[tokio::test]
async fn another_practices_rows_in_the_replica_are_never_served() {
    let d = Daemon::demo();
    // Plant a second tenant's patient with the same name and birthday,
    // booked today, straight into the replica.
    {
        let conn = rusqlite::Connection::open(db_path(&d.data_dir())).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let today = today();
        conn.execute_batch(&format!(
            "INSERT INTO tenant VALUES ('other', 'Other Dental', 'dental', 'X', 'v', 'pro', 'active', '{{}}', '{{}}', 0, 0, NULL);
             INSERT INTO providers VALUES ('other', 'dr-x', 'Dr. X');
             INSERT INTO patients VALUES ('other', 'op1', 'Olga', 'Other', 'olga other', 'h');
             INSERT INTO appointments VALUES ('other', 'oa1', 'op1', 'dr-x', '{today}', 0, 'Secret', 'private note', 0);"
        ))
        .unwrap();
    }
    let staff = sign_in(&d).await;
    let today = staff.today(&d).await;
    let text = today.to_string();
    assert!(!text.contains("Olga"), "other tenant leaked: {text}");
    assert!(!text.contains("private note"));
    let (st, _) = staff
        .post(&d, "/desk/api/checkins", json!({"appointment_id": "oa1"}))
        .await;
    assert_eq!(st, 404);
}
