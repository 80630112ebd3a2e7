//! `GET /`: the practice at a glance — plan and status in plain words (and
//! the way to Stripe's customer portal, [`super::billing`]), this month's
//! usage against the plan's allowance, and the boxes. Operators,
//! who belong to no practice, go to the fleet.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cloud_sync::plans::{Notice, PlanTable};
use serde::Serialize;

use super::page;
use super::routes::{Access, Routes};
use super::session::{SignedIn, unavailable};
use crate::api::AppState;
use crate::onboarding::status::DEFAULT_GRACE;
use crate::usage;

/// A box is offline when it has not called for this long (its config
/// long-poll returns every few tens of seconds).
pub const OFFLINE_AFTER_SECS: f64 = 10.0 * 60.0;

pub fn routes(r: Routes) -> Routes {
    r.get("/", Access::Member, home)
}

#[derive(Serialize)]
pub(super) struct Standing {
    /// "Active", "Trial", "Payment overdue", …
    pub title: String,
    detail: String,
    /// Whether the owner should act.
    pub warn: bool,
}

/// What a plan's status means for the clinic, in the owner's words.
pub(super) fn standing(
    status: &str,
    notice: Option<Notice>,
    suspends_on: Option<&str>,
) -> Standing {
    let s = |title: &str, detail: String, warn| Standing {
        title: title.into(),
        detail,
        warn,
    };
    match (notice, status) {
        (None, "trialing") => s(
            "Trial",
            "Everything in your plan works during the trial.".into(),
            false,
        ),
        (None, _) => s("Active", "Your subscription is paid up.".into(), false),
        (Some(Notice::PastDue), _) => s(
            "Payment overdue",
            match suspends_on {
                Some(day) => format!(
                    "Stripe could not take the last payment. Everything keeps working until {day}; \
                     then the box keeps checking patients in but pauses voice, extra TVs and casting \
                     until the payment goes through."
                ),
                None => "Stripe could not take the last payment. Update your card to keep every feature."
                    .into(),
            },
            true,
        ),
        (Some(Notice::Suspended), _) => s(
            "Suspended",
            "The box still checks patients in on one TV; voice, extra TVs and casting are paused \
             until the subscription is paid."
                .into(),
            true,
        ),
        (Some(Notice::Cancelled), _) => s(
            "Cancelled",
            "The subscription has ended. The box still checks patients in on one TV; your data \
             stays available to export."
                .into(),
            true,
        ),
        (Some(Notice::Unknown), _) => s(
            "Unknown plan",
            "This practice's plan is not one we know. Contact support.".into(),
            true,
        ),
    }
}

#[derive(Serialize)]
struct Boxes {
    total: i64,
    online: i64,
}

async fn home(State(state): State<Arc<AppState>>, who: SignedIn) -> Response {
    let tenant = match who.tenant() {
        Ok(t) => t.to_string(),
        Err(to_fleet) => return to_fleet.into_response(),
    };
    let grace = state.onboarding.as_ref().map_or(DEFAULT_GRACE, |o| o.grace);
    let Ok(client) = state.pool.get().await else {
        return unavailable();
    };
    let row = match client
        .query_one(
            "SELECT t.name, t.plan, t.status,
                    to_char(t.past_due_since + make_interval(secs => $2), 'FMDD FMMonth YYYY'),
                    (SELECT count(*) FROM devices d WHERE d.tenant_id = t.tenant_id AND d.revoked_at IS NULL),
                    (SELECT count(*) FROM devices d WHERE d.tenant_id = t.tenant_id AND d.revoked_at IS NULL
                       AND d.last_seen_at > now() - make_interval(secs => $3)),
                    t.stripe_customer_id IS NOT NULL
             FROM tenants t WHERE t.tenant_id = $1",
            &[&tenant, &(grace.as_secs() as f64), &OFFLINE_AFTER_SECS],
        )
        .await
    {
        Ok(r) => r,
        Err(_) => return unavailable(),
    };
    let read = || -> Result<_, tokio_postgres::Error> {
        Ok((
            row.try_get::<_, String>(0)?,
            row.try_get::<_, String>(1)?,
            row.try_get::<_, String>(2)?,
            row.try_get::<_, Option<String>>(3)?,
            Boxes {
                total: row.try_get(4)?,
                online: row.try_get(5)?,
            },
            row.try_get::<_, bool>(6)?,
        ))
    };
    let Ok((name, plan, status, suspends_on, boxes, has_customer)) = read() else {
        return unavailable();
    };
    drop(client);
    let ent = PlanTable::shipped().entitlements(&plan, &status);
    let Ok(usage) = usage::for_month(&state.pool, &tenant, None).await else {
        return unavailable();
    };
    page(
        StatusCode::OK,
        "home.html",
        minijinja::context! {
            who => super::who(&who, "/"),
            practice => name,
            plan => ent.limits.label,
            standing => standing(&status, ent.notice, suspends_on.as_deref()),
            usage,
            boxes,
            // Stripe's customer portal, for a practice bought online.
            portal => has_customer && state.onboarding.is_some(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_plain_words() {
        assert_eq!(standing("active", None, None).title, "Active");
        assert_eq!(standing("trialing", None, None).title, "Trial");
        let overdue = standing("past_due", Some(Notice::PastDue), Some("14 December 2026"));
        assert!(overdue.warn);
        assert!(
            overdue.detail.contains("until 14 December 2026"),
            "{}",
            overdue.detail
        );
        assert!(
            standing("canceled", Some(Notice::Cancelled), None)
                .detail
                .contains("export")
        );
    }
}
