//! Benchmark of the owners' dashboard (ignored by default; it prints
//! figures). It seeds its own data: 1,000 practices and 10 million
//! check-ins, one of them busy (200 a day for two years, with its
//! schedule), then times the busy practice's check-ins page (today and a
//! day a year ago, each with its 30-day charts), the operators' fleet, and
//! the export of the busy practice with the server's memory watched.
//!
//! ```text
//! cargo build --release -p sos-cloud
//! SOS_CLOUD_BIN=target/release/sos-cloud \
//!   cargo test --release -p sos-cloud --test bench_dashboard -- --ignored --nocapture
//! ```
//!
//! `SOS_BENCH_CHECKINS` (default 10,000,000) and `SOS_BENCH_REQUESTS`
//! (default 200 per page) size it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::dashboard::*;
use common::*;

const PW: &str = "correct horse battery";
const TENANTS: i64 = 1000;
const BUSY_PER_DAY: i64 = 200;
const BUSY_DAYS: i64 = 730;

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[i - 1]
}

async fn time_page(c: &reqwest::Client, url: &str, n: i64) -> (Duration, Duration, Duration) {
    let (status, body) = get(c, url).await;
    assert_eq!(status, 200, "{url}: {body}");
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t = Instant::now();
        let r = c.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
    )
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_dashboard_pages_and_export() {
    let total = env_or("SOS_BENCH_CHECKINS", 10_000_000);
    let requests = env_or("SOS_BENCH_REQUESTS", 200);
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (busy, _) = owner_with_password(&pool, "Busy Dental", "owner@busy.example", PW).await;
    cloud_server::accounts::add_operator(&pool, "ops@sos.example", PW)
        .await
        .unwrap();
    let c = pool.get().await.unwrap();
    let seeding = Instant::now();
    // The other practices, each with a box that reported.
    c.batch_execute(&format!(
        "INSERT INTO tenants (tenant_id, name, vertical, agent_name, agent_voice, plan, status)
         SELECT 't-bench-' || g, 'Practice ' || g, 'dental', 'Dandan', 'en_US-joe-medium',
                'pro', 'active'
         FROM generate_series(2, {TENANTS}) g;
         INSERT INTO devices (device_id, tenant_id, public_key, name, last_seen_at, report, reported_at)
         SELECT 'd-bench-' || tenant_id, tenant_id, sha256(tenant_id::bytea), 'box',
                now() - (random() * interval '20 minutes'),
                jsonb_build_object('software_version', '0.1.' || (random() * 3)::int,
                                   'events_waiting', (random() * 5)::int),
                now()
         FROM tenants;"
    ))
    .await
    .unwrap();
    // The busy practice: its schedule and one check-in per appointment.
    let busy_rows = BUSY_PER_DAY * BUSY_DAYS;
    c.execute(
        "INSERT INTO appointments (tenant_id, appointment_id, patient_id, first_name, last_name,
                                   date_of_birth, provider_id, provider_name, local_date, starts_at,
                                   kind, notes)
         SELECT $1, 'a' || g, 'p' || (g % 5000), 'First' || (g % 300), 'Last' || (g % 700),
                date '1980-01-01' + (g % 9000)::int, 'dr-' || (g % 4), 'Dr. ' || (g % 4),
                current_date - (g / $2::bigint)::int, (extract(epoch FROM current_date - (g / $2::bigint)::int) * 1000)::bigint
                  + (g % $2::bigint) * 150000 + 8 * 3600000,
                'Check-up', ''
         FROM generate_series(0, $3::bigint - 1) g",
        &[&busy, &BUSY_PER_DAY, &busy_rows],
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO checkins (tenant_id, checkin_id, device_id, appointment_id, patient_id,
                               walk_in, method, local_date, ticket, status, room,
                               arrived_at, called_at, seen_at)
         SELECT tenant_id, 'c' || appointment_id, 'd-busy', appointment_id, patient_id, false, 'qr',
                local_date::text, 1, 'seen', 'Room 1',
                starts_at - 300000, starts_at + (random() * 1200000)::bigint,
                starts_at + 1800000
         FROM appointments WHERE tenant_id = $1 AND random() < 0.95",
        &[&busy],
    )
    .await
    .unwrap();
    // Everyone else's check-ins, spread over the other practices and days.
    let rest = (total - busy_rows).max(0);
    let mut done = 0;
    while done < rest {
        let n = (rest - done).min(1_000_000);
        c.execute(
            "INSERT INTO checkins (tenant_id, checkin_id, device_id, walk_in, method, local_date,
                                   ticket, status, arrived_at, called_at, seen_at)
             SELECT 't-bench-' || (2 + g % ($3::bigint - 1)), 'c' || g, 'd', true, 'qr',
                    (current_date - (g % 730)::int)::text, g % 100, 'seen',
                    1700000000000 + g, 1700000600000 + g, 1700001800000 + g
             FROM generate_series($1::bigint, $1::bigint + $2 - 1) g",
            &[&done, &n, &TENANTS],
        )
        .await
        .unwrap();
        done += n;
    }
    c.batch_execute("ANALYZE").await.unwrap();
    let count: i64 = c
        .query_one("SELECT count(*) FROM checkins", &[])
        .await
        .unwrap()
        .get(0);
    let busy_count: i64 = c
        .query_one(
            "SELECT count(*) FROM checkins WHERE tenant_id = $1",
            &[&busy],
        )
        .await
        .unwrap()
        .get(0);
    drop(c);
    println!(
        "seeded {TENANTS} practices, {count} check-ins ({busy_count} for the busy one) in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );

    let cloud = Cloud::start_with(&db, "127.0.0.1:0", &["--pool-size", "8"]);
    let owner = browser();
    sign_in(&owner, &cloud.url, "owner@busy.example", PW).await;
    let ops = browser();
    sign_in(&ops, &cloud.url, "ops@sos.example", PW).await;
    let anon = browser();
    let year_ago = date_of(cloud_sync::auth::now_ms() - 365 * 86_400_000);
    println!(
        "page                                  p50       p95       p99   ({requests} requests each)"
    );
    for (what, client, path) in [
        (
            "reference: /login (no database)",
            &anon,
            "/login".to_string(),
        ),
        (
            "check-ins today + 30-day charts",
            &owner,
            "/checkins".to_string(),
        ),
        (
            "check-ins a year ago + charts",
            &owner,
            format!("/checkins?day={year_ago}"),
        ),
        ("fleet (1,000 practices)", &ops, "/fleet".to_string()),
    ] {
        let (p50, p95, p99) = time_page(client, &format!("{}{path}", cloud.url), requests).await;
        println!(
            "{what:<36} {:>6.1} ms {:>6.1} ms {:>6.1} ms",
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }

    // The export, with the server's memory sampled while it streams.
    let pid = cloud.pid();
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, watching) = (Arc::clone(&peak), Arc::clone(&watching));
        tokio::spawn(async move {
            while watching.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let t = Instant::now();
    let r = owner
        .get(format!("{}/export.zip", cloud.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let zipped = r.bytes().await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    watching.store(false, Ordering::Relaxed);
    sampler.await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.to_vec())).unwrap();
    let mut raw = 0u64;
    for i in 0..archive.len() {
        raw += archive.by_index(i).unwrap().size();
    }
    println!(
        "export of the busy practice: {:.1} MB of CSV/JSON ({:.1} MB zipped) in {secs:.2} s = {:.1} MB/s; \
         server RSS {:.1} MB before, {:.1} MB peak",
        raw as f64 / 1e6,
        zipped.len() as f64 / 1e6,
        raw as f64 / 1e6 / secs,
        before as f64 / 1024.0,
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
}
