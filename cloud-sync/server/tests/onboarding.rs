//! Self-serve onboarding against real peers: two `sos-cloud` processes on
//! PostgreSQL, `localstripe` as Stripe's API (the cloud reads every
//! subscription back from it) and as a sender of its own signed webhooks,
//! and Checkout Session events in Stripe's documented shape signed by
//! Stripe's own npm library. Each test asserts the rows a user would
//! notice: one clinic, one owner, one welcome email, the right status.

mod common;

use std::time::Duration;

use common::stripe::*;
use common::*;
use deadpool_postgres::Pool;
use serde_json::json;

fn start(db: &TestDb, stripe: &LocalStripe) -> Cloud {
    let args = stripe_args(&stripe.url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Cloud::start_with(db, "127.0.0.1:0", &args)
}

fn metadata() -> serde_json::Value {
    json!({"practice_name": "Happy Paws Vet", "vertical": "vet"})
}

async fn scalar(pool: &Pool, sql: &str) -> i64 {
    let c = pool.get().await.unwrap();
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// (tenant, name, vertical, agent, plan, status, customer, subscription)
async fn tenant_of(pool: &Pool, sub: &str) -> Option<Vec<String>> {
    let c = pool.get().await.unwrap();
    let row = c
        .query_opt(
            "SELECT tenant_id, name, vertical, agent_name, plan, status,
                    coalesce(stripe_customer_id, ''), coalesce(stripe_subscription_id, '')
             FROM tenants WHERE stripe_subscription_id = $1",
            &[&sub],
        )
        .await
        .unwrap()?;
    Some((0..8).map(|i| row.get::<_, String>(i)).collect())
}

async fn status_of(pool: &Pool, sub: &str) -> String {
    tenant_of(pool, sub)
        .await
        .map(|t| t[5].clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_paid_checkout_provisions_one_clinic_with_its_owner_and_welcome_email() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let (a, b) = (start(&db, &stripe), start(&db, &stripe));
    let pool = db.pool().await;
    let (cus, sub, _) = stripe
        .subscriber("owner@happy-paws.example", "price_sos_pro")
        .await;

    let body = checkout_event(
        "evt_1SosPaid",
        "checkout.session.completed",
        "cs_test_paid",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    let (status, answer) = deliver_signed(&a.url, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .starts_with("provisioned"),
        "{answer}"
    );

    let t = tenant_of(&pool, &sub)
        .await
        .expect("a tenant for the subscription");
    // Name and vertical from the session's metadata, the plan from the
    // price, the status from the subscription, the agent from the vertical.
    assert_eq!(
        t[1..],
        [
            "Happy Paws Vet",
            "vet",
            "Biscuit",
            "pro",
            "active",
            &cus,
            &sub
        ]
    );
    let tenant = t[0].clone();
    let c = pool.get().await.unwrap();
    let owner = c
        .query_one(
            "SELECT email, role, password_hash IS NULL FROM accounts WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(owner.get::<_, String>(0), "owner@bright-smile.example");
    assert_eq!(owner.get::<_, String>(1), "owner");
    assert!(
        owner.get::<_, bool>(2),
        "no password until the owner sets one"
    );
    let welcome: i64 = c
        .query_one(
            "SELECT count(*) FROM email_outbox WHERE tenant_id = $1 AND kind = 'welcome'",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(welcome, 1);

    // A retry of the same event, on either process: acknowledged, nothing new.
    assert_eq!(deliver_signed(&a.url, &body).await.0, 200);
    assert_eq!(deliver_signed(&b.url, &body).await.0, 200);
    // The same session again under another event id (Stripe sends
    // async_payment_succeeded too for some methods): still one clinic.
    let again = checkout_event(
        "evt_1SosPaidAgain",
        "checkout.session.async_payment_succeeded",
        "cs_test_paid",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    let (status, answer) = deliver_signed(&b.url, &again).await;
    assert_eq!(status, 200);
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .starts_with("already provisioned")
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM accounts").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM email_outbox").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM stripe_events").await, 2);
}

#[tokio::test]
async fn one_checkout_racing_over_two_processes_provisions_once() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let (a, b) = (start(&db, &stripe), start(&db, &stripe));
    let pool = db.pool().await;
    let (cus, sub, _) = stripe
        .subscriber("race@example.com", "price_sos_starter")
        .await;
    // Two events for one session, each delivered twice, all at once.
    let bodies: Vec<String> = ["evt_1SosRaceA", "evt_1SosRaceB"]
        .iter()
        .map(|id| {
            checkout_event(
                id,
                "checkout.session.completed",
                "cs_race",
                &cus,
                &sub,
                "paid",
                metadata(),
            )
        })
        .collect();
    let headers = stripe_headers(&bodies, SECRET, now());
    let mut tasks = Vec::new();
    for round in 0..2 {
        for (i, (body, header)) in bodies.iter().zip(&headers).enumerate() {
            let url = if (i + round) % 2 == 0 {
                a.url.clone()
            } else {
                b.url.clone()
            };
            let (body, header) = (body.clone(), header.clone());
            tasks.push(tokio::spawn(async move {
                deliver(&url, &body, Some(&header)).await.0
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM accounts").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM email_outbox").await, 1);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM stripe_events WHERE applied_at IS NOT NULL"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn an_unpaid_checkout_waits_for_its_async_payment() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let cloud = start(&db, &stripe);
    let pool = db.pool().await;
    let (cus, sub, _) = stripe
        .subscriber("bank@example.com", "price_sos_elite")
        .await;
    let unpaid = checkout_event(
        "evt_1SosUnpaid",
        "checkout.session.completed",
        "cs_bank",
        &cus,
        &sub,
        "unpaid",
        metadata(),
    );
    let (status, answer) = deliver_signed(&cloud.url, &unpaid).await;
    assert_eq!(status, 200);
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .contains("not provisioned yet")
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 0);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM email_outbox").await, 0);

    let cleared = checkout_event(
        "evt_1SosCleared",
        "checkout.session.async_payment_succeeded",
        "cs_bank",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    assert_eq!(deliver_signed(&cloud.url, &cleared).await.0, 200);
    let t = tenant_of(&pool, &sub).await.expect("provisioned once paid");
    assert_eq!(t[4], "elite");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM email_outbox").await, 1);
}

#[tokio::test]
async fn a_checkout_without_what_a_clinic_needs_is_refused_with_its_reason() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    // A price this cloud does not sell as a plan.
    stripe
        .post(
            "/v1/plans",
            &[
                ("id", "price_not_ours"),
                ("amount", "100"),
                ("currency", "usd"),
                ("interval", "month"),
                ("product[name]", "other"),
            ],
        )
        .await;
    let cloud = start(&db, &stripe);
    let pool = db.pool().await;
    let (cus, sub, _) = stripe.subscriber("x@example.com", "price_sos_pro").await;
    let (cus2, sub2, _) = stripe.subscriber("y@example.com", "price_not_ours").await;
    let cases = [
        (&cus, &sub, json!({"vertical": "vet"}), "practice_name"),
        (
            &cus,
            &sub,
            json!({"practice_name": "X", "vertical": "bakery"}),
            "unknown vertical",
        ),
        (&cus, &sub, json!({"practice_name": "X"}), "vertical"),
        (&cus2, &sub2, metadata(), "not one of this cloud's plans"),
    ];
    for (i, (cus, sub, meta, why)) in cases.into_iter().enumerate() {
        let body = checkout_event(
            &format!("evt_1SosRefused{i}"),
            "checkout.session.completed",
            &format!("cs_refused_{i}"),
            cus,
            sub,
            "paid",
            meta,
        );
        let (status, answer) = deliver_signed(&cloud.url, &body).await;
        // Acknowledged (a retry cannot fix it) and recorded for an operator.
        assert_eq!(status, 200, "{why}");
        let outcome = answer["outcome"].as_str().unwrap_or_default();
        assert!(
            outcome.starts_with("refused") && outcome.contains(why),
            "{why}: {outcome}"
        );
    }
    // A subscription Stripe does not have.
    let body = checkout_event(
        "evt_1SosNoSub",
        "checkout.session.completed",
        "cs_nosub",
        &cus,
        "sub_doesnotexist",
        "paid",
        metadata(),
    );
    let (_, answer) = deliver_signed(&cloud.url, &body).await;
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .contains("Stripe has no subscription")
    );

    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 0);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM accounts").await, 0);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM email_outbox").await, 0);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM stripe_events WHERE outcome LIKE 'refused%'"
        )
        .await,
        5
    );
}

#[tokio::test]
async fn oversize_and_malformed_deliveries_are_refused_and_change_nothing() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    let cloud = start(&db, &stripe);
    let pool = db.pool().await;
    let big = format!(
        "{{\"id\":\"evt_big\",\"pad\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    // Too big for node's argv: signed through standard input.
    let header = stripe_headers(std::slice::from_ref(&big), SECRET, now()).remove(0);
    let (status, answer) = deliver(&cloud.url, &big, Some(&header)).await;
    assert_eq!(status, 413);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("larger than any Stripe event")
    );
    let (status, answer) = deliver_signed(&cloud.url, "{\"id\": \"evt_1\", ").await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("not JSON"));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM stripe_events").await, 0);
}

#[tokio::test]
async fn when_stripe_cannot_be_asked_the_event_waits_for_stripes_retry() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let down = {
        let args = stripe_args("http://127.0.0.1:9");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Cloud::start_with(&db, "127.0.0.1:0", &args)
    };
    let up = start(&db, &stripe);
    let pool = db.pool().await;
    let (cus, sub, _) = stripe
        .subscriber("retry@example.com", "price_sos_pro")
        .await;
    let body = checkout_event(
        "evt_1SosRetry",
        "checkout.session.completed",
        "cs_retry",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    let (status, answer) = deliver_signed(&down.url, &body).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("Stripe will retry")
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM stripe_events").await, 0);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 0);
    // Stripe's retry reaches a process that can ask Stripe.
    assert_eq!(deliver_signed(&up.url, &body).await.0, 200);
    assert!(tenant_of(&pool, &sub).await.is_some());
}

#[tokio::test]
async fn the_status_follows_the_subscription_through_localstripes_own_webhooks() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let cloud = start(&db, &stripe);
    let pool = db.pool().await;
    let (cus, sub, good) = stripe
        .subscriber("webhooks@example.com", "price_sos_pro")
        .await;
    let body = checkout_event(
        "evt_1SosLive",
        "checkout.session.completed",
        "cs_live",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    assert_eq!(deliver_signed(&cloud.url, &body).await.0, 200);
    assert_eq!(status_of(&pool, &sub).await, "active");
    let version = |pool: Pool, sub: String| async move {
        let c = pool.get().await.unwrap();
        c.query_one(
            "SELECT config_version FROM tenants WHERE stripe_subscription_id = $1",
            &[&sub],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    let v0 = version(pool.clone(), sub.clone()).await;

    // From here every event is localstripe's own, signed by it.
    stripe.send_webhooks_to(&cloud.url).await;
    let invoice = stripe.fail_next_invoice(&cus, &sub).await;
    assert_eq!(stripe.subscription_status(&sub).await, "past_due");
    eventually(
        Duration::from_secs(15),
        "past_due after invoice.payment_failed",
        || {
            let (pool, sub) = (pool.clone(), sub.clone());
            async move { status_of(&pool, &sub).await == "past_due" }
        },
    )
    .await;
    // The boxes learn it: the config version moved.
    assert!(version(pool.clone(), sub.clone()).await > v0);

    stripe.pay(&cus, &good, &invoice).await;
    eventually(
        Duration::from_secs(15),
        "active again after the invoice is paid",
        || {
            let (pool, sub) = (pool.clone(), sub.clone());
            async move { status_of(&pool, &sub).await == "active" }
        },
    )
    .await;

    // Behind again, and the grace period runs out.
    stripe.fail_next_invoice(&cus, &sub).await;
    eventually(Duration::from_secs(15), "past_due again", || {
        let (pool, sub) = (pool.clone(), sub.clone());
        async move { status_of(&pool, &sub).await == "past_due" }
    })
    .await;
    let c = pool.get().await.unwrap();
    c.execute(
        "UPDATE tenants SET past_due_since = now() - interval '8 days'
         WHERE stripe_subscription_id = $1",
        &[&sub],
    )
    .await
    .unwrap();
    let suspended = cloud_server::onboarding::status::suspend_overdue(
        &pool,
        cloud_server::onboarding::status::DEFAULT_GRACE,
    )
    .await
    .unwrap();
    assert_eq!(suspended.len(), 1);
    assert_eq!(status_of(&pool, &sub).await, "suspended");

    // Cancelled in Stripe: cancelled here; nothing is deleted.
    stripe.delete(&format!("/v1/subscriptions/{sub}")).await;
    eventually(
        Duration::from_secs(15),
        "cancelled after the subscription is deleted",
        || {
            let (pool, sub) = (pool.clone(), sub.clone());
            async move { status_of(&pool, &sub).await == "cancelled" }
        },
    )
    .await;
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM accounts").await, 1);
}

/// Stripe delivers in any order; the status is read back from Stripe, so
/// every order of created / updated / paid / failed / deleted ends in the
/// state Stripe holds, even when each payload says something else.
#[tokio::test]
async fn every_order_of_subscription_events_ends_in_the_state_stripe_holds() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let cloud = start(&db, &stripe);
    let pool = db.pool().await;
    let (cus, sub, _) = stripe
        .subscriber("orders@example.com", "price_sos_pro")
        .await;
    let body = checkout_event(
        "evt_1SosOrders",
        "checkout.session.completed",
        "cs_orders",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    assert_eq!(deliver_signed(&cloud.url, &body).await.0, 200);
    // Stripe now holds: past due.
    stripe.fail_next_invoice(&cus, &sub).await;
    assert_eq!(stripe.subscription_status(&sub).await, "past_due");

    // Each payload claims a state of its own (stale by the time it lands).
    let kinds = [
        (
            "customer.subscription.created",
            json!({"id": sub, "object": "subscription", "status": "active"}),
        ),
        (
            "customer.subscription.updated",
            json!({"id": sub, "object": "subscription", "status": "trialing"}),
        ),
        (
            "invoice.paid",
            json!({"object": "invoice", "subscription": sub, "status": "paid"}),
        ),
        (
            "invoice.payment_failed",
            json!({"object": "invoice", "subscription": sub}),
        ),
        (
            "customer.subscription.deleted",
            json!({"id": sub, "object": "subscription", "status": "canceled"}),
        ),
    ];
    let mut orders = Vec::new();
    permutations(&mut (0..kinds.len()).collect::<Vec<_>>(), 0, &mut orders);
    assert_eq!(orders.len(), 120);
    let mut bodies = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        for &k in order {
            let (kind, object) = &kinds[k];
            bodies.push(
                json!({
                    "id": format!("evt_1SosOrder{n}x{k}"),
                    "object": "event",
                    "type": kind,
                    "created": now(),
                    "livemode": false,
                    "data": {"object": object},
                })
                .to_string(),
            );
        }
    }
    let headers = stripe_headers(&bodies, SECRET, now());
    let c = pool.get().await.unwrap();
    for (n, chunk) in bodies.chunks(kinds.len()).enumerate() {
        // Each order starts from a wrong state.
        c.execute(
            "UPDATE tenants SET status = 'trialing' WHERE stripe_subscription_id = $1",
            &[&sub],
        )
        .await
        .unwrap();
        for (i, body) in chunk.iter().enumerate() {
            let header = &headers[n * kinds.len() + i];
            assert_eq!(deliver(&cloud.url, body, Some(header)).await.0, 200);
        }
        assert_eq!(
            status_of(&pool, &sub).await,
            "past_due",
            "order {:?}",
            orders[n]
        );
    }
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 1);
}

fn permutations(items: &mut Vec<usize>, k: usize, out: &mut Vec<Vec<usize>>) {
    if k == items.len() {
        out.push(items.clone());
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permutations(items, k + 1, out);
        items.swap(k, i);
    }
}

/// Stripe retries a delivery the cloud is still working on (it waited too
/// long): the retry waits for the first and changes nothing; the event is
/// applied once.
#[tokio::test]
async fn a_retry_while_the_first_delivery_is_in_flight_applies_nothing_twice() {
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let (a, b) = (start(&db, &stripe), start(&db, &stripe));
    let pool = db.pool().await;
    let (cus, sub, _) = stripe.subscriber("slow@example.com", "price_sos_pro").await;
    let body = checkout_event(
        "evt_1SosInFlight",
        "checkout.session.completed",
        "cs_in_flight",
        &cus,
        &sub,
        "paid",
        metadata(),
    );
    let header = stripe_header(&body, SECRET, now());
    // Hold the subscription's lock as a slow first delivery would.
    let mut holder = pool.get().await.unwrap();
    let tx = holder.transaction().await.unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 5053))",
        &[&sub],
    )
    .await
    .unwrap();
    let first = {
        let (url, body, header) = (a.url.clone(), body.clone(), header.clone());
        tokio::spawn(async move { deliver(&url, &body, Some(&header)).await })
    };
    // The first is now inside its transaction, waiting on the lock.
    eventually(
        Duration::from_secs(10),
        "the first delivery in flight",
        || {
            let pool = pool.clone();
            async move {
                let c = pool.get().await.unwrap();
                let waiting: i64 = c
                    .query_one(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                waiting >= 1
            }
        },
    )
    .await;
    let retry = {
        let (url, body, header) = (b.url.clone(), body.clone(), header.clone());
        tokio::spawn(async move { deliver(&url, &body, Some(&header)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !retry.is_finished(),
        "the retry waits for the first delivery"
    );
    tx.rollback().await.unwrap();
    let (s1, first) = first.await.unwrap();
    let (s2, retried) = retry.await.unwrap();
    assert_eq!((s1, s2), (200, 200));
    assert!(
        first["outcome"]
            .as_str()
            .unwrap()
            .starts_with("provisioned"),
        "{first}"
    );
    assert!(
        retried.get("outcome").is_none(),
        "the retry applied nothing: {retried}"
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tenants").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM email_outbox").await, 1);
}
