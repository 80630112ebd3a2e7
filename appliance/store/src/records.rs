//! Rows of the replica and the SQL that reads and writes them. Every query
//! names its tenant; nothing here reads across tenants.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use cloud_sync::events::{AuditEntry as AuditSent, BoxEvent};
pub use cloud_sync::practice::{Branding, NameDisplay, Settings, TemplateOverrides};

use super::{StoreError, StoreResult, now_ms};

// ---------------------------------------------------------------- tenant

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantConfig {
    pub tenant_id: String,
    pub name: String,
    pub vertical: String,
    pub agent_name: String,
    pub agent_voice: String,
    pub plan: String,
    pub status: String,
    pub branding: Branding,
    pub settings: Settings,
    /// From the cloud's config; `None` on a box without a cloud.
    pub entitlements: Option<cloud_sync::plans::Entitlements>,
    pub config_version: i64,
}

fn json_col<T: for<'de> Deserialize<'de>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn to_json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn upsert_tenant(conn: &Connection, t: &TenantConfig) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO tenant (tenant_id, name, vertical, agent_name, agent_voice, plan, status,
                             branding, settings, config_version, updated_at, entitlements)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (tenant_id) DO UPDATE SET
            name = excluded.name, vertical = excluded.vertical, agent_name = excluded.agent_name,
            agent_voice = excluded.agent_voice, plan = excluded.plan, status = excluded.status,
            branding = excluded.branding, settings = excluded.settings,
            config_version = excluded.config_version, updated_at = excluded.updated_at,
            entitlements = excluded.entitlements",
        params![
            t.tenant_id,
            t.name,
            t.vertical,
            t.agent_name,
            t.agent_voice,
            t.plan,
            t.status,
            to_json(&t.branding)?,
            to_json(&t.settings)?,
            t.config_version,
            now_ms(),
            t.entitlements.as_ref().map(to_json).transpose()?,
        ],
    )?;
    Ok(())
}

/// The tenant this box serves (a box serves exactly one practice).
pub fn load_tenant(conn: &Connection) -> StoreResult<Option<TenantConfig>> {
    Ok(conn
        .query_row(
            "SELECT tenant_id, name, vertical, agent_name, agent_voice, plan, status,
                    branding, settings, config_version, entitlements
             FROM tenant ORDER BY updated_at DESC LIMIT 1",
            [],
            |r| {
                Ok(TenantConfig {
                    tenant_id: r.get(0)?,
                    name: r.get(1)?,
                    vertical: r.get(2)?,
                    agent_name: r.get(3)?,
                    agent_voice: r.get(4)?,
                    plan: r.get(5)?,
                    status: r.get(6)?,
                    branding: json_col(r, 7)?,
                    settings: json_col(r, 8)?,
                    entitlements: match r.get_ref(10)? {
                        rusqlite::types::ValueRef::Null => None,
                        _ => Some(json_col(r, 10)?),
                    },
                    config_version: r.get(9)?,
                })
            },
        )
        .optional()?)
}

// ------------------------------------------------------------- schedule

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provider {
    pub provider_id: String,
    pub display_name: String,
}

pub fn upsert_provider(conn: &Connection, tenant: &str, p: &Provider) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO providers (tenant_id, provider_id, display_name) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id, provider_id) DO UPDATE SET display_name = excluded.display_name",
        params![tenant, p.provider_id, p.display_name],
    )?;
    Ok(())
}

pub fn list_providers(conn: &Connection, tenant: &str) -> StoreResult<Vec<Provider>> {
    let mut stmt = conn.prepare_cached(
        "SELECT provider_id, display_name FROM providers WHERE tenant_id = ?1 ORDER BY display_name",
    )?;
    let rows = stmt.query_map([tenant], |r| {
        Ok(Provider {
            provider_id: r.get(0)?,
            display_name: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A patient as the box keeps them: names and a keyed hash of the date of
/// birth (see `checkin::identity`), nothing more.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRow {
    pub patient_id: String,
    pub first_name: String,
    pub last_name: String,
    pub name_key: String,
    pub dob_hash: String,
}

pub fn upsert_patient(conn: &Connection, tenant: &str, p: &PatientRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO patients (tenant_id, patient_id, first_name, last_name, name_key, dob_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id, patient_id) DO UPDATE SET
            first_name = excluded.first_name, last_name = excluded.last_name,
            name_key = excluded.name_key, dob_hash = excluded.dob_hash",
        params![
            tenant,
            p.patient_id,
            p.first_name,
            p.last_name,
            p.name_key,
            p.dob_hash
        ],
    )?;
    Ok(())
}

/// Finds a patient already known by exact name key and date of birth (used
/// to avoid duplicate walk-in records).
pub fn find_patient(
    conn: &Connection,
    tenant: &str,
    name_key: &str,
    dob_hash: &str,
) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT patient_id FROM patients WHERE tenant_id = ?1 AND name_key = ?2 AND dob_hash = ?3",
            params![tenant, name_key, dob_hash],
            |r| r.get(0),
        )
        .optional()?)
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppointmentRow {
    pub appointment_id: String,
    pub patient_id: String,
    pub provider_id: String,
    pub local_date: String,
    pub starts_at: i64,
    pub kind: String,
    pub notes: String,
}

pub fn upsert_appointment(conn: &Connection, tenant: &str, a: &AppointmentRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO appointments (tenant_id, appointment_id, patient_id, provider_id, local_date,
                                   starts_at, kind, notes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tenant_id, appointment_id) DO UPDATE SET
            patient_id = excluded.patient_id, provider_id = excluded.provider_id,
            local_date = excluded.local_date, starts_at = excluded.starts_at,
            kind = excluded.kind, notes = excluded.notes, cancelled = 0",
        params![
            tenant,
            a.appointment_id,
            a.patient_id,
            a.provider_id,
            a.local_date,
            a.starts_at,
            a.kind,
            a.notes
        ],
    )?;
    Ok(())
}

/// The practice cancelled an appointment (it stays, marked, for the day's
/// record).
pub fn cancel_appointment(
    conn: &Connection,
    tenant: &str,
    appointment_id: &str,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE appointments SET cancelled = 1 WHERE tenant_id = ?1 AND appointment_id = ?2",
        params![tenant, appointment_id],
    )?;
    Ok(())
}

/// One line of the day's schedule as the front desk sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScheduleEntry {
    pub appointment_id: String,
    pub patient_id: String,
    pub first_name: String,
    pub last_name: String,
    pub name_key: String,
    pub dob_hash: String,
    pub provider_id: String,
    pub provider_name: String,
    pub starts_at: i64,
    pub kind: String,
    pub notes: String,
    pub checkin_id: Option<String>,
    pub checkin_status: Option<String>,
}

pub fn schedule_for_day(
    conn: &Connection,
    tenant: &str,
    local_date: &str,
) -> StoreResult<Vec<ScheduleEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.appointment_id, a.patient_id, p.first_name, p.last_name, p.name_key, p.dob_hash,
                a.provider_id, pr.display_name, a.starts_at, a.kind, a.notes,
                c.checkin_id, c.status
         FROM appointments a
         JOIN patients p ON p.tenant_id = a.tenant_id AND p.patient_id = a.patient_id
         JOIN providers pr ON pr.tenant_id = a.tenant_id AND pr.provider_id = a.provider_id
         LEFT JOIN checkins c ON c.tenant_id = a.tenant_id AND c.patient_id = a.patient_id
                              AND c.local_date = a.local_date
         WHERE a.tenant_id = ?1 AND a.local_date = ?2 AND a.cancelled = 0
         ORDER BY a.starts_at, p.last_name",
    )?;
    let rows = stmt.query_map(params![tenant, local_date], |r| {
        Ok(ScheduleEntry {
            appointment_id: r.get(0)?,
            patient_id: r.get(1)?,
            first_name: r.get(2)?,
            last_name: r.get(3)?,
            name_key: r.get(4)?,
            dob_hash: r.get(5)?,
            provider_id: r.get(6)?,
            provider_name: r.get(7)?,
            starts_at: r.get(8)?,
            kind: r.get(9)?,
            notes: r.get(10)?,
            checkin_id: r.get(11)?,
            checkin_status: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// -------------------------------------------------------------- check-ins

// How a patient checked in and where they are: shared with the cloud,
// which receives both in events (cloud_sync::events).
pub use cloud_sync::events::{CheckinStatus, Method};

/// A check-in joined with what the queue, the TVs and the provider brief need.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckinRow {
    pub checkin_id: String,
    pub appointment_id: Option<String>,
    pub patient_id: String,
    pub first_name: String,
    pub last_name: String,
    pub local_date: String,
    pub ticket: i64,
    pub method: String,
    pub status: CheckinStatus,
    pub room: Option<String>,
    pub arrived_at: i64,
    pub called_at: Option<i64>,
    pub seen_at: Option<i64>,
    pub provider_name: Option<String>,
    pub appointment_kind: Option<String>,
    pub appointment_notes: Option<String>,
    pub starts_at: Option<i64>,
}

const CHECKIN_SELECT: &str =
    "SELECT c.checkin_id, c.appointment_id, c.patient_id, p.first_name, p.last_name,
        c.local_date, c.ticket, c.method, c.status, c.room, c.arrived_at, c.called_at, c.seen_at,
        pr.display_name, a.kind, a.notes, a.starts_at
 FROM checkins c
 JOIN patients p ON p.tenant_id = c.tenant_id AND p.patient_id = c.patient_id
 LEFT JOIN appointments a ON a.tenant_id = c.tenant_id AND a.appointment_id = c.appointment_id
 LEFT JOIN providers pr ON pr.tenant_id = a.tenant_id AND pr.provider_id = a.provider_id";

fn checkin_from_row(r: &Row<'_>) -> rusqlite::Result<CheckinRow> {
    let status: String = r.get(8)?;
    Ok(CheckinRow {
        checkin_id: r.get(0)?,
        appointment_id: r.get(1)?,
        patient_id: r.get(2)?,
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        local_date: r.get(5)?,
        ticket: r.get(6)?,
        method: r.get(7)?,
        status: CheckinStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                8,
                rusqlite::types::Type::Text,
                format!("unknown status {status}").into(),
            )
        })?,
        room: r.get(9)?,
        arrived_at: r.get(10)?,
        called_at: r.get(11)?,
        seen_at: r.get(12)?,
        provider_name: r.get(13)?,
        appointment_kind: r.get(14)?,
        appointment_notes: r.get(15)?,
        starts_at: r.get(16)?,
    })
}

/// One day at the practice: the schedule and who has arrived, read in one
/// snapshot (the front desk's list and the voice dialog both start here).
#[derive(Debug, Clone, Default)]
pub struct Day {
    pub schedule: Vec<ScheduleEntry>,
    pub checkins: Vec<CheckinRow>,
}

pub fn day(conn: &Connection, tenant: &str, local_date: &str) -> StoreResult<Day> {
    Ok(Day {
        schedule: schedule_for_day(conn, tenant, local_date)?,
        checkins: checkins_for_day(conn, tenant, local_date)?,
    })
}

pub fn checkins_for_day(
    conn: &Connection,
    tenant: &str,
    local_date: &str,
) -> StoreResult<Vec<CheckinRow>> {
    let sql = format!(
        "{CHECKIN_SELECT} WHERE c.tenant_id = ?1 AND c.local_date = ?2 ORDER BY c.arrived_at"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![tenant, local_date], checkin_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_checkin(conn: &Connection, tenant: &str, id: &str) -> StoreResult<Option<CheckinRow>> {
    let sql = format!("{CHECKIN_SELECT} WHERE c.tenant_id = ?1 AND c.checkin_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![tenant, id], checkin_from_row)
        .optional()?)
}

pub fn checkin_by_token_hash(
    conn: &Connection,
    tenant: &str,
    token_hash: &str,
) -> StoreResult<Option<CheckinRow>> {
    let sql = format!("{CHECKIN_SELECT} WHERE c.tenant_id = ?1 AND c.status_token_hash = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![tenant, token_hash], checkin_from_row)
        .optional()?)
}

pub fn checkin_for_patient_on(
    conn: &Connection,
    tenant: &str,
    patient_id: &str,
    local_date: &str,
) -> StoreResult<Option<CheckinRow>> {
    let sql = format!(
        "{CHECKIN_SELECT} WHERE c.tenant_id = ?1 AND c.patient_id = ?2 AND c.local_date = ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![tenant, patient_id, local_date], checkin_from_row)
        .optional()?)
}

pub struct NewCheckin<'a> {
    pub checkin_id: &'a str,
    pub appointment_id: Option<&'a str>,
    pub patient_id: &'a str,
    pub local_date: &'a str,
    pub method: Method,
    pub arrived_at: i64,
    pub status_token_hash: &'a str,
}

/// Inserts the check-in; returns its ticket number for the day.
pub fn insert_checkin(conn: &Connection, tenant: &str, c: &NewCheckin<'_>) -> StoreResult<i64> {
    let ticket: i64 = conn.query_row(
        "SELECT COALESCE(MAX(ticket), 0) + 1 FROM checkins WHERE tenant_id = ?1 AND local_date = ?2",
        params![tenant, c.local_date],
        |r| r.get(0),
    )?;
    conn.prepare_cached(
        "INSERT INTO checkins (tenant_id, checkin_id, appointment_id, patient_id, local_date, ticket,
                               method, status, arrived_at, status_token_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'waiting', ?8, ?9)",
    )?
    .execute(params![
        tenant,
        c.checkin_id,
        c.appointment_id,
        c.patient_id,
        c.local_date,
        ticket,
        c.method.as_str(),
        c.arrived_at,
        c.status_token_hash
    ])?;
    Ok(ticket)
}

/// Moves a check-in to `status`, stamping the matching time. Returns false
/// when no such check-in exists for this tenant.
pub fn set_checkin_status(
    conn: &Connection,
    tenant: &str,
    id: &str,
    status: CheckinStatus,
    room: Option<&str>,
    at: i64,
) -> StoreResult<bool> {
    let changed = match status {
        CheckinStatus::Called => conn.execute(
            "UPDATE checkins SET status = 'called', room = ?3, called_at = ?4
             WHERE tenant_id = ?1 AND checkin_id = ?2",
            params![tenant, id, room, at],
        )?,
        CheckinStatus::Seen => conn.execute(
            "UPDATE checkins SET status = 'seen', seen_at = ?4, room = COALESCE(?3, room)
             WHERE tenant_id = ?1 AND checkin_id = ?2",
            params![tenant, id, room, at],
        )?,
        other => conn.execute(
            "UPDATE checkins SET status = ?3 WHERE tenant_id = ?1 AND checkin_id = ?2",
            params![tenant, id, other.as_str()],
        )?,
    };
    Ok(changed == 1)
}

// --------------------------------------------------------------- displays

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DisplayRow {
    pub display_id: String,
    pub name: String,
    pub paired_at: i64,
    pub paired_by: String,
    pub revoked_at: Option<i64>,
    pub last_seen_at: Option<i64>,
}

pub fn insert_display(
    conn: &Connection,
    tenant: &str,
    d: &DisplayRow,
    token_hash: &str,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO displays (tenant_id, display_id, name, token_hash, paired_at, paired_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tenant,
            d.display_id,
            d.name,
            token_hash,
            d.paired_at,
            d.paired_by
        ],
    )?;
    Ok(())
}

pub fn list_displays(conn: &Connection, tenant: &str) -> StoreResult<Vec<DisplayRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT display_id, name, paired_at, paired_by, revoked_at, last_seen_at
         FROM displays WHERE tenant_id = ?1 ORDER BY paired_at",
    )?;
    let rows = stmt.query_map([tenant], |r| {
        Ok(DisplayRow {
            display_id: r.get(0)?,
            name: r.get(1)?,
            paired_at: r.get(2)?,
            paired_by: r.get(3)?,
            revoked_at: r.get(4)?,
            last_seen_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The active (not revoked) display holding this token, if any.
pub fn display_by_token_hash(
    conn: &Connection,
    tenant: &str,
    token_hash: &str,
) -> StoreResult<Option<DisplayRow>> {
    Ok(conn
        .query_row(
            "SELECT display_id, name, paired_at, paired_by, revoked_at, last_seen_at
             FROM displays WHERE tenant_id = ?1 AND token_hash = ?2 AND revoked_at IS NULL",
            params![tenant, token_hash],
            |r| {
                Ok(DisplayRow {
                    display_id: r.get(0)?,
                    name: r.get(1)?,
                    paired_at: r.get(2)?,
                    paired_by: r.get(3)?,
                    revoked_at: r.get(4)?,
                    last_seen_at: r.get(5)?,
                })
            },
        )
        .optional()?)
}

pub fn revoke_display(conn: &Connection, tenant: &str, id: &str, at: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE displays SET revoked_at = ?3
         WHERE tenant_id = ?1 AND display_id = ?2 AND revoked_at IS NULL",
        params![tenant, id, at],
    )? == 1)
}

pub fn touch_display(conn: &Connection, tenant: &str, id: &str, at: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE displays SET last_seen_at = ?3 WHERE tenant_id = ?1 AND display_id = ?2",
        params![tenant, id, at],
    )?;
    Ok(())
}

// ------------------------------------------------------------------ staff

#[derive(Debug, Clone, PartialEq)]
pub struct StaffRow {
    pub staff_id: String,
    pub name: String,
    pub secret_hash: String,
    pub failed_attempts: i64,
    pub locked_until: Option<i64>,
    /// Sent by the cloud (removed when the cloud stops sending it), rather
    /// than set on the box.
    pub from_cloud: bool,
}

pub fn upsert_staff(conn: &Connection, tenant: &str, s: &StaffRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO staff (tenant_id, staff_id, name, secret_hash, failed_attempts, locked_until, from_cloud)
         VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5)
         ON CONFLICT (tenant_id, staff_id) DO UPDATE SET
            name = excluded.name, secret_hash = excluded.secret_hash,
            failed_attempts = 0, locked_until = NULL, from_cloud = excluded.from_cloud",
        params![tenant, s.staff_id, s.name, s.secret_hash, s.from_cloud],
    )?;
    Ok(())
}

/// Removes the staff the cloud sent earlier but no longer lists; returns
/// their ids so their sessions can be ended.
pub fn remove_cloud_staff_except(
    conn: &Connection,
    tenant: &str,
    keep: &[String],
) -> StoreResult<Vec<String>> {
    let gone: Vec<String> = list_staff(conn, tenant)?
        .into_iter()
        .filter(|s| s.from_cloud && !keep.contains(&s.staff_id))
        .map(|s| s.staff_id)
        .collect();
    let mut stmt =
        conn.prepare_cached("DELETE FROM staff WHERE tenant_id = ?1 AND staff_id = ?2")?;
    for id in &gone {
        stmt.execute(params![tenant, id])?;
    }
    Ok(gone)
}

pub fn list_staff(conn: &Connection, tenant: &str) -> StoreResult<Vec<StaffRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT staff_id, name, secret_hash, failed_attempts, locked_until, from_cloud
         FROM staff WHERE tenant_id = ?1 ORDER BY staff_id",
    )?;
    let rows = stmt.query_map([tenant], |r| {
        Ok(StaffRow {
            staff_id: r.get(0)?,
            name: r.get(1)?,
            secret_hash: r.get(2)?,
            failed_attempts: r.get(3)?,
            locked_until: r.get(4)?,
            from_cloud: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn record_login_result(
    conn: &Connection,
    tenant: &str,
    staff_id: &str,
    failed_attempts: i64,
    locked_until: Option<i64>,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE staff SET failed_attempts = ?3, locked_until = ?4
         WHERE tenant_id = ?1 AND staff_id = ?2",
        params![tenant, staff_id, failed_attempts, locked_until],
    )?;
    Ok(())
}

// ------------------------------------------------------- outbox and audit

/// Queues an event for the cloud inside the caller's transaction.
/// Queues an event for the cloud. Only [`BoxEvent`]s go out: the type is
/// what the box may tell the cloud (no names, no dates of birth).
pub fn enqueue_event(conn: &Connection, tenant: &str, event: &BoxEvent) -> StoreResult<String> {
    let event_id = uuid::Uuid::now_v7().to_string();
    conn.prepare_cached(
        "INSERT INTO outbox (tenant_id, event_id, kind, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        tenant,
        event_id,
        event.kind(),
        event.payload().to_string(),
        now_ms()
    ])?;
    Ok(event_id)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxEvent {
    pub seq: i64,
    pub event_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

/// Events not yet acknowledged by the cloud, oldest first.
pub fn pending_events(
    conn: &Connection,
    tenant: &str,
    limit: i64,
) -> StoreResult<Vec<OutboxEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_id, kind, payload, created_at FROM outbox
         WHERE tenant_id = ?1 AND sent_at IS NULL ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![tenant, limit], |r| {
        Ok(OutboxEvent {
            seq: r.get(0)?,
            event_id: r.get(1)?,
            kind: r.get(2)?,
            payload: json_col(r, 3)?,
            created_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks events the cloud acknowledged. Unknown or already-sent ids are
/// ignored, so a repeated acknowledgement changes nothing.
pub fn mark_events_sent(
    conn: &Connection,
    tenant: &str,
    event_ids: &[String],
    at: i64,
) -> StoreResult<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET sent_at = ?3 WHERE tenant_id = ?1 AND event_id = ?2 AND sent_at IS NULL",
    )?;
    let mut n = 0;
    for id in event_ids {
        n += stmt.execute(params![tenant, id, at])?;
    }
    Ok(n)
}

pub fn count_pending_events(conn: &Connection, tenant: &str) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE tenant_id = ?1 AND sent_at IS NULL",
        [tenant],
        |r| r.get(0),
    )?)
}

pub fn append_audit(
    conn: &Connection,
    tenant: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> StoreResult<()> {
    let at = now_ms();
    conn.prepare_cached(
        "INSERT INTO audit_log (tenant_id, at, actor, action, subject, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        tenant,
        at,
        actor,
        action,
        subject,
        detail.to_string()
    ])?;
    // The practice's audit log in the cloud holds the box's entries too, in
    // the same transaction as the change (so never lost, never twice): who,
    // what, which id, when. The detail stays here, and so do the cloud's
    // own changes as the box applied them (the cloud has those already).
    if actor != CLOUD_ACTOR {
        enqueue_event(
            conn,
            tenant,
            &BoxEvent::Audit(AuditSent {
                actor: actor.to_string(),
                action: action.to_string(),
                subject: subject.to_string(),
                at,
            }),
        )?;
    }
    Ok(())
}

/// The actor of the entries a config from the cloud makes on the box.
pub const CLOUD_ACTOR: &str = "cloud";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
}

pub fn recent_audit(conn: &Connection, tenant: &str, limit: i64) -> StoreResult<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, actor, action, subject, detail FROM audit_log
         WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![tenant, limit], |r| {
        Ok(AuditEntry {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: json_col(r, 5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ------------------------------------------------------------ cast targets

/// A TV staff chose to cast the lobby page to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CastTarget {
    pub device_id: String,
    pub name: String,
    pub model: String,
    pub host: String,
    pub port: u16,
    pub app_id: String,
    pub display_id: Option<String>,
    pub chosen_by: String,
    pub chosen_at: i64,
}

pub fn save_cast_target(conn: &Connection, tenant: &str, t: &CastTarget) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO cast_targets (tenant_id, device_id, friendly_name, model, host, port, app_id, display_id, chosen_by, chosen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (tenant_id, device_id) DO UPDATE SET friendly_name = excluded.friendly_name,
           model = excluded.model, host = excluded.host, port = excluded.port, app_id = excluded.app_id,
           chosen_by = excluded.chosen_by, chosen_at = excluded.chosen_at",
        params![
            tenant,
            t.device_id,
            t.name,
            t.model,
            t.host,
            t.port,
            t.app_id,
            t.display_id,
            t.chosen_by,
            t.chosen_at
        ],
    )?;
    Ok(())
}

/// The chosen TVs, first chosen first.
pub fn cast_targets(conn: &Connection, tenant: &str) -> StoreResult<Vec<CastTarget>> {
    let mut stmt = conn.prepare(
        "SELECT device_id, friendly_name, model, host, port, app_id, display_id, chosen_by, chosen_at
         FROM cast_targets WHERE tenant_id = ?1 ORDER BY chosen_at",
    )?;
    let rows = stmt.query_map([tenant], |r| {
        Ok(CastTarget {
            device_id: r.get(0)?,
            name: r.get(1)?,
            model: r.get(2)?,
            host: r.get(3)?,
            port: r.get(4)?,
            app_id: r.get(5)?,
            display_id: r.get(6)?,
            chosen_by: r.get(7)?,
            chosen_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A chosen TV answered from a new address (DHCP gave it another one).
pub fn move_cast_target(
    conn: &Connection,
    tenant: &str,
    device_id: &str,
    host: &str,
    port: u16,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE cast_targets SET host = ?3, port = ?4 WHERE tenant_id = ?1 AND device_id = ?2",
        params![tenant, device_id, host, port],
    )?;
    Ok(())
}
