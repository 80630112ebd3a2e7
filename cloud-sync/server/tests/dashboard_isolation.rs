//! Tenant isolation on every dashboard route, against a real `sos-cloud
//! serve` and PostgreSQL.
//!
//! The routes come from the dashboard's own route table (the builder that
//! makes the router makes the table), so a route added later is walked
//! without editing this test. Each is called with no session, as another
//! practice's owner, as a staff member, as an operator and as an operator
//! logged in as the other practice, each with their own valid CSRF token (so what is tested is who they are, not a missing
//! token) and a form that would do harm if it were accepted. A foreign
//! object is 404, a forbidden action 403, nothing of practice A changes, and
//! no page shows practice A to someone outside it.

mod common;

use axum::http::Method;
use cloud_server::dashboard::route_table;
use cloud_server::dashboard::routes::{Access, RouteInfo};
use common::dashboard::*;
use common::*;

const PW: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Nobody,
    OtherOwner,
    Staff,
    Operator,
    /// An operator logged in as practice B: B's owner, for A's routes.
    OperatorAsB,
}

/// Everything of practice A a change could touch, as text.
async fn snapshot(pool: &deadpool_postgres::Pool, tenant: &str) -> Vec<String> {
    let client = pool.get().await.unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT row_to_json(t)::text FROM tenants t WHERE tenant_id = $1",
        "SELECT row_to_json(a)::text FROM accounts a WHERE tenant_id = $1 ORDER BY account_id",
        "SELECT row_to_json(d)::text FROM devices d WHERE tenant_id = $1 ORDER BY device_id",
        "SELECT row_to_json(p)::text FROM provisioning_tokens p WHERE tenant_id = $1 ORDER BY token_hash",
        "SELECT row_to_json(e)::text FROM email_outbox e WHERE tenant_id = $1 ORDER BY email_id",
        "SELECT row_to_json(l)::text FROM audit_log l WHERE tenant_id = $1 ORDER BY id",
        "SELECT s.account_id || ' ' || coalesce(s.ended_at::text, 'live')
           FROM sessions s JOIN accounts a USING (account_id) WHERE a.tenant_id = $1
           ORDER BY s.created_at, s.token_hash",
        "SELECT row_to_json(l)::text FROM password_links l JOIN accounts a USING (account_id)
           WHERE a.tenant_id = $1 ORDER BY l.created_at",
    ] {
        for row in client.query(sql, &[&tenant]).await.unwrap() {
            out.push(row.get::<_, String>(0));
        }
    }
    out
}

/// The path with its `{param}`s filled with practice A's objects.
fn concrete(route: &RouteInfo, objects: &[(&str, &str)]) -> String {
    let mut path = route.path.to_string();
    while let Some(open) = path.find('{') {
        let close = path[open..].find('}').map(|c| open + c).unwrap();
        let name = &path[open + 1..close];
        let value = objects
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| {
                panic!(
                    "{} {} has a {{{name}}}: add one of practice A's objects for it to this test",
                    route.method, route.path
                )
            });
        path.replace_range(open..=close, value);
    }
    path
}

/// What `caller` must get from `route` (with practice A's objects in it).
/// `None`: the caller may use it (on their own account or practice), and
/// only "practice A unchanged and unseen" is checked.
fn expected(route: &RouteInfo, caller: Caller) -> Option<u16> {
    let page = route.method == Method::GET;
    let foreign_object = route.path.contains('{');
    match (route.access, caller) {
        (Access::Anyone, _) => None,
        (_, Caller::Nobody) => Some(if page { 303 } else { 401 }),
        // Signing oneself out is everyone's; it is walked last.
        (Access::Yourself, _) => None,
        (Access::Operator, Caller::Operator | Caller::OperatorAsB) => None,
        (Access::Operator, _) => Some(403),
        // A practice's page sends an operator to the fleet; a change is
        // refused (operators change a practice only by logging in as it).
        (_, Caller::Operator) => Some(if page { 303 } else { 403 }),
        (_, Caller::OtherOwner | Caller::OperatorAsB) if foreign_object => Some(404),
        (_, Caller::OtherOwner | Caller::OperatorAsB) => None,
        (Access::Owner, Caller::Staff) => Some(403),
        (Access::Member, Caller::Staff) => None,
    }
}

#[tokio::test]
async fn every_route_keeps_each_practice_to_itself() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant_a, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    let (tenant_b, _) = owner_with_password(&pool, "Beta Vet", "owner@beta.example", PW).await;
    staff_with_password(&pool, &tenant_a, "a-staff-alpha", "staff@alpha.example", PW).await;
    staff_with_password(
        &pool,
        &tenant_a,
        "a-staff-alpha-2",
        "second@alpha.example",
        PW,
    )
    .await;
    cloud_server::accounts::add_operator(&pool, "ops@sos.example", PW)
        .await
        .unwrap();
    cloud_server::accounts::add_operator(&pool, "support@sos.example", PW)
        .await
        .unwrap();
    emails_already_sent(&pool).await;

    let cloud = Cloud::start(&db);
    let url = &cloud.url;
    let box_a = device(&pool, &cloud.client(), &tenant_a).await;
    // Practice A's objects a path can name.
    let objects = [
        ("account", "a-staff-alpha-2"),
        ("device", box_a.device_id.as_str()),
    ];
    let mut callers = Vec::new();
    for (caller, email, landing) in [
        (Caller::Nobody, None, None),
        (Caller::OtherOwner, Some("owner@beta.example"), Some("/")),
        (Caller::Staff, Some("staff@alpha.example"), Some("/")),
        (Caller::Operator, Some("ops@sos.example"), Some("/fleet")),
        (
            Caller::OperatorAsB,
            Some("support@sos.example"),
            Some("/fleet"),
        ),
    ] {
        let b = browser();
        let mut csrf = String::new();
        if let (Some(email), Some(landing)) = (email, landing) {
            let r = sign_in(&b, url, email, PW).await;
            assert_eq!(r.status(), 303, "{email} signs in");
            let (status, html) = get(&b, &format!("{url}{landing}")).await;
            assert_eq!(status, 200, "{email} on {landing}: {html}");
            csrf = csrf_of(&html).expect("a csrf token");
            if caller == Caller::OperatorAsB {
                let r = b
                    .post(format!("{url}/fleet/log-in-as"))
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("tenant", tenant_b.as_str()),
                        ("reason", "isolation test"),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/"));
                let (_, home) = get(&b, &format!("{url}/")).await;
                assert!(home.contains("You are logged in as"), "{home}");
            }
            if caller == Caller::Operator {
                assert!(
                    html.contains("Alpha Dental") && html.contains("Beta Vet"),
                    "the fleet lists every practice: {html}"
                );
            }
        }
        callers.push((caller, b, csrf));
    }

    let table = route_table();
    assert!(
        table.len() >= 10,
        "the route table lists the dashboard's routes: {table:?}"
    );
    // Signing out ends the caller's own session (staff's is practice A's):
    // those routes are walked after the snapshot is compared.
    let (yourself, others): (Vec<_>, Vec<_>) =
        table.iter().partition(|r| r.access == Access::Yourself);
    let before = snapshot(&pool, &tenant_a).await;
    let mut walked = 0;
    for (i, route) in others.iter().chain(yourself.iter()).enumerate() {
        if i == others.len() {
            let after = snapshot(&pool, &tenant_a).await;
            assert_eq!(
                before, after,
                "practice A changed while others walked its routes"
            );
        }
        let path = concrete(route, &objects);
        for (caller, b, csrf) in &callers {
            let target = format!("{url}{path}");
            let response = if route.method == Method::GET {
                b.get(&target).send().await.unwrap()
            } else {
                b.post(&target)
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("confirm", "yes"),
                        ("email", "intruder@evil.example"),
                        ("password", "intruder password 1"),
                        ("confirm_password", "intruder password 1"),
                        ("name", "Taken Over"),
                    ])
                    .send()
                    .await
                    .unwrap()
            };
            let status = response.status().as_u16();
            let to = location(&response);
            let body = response.text().await.unwrap();
            let what = format!("{caller:?} {} {path}", route.method);
            assert!(status < 500, "{what}: {status} {body}");
            match expected(route, *caller) {
                Some(303) => {
                    let want = if *caller == Caller::Nobody {
                        "/login"
                    } else {
                        "/fleet"
                    };
                    assert_eq!((status, to.as_str()), (303, want), "{what}: {body}");
                }
                Some(want) => assert_eq!(status, want, "{what}: {body}"),
                None => {}
            }
            // Staff belong to A; the fleet lists every practice to operators.
            let may_see_a = *caller == Caller::Staff
                || (matches!(caller, Caller::Operator | Caller::OperatorAsB)
                    && route.access == Access::Operator);
            if !may_see_a {
                for secret in ["Alpha Dental", "alpha.example"] {
                    assert!(
                        !body.contains(secret),
                        "{what} shows practice A ({secret}): {body}"
                    );
                }
            }
            walked += 1;
        }
    }
    assert_eq!(walked, table.len() * callers.len());
    assert!(!yourself.is_empty(), "signing out is in the table");
}
