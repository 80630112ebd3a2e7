//! `GET /fleet`: the operators' view of every practice: its plan's standing,
//! its boxes (those offline for more than ten minutes first) and the events
//! they have waiting; and the software versions across the fleet.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cloud_sync::plans::PlanTable;
use serde::Serialize;

use super::home::{OFFLINE_AFTER_SECS, standing};
use super::page;
use super::routes::{Access, Routes};
use super::session::{SignedIn, unavailable};
use crate::api::AppState;

pub fn routes(r: Routes) -> Routes {
    r.get("/fleet", Access::Operator, fleet)
}

#[derive(Serialize)]
struct Practice {
    tenant_id: String,
    name: String,
    vertical: String,
    plan: String,
    standing: String,
    warn: bool,
    boxes: i64,
    offline: i64,
    /// When the practice's longest-silent box last called, in words.
    silent_since: Option<String>,
    /// Events its boxes last reported waiting to be sent.
    events_waiting: i64,
}

/// How many boxes run each software version (from their reports).
#[derive(Serialize)]
struct Version {
    version: String,
    boxes: i64,
}

async fn fleet(State(state): State<Arc<AppState>>, who: SignedIn) -> Response {
    if let Err(refused) = who.require_operator() {
        return refused.into_response();
    }
    let Ok(client) = state.pool.get().await else {
        return unavailable();
    };
    let rows = match client
        .query(
            "SELECT t.name, t.vertical, t.plan, t.status,
                    count(d.device_id),
                    count(d.device_id) FILTER (WHERE d.last_seen_at IS NULL
                        OR d.last_seen_at <= now() - make_interval(secs => $1)),
                    to_char(min(d.last_seen_at) FILTER (WHERE d.last_seen_at <= now() - make_interval(secs => $1)),
                            'YYYY-MM-DD HH24:MI \"UTC\"'),
                    coalesce(sum((d.report->>'events_waiting')::bigint), 0)::bigint,
                    t.tenant_id
             FROM tenants t
             LEFT JOIN devices d ON d.tenant_id = t.tenant_id AND d.revoked_at IS NULL
             GROUP BY t.tenant_id
             ORDER BY 6 DESC, t.name",
            &[&OFFLINE_AFTER_SECS],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the fleet");
            return unavailable();
        }
    };
    let plans = PlanTable::shipped();
    let mut practices = Vec::with_capacity(rows.len());
    for row in rows {
        let read = || -> Result<Practice, tokio_postgres::Error> {
            let plan: String = row.try_get(2)?;
            let status: String = row.try_get(3)?;
            let ent = plans.entitlements(&plan, &status);
            let s = standing(&status, ent.notice, None);
            Ok(Practice {
                tenant_id: row.try_get(8)?,
                name: row.try_get(0)?,
                vertical: row.try_get(1)?,
                plan: ent.limits.label.to_string(),
                standing: s.title,
                warn: s.warn,
                boxes: row.try_get(4)?,
                offline: row.try_get(5)?,
                silent_since: row.try_get(6)?,
                events_waiting: row.try_get(7)?,
            })
        };
        match read() {
            Ok(p) => practices.push(p),
            Err(_) => return unavailable(),
        }
    }
    let versions = match client
        .query(
            "SELECT coalesce(report->>'software_version', 'not reported yet'), count(*)
             FROM devices WHERE revoked_at IS NULL GROUP BY 1 ORDER BY 2 DESC, 1",
            &[],
        )
        .await
        .and_then(|rows| {
            rows.iter()
                .map(|r| {
                    Ok(Version {
                        version: r.try_get(0)?,
                        boxes: r.try_get(1)?,
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        }) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the fleet's versions");
            return unavailable();
        }
    };
    let offline: i64 = practices.iter().map(|p| p.offline).sum();
    let boxes: i64 = practices.iter().map(|p| p.boxes).sum();
    page(
        StatusCode::OK,
        "fleet.html",
        minijinja::context! {
            who => super::who(&who, "/fleet"),
            practices,
            offline,
            boxes,
            versions,
        },
    )
}
