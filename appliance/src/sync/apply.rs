//! Config from the cloud into the replica, in one transaction. Dates of
//! birth are hashed with the box key here, on the way in, and never stored.

use std::collections::BTreeMap;

use cloud_sync::wire::{self, ConfigResponse};
use serde_json::json;

use crate::checkin::identity;
use crate::secrets::BoxKey;
use crate::store::{self, AppointmentRow, PatientRow, Provider, Store, StoreError, TenantConfig};

use super::SyncError;

/// What an applied config contained (counts and staff ids: safe to log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub config_version: i64,
    pub appointments: usize,
    pub skipped: usize,
    /// Staff the cloud no longer lists, removed from the box.
    pub removed_staff: Vec<String>,
}

/// Writes the config to the replica. `tenant_id` is the tenant this box is
/// enrolled for; a config naming another tenant is refused. Steps: read the
/// practice ([`practice_of`]), today's and upcoming schedule
/// ([`Schedule::of`], dates of birth hashed on the way), the staff PIN
/// hashes ([`usable_staff`]), then one transaction ([`write_all`]).
pub async fn apply_config(
    store: &Store,
    key: &BoxKey,
    tenant_id: &str,
    resp: ConfigResponse,
) -> Result<Applied, SyncError> {
    let version = resp.config_version;
    let config = practice_of(tenant_id, resp.tenant, version)?;
    let schedule = Schedule::of(key, tenant_id, resp.appointments);
    let staff = usable_staff(resp.staff);
    let (appointments, skipped) = (schedule.rows.len(), schedule.skipped);
    let tenant = tenant_id.to_string();
    let removed_staff = store
        .write(move |txn| write_all(txn, &tenant, &config, &schedule, &staff))
        .await?;
    Ok(Applied {
        config_version: version,
        appointments,
        skipped,
        removed_staff,
    })
}

/// The practice as the box stores it; refused if it is another tenant's or
/// names a vertical this build does not know (the practice would not load
/// after the swap).
fn practice_of(
    tenant_id: &str,
    tenant: Option<wire::TenantConfig>,
    version: i64,
) -> Result<TenantConfig, SyncError> {
    let Some(t) = tenant else {
        return Err(SyncError::Protocol(
            "the cloud sent a changed config without the practice".into(),
        ));
    };
    if t.tenant_id != tenant_id {
        return Err(SyncError::Protocol(
            "the cloud sent another tenant's config; refusing it".into(),
        ));
    }
    let branding = serde_json::from_value(t.branding).unwrap_or_else(|_| {
        tracing::warn!("cloud branding not understood; using defaults");
        Default::default()
    });
    let settings = serde_json::from_value(t.settings).unwrap_or_else(|_| {
        tracing::warn!("cloud settings not understood; using defaults");
        Default::default()
    });
    let config = TenantConfig {
        tenant_id: t.tenant_id,
        name: t.name,
        vertical: t.vertical,
        agent_name: t.agent_name,
        agent_voice: t.agent_voice,
        plan: t.plan,
        status: t.status,
        branding,
        settings,
        entitlements: t.entitlements,
        config_version: version,
    };
    crate::practice::Practice::new(config.clone())
        .map_err(|e| SyncError::Protocol(format!("the cloud's config cannot be used: {e}")))?;
    Ok(config)
}

/// The appointments as replica rows: patients with their date of birth
/// hashed under the box key (never stored as sent), providers once each.
struct Schedule {
    providers: BTreeMap<String, Provider>,
    /// With whether the practice cancelled it.
    rows: Vec<(PatientRow, AppointmentRow, bool)>,
    /// Appointments whose date of birth could not be read.
    skipped: usize,
}

impl Schedule {
    fn of(key: &BoxKey, tenant_id: &str, appointments: Vec<wire::Appointment>) -> Schedule {
        let mut out = Schedule {
            providers: BTreeMap::new(),
            rows: Vec::with_capacity(appointments.len()),
            skipped: 0,
        };
        for a in appointments {
            let Ok(dob) = a.date_of_birth.parse::<jiff::civil::Date>() else {
                // The id only: never the patient's data.
                tracing::warn!(appointment = %a.appointment_id, "appointment skipped: bad date of birth");
                out.skipped += 1;
                continue;
            };
            out.providers
                .entry(a.provider_id.clone())
                .or_insert_with(|| Provider {
                    provider_id: a.provider_id.clone(),
                    display_name: a.provider_name.clone(),
                });
            let patient = PatientRow {
                patient_id: a.patient_id.clone(),
                name_key: identity::name_key(&a.first_name, &a.last_name),
                dob_hash: identity::dob_hash(key, tenant_id, dob),
                first_name: a.first_name,
                last_name: a.last_name,
            };
            let appt = AppointmentRow {
                appointment_id: a.appointment_id,
                patient_id: a.patient_id,
                provider_id: a.provider_id,
                local_date: a.local_date,
                starts_at: a.starts_at,
                kind: a.kind,
                notes: a.notes,
            };
            out.rows.push((patient, appt, a.cancelled));
        }
        out
    }
}

/// Staff PIN hashes: argon2 PHC strings only (the box verifies them with
/// the parameters they carry).
fn usable_staff(staff: Vec<wire::Staff>) -> Vec<wire::Staff> {
    staff
        .into_iter()
        .filter(|s| {
            let ok = s.secret_hash.starts_with("$argon2") && !s.staff_id.is_empty();
            if !ok {
                tracing::warn!(staff = %s.staff_id, "staff entry skipped: not an argon2 hash");
            }
            ok
        })
        .collect()
}

/// Everything in one transaction; returns the staff the cloud no longer
/// lists (removed from the box, their sessions to end).
fn write_all(
    txn: &store::Connection,
    tenant: &str,
    config: &TenantConfig,
    schedule: &Schedule,
    staff: &[wire::Staff],
) -> Result<Vec<String>, StoreError> {
    store::upsert_tenant(txn, config)?;
    for p in schedule.providers.values() {
        store::upsert_provider(txn, tenant, p)?;
    }
    for (patient, appt, cancelled) in &schedule.rows {
        store::upsert_patient(txn, tenant, patient)?;
        store::upsert_appointment(txn, tenant, appt)?;
        if *cancelled {
            store::cancel_appointment(txn, tenant, &appt.appointment_id)?;
        }
    }
    // Only changed entries: rewriting one clears its lock-out.
    let known = store::list_staff(txn, tenant)?;
    for s in staff {
        let same = known.iter().any(|k| {
            k.staff_id == s.staff_id
                && k.name == s.name
                && k.secret_hash == s.secret_hash
                && k.from_cloud
        });
        if !same {
            store::upsert_staff(
                txn,
                tenant,
                &store::StaffRow {
                    staff_id: s.staff_id.clone(),
                    name: s.name.clone(),
                    secret_hash: s.secret_hash.clone(),
                    failed_attempts: 0,
                    locked_until: None,
                    from_cloud: true,
                },
            )?;
        }
    }
    let listed: Vec<String> = staff.iter().map(|s| s.staff_id.clone()).collect();
    let removed = store::remove_cloud_staff_except(txn, tenant, &listed)?;
    for id in &removed {
        store::append_audit(
            txn,
            tenant,
            store::CLOUD_ACTOR,
            "staff.removed",
            id,
            &json!({}),
        )?;
    }
    store::append_audit(
        txn,
        tenant,
        store::CLOUD_ACTOR,
        "config.synced",
        "tenant",
        &json!({"config_version": config.config_version, "appointments": schedule.rows.len()}),
    )?;
    Ok(removed)
}
