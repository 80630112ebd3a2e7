//! A complete demo clinic that needs no configuration: Bright Smile Dental,
//! two dentists, twenty of today's appointments spread over the day, a
//! staff PIN, and branding.

use crate::config::PracticeSeed;
use crate::import::ImportedAppointment;
use crate::store::Settings;
use cloud_sync::demo::{self as shared, ROSTER};

pub const TENANT_ID: &str = "demo-bright-smile";
pub const DEFAULT_PIN: &str = cloud_sync::demo::STAFF_PIN;

/// The demo practice, in the practice's own (the machine's) time zone.
pub fn practice() -> PracticeSeed {
    let timezone = jiff::tz::TimeZone::system()
        .iana_name()
        .unwrap_or("UTC")
        .to_string();
    PracticeSeed {
        tenant_id: TENANT_ID.into(),
        name: shared::PRACTICE_NAME.into(),
        vertical: shared::VERTICAL.into(),
        agent_name: None,
        agent_voice: None,
        plan: shared::PLAN.into(),
        branding: shared::branding(),
        settings: Settings {
            timezone,
            ..Settings::default()
        },
    }
}

/// Today's twenty appointments, every 25 minutes from 8:00.
pub fn appointments(today: jiff::civil::Date) -> Vec<ImportedAppointment> {
    ROSTER
        .iter()
        .enumerate()
        .filter_map(|(i, (first, last, dob, provider, kind, notes))| {
            let minutes = shared::minutes_of_day(i);
            let starts_at = today
                .at(0, 0, 0, 0)
                .checked_add(jiff::Span::new().minutes(minutes))
                .ok()?;
            Some(ImportedAppointment {
                line: i + 1,
                external_id: Some(format!("demo-{today}-{i:02}")),
                first_name: (*first).into(),
                last_name: (*last).into(),
                date_of_birth: dob.parse().ok()?,
                starts_at,
                provider: (*provider).into(),
                kind: (*kind).into(),
                notes: (*notes).into(),
            })
        })
        .collect()
}

/// A few people a visitor can check in as, for the demo banner.
pub fn sample_people() -> Vec<(String, &'static str)> {
    shared::sample_people()
}
