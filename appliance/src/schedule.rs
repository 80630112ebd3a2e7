//! How today's schedule reaches the replica: from an import file (CSV or
//! iCalendar), from the demo, and (once sync exists) from the cloud. Dates of
//! birth are hashed here, on the way in, and never stored.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::checkin::identity;
use crate::import::ImportedAppointment;
use crate::secrets::BoxKey;
use crate::store::{self, AppointmentRow, PatientRow, Provider, Store, StoreError, TenantConfig};

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A provider's id from their display name: "Dr. Lee" -> "dr-lee".
pub fn provider_id(name: &str) -> String {
    let slug = identity::fold_name(name).replace(' ', "-");
    if slug.is_empty() {
        "unassigned".into()
    } else {
        slug
    }
}

/// Writes imported appointments in one transaction; returns how many.
pub async fn save(
    store: &Store,
    key: &BoxKey,
    practice: &TenantConfig,
    rows: Vec<ImportedAppointment>,
    actor: &str,
) -> Result<usize, StoreError> {
    let tenant = practice.tenant_id.clone();
    let tz =
        jiff::tz::TimeZone::get(&practice.settings.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut providers: BTreeMap<String, Provider> = BTreeMap::new();
    let mut prepared = Vec::with_capacity(rows.len());
    for r in rows {
        let pid = provider_id(&r.provider);
        providers.entry(pid.clone()).or_insert_with(|| Provider {
            provider_id: pid.clone(),
            display_name: if r.provider.trim().is_empty() {
                "Unassigned".into()
            } else {
                r.provider.trim().to_string()
            },
        });
        let dob_hash = identity::dob_hash(key, &tenant, r.date_of_birth);
        let name_key = identity::name_key(&r.first_name, &r.last_name);
        let patient_id = format!("p-{}", short_hash(&[&name_key, &dob_hash]));
        let starts_at = match r.starts_at.to_zoned(tz.clone()) {
            Ok(z) => z.timestamp().as_millisecond(),
            Err(_) => continue,
        };
        let appointment_id = r
            .external_id
            .clone()
            .unwrap_or_else(|| format!("a-{}", short_hash(&[&patient_id, &starts_at.to_string()])));
        prepared.push((
            PatientRow {
                patient_id: patient_id.clone(),
                first_name: r.first_name,
                last_name: r.last_name,
                name_key,
                dob_hash,
            },
            AppointmentRow {
                appointment_id,
                patient_id,
                provider_id: pid,
                local_date: r.starts_at.date().to_string(),
                starts_at,
                kind: r.kind,
                notes: r.notes,
            },
        ));
    }
    let actor = actor.to_string();
    store
        .write(move |txn| {
            for p in providers.values() {
                store::upsert_provider(txn, &tenant, p)?;
            }
            for (patient, appt) in &prepared {
                store::upsert_patient(txn, &tenant, patient)?;
                store::upsert_appointment(txn, &tenant, appt)?;
            }
            store::append_audit(
                txn,
                &tenant,
                &actor,
                "schedule.imported",
                "appointments",
                &json!({"count": prepared.len()}),
            )?;
            Ok(prepared.len())
        })
        .await
}
