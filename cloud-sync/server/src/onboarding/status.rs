//! A tenant's status, from the state of its Stripe subscription:
//! trialing → active → past_due (for a grace period) → suspended →
//! cancelled; paying again returns to active. The status gates features
//! on the box, never data: nothing is deleted for non-payment.

use std::time::Duration;

use deadpool_postgres::Pool;

use crate::admin::{AdminError, audit, bump_version};

/// The grace period a past-due practice keeps every feature for.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The tenant status for Stripe's subscription `stripe_status`, and since
/// when the practice has been behind on payment (the grace period runs from
/// there). `None` for a status Stripe has not documented: the tenant is then
/// left as it is.
pub fn derive(
    stripe_status: &str,
    past_due_since: Option<i64>,
    now: i64,
    grace: Duration,
) -> Option<(&'static str, Option<i64>)> {
    let behind = |since: i64| {
        if now.saturating_sub(since) >= grace.as_secs() as i64 {
            "suspended"
        } else {
            "past_due"
        }
    };
    Some(match stripe_status {
        "trialing" => ("trialing", None),
        "active" => ("active", None),
        // `incomplete`: the first invoice is not paid yet (a checkout that
        // paid is never incomplete, so this is a later change of card).
        "past_due" | "incomplete" => {
            let since = past_due_since.unwrap_or(now);
            (behind(since), Some(since))
        }
        // Stripe gave up retrying, or the owner paused collection.
        "unpaid" | "paused" => ("suspended", Some(past_due_since.unwrap_or(now))),
        "canceled" | "incomplete_expired" => ("cancelled", None),
        _ => return None,
    })
}

/// Moves every practice whose grace period has run out from past_due to
/// suspended (their boxes learn it with the next config); returns them.
/// Run every minute by `serve`; any process may run it, the row update is
/// the guard.
pub async fn suspend_overdue(pool: &Pool, grace: Duration) -> Result<Vec<String>, AdminError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "UPDATE tenants SET status = 'suspended', updated_at = now()
             WHERE status = 'past_due'
               AND past_due_since <= now() - make_interval(secs => $1)
             RETURNING tenant_id",
            &[&(grace.as_secs() as f64)],
        )
        .await?;
    let mut suspended = Vec::with_capacity(rows.len());
    for row in rows {
        let tenant: String = row.try_get(0)?;
        audit(
            &*tx,
            Some(&tenant),
            "billing",
            "tenant.suspended",
            &tenant,
            None,
        )
        .await?;
        bump_version(&*tx, &tenant).await?;
        suspended.push(tenant);
    }
    tx.commit().await?;
    Ok(suspended)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600;

    #[test]
    fn stripe_states_map_to_tenant_states() {
        let now = 1_800_000_000;
        let g = DEFAULT_GRACE;
        assert_eq!(
            derive("active", Some(now - DAY), now, g),
            Some(("active", None))
        );
        assert_eq!(derive("trialing", None, now, g), Some(("trialing", None)));
        assert_eq!(
            derive("past_due", None, now, g),
            Some(("past_due", Some(now)))
        );
        // The grace period runs from the first time it was seen past due.
        assert_eq!(
            derive("past_due", Some(now - 6 * DAY), now, g),
            Some(("past_due", Some(now - 6 * DAY)))
        );
        assert_eq!(
            derive("past_due", Some(now - 7 * DAY), now, g),
            Some(("suspended", Some(now - 7 * DAY)))
        );
        assert_eq!(
            derive("unpaid", None, now, g),
            Some(("suspended", Some(now)))
        );
        assert_eq!(
            derive("canceled", Some(now), now, g),
            Some(("cancelled", None))
        );
        assert_eq!(
            derive("incomplete_expired", None, now, g),
            Some(("cancelled", None))
        );
        assert_eq!(derive("something_new", None, now, g), None);
    }
}
