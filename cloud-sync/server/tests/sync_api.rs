//! The real `sos-cloud` on a real PostgreSQL: enrollment, authentication,
//! tenant isolation, exactly-once ingest, bad input, config long-poll.

mod common;

use std::time::{Duration, Instant};

use cloud_server::admin;
use cloud_server::tenants::{self, TenantFields};
use cloud_sync::DeviceKey;
use cloud_sync::client::{Client, ClientError, Device};
use cloud_sync::wire::{self, Appointment, Event, codes};
use common::*;

const EVENTS_SQL: &str = "SELECT count(*) FROM events WHERE tenant_id = $1";
const CHECKINS_SQL: &str = "SELECT count(*) FROM checkins WHERE tenant_id = $1";
const BILLING_SQL: &str = "SELECT count(*) FROM billing_events WHERE tenant_id = $1";

fn refused(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Refused { status, code, .. } => (status, code),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// A box that lost the cloud's answer presents the spent token with the
/// same key: the same device, not a second one; with another key, or once
/// the device is revoked, the token is spent.
#[tokio::test]
async fn a_spent_token_with_its_own_key_answers_the_same_device() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Bright Smile").await;
    let tok = token(&pool, &t).await;
    let key = DeviceKey::generate().unwrap();
    let first = client.enroll(&tok, &key, "box").await.unwrap();
    let again = client.enroll(&tok, &key, "box").await.unwrap();
    assert_eq!(
        (again.device_id.as_str(), again.tenant_id.as_str()),
        (first.device_id.as_str(), t.as_str())
    );
    let devices = "SELECT count(*) FROM devices WHERE tenant_id = $1";
    assert_eq!(count(&pool, devices, &t).await, 1);
    let enrolled =
        "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'device.enrolled'";
    assert_eq!(count(&pool, enrolled, &t).await, 1, "audited twice");

    let e = client
        .enroll(&tok, &DeviceKey::generate().unwrap(), "other")
        .await
        .unwrap_err();
    assert_eq!(refused(e), (401, codes::TOKEN_INVALID.to_string()));

    admin::revoke_device(&pool, &first.device_id).await.unwrap();
    let e = client.enroll(&tok, &key, "box").await.unwrap_err();
    assert_eq!(refused(e), (401, codes::TOKEN_INVALID.to_string()));
    assert_eq!(count(&pool, devices, &t).await, 1);
}

#[tokio::test]
async fn enrollment_token_is_single_use_and_expires() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Bright Smile").await;

    // Used once, then refused.
    let tok = token(&pool, &t).await;
    let k1 = DeviceKey::generate().unwrap();
    let r = client.enroll(&tok, &k1, "box 1").await.unwrap();
    assert_eq!(r.tenant_id, t);
    let k2 = DeviceKey::generate().unwrap();
    let e = client.enroll(&tok, &k2, "box 2").await.unwrap_err();
    assert_eq!(refused(e), (401, codes::TOKEN_INVALID.to_string()));

    // Concurrent use of one token: exactly one device.
    let tok = token(&pool, &t).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, tok) = (client.clone(), tok.clone());
        tasks.push(tokio::spawn(async move {
            let k = DeviceKey::generate().unwrap();
            c.enroll(&tok, &k, "racer").await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap() as usize;
    }
    assert_eq!(ok, 1, "a token must enroll exactly one device");

    // Expired.
    let tok = admin::create_token(&pool, &t, Duration::from_secs(0))
        .await
        .unwrap();
    let e = client
        .enroll(&tok, &DeviceKey::generate().unwrap(), "late")
        .await
        .unwrap_err();
    assert_eq!(refused(e), (401, codes::TOKEN_INVALID.to_string()));

    // Unknown token; the same key twice.
    let e = client.enroll("sos_prov_nope", &k2, "x").await.unwrap_err();
    assert_eq!(refused(e), (401, codes::TOKEN_INVALID.to_string()));
    let tok = token(&pool, &t).await;
    let e = client.enroll(&tok, &k1, "same key").await.unwrap_err();
    assert_eq!(refused(e).0, 409);
    // ... and that failed attempt did not burn the token.
    client.enroll(&tok, &k2, "fresh key").await.unwrap();

    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM devices WHERE tenant_id = $1",
            &t
        )
        .await,
        3
    );
}

#[tokio::test]
async fn revoked_device_is_refused_everywhere() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Revoked Dental").await;
    let dev = device(&pool, &client, &t).await;
    client.config(&dev, 0, 0).await.unwrap();
    client.push_events(&dev, &[arrived(1, "c1")]).await.unwrap();

    assert!(admin::revoke_device(&pool, &dev.device_id).await.unwrap());
    let e = client.config(&dev, 0, 0).await.unwrap_err();
    assert!(e.is_revoked(), "{e}");
    assert!(!e.is_retryable());
    let e = client
        .push_events(&dev, &[arrived(2, "c2")])
        .await
        .unwrap_err();
    assert!(e.is_revoked(), "{e}");
    assert_eq!(count(&pool, EVENTS_SQL, &t).await, 1);
    assert_eq!(count(&pool, CHECKINS_SQL, &t).await, 1);
}

fn appt(id: &str, first: &str, dob: &str) -> Appointment {
    Appointment {
        appointment_id: id.into(),
        patient_id: format!("p-{id}"),
        first_name: first.into(),
        last_name: "Jones".into(),
        date_of_birth: dob.into(),
        provider_id: "dr-lee".into(),
        provider_name: "Dr. Lee".into(),
        local_date: today(),
        starts_at: 1_800_000_000_000,
        kind: "Cleaning".into(),
        notes: String::new(),
        cancelled: false,
    }
}

#[tokio::test]
async fn a_device_never_sees_or_touches_another_tenant() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let a = tenant(&pool, "Practice A").await;
    let b = tenant(&pool, "Practice B").await;
    admin::put_appointments(&pool, &a, &[appt("a1", "Anna", "1980-01-02")])
        .await
        .unwrap();
    admin::put_appointments(&pool, &b, &[appt("b1", "Bert", "1970-03-04")])
        .await
        .unwrap();
    admin::set_staff(&pool, &b, "desk", "B desk", "9876")
        .await
        .unwrap();
    let dev_a = device(&pool, &client, &a).await;
    let dev_b = device(&pool, &client, &b).await;

    // Config: each sees its own practice and appointments only.
    let ca = client.config(&dev_a, 0, 0).await.unwrap();
    assert_eq!(ca.tenant.as_ref().unwrap().tenant_id, a);
    assert_eq!(ca.tenant.as_ref().unwrap().name, "Practice A");
    let names: Vec<_> = ca.appointments.iter().map(|x| &x.first_name).collect();
    assert_eq!(names, ["Anna"]);
    assert_eq!(ca.appointments[0].date_of_birth, "1980-01-02");
    assert!(ca.staff.is_empty(), "B's staff leaked to A");
    let cb = client.config(&dev_b, 0, 0).await.unwrap();
    assert_eq!(cb.staff.len(), 1);
    assert!(cb.staff[0].secret_hash.starts_with("$argon2id$"));
    assert!(!cb.staff[0].secret_hash.contains("9876"));

    // Naming the other tenant is refused, on every endpoint.
    let path = format!("{}?since=0&wait=0&tenant={b}", wire::PATH_CONFIG);
    let raw = client
        .send_signed(&dev_a, "GET", &path, Vec::new(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(raw.status, 403);
    let body = serde_json::to_vec(&wire::EventsRequest {
        events: vec![arrived(1, "x")],
    })
    .unwrap();
    let path = format!("{}?tenant={b}", wire::PATH_EVENTS);
    let raw = client
        .send_signed(&dev_a, "POST", &path, body, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(raw.status, 403);

    // Impersonating B's device with A's key fails the signature.
    let fake = Device {
        device_id: dev_b.device_id.clone(),
        key: DeviceKey::from_seed(&dev_a.key.to_seed()).unwrap(),
    };
    let e = client.config(&fake, 0, 0).await.unwrap_err();
    assert_eq!(refused(e), (401, codes::BAD_SIGNATURE.to_string()));
    let e = client
        .push_events(&fake, &[arrived(1, "x")])
        .await
        .unwrap_err();
    assert_eq!(refused(e), (401, codes::BAD_SIGNATURE.to_string()));

    // B checks in c1; A sends events with the same check-in id and even the
    // same event id: they land in A's scope and B's rows are unchanged.
    let eb = arrived(1, "c1");
    client
        .push_events(&dev_b, &[eb.clone(), status(2, "c1", "seen")])
        .await
        .unwrap();
    let mut ea = arrived(1, "c1");
    ea.event_id = eb.event_id.clone();
    let r = client
        .push_events(&dev_a, &[ea, status(2, "c1", "called")])
        .await
        .unwrap();
    assert_eq!(r.applied, 2, "A's events are A's, not duplicates of B's");
    let c = pool.get().await.unwrap();
    let st: String = c
        .query_one(
            "SELECT status FROM checkins WHERE tenant_id = $1 AND checkin_id = 'c1'",
            &[&b],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(st, "seen");
    let st: String = c
        .query_one(
            "SELECT status FROM checkins WHERE tenant_id = $1 AND checkin_id = 'c1'",
            &[&a],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(st, "called");
    assert_eq!(count(&pool, EVENTS_SQL, &a).await, 2);
    assert_eq!(count(&pool, EVENTS_SQL, &b).await, 2);
}

#[tokio::test]
async fn events_apply_exactly_once_with_duplicates_and_reordering() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Once Dental").await;
    let dev = device(&pool, &client, &t).await;

    let mut events: Vec<Event> = Vec::new();
    for i in 0..100 {
        let cid = format!("c{i}");
        events.push(arrived(3 * i + 1, &cid));
        events.push(billing(3 * i + 2, &cid));
        events.push(status(3 * i + 3, &cid, "called"));
    }
    let r = client.push_events(&dev, &events[..150]).await.unwrap();
    assert_eq!((r.applied, r.duplicates, r.acked.len()), (150, 0, 150));
    // Retry of an overlapping window (the box died before marking sent).
    let r = client.push_events(&dev, &events[100..]).await.unwrap();
    assert_eq!((r.applied, r.duplicates), (150, 50));
    assert_eq!(r.acked.len(), 200);
    // The whole thing again, twice, concurrently.
    let (r1, r2) = tokio::join!(
        client.push_events(&dev, &events),
        client.push_events(&dev, &events)
    );
    assert_eq!(r1.unwrap().applied + r2.unwrap().applied, 0);
    assert_eq!(count(&pool, EVENTS_SQL, &t).await, 300);
    assert_eq!(count(&pool, CHECKINS_SQL, &t).await, 100);
    assert_eq!(count(&pool, BILLING_SQL, &t).await, 100);

    // Order per box is kept: the events' seq is stored.
    let c = pool.get().await.unwrap();
    let seqs: Vec<i64> = c
        .query(
            "SELECT seq FROM events WHERE tenant_id = $1 ORDER BY seq",
            &[&t],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, (1..=300).collect::<Vec<i64>>());

    // A late, older status change never overwrites a newer one.
    client
        .push_events(&dev, &[status(1000, "c0", "seen")])
        .await
        .unwrap();
    client
        .push_events(&dev, &[status(999, "c0", "no_show")])
        .await
        .unwrap();
    let st: String = c
        .query_one(
            "SELECT status FROM checkins WHERE tenant_id = $1 AND checkin_id = 'c0'",
            &[&t],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(st, "seen");

    // Two cloud processes receiving the same batch: still once.
    let cloud2 = Cloud::start(&db);
    let client2 = cloud2.client();
    let fresh: Vec<Event> = (0..50)
        .map(|i| arrived(2000 + i, &format!("n{i}")))
        .collect();
    let (r1, r2) = tokio::join!(
        client.push_events(&dev, &fresh),
        client2.push_events(&dev, &fresh)
    );
    assert_eq!(r1.unwrap().applied + r2.unwrap().applied, 50);
    assert_eq!(count(&pool, CHECKINS_SQL, &t).await, 150);
}

/// Sends `body` to `path` with the given headers (no client-side checks).
async fn raw(
    cloud: &Cloud,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, wire::ErrorBody) {
    let http = reqwest::Client::new();
    let mut req = http.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{}", cloud.url, path),
    );
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: wire::ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: not a JSON error body: {text}"));
    assert!(!body.message.is_empty());
    (status, body)
}

fn signed_headers(
    dev: &Device,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let h = dev
        .key
        .sign_request(&dev.device_id, method, path, body)
        .unwrap();
    vec![
        (wire::HEADER_PROTOCOL, "1".into()),
        (wire::HEADER_DEVICE, h.device_id),
        (wire::HEADER_TIMESTAMP, h.timestamp),
        (wire::HEADER_NONCE, h.nonce),
        (wire::HEADER_SIGNATURE, h.signature),
    ]
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let t = tenant(&pool, "Strict Dental").await;
    let dev = device(&pool, &client, &t).await;
    let good = serde_json::to_vec(&wire::EventsRequest {
        events: vec![arrived(1, "c1")],
    })
    .unwrap();
    let p = wire::PATH_EVENTS;

    // Malformed JSON, correctly signed.
    let body = b"{\"events\": [".to_vec();
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&dev, "POST", p, &body),
        body,
    )
    .await;
    assert_eq!((s, e.error.as_str()), (400, codes::BAD_REQUEST));

    // Semantically bad: a check-in without its id; seq going backwards.
    let mut bad = arrived(1, "c1");
    bad.payload = serde_json::json!({"arrived_at": 5});
    let body = serde_json::to_vec(&wire::EventsRequest { events: vec![bad] }).unwrap();
    let (s, _) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&dev, "POST", p, &body),
        body,
    )
    .await;
    assert_eq!(s, 422);
    let body = serde_json::to_vec(&wire::EventsRequest {
        events: vec![arrived(5, "c5"), arrived(4, "c4")],
    })
    .unwrap();
    let (s, _) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&dev, "POST", p, &body),
        body,
    )
    .await;
    assert_eq!(s, 422);

    // Too many events; too many bytes.
    let many: Vec<Event> = (0..1001).map(|i| arrived(i + 1, "c")).collect();
    let body = serde_json::to_vec(&wire::EventsRequest { events: many }).unwrap();
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&dev, "POST", p, &body),
        body,
    )
    .await;
    assert_eq!((s, e.error.as_str()), (413, codes::TOO_LARGE));
    let huge = vec![b' '; wire::MAX_BODY_BYTES + 10];
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&dev, "POST", p, &huge),
        huge,
    )
    .await;
    assert_eq!((s, e.error.as_str()), (413, codes::TOO_LARGE));

    // Replayed: the very same signed request twice.
    let h = signed_headers(&dev, "POST", p, &good);
    let body_ok = good.clone();
    let http = reqwest::Client::new();
    let mut req = http.post(format!("{}{p}", cloud.url));
    for (k, v) in &h {
        req = req.header(*k, v);
    }
    assert_eq!(
        req.body(body_ok).send().await.unwrap().status().as_u16(),
        200
    );
    let (s, e) = raw(&cloud, "POST", p, &h, good.clone()).await;
    assert_eq!((s, e.error.as_str()), (409, codes::REPLAYED));
    let before = count(&pool, EVENTS_SQL, &t).await;
    assert_eq!(before, 1);

    // Body changed after signing; path changed after signing.
    let other = serde_json::to_vec(&wire::EventsRequest {
        events: vec![arrived(2, "c2")],
    })
    .unwrap();
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&dev, "POST", p, &good),
        other.clone(),
    )
    .await;
    assert_eq!((s, e.error.as_str()), (401, codes::BAD_SIGNATURE));
    let h = signed_headers(&dev, "POST", "/v1/other", &other);
    let (s, e) = raw(&cloud, "POST", p, &h, other.clone()).await;
    assert_eq!((s, e.error.as_str()), (401, codes::BAD_SIGNATURE));

    // Signed by a key the cloud does not know for this device.
    let stranger = Device {
        device_id: dev.device_id.clone(),
        key: DeviceKey::generate().unwrap(),
    };
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&stranger, "POST", p, &other),
        other.clone(),
    )
    .await;
    assert_eq!((s, e.error.as_str()), (401, codes::BAD_SIGNATURE));

    // Unknown device.
    let ghost = Device {
        device_id: "d-ghost".into(),
        key: DeviceKey::generate().unwrap(),
    };
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &signed_headers(&ghost, "POST", p, &other),
        other.clone(),
    )
    .await;
    assert_eq!((s, e.error.as_str()), (401, codes::UNAUTHENTICATED));

    // Timestamp outside the window.
    let old = cloud_sync::auth::now_ms() - cloud_sync::auth::TIMESTAMP_WINDOW_MS - 60_000;
    let sh = dev.key.sign_request_at(
        &dev.device_id,
        "POST",
        p,
        &other,
        old,
        "AAAAAAAAAAAAAAAAAAAAAA",
    );
    let h = vec![
        (wire::HEADER_PROTOCOL, "1".to_string()),
        (wire::HEADER_DEVICE, sh.device_id),
        (wire::HEADER_TIMESTAMP, sh.timestamp),
        (wire::HEADER_NONCE, sh.nonce),
        (wire::HEADER_SIGNATURE, sh.signature),
    ];
    let (s, e) = raw(&cloud, "POST", p, &h, other.clone()).await;
    assert_eq!((s, e.error.as_str()), (401, codes::CLOCK_SKEW));

    // Missing authentication; wrong or missing protocol version.
    let (s, e) = raw(
        &cloud,
        "POST",
        p,
        &[(wire::HEADER_PROTOCOL, "1".into())],
        other.clone(),
    )
    .await;
    assert_eq!((s, e.error.as_str()), (401, codes::UNAUTHENTICATED));
    let (s, e) = raw(
        &cloud,
        "GET",
        "/v1/config?since=0",
        &[(wire::HEADER_PROTOCOL, "1".into())],
        vec![],
    )
    .await;
    assert_eq!((s, e.error.as_str()), (401, codes::UNAUTHENTICATED));
    let mut h = signed_headers(&dev, "POST", p, &other);
    h[0].1 = "99".into();
    let (s, e) = raw(&cloud, "POST", p, &h, other.clone()).await;
    assert_eq!((s, e.error.as_str()), (426, codes::UNSUPPORTED_PROTOCOL));
    let h = signed_headers(&dev, "POST", p, &other)[1..].to_vec();
    let (s, _) = raw(&cloud, "POST", p, &h, other.clone()).await;
    assert_eq!(s, 400);

    // Bad config query; malformed enrollment.
    let q = "/v1/config?since=abc";
    let (s, _) = raw(
        &cloud,
        "GET",
        q,
        &signed_headers(&dev, "GET", q, b""),
        vec![],
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = raw(
        &cloud,
        "POST",
        wire::PATH_ENROLL,
        &[(wire::HEADER_PROTOCOL, "1".into())],
        b"{\"token\": 5}".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = raw(
        &cloud,
        "POST",
        wire::PATH_ENROLL,
        &[(wire::HEADER_PROTOCOL, "1".into())],
        br#"{"token": "sos_prov_x", "public_key": "AAAA"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, 400);

    // Nothing changed by any of it.
    assert_eq!(count(&pool, EVENTS_SQL, &t).await, 1);
    assert_eq!(count(&pool, CHECKINS_SQL, &t).await, 1);
    assert_eq!(count(&pool, BILLING_SQL, &t).await, 0);
}

#[tokio::test]
async fn config_long_poll_wakes_on_change_in_every_cloud_process() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let cloud1 = Cloud::start(&db);
    let cloud2 = Cloud::start(&db);
    let (c1, c2) = (cloud1.client(), cloud2.client());
    let t = tenant(&pool, "Waiting Room").await;
    let dev = device(&pool, &c1, &t).await;

    let first = c1.config(&dev, 0, 0).await.unwrap();
    assert!(first.changed);
    let v = first.config_version;

    // Nothing changed: an immediate answer with wait=0, and a held one.
    let same = c1.config(&dev, v, 0).await.unwrap();
    assert!(!same.changed && same.tenant.is_none());
    let started = Instant::now();
    let same = c2.config(&dev, v, 1).await.unwrap();
    assert!(!same.changed);
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Both processes hold a poll; a change made elsewhere wakes both.
    let dev = std::sync::Arc::new(dev);
    let (d1, d2) = (dev.clone(), dev.clone());
    let p1 = tokio::spawn(async move { c1.config(&d1, v, 25).await });
    let p2 = tokio::spawn(async move { c2.config(&d2, v, 25).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let nv = tenants::update_tenant(
        &pool,
        &t,
        TenantFields {
            name: Some("Waiting Room Renamed".into()),
            agent_name: Some("Dandan".into()),
            branding: Some(serde_json::json!({"primary_color": "#112233"})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for p in [p1, p2] {
        let r = p.await.unwrap().unwrap();
        assert!(r.changed);
        assert_eq!(r.config_version, nv);
        let tc = r.tenant.unwrap();
        assert_eq!(tc.name, "Waiting Room Renamed");
        assert_eq!(tc.branding["primary_color"], "#112233");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cloud_refuses_a_client_without_a_database_clearly() {
    // Not PostgreSQL-dependent: the CLI reports a bad URL in plain words.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sos-cloud"))
        .args(["migrate", "--database-url", "not a url"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database"), "{err}");
}

#[allow(dead_code)]
fn _client_is_send(c: Client) -> impl Send {
    c
}

#[tokio::test]
async fn migrations_run_once_concurrently_and_refuse_a_newer_database() {
    let db = TestDb::create().await;
    // Several processes starting at once on an empty database.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = db.url.clone();
        tasks.push(tokio::spawn(async move {
            let pool = cloud_server::db::pool(&url, 2).unwrap();
            cloud_server::db::migrate(&pool).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let pool = db.pool().await;
    let c = pool.get().await.unwrap();
    let versions: Vec<i32> = c
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Each migration once, in order, none missing.
    let all: Vec<i32> = (1..=cloud_server::db::schema_version()).collect();
    assert_eq!(versions, all);
    assert!(all.len() >= 7);
    c.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (99, 'future')",
        &[],
    )
    .await
    .unwrap();
    let e = cloud_server::db::migrate(&pool).await.unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}
