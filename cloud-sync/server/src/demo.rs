//! `sos-cloud demo`: the demo practice in the cloud, for the whole system
//! on one machine (`scripts/demo.sh --with-cloud`).
//!
//! It makes (or finds, on a second run) Bright Smile Dental through the
//! same function as a concierge set-up, gives its owner a password to sign
//! in with, adds an operator, sets the front desk's PIN, puts today's
//! twenty appointments in, and issues a set-up token for the demo box. The
//! practice is [`cloud_sync::demo`], the one the box's own `demo` serves.
//!
//! *Decision:* this sets an owner's password directly (a real owner sets
//! theirs from the welcome email's link). It is a command-line step on a
//! database the caller already controls, named `demo` so nobody mistakes
//! it for the way owners are let in.

use std::time::Duration;

use cloud_sync::demo::{self as shared, ROSTER};
use cloud_sync::practice::Settings;
use cloud_sync::wire::Appointment;
use deadpool_postgres::Pool;

use crate::accounts;
use crate::admin::{self, AdminError};
use crate::tenants::{self, TenantFields};

/// How long the demo box's set-up token lasts.
const TOKEN_LASTS: Duration = Duration::from_secs(2 * 3600);

/// Who signs in to the demo.
pub struct Logins<'a> {
    pub owner_email: &'a str,
    pub owner_password: &'a str,
    pub operator_email: &'a str,
    pub operator_password: &'a str,
}

/// What the demo script needs next.
#[derive(Debug)]
pub struct Prepared {
    pub tenant: String,
    /// For `sos-appliance enroll` (a box already enrolled ignores it).
    pub token: String,
    pub appointments: usize,
}

/// Makes the demo practice ready, as often as it is run: the same practice
/// each time, today's appointments each day.
pub async fn prepare(pool: &Pool, logins: &Logins<'_>, zone: &str) -> Result<Prepared, AdminError> {
    let owner = accounts::check_email(logins.owner_email)?;
    let tenant = match owner_of(pool, &owner).await? {
        Some(tenant) => tenant,
        None => {
            let settings = Settings {
                timezone: zone.into(),
                ..Settings::default()
            };
            let fields = TenantFields {
                name: Some(shared::PRACTICE_NAME.into()),
                vertical: Some(shared::VERTICAL.into()),
                plan: Some(shared::PLAN.into()),
                branding: Some(json(&shared::branding())?),
                settings: Some(json(&settings)?),
                ..Default::default()
            };
            tenants::create_clinic_by_hand(pool, fields, &owner).await?
        }
    };
    let hash = accounts::hash_password(logins.owner_password)?;
    pool.get()
        .await?
        .execute(
            "UPDATE accounts SET password_hash = $2 WHERE email = $1 AND role = 'owner'",
            &[&owner, &hash],
        )
        .await?;
    let operator = accounts::check_email(logins.operator_email)?;
    let has_operator = pool
        .get()
        .await?
        .query_opt(
            "SELECT 1 FROM accounts WHERE email = $1 AND role = 'operator'",
            &[&operator],
        )
        .await?
        .is_some();
    if !has_operator {
        accounts::add_operator(pool, &operator, logins.operator_password).await?;
    }
    admin::set_staff(pool, &tenant, "desk", "Front desk", shared::STAFF_PIN).await?;
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| bad_zone(zone))?;
    let today = jiff::Zoned::now().with_time_zone(tz.clone()).date();
    let list = appointments(today, &tz)?;
    admin::put_appointments(pool, &tenant, &list).await?;
    let token = admin::create_token(pool, &tenant, TOKEN_LASTS).await?;
    Ok(Prepared {
        tenant,
        token,
        appointments: list.len(),
    })
}

async fn owner_of(pool: &Pool, email: &str) -> Result<Option<String>, AdminError> {
    let row = pool
        .get()
        .await?
        .query_opt(
            "SELECT tenant_id FROM accounts WHERE email = $1 AND role = 'owner' AND removed_at IS NULL",
            &[&email],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

fn json(value: &impl serde::Serialize) -> Result<serde_json::Value, AdminError> {
    serde_json::to_value(value).map_err(|e| AdminError::Invalid(e.to_string()))
}

fn bad_zone(zone: &str) -> AdminError {
    AdminError::Invalid(format!("{zone} is not a time zone this build knows"))
}

/// Today's roster as the cloud sends appointments to the box.
fn appointments(
    today: jiff::civil::Date,
    tz: &jiff::tz::TimeZone,
) -> Result<Vec<Appointment>, AdminError> {
    ROSTER
        .iter()
        .enumerate()
        .map(|(i, (first, last, dob, provider, kind, notes))| {
            let starts = today
                .at(0, 0, 0, 0)
                .checked_add(jiff::Span::new().minutes(shared::minutes_of_day(i)))
                .and_then(|t| t.to_zoned(tz.clone()))
                .map_err(|e| AdminError::Invalid(e.to_string()))?;
            let provider_id: String = provider
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_lowercase();
            Ok(Appointment {
                appointment_id: format!("demo-{today}-{i:02}"),
                patient_id: format!("demo-patient-{i:02}"),
                first_name: (*first).into(),
                last_name: (*last).into(),
                date_of_birth: (*dob).into(),
                provider_id,
                provider_name: (*provider).into(),
                local_date: today.to_string(),
                starts_at: starts.timestamp().as_millisecond(),
                kind: (*kind).into(),
                notes: (*notes).into(),
                cancelled: false,
            })
        })
        .collect()
}
