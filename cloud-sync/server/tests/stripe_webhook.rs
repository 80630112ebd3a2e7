//! `POST /webhooks/stripe` against real `sos-cloud` processes on
//! PostgreSQL, with deliveries signed by Stripe's own library (npm
//! `stripe`, `webhooks.generateTestHeaderString`, installed in `tests/` by
//! `scripts/setup-browser.sh`): verified deliveries are recorded once by
//! event id, whatever the retries and whichever process; everything else
//! is a 400 that changes nothing.

mod common;

use common::stripe::*;
use common::*;
use serde_json::json;

/// Nothing listens here: the events of these tests are recorded (or
/// refused) before anything would be read back from Stripe.
const NO_STRIPE_API: &str = "http://127.0.0.1:9";

fn start(db: &TestDb) -> Cloud {
    let args = stripe_args(NO_STRIPE_API);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Cloud::start_with(db, "127.0.0.1:0", &args)
}

fn event(id: &str) -> String {
    json!({
        "id": id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": now(),
        "livemode": false,
        "data": {"object": {
            "object": "checkout.session",
            "payment_status": "paid",
            "customer_details": {"email": "owner@bright-smile.example", "name": "Dr. Lee"},
            "metadata": {"practice_name": "Bright Smile Dental", "vertical": "dental"}
        }}
    })
    .to_string()
}

async fn stored(db: &TestDb, id: &str) -> i64 {
    let pool = db.pool().await;
    let c = pool.get().await.unwrap();
    c.query_one(
        "SELECT count(*) FROM stripe_events WHERE event_id = $1",
        &[&id],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_signed_event_is_recorded_once_however_often_it_arrives() {
    let db = TestDb::create().await;
    let a = start(&db);
    let b = start(&db);

    let body = event("evt_1QxSosFirst");
    let header = stripe_header(&body, SECRET, now());
    assert_eq!(deliver(&a.url, &body, Some(&header)).await.0, 200);
    assert_eq!(stored(&db, "evt_1QxSosFirst").await, 1);
    // Stripe retries: acknowledged, not recorded again.
    assert_eq!(deliver(&a.url, &body, Some(&header)).await.0, 200);
    assert_eq!(deliver(&b.url, &body, Some(&header)).await.0, 200);
    assert_eq!(stored(&db, "evt_1QxSosFirst").await, 1);

    // The same new event reaching both processes at the same moment.
    let body = event("evt_1QxSosRace");
    let header = stripe_header(&body, SECRET, now());
    let mut tasks = Vec::new();
    for cloud in [&a, &b, &a, &b] {
        let (url, body, header) = (cloud.url.clone(), body.clone(), header.clone());
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{url}/webhooks/stripe"))
                .header("Stripe-Signature", header)
                .body(body)
                .send()
                .await
                .expect("deliver")
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(stored(&db, "evt_1QxSosRace").await, 1);
}

#[tokio::test]
async fn a_signature_made_while_the_secret_is_rolled_is_accepted() {
    let db = TestDb::create().await;
    let cloud = start(&db);
    let body = event("evt_1QxSosRolled");
    let t = now();
    // Stripe signs with the old and the new secret during a roll.
    let old = stripe_header(&body, "whsec_the_old_one", t);
    let new = stripe_header(&body, SECRET, t);
    let new_v1 = new.split(',').find(|p| p.starts_with("v1=")).unwrap();
    let both = format!("{old},{new_v1}");
    assert_eq!(deliver(&cloud.url, &body, Some(&both)).await.0, 200);
    assert_eq!(stored(&db, "evt_1QxSosRolled").await, 1);
}

#[tokio::test]
async fn an_unverified_delivery_is_refused_with_its_reason_and_changes_nothing() {
    let db = TestDb::create().await;
    let cloud = start(&db);
    let body = event("evt_1QxSosForged");
    let cases: Vec<(Option<String>, String, &str)> = vec![
        (None, body.clone(), "header is missing"),
        (
            Some(stripe_header(&body, "whsec_someone_else", now())),
            body.clone(),
            "matches",
        ),
        // Signed ten minutes ago: a replayed capture.
        (
            Some(stripe_header(&body, SECRET, now() - 600)),
            body.clone(),
            "away from this server's clock",
        ),
        // Signed, then changed on the way.
        (
            Some(stripe_header(&body, SECRET, now())),
            body.replace("Bright Smile", "Evil Smile"),
            "matches",
        ),
        (Some("t=1,v0=abc".into()), body.clone(), "no v1 signature"),
    ];
    for (header, sent, why) in cases {
        let (status, err) = deliver(&cloud.url, &sent, header.as_deref()).await;
        assert_eq!(status, 400, "{why}");
        let message = err["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{why}: {message}");
    }
    // Correctly signed, but not a Stripe event.
    let not_event = json!({"hello": "world"}).to_string();
    let h = stripe_header(&not_event, SECRET, now());
    let (status, err) = deliver(&cloud.url, &not_event, Some(&h)).await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap_or_default().contains("id"));

    let pool = db.pool().await;
    let c = pool.get().await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM stripe_events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing refused was stored");
}

#[tokio::test]
async fn without_a_signing_secret_stripe_is_off_and_says_so() {
    let db = TestDb::create().await;
    let cloud = Cloud::start(&db);
    let body = event("evt_1QxSosOff");
    let (status, err) = deliver(
        &cloud.url,
        &body,
        Some(&stripe_header(&body, SECRET, now())),
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not set up")
    );
    assert_eq!(stored(&db, "evt_1QxSosOff").await, 0);
}
