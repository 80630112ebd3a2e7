//! An operator's "log in as" against a real `sos-cloud serve` and
//! PostgreSQL: it takes a reason, shows a banner on every page, lets the
//! operator act as the owner with every change audited under the
//! operator's own name, and ends by a click, by signing out, or by itself;
//! then in headless Chromium on a phone, by keyboard.

mod common;

use common::dashboard::*;
use common::*;

const PW: &str = "correct horse battery";

/// The practice's audit entries as "actor action subject", oldest first.
async fn log(pool: &deadpool_postgres::Pool, tenant: &str) -> Vec<String> {
    pool.get()
        .await
        .unwrap()
        .query(
            "SELECT actor || ' ' || action || ' ' || subject FROM audit_log
             WHERE tenant_id = $1 AND action NOT LIKE 'account.%' ORDER BY id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn an_operator_logs_in_as_a_practice_for_a_while_and_it_is_all_audited() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    cloud_server::accounts::add_operator(&pool, "ops@sos.example", PW)
        .await
        .unwrap();
    emails_already_sent(&pool).await;
    let cloud = Cloud::start(&db);
    let url = &cloud.url;
    let before = log(&pool, &tenant).await;

    let ops = browser();
    sign_in(&ops, url, "ops@sos.example", PW).await;
    let (status, fleet) = get(&ops, &format!("{url}/fleet")).await;
    assert_eq!(status, 200);
    assert!(
        fleet.contains(&format!("/fleet/log-in-as?tenant={tenant}")),
        "the fleet links each practice: {fleet}"
    );
    let (status, confirm) = get(&ops, &format!("{url}/fleet/log-in-as?tenant={tenant}")).await;
    assert_eq!(status, 200, "{confirm}");
    assert!(confirm.contains("Log in as Alpha Dental") && confirm.contains("30 minutes"));
    let csrf = csrf_of(&confirm).unwrap();

    // No reason, an unknown practice: refused, nothing starts.
    let (status, html) = post(
        &ops,
        &format!("{url}/fleet/log-in-as"),
        &[("csrf", &csrf), ("tenant", &tenant), ("reason", "  ")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("Say why"), "{html}");
    let (status, _) = post(
        &ops,
        &format!("{url}/fleet/log-in-as"),
        &[("csrf", &csrf), ("tenant", "t_nobody"), ("reason", "T-1")],
    )
    .await;
    assert_eq!(status, 404);
    let (_, still_fleet) = get(&ops, &format!("{url}/")).await;
    assert!(!still_fleet.contains("You are logged in as"));
    assert_eq!(log(&pool, &tenant).await, before, "nothing was audited");
    // Not without this session's CSRF token.
    let (status, _) = post(
        &ops,
        &format!("{url}/fleet/log-in-as"),
        &[("csrf", "forged"), ("tenant", &tenant), ("reason", "T-1")],
    )
    .await;
    assert_eq!(status, 403);

    // Started: the practice's pages, with the banner on each.
    let r = ops
        .post(format!("{url}/fleet/log-in-as"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("tenant", tenant.as_str()),
            ("reason", "ticket 4411: greeting"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/"));
    for path in ["/", "/practice", "/team", "/audit", "/boxes", "/checkins"] {
        let (status, html) = get(&ops, &format!("{url}{path}")).await;
        assert_eq!(status, 200, "{path}: {html}");
        assert!(
            html.contains("You are logged in as <strong>Alpha Dental</strong>"),
            "{path} shows the banner: {html}"
        );
    }
    // The owner's powers, under the operator's name.
    let (status, html) = post(
        &ops,
        &format!("{url}/team/invite"),
        &[("csrf", &csrf), ("email", "new.staff@alpha.example")],
    )
    .await;
    assert!(status == 200 || status == 303, "{status} {html}");
    let entries = log(&pool, &tenant).await;
    assert_eq!(
        entries[before.len()..],
        [
            "operator ops@sos.example operator.log_in_as.started ticket 4411: greeting",
            "operator ops@sos.example staff.invited new.staff@alpha.example",
        ],
    );
    // The owner reads it on the audit page with where it came from.
    let owner = browser();
    sign_in(&owner, url, "owner@alpha.example", PW).await;
    let (_, audit) = get(&owner, &format!("{url}/audit")).await;
    assert!(
        audit.contains("operator ops@sos.example") && audit.contains("ticket 4411"),
        "{audit}"
    );
    assert!(
        !audit.contains("You are logged in as"),
        "the banner is the operator's"
    );

    // Stopped: back to the fleet, the practice's pages send it there again.
    let r = ops
        .post(format!("{url}/log-in-as/stop"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/fleet")
    );
    let r = ops.get(format!("{url}/practice")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/fleet")
    );
    let (status, _) = post(
        &ops,
        &format!("{url}/team/invite"),
        &[("csrf", &csrf), ("email", "second@alpha.example")],
    )
    .await;
    assert_eq!(
        status, 403,
        "an operator changes nothing without logging in as"
    );
    assert_eq!(
        log(&pool, &tenant).await.last().unwrap(),
        "operator ops@sos.example operator.log_in_as.ended stopped"
    );

    // It ends by itself: its time passes, the next page is the fleet.
    post(
        &ops,
        &format!("{url}/fleet/log-in-as"),
        &[("csrf", &csrf), ("tenant", &tenant), ("reason", "T-2")],
    )
    .await;
    let (_, html) = get(&ops, &format!("{url}/")).await;
    assert!(html.contains("You are logged in as"));
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE sessions SET acting_until = now() - interval '1 second'
             WHERE acting_tenant = $1",
            &[&tenant],
        )
        .await
        .unwrap();
    let r = ops.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/fleet")
    );
    let (status, fleet) = get(&ops, &format!("{url}/fleet")).await;
    assert_eq!(status, 200, "the operator is still signed in");
    assert!(!fleet.contains("You are logged in as"));
    assert_eq!(
        log(&pool, &tenant).await.last().unwrap(),
        "operator ops@sos.example operator.log_in_as.ended expired"
    );

    // Signing out ends it too, in the practice's log.
    post(
        &ops,
        &format!("{url}/fleet/log-in-as"),
        &[("csrf", &csrf), ("tenant", &tenant), ("reason", "T-3")],
    )
    .await;
    post(&ops, &format!("{url}/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(
        log(&pool, &tenant).await.last().unwrap(),
        "operator ops@sos.example operator.log_in_as.ended signed out"
    );
    let live: i64 = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM sessions WHERE acting_tenant IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 0);
}

#[tokio::test]
async fn an_operator_logs_in_as_a_practice_by_keyboard_on_a_phone_in_chromium() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    cloud_server::accounts::add_operator(&pool, "ops@sos.example", PW)
        .await
        .unwrap();
    emails_already_sent(&pool).await;
    let cloud = Cloud::start(&db);
    in_chromium(
        "cloud-log-in-as.mjs",
        &[&cloud.url, "ops@sos.example", PW, "owner@alpha.example"],
    )
    .await;
    let entries = log(&pool, &tenant).await;
    let by_operator: Vec<&String> = entries
        .iter()
        .filter(|e| e.starts_with("operator ops@sos.example"))
        .collect();
    assert_eq!(by_operator.len(), 3, "{entries:?}");
    assert!(by_operator[1].contains("tenant.updated"), "{entries:?}");
}
