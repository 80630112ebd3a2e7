//! What a clinic pays for decides what its box does, end to end with real
//! processes: a paid checkout (signed by Stripe's library) provisions the
//! clinic on `sos-cloud`; a real `sos-appliance` enrolls; the box allows
//! the plan's TVs and refuses one more in plain words; localstripe fails an
//! invoice and sends its own webhook → the front desk shows a billing
//! notice while check-in keeps working → the invoice is paid → the notice
//! goes. Nothing on the lobby TV changes.

mod common;

use std::time::Duration;

use common::box_process::{enroll, http, run_appliance};
use common::stripe::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} frame"))
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

/// A TV opens the lobby page; returns its socket and its pairing code.
async fn tv(base: &str) -> (Ws, String) {
    let url = format!("{}/tv/ws", base.replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("tv socket");
    ws.send(Message::Text(
        json!({"type": "hello", "token": null}).to_string().into(),
    ))
    .await
    .unwrap();
    let code = next_of(&mut ws, "pairing").await["code"]
        .as_str()
        .unwrap()
        .to_string();
    (ws, code)
}

struct Desk {
    http: reqwest::Client,
    csrf: String,
    base: String,
}

impl Desk {
    async fn sign_in(base: &str, pin: &str) -> Desk {
        let http = http();
        let r = http
            .post(format!("{base}/desk/login"))
            .header("origin", base)
            .form(&[("pin", pin), ("next", "/desk")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "desk sign-in");
        let page = self::page(&http, base).await;
        let csrf = common::box_process::csrf_token(&page).expect("csrf");
        Desk {
            http,
            csrf,
            base: base.to_string(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn today(&self) -> Value {
        self.http
            .get(format!("{}/desk/api/today", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn page(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/desk"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_plan_and_the_payments_decide_what_the_box_does() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let args = stripe_args(&stripe.url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cloud = Cloud::start_with(&db, "127.0.0.1:0", &args);
    let pool = db.pool().await;

    // An owner buys Pro.
    let (cus, sub, good) = stripe
        .subscriber("plans@example.com", "price_sos_pro")
        .await;
    let body = checkout_event(
        "evt_1SosPlans",
        "checkout.session.completed",
        "cs_plans",
        &cus,
        &sub,
        "paid",
        json!({"practice_name": "Bright Smile Dental", "vertical": "dental"}),
    );
    assert_eq!(deliver_signed(&cloud.url, &body).await.0, 200);
    let c = pool.get().await.unwrap();
    let tenant: String = c
        .query_one(
            "SELECT tenant_id FROM tenants WHERE stripe_subscription_id = $1",
            &[&sub],
        )
        .await
        .unwrap()
        .get(0);
    cloud_server::admin::set_staff(&pool, &tenant, "desk", "Front desk", "2468")
        .await
        .unwrap();
    let token = token(&pool, &tenant).await;
    let dir = tempfile::tempdir().unwrap();
    let out = enroll(dir.path(), &cloud.url, &token);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = run_appliance(dir.path());
    let desk = Desk::sign_in(&b.base, "2468").await;
    let today = desk.today().await;
    assert_eq!(today["practice"]["max_displays"], 3, "{today}");
    assert!(today["billing_notice"].is_null());

    // Pro: three TVs pair, a fourth is refused and the desk says why.
    let mut tvs = Vec::new();
    for n in 0..3 {
        let (ws, code) = tv(&b.base).await;
        let (st, body) = desk
            .post(
                "/desk/api/displays/pair",
                json!({"code": code, "name": format!("TV {n}")}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        tvs.push(ws);
    }
    let (_fourth, code) = tv(&b.base).await;
    let (st, body) = desk
        .post(
            "/desk/api/displays/pair",
            json!({"code": code, "name": "TV 4"}),
        )
        .await;
    assert_eq!(st, 403, "{body}");
    let message = body["message"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or_default();
    assert!(message.contains("plan allows 3 TV"), "{body}");

    // The card fails: localstripe's own webhook reaches the cloud.
    stripe.send_webhooks_to(&cloud.url).await;
    let invoice = stripe.fail_next_invoice(&cus, &sub).await;
    eventually(
        Duration::from_secs(20),
        "the billing notice on the desk",
        || async {
            desk.today().await["billing_notice"]
                .as_str()
                .is_some_and(|n| n.contains("overdue"))
        },
    )
    .await;
    // Shown on the desk page itself, never on the lobby TV.
    assert!(
        page(&desk.http, &b.base)
            .await
            .contains("Payment for this practice is overdue")
    );
    let lobby = http()
        .get(format!("{}/tv", b.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!lobby.contains("overdue") && !lobby.contains("Payment"));
    // Check-in keeps working while payment is overdue.
    let (st, body) = desk
        .post(
            "/desk/api/checkins",
            json!({"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");

    // Paid again: the notice goes.
    stripe.pay(&cus, &good, &invoice).await;
    eventually(
        Duration::from_secs(20),
        "the billing notice gone",
        || async { desk.today().await["billing_notice"].is_null() },
    )
    .await;

    // The owner moves down to Starter (one TV): the paired TVs stay,
    // nothing is deleted, but no new one pairs.
    cloud_server::tenants::update_tenant(
        &pool,
        &tenant,
        cloud_server::tenants::TenantFields {
            plan: Some("starter".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "starter's one TV on the box",
        || async { desk.today().await["practice"]["max_displays"] == 1 },
    )
    .await;
    assert_eq!(
        desk.today().await["displays"].as_array().map(Vec::len),
        Some(3)
    );
    let (_fifth, code) = tv(&b.base).await;
    let (st, _) = desk
        .post(
            "/desk/api/displays/pair",
            json!({"code": code, "name": "TV 5"}),
        )
        .await;
    assert_eq!(st, 403);
    drop(tvs);
}
