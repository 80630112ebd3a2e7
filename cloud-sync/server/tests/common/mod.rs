//! Test harness: a fresh PostgreSQL database per test on 127.0.0.1:5432
//! (run `scripts/postgres.sh` to get one) and real `sos-cloud` processes.
#![allow(dead_code)]

pub mod acme;
pub mod box_process;
pub mod chaos;
pub mod dashboard;
pub mod in_process;
pub mod smtp;
pub mod stripe;
pub mod vm;
// One private CA for the box's HTTPS tests and these.
#[path = "../../../../appliance/tests/common/tls.rs"]
pub mod tls;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cloud_sync::DeviceKey;
use cloud_sync::client::{Client, Device};
use deadpool_postgres::Pool;

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let admin = match tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                client
            }
            Err(e) => panic!(
                "no PostgreSQL answers at 127.0.0.1:5432 as user postgres ({e}); \
                 run scripts/postgres.sh (CI: .ci/run does) and try again"
            ),
        };
        let mut raw = [0u8; 6];
        cloud_sync::auth::random_bytes(&mut raw).expect("random");
        let name = format!(
            "sos_test_{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        TestDb {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }

    /// A pool on the test database with the schema applied (the same
    /// migration code the server runs, under the same advisory lock).
    pub async fn pool(&self) -> Pool {
        let pool = cloud_server::db::pool(&self.url, 4).expect("pool");
        cloud_server::db::migrate(&pool).await.expect("migrate");
        pool
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Own thread and runtime: Drop may run inside or outside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A running `sos-cloud serve` process.
pub struct Cloud {
    child: Child,
    pub url: String,
}

impl Cloud {
    pub fn start(db: &TestDb) -> Cloud {
        Cloud::start_on(db, "127.0.0.1:0")
    }

    /// Starts on a given address (a restart keeps the boxes' cloud URL).
    pub fn start_on(db: &TestDb, listen: &str) -> Cloud {
        Cloud::start_with(db, listen, &[])
    }

    /// Starts with more `serve` arguments (e.g. `--tls-cert`).
    pub fn start_with(db: &TestDb, listen: &str, extra: &[&str]) -> Cloud {
        Cloud::start_logging(db, listen, extra, None)
    }

    /// Starts with its log (at `filter`, `SOS_LOG` syntax) written to a
    /// file, for tests that read what it logs.
    pub fn start_logging(
        db: &TestDb,
        listen: &str,
        extra: &[&str],
        log: Option<(&std::path::Path, &str)>,
    ) -> Cloud {
        // SOS_CLOUD_BIN: e.g. a release build for the benchmarks.
        let bin = std::env::var("SOS_CLOUD_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sos-cloud").to_string());
        let pool: &[&str] = if extra.contains(&"--pool-size") {
            &[]
        } else {
            &["--pool-size", "8"]
        };
        let mut child = Command::new(bin)
            .args(["serve", "--listen", listen])
            .args(pool)
            .args(extra)
            .env("SOS_DATABASE_URL", &db.url)
            .env("SOS_LOG", log.map_or("warn", |(_, filter)| filter))
            .stdout(Stdio::piped())
            .stderr(match log {
                Some((path, _)) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("start sos-cloud");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read sos-cloud output");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected sos-cloud output: {line:?}"))
            .to_string();
        let cloud = Cloud { child, url };
        cloud.wait_ready();
        cloud
    }

    fn wait_ready(&self) {
        // Over HTTPS the first request simply waits in the listen backlog
        // until the server is up.
        let Some(addr) = self.url.strip_prefix("http://") else {
            return;
        };
        for _ in 0..100 {
            if let Ok(mut s) = std::net::TcpStream::connect(addr) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sos-cloud at {} never became healthy", self.url);
    }

    /// The process id (benchmarks read its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url).expect("client")
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn tenant(pool: &Pool, name: &str) -> String {
    cloud_server::tenants::create_tenant(
        pool,
        cloud_server::tenants::TenantFields {
            name: Some(name.into()),
            vertical: Some("dental".into()),
            ..Default::default()
        },
    )
    .await
    .expect("create tenant")
}

pub async fn token(pool: &Pool, tenant: &str) -> String {
    cloud_server::admin::create_token(pool, tenant, Duration::from_secs(3600))
        .await
        .expect("create token")
}

/// Enrolls a new device of `tenant`.
pub async fn device(pool: &Pool, client: &Client, tenant: &str) -> Device {
    let t = token(pool, tenant).await;
    let key = DeviceKey::generate().expect("key");
    let r = client.enroll(&t, &key, "test box").await.expect("enroll");
    assert_eq!(r.tenant_id, tenant);
    Device {
        device_id: r.device_id,
        key,
    }
}

pub async fn count(pool: &Pool, sql: &str, tenant: &str) -> i64 {
    let c = pool.get().await.expect("conn");
    c.query_one(sql, &[&tenant]).await.expect("count").get(0)
}

pub fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn arrived(seq: i64, checkin_id: &str) -> cloud_sync::wire::Event {
    cloud_sync::wire::Event {
        event_id: uuid(),
        seq,
        kind: "checkin.arrived".into(),
        payload: serde_json::json!({
            "checkin_id": checkin_id, "appointment_id": "a1", "patient_id": "p1",
            "walk_in": false, "method": "qr", "local_date": "2026-11-22",
            "ticket": seq, "arrived_at": 1_000 + seq,
        }),
        created_at: 1_000 + seq,
    }
}

pub fn status(seq: i64, checkin_id: &str, status: &str) -> cloud_sync::wire::Event {
    cloud_sync::wire::Event {
        event_id: uuid(),
        seq,
        kind: "checkin.status".into(),
        payload: serde_json::json!({
            "checkin_id": checkin_id, "status": status, "room": "Room 2", "at": 2_000 + seq,
        }),
        created_at: 2_000 + seq,
    }
}

pub fn billing(seq: i64, checkin_id: &str) -> cloud_sync::wire::Event {
    cloud_sync::wire::Event {
        event_id: uuid(),
        seq,
        kind: "billing.checkin_processed".into(),
        payload: serde_json::json!({"checkin_id": checkin_id, "method": "qr", "at": 1_000 + seq}),
        created_at: 1_000 + seq,
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The UTC calendar date of `ms` (unix milliseconds) as YYYY-MM-DD.
pub fn date_of(ms: i64) -> String {
    let z = ms.div_euclid(86_400_000) + 719_468;
    // Howard Hinnant's days-to-civil.
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    date_of(cloud_sync::auth::now_ms())
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if f().await {
            return;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A clinic set up by hand with its owner's password already set (as the
/// welcome email's link would); returns (tenant, account).
pub async fn owner_with_password(
    pool: &Pool,
    name: &str,
    email: &str,
    password: &str,
) -> (String, String) {
    let tenant = cloud_server::tenants::create_clinic_by_hand(
        pool,
        cloud_server::tenants::TenantFields {
            name: Some(name.into()),
            vertical: Some("dental".into()),
            ..Default::default()
        },
        email,
    )
    .await
    .expect("create clinic");
    let hash = cloud_server::accounts::hash_password(password).expect("hash");
    let account: String = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "UPDATE accounts SET password_hash = $2 WHERE tenant_id = $1 RETURNING account_id",
            &[&tenant, &hash],
        )
        .await
        .expect("set password")
        .get(0);
    (tenant, account)
}

/// A browser-like HTTP client: keeps cookies, never follows redirects (the
/// tests look at where they go).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of a form's hidden `csrf` field in a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

/// Bright Smile Dental (UTC, walk-ins allowed) with one appointment today:
/// Sarah Jones, born 1985-04-12, with Dr. Lee in an hour.
pub async fn practice(pool: &Pool) -> String {
    let t = cloud_server::tenants::create_tenant(
        pool,
        cloud_server::tenants::TenantFields {
            name: Some("Bright Smile Dental".into()),
            vertical: Some("dental".into()),
            plan: Some("pro".into()),
            status: Some("active".into()),
            settings: Some(serde_json::json!({"timezone": "UTC", "allow_walk_ins": true})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    cloud_server::admin::put_appointments(
        pool,
        &t,
        &[cloud_sync::wire::Appointment {
            appointment_id: "appt-1".into(),
            patient_id: "pat-1".into(),
            first_name: "Sarah".into(),
            last_name: "Jones".into(),
            date_of_birth: "1985-04-12".into(),
            provider_id: "dr-lee".into(),
            provider_name: "Dr. Lee".into(),
            local_date: today(),
            starts_at: cloud_sync::auth::now_ms() + 3_600_000,
            kind: "Cleaning".into(),
            notes: String::new(),
            cancelled: false,
        }],
    )
    .await
    .unwrap();
    t
}
