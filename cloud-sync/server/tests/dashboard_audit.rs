//! The audit log page and its CSV against a real `sos-cloud serve`,
//! PostgreSQL: the cloud's own entries with where they came from, a box's
//! entry arriving as a signed event,
//! filters, pages of 100, a CSV streamed in batches that a spreadsheet
//! cannot turn into formulas, and owner-only access.

mod common;

use common::dashboard::*;
use common::*;

const PW: &str = "correct horse battery";

async fn many(pool: &deadpool_postgres::Pool, tenant: &str, n: i64, action: &str) {
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO audit_log (tenant_id, actor, action, subject)
             SELECT $1, 'seed', $3, 'n' || g FROM generate_series(1, $2::bigint) g",
            &[&tenant, &n, &action],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_owner_reads_filters_and_downloads_the_audit_log() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    let (other, _) = owner_with_password(&pool, "Beta Vet", "owner@beta.example", PW).await;
    emails_already_sent(&pool).await;
    staff_with_password(&pool, &tenant, "a-staff", "staff@alpha.example", PW).await;
    many(&pool, &other, 5, "other.practice").await;
    let cloud = Cloud::start(&db);
    let url = &cloud.url;
    let b = browser();
    sign_in(&b, url, "owner@alpha.example", PW).await;

    // A box's audit entry, sent as boxes send events (a signed batch).
    let dev = device(&pool, &cloud.client(), &tenant).await;
    cloud
        .client()
        .push_events(
            &dev,
            &[cloud_sync::wire::Event {
                event_id: uuid(),
                seq: 1,
                kind: "audit.entry".into(),
                payload: serde_json::json!({
                    "actor": "staff:s-1", "action": "checkin.arrived",
                    "subject": "c-1", "at": cloud_sync::auth::now_ms(),
                }),
                created_at: 1,
            }],
        )
        .await
        .unwrap();
    let (status, html) = get(&b, &format!("{url}/audit?action=checkin.")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("checkin.arrived") && html.contains("box: test box"),
        "from the box: {html}"
    );
    assert!(!html.contains("account.signed_in"), "filtered: {html}");
    let (_, html) = get(&b, &format!("{url}/audit?action=account.")).await;
    assert!(
        html.contains("account.signed_in") && html.contains("127.0.0.1"),
        "{html}"
    );
    assert!(
        !html.contains("other.practice"),
        "another practice's: {html}"
    );
    let (_, html) = get(&b, &format!("{url}/audit?actor=OWNER@alpha")).await;
    assert!(html.contains("owner@alpha.example") && !html.contains("checkin.arrived"));

    // Pages of 100, newest first, with a link to older ones.
    many(&pool, &tenant, 150, "seed.entry").await;
    let (_, html) = get(&b, &format!("{url}/audit?action=seed.")).await;
    assert_eq!(html.matches("seed.entry").count(), 100);
    assert!(html.contains(">n150<"), "newest first");
    let older = html
        .split("href=\"")
        .find(|s| s.contains("before="))
        .and_then(|s| s.split('"').next())
        .expect("a link to older entries")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    let (_, html) = get(&b, &format!("{url}{older}")).await;
    assert_eq!(html.matches("seed.entry").count(), 50, "{html}");
    assert!(!html.contains("audit-older"), "the last page");

    // The CSV: every matching entry, streamed in batches, formulas quoted.
    many(&pool, &tenant, 4500, "bulk.entry").await;
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO audit_log (tenant_id, actor, action, subject) VALUES ($1, '=HYPERLINK(\"x\")', 'bulk.entry', 'evil')",
            &[&tenant],
        )
        .await
        .unwrap();
    let r = b
        .get(format!("{url}/audit.csv?action=bulk."))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,at,who,action,subject,ip,user_agent");
    assert_eq!(lines.len(), 1 + 4501, "every entry once");
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "{}",
        lines[1]
    );
    let ids: std::collections::HashSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 4501, "no entry twice across batches");

    // Bad filters, and owners only.
    let (status, html) = get(&b, &format!("{url}/audit?from=2026-12-08&to=2026-12-01")).await;
    assert_eq!(status, 422, "{html}");
    let (status, _) = get(&b, &format!("{url}/audit.csv?from=someday")).await;
    assert_eq!(status, 422);
    let staff = browser();
    sign_in(&staff, url, "staff@alpha.example", PW).await;
    for path in ["/audit", "/audit.csv"] {
        let (status, _) = get(&staff, &format!("{url}{path}")).await;
        assert_eq!(status, 403, "{path}");
    }
    in_chromium(
        "cloud-pages.mjs",
        &[url, "owner@alpha.example", PW, "audit=/audit"],
    )
    .await;
}
