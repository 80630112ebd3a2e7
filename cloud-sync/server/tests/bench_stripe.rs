//! Benchmark of Stripe's webhook (ignored by default; it prints figures):
//!
//! ```text
//! cargo build --release -p sos-cloud
//! SOS_CLOUD_BIN=$PWD/target/release/sos-cloud \
//!   cargo test --release -p sos-cloud --test bench_stripe -- --ignored --nocapture
//! ```
//!
//! Two `sos-cloud` processes on one PostgreSQL receive signed subscription
//! events (`invoice.paid`, `invoice.payment_failed`,
//! `customer.subscription.updated`) for many clinics, 32 deliveries in
//! flight; each event is recorded, locked by its subscription, read back
//! from Stripe (localstripe here) and applied. Printed: events applied per
//! second, p50/p99 delivery latency, and in the same run the reference the
//! figure cannot beat here: localstripe's own rate for the same
//! subscription reads at the same concurrency.
//! `SOS_BENCH_EVENTS` (default 3000), `SOS_BENCH_CLINICS` (default 40) and
//! `SOS_BENCH_IN_FLIGHT` (deliveries at once, default 16) size it.

mod common;

use std::time::{Duration, Instant};

use common::stripe::*;
use common::*;
use serde_json::json;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `jobs` with `in_flight` at a time; returns the wall time and each
/// one's latency, sorted.
async fn run<F, Fut>(jobs: usize, in_flight: usize, job: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let job = std::sync::Arc::new(job);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (job, next) = (job.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs {
                    return lat;
                }
                let t = Instant::now();
                job(i).await;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(jobs);
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let wall = started.elapsed();
    all.sort();
    (wall, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_stripe_webhook_events_per_second() {
    let events = env_or("SOS_BENCH_EVENTS", 3000);
    let clinics = env_or("SOS_BENCH_CLINICS", 40);
    let in_flight = env_or("SOS_BENCH_IN_FLIGHT", 16).max(1);
    let db = TestDb::create().await;
    let stripe = LocalStripe::start().await;
    stripe.plans().await;
    let args = stripe_args(&stripe.url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nodes = [
        Cloud::start_with(&db, "127.0.0.1:0", &args),
        Cloud::start_with(&db, "127.0.0.1:0", &args),
    ];
    let pool = db.pool().await;

    let mut subs = Vec::new();
    for n in 0..clinics {
        let (cus, sub, _) = stripe
            .subscriber(&format!("b{n}@example.com"), "price_sos_pro")
            .await;
        let body = checkout_event(
            &format!("evt_1SosBenchCs{n}"),
            "checkout.session.completed",
            &format!("cs_bench_{n}"),
            &cus,
            &sub,
            "paid",
            json!({"practice_name": format!("Clinic {n}"), "vertical": "dental"}),
        );
        assert_eq!(deliver_signed(&nodes[n % 2].url, &body).await.0, 200);
        subs.push(sub);
    }
    let kinds = [
        "invoice.paid",
        "invoice.payment_failed",
        "customer.subscription.updated",
    ];
    let bodies: Vec<String> = (0..events)
        .map(|i| {
            let sub = &subs[i % subs.len()];
            let kind = kinds[i % kinds.len()];
            let object = if kind.starts_with("invoice") {
                json!({"object": "invoice", "subscription": sub})
            } else {
                json!({"object": "subscription", "id": sub})
            };
            json!({"id": format!("evt_1SosBench{i}"), "object": "event", "type": kind,
                   "created": now(), "livemode": false, "data": {"object": object}})
            .to_string()
        })
        .collect();
    let headers = stripe_headers(&bodies, SECRET, now());
    let urls: Vec<String> = nodes.iter().map(|c| c.url.clone()).collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(in_flight)
        .build()
        .unwrap();

    // The reference: localstripe's own rate for the reads each event makes.
    let (ls_url, ls_http, ls_subs) = (stripe.url.clone(), http.clone(), subs.clone());
    let reads = events.min(1500);
    let (ref_wall, ref_lat) = run(reads, in_flight, move |i| {
        let (url, http, sub) = (
            ls_url.clone(),
            ls_http.clone(),
            ls_subs[i % ls_subs.len()].clone(),
        );
        async move {
            let r = http
                .get(format!("{url}/v1/subscriptions/{sub}"))
                .bearer_auth(API_KEY)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let _ = r.bytes().await;
        }
    })
    .await;

    let (b, h, u) = (
        std::sync::Arc::new(bodies),
        std::sync::Arc::new(headers),
        std::sync::Arc::new(urls),
    );
    let client = http.clone();
    let (wall, lat) = run(events, in_flight, move |i| {
        let (b, h, u, client) = (b.clone(), h.clone(), u.clone(), client.clone());
        async move {
            let r = client
                .post(format!("{}/webhooks/stripe", u[i % 2]))
                .header("Stripe-Signature", &h[i])
                .body(b[i].clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await;
        }
    })
    .await;
    let c = pool.get().await.unwrap();
    let applied: i64 = c
        .query_one(
            "SELECT count(*) FROM stripe_events
             WHERE applied_at IS NOT NULL AND event_id LIKE 'evt_1SosBench%'
               AND event_id NOT LIKE 'evt_1SosBenchCs%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied as usize, events, "every event applied once");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "stripe webhook: {events} events over 2 nodes, {in_flight} in flight, {clinics} clinics: \
         {:.0} events/s, p50 {:.1} ms, p99 {:.1} ms",
        events as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
    );
    println!(
        "reference, same run: localstripe alone answers GET /v1/subscriptions/{{id}} at \
         {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({reads} reads, {in_flight} in flight)",
        reads as f64 / ref_wall.as_secs_f64(),
        ms(percentile(&ref_lat, 0.5)),
        ms(percentile(&ref_lat, 0.99)),
    );
}
