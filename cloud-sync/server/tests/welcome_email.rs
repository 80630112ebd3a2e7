//! The welcome email, end to end with real processes: a signed paid
//! checkout → `sos-cloud` (two of them, both sending) → the SMTP sink
//! (`aiosmtpd`) holds exactly one email → its link sets the owner's
//! password once → its box token enrolls a real `sos-appliance`. And when
//! the mail server is down, the email waits and goes later with fresh
//! secrets, the undelivered ones revoked.

mod common;

use std::time::Duration;

use common::box_process::{enroll, http};
use common::smtp::{SmtpSink, word_starting};
use common::stripe::*;
use common::*;
use serde_json::json;

/// A cloud on `port` that uses Stripe at `stripe` and mails through `smtp`.
fn start(db: &TestDb, stripe: &LocalStripe, smtp: &str, port: u16, public: &str) -> Cloud {
    let mut args = stripe_args(&stripe.url);
    args.extend(
        [
            "--smtp-url",
            smtp,
            "--public-url",
            public,
            "--email-from",
            "SOS Edge <hello@sos.example>",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Cloud::start_with(db, &format!("127.0.0.1:{port}"), &args)
}

async fn provision(cloud: &Cloud, stripe: &LocalStripe, n: &str) -> (String, String) {
    let (cus, sub, _) = stripe
        .subscriber(&format!("{n}@example.com"), "price_sos_pro")
        .await;
    let body = checkout_event(
        &format!("evt_1Sos{n}"),
        "checkout.session.completed",
        &format!("cs_{n}"),
        &cus,
        &sub,
        "paid",
        json!({"practice_name": "Bright Smile Dental", "vertical": "dental"}),
    );
    let (status, answer) = deliver_signed(&cloud.url, &body).await;
    assert_eq!(status, 200, "{answer}");
    (cus, sub)
}

#[tokio::test]
async fn the_welcome_email_arrives_once_and_its_link_and_token_work() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let sink = SmtpSink::start();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let a = start(&db, &stripe, &sink.url(), port, &public);
    // A second process sends from the same outbox.
    let b = start(&db, &stripe, &sink.url(), free_port(), &public);
    let pool = db.pool().await;
    provision(&a, &stripe, "Welcome").await;

    eventually(
        Duration::from_secs(20),
        "the welcome email in the sink",
        || async { !sink.messages().is_empty() },
    )
    .await;
    // Both workers had time to send it again: they must not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "exactly one welcome email");
    let mail = &messages[0];
    assert_eq!(mail.to, "owner@bright-smile.example");
    assert_eq!(mail.from, "hello@sos.example");
    assert!(mail.subject.contains("Bright Smile Dental"), "{mail:?}");
    for step in [
        "1. Set your password",
        "2. Flash the card",
        "3. Scan the TV code",
    ] {
        assert!(mail.text.contains(step), "{step} missing:\n{}", mail.text);
    }
    let link = word_starting(&mail.text, &format!("{public}/password?token=")).expect("link");
    let token = word_starting(&mail.text, "sos_prov_").expect("box token");
    let c = pool.get().await.unwrap();
    let sent: i64 = c
        .query_one(
            "SELECT count(*) FROM email_outbox WHERE sent_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sent, 1);
    // Only hashes are stored.
    let raw: i64 = c
        .query_one(
            "SELECT count(*) FROM password_links WHERE token_hash LIKE 'sos_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(raw, 0);

    // The link shows the form (any process serves it) ...
    let web = http();
    let page = web.get(link.replace(&a.url, &b.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Set your password") && html.contains("owner@bright-smile.example"));
    let pw_token = link.split("token=").nth(1).unwrap().to_string();
    // ... refuses a mismatch and a short one, in plain words, and changes nothing ...
    for (pw, confirm, why) in [
        (
            "correct horse battery",
            "correct horse battery!",
            "not the same",
        ),
        ("short", "short", "too short"),
    ] {
        let r = web
            .post(format!("{}/password", a.url))
            .form(&[
                ("token", pw_token.as_str()),
                ("password", pw),
                ("confirm", confirm),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{why}");
        assert!(r.text().await.unwrap().contains(why), "{why}");
    }
    let unset: bool = c
        .query_one("SELECT password_hash IS NULL FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert!(unset);
    // ... sets it once, in Chromium on a phone, by keyboard only ...
    common::dashboard::in_chromium("cloud-password.mjs", &[&link, "correct horse battery"]).await;
    let hash: String = c
        .query_one("SELECT password_hash FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    // ... and never again.
    let again = web.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 410);
    let r = web
        .post(format!("{}/password", b.url))
        .form(&[
            ("token", pw_token.as_str()),
            ("password", "another password here"),
            ("confirm", "another password here"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let same: String = c
        .query_one("SELECT password_hash FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(same, hash);

    // The token from the email enrolls a real box to this clinic.
    let dir = tempfile::tempdir().unwrap();
    let out = enroll(dir.path(), &a.url, &token);
    assert!(
        out.status.success(),
        "enroll: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let devices: i64 = c
        .query_one(
            "SELECT count(*) FROM devices d JOIN tenants t USING (tenant_id)
             WHERE t.name = 'Bright Smile Dental'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(devices, 1);
}

#[tokio::test]
async fn with_the_mail_server_down_the_email_waits_and_goes_later_with_fresh_secrets() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let smtp_port = free_port();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let cloud = start(
        &db,
        &stripe,
        &format!("smtp://127.0.0.1:{smtp_port}"),
        port,
        &public,
    );
    let pool = db.pool().await;
    provision(&cloud, &stripe, "Down").await;

    let c = pool.get().await.unwrap();
    eventually(Duration::from_secs(20), "a failed attempt recorded", || {
        let pool = pool.clone();
        async move {
            let c = pool.get().await.unwrap();
            let r = c
                .query_one(
                    "SELECT attempts, last_error IS NOT NULL, sent_at IS NULL, claimed_until IS NULL
                     FROM email_outbox",
                    &[],
                )
                .await
                .unwrap();
            r.get::<_, i32>(0) >= 1
                && r.get::<_, bool>(1)
                && r.get::<_, bool>(2)
                && r.get::<_, bool>(3)
        }
    })
    .await;
    // What the failed attempt minted was never delivered: it does not work.
    let live: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM password_links WHERE used_at IS NULL)
                  + (SELECT count(*) FROM provisioning_tokens WHERE expires_at > now())",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 0);

    // The mail server comes back; the retry is due now.
    let sink = SmtpSink::start_on(smtp_port);
    c.execute("UPDATE email_outbox SET next_attempt_at = now()", &[])
        .await
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the email after the retry",
        || async { !sink.messages().is_empty() },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    // Exactly one live link and one live token: the delivered ones.
    let live: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM password_links WHERE used_at IS NULL)
                  + (SELECT count(*) FROM provisioning_tokens WHERE expires_at > now())",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 2);
    let link =
        word_starting(&messages[0].text, &format!("{public}/password?token=")).expect("link");
    assert_eq!(http().get(&link).send().await.unwrap().status(), 200);
}

/// Logs carry ids and reasons, never the owner's email or name, the
/// practice's metadata, or a secret an email carries: at every level.
#[tokio::test]
async fn nothing_an_owner_gave_or_was_sent_reaches_the_log() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let sink = SmtpSink::start();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("cloud.log");
    let mut args = stripe_args(&stripe.url);
    args.extend(["--smtp-url", &sink.url(), "--public-url", &public].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cloud = Cloud::start_logging(
        &db,
        &format!("127.0.0.1:{port}"),
        &args,
        Some((
            &log,
            "trace,tokio_postgres=info,hyper=info,h2=info,reqwest=info,rustls=info",
        )),
    );
    let (cus, _) = provision(&cloud, &stripe, "Private").await;
    // A refused one too: its reason must not quote the address either.
    let (_, sub2, _) = stripe.subscriber("bad@example.com", "price_sos_pro").await;
    let bad = checkout_event(
        "evt_1SosPrivateBad",
        "checkout.session.completed",
        "cs_private_bad",
        &cus,
        &sub2,
        "paid",
        json!({"practice_name": "Secretly Named Clinic", "vertical": "dental"}),
    )
    .replace("owner@bright-smile.example", "not an address@@x");
    deliver_signed(&cloud.url, &bad).await;
    eventually(Duration::from_secs(20), "the welcome email", || async {
        !sink.messages().is_empty()
    })
    .await;
    let mail = &sink.messages()[0];
    let link = word_starting(&mail.text, "http").unwrap_or_default();
    let token = word_starting(&mail.text, "sos_prov_").expect("token");
    let pw = link.split("token=").nth(1).unwrap_or("sos_pw_").to_string();
    // The link's page and a bad submit are logged too.
    http().get(&link).send().await.unwrap();
    cloud.kill();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Stripe event applied"),
        "the log is on: {text}"
    );
    assert!(text.contains("evt_1SosPrivate"), "ids are logged");
    assert!(text.contains("email sent"), "the worker logs its rows");
    for secret in [
        "owner@bright-smile.example",
        "not an address",
        "Dr. Lee",
        "Bright Smile Dental",
        "Secretly Named Clinic",
        &token,
        &pw,
    ] {
        assert!(!text.contains(secret), "{secret:?} in the log");
    }
}
