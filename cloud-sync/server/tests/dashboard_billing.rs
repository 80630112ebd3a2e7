//! The owner's way to Stripe's customer portal, against a real `sos-cloud
//! serve`, PostgreSQL and `localstripe`: a practice bought online gets the
//! "Manage payment and invoices" button, one set up by hand is told who to
//! ask, and when Stripe cannot open the portal the owner is told so and
//! nothing changes.
//!
//! The seam: localstripe has no customer portal (`/v1/billing_portal/...`
//! answers 404), so the redirect to a portal session is exercised only as
//! far as Stripe's answer; the request itself is Stripe's documented form.

mod common;

use common::dashboard::*;
use common::stripe::*;
use common::*;

const PW: &str = "correct horse battery";

/// The practice's tenant row, as text.
async fn row(pool: &deadpool_postgres::Pool, tenant: &str) -> String {
    pool.get()
        .await
        .unwrap()
        .query_one(
            "SELECT row_to_json(t)::text FROM tenants t WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn owners_reach_stripes_portal_or_are_told_why_not() {
    let stripe = LocalStripe::start().await;
    let customer = stripe
        .post("/v1/customers", &[("email", "owner@alpha.example")])
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (bought, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    owner_with_password(&pool, "Beta Vet", "owner@beta.example", PW).await;
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE tenants SET stripe_customer_id = $2 WHERE tenant_id = $1",
            &[&bought, &customer],
        )
        .await
        .unwrap();
    emails_already_sent(&pool).await;
    let args = stripe_args(&stripe.url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cloud = Cloud::start_with(&db, "127.0.0.1:0", &args);
    let url = &cloud.url;

    let alpha = browser();
    sign_in(&alpha, url, "owner@alpha.example", PW).await;
    let (_, home) = get(&alpha, &format!("{url}/")).await;
    assert!(home.contains("Manage payment and invoices"), "{home}");
    let csrf = csrf_of(&home).unwrap();
    let before = row(&pool, &bought).await;
    let (status, html) = post(&alpha, &format!("{url}/billing/portal"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 502, "{html}");
    assert!(
        html.contains("Stripe is not answering right now. Nothing was changed"),
        "{html}"
    );
    let after = row(&pool, &bought).await;
    assert_eq!(before, after);
    // Not without the session's token.
    let (status, _) = post(&alpha, &format!("{url}/billing/portal"), &[("csrf", "x")]).await;
    assert_eq!(status, 403);

    // Set up by hand: no portal, and the owner is told who to ask.
    let beta = browser();
    sign_in(&beta, url, "owner@beta.example", PW).await;
    let (_, home) = get(&beta, &format!("{url}/")).await;
    assert!(!home.contains("Manage payment and invoices"));
    assert!(home.contains("set up by our team"), "{home}");
    let csrf = csrf_of(&home).unwrap();
    let (status, html) = post(&beta, &format!("{url}/billing/portal"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("contact support"), "{html}");
}
