//! Fault test: while a generator makes check-ins on a box, the cloud is
//! killed with SIGKILL and restarted, a proxy between box and cloud drops
//! connections mid-response (the cloud committed, the box never heard), and
//! the box's sync is killed mid-request and restarted. At the end every
//! event is in the cloud exactly once, applied in order per box, and every
//! check-in's final status matches the box.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::checkin::{self, Outcome, PatientDetails};
use appliance::clinic::Clinic;
use appliance::store::{self, CheckinStatus, Method};
use appliance::sync::{self, Credential, SyncOptions};
use common::chaos::{ChaosProxy, Rng, name, seed};
use common::*;
use tokio::sync::watch;

const CHECKINS: usize = 3000;

fn opts() -> SyncOptions {
    SyncOptions {
        batch_size: 200,
        wait_secs: 2,
        idle_poll: Duration::from_millis(20),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(300),
        revoked_retry: Duration::from_millis(300),
        report_every: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_arrives_exactly_once_and_in_order_despite_faults() {
    let started = Instant::now();
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let mut cloud = Cloud::start(&db);
    let cloud_addr = cloud.url.trim_start_matches("http://").to_string();
    let t = cloud_server::tenants::create_tenant(
        &pool,
        cloud_server::tenants::TenantFields {
            name: Some("Chaos Dental".into()),
            settings: Some(serde_json::json!({"timezone": "UTC", "allow_walk_ins": true})),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The box talks to the cloud through the proxy.
    let proxy = ChaosProxy::start(&cloud_addr, seed()).await;
    let proxy_url = proxy.url.clone();

    let dir = tempfile::tempdir().unwrap();
    // Enrollment itself may hit a dropped connection: retry with new tokens.
    let mut enrolled = false;
    for _ in 0..10 {
        let tok = token(&pool, &t).await;
        if sync::enroll_box(dir.path(), &proxy_url, &tok, "chaos")
            .await
            .is_ok()
        {
            enrolled = true;
            break;
        }
        // A half-done enrollment leaves a key but no cloud.json: start over.
        let _ = std::fs::remove_file(dir.path().join("cloud.json"));
    }
    assert!(enrolled, "could not enroll through the proxy");

    let (_stop_tx, stop_rx) = watch::channel(false);
    let clinic: Arc<Clinic> = Clinic::open(
        dir.path(),
        "http://127.0.0.1:9".into(),
        appliance::web::limits::RateLimits::new(1_000_000),
        stop_rx,
    )
    .unwrap();
    let start_engine = |clinic: &Arc<Clinic>| {
        let cred = Credential::load(dir.path()).unwrap().unwrap();
        sync::spawn_with(Arc::clone(clinic), cred, opts()).unwrap()
    };
    let mut engine = start_engine(&clinic);

    // The generator: walk-ins, and a status change for every fifth.
    let generator = {
        let clinic = Arc::clone(&clinic);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..CHECKINS {
                let out = checkin::by_patient(
                    &clinic,
                    PatientDetails {
                        first_name: name(i),
                        last_name: "Chaos".into(),
                        date_of_birth: "1990-02-03".into(),
                        walk_in: true,
                    },
                    Method::Desk,
                    "generator".into(),
                )
                .await
                .unwrap();
                let Outcome::CheckedIn { checkin: row, .. } = out else {
                    panic!("generator check-in {i} refused: {out:?}");
                };
                if i % 5 == 0 {
                    ids.push(row.checkin_id.clone());
                    checkin::set_status(
                        &clinic,
                        &row.checkin_id,
                        CheckinStatus::Called,
                        Some("Room 1".into()),
                        "generator".into(),
                    )
                    .await
                    .unwrap();
                }
                if i % 10 == 0 {
                    checkin::set_status(
                        &clinic,
                        &row.checkin_id,
                        CheckinStatus::Seen,
                        None,
                        "generator".into(),
                    )
                    .await
                    .unwrap();
                }
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            ids
        })
    };

    // Faults until the generator is done.
    let mut rng = Rng(seed());
    let (mut cloud_kills, mut box_kills) = (0, 0);
    while !generator.is_finished() {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(300))).await;
        match rng.below(3) {
            0 => {
                cloud.kill();
                cloud_kills += 1;
                tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
                cloud = Cloud::start_on(&db, &cloud_addr);
            }
            1 => {
                engine.abort();
                let _ = (&mut engine).await;
                box_kills += 1;
                engine = start_engine(&clinic);
            }
            _ => {}
        }
    }
    let called_ids = generator.await.unwrap();
    proxy.set_chaos(false);

    // Everything drains once the faults stop.
    let total: i64 = clinic
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?))
        .await
        .unwrap();
    // Arrival + billing per check-in, one event per status change, and an
    // audit entry for each arrival and each change.
    let changes = CHECKINS / 5 + CHECKINS / 10;
    let expected = (2 * CHECKINS + changes + CHECKINS + changes) as i64;
    assert_eq!(total, expected);
    eventually(
        Duration::from_secs(60),
        "all events in the cloud",
        || async {
            count(
                &pool,
                "SELECT count(*) FROM events WHERE tenant_id = $1",
                &t,
            )
            .await
                == expected
        },
    )
    .await;
    let c2 = Arc::clone(&clinic);
    eventually(Duration::from_secs(20), "outbox drained", || {
        let c2 = Arc::clone(&c2);
        async move { sync::status(&c2).await.events_waiting == 0 }
    })
    .await;

    // Exactly once: the same event ids on both sides, nothing extra.
    let box_ids: Vec<String> = clinic
        .store
        .read(|c| {
            let mut s = c.prepare("SELECT event_id FROM outbox ORDER BY seq")?;
            let rows = s.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    let c = pool.get().await.unwrap();
    let cloud_rows = c
        .query(
            "SELECT event_id::text, seq FROM events WHERE tenant_id = $1 ORDER BY received_at, seq",
            &[&t],
        )
        .await
        .unwrap();
    let mut cloud_ids: Vec<String> = cloud_rows.iter().map(|r| r.get(0)).collect();
    let seqs: Vec<i64> = cloud_rows.iter().map(|r| r.get(1)).collect();
    // In order: applied in the box's outbox order.
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "events applied out of order"
    );
    cloud_ids.sort();
    let mut sorted_box = box_ids.clone();
    sorted_box.sort();
    assert_eq!(cloud_ids, sorted_box);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM checkins WHERE tenant_id = $1",
            &t
        )
        .await,
        CHECKINS as i64
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM billing_events WHERE tenant_id = $1",
            &t
        )
        .await,
        CHECKINS as i64
    );
    // Final statuses agree with the box.
    let tenant = t.clone();
    let day = clinic.practice().today();
    let box_rows = clinic
        .store
        .read(move |c| store::checkins_for_day(c, &tenant, &day))
        .await
        .unwrap();
    for r in box_rows
        .iter()
        .filter(|r| called_ids.contains(&r.checkin_id))
    {
        let st: String = c
            .query_one(
                "SELECT status FROM checkins WHERE tenant_id = $1 AND checkin_id = $2",
                &[&t, &r.checkin_id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(st, r.status.as_str(), "check-in status differs");
    }
    println!(
        "fault test: {expected} events, {cloud_kills} cloud kills, {box_kills} box sync kills, {} dropped connections, {:?}",
        proxy.drops(),
        started.elapsed()
    );
    assert!(cloud_kills + box_kills > 0, "no fault was injected");
    engine.abort();
    clinic.store.close();
}
