//! Benchmarks (ignored by default; they print figures):
//!
//! ```text
//! cargo build --release -p sos-cloud
//! SOS_CLOUD_BIN=target/release/sos-cloud \
//!   cargo test -p sos-cloud --test bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `SOS_BENCH_BOXES` and `SOS_BENCH_SECS` size the steady-state run.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::clinic::Clinic;
use appliance::store;
use appliance::sync::{self, Credential, SyncOptions};
use cloud_sync::events::{BoxEvent, CheckinProcessed, Method};
use cloud_sync::wire::Event;
use common::*;
use tokio::sync::watch;

/// Cloud ingest: several devices push 1000-event batches concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_cloud_ingest_events_per_second() {
    const DEVICES: usize = 4;
    const BATCHES: usize = 25;
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Bench").await;
    let mut work = Vec::new();
    for d in 0..DEVICES {
        let dev = device(&pool, &client, &t).await;
        // Prepared up front: the clock measures the cloud, not the JSON.
        let batches: Vec<Vec<Event>> = (0..BATCHES)
            .map(|b| {
                (0..1000)
                    .map(|i| {
                        let seq = (b * 1000 + i + 1) as i64;
                        let cid = format!("d{d}-c{seq}");
                        if i % 2 == 0 {
                            arrived(seq, &cid)
                        } else {
                            billing(seq, &cid)
                        }
                    })
                    .collect()
            })
            .collect();
        work.push((dev, batches));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (dev, batches) in work {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for b in batches {
                let r = client.push_events(&dev, &b).await.unwrap();
                assert_eq!(r.applied, b.len());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let n = (DEVICES * BATCHES * 1000) as f64;
    println!(
        "cloud ingest: {n} events in {secs:.2} s = {:.0} events/s ({DEVICES} devices, batches of 1000)",
        n / secs
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM events WHERE tenant_id = $1",
            &t
        )
        .await,
        n as i64
    );
}

/// A box drains a 10,000-event backlog over loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_box_drains_a_10k_backlog() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let t = cloud_server::tenants::create_tenant(
        &pool,
        cloud_server::tenants::TenantFields {
            name: Some("Backlog Dental".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tok = token(&pool, &t).await;
    sync::enroll_box(dir.path(), &cloud.url, &tok, "bench")
        .await
        .unwrap();
    let (_stop, stop_rx) = watch::channel(false);
    let clinic: Arc<Clinic> = Clinic::open(
        dir.path(),
        "http://127.0.0.1:9".into(),
        appliance::web::limits::RateLimits::new(1000),
        stop_rx,
    )
    .unwrap();
    let tenant = t.clone();
    clinic
        .store
        .write(move |txn| {
            for i in 0..10_000 {
                store::enqueue_event(
                    txn,
                    &tenant,
                    &BoxEvent::CheckinProcessed(CheckinProcessed {
                        checkin_id: format!("c{i}"),
                        method: Method::Qr,
                        at: i,
                    }),
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let cred = Credential::load(dir.path()).unwrap().unwrap();
    let started = Instant::now();
    let engine = sync::spawn_with(
        Arc::clone(&clinic),
        cred,
        SyncOptions {
            batch_size: 1000,
            ..Default::default()
        },
    )
    .unwrap();
    let c = Arc::clone(&clinic);
    eventually(Duration::from_secs(120), "backlog drained", || {
        let c = Arc::clone(&c);
        async move { sync::status(&c).await.events_waiting == 0 }
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    println!("box backlog: 10000 events drained in {secs:.2} s");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM events WHERE tenant_id = $1",
            &t
        )
        .await,
        10_000
    );
    engine.abort();
    clinic.store.close();
}

/// Steady state: N simulated boxes (default 10,000; `SOS_BENCH_BOXES`),
/// each syncing every 10 s for `SOS_BENCH_SECS` (default 30 s) against one
/// `sos-cloud`. A sync is a signed config check plus, on every
/// `SOS_BENCH_PUSH_EVERY`-th sync (default 1: every sync), a signed
/// one-event push: a box pushes only when it has events, and a busy
/// practice makes a few per minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_steady_state_simulated_boxes() {
    use cloud_sync::DeviceKey;
    use cloud_sync::client::Device;

    let boxes: usize = std::env::var("SOS_BENCH_BOXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let secs: u64 = std::env::var("SOS_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let push_every: u64 = std::env::var("SOS_BENCH_PUSH_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let db = TestDb::create().await;
    let pool = db.pool().await;
    // Each push is a synchronous commit: more connections let PostgreSQL
    // flush more commits with one fsync (group commit).
    let cloud = Cloud::start_with(&db, "127.0.0.1:0", &["--pool-size", "32"]);
    let client = cloud.client();
    let t = tenant(&pool, "Fleet").await;

    // Devices registered directly (enrollment is measured elsewhere).
    let keys: Vec<DeviceKey> = (0..boxes).map(|_| DeviceKey::generate().unwrap()).collect();
    let ids: Vec<String> = (0..boxes).map(|i| format!("d-sim-{i}")).collect();
    let pks: Vec<Vec<u8>> = keys.iter().map(|k| k.public_key_bytes().to_vec()).collect();
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO devices (device_id, tenant_id, public_key)
             SELECT d, $1, k FROM unnest($2::text[], $3::bytea[]) AS x(d, k)",
            &[&t, &ids, &pks],
        )
        .await
        .unwrap();
    let version = client
        .config(
            &Device {
                device_id: ids[0].clone(),
                key: DeviceKey::from_seed(&keys[0].to_seed()).unwrap(),
            },
            0,
            0,
        )
        .await
        .unwrap()
        .config_version;

    let ok = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::with_capacity(boxes);
    for (i, (id, key)) in ids.into_iter().zip(keys).enumerate() {
        let (client, ok, failed, latencies) = (
            client.clone(),
            Arc::clone(&ok),
            Arc::clone(&failed),
            Arc::clone(&latencies),
        );
        tasks.push(tokio::spawn(async move {
            let dev = Device { device_id: id, key };
            // Spread the fleet over the 10 s period.
            let offset = Duration::from_micros((i as u64 * 10_000_000) / boxes as u64);
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + offset,
                Duration::from_secs(10),
            );
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut seq, mut pushes) = (0u64, 0i64);
            loop {
                tick.tick().await;
                if tokio::time::Instant::now() >= deadline {
                    return;
                }
                seq += 1;
                let started = Instant::now();
                let c = client.config(&dev, version, 0).await;
                // Offset per box so the pushes are spread like the checks.
                let pushed = if (seq + i as u64).is_multiple_of(push_every) {
                    pushes += 1;
                    let event = arrived(pushes, &format!("{}-{pushes}", dev.device_id));
                    client.push_events(&dev, &[event]).await.map(|_| ())
                } else {
                    Ok(())
                };
                if c.is_ok() && pushed.is_ok() {
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let ms = started.elapsed().as_millis() as u32;
                    if let Ok(mut l) = latencies.lock() {
                        l.push(ms);
                    }
                } else {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ok = ok.load(std::sync::atomic::Ordering::Relaxed);
    let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let expected = boxes as u64 * secs / 10;
    println!(
        "steady state: {boxes} boxes, one sync (config check, + 1-event push on every {push_every}. sync) per 10 s for {secs} s: \
         {ok} syncs ok of ~{expected} due, {failed} failed, {:.0} syncs/s, latency p50 {} ms p99 {} ms",
        ok as f64 / secs as f64,
        pct(0.5),
        pct(0.99)
    );
    assert_eq!(failed, 0);
}
