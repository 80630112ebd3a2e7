//! PostgreSQL: the pool, versioned migrations, and the LISTEN connection
//! that wakes config long-polls (in this and every other `sos-cloud`).

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

/// The schema, in order. Each runs once, inside one transaction, under an
/// advisory lock so several processes starting together do not race.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (2, "staff", include_str!("../migrations/0002_staff.sql")),
    (
        3,
        "events without row checks",
        include_str!("../migrations/0003_events_without_row_checks.sql"),
    ),
    (
        4,
        "stripe events",
        include_str!("../migrations/0004_stripe_events.sql"),
    ),
    (
        5,
        "onboarding",
        include_str!("../migrations/0005_onboarding.sql"),
    ),
    (
        6,
        "email links",
        include_str!("../migrations/0006_email_links.sql"),
    ),
    (
        7,
        "sessions",
        include_str!("../migrations/0007_sessions.sql"),
    ),
    (
        8,
        "box_config_version",
        include_str!("../migrations/0008_box_config_version.sql"),
    ),
    (
        9,
        "box_reports",
        include_str!("../migrations/0009_box_reports.sql"),
    ),
    (
        10,
        "checkins_by_day",
        include_str!("../migrations/0010_checkins_by_day.sql"),
    ),
    (
        11,
        "log_in_as",
        include_str!("../migrations/0011_log_in_as.sql"),
    ),
    (
        12,
        "box_certificates",
        include_str!("../migrations/0012_box_certificates.sql"),
    ),
];

/// The schema version this build migrates to.
pub fn schema_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// NOTIFY channel for config changes; the payload is the tenant id.
pub const CONFIG_CHANNEL: &str = "sos_config";
/// Broadcast to every waiter when notifications may have been missed.
pub const WAKE_ALL: &str = "*";

const MIGRATION_LOCK: i64 = 0x5050_5359_4e43; // "SOSYNC"

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("cannot create the database pool: {0}")]
    Build(String),
    #[error(
        "the database has schema version {found}, newer than this sos-cloud knows ({known}); refusing to run"
    )]
    TooNew { found: i32, known: i32 },
}

pub fn pool(url: &str, max_size: usize) -> Result<Pool, DbError> {
    let cfg = tokio_postgres::Config::from_str(url).map_err(|e| DbError::BadUrl(e.to_string()))?;
    build_pool(cfg, max_size)
}

/// A pool whose connections commit without waiting for the disk. Only for
/// request authentication (the nonce and last-seen time): losing the last
/// few nonces in a database crash only re-opens replays of requests that
/// are idempotent anyway (config reads, event batches keyed by event id),
/// and it saves an fsync per call. Nothing else may use it.
pub fn auth_pool(url: &str, max_size: usize) -> Result<Pool, DbError> {
    let mut cfg =
        tokio_postgres::Config::from_str(url).map_err(|e| DbError::BadUrl(e.to_string()))?;
    let options = match cfg.get_options() {
        Some(o) if !o.is_empty() => format!("{o} -c synchronous_commit=off"),
        _ => "-c synchronous_commit=off".to_string(),
    };
    cfg.options(options);
    build_pool(cfg, max_size)
}

fn build_pool(cfg: tokio_postgres::Config, max_size: usize) -> Result<Pool, DbError> {
    let mgr = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(mgr)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Build(e.to_string()))
}

/// Applies the migrations this build knows; returns the schema version.
pub async fn migrate(pool: &Pool) -> Result<i32, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let found: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if found > known {
        return Err(DbError::TooNew { found, known });
    }
    for (version, name, sql) in MIGRATIONS {
        if *version <= found {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tracing::info!(version, name, "applied migration");
    }
    tx.commit().await?;
    Ok(known)
}

/// Keeps one connection LISTENing on [`CONFIG_CHANNEL`] and forwards each
/// tenant id to `tx`. On any reconnect it sends [`WAKE_ALL`] so waiters
/// re-check (a notification may have been missed meanwhile).
pub async fn listen_config_changes(url: String, tx: broadcast::Sender<String>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match listen_once(&url, &tx).await {
            Ok(()) => tracing::warn!("config listener connection closed; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "config listener failed; reconnecting"),
        }
        let _ = tx.send(WAKE_ALL.to_string());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen_once(url: &str, tx: &broadcast::Sender<String>) -> Result<(), DbError> {
    let (client, mut conn) = tokio_postgres::connect(url, NoTls).await?;
    let (msg_tx, mut msg_rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(AsyncMessage::Notification(n)) => {
                    if msg_tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "config listener connection error");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CONFIG_CHANNEL}"))
        .await?;
    // Listening now: anything changed before is picked up by re-checking.
    let _ = tx.send(WAKE_ALL.to_string());
    while let Some(tenant) = msg_rx.recv().await {
        let _ = tx.send(tenant);
    }
    driver.abort();
    drop(client);
    Ok(())
}

/// Log line for a database error without row values (constraint details
/// may contain patient data).
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
