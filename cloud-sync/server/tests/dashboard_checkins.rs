//! The check-ins page against a real `sos-cloud serve` and PostgreSQL, with
//! check-ins arriving the way boxes send them (signed event batches) and
//! from a box in this process: today's list with names from the schedule,
//! waits as median and p90, no-shows, filters, a past day, the 30-day
//! charts, and refusals of a day that cannot be shown.

mod common;

use std::time::Duration;

use cloud_sync::wire::{Appointment, Event};
use common::dashboard::*;
use common::in_process::*;
use common::*;

const PW: &str = "correct horse battery";
const MIN: i64 = 60_000;

fn appointment(
    id: &str,
    first: &str,
    last: &str,
    provider: (&str, &str),
    day: &str,
    at: i64,
) -> Appointment {
    Appointment {
        appointment_id: id.into(),
        patient_id: format!("p-{id}"),
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: "1980-01-01".into(),
        provider_id: provider.0.into(),
        provider_name: provider.1.into(),
        local_date: day.into(),
        starts_at: at,
        kind: "Check-up".into(),
        notes: String::new(),
        cancelled: false,
    }
}

fn event(seq: i64, kind: &str, payload: serde_json::Value) -> Event {
    Event {
        event_id: uuid(),
        seq,
        kind: kind.into(),
        payload,
        created_at: seq,
    }
}

fn arrived(seq: i64, checkin: &str, appointment: &str, day: &str, at: i64) -> Event {
    event(
        seq,
        "checkin.arrived",
        serde_json::json!({
            "checkin_id": checkin, "appointment_id": appointment, "patient_id": format!("p-{appointment}"),
            "walk_in": false, "method": "qr", "local_date": day, "ticket": seq, "arrived_at": at,
        }),
    )
}

fn moved(seq: i64, checkin: &str, status: &str, at: i64) -> Event {
    event(
        seq,
        "checkin.status",
        serde_json::json!({"checkin_id": checkin, "status": status, "room": "Room 2", "at": at}),
    )
}

#[tokio::test]
async fn an_owner_sees_the_days_checkins_waits_and_no_shows() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    emails_already_sent(&pool).await;
    let now = cloud_sync::auth::now_ms();
    let today = date_of(now);
    let yesterday = date_of(now - 86_400_000);
    let lee = ("dr-lee", "Dr. Lee");
    let kim = ("dr-kim", "Dr. Kim");
    cloud_server::admin::put_appointments(
        &pool,
        &tenant,
        &[
            appointment("a-sarah", "Sarah", "Jones", lee, &today, now - 120 * MIN),
            appointment("a-omar", "Omar", "Haddad", kim, &today, now - 60 * MIN),
            appointment("a-mei", "Mei", "Chen", lee, &today, now - 90 * MIN),
            appointment("a-fay", "Fay", "Later", kim, &today, now + 120 * MIN),
            appointment("a-yan", "Yan", "Before", lee, &yesterday, now - 86_400_000),
        ],
    )
    .await
    .unwrap();
    let cloud = Cloud::start(&db);
    let url = &cloud.url;
    let dev = device(&pool, &cloud.client(), &tenant).await;
    let t = now - 100 * MIN;
    cloud
        .client()
        .push_events(
            &dev,
            &[
                arrived(1, "c-sarah", "a-sarah", &today, t),
                moved(2, "c-sarah", "called", t + 10 * MIN),
                moved(3, "c-sarah", "seen", t + 40 * MIN),
                arrived(4, "c-omar", "a-omar", &today, t + 5 * MIN),
                moved(5, "c-omar", "called", t + 25 * MIN),
                arrived(6, "c-yan", "a-yan", &yesterday, now - 86_400_000),
            ],
        )
        .await
        .unwrap();

    let b = browser();
    assert_eq!(
        sign_in(&b, url, "owner@alpha.example", PW).await.status(),
        303
    );
    let (status, html) = get(&b, &format!("{url}/checkins")).await;
    assert_eq!(status, 200, "{html}");
    for says in [
        "Check-ins today",
        "Sarah J.",
        "Omar H.",
        // Waits to be called: 10 and 20 minutes; with the provider: 30.
        "<dd id=\"wait-called\">10 min <span class=\"muted small\">median · p90 20 min</span>",
        "<dd id=\"wait-seen\">30 min",
        "<dd id=\"day-count\">2</dd>",
        // Mei's time passed without a check-in; Fay's has not come yet.
        "Mei C.",
        "<dd id=\"no-show-count\">1</dd>",
        "3 check-ins in the 30 days",
    ] {
        assert!(html.contains(says), "the page should say {says}: {html}");
    }
    assert!(!html.contains("Fay L."), "not a no-show yet: {html}");
    // Behind the charts: today's median is the day's, 10 minutes.
    let label = jiff::civil::Date::strptime("%Y-%m-%d", &today)
        .unwrap()
        .strftime("%-d %b")
        .to_string();
    assert!(
        html.contains(&format!(
            "<tr><th scope=\"row\">{label}</th><td>2</td><td>10 min</td></tr>"
        )),
        "{html}"
    );
    assert!(!html.contains("Yan B."), "yesterday's is not today's");
    assert_eq!(
        html.matches("data:image&#x2f;svg+xml;base64,").count(),
        2,
        "two charts"
    );

    // Filters.
    let (_, html) = get(&b, &format!("{url}/checkins?provider=dr-kim")).await;
    assert!(
        html.contains("Omar H.") && !html.contains("Sarah J."),
        "{html}"
    );
    let (_, html) = get(&b, &format!("{url}/checkins?status=seen")).await;
    assert!(
        html.contains("Sarah J.") && !html.contains("Omar H."),
        "{html}"
    );
    // A past day.
    let (status, html) = get(&b, &format!("{url}/checkins?day={yesterday}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Yan B.") && !html.contains("Sarah J."),
        "{html}"
    );
    // Days that cannot be shown.
    for (query, says) in [
        ("day=tomorrow", "is not a date"),
        ("day=2999-01-01", "has not happened yet"),
        ("status=lost", "is not a status"),
    ] {
        let (status, html) = get(&b, &format!("{url}/checkins?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert!(html.contains(says), "{query}: {html}");
    }
    in_chromium(
        "cloud-pages.mjs",
        &[url, "owner@alpha.example", PW, "checkins=/checkins"],
    )
    .await;

    // A walk-in at a box reaches the page.
    let dir = tempfile::tempdir().unwrap();
    appliance::sync::enroll_box(dir.path(), url, &token(&pool, &tenant).await, "desk")
        .await
        .unwrap();
    let the_box = start_box(dir.path());
    walk_in(&the_box.clinic, "Walter").await;
    eventually(Duration::from_secs(20), "the walk-in on the page", || {
        let b = b.clone();
        let url = url.clone();
        async move {
            let (_, html) = get(&b, &format!("{url}/checkins")).await;
            html.contains("Walk-in (ticket")
        }
    })
    .await;
    the_box.stop().await;
}
