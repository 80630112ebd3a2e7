//! `sos-cloud demo` (the whole system on one machine) against PostgreSQL
//! and a box in this process: run twice it is the same practice, its owner
//! and operator sign in with the printed logins, and a box enrolled with
//! its token gets today's twenty appointments and the front desk's PIN.

mod common;

use std::time::Duration;

use cloud_server::demo::{Logins, prepare};
use common::dashboard::*;
use common::in_process::*;
use common::*;

const LOGINS: Logins = Logins {
    owner_email: "owner@bright-smile.example",
    owner_password: "bright smile demo",
    operator_email: "ops@sos-edge.example",
    operator_password: "sos edge operator",
};

#[tokio::test]
async fn the_demo_practice_is_made_once_and_its_box_gets_the_day() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let first = prepare(&pool, &LOGINS, "Europe/London").await.unwrap();
    let again = prepare(&pool, &LOGINS, "Europe/London").await.unwrap();
    assert_eq!(
        first.tenant, again.tenant,
        "a second run finds the practice"
    );
    assert_ne!(first.token, again.token, "each run issues a fresh token");
    assert_eq!(again.appointments, 20);
    let c = pool.get().await.unwrap();
    let counts: (i64, i64, i64) = {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM tenants),
                        (SELECT count(*) FROM accounts WHERE role = 'operator'),
                        (SELECT count(*) FROM appointments WHERE tenant_id = $1)",
                &[&first.tenant],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(counts, (1, 1, 20), "nothing doubled");
    drop(c);

    let cloud = Cloud::start(&db);
    let url = &cloud.url;
    for (email, pw, page, shows) in [
        (
            LOGINS.owner_email,
            LOGINS.owner_password,
            "/",
            "Bright Smile Dental",
        ),
        (
            LOGINS.operator_email,
            LOGINS.operator_password,
            "/fleet",
            "Bright Smile Dental",
        ),
    ] {
        let b = browser();
        let r = sign_in(&b, url, email, pw).await;
        assert_eq!(r.status(), 303, "{email} signs in");
        let (status, html) = get(&b, &format!("{url}{page}")).await;
        assert_eq!(status, 200, "{email} on {page}");
        assert!(html.contains(shows), "{html}");
    }

    let dir = tempfile::tempdir().unwrap();
    let report = appliance::sync::enroll_box(dir.path(), url, &again.token, "Lobby box")
        .await
        .unwrap();
    assert_eq!(report.practice_name, "Bright Smile Dental");
    assert_eq!(report.appointments, 20);
    let the_box = start_box(dir.path());
    let clinic = std::sync::Arc::clone(&the_box.clinic);
    eventually(
        Duration::from_secs(20),
        "the desk PIN reached the box",
        || {
            let clinic = std::sync::Arc::clone(&clinic);
            async move {
                let t = clinic.tenant_id();
                clinic
                    .store
                    .read(move |c| appliance::store::list_staff(c, &t))
                    .await
                    .is_ok_and(|staff| staff.iter().any(|s| s.staff_id == "desk"))
            }
        },
    )
    .await;
    let practice = the_box.clinic.core.practice();
    assert!(practice.config.branding.logo_svg.contains("<svg"));
    assert_eq!(practice.config.settings.timezone, "Europe/London");
    the_box.stop().await;
}
