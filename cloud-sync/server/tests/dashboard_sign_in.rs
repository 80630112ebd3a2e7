//! Signing in to the dashboard against a real `sos-cloud serve` and
//! PostgreSQL: sessions, sign-out (here and everywhere), CSRF, the lock on
//! an address after wrong passwords, the per-network limit, and the
//! practice's page behind it.

mod common;

use common::dashboard::*;
use common::*;

async fn home(c: &reqwest::Client, url: &str) -> reqwest::Response {
    c.get(format!("{url}/")).send().await.unwrap()
}

async fn audit_actions(
    pool: &deadpool_postgres::Pool,
    tenant: &str,
) -> Vec<(String, Option<String>)> {
    pool.get()
        .await
        .unwrap()
        .query(
            "SELECT action, ip FROM audit_log WHERE tenant_id = $1 AND action LIKE 'account.%' ORDER BY id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn an_owner_signs_in_sees_the_practice_and_signs_out() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(
        &pool,
        "Bright Smile",
        "Owner@Bright.example",
        "correct horse battery",
    )
    .await;
    let cloud = Cloud::start(&db);
    let b = browser();

    // Signed out, the practice's page sends the browser to sign in.
    let r = home(&b, &cloud.url).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    let page = b.get(format!("{}/login", cloud.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // A wrong password says so and signs nobody in.
    let r = sign_in(&b, &cloud.url, "owner@bright.example", "wrong password").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("not right"));
    assert_eq!(home(&b, &cloud.url).await.status(), 303);

    // The right one, typed with other capitals: a session cookie that
    // scripts cannot read and other sites do not send.
    let r = sign_in(
        &b,
        &cloud.url,
        "OWNER@bright.example ",
        "correct horse battery",
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("sos_session=sos_sess_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let r = home(&b, &cloud.url).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Bright Smile"), "{html}");
    assert!(
        html.contains("Starter") && html.contains("id=\"standing\">Trial"),
        "{html}"
    );
    assert!(html.contains("No box is set up yet"), "{html}");
    // The sign-in page itself now goes to the practice.
    let r = b.get(format!("{}/login", cloud.url)).send().await.unwrap();
    assert_eq!(location(&r), "/");

    // Only the session's hash is stored.
    let c = pool.get().await.unwrap();
    let raw: i64 = c
        .query_one(
            "SELECT count(*) FROM sessions WHERE token_hash LIKE 'sos_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(raw, 0);

    // Signing out without the page's token (a form on another site) is
    // refused and changes nothing.
    let r = b
        .post(format!("{}/logout", cloud.url))
        .form(&[("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(home(&b, &cloud.url).await.status(), 200);
    let r = b
        .post(format!("{}/logout", cloud.url))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf_of(&html).unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(home(&b, &cloud.url).await.status(), 200);

    // With it: signed out, and the old cookie no longer works even if kept.
    let r = b
        .post(format!("{}/logout", cloud.url))
        .form(&[("csrf", csrf_of(&html).unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    let token = cookie.split(';').next().unwrap().to_string();
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/", cloud.url))
        .header("cookie", token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);

    // The practice's audit log has each step, with where it came from.
    let actions = audit_actions(&pool, &tenant).await;
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "account.created",
            "account.sign_in_failed",
            "account.signed_in",
            "account.signed_out"
        ]
    );
    assert_eq!(actions[2].1.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_and_a_new_password_does_too() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    let cloud = Cloud::start(&db);
    let (phone, laptop, tablet) = (browser(), browser(), browser());
    for b in [&phone, &laptop, &tablet] {
        let r = sign_in(
            b,
            &cloud.url,
            "owner@bright.example",
            "correct horse battery",
        )
        .await;
        assert_eq!(r.status(), 303);
    }
    let html = home(&phone, &cloud.url).await.text().await.unwrap();
    let r = phone
        .post(format!("{}/logout", cloud.url))
        .form(&[
            ("csrf", csrf_of(&html).unwrap().as_str()),
            ("everywhere", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    for b in [&phone, &laptop, &tablet] {
        assert_eq!(home(b, &cloud.url).await.status(), 303);
    }
    // A POST from a signed-out browser is 401 and changes nothing.
    let r = laptop
        .post(format!("{}/logout", cloud.url))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A new password (a reset link) also signs the account out everywhere.
    for b in [&phone, &laptop] {
        sign_in(
            b,
            &cloud.url,
            "owner@bright.example",
            "correct horse battery",
        )
        .await;
        assert_eq!(home(b, &cloud.url).await.status(), 200);
    }
    let link = "sos_pw_test-reset-link";
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO password_links (token_hash, account_id, expires_at)
             SELECT $1, account_id, now() + interval '1 hour' FROM accounts",
            &[&cloud_server::admin::token_hash(link)],
        )
        .await
        .unwrap();
    let r = tablet
        .post(format!("{}/password", cloud.url))
        .form(&[
            ("token", link),
            ("password", "a brand new passphrase"),
            ("confirm", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for b in [&phone, &laptop] {
        assert_eq!(home(b, &cloud.url).await.status(), 303);
    }
    let r = sign_in(
        &phone,
        &cloud.url,
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = sign_in(
        &phone,
        &cloud.url,
        "owner@bright.example",
        "a brand new passphrase",
    )
    .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn wrong_passwords_lock_the_address_whether_or_not_it_has_an_account() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    let cloud = Cloud::start(&db);
    let b = browser();
    for email in ["owner@bright.example", "nobody@bright.example"] {
        for i in 0..5 {
            let r = sign_in(&b, &cloud.url, email, "guess").await;
            assert_eq!(r.status(), 401, "{email} attempt {i}");
        }
        // Locked: the same answer for a real address and an unknown one,
        // and even the right password waits.
        let r = sign_in(&b, &cloud.url, email, "correct horse battery").await;
        assert_eq!(r.status(), 429, "{email}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains("Too many wrong passwords for this address"),
            "{text}"
        );
        assert!(text.contains("in 30 seconds"), "{text}");
    }
    // Another address is not affected.
    owner_with_password(
        &pool,
        "Other Clinic",
        "other@clinic.example",
        "another good password",
    )
    .await;
    let r = sign_in(
        &browser(),
        &cloud.url,
        "other@clinic.example",
        "another good password",
    )
    .await;
    assert_eq!(r.status(), 303);
    // Past the lock, the right password works and the count starts again.
    let c = pool.get().await.unwrap();
    c.execute(
        "UPDATE login_failures SET locked_until = now() - interval '1 second'",
        &[],
    )
    .await
    .unwrap();
    let r = sign_in(
        &b,
        &cloud.url,
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    assert_eq!(r.status(), 303);
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM login_failures WHERE email = 'owner@bright.example'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // Each failure on the owner's address is in the practice's log.
    let failed = audit_actions(&pool, &tenant)
        .await
        .iter()
        .filter(|(a, _)| a == "account.sign_in_failed")
        .count();
    assert_eq!(failed, 5);
}

#[tokio::test]
async fn one_network_gets_a_limited_number_of_tries() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    let cloud = Cloud::start(&db);
    let b = browser();
    // Spread over many addresses so that no address locks.
    for i in 0..cloud_server::dashboard::login::IP_ATTEMPTS {
        let r = sign_in(&b, &cloud.url, &format!("guess{i}@bright.example"), "guess").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = sign_in(
        &b,
        &cloud.url,
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("from this network"));
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_or_malformed_is_refused() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    let cloud = Cloud::start(&db);
    let b = browser();
    let r = b
        .post(format!("{}/login", cloud.url))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("email", "owner@bright.example"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(home(&b, &cloud.url).await.status(), 303);
    let r = sign_in(&b, &cloud.url, "not an address", "x").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Type the email address"));
    let r = sign_in(&b, &cloud.url, "owner@bright.example", "").await;
    assert_eq!(r.status(), 422);
    let c = pool.get().await.unwrap();
    let sessions: i64 = c
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn an_owner_signs_in_and_out_in_chromium_on_a_phone_by_keyboard() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    // A colleague on the team page, so the phone shows a row with actions.
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO accounts (account_id, tenant_id, email, role)
             VALUES ('a-sam', $1, 'sam.longname@bright-smile-dental.example', 'staff')",
            &[&tenant],
        )
        .await
        .unwrap();
    let cloud = Cloud::start(&db);
    in_chromium(
        "cloud-login.mjs",
        &[
            &cloud.url,
            "owner@bright.example",
            "correct horse battery",
            "Bright Smile",
        ],
    )
    .await;
}
