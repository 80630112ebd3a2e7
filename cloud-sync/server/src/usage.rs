//! Usage: the billing events the boxes send (check-ins processed,
//! greetings spoken, seconds of speech transcribed), summed per tenant and
//! billing period and set beside what the plan includes. The dashboard
//! shows it; `sos-cloud usage` prints it.
//!
//! *Decision:* the billing period is the calendar month in UTC. Stripe's
//! own period (the subscription's anniversary) would need its dates kept
//! per tenant; a month is what an owner reads on an invoice summary, and
//! the allowance is per month. Events count by the box's own time of the
//! event, so a box that was offline counts its check-ins in the month they
//! happened.

use cloud_sync::events::{KIND_CHECKIN_PROCESSED, KIND_GREETING_SPOKEN, KIND_VOICE_SECONDS};
use cloud_sync::plans::PlanTable;
use deadpool_postgres::Pool;
use serde::Serialize;

use crate::admin::AdminError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub tenant_id: String,
    /// `YYYY-MM`.
    pub month: String,
    pub checkins: i64,
    pub greetings: i64,
    pub voice_minutes: f64,
    pub included_checkins: u64,
    pub included_voice_minutes: u64,
    pub over_allowance: bool,
}

/// `YYYY-MM`, or a plain error naming the field.
pub fn check_month(month: &str) -> Result<(), AdminError> {
    let b = month.as_bytes();
    let ok = b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && matches!(month[5..].parse::<u32>(), Ok(1..=12));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "month must be YYYY-MM (e.g. 2026-12), not \"{month}\""
        )))
    }
}

/// Usage of `tenant` in `month` (`None`: this month, UTC).
pub async fn for_month(
    pool: &Pool,
    tenant: &str,
    month: Option<&str>,
) -> Result<Usage, AdminError> {
    if let Some(m) = month {
        check_month(m)?;
    }
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT plan, status, coalesce($2, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM'))
             FROM tenants WHERE tenant_id = $1",
            &[&tenant, &month],
        )
        .await?
        .ok_or_else(|| AdminError::NoTenant(tenant.to_string()))?;
    let (plan, status, month): (String, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let sums = client
        .query(
            "WITH bounds AS (
                 SELECT (extract(epoch FROM ($2 || '-01')::date) * 1000)::bigint AS from_ms,
                        (extract(epoch FROM (($2 || '-01')::date + interval '1 month')) * 1000)::bigint AS to_ms)
             SELECT kind, count(*), coalesce(sum(quantity), 0)::float8
             FROM billing_events, bounds
             WHERE tenant_id = $1 AND at >= from_ms AND at < to_ms
             GROUP BY kind",
            &[&tenant, &month],
        )
        .await?;
    let (mut checkins, mut greetings, mut voice_seconds) = (0i64, 0i64, 0f64);
    for r in sums {
        let kind: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        let quantity: f64 = r.try_get(2)?;
        match kind.as_str() {
            KIND_CHECKIN_PROCESSED => checkins = n,
            KIND_GREETING_SPOKEN => greetings = n,
            KIND_VOICE_SECONDS => voice_seconds = quantity,
            _ => {}
        }
    }
    let ent = PlanTable::shipped().entitlements(&plan, &status);
    let voice_minutes = (voice_seconds / 60.0 * 10.0).round() / 10.0;
    Ok(Usage {
        tenant_id: tenant.to_string(),
        month,
        checkins,
        greetings,
        voice_minutes,
        included_checkins: ent.limits.included_checkins,
        included_voice_minutes: ent.limits.included_voice_minutes,
        over_allowance: checkins as u64 > ent.limits.included_checkins
            || voice_minutes > ent.limits.included_voice_minutes as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::check_month;

    #[test]
    fn months_are_checked() {
        assert!(check_month("2026-12").is_ok());
        for bad in ["2026-13", "2026-00", "26-12", "2026/12", "2026-1a", ""] {
            assert!(check_month(bad).is_err(), "{bad}");
        }
    }
}
