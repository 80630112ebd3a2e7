//! The whole system as `scripts/demo.sh --with-cloud` runs it, in headless
//! Chromium: `sos-cloud serve` on PostgreSQL with the demo practice
//! (`sos-cloud demo`'s own function), a real `sos-appliance run` process
//! enrolled to it, its lobby TV paired from its desk. The owner changes
//! the greeting and uploads a logo in the dashboard; the box's TV page
//! shows the logo and the practice; a patient checks in on a phone and
//! the TV welcomes her; the dashboard's check-ins page lists her.

mod common;

use cloud_server::demo::{Logins, prepare};
use common::box_process::*;
use common::dashboard::*;
use common::*;

#[tokio::test]
async fn an_owners_change_reaches_the_lobby_tv_and_a_phone_check_in_reaches_the_owner() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let logins = Logins {
        owner_email: "owner@bright-smile.example",
        owner_password: "bright smile demo",
        operator_email: "ops@sos-edge.example",
        operator_password: "sos edge operator",
    };
    let demo = prepare(&pool, &logins, "UTC").await.unwrap();
    emails_already_sent(&pool).await;
    let cloud = Cloud::start(&db);
    let dir = tempfile::tempdir().unwrap();
    let enrolled = enroll(dir.path(), &cloud.url, &demo.token);
    assert!(enrolled.status.success(), "{enrolled:?}");
    let the_box = run_appliance(dir.path());
    let logo = dir.path().join("new-logo.jpg");
    image::RgbImage::from_fn(400, 400, |x, y| {
        image::Rgb([(x % 200) as u8 + 40, 30, (y % 200) as u8 + 40])
    })
    .save(&logo)
    .unwrap();
    in_chromium(
        "whole-system.mjs",
        &[
            &cloud.url,
            &the_box.base,
            &the_box.checkin_url,
            logins.owner_email,
            logins.owner_password,
            cloud_sync::demo::STAFF_PIN,
            logo.to_str().unwrap(),
        ],
    )
    .await;
    // The check-in reached the cloud once, and the owner's change is the
    // practice's audit entry.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM checkins WHERE tenant_id = $1",
            &demo.tenant
        )
        .await,
        1
    );
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.updated'
               AND actor = 'owner@bright-smile.example'",
            &demo.tenant
        )
        .await
            >= 2,
        "the greeting and the logo, each audited"
    );
}
