//! End to end with real processes: `sos-cloud serve`, `sos-appliance
//! enroll`, `sos-appliance run`, and a patient checking in over HTTP.
//! The processes are started by `common::box_process` (see there for where
//! the `sos-appliance` binary comes from).

mod common;

use std::process::Command;
use std::time::Duration;

use cloud_server::admin;
use cloud_server::tenants::{self, TenantFields};
use cloud_sync::wire::Appointment;
use common::box_process::*;
use common::*;
use deadpool_postgres::Pool;

async fn practice(pool: &Pool) -> String {
    let t = tenants::create_tenant(
        pool,
        TenantFields {
            name: Some("Harbour Dental".into()),
            vertical: Some("dental".into()),
            settings: Some(serde_json::json!({"timezone": "UTC"})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    admin::put_appointments(
        pool,
        &t,
        &[Appointment {
            appointment_id: "appt-9".into(),
            patient_id: "pat-9".into(),
            first_name: "Maria".into(),
            last_name: "Lopez".into(),
            date_of_birth: "1979-09-30".into(),
            provider_id: "dr-kim".into(),
            provider_name: "Dr. Kim".into(),
            local_date: today(),
            starts_at: cloud_sync::auth::now_ms() + 1_800_000,
            kind: "Check-up".into(),
            notes: String::new(),
            cancelled: false,
        }],
    )
    .await
    .unwrap();
    t
}

/// A patient checks in on their phone; returns the HTTP status.
async fn phone_check_in(a: &Appliance, first: &str, last: &str, dob: &str) -> u16 {
    let c = http();
    let form = c
        .get(&a.checkin_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fields = [
        ("first_name", first.to_string()),
        ("last_name", last.to_string()),
        ("date_of_birth", dob.to_string()),
        ("form_token", form_token(&form).expect("form token")),
    ];
    c.post(&a.checkin_url)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn enrolled_box_process_serves_the_cloud_practice() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();

    let tok = token(&pool, &t).await;
    let out = enroll(dir.path(), &cloud.url, &tok);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Harbour Dental") && stdout.contains("1 appointment"),
        "{stdout}"
    );
    // A second use of the token (from another box) is refused in plain words.
    let other = tempfile::tempdir().unwrap();
    let out = enroll(other.path(), &cloud.url, &tok);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already used"), "{err}");

    let a = run_appliance(dir.path());
    let tv = http()
        .get(format!("{}/tv", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        tv.contains("Harbour Dental"),
        "the TV page shows the cloud's practice"
    );
    // The patient's typed date of birth matches the one the cloud sent
    // (hashed on arrival with the box key).
    assert_eq!(
        phone_check_in(&a, "Maria", "Lopez", "1979-09-30").await,
        303
    );
}

#[tokio::test]
async fn checkins_on_a_box_process_reach_the_cloud_once_and_config_comes_down() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    assert!(enroll(dir.path(), &cloud.url, &tok).status.success());
    let a = run_appliance(dir.path());

    maria_checks_in_and_reaches_the_cloud(&a, &pool, &t).await;
    // The check-in's own events (its audit entry goes up too, apart).
    let events = "SELECT count(*) FROM events WHERE tenant_id = $1 AND kind <> 'audit.entry'";

    // Restart the box: nothing is sent twice.
    drop(a);
    let a = run_appliance(dir.path());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&pool, events, &t).await, 2);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM checkins WHERE tenant_id = $1",
            &t
        )
        .await,
        1
    );

    // A change in the cloud shows on the TV page without a restart.
    tenants::update_tenant(
        &pool,
        &t,
        TenantFields {
            name: Some("Harbour Family Dental".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let url = format!("{}/tv", a.base);
    eventually(Duration::from_secs(5), "renamed on the TV page", || {
        let url = url.clone();
        async move {
            match http().get(&url).send().await {
                Ok(r) => r
                    .text()
                    .await
                    .unwrap_or_default()
                    .contains("Harbour Family Dental"),
                Err(_) => false,
            }
        }
    })
    .await;
}

#[tokio::test]
async fn box_process_syncs_with_a_cloud_serving_https() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = tls::private_ca(certs.path(), &["localhost", "127.0.0.1"]);

    // A certificate that does not fit its key: sos-cloud says so and stops.
    let out = Command::new(env!("CARGO_BIN_EXE_sos-cloud"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&ca)
        .arg("--tls-key")
        .arg(&key)
        .env("SOS_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot use the certificate"), "{err}");

    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let cloud = Cloud::start_with(
        &db,
        "127.0.0.1:0",
        &["--tls-cert", cert_s, "--tls-key", key_s],
    );
    let port = cloud
        .url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("not served over https: {}", cloud.url));
    let url = format!("https://localhost:{port}");
    let t = practice(&pool).await;
    let trust = [("SSL_CERT_FILE", ca.as_path())];

    // A box that does not trust the issuer refuses to talk, and says why.
    let tok = token(&pool, &t).await;
    let untrusting = tempfile::tempdir().unwrap();
    let out = enroll_in_env(untrusting.path(), &url, &tok, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // Plain HTTP to the HTTPS port gets nowhere either.
    let out = enroll_in_env(
        untrusting.path(),
        &format!("http://localhost:{port}"),
        &tok,
        &trust,
    );
    assert!(!out.status.success());
    // Neither attempt spent the token: the real box enrolls with it.
    let dir = tempfile::tempdir().unwrap();
    let out = enroll_in_env(dir.path(), &url, &tok, &trust);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The running box syncs over HTTPS: a phone check-in reaches the cloud.
    let a = run_appliance_in_env(dir.path(), &[], &trust);
    maria_checks_in_and_reaches_the_cloud(&a, &pool, &t).await;
}

/// Maria checks in on her phone; her arrival and its billing event reach
/// the cloud.
async fn maria_checks_in_and_reaches_the_cloud(a: &Appliance, pool: &Pool, t: &str) {
    assert_eq!(phone_check_in(a, "Maria", "Lopez", "1979-09-30").await, 303);
    // The check-in's own events (its audit entry goes up too, apart).
    let events = "SELECT count(*) FROM events WHERE tenant_id = $1 AND kind <> 'audit.entry'";
    eventually(
        Duration::from_secs(10),
        "arrival + billing in the cloud",
        || async { count(pool, events, t).await == 2 },
    )
    .await;
}
