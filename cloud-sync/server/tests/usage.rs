//! Usage per tenant and month: the billing events real devices push are
//! summed for the month they happened in, beside the plan's allowance;
//! another month and another tenant never count.

mod common;

use std::process::Command;

use cloud_sync::wire::Event;
use common::*;
use serde_json::json;

fn event(seq: i64, kind: &str, payload: serde_json::Value, at: i64) -> Event {
    Event {
        event_id: uuid(),
        seq,
        kind: kind.into(),
        payload,
        created_at: at,
    }
}

fn month_of(ms: i64) -> String {
    date_of(ms)[..7].to_string()
}

#[tokio::test]
async fn usage_sums_a_tenants_billing_events_for_the_month_beside_its_allowance() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Usage Dental").await;
    let other = tenant(&pool, "Other Dental").await;
    let dev = device(&pool, &client, &t).await;
    let other_dev = device(&pool, &client, &other).await;
    let now = cloud_sync::auth::now_ms();
    let last_month = now - 40 * 86_400_000;
    let mut batch = Vec::new();
    for i in 0..3 {
        batch.push(event(
            i + 1,
            "billing.checkin_processed",
            json!({"checkin_id": format!("c{i}"), "method": "qr", "at": now - i}),
            now - i,
        ));
    }
    for i in 0..2 {
        batch.push(event(
            i + 4,
            "billing.greeting_spoken",
            json!({"checkin_id": format!("c{i}"), "audio_ms": 1800, "cached": true, "at": now}),
            now,
        ));
    }
    batch.push(event(
        6,
        "billing.voice_seconds",
        json!({"seconds": 90.5, "at": now}),
        now,
    ));
    // Last month's check-in counts in last month.
    batch.push(event(
        7,
        "billing.checkin_processed",
        json!({"checkin_id": "old", "method": "qr", "at": last_month}),
        last_month,
    ));
    client.push_events(&dev, &batch).await.unwrap();
    // A retried batch counts once.
    client.push_events(&dev, &batch).await.unwrap();
    let theirs = vec![event(
        1,
        "billing.checkin_processed",
        json!({"checkin_id": "x", "method": "qr", "at": now}),
        now,
    )];
    client.push_events(&other_dev, &theirs).await.unwrap();

    let u = cloud_server::usage::for_month(&pool, &t, None)
        .await
        .unwrap();
    assert_eq!((u.checkins, u.greetings), (3, 2));
    assert!((u.voice_minutes - 1.5).abs() < 0.01, "{u:?}");
    assert_eq!(u.month, month_of(now));
    // The tenant is on starter: 1000 check-ins, no voice minutes included.
    assert_eq!((u.included_checkins, u.included_voice_minutes), (1000, 0));
    assert!(u.over_allowance, "voice minutes beyond starter's none");
    let old = cloud_server::usage::for_month(&pool, &t, Some(&month_of(last_month)))
        .await
        .unwrap();
    assert_eq!((old.checkins, old.greetings), (1, 0));

    // The operator's command prints the same, and names a bad field.
    let bin = env!("CARGO_BIN_EXE_sos-cloud");
    let out = Command::new(bin)
        .args(["usage", "--tenant", &t])
        .env("SOS_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["checkins"], 3);
    let out = Command::new(bin)
        .args(["usage", "--tenant", &t, "--month", "2026-13"])
        .env("SOS_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("month must be YYYY-MM"));
}
