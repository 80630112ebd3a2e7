//! The box's local SQLite replica (crate sos-store): every SQL statement of
//! the box is here, and every one names its tenant.
//!
//! One writer thread owns the only write connection and commits in groups:
//! every write job waiting when a transaction starts runs in it (each in its
//! own savepoint, so one failing job never undoes another), then one fsync
//! makes them all durable before any caller hears "done". Readers use their
//! own connections; WAL mode means they never block the writer.

mod records;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::OpenFlags;
use rusqlite_migration::{M, Migrations};
use tokio::sync::{mpsc, oneshot};

pub use records::*;
// The connection types the store's callers write with, so they need no
// rusqlite of their own.
pub use rusqlite::{Connection, Transaction};

/// The schema this build knows. A database migrated by a newer build is
/// refused, never touched.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/001_initial.sql")),
        M::up(include_str!("../migrations/002_cast.sql")),
        M::up(include_str!("../migrations/003_ticket_index.sql")),
        M::up(include_str!("../migrations/004_staff_from_cloud.sql")),
        M::up(include_str!("../migrations/005_entitlements.sql")),
    ])
}

pub const SCHEMA_VERSION: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database at {path} was written by a newer version of SOS Edge (schema {found}, this build knows {known}); refusing to open it so nothing is lost"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("bad stored data: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

type Job = Box<dyn FnOnce(&Transaction<'_>) -> Box<dyn FnOnce(bool) + Send> + Send>;

/// Handle to the replica. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Idle read connections kept open between requests. Opening one parses the
/// schema again, so a burst of check-ins needs enough warm ones (the bench
/// measured a third less throughput with 4).
const MAX_IDLE_READERS: usize = 16;

/// Largest number of write jobs folded into one transaction.
const MAX_GROUP: usize = 512;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Temporary tables and savepoint journals hold copies of pages (patient
    // names): keep them in memory, never in /var/tmp.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) and migrates the database, then starts the
    /// writer thread.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        // Check the version before anything writes to the file (even
        // switching to WAL rewrites the header).
        let found: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: in WAL mode NORMAL may lose the last commits on power loss,
        // and a check-in acknowledged to a phone must survive that.
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Migration(e.to_string()))?;

        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Migration(format!("cannot start writer thread: {e}")))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
                writer_thread: Mutex::new(Some(handle)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's transaction; returns once it is durable.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |txn| {
            let outcome = run_in_savepoint(txn, f);
            Box::new(move |committed: bool| {
                let outcome = match outcome {
                    Ok(v) if committed => Ok(v),
                    Ok(_) => Err(StoreError::Conflict(
                        "the change could not be saved; please try again".into(),
                    )),
                    Err(e) => Err(e),
                };
                let _ = done_tx.send(outcome);
            })
        });
        {
            let guard = self.inner.jobs.lock().map_err(|_| StoreError::WriterGone)?;
            let sender = guard.as_ref().ok_or(StoreError::WriterGone)?;
            sender.send(job).map_err(|_| StoreError::WriterGone)?;
        }
        done_rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` on a read connection off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|_| StoreError::WriterGone)?
    }

    /// Same as [`Store::read`] for code already off the runtime.
    pub fn read_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let conn = self.take_reader()?;
        let out = f(&conn);
        if let Ok(mut pool) = self.inner.readers.lock() {
            // Keep a few warm readers; a burst's extra connections (each with
            // its own page cache) are closed rather than kept forever.
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        out
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        if let Some(c) = self.inner.readers.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        Ok(conn)
    }

    /// Stops the writer after the jobs already queued, and waits for it so the
    /// database is checkpointed and closed cleanly.
    pub fn close(&self) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.take();
        }
        if let Ok(mut readers) = self.inner.readers.lock() {
            readers.clear();
        }
        let handle = self
            .inner
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// True once the database is open, migrated and the writer is running.
    pub fn is_ready(&self) -> bool {
        self.inner.jobs.lock().map(|j| j.is_some()).unwrap_or(false)
    }
}

fn run_in_savepoint<T, F>(txn: &Transaction<'_>, f: F) -> StoreResult<T>
where
    F: FnOnce(&Transaction<'_>) -> StoreResult<T>,
{
    txn.execute_batch("SAVEPOINT job")?;
    match f(txn) {
        Ok(v) => {
            txn.execute_batch("RELEASE job")?;
            Ok(v)
        }
        Err(e) => {
            txn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            Err(e)
        }
    }
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let txn = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot begin write transaction");
                for job in batch {
                    // Jobs never ran; report failure by dropping their reply.
                    drop(job);
                }
                continue;
            }
        };
        let finishers: Vec<_> = batch.into_iter().map(|job| job(&txn)).collect();
        let committed = match txn.commit() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "write transaction failed to commit");
                false
            }
        };
        for finish in finishers {
            finish(committed);
        }
    }
    // Channel closed: fold the WAL back so the file is complete on its own.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database failed");
    }
}

/// Milliseconds since the Unix epoch, the time format of every table.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloud_sync::events::{BoxEvent, VoiceSeconds};

    fn voice_seconds(at: i64) -> BoxEvent {
        BoxEvent::VoiceSeconds(VoiceSeconds { seconds: 1.0, at })
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    fn tenant() -> TenantConfig {
        TenantConfig {
            tenant_id: "t1".into(),
            name: "T".into(),
            vertical: "dental".into(),
            agent_name: "A".into(),
            agent_voice: "v".into(),
            plan: "pro".into(),
            status: "active".into(),
            branding: Branding::default(),
            settings: Settings::default(),
            entitlements: None,
            config_version: 1,
        }
    }

    #[tokio::test]
    async fn a_failing_write_in_a_group_never_undoes_the_others() {
        let (_d, store) = open();
        store.write(|t| upsert_tenant(t, &tenant())).await.unwrap();
        let mut jobs = Vec::new();
        for i in 0..50 {
            let s = store.clone();
            jobs.push(tokio::spawn(async move {
                s.write(move |t| {
                    if i % 7 == 0 {
                        enqueue_event(t, "t1", &voice_seconds(i))?;
                        return Err(StoreError::Conflict("refused".into()));
                    }
                    enqueue_event(t, "t1", &voice_seconds(i))
                })
                .await
            }));
        }
        let mut ok = 0;
        for j in jobs {
            if j.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        let stored = store.read(|c| count_pending_events(c, "t1")).await.unwrap();
        assert_eq!(ok, 42);
        assert_eq!(stored, 42, "failed jobs left nothing, good ones all stayed");
    }

    #[tokio::test]
    async fn a_box_audit_entry_goes_to_the_cloud_with_its_change_and_without_its_detail() {
        let (_d, store) = open();
        store
            .write(|t| {
                upsert_tenant(t, &tenant())?;
                append_audit(
                    t,
                    "t1",
                    "staff:desk",
                    "checkin.called",
                    "c-1",
                    &serde_json::json!({"room": "Room 2"}),
                )?;
                append_audit(
                    t,
                    "t1",
                    CLOUD_ACTOR,
                    "config.synced",
                    "tenant",
                    &serde_json::json!({}),
                )
            })
            .await
            .unwrap();
        // A change that fails takes its entry and its event with it.
        let failed = store
            .write(|t| {
                append_audit(
                    t,
                    "t1",
                    "staff:desk",
                    "display.paired",
                    "tv-1",
                    &serde_json::json!({}),
                )?;
                Err::<(), _>(StoreError::Conflict("refused".into()))
            })
            .await;
        assert!(failed.is_err());
        let events = store.read(|c| pending_events(c, "t1", 10)).await.unwrap();
        assert_eq!(
            events.len(),
            1,
            "the cloud's own change is not sent back: {events:?}"
        );
        assert_eq!(events[0].kind, "audit.entry");
        let p = &events[0].payload;
        assert_eq!(
            (
                p["actor"].as_str(),
                p["action"].as_str(),
                p["subject"].as_str()
            ),
            (Some("staff:desk"), Some("checkin.called"), Some("c-1"))
        );
        assert!(
            !p.to_string().contains("Room 2"),
            "the detail stays on the box: {p}"
        );
    }

    #[tokio::test]
    async fn the_audit_log_cannot_be_edited_or_deleted() {
        let (_d, store) = open();
        store
            .write(|t| {
                upsert_tenant(t, &tenant())?;
                append_audit(t, "t1", "me", "x", "y", &serde_json::json!({}))
            })
            .await
            .unwrap();
        let upd = store
            .write(|t| Ok(t.execute("UPDATE audit_log SET actor = 'someone else'", [])?))
            .await;
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let del = store
            .write(|t| Ok(t.execute("DELETE FROM audit_log", [])?))
            .await;
        assert!(del.is_err());
        let rows = store.read(|c| recent_audit(c, "t1", 10)).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor, "me");
    }

    #[tokio::test]
    async fn acknowledged_events_are_marked_once() {
        let (_d, store) = open();
        let id = store
            .write(|t| {
                upsert_tenant(t, &tenant())?;
                enqueue_event(t, "t1", &voice_seconds(1))
            })
            .await
            .unwrap();
        let ids = vec![id.clone(), id, "unknown".to_string()];
        let first = {
            let ids = ids.clone();
            store
                .write(move |t| mark_events_sent(t, "t1", &ids, 5))
                .await
                .unwrap()
        };
        let again = store
            .write(move |t| mark_events_sent(t, "t1", &ids, 6))
            .await
            .unwrap();
        assert_eq!((first, again), (1, 0));
        assert_eq!(
            store.read(|c| count_pending_events(c, "t1")).await.unwrap(),
            0
        );
    }
}
