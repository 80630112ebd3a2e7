//! The export against a real `sos-cloud serve` and PostgreSQL: a cancelled
//! practice's owner downloads everything as a ZIP that an independent
//! reader (Python's `zipfile`) accepts, with the schedule, the check-ins
//! and the audit log in it, and nothing of another practice.

mod common;

use std::io::Read;

use cloud_sync::wire::Appointment;
use common::dashboard::*;
use common::*;

const PW: &str = "correct horse battery";

fn appointment(id: &str, first: &str, last: &str) -> Appointment {
    Appointment {
        appointment_id: id.into(),
        patient_id: format!("p-{id}"),
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: "1980-01-01".into(),
        provider_id: "dr-lee".into(),
        provider_name: "Dr. Lee".into(),
        local_date: today(),
        starts_at: cloud_sync::auth::now_ms(),
        kind: "Check-up".into(),
        notes: "Prefers mornings, \"quoted\", with a comma".into(),
        cancelled: false,
    }
}

#[tokio::test]
async fn a_cancelled_practice_downloads_all_of_its_data_and_no_one_elses() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    let (other, _) = owner_with_password(&pool, "Beta Vet", "owner@beta.example", PW).await;
    emails_already_sent(&pool).await;
    cloud_server::admin::put_appointments(
        &pool,
        &tenant,
        &[
            appointment("a1", "Sarah", "Jones"),
            appointment("a2", "Omar", "Haddad"),
        ],
    )
    .await
    .unwrap();
    cloud_server::admin::put_appointments(
        &pool,
        &other,
        &[appointment("b1", "Zelda", "Elsewhere")],
    )
    .await
    .unwrap();
    let cloud = Cloud::start(&db);
    let dev = device(&pool, &cloud.client(), &tenant).await;
    cloud
        .client()
        .push_events(&dev, &[arrived(1, "c-1"), status(2, "c-1", "called")])
        .await
        .unwrap();
    // Plans gate features, never data.
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE tenants SET status = 'cancelled' WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap();

    let b = browser();
    sign_in(&b, &cloud.url, "owner@alpha.example", PW).await;
    let (_, home) = get(&b, &format!("{}/", cloud.url)).await;
    assert!(home.contains("Download everything (ZIP)"), "{home}");
    let r = b
        .get(format!("{}/export.zip", cloud.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"sos-edge-alpha-dental-"),
        "{disposition}"
    );
    let bytes = r.bytes().await.unwrap();

    // An independent reader checks every entry's CRC.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.zip");
    std::fs::write(&path, &bytes).unwrap();
    let check = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-t"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "python3 zipfile -t: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = cloud_server::dashboard::export::FILES
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(["practice.json".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    let mut read = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let practice: serde_json::Value = serde_json::from_str(&read("practice.json")).unwrap();
    assert_eq!(practice["name"], "Alpha Dental");
    assert_eq!(practice["status"], "cancelled");
    let appointments = read("appointments.csv");
    assert!(appointments.starts_with("appointment_id,patient_id,first_name"));
    assert!(appointments.contains("Sarah,Jones") && appointments.contains("Omar,Haddad"));
    assert!(
        appointments.contains("\"Prefers mornings, \"\"quoted\"\", with a comma\""),
        "CSV quoting: {appointments}"
    );
    let checkins = read("checkins.csv");
    assert_eq!(
        checkins.lines().count(),
        2,
        "a header and one check-in: {checkins}"
    );
    assert!(checkins.contains("c-1") && checkins.contains("called"));
    assert!(read("events.csv").lines().count() >= 3);
    assert!(read("audit_log.csv").contains("export.downloaded"));
    assert!(read("accounts.csv").contains("owner@alpha.example"));
    assert!(read("boxes.csv").contains(&dev.device_id));
    let everything: String = expected.iter().map(|n| read(n)).collect();
    for foreign in ["Zelda", "Beta Vet", "owner@beta.example", other.as_str()] {
        assert!(
            !everything.contains(foreign),
            "another practice's {foreign}"
        );
    }

    // Owners only.
    staff_with_password(&pool, &tenant, "a-staff", "staff@alpha.example", PW).await;
    let staff = browser();
    sign_in(&staff, &cloud.url, "staff@alpha.example", PW).await;
    let (status, _) = get(&staff, &format!("{}/export.zip", cloud.url)).await;
    assert_eq!(status, 403);
}
