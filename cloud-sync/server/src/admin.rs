//! Operator actions: provisioning tokens, devices, appointments, staff
//! (tenants themselves are [`crate::tenants`]).
//! Used by the `sos-cloud` CLI (and by tests). Every change to what a box
//! sees bumps the tenant's `config_version` and NOTIFYs, in one transaction.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloud_sync::wire::Appointment;
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use crate::db::{CONFIG_CHANNEL, DbError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("no tenant {0}")]
    NoTenant(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<tokio_postgres::Error> for AdminError {
    fn from(e: tokio_postgres::Error) -> Self {
        AdminError::Db(DbError::Postgres(e))
    }
}

impl From<deadpool_postgres::PoolError> for AdminError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        AdminError::Db(DbError::Pool(e))
    }
}

/// Adds or replaces appointments; returns the new config version.
pub async fn put_appointments(
    pool: &Pool,
    tenant: &str,
    appointments: &[Appointment],
) -> Result<i64, AdminError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let exists = tx
        .query_opt("SELECT 1 FROM tenants WHERE tenant_id = $1", &[&tenant])
        .await?;
    if exists.is_none() {
        return Err(AdminError::NoTenant(tenant.into()));
    }
    let stmt = tx
        .prepare(
            "INSERT INTO appointments (tenant_id, appointment_id, patient_id, first_name, last_name,
                 date_of_birth, provider_id, provider_name, local_date, starts_at, kind, notes, cancelled)
             VALUES ($1, $2, $3, $4, $5, $6::text::date, $7, $8, $9::text::date, $10, $11, $12, $13)
             ON CONFLICT (tenant_id, appointment_id) DO UPDATE SET
                 patient_id = excluded.patient_id, first_name = excluded.first_name,
                 last_name = excluded.last_name, date_of_birth = excluded.date_of_birth,
                 provider_id = excluded.provider_id, provider_name = excluded.provider_name,
                 local_date = excluded.local_date, starts_at = excluded.starts_at,
                 kind = excluded.kind, notes = excluded.notes, cancelled = excluded.cancelled",
        )
        .await?;
    for a in appointments {
        if !is_date(&a.date_of_birth) || !is_date(&a.local_date) {
            return Err(AdminError::Invalid(format!(
                "appointment {}: dates must be YYYY-MM-DD",
                a.appointment_id
            )));
        }
        tx.execute(
            &stmt,
            &[
                &tenant,
                &a.appointment_id,
                &a.patient_id,
                &a.first_name,
                &a.last_name,
                &a.date_of_birth,
                &a.provider_id,
                &a.provider_name,
                &a.local_date,
                &a.starts_at,
                &a.kind,
                &a.notes,
                &a.cancelled,
            ],
        )
        .await?;
    }
    let v = bump_version(&*tx, tenant).await?;
    tx.commit().await?;
    Ok(v)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

pub(crate) async fn bump_version(tx: &impl GenericClient, tenant: &str) -> Result<i64, AdminError> {
    let v: i64 = tx
        .query_one(
            "UPDATE tenants SET config_version = config_version + 1, updated_at = now()
             WHERE tenant_id = $1 RETURNING config_version",
            &[&tenant],
        )
        .await?
        .try_get(0)?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CONFIG_CHANNEL, &tenant])
        .await?;
    Ok(v)
}

/// Box provisioning tokens start with this.
pub const PROVISIONING_PREFIX: &str = "sos_prov_";

/// A new random secret (256 bits, URL-safe) with a prefix that says what it
/// is; only its [`token_hash`] is ever stored.
pub fn new_secret(prefix: &str) -> Result<String, AdminError> {
    let mut raw = [0u8; 32];
    cloud_sync::auth::random_bytes(&mut raw).map_err(|e| AdminError::Invalid(e.to_string()))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw)))
}

pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues a one-time provisioning token valid for `ttl`; returns it (only
/// its hash is stored).
pub async fn create_token(pool: &Pool, tenant: &str, ttl: Duration) -> Result<String, AdminError> {
    let client = pool.get().await?;
    Ok(issue_token(&**client, tenant, ttl, "operator", None)
        .await?
        .0)
}

/// A one-time provisioning token of `tenant`, issued by `actor`: (the
/// token, when it expires as "YYYY-MM-DD HH:MM UTC").
pub async fn issue_token(
    client: &impl GenericClient,
    tenant: &str,
    ttl: Duration,
    actor: &str,
    from: Option<&RequestFrom>,
) -> Result<(String, String), AdminError> {
    let token = new_secret(PROVISIONING_PREFIX)?;
    let secs = ttl.as_secs() as f64;
    let row = client
        .query_opt(
            "INSERT INTO provisioning_tokens (token_hash, tenant_id, expires_at)
             SELECT $1, tenant_id, now() + make_interval(secs => $3)
             FROM tenants WHERE tenant_id = $2
             RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"')",
            &[&token_hash(&token), &tenant, &secs],
        )
        .await?;
    let Some(row) = row else {
        return Err(AdminError::NoTenant(tenant.into()));
    };
    audit(client, Some(tenant), actor, "token.created", tenant, from).await?;
    Ok((token, row.try_get(0)?))
}

/// Revokes a device: its calls are refused from now on. Returns false when
/// no such active device exists.
pub async fn revoke_device(pool: &Pool, device_id: &str) -> Result<bool, AdminError> {
    let client = pool.get().await?;
    revoke(&**client, None, device_id, "operator", None).await
}

/// Revokes `device_id`, only within `tenant` when given (an owner's page);
/// audited as `actor`'s. False when no such active device exists.
pub async fn revoke(
    client: &impl GenericClient,
    tenant: Option<&str>,
    device_id: &str,
    actor: &str,
    from: Option<&RequestFrom>,
) -> Result<bool, AdminError> {
    let row = client
        .query_opt(
            "UPDATE devices SET revoked_at = now()
             WHERE device_id = $1 AND ($2::text IS NULL OR tenant_id = $2) AND revoked_at IS NULL
             RETURNING tenant_id",
            &[&device_id, &tenant],
        )
        .await?;
    match row {
        Some(r) => {
            let tenant: String = r.try_get(0)?;
            audit(
                client,
                Some(&tenant),
                actor,
                "device.revoked",
                device_id,
                from,
            )
            .await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    pub device_id: String,
    pub name: String,
    pub revoked: bool,
    pub last_seen_ms: Option<i64>,
}

pub async fn list_devices(pool: &Pool, tenant: &str) -> Result<Vec<DeviceInfo>, AdminError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT device_id, name, revoked_at IS NOT NULL,
                    (extract(epoch FROM last_seen_at) * 1000)::bigint
             FROM devices WHERE tenant_id = $1 ORDER BY enrolled_at",
            &[&tenant],
        )
        .await?;
    let info = rows
        .iter()
        .map(|r| {
            Ok(DeviceInfo {
                device_id: r.try_get(0)?,
                name: r.try_get(1)?,
                revoked: r.try_get(2)?,
                last_seen_ms: r.try_get(3)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(info)
}

pub async fn audit(
    client: &impl GenericClient,
    tenant: Option<&str>,
    actor: &str,
    action: &str,
    subject: &str,
    from: Option<&RequestFrom>,
) -> Result<(), AdminError> {
    let (ip, user_agent) =
        from.map_or((None, None), |f| (f.ip.as_deref(), f.user_agent.as_deref()));
    client
        .execute(
            "INSERT INTO audit_log (tenant_id, actor, action, subject, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&tenant, &actor, &action, &subject, &ip, &user_agent],
        )
        .await?;
    Ok(())
}

/// Where a change made from a browser came from, as the audit log records
/// it (the command line and Stripe leave it empty).
#[derive(Debug, Clone, Default)]
pub struct RequestFrom {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Sets a staff member's PIN or password (hashed here with argon2id; only
/// the hash is stored and sent to the boxes). Returns the new config version.
pub async fn set_staff(
    pool: &Pool,
    tenant: &str,
    staff_id: &str,
    name: &str,
    secret: &str,
) -> Result<i64, AdminError> {
    if secret.chars().count() < 4 {
        return Err(AdminError::Invalid(
            "a PIN needs at least 4 characters".into(),
        ));
    }
    if staff_id.trim().is_empty() || name.trim().is_empty() {
        return Err(AdminError::Invalid("staff id and name are required".into()));
    }
    let hash = crate::accounts::hash_password(secret)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "INSERT INTO staff (tenant_id, staff_id, name, secret_hash)
             SELECT tenant_id, $2, $3, $4 FROM tenants WHERE tenant_id = $1
             ON CONFLICT (tenant_id, staff_id) DO UPDATE SET
                 name = excluded.name, secret_hash = excluded.secret_hash, updated_at = now()",
            &[&tenant, &staff_id, &name, &hash],
        )
        .await?;
    if n == 0 {
        return Err(AdminError::NoTenant(tenant.into()));
    }
    audit(
        &*tx,
        Some(tenant),
        "operator",
        "staff.secret_set",
        staff_id,
        None,
    )
    .await?;
    let v = bump_version(&*tx, tenant).await?;
    tx.commit().await?;
    Ok(v)
}

/// Removes a staff member: every box of the tenant drops them (and signs
/// them out) with its next config. Returns the new config version, or
/// `Invalid` when the tenant has no such staff member.
pub async fn remove_staff(pool: &Pool, tenant: &str, staff_id: &str) -> Result<i64, AdminError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "DELETE FROM staff WHERE tenant_id = $1 AND staff_id = $2",
            &[&tenant, &staff_id],
        )
        .await?;
    if n == 0 {
        return Err(AdminError::Invalid(format!(
            "tenant {tenant} has no staff member {staff_id}"
        )));
    }
    audit(
        &*tx,
        Some(tenant),
        "operator",
        "staff.removed",
        staff_id,
        None,
    )
    .await?;
    let v = bump_version(&*tx, tenant).await?;
    tx.commit().await?;
    Ok(v)
}
