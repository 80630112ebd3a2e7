//! Devices: enrollment (a one-time provisioning token for a device
//! credential) and the check of every signed request (the device's key,
//! its signature, revocation, the nonce).
//!
//! The HTTP side (`api`) reads the headers and turns [`DeviceError`] into
//! answers; the SQL is here.

use std::collections::HashMap;
use std::sync::RwLock;

use cloud_sync::auth::{AuthError, RequestAuth};
use deadpool_postgres::Pool;

use crate::admin::token_hash;
use crate::db::DbError;

/// The authenticated caller: a device of exactly one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_id: String,
    pub tenant_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("unknown device; enroll the box again")]
    Unknown,
    #[error(
        "this box has been revoked by the practice or the operator; it needs a new enrollment token"
    )]
    Revoked,
    #[error("this request was already received (replayed nonce)")]
    Replayed,
    #[error("this provisioning token is unknown, expired or already used; ask for a new one")]
    TokenInvalid,
    #[error("this device key is already enrolled; generate a new key")]
    KeyTaken,
    #[error("the box's report cannot be stored: {0}")]
    Report(String),
    #[error("the stored public key of device {0} is damaged")]
    StoredKey(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for DeviceError {
    fn from(e: tokio_postgres::Error) -> Self {
        DeviceError::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for DeviceError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        DeviceError::Db(e.into())
    }
}

/// Device id → (tenant, public key), as seen by this process. Both never
/// change for a device id, so caching them is safe across processes;
/// revocation is read from PostgreSQL on every request.
#[derive(Default)]
pub struct DeviceKeys(RwLock<HashMap<String, (String, [u8; 32])>>);

impl DeviceKeys {
    /// Generous for one process; past it the cache starts over.
    const MAX: usize = 200_000;

    fn get(&self, device: &str) -> Option<(String, [u8; 32])> {
        self.0.read().ok()?.get(device).cloned()
    }

    fn put(&self, device: &str, tenant: &str, key: [u8; 32]) {
        if let Ok(mut m) = self.0.write() {
            if m.len() >= Self::MAX {
                m.clear();
            }
            m.insert(device.to_string(), (tenant.to_string(), key));
        }
    }
}

/// Checks a signed request whose headers are `auth` (already parsed and
/// within the time window): the device is known, the signature over
/// `method`, `path` and `body` is its own, it is not revoked, and the nonce
/// is new (then stored: the replay guard, shared by every process).
///
/// `pool` is the asynchronous-commit pool (`db::auth_pool`).
pub async fn authenticate(
    pool: &Pool,
    keys: &DeviceKeys,
    auth: &RequestAuth,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Device, DeviceError> {
    // Prepared once per connection: each call is then one round trip.
    let client = pool.get().await?;
    let (tenant_id, key) = match keys.get(&auth.device_id) {
        Some(known) => known,
        None => {
            let lookup = client
                .prepare_cached("SELECT tenant_id, public_key FROM devices WHERE device_id = $1")
                .await?;
            let row = client
                .query_opt(&lookup, &[&auth.device_id])
                .await?
                .ok_or(DeviceError::Unknown)?;
            let tenant_id: String = row.try_get(0)?;
            let key: Vec<u8> = row.try_get(1)?;
            let key: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| DeviceError::StoredKey(auth.device_id.clone()))?;
            keys.put(&auth.device_id, &tenant_id, key);
            (tenant_id, key)
        }
    };
    auth.verify(&key, method, path, body)?;
    // Revocation, the nonce and the last-seen time in one statement (atomic
    // on its own): a revoked device's nonce is not stored.
    let remember = client
        .prepare_cached(
            "WITH d AS (
                 SELECT revoked_at IS NOT NULL AS revoked FROM devices WHERE device_id = $1
             ), n AS (
                 INSERT INTO device_nonces (device_id, nonce)
                 SELECT $1, $2 FROM d WHERE NOT d.revoked
                 ON CONFLICT DO NOTHING RETURNING 1
             ), seen AS (
                 UPDATE devices SET last_seen_at = now()
                 WHERE device_id = $1 AND EXISTS (SELECT 1 FROM n)
                       AND (last_seen_at IS NULL OR last_seen_at < now() - interval '30 seconds')
             )
             SELECT (SELECT revoked FROM d), (SELECT count(*) FROM n)",
        )
        .await?;
    let row = client
        .query_one(&remember, &[&auth.device_id, &auth.nonce])
        .await?;
    let revoked: Option<bool> = row.try_get(0)?;
    let fresh: i64 = row.try_get(1)?;
    match (revoked, fresh) {
        (None, _) => Err(DeviceError::Unknown),
        (Some(true), _) => Err(DeviceError::Revoked),
        (Some(false), 0) => Err(DeviceError::Replayed),
        (Some(false), _) => Ok(Device {
            device_id: auth.device_id.clone(),
            tenant_id,
        }),
    }
}

/// How long after a token was spent the box that spent it may present it
/// again and be told the same device (its first boot lost the answer).
pub const RESUME_WINDOW_HOURS: i32 = 72;

/// Spends a provisioning token on a new device with `public_key`; the
/// token stays unused if anything fails. The same token with the same key
/// again (within [`RESUME_WINDOW_HOURS`], device not revoked) answers the
/// device it made: a box whose power was cut after the cloud answered
/// resumes its enrollment instead of being refused forever.
pub async fn enroll(
    pool: &Pool,
    token: &str,
    public_key: &[u8],
    name: &str,
) -> Result<Device, DeviceError> {
    let device_id = format!("d-{}", uuid::Uuid::now_v7().simple());
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Single use, race-safe: the row lock makes a concurrent second use wait,
    // then see used_at set and match nothing.
    let row = tx
        .query_opt(
            "UPDATE provisioning_tokens SET used_at = now(), device_id = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING tenant_id",
            &[&token_hash(token), &device_id],
        )
        .await?;
    let Some(row) = row else {
        drop(tx);
        return resume(&client, token, public_key).await;
    };
    let tenant_id: String = row.try_get(0)?;
    let inserted = tx
        .execute(
            "INSERT INTO devices (device_id, tenant_id, public_key, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (public_key) DO NOTHING",
            &[&device_id, &tenant_id, &public_key, &name],
        )
        .await?;
    if inserted == 0 {
        // Dropped without commit: rolled back, the token stays unused.
        return Err(DeviceError::KeyTaken);
    }
    tx.execute(
        "INSERT INTO audit_log (tenant_id, actor, action, subject) VALUES ($1, $2, 'device.enrolled', $2)",
        &[&tenant_id, &device_id],
    )
    .await?;
    tx.commit().await?;
    Ok(Device {
        device_id,
        tenant_id,
    })
}

/// The device a spent token made, if `public_key` is that device's key.
async fn resume(
    client: &deadpool_postgres::Client,
    token: &str,
    public_key: &[u8],
) -> Result<Device, DeviceError> {
    let row = client
        .query_opt(
            "SELECT d.device_id, d.tenant_id FROM provisioning_tokens t
             JOIN devices d ON d.device_id = t.device_id
             WHERE t.token_hash = $1 AND d.public_key = $2 AND d.revoked_at IS NULL
               AND t.used_at > now() - make_interval(hours => $3)",
            &[&token_hash(token), &public_key, &RESUME_WINDOW_HOURS],
        )
        .await?
        .ok_or(DeviceError::TokenInvalid)?;
    let device = Device {
        device_id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
    };
    tracing::info!(device_id = %device.device_id, "enrollment resumed with its spent token");
    Ok(device)
}

/// Records the config version a box says it holds (the `since` of its
/// config long-poll); written only when it moved.
pub async fn holds_config(pool: &Pool, device_id: &str, version: i64) -> Result<(), DeviceError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE devices SET config_version = $2
             WHERE device_id = $1 AND config_version IS DISTINCT FROM $2",
            &[&device_id, &version],
        )
        .await?;
    Ok(())
}

/// Keeps the box's latest report.
pub async fn store_report(
    pool: &Pool,
    device_id: &str,
    report: &cloud_sync::wire::BoxReport,
) -> Result<(), DeviceError> {
    let json = serde_json::to_string(report).map_err(|e| DeviceError::Report(e.to_string()))?;
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE devices SET report = $2::text::jsonb, reported_at = now() WHERE device_id = $1",
            &[&device_id, &json],
        )
        .await?;
    Ok(())
}
