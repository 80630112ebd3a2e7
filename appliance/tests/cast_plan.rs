//! Casting follows the plan live: a remembered TV is cast to while the
//! plan includes Cast, paused (not forgotten) when the practice's plan
//! stops including it, and cast to again when it does. No Cast peer is
//! needed for this: the remembered TV's address answers nothing, so the
//! session keeps retrying while it is wanted, which is what is observed.

mod common;

use std::time::Duration;

use appliance::cast::{self, CastConfig};
use appliance::store::{self, CastTarget};

async fn set_plan(clinic: &appliance::clinic::Clinic, plan: &str) {
    let mut tenant = clinic
        .store
        .read(store::load_tenant)
        .await
        .unwrap()
        .unwrap();
    tenant.plan = plan.into();
    clinic
        .store
        .write(move |txn| store::upsert_tenant(txn, &tenant))
        .await
        .unwrap();
    clinic.core.reload_practice().await.unwrap();
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn casting_pauses_and_resumes_with_the_plan() {
    let p = common::clinic::demo_practice_with(|_| Vec::new()).await;
    let clinic = &p.clinic;
    set_plan(clinic, "starter").await;
    let tenant = clinic.tenant_id();
    // A TV staff chose earlier, at an address where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let target = CastTarget {
        device_id: "tv-lobby".into(),
        name: "Lobby TV".into(),
        model: "Chromecast".into(),
        host: "127.0.0.1".into(),
        port,
        app_id: "CC1AD845".into(),
        display_id: None,
        chosen_by: "staff:desk".into(),
        chosen_at: 1,
    };
    let (t2, tenant2) = (target.clone(), tenant.clone());
    clinic
        .store
        .write(move |txn| store::save_cast_target(txn, &tenant2, &t2))
        .await
        .unwrap();
    let config = CastConfig {
        app_id: "CC1AD845".into(),
        base_url: Some("http://127.0.0.1:1".into()),
        http_port: 1,
        takeover_delay: Duration::from_secs(1),
        backoff_max: Duration::from_secs(1),
        timing: Default::default(),
    };
    let svc = cast::start(&clinic.core, &clinic.cast, config, None)
        .await
        .unwrap();
    // Starter has no Cast: the remembered TV is not cast to at start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        svc.status_of("tv-lobby").is_none(),
        "cast on a plan without Cast"
    );

    set_plan(clinic, "pro").await;
    until("casting once the plan includes it", || {
        svc.status_of("tv-lobby").is_some()
    })
    .await;

    set_plan(clinic, "starter").await;
    until("casting paused with the plan", || {
        svc.status_of("tv-lobby").is_none()
    })
    .await;
    // Paused, not forgotten.
    let tenant3 = tenant.clone();
    let remembered = clinic
        .store
        .read(move |c| store::cast_targets(c, &tenant3))
        .await
        .unwrap();
    assert_eq!(remembered.len(), 1);

    set_plan(clinic, "pro").await;
    until("casting again", || svc.status_of("tv-lobby").is_some()).await;
}
