//! Fault test with a real box process: while a generator makes check-ins on
//! a running `sos-appliance` over its HTTP surface (the patient's phone form
//! and the signed-in front desk's API, status changes included), the box
//! process is killed with SIGKILL at random moments and restarted on the
//! same data directory, the cloud process is killed and restarted, a proxy
//! between them drops connections mid-answer and cuts them all, and the
//! practice's config changes in the cloud.
//!
//! At the end every event of the box's outbox is in the cloud exactly once,
//! with the box's seq and applied in the box's order, nothing else is there,
//! every check-in the generator was told about is in the cloud once, every
//! final status matches the box (and what the generator did), and the box
//! holds the cloud's last config.
//!
//! Needs the `sos-appliance` binary (see `common::box_process`).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::box_process::{self, Appliance};
use common::chaos::{ChaosProxy, Rng, name, seed};
use common::*;
use serde_json::{Value, json};
use tokio::sync::watch;

const PIN: &str = "4826";
const LAST_NAME: &str = "Killnine";
const DOB: &str = "1984-06-12";
/// Phones and desk clients hitting the box at once.
const WORKERS: usize = 6;
/// SIGKILLs of the box process while check-ins are being made.
const BOX_KILLS: usize = 8;
/// The box makes at least this many check-ins on each run before it is
/// killed again, so every kill lands in real work.
const PEOPLE_PER_RUN: usize = 40;
/// People checked in at least: two events each (arrival, billing) plus the
/// status changes, so thousands of events.
const MIN_PEOPLE: usize = 1500;
/// Bound on the whole generator phase (faults included).
const GENERATOR_DEADLINE: Duration = Duration::from_secs(120);
/// Bound on the box's outbox draining once the faults stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How person `i` is checked in, and what the desk does with them after.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Via {
    /// The patient's phone: the signed QR form (method `qr`).
    Phone,
    /// The front desk's API (method `desk`).
    Desk,
}

struct Plan {
    via: Via,
    call_to: Option<String>,
    seen: bool,
}

fn plan(i: usize) -> Plan {
    if i.is_multiple_of(4) {
        return Plan {
            via: Via::Phone,
            call_to: None,
            seen: false,
        };
    }
    Plan {
        via: Via::Desk,
        call_to: i.is_multiple_of(3).then(|| format!("Room {}", 1 + i % 4)),
        seen: i.is_multiple_of(6),
    }
}

impl Plan {
    fn final_status(&self) -> &'static str {
        match (&self.call_to, self.seen) {
            (_, true) => "seen",
            (Some(_), false) => "called",
            (None, false) => "waiting",
        }
    }
}

/// One request of the generator, retried until the box answers it.
#[derive(Debug)]
enum Action {
    Phone {
        first: String,
    },
    DeskCheckin {
        first: String,
    },
    Status {
        id: String,
        action: &'static str,
        room: Option<String>,
    },
}

/// One run of the box process, as the generator uses it.
struct BoxSession {
    run: u64,
    base: String,
    checkin_url: String,
    /// Holds the front desk's session cookie.
    http: reqwest::Client,
    csrf: String,
    form_token: String,
}

/// A success answer of the box.
struct Answer {
    /// The desk's check-in id (the phone form answers with a status link).
    checkin_id: Option<String>,
    /// "Already checked in": this is a retry whose first try the box
    /// committed but never answered (it was killed in between).
    already: bool,
}

/// What a request came to, when it did not succeed.
enum Failure {
    /// No answer: the box was killed, is restarting, or the connection broke.
    Transport,
    /// 401: a desk session of a previous run of the box.
    Stale,
}

/// A person the generator checked in, with everything it was told.
struct Done {
    first: String,
    via: Via,
    /// The desk's answer (phone check-ins answer with a status link only).
    checkin_id: Option<String>,
    status: &'static str,
}

/// What the generator's requests came to, for the figures and the checks
/// that the faults hit something.
#[derive(Default)]
struct Counters {
    /// Requests that got no answer (box killed or restarting).
    failures: AtomicU64,
    /// Desk requests with a session of a previous run.
    stale: AtomicU64,
    /// Check-ins committed by a killed box and found on retry.
    already: AtomicU64,
}

struct Generator {
    session: watch::Receiver<Option<Arc<BoxSession>>>,
    next: Arc<AtomicUsize>,
    people: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    counts: Arc<Counters>,
    started: Instant,
}

impl Generator {
    fn left(&self, what: &str) -> Duration {
        GENERATOR_DEADLINE
            .checked_sub(self.started.elapsed())
            .unwrap_or_else(|| panic!("generator deadline ({GENERATOR_DEADLINE:?}) passed: {what}"))
    }

    /// The box's current run; waits while it is down.
    async fn session(&mut self, what: &str) -> Arc<BoxSession> {
        loop {
            if let Some(s) = self.session.borrow_and_update().clone() {
                return s;
            }
            let left = self.left(what);
            match tokio::time::timeout(left, self.session.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!("the test stopped publishing the box while {what}"),
                Err(_) => panic!("the box never came back while {what}"),
            }
        }
    }

    /// Sends `a` until the box answers it with success.
    async fn perform(&mut self, a: &Action) -> Option<String> {
        let what = format!("{a:?}");
        loop {
            self.left(&what);
            let s = self.session(&what).await;
            match send(&s, a).await {
                Ok(answer) => {
                    if answer.already {
                        self.counts.already.fetch_add(1, Ordering::Relaxed);
                    }
                    return answer.checkin_id;
                }
                Err(Failure::Transport) => {
                    self.counts.failures.fetch_add(1, Ordering::Relaxed);
                }
                Err(Failure::Stale) => {
                    self.counts.stale.fetch_add(1, Ordering::Relaxed);
                }
            }
            // The box is going down or coming up: give the test a moment to
            // publish its next run.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn run(mut self) -> Vec<Done> {
        let mut done = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let p = plan(i);
            let first = name(i);
            let checkin_id = match p.via {
                Via::Phone => {
                    self.perform(&Action::Phone {
                        first: first.clone(),
                    })
                    .await;
                    None
                }
                Via::Desk => {
                    self.perform(&Action::DeskCheckin {
                        first: first.clone(),
                    })
                    .await
                }
            };
            if let Some(room) = &p.call_to {
                let id = checkin_id.clone().expect("desk check-ins have an id");
                self.perform(&Action::Status {
                    id,
                    action: "call",
                    room: Some(room.clone()),
                })
                .await;
            }
            if p.seen {
                let id = checkin_id.clone().expect("desk check-ins have an id");
                self.perform(&Action::Status {
                    id,
                    action: "seen",
                    room: None,
                })
                .await;
            }
            self.people.fetch_add(1, Ordering::Relaxed);
            done.push(Done {
                first,
                via: p.via,
                checkin_id,
                status: p.final_status(),
            });
        }
        done
    }
}

fn transport(_: reqwest::Error) -> Failure {
    Failure::Transport
}

/// One try of `a` on one run of the box. An answer other than success (or a
/// stale desk session) is a bug in the box: the test stops there.
async fn send(s: &BoxSession, a: &Action) -> Result<Answer, Failure> {
    let req = match a {
        Action::Phone { first } => s.http.post(&s.checkin_url).form(&[
            ("first_name", first.as_str()),
            ("last_name", LAST_NAME),
            ("date_of_birth", DOB),
            ("form_token", s.form_token.as_str()),
            ("walk_in", "yes"),
        ]),
        Action::DeskCheckin { first } => s
            .http
            .post(format!("{}/desk/api/checkins", s.base))
            .header("x-csrf-token", &s.csrf)
            .json(&json!({"first_name": first, "last_name": LAST_NAME, "date_of_birth": DOB})),
        Action::Status { id, action, room } => {
            let body = match room {
                Some(r) => json!({ "room": r }).to_string(),
                None => String::new(),
            };
            s.http
                .post(format!("{}/desk/api/checkins/{id}/{action}", s.base))
                .header("x-csrf-token", &s.csrf)
                .header("content-type", "application/json")
                .body(body)
        }
    };
    let r = req.send().await.map_err(transport)?;
    let status = r.status().as_u16();
    let body = r.text().await.map_err(transport)?;
    let answer = |checkin_id: Option<&str>, already: bool| {
        Ok(Answer {
            checkin_id: checkin_id.map(str::to_string),
            already,
        })
    };
    match (a, status) {
        (Action::Phone { .. }, 303) => answer(None, false),
        (Action::Phone { .. }, 200) if body.contains("data-kind=\"already\"") => answer(None, true),
        (Action::DeskCheckin { .. }, 200) => {
            let v: Value =
                serde_json::from_str(&body).unwrap_or_else(|_| refused(s, a, status, &body));
            match (v["result"].as_str(), v["checkin_id"].as_str()) {
                (Some("checked_in"), Some(id)) => answer(Some(id), false),
                (Some("already_checked_in"), Some(id)) => answer(Some(id), true),
                _ => refused(s, a, status, &body),
            }
        }
        (Action::Status { .. }, 200) => answer(None, false),
        (Action::DeskCheckin { .. } | Action::Status { .. }, 401) => Err(Failure::Stale),
        _ => refused(s, a, status, &body),
    }
}

fn refused(s: &BoxSession, a: &Action, status: u16, body: &str) -> ! {
    panic!(
        "run {} of the box answered {status} to {a:?}: {}",
        s.run,
        body.chars().take(500).collect::<String>()
    )
}

/// Starts the box on `dir`, signs in at its front desk and opens the phone
/// form, as a new run for the generator.
async fn start_box(dir: &Path, run: u64) -> (Appliance, Arc<BoxSession>) {
    let d = dir.to_path_buf();
    let app = tokio::task::spawn_blocking(move || {
        box_process::run_appliance_with(
            &d,
            // No mDNS on a test machine; the generator is one client
            // sending hundreds of check-ins a minute.
            &["--no-mdns", "--checkin-rate-per-minute", "1000000"],
        )
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let http = box_process::http();
    // Desk sessions live in the box's memory: every run needs a sign-in.
    let r = http
        .post(format!("{}/desk/login", app.base))
        .form(&[("pin", PIN), ("next", "/desk")])
        .send()
        .await
        .expect("desk sign-in");
    assert_eq!(r.status().as_u16(), 303, "desk sign-in (run {run})");
    let page = http
        .get(format!("{}/desk", app.base))
        .send()
        .await
        .expect("desk page")
        .text()
        .await
        .expect("desk page body");
    let csrf = box_process::csrf_token(&page).expect("csrf token on the desk page");
    let form = http
        .get(&app.checkin_url)
        .send()
        .await
        .expect("check-in form")
        .text()
        .await
        .expect("check-in form body");
    let form_token = box_process::form_token(&form).expect("form token on the check-in form");
    let session = Arc::new(BoxSession {
        run,
        base: app.base.clone(),
        checkin_url: app.checkin_url.clone(),
        http,
        csrf,
        form_token,
    });
    (app, session)
}

/// Waits until the generator made `n` more check-ins than `from`.
async fn progress(
    people: &AtomicUsize,
    from: usize,
    n: usize,
    timeout: Duration,
    workers: &[tokio::task::JoinHandle<Vec<Done>>],
) {
    let start = Instant::now();
    while people.load(Ordering::Relaxed) < from + n {
        assert!(
            !workers.iter().any(|w| w.is_finished()),
            "a generator worker stopped early (see its panic above)"
        );
        assert!(
            start.elapsed() < timeout,
            "the generator made fewer than {n} check-ins in {timeout:?} ({} so far)",
            people.load(Ordering::Relaxed) - from
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The box's sync state from `/healthz`: (events waiting, config version).
async fn sync_state(base: &str) -> Option<(i64, Option<i64>)> {
    let v: Value = box_process::http()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some((
        v["sync"]["events_waiting"].as_i64()?,
        v["sync"]["config_version"].as_i64(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn box_process_killed_mid_checkins_loses_and_duplicates_nothing() {
    let started = Instant::now();
    let seed = seed();
    println!("fault_box_process seed {seed}");
    let mut rng = Rng(seed);
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let mut cloud = Cloud::start(&db);
    let t = cloud_server::tenants::create_tenant(
        &pool,
        cloud_server::tenants::TenantFields {
            name: Some("Kill Nine Dental".into()),
            vertical: Some("dental".into()),
            settings: Some(json!({
                "timezone": "UTC",
                "allow_walk_ins": true,
                "rooms": ["Room 1", "Room 2", "Room 3", "Room 4"],
            })),
            ..Default::default()
        },
    )
    .await
    .expect("tenant");
    // The desk PIN comes to the box with the practice's config.
    cloud_server::admin::set_staff(&pool, &t, "desk", "Front desk", PIN)
        .await
        .expect("staff PIN");

    // The box talks to the cloud through the proxy; calm while enrolling
    // (a one-time token lost to a dropped answer is another test's matter).
    let proxy = ChaosProxy::start(cloud.url.trim_start_matches("http://"), rng.next()).await;
    proxy.set_chaos(false);
    let dir = tempfile::tempdir().expect("data dir");
    let tok = token(&pool, &t).await;
    let out = tokio::task::block_in_place(|| box_process::enroll(dir.path(), &proxy.url, &tok));
    assert!(
        out.status.success(),
        "enroll: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut app, first) = start_box(dir.path(), 0).await;
    let (publish, session) = watch::channel(Some(first));
    proxy.set_chaos(true);

    let next = Arc::new(AtomicUsize::new(0));
    let people = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counters::default());
    let gen_started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::spawn(
                Generator {
                    session: session.clone(),
                    next: Arc::clone(&next),
                    people: Arc::clone(&people),
                    stop: Arc::clone(&stop),
                    counts: Arc::clone(&counts),
                    started: gen_started,
                }
                .run(),
            )
        })
        .collect();

    // Faults. Two of the rounds also kill the cloud: the box is then killed
    // and restarted while the cloud is down.
    let cloud_rounds = [1 + rng.below(3) as usize, 4 + rng.below(3) as usize];
    let (mut box_kills, mut cloud_kills, mut cuts) = (0usize, 0usize, 0usize);
    let (mut practice_name, mut config_version) = (String::new(), 0i64);
    for round in 0..BOX_KILLS {
        let now = people.load(Ordering::Relaxed);
        progress(
            &people,
            now,
            PEOPLE_PER_RUN,
            Duration::from_secs(30),
            &workers,
        )
        .await;
        // A random moment, with a network cut (every connection between box
        // and cloud closed, requests in flight included) on the way in about
        // half of the rounds.
        tokio::time::sleep(Duration::from_millis(100 + rng.below(700))).await;
        if round == 0 || rng.below(2) == 0 {
            proxy.cut();
            cuts += 1;
        }
        // A config change on the way down too (applied, or pulled again
        // after the restart).
        practice_name = format!("Kill Nine Dental {round}");
        config_version = cloud_server::tenants::update_tenant(
            &pool,
            &t,
            cloud_server::tenants::TenantFields {
                name: Some(practice_name.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("rename the practice");
        tokio::time::sleep(Duration::from_millis(100 + rng.below(700))).await;
        let cloud_round = cloud_rounds.contains(&round);
        if cloud_round {
            cloud.kill();
            cloud_kills += 1;
        }
        app.kill();
        box_kills += 1;
        // Requests in flight failed with the kill; new ones wait for the
        // next run.
        publish.send_replace(None);
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        let (a, s) = start_box(dir.path(), round as u64 + 1).await;
        app = a;
        publish.send_replace(Some(s));
        if cloud_round {
            // The box works offline for a while, then the cloud comes back
            // (on a new port, so no other socket can hold the old one; the
            // box's cloud URL is the proxy's).
            tokio::time::sleep(Duration::from_millis(300 + rng.below(700))).await;
            cloud = tokio::task::block_in_place(|| Cloud::start(&db));
            proxy.set_upstream(cloud.url.trim_start_matches("http://"));
        }
    }
    // The box really synced under the faults, not only once they stopped.
    let synced_under_faults = count(
        &pool,
        "SELECT count(*) FROM events WHERE tenant_id = $1",
        &t,
    )
    .await;
    proxy.set_chaos(false);
    let left = GENERATOR_DEADLINE.saturating_sub(gen_started.elapsed());
    progress(&people, 0, MIN_PEOPLE, left, &workers).await;
    stop.store(true, Ordering::Relaxed);
    let mut done = Vec::new();
    for w in workers {
        done.extend(
            w.await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        );
    }
    let gen_time = gen_started.elapsed();

    // Everything restarted and calm: the outbox drains, the last config
    // is on the box.
    let base = app.base.clone();
    eventually(
        DRAIN_TIMEOUT,
        &format!(
            "the box's outbox drained and config {config_version} applied \
             (/healthz sync.events_waiting = 0, sync.config_version)"
        ),
        || {
            let base = base.clone();
            async move { sync_state(&base).await == Some((0, Some(config_version))) }
        },
    )
    .await;
    app.kill();
    drop(publish);

    // The box's side, read-only from its replica.
    let conn = rusqlite::Connection::open_with_flags(
        dir.path().join("sos-edge.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the box's replica read-only");
    let replica_config: (String, i64) = conn
        .query_row("SELECT name, config_version FROM tenant", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the box's practice");
    assert_eq!(
        replica_config,
        (practice_name, config_version),
        "the box's replica holds the cloud's last config"
    );
    // (seq, event_id, kind, sent): the outbox in the box's order.
    let outbox: Vec<(i64, String, String, bool)> = {
        let mut s = conn
            .prepare("SELECT seq, event_id, kind, sent_at IS NOT NULL FROM outbox ORDER BY seq")
            .expect("outbox query");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("outbox rows")
            .collect::<Result<_, _>>()
            .expect("outbox row")
    };
    // first name -> [(checkin_id, status, method)]
    let mut box_checkins: HashMap<String, Vec<(String, String, String)>> = HashMap::new();
    {
        let mut s = conn
            .prepare(
                "SELECT p.first_name, c.checkin_id, c.status, c.method
                 FROM checkins c JOIN patients p
                   ON p.tenant_id = c.tenant_id AND p.patient_id = c.patient_id",
            )
            .expect("checkins query");
        let rows = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("checkin rows");
        for row in rows {
            let (first, id, status, method): (String, String, String, String) =
                row.expect("checkin row");
            box_checkins
                .entry(first)
                .or_default()
                .push((id, status, method));
        }
    }
    drop(conn);

    // The cloud's side.
    let c = pool.get().await.expect("pg connection");
    let cloud_events = c
        .query(
            "SELECT event_id::text, seq, device_id FROM events
             WHERE tenant_id = $1 ORDER BY received_at, seq",
            &[&t],
        )
        .await
        .expect("cloud events");
    let cloud_checkins: HashMap<String, String> = c
        .query(
            "SELECT checkin_id, status FROM checkins WHERE tenant_id = $1",
            &[&t],
        )
        .await
        .expect("cloud checkins")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let arrivals: HashMap<String, i64> = c
        .query(
            "SELECT payload->>'checkin_id', count(*) FROM events
             WHERE tenant_id = $1 AND kind = 'checkin.arrived' GROUP BY 1",
            &[&t],
        )
        .await
        .expect("cloud arrivals")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let billing = count(
        &pool,
        "SELECT count(*) FROM billing_events WHERE tenant_id = $1",
        &t,
    )
    .await;

    // Every outbox event was acknowledged...
    let unsent: Vec<_> = outbox.iter().filter(|e| !e.3).map(|e| e.0).collect();
    assert!(
        unsent.is_empty(),
        "outbox events never acknowledged: seq {unsent:?}"
    );
    // ...is in the cloud exactly once, with the box's seq, and nothing else is.
    let box_seq: HashMap<&str, i64> = outbox.iter().map(|e| (e.1.as_str(), e.0)).collect();
    assert_eq!(
        box_seq.len(),
        outbox.len(),
        "duplicate event ids in the outbox"
    );
    let mut seen_ids = HashSet::new();
    for r in &cloud_events {
        let id: String = r.get(0);
        let seq: i64 = r.get(1);
        assert!(seen_ids.insert(id.clone()), "event {id} twice in the cloud");
        match box_seq.get(id.as_str()) {
            Some(&s) => assert_eq!(s, seq, "event {id}: cloud seq {seq}, box seq {s}"),
            None => panic!("event {id} (seq {seq}) is in the cloud but not in the box's outbox"),
        }
    }
    let missing: Vec<_> = outbox
        .iter()
        .filter(|e| !seen_ids.contains(&e.1))
        .map(|e| (e.0, e.2.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "outbox events missing in the cloud (seq, kind): {missing:?}"
    );
    // In order: the cloud applied them in the box's outbox order.
    let cloud_seqs: Vec<i64> = cloud_events.iter().map(|r| r.get(1)).collect();
    if let Some(w) = cloud_seqs.windows(2).find(|w| w[0] >= w[1]) {
        panic!(
            "events applied out of the box's order: seq {} before {}",
            w[0], w[1]
        );
    }
    let devices: HashSet<String> = cloud_events.iter().map(|r| r.get(2)).collect();
    assert_eq!(
        devices.len(),
        1,
        "events from one box under several devices: {devices:?}"
    );

    // Every check-in the generator was told about: once on the box, with
    // the answer's id and the status it was given, once in the cloud.
    assert_eq!(done.len(), people.load(Ordering::Relaxed));
    for d in &done {
        let rows = box_checkins.get(&d.first).map(Vec::as_slice).unwrap_or(&[]);
        let [(id, status, method)] = rows else {
            panic!(
                "{} has {} check-ins on the box, expected 1: {rows:?}",
                d.first,
                rows.len()
            );
        };
        if let Some(answered) = &d.checkin_id {
            assert_eq!(
                answered, id,
                "{}: the desk answered another check-in id",
                d.first
            );
        }
        let want_method = if d.via == Via::Phone { "qr" } else { "desk" };
        assert_eq!(method, want_method, "{}: method", d.first);
        assert_eq!(status, d.status, "{}: status on the box", d.first);
        assert_eq!(
            arrivals.get(id),
            Some(&1),
            "{} ({id}): arrival events in the cloud",
            d.first
        );
    }
    // Nothing else on the box (a check-in nobody was told about would be a
    // stray retry), and the cloud's check-ins are exactly the box's, with
    // the box's final status.
    let box_total: usize = box_checkins.values().map(Vec::len).sum();
    assert_eq!(
        box_total,
        done.len(),
        "check-ins on the box the generator never made"
    );
    assert_eq!(cloud_checkins.len(), box_total, "check-ins in the cloud");
    assert_eq!(arrivals.len(), box_total, "arrival events in the cloud");
    for (id, status, _) in box_checkins.values().flatten() {
        assert_eq!(
            cloud_checkins.get(id),
            Some(status),
            "final status of {id} in the cloud"
        );
    }
    assert_eq!(billing, box_total as i64, "billing events in the cloud");

    // The faults really happened.
    let (failed, stale, already) = (
        counts.failures.load(Ordering::Relaxed),
        counts.stale.load(Ordering::Relaxed),
        counts.already.load(Ordering::Relaxed),
    );
    let (drops, cut_connections) = (proxy.drops(), proxy.cut_connections());
    println!(
        "fault_box_process: {} check-ins ({} by phone), {} events, {box_kills} box kills, \
         {cloud_kills} cloud kills, {cuts} network cuts ({cut_connections} connections cut), \
         {drops} connections dropped mid-answer, {failed} generator requests failed \
         ({already} of their check-ins had been committed, {stale} stale desk sessions), {synced_under_faults} events in the cloud when the \
         faults stopped; generator {gen_time:.1?}, total {:.1?}",
        done.len(),
        done.iter().filter(|d| d.via == Via::Phone).count(),
        outbox.len(),
        started.elapsed()
    );
    assert_eq!(box_kills, BOX_KILLS);
    assert_eq!(cloud_kills, 2);
    assert!(
        failed > 0,
        "no generator request ever failed: the kills hit nothing"
    );
    assert!(
        drops + cut_connections > 0,
        "the proxy never broke a connection"
    );
    assert!(
        synced_under_faults > 0,
        "nothing reached the cloud while the faults ran"
    );
    assert!(
        outbox.len() >= 2 * MIN_PEOPLE,
        "only {} events",
        outbox.len()
    );
}
