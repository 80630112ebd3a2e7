//! `GET /export.zip`: everything the cloud holds about the practice in one
//! download, a ZIP of CSV files and one JSON, in every status (suspended
//! and cancelled too: plans gate features, never data). Owner only.
//!
//! Streamed: PostgreSQL writes each table as CSV (`COPY … TO STDOUT`),
//! the ZIP is written as the bytes arrive (entries with data descriptors,
//! no seeking back), and chunks go to the browser through a small bounded
//! channel, so a large practice's export never sits in memory and a
//! client that goes away stops the reading. One REPEATABLE READ, READ ONLY
//! transaction: the files agree with each other.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::routes::{Access, Routes};
use super::session::{Refused, RequestFrom, SignedIn, busy};
use crate::admin;
use crate::api::AppState;

pub fn routes(r: Routes) -> Routes {
    r.get("/export.zip", Access::Owner, export)
}

/// The tables, as (file, query). `{t}` is the tenant id as an SQL literal
/// (COPY takes no parameters; the id is checked before it goes in).
pub const FILES: &[(&str, &str)] = &[
    (
        "appointments.csv",
        "SELECT appointment_id, patient_id, first_name, last_name, date_of_birth, provider_id,
                provider_name, local_date, starts_at, kind, notes, cancelled
         FROM appointments WHERE tenant_id = {t} ORDER BY appointment_id",
    ),
    (
        "checkins.csv",
        "SELECT checkin_id, device_id, appointment_id, patient_id, walk_in, method, local_date,
                ticket, status, room, arrived_at, called_at, seen_at
         FROM checkins WHERE tenant_id = {t} ORDER BY checkin_id",
    ),
    (
        "billing_events.csv",
        "SELECT event_id, device_id, kind, checkin_id, quantity, at
         FROM billing_events WHERE tenant_id = {t} ORDER BY event_id",
    ),
    (
        "events.csv",
        "SELECT event_id, device_id, seq, kind, payload, created_at, received_at
         FROM events WHERE tenant_id = {t} ORDER BY event_id",
    ),
    (
        "audit_log.csv",
        "SELECT id, at, actor, action, subject, detail, ip, user_agent
         FROM audit_log WHERE tenant_id = {t} ORDER BY id",
    ),
    (
        "accounts.csv",
        "SELECT account_id, email, role, created_at, removed_at, password_hash IS NOT NULL AS has_password
         FROM accounts WHERE tenant_id = {t} ORDER BY created_at",
    ),
    (
        "front_desk_staff.csv",
        "SELECT staff_id, name, updated_at FROM staff WHERE tenant_id = {t} ORDER BY staff_id",
    ),
    (
        "boxes.csv",
        "SELECT device_id, name, enrolled_at, revoked_at, last_seen_at, config_version, report
         FROM devices WHERE tenant_id = {t} ORDER BY enrolled_at",
    ),
];

/// The practice itself, as one JSON object.
const PRACTICE: &str = "SELECT json_build_object(
        'tenant_id', tenant_id, 'name', name, 'vertical', vertical, 'agent_name', agent_name,
        'agent_voice', agent_voice, 'plan', plan, 'status', status, 'branding', branding,
        'settings', settings, 'config_version', config_version, 'created_at', created_at,
        'updated_at', updated_at, 'past_due_since', past_due_since, 'exported_at', now(),
        'files', $2::text[])::text
     FROM tenants WHERE tenant_id = $1";

/// Chunks in flight to the browser: the memory an export may hold.
const IN_FLIGHT: usize = 8;
/// Bytes gathered before they are sent on.
const CHUNK: usize = 256 * 1024;

/// Tenant ids are ours ("t-" and hex); anything else is not embedded.
fn literal(tenant: &str) -> Option<String> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| format!("'{tenant}'"))
}

/// What the ZIP writer writes into, taken out in chunks.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self, at_least: usize) -> Option<Bytes> {
        let mut buf = self.0.lock().ok()?;
        (buf.len() >= at_least.max(1)).then(|| Bytes::from(std::mem::take(&mut *buf)))
    }
}

#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(transparent)]
    Zip(#[from] zip::result::ZipError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the download was closed")]
    Gone,
}

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

async fn send(tx: &Sender, out: &Shared, at_least: usize) -> Result<(), ExportError> {
    if let Some(bytes) = out.take(at_least) {
        tx.send(Ok(bytes)).await.map_err(|_| ExportError::Gone)?;
    }
    Ok(())
}

/// Writes the whole export into `tx`.
async fn write(
    pool: deadpool_postgres::Pool,
    tenant: String,
    quoted: String,
    tx: Sender,
) -> Result<u64, ExportError> {
    let mut client = pool.get().await?;
    let snapshot = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let out = Shared::default();
    let mut zip = zip::ZipWriter::new_stream(out.clone());
    // Fast deflate: CSV shrinks several times even at level 1, and the
    // export stays faster than the network.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    let names: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
    let practice: String = snapshot
        .query_one(PRACTICE, &[&tenant, &names])
        .await?
        .try_get(0)?;
    zip.start_file("practice.json", options)?;
    zip.write_all(practice.as_bytes())?;
    let mut raw = practice.len() as u64;
    for (name, sql) in FILES {
        zip.start_file(*name, options)?;
        let copy = format!(
            "COPY ({}) TO STDOUT (FORMAT csv, HEADER)",
            sql.replace("{t}", &quoted)
        );
        let rows = snapshot.copy_out(copy.as_str()).await?;
        let mut rows = std::pin::pin!(rows);
        while let Some(chunk) = rows.next().await {
            let chunk = chunk?;
            raw += chunk.len() as u64;
            zip.write_all(&chunk)?;
            send(&tx, &out, CHUNK).await?;
        }
    }
    zip.finish()?;
    send(&tx, &out, 0).await?;
    snapshot.commit().await?;
    Ok(raw)
}

async fn export(State(state): State<Arc<AppState>>, who: SignedIn, from: RequestFrom) -> Response {
    let start = async {
        let tenant = who.owner_page()?.to_string();
        let quoted = literal(&tenant).ok_or(Refused::Busy)?;
        let client = state.pool.get().await.map_err(busy)?;
        let name: String = client
            .query_one("SELECT name FROM tenants WHERE tenant_id = $1", &[&tenant])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(busy)?;
        admin::audit(
            &**client,
            Some(&tenant),
            &who.actor(),
            "export.downloaded",
            &tenant,
            Some(&from),
        )
        .await
        .map_err(busy)?;
        Ok::<_, Refused>((tenant, quoted, name))
    }
    .await;
    let (tenant, quoted, name) = match start {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match write(pool, tenant.clone(), quoted, tx.clone()).await {
            Ok(raw) => tracing::info!(
                %tenant, bytes = raw, seconds = started.elapsed().as_secs_f64(),
                "export streamed"
            ),
            Err(ExportError::Gone) => {
                tracing::info!(%tenant, "export stopped: the download was closed")
            }
            Err(e) => {
                tracing::error!(%tenant, error = %e, "export failed");
                // The browser sees a broken download, not a short ZIP
                // that looks whole.
                let _ = tx
                    .send(Err(std::io::Error::other("the export failed")))
                    .await;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let day = jiff::Timestamp::now().strftime("%Y-%m-%d");
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"sos-edge-{slug}-{day}.zip\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_tenant_ids_go_into_sql() {
        assert_eq!(literal("t-0192abcdef").as_deref(), Some("'t-0192abcdef'"));
        assert_eq!(literal("t'; DROP TABLE tenants; --"), None);
        assert_eq!(literal(""), None);
    }

    #[test]
    fn every_file_names_its_tenant() {
        for (name, sql) in FILES {
            assert!(sql.contains("tenant_id = {t}"), "{name}");
        }
    }
}
