//! Config down: the tenant's config version, and the whole config (the
//! practice, appointments from yesterday to two weeks ahead, front-desk
//! staff) read as one snapshot. The cloud is the authority; the box
//! replaces what it has with it.

use cloud_sync::plans::PlanTable;
use cloud_sync::wire::{Appointment, ConfigResponse, PROTOCOL_VERSION, Staff, TenantConfig};
use deadpool_postgres::Pool;
use tokio_postgres::Row;

use crate::db::DbError;

/// The tenant's current config version.
pub async fn current_version(pool: &Pool, tenant: &str) -> Result<i64, DbError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached("SELECT config_version FROM tenants WHERE tenant_id = $1")
        .await?;
    let row = client.query_one(&stmt, &[&tenant]).await?;
    Ok(row.try_get(0)?)
}

/// "Nothing changed since `version`."
pub fn unchanged(version: i64) -> ConfigResponse {
    ConfigResponse {
        protocol: PROTOCOL_VERSION,
        changed: false,
        config_version: version,
        tenant: None,
        appointments: Vec::new(),
        staff: Vec::new(),
    }
}

/// The whole config in one snapshot (REPEATABLE READ: version, tenant and
/// appointments agree).
pub async fn snapshot(pool: &Pool, tenant: &str) -> Result<ConfigResponse, DbError> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let t = tx
        .query_one(
            "SELECT tenant_id, name, vertical, agent_name, agent_voice, plan, status,
                    branding::text, settings::text, config_version
             FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?;
    let (tenant_cfg, version) = tenant_of(&t)?;
    // Yesterday onwards (time zones), two weeks ahead.
    let appointments = tx
        .query(
            "SELECT appointment_id, patient_id, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), provider_id, provider_name,
                    to_char(local_date, 'YYYY-MM-DD'), starts_at, kind, notes, cancelled
             FROM appointments
             WHERE tenant_id = $1 AND local_date >= current_date - 1
                   AND local_date <= current_date + 14
             ORDER BY starts_at, appointment_id",
            &[&tenant],
        )
        .await?
        .iter()
        .map(appointment_of)
        .collect::<Result<_, _>>()?;
    let staff = tx
        .query(
            "SELECT staff_id, name, secret_hash FROM staff WHERE tenant_id = $1 ORDER BY staff_id",
            &[&tenant],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Staff {
                staff_id: r.try_get(0)?,
                name: r.try_get(1)?,
                secret_hash: r.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    tx.commit().await?;
    Ok(ConfigResponse {
        protocol: PROTOCOL_VERSION,
        changed: true,
        config_version: version,
        tenant: Some(tenant_cfg),
        appointments,
        staff,
    })
}

fn tenant_of(t: &Row) -> Result<(TenantConfig, i64), tokio_postgres::Error> {
    // jsonb read back as text is always valid JSON.
    let json = |i: usize| -> Result<serde_json::Value, tokio_postgres::Error> {
        let text: String = t.try_get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let config = TenantConfig {
        tenant_id: t.try_get(0)?,
        name: t.try_get(1)?,
        vertical: t.try_get(2)?,
        agent_name: t.try_get(3)?,
        agent_voice: t.try_get(4)?,
        plan: t.try_get(5)?,
        status: t.try_get(6)?,
        branding: json(7)?,
        settings: json(8)?,
        entitlements: None,
    };
    // What the plan in this status allows travels with it, decided here.
    let config = TenantConfig {
        entitlements: Some(PlanTable::shipped().entitlements(&config.plan, &config.status)),
        ..config
    };
    Ok((config, t.try_get(9)?))
}

fn appointment_of(r: &Row) -> Result<Appointment, tokio_postgres::Error> {
    Ok(Appointment {
        appointment_id: r.try_get(0)?,
        patient_id: r.try_get(1)?,
        first_name: r.try_get(2)?,
        last_name: r.try_get(3)?,
        date_of_birth: r.try_get(4)?,
        provider_id: r.try_get(5)?,
        provider_name: r.try_get(6)?,
        local_date: r.try_get(7)?,
        starts_at: r.try_get(8)?,
        kind: r.try_get(9)?,
        notes: r.try_get(10)?,
        cancelled: r.try_get(11)?,
    })
}
