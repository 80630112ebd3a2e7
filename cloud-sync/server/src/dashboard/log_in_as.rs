//! An operator's "log in as": support sees and changes a practice as its
//! owner would, for a while, with a banner on every page.
//!
//! * `GET /fleet/log-in-as?tenant=…`: the practice, what will happen, a
//!   reason to give (it goes into the practice's audit log).
//! * `POST /fleet/log-in-as`: starts it on the operator's own session.
//! * `POST /log-in-as/stop`: back to the fleet.
//!
//! The operator stays themself: every change they make while logged in as
//! the practice is audited in its log as `operator <their email>`, and the
//! start, the stop and the end by expiry are entries too. It lasts
//! [`LASTS`] at most (and never past the operator's session); the first
//! request after that finds it over ([`super::session`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tokio_postgres::GenericClient;

use super::routes::{Access, Routes};
use super::session::{Change, RequestFrom, Role, SignedIn, busy};
use super::{message, page};
use crate::admin::{self, AdminError};
use crate::api::AppState;

/// How long an operator is logged in as a practice before it ends by itself.
pub const LASTS: Duration = Duration::from_secs(30 * 60);
/// A reason is a sentence or a ticket number, not a letter.
const MAX_REASON: usize = 200;

pub fn routes(r: Routes) -> Routes {
    r.get("/fleet/log-in-as", Access::Operator, confirm)
        .post("/fleet/log-in-as", Access::Operator, start)
        .post("/log-in-as/stop", Access::Yourself, stop)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Which {
    tenant: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Start {
    tenant: String,
    reason: String,
}

/// The practice's name, if `tenant` names one.
async fn practice_name(
    client: &impl GenericClient,
    tenant: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt("SELECT name FROM tenants WHERE tenant_id = $1", &[&tenant])
        .await?;
    row.map(|r| r.try_get(0)).transpose()
}

fn no_such_practice() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No such practice",
        "No practice has that id. Choose one on the fleet page.",
    )
}

async fn confirm(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Query(which): Query<Which>,
) -> Response {
    if let Err(refused) = who.require_operator() {
        return refused.into_response();
    }
    form(&state, &who, &which.tenant, "", None).await
}

/// The confirmation page, again with `error` when the reason was not right.
async fn form(
    state: &AppState,
    who: &SignedIn,
    tenant: &str,
    reason: &str,
    error: Option<&str>,
) -> Response {
    let Ok(client) = state.pool.get().await else {
        return super::session::unavailable();
    };
    let name = match practice_name(&**client, tenant).await {
        Ok(Some(name)) => name,
        Ok(None) => return no_such_practice(),
        Err(e) => return busy(e).into_response(),
    };
    page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "log_in_as.html",
        minijinja::context! {
            who => super::who(who, "/fleet"),
            tenant,
            practice => name,
            reason,
            error,
            minutes => LASTS.as_secs() / 60,
        },
    )
}

async fn start(State(state): State<Arc<AppState>>, change: Change<Start>) -> Response {
    let Change { who, from, form: f } = change;
    if let Err(refused) = who.require_operator() {
        return refused.into_response();
    }
    let reason = f.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        let why = if reason.is_empty() {
            "Say why you are logging in as this practice (a ticket number will do); it goes into the practice's audit log."
        } else {
            "The reason is too long: 200 characters at most."
        };
        return form(&state, &who, &f.tenant, &f.reason, Some(why)).await;
    }
    let done = async {
        let mut client = state.pool.get().await.map_err(busy)?;
        let tx = client.transaction().await.map_err(busy)?;
        if practice_name(&*tx, &f.tenant)
            .await
            .map_err(busy)?
            .is_none()
        {
            return Ok(false);
        }
        // Logging in as another practice ends the one before, in its log.
        if let (Some(previous), true) = (who.tenant_id.as_deref(), who.acting.is_some()) {
            end(&*tx, &who, previous, "stopped", Some(&from))
                .await
                .map_err(busy)?;
        }
        tx.execute(
            "UPDATE sessions SET acting_tenant = $2,
                    acting_until = least(now() + make_interval(secs => $3), expires_at)
             WHERE token_hash = $1",
            &[&who.token_hash, &f.tenant, &(LASTS.as_secs() as f64)],
        )
        .await
        .map_err(busy)?;
        admin::audit(
            &*tx,
            Some(&f.tenant),
            &who.actor(),
            "operator.log_in_as.started",
            reason,
            Some(&from),
        )
        .await
        .map_err(busy)?;
        tx.commit().await.map_err(busy)?;
        Ok::<_, super::session::Refused>(true)
    }
    .await;
    match done {
        Ok(true) => Redirect::to("/").into_response(),
        Ok(false) => no_such_practice(),
        Err(refused) => refused.into_response(),
    }
}

async fn stop(State(state): State<Arc<AppState>>, change: Change<Which>) -> Response {
    let Change { who, from, .. } = change;
    let (Some(tenant), Some(_)) = (who.tenant_id.as_deref(), who.acting.as_ref()) else {
        // Nothing to stop (it may have ended by itself a moment ago).
        let home = if who.role == Role::Operator {
            "/fleet"
        } else {
            "/"
        };
        return Redirect::to(home).into_response();
    };
    let done = async {
        let client = state.pool.get().await.map_err(busy)?;
        end(&**client, &who, tenant, "stopped", Some(&from))
            .await
            .map_err(busy)
    }
    .await;
    match done {
        Ok(()) => Redirect::to("/fleet").into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// Ends an operator's log-in-as of `tenant` on this session and says so in
/// the practice's log (`how`: "stopped", "expired", "signed out"). A no-op
/// when it has already ended (two tabs, a race with expiry).
pub async fn end(
    client: &impl GenericClient,
    who: &SignedIn,
    tenant: &str,
    how: &str,
    from: Option<&RequestFrom>,
) -> Result<(), AdminError> {
    let ended = client
        .execute(
            "UPDATE sessions SET acting_tenant = NULL, acting_until = NULL
             WHERE token_hash = $1 AND acting_tenant = $2",
            &[&who.token_hash, &tenant],
        )
        .await?;
    if ended == 1 {
        admin::audit(
            client,
            Some(tenant),
            &who.actor(),
            "operator.log_in_as.ended",
            how,
            from,
        )
        .await?;
    }
    Ok(())
}
