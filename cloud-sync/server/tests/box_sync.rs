//! The box's sync (appliance `sync` module) against the real `sos-cloud`
//! on a real PostgreSQL: enrollment, config down (with the date of birth
//! hashed on arrival), check-ins up exactly once, offline and back, cloud
//! restart, revocation shown on the box.

mod common;

use std::sync::Arc;
use std::time::Duration;

use appliance::checkin::{self, Outcome, PatientDetails};
use appliance::clinic::Clinic;
use appliance::store::{CheckinStatus, Method};
use appliance::sync::{self, Credential};
use cloud_server::admin;
use cloud_server::tenants::{self, TenantFields};
use common::in_process::*;
use common::*;
use tokio::sync::watch;

/// The check-in events (each change on the box is also an `audit.entry`,
/// counted apart).
const EVENTS_SQL: &str =
    "SELECT count(*) FROM events WHERE tenant_id = $1 AND kind <> 'audit.entry'";
const CHECKINS_SQL: &str = "SELECT count(*) FROM checkins WHERE tenant_id = $1";
const BILLING_SQL: &str = "SELECT count(*) FROM billing_events WHERE tenant_id = $1";

fn pin_matches(pin: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(pin.as_bytes(), &h)
            .is_ok()
    })
}

#[tokio::test]
async fn box_enrolls_pulls_config_and_sends_checkins_exactly_once() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();

    admin::set_staff(&pool, &t, "desk", "Front desk", "2468")
        .await
        .unwrap();

    // Enroll: the credential is stored privately, the config is in the replica.
    let tok = token(&pool, &t).await;
    let report = sync::enroll_box(dir.path(), &cloud.url, &tok, "front desk")
        .await
        .unwrap();
    assert_eq!(report.tenant_id, t);
    assert_eq!(report.practice_name, "Bright Smile Dental");
    assert_eq!(report.appointments, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("device.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The token is spent.
    let again = sync::enroll_box(dir.path(), &cloud.url, &tok, "again").await;
    assert!(again.is_err());
    // The date of birth never reached the disk in clear.
    let db_bytes = std::fs::read(dir.path().join("sos-edge.db")).unwrap();
    let needle = b"1985-04-12";
    assert!(
        !db_bytes.windows(needle.len()).any(|w| w == needle),
        "raw date of birth stored on the box"
    );

    let b = start_box(dir.path());
    assert_eq!(b.clinic.practice().config.name, "Bright Smile Dental");
    assert_eq!(b.clinic.practice().config.plan, "pro");
    // The staff PIN came down as a hash the box can check.
    let tenant = t.clone();
    let staff = b
        .clinic
        .store
        .read(move |c| appliance::store::list_staff(c, &tenant))
        .await
        .unwrap();
    assert_eq!(staff.len(), 1);
    assert!(pin_matches("2468", &staff[0].secret_hash));
    assert!(!pin_matches("1357", &staff[0].secret_hash));

    // A patient checks in with the name and date of birth the cloud sent:
    // the hashed date matches.
    let out = checkin::by_patient(
        &b.clinic,
        PatientDetails {
            first_name: "sarah".into(),
            last_name: "JONES".into(),
            date_of_birth: "1985-04-12".into(),
            walk_in: false,
        },
        Method::Qr,
        "test".into(),
    )
    .await
    .unwrap();
    let Outcome::CheckedIn { checkin: row, .. } = out else {
        panic!("expected a check-in, got {out:?}");
    };
    assert_eq!(row.appointment_id.as_deref(), Some("appt-1"));
    checkin::set_status(
        &b.clinic,
        &row.checkin_id,
        CheckinStatus::Called,
        Some("Room 1".into()),
        "test".into(),
    )
    .await
    .unwrap();

    // Up: arrived + billing + status, exactly once.
    eventually(Duration::from_secs(10), "3 events in the cloud", || async {
        count(&pool, EVENTS_SQL, &t).await == 3
    })
    .await;
    eventually(Duration::from_secs(5), "outbox drained", || async {
        sync::status(&b.clinic).await.events_waiting == 0
    })
    .await;
    let c = pool.get().await.unwrap();
    let r = c
        .query_one(
            "SELECT status, room, appointment_id, method FROM checkins WHERE tenant_id = $1",
            &[&t],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "called");
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("Room 1"));
    assert_eq!(r.get::<_, Option<String>>(2).as_deref(), Some("appt-1"));
    assert_eq!(count(&pool, BILLING_SQL, &t).await, 1);
    // The box's audit entries, in the practice's audit log: who, what,
    // which check-in; the box's own detail (the room) stays on the box.
    let audit: Vec<(String, String, String)> = c
        .query(
            "SELECT actor, action, subject FROM audit_log
             WHERE tenant_id = $1 AND detail ? 'box' ORDER BY at, id",
            &[&t],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let id = row.checkin_id.clone();
    assert_eq!(
        audit,
        [
            (
                "test".to_string(),
                "checkin.arrived".to_string(),
                id.clone()
            ),
            ("test".to_string(), "checkin.called".to_string(), id),
        ],
        "the cloud's own changes (config, PIN) are not echoed back"
    );
    // No name and no date of birth went up.
    let payloads: Vec<String> = c
        .query(
            "SELECT payload::text FROM events WHERE tenant_id = $1",
            &[&t],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for p in &payloads {
        assert!(
            // The date of birth, not four digits a timestamp may hold.
            !p.contains("Sarah") && !p.contains("Jones") && !p.contains("1985-04-12"),
            "{p}"
        );
    }

    let state = sync::status(&b.clinic).await;
    assert!(
        state.enrolled && state.online && !state.revoked,
        "{state:?}"
    );
    assert!(state.last_success_at.is_some());

    // The box dies after the cloud acknowledged but before marking sent:
    // everything is sent again, and the cloud applies nothing twice.
    b.clinic
        .store
        .write(|txn| {
            txn.execute("UPDATE outbox SET sent_at = NULL", [])?;
            Ok(())
        })
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "resent and drained", || async {
        sync::status(&b.clinic).await.events_waiting == 0
    })
    .await;
    assert_eq!(count(&pool, EVENTS_SQL, &t).await, 3);
    assert_eq!(count(&pool, CHECKINS_SQL, &t).await, 1);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND detail ? 'box'",
            &t
        )
        .await,
        2,
        "audit entries sent again are recorded once"
    );

    // Down: a config change in the cloud reaches the running box within
    // seconds, without a restart.
    tenants::update_tenant(
        &pool,
        &t,
        TenantFields {
            name: Some("Bright Smile Family Dental".into()),
            agent_name: Some("Dandan".into()),
            branding: Some(serde_json::json!({"primary_color": "#aa0000"})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let clinic = Arc::clone(&b.clinic);
    eventually(Duration::from_secs(5), "renamed on the box", || {
        let clinic = Arc::clone(&clinic);
        async move { clinic.practice().config.name == "Bright Smile Family Dental" }
    })
    .await;
    assert_eq!(b.clinic.practice().config.branding.primary_color, "#aa0000");
    b.stop().await;
}

#[tokio::test]
async fn box_works_offline_and_catches_up_after_a_cloud_restart() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let mut cloud = Cloud::start(&db);
    let addr = cloud.url.trim_start_matches("http://").to_string();
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    sync::enroll_box(dir.path(), &cloud.url, &tok, "box")
        .await
        .unwrap();
    let b = start_box(dir.path());
    walk_in(&b.clinic, "First").await;
    eventually(Duration::from_secs(10), "first check-in up", || async {
        count(&pool, CHECKINS_SQL, &t).await == 1
    })
    .await;

    // The cloud goes away; the box keeps checking people in.
    cloud.kill();
    let names = [
        "Amy", "Ben", "Cara", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jill", "Kai", "Lea",
        "Mo", "Nia", "Oto", "Pia", "Quin", "Rae", "Sol", "Tia",
    ];
    for n in names {
        walk_in(&b.clinic, n).await;
    }
    let clinic = Arc::clone(&b.clinic);
    eventually(Duration::from_secs(10), "box reports offline", || {
        let clinic = Arc::clone(&clinic);
        async move {
            let s = sync::status(&clinic).await;
            // 20 walk-ins: arrival, billing and audit entry each.
            !s.online && s.events_waiting == 60 && s.last_error.is_some()
        }
    })
    .await;

    // The cloud comes back on the same address: everything arrives once.
    let cloud = Cloud::start_on(&db, &addr);
    eventually(Duration::from_secs(15), "backlog delivered", || async {
        count(&pool, CHECKINS_SQL, &t).await == 21
    })
    .await;
    eventually(Duration::from_secs(5), "box back online", || {
        let clinic = Arc::clone(&clinic);
        async move {
            let s = sync::status(&clinic).await;
            s.online && s.events_waiting == 0
        }
    })
    .await;
    assert_eq!(count(&pool, EVENTS_SQL, &t).await, 42);
    assert_eq!(count(&pool, BILLING_SQL, &t).await, 21);
    // In outbox order: the cloud's seq order is the box's arrival order.
    let c = pool.get().await.unwrap();
    let seqs: Vec<i64> = c
        .query(
            "SELECT seq FROM events WHERE tenant_id = $1 ORDER BY received_at, seq",
            &[&t],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(seqs, sorted, "events were applied out of order");

    // Revoked in the cloud: the box says so and keeps its events.
    let cred = Credential::load(dir.path()).unwrap().unwrap();
    assert!(
        admin::revoke_device(&pool, &cred.link.device_id)
            .await
            .unwrap()
    );
    walk_in(&b.clinic, "Late").await;
    eventually(Duration::from_secs(10), "box shows revoked", || {
        let clinic = Arc::clone(&clinic);
        async move {
            let s = sync::status(&clinic).await;
            s.revoked && !s.online && s.events_waiting == 3
        }
    })
    .await;
    assert_eq!(count(&pool, CHECKINS_SQL, &t).await, 21);
    drop(cloud);
    b.stop().await;
}

/// Restarted while the cloud is away, the box says which config it serves
/// (the one stored in its replica), not "none".
#[tokio::test]
async fn a_box_restarted_while_the_cloud_is_away_reports_the_config_it_serves() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let mut cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    sync::enroll_box(dir.path(), &cloud.url, &tok, "box")
        .await
        .unwrap();
    let b = start_box(dir.path());
    let clinic = Arc::clone(&b.clinic);
    eventually(Duration::from_secs(10), "config pulled", || {
        let clinic = Arc::clone(&clinic);
        async move {
            let s = sync::status(&clinic).await;
            s.online && s.config_version.is_some()
        }
    })
    .await;
    let serving = sync::status(&clinic).await.config_version;
    b.stop().await;

    cloud.kill();
    let b = start_box(dir.path());
    assert_eq!(sync::status(&b.clinic).await.config_version, serving);
    let clinic = Arc::clone(&b.clinic);
    eventually(Duration::from_secs(10), "box reports offline", || {
        let clinic = Arc::clone(&clinic);
        async move {
            let s = sync::status(&clinic).await;
            !s.online && s.last_error.is_some()
        }
    })
    .await;
    assert_eq!(sync::status(&clinic).await.config_version, serving);
    b.stop().await;
}

#[tokio::test]
async fn box_enrolls_at_first_start_from_a_provisioning_file() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;

    // The flashing tool left a provisioning file.
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    std::fs::write(
        dir.path().join("provision.json"),
        serde_json::json!({"cloud_url": cloud.url, "token": tok, "device_name": "lobby"})
            .to_string(),
    )
    .unwrap();
    let r = sync::prepare_at_start(dir.path(), Duration::from_secs(10))
        .await
        .unwrap()
        .expect("enrolled");
    assert_eq!((r.tenant_id.as_str(), r.appointments), (t.as_str(), 1));
    assert!(
        !dir.path().join("provision.json").exists(),
        "used token left on disk"
    );
    // Next start: nothing to do, the box serves its practice.
    assert_eq!(
        sync::prepare_at_start(dir.path(), Duration::from_secs(1))
            .await
            .unwrap(),
        None
    );
    let b = start_box(dir.path());
    assert_eq!(b.clinic.practice().config.name, "Bright Smile Dental");
    b.stop().await;

    // Enrolled, but the first download never happened (power cut): done at
    // the next start.
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    sync::enroll(dir.path(), &cloud.url, &tok, "cut")
        .await
        .unwrap();
    let r = sync::prepare_at_start(dir.path(), Duration::from_secs(10))
        .await
        .unwrap()
        .expect("config pulled");
    assert_eq!(r.practice_name, "Bright Smile Dental");

    // A spent token in the file is a clear error.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("provision.json"),
        serde_json::json!({"cloud_url": cloud.url, "token": tok}).to_string(),
    )
    .unwrap();
    let e = sync::prepare_at_start(dir.path(), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already used"), "{e}");
}

/// The power goes at the worst moment of a first boot: the cloud has spent
/// the token on the box's key, and the box never wrote down the answer.
/// The next start presents the same token with the same key and is the same
/// device, once; a second box with that token is still refused.
#[tokio::test]
async fn first_boot_cut_after_the_cloud_answered_resumes_the_same_enrollment() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    const DEVICES_SQL: &str = "SELECT count(*) FROM devices WHERE tenant_id = $1";

    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    // What `sync::enroll` does before it asks: the key on disk...
    let key = cloud_sync::DeviceKey::generate().unwrap();
    std::fs::write(dir.path().join(sync::KEY_FILE), key.to_seed()).unwrap();
    // ... then the cloud spends the token, and the answer is lost.
    let lost = cloud.client().enroll(&tok, &key, "lobby").await.unwrap();
    assert!(!dir.path().join(sync::CLOUD_FILE).exists());

    std::fs::write(
        dir.path().join("provision.json"),
        serde_json::json!({"cloud_url": cloud.url, "token": tok, "device_name": "lobby"})
            .to_string(),
    )
    .unwrap();
    let r = sync::prepare_at_start(dir.path(), Duration::from_secs(10))
        .await
        .unwrap()
        .expect("enrolled");
    assert_eq!(r.device_id, lost.device_id, "a second device was made");
    assert_eq!((r.tenant_id.as_str(), r.appointments), (t.as_str(), 1));
    assert_eq!(count(&pool, DEVICES_SQL, &t).await, 1);
    assert!(!dir.path().join("provision.json").exists());
    // The resumed credential signs: the box serves and syncs as that device.
    let cred = Credential::load(dir.path()).unwrap().expect("credential");
    assert_eq!(cred.link.device_id, lost.device_id);

    // Another box with the spent token: refused, nothing made.
    let other = tempfile::tempdir().unwrap();
    let e = sync::enroll_box(other.path(), &cloud.url, &tok, "thief")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already used"), "{e}");
    assert_eq!(count(&pool, DEVICES_SQL, &t).await, 1);

    // A lost answer, then the installer uses a new token: a new device, and
    // the box holds the one it can sign for.
    let dir = tempfile::tempdir().unwrap();
    let key = cloud_sync::DeviceKey::generate().unwrap();
    std::fs::write(dir.path().join(sync::KEY_FILE), key.to_seed()).unwrap();
    let first = cloud
        .client()
        .enroll(&token(&pool, &t).await, &key, "lost")
        .await
        .unwrap();
    let r = sync::enroll_box(dir.path(), &cloud.url, &token(&pool, &t).await, "new")
        .await
        .unwrap();
    assert_ne!(r.device_id, first.device_id);
    let cred = Credential::load(dir.path()).unwrap().expect("credential");
    assert_ne!(cred.device.key.to_seed(), key.to_seed());
    assert_eq!(count(&pool, DEVICES_SQL, &t).await, 3);
}

/// What the daemon does once `sync::spawn` is wired into `serve()`: the web
/// server and the sync engine on one clinic. A patient checks in over HTTP
/// on their phone; the check-in reaches the cloud once; a rename in the
/// cloud shows on the lobby TV page.
#[tokio::test]
async fn phone_checkin_on_a_serving_box_reaches_the_cloud() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    sync::enroll_box(dir.path(), &cloud.url, &tok, "web")
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stop_rx) = watch::channel(false);
    let clinic = Clinic::open(
        dir.path(),
        base.clone(),
        appliance::web::limits::RateLimits::new(1000),
        stop_rx,
    )
    .unwrap();
    let engine = sync::spawn(Arc::clone(&clinic), dir.path())
        .unwrap()
        .expect("enrolled box syncs");
    let mut stop_rx2 = stop.subscribe();
    let server = tokio::spawn(appliance::web::server::serve(
        listener,
        Arc::clone(&clinic),
        None,
        async move {
            let _ = stop_rx2.changed().await;
        },
    ));

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{base}{}", appliance::checkin::link::path(&clinic.key, &t));
    let form = http.get(&url).send().await.unwrap().text().await.unwrap();
    let marker = "name=\"form_token\" value=\"";
    let start = form.find(marker).expect("form token") + marker.len();
    let end = form[start..].find('"').unwrap() + start;
    let r = http
        .post(&url)
        .form(&[
            ("first_name", "Sarah"),
            ("last_name", "Jones"),
            ("date_of_birth", "1985-04-12"),
            ("form_token", &form[start..end]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    eventually(Duration::from_secs(10), "check-in in the cloud", || async {
        count(&pool, CHECKINS_SQL, &t).await == 1 && count(&pool, EVENTS_SQL, &t).await == 2
    })
    .await;
    let health = common::box_process::get_json(&format!("{base}/healthz")).await;
    assert_eq!(health["status"], "ready");

    tenants::update_tenant(
        &pool,
        &t,
        TenantFields {
            name: Some("Bright Smile Downtown".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let tv = format!("{base}/tv");
    eventually(Duration::from_secs(5), "renamed on the TV page", || {
        let (http, tv) = (http.clone(), tv.clone());
        async move {
            match http.get(&tv).send().await {
                Ok(r) => r
                    .text()
                    .await
                    .unwrap_or_default()
                    .contains("Bright Smile Downtown"),
                Err(_) => false,
            }
        }
    })
    .await;
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), engine).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

/// Signs in at the box's desk with `pin`; true when the box let us in.
async fn desk_sign_in(http: &reqwest::Client, base: &str, pin: &str) -> bool {
    let r = http
        .post(format!("{base}/desk/login"))
        .form(&[("pin", pin), ("next", "/desk")])
        .send()
        .await
        .unwrap();
    r.status() == reqwest::StatusCode::SEE_OTHER
}

#[tokio::test]
async fn staff_removed_in_the_cloud_are_removed_from_the_box_and_signed_out() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    admin::set_staff(&pool, &t, "desk", "Front desk", "2468")
        .await
        .unwrap();
    admin::set_staff(&pool, &t, "temp", "Temp nurse", "1357")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    sync::enroll_box(dir.path(), &cloud.url, &tok, "desk")
        .await
        .unwrap();

    let b = start_box(dir.path());
    // A PIN set on the box itself (the technician's) is the box's own.
    let tenant = t.clone();
    let hash = appliance::desk::auth::hash_secret("9090").unwrap();
    b.clinic
        .store
        .write(move |txn| {
            appliance::desk::auth::save_staff_secret(txn, &tenant, "tech", "Technician", hash)
        })
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let web = tokio::spawn(appliance::web::server::serve(
        listener,
        Arc::clone(&b.clinic),
        None,
        std::future::pending(),
    ));

    let temp = common::box_process::http();
    assert!(desk_sign_in(&temp, &base, "1357").await, "temp signs in");
    let today = format!("{base}/desk/api/today");
    assert_eq!(temp.get(&today).send().await.unwrap().status(), 200);

    // The owner removes the temp nurse in the cloud.
    let v = admin::remove_staff(&pool, &t, "temp").await.unwrap();
    assert!(v > 0);
    // Removing someone who is not there is a clear error and bumps nothing.
    let err = admin::remove_staff(&pool, &t, "temp").await.unwrap_err();
    assert!(err.to_string().contains("no staff member temp"), "{err}");

    let tenant = t.clone();
    let clinic = Arc::clone(&b.clinic);
    eventually(Duration::from_secs(10), "temp removed on the box", || {
        let (clinic, tenant) = (Arc::clone(&clinic), tenant.clone());
        async move {
            let staff = clinic
                .store
                .read(move |c| appliance::store::list_staff(c, &tenant))
                .await
                .unwrap();
            !staff.iter().any(|s| s.staff_id == "temp")
        }
    })
    .await;
    // Their open session is over, and their PIN no longer opens the desk.
    assert_eq!(temp.get(&today).send().await.unwrap().status(), 401);
    assert!(!desk_sign_in(&common::box_process::http(), &base, "1357").await);
    // Everyone else still signs in: the cloud's desk PIN and the box's own.
    assert!(desk_sign_in(&common::box_process::http(), &base, "2468").await);
    assert!(desk_sign_in(&common::box_process::http(), &base, "9090").await);
    let tenant = t.clone();
    let audit = b
        .clinic
        .store
        .read(move |c| appliance::store::recent_audit(c, &tenant, 50))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "staff.removed" && a.subject == "temp"),
        "{audit:?}"
    );
    web.abort();
    b.stop().await;
}
