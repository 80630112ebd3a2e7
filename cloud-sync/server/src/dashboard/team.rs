//! `/team`: the people who sign in to a practice's dashboard. Everyone in
//! the practice sees the list; only the owner invites (an email with a
//! link that sets the new person's password) and removes (signed out at
//! once, everywhere; kept in the audit log). Staff accounts count against
//! the plan's `staff_seats`; the owner does not.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cloud_sync::plans::PlanTable;
use serde::{Deserialize, Serialize};

use super::routes::{Access, Routes};
use super::session::{self, Change, Refused, SignedIn};
use super::{message, page};
use crate::accounts;
use crate::admin;
use crate::api::AppState;
use crate::email::{self, Kind};

pub fn routes(r: Routes) -> Routes {
    r.get("/team", Access::Member, show)
        .post("/team/invite", Access::Owner, invite)
        .post("/team/{account}/remove", Access::Owner, remove)
}

#[derive(Serialize)]
struct Member {
    account_id: String,
    email: String,
    role: String,
    /// Invited, no password set yet.
    pending: bool,
}

#[derive(Deserialize)]
struct Invite {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct Remove {
    #[serde(default)]
    confirm: String,
}

/// The practice's people and its seats: (members, staff seats used, seats).
async fn members(
    client: &impl tokio_postgres::GenericClient,
    tenant: &str,
) -> Result<(Vec<Member>, i64, u32), Refused> {
    let busy = |_| Refused::Busy;
    let rows = client
        .query(
            "SELECT account_id, email, role, password_hash IS NULL FROM accounts
             WHERE tenant_id = $1 AND removed_at IS NULL
             ORDER BY role = 'owner' DESC, lower(email)",
            &[&tenant],
        )
        .await
        .map_err(busy)?;
    let mut list = Vec::with_capacity(rows.len());
    for r in rows {
        list.push(Member {
            account_id: r.try_get(0).map_err(busy)?,
            email: r.try_get(1).map_err(busy)?,
            role: r.try_get(2).map_err(busy)?,
            pending: r.try_get(3).map_err(busy)?,
        });
    }
    let (plan, status): (String, String) = client
        .query_one(
            "SELECT plan, status FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .and_then(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .map_err(busy)?;
    let seats = PlanTable::shipped()
        .entitlements(&plan, &status)
        .limits
        .staff_seats;
    let used = list.iter().filter(|m| m.role == "staff").count() as i64;
    Ok((list, used, seats))
}

async fn render(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<Response, Refused> {
    let tenant = who.tenant()?;
    let client = state.pool.get().await.map_err(|_| Refused::Busy)?;
    let (members, used, seats) = members(&**client, tenant).await?;
    Ok(page(
        status,
        "team.html",
        minijinja::context! {
            who => super::who(who, "/team"),
            members, used, seats, error, notice,
            me => who.account_id,
        },
    ))
}

async fn show(State(state): State<Arc<AppState>>, who: SignedIn) -> Response {
    render(&state, &who, StatusCode::OK, None, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// What an invitation did, or why it could not.
enum Invited {
    Sent,
    Refused(String),
}

async fn invite(State(state): State<Arc<AppState>>, change: Change<Invite>) -> Response {
    let Change { who, from, form } = change;
    let tenant = match who.require_owner() {
        Ok(t) => t.to_string(),
        Err(r) => return r.into_response(),
    };
    let outcome = match accounts::check_email(&form.email) {
        Err(e) => Ok(Invited::Refused(format!("{e}."))),
        Ok(email) => add_staff(&state, &tenant, &email, &who, &from).await,
    };
    let answer = match outcome {
        Ok(Invited::Sent) => {
            return Redirect::to("/team").into_response();
        }
        Ok(Invited::Refused(why)) => {
            render(
                &state,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&why),
                None,
            )
            .await
        }
        Err(r) => Err(r),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// Creates (or revives) a staff account and queues its invitation, in one
/// transaction under the tenant's row lock so two invitations cannot both
/// take the last seat.
async fn add_staff(
    state: &AppState,
    tenant: &str,
    email: &str,
    who: &SignedIn,
    from: &session::RequestFrom,
) -> Result<Invited, Refused> {
    let busy = |_| Refused::Busy;
    let mut client = state.pool.get().await.map_err(|_| Refused::Busy)?;
    let tx = client.transaction().await.map_err(busy)?;
    tx.execute(
        "SELECT 1 FROM tenants WHERE tenant_id = $1 FOR UPDATE",
        &[&tenant],
    )
    .await
    .map_err(busy)?;
    let existing = tx
        .query_opt(
            "SELECT account_id, role, removed_at IS NOT NULL, password_hash IS NOT NULL
             FROM accounts WHERE tenant_id = $1 AND lower(email) = lower($2)",
            &[&tenant, &email],
        )
        .await
        .map_err(busy)?;
    let (_, used, seats) = members(&*tx, tenant).await?;
    let account = match existing {
        Some(r) => {
            let (id, role, removed, has_password): (String, String, bool, bool) = (
                r.try_get(0).map_err(busy)?,
                r.try_get(1).map_err(busy)?,
                r.try_get(2).map_err(busy)?,
                r.try_get(3).map_err(busy)?,
            );
            if role != "staff" || (!removed && has_password) {
                return Ok(Invited::Refused(format!(
                    "{email} already signs in to this practice."
                )));
            }
            if removed {
                if used >= i64::from(seats) {
                    return Ok(Invited::Refused(seats_full(seats)));
                }
                tx.execute(
                    "UPDATE accounts SET removed_at = NULL, password_hash = NULL WHERE account_id = $1",
                    &[&id],
                )
                .await
                .map_err(busy)?;
            }
            // Still pending: the invitation goes again.
            id
        }
        None => {
            if used >= i64::from(seats) {
                return Ok(Invited::Refused(seats_full(seats)));
            }
            let id = format!("a-{}", uuid::Uuid::now_v7().simple());
            tx.execute(
                "INSERT INTO accounts (account_id, tenant_id, email, role) VALUES ($1, $2, $3, 'staff')",
                &[&id, &tenant, &email],
            )
            .await
            .map_err(busy)?;
            id
        }
    };
    // A double-click sends one email: one invitation per account per ten
    // minutes.
    let bucket = tx
        .query_one(
            "SELECT (extract(epoch FROM now())::bigint / 600)::text",
            &[],
        )
        .await
        .and_then(|r| r.try_get::<_, String>(0))
        .map_err(busy)?;
    email::enqueue(
        &*tx,
        Some(tenant),
        &account,
        Kind::Invite,
        &format!("invite:{account}:{bucket}"),
    )
    .await
    .map_err(|_| Refused::Busy)?;
    admin::audit(
        &*tx,
        Some(tenant),
        &who.actor(),
        "staff.invited",
        email,
        Some(from),
    )
    .await
    .map_err(|_| Refused::Busy)?;
    tx.commit().await.map_err(busy)?;
    Ok(Invited::Sent)
}

fn seats_full(seats: u32) -> String {
    format!(
        "Your plan includes {seats} staff seats and all are taken. Remove someone first, or \
         move to a larger plan."
    )
}

async fn remove(
    State(state): State<Arc<AppState>>,
    Path(account): Path<String>,
    change: Change<Remove>,
) -> Response {
    let Change { who, from, form } = change;
    let tenant = match who.require_owner() {
        Ok(t) => t.to_string(),
        Err(r) => return r.into_response(),
    };
    if form.confirm != "yes" {
        return render(
            &state,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Tick \"Yes, remove\" to confirm; nobody was removed."),
            None,
        )
        .await
        .unwrap_or_else(IntoResponse::into_response);
    }
    let done = async {
        let busy = |_| Refused::Busy;
        let mut client = state.pool.get().await.map_err(|_| Refused::Busy)?;
        let tx = client.transaction().await.map_err(busy)?;
        // Only this practice's staff: another practice's account, the
        // owner, or someone removed already is not found here.
        let email: Option<String> = tx
            .query_opt(
                "UPDATE accounts SET removed_at = now()
                 WHERE account_id = $1 AND tenant_id = $2 AND role = 'staff' AND removed_at IS NULL
                 RETURNING email",
                &[&account, &tenant],
            )
            .await
            .map_err(busy)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(busy)?;
        let Some(email) = email else {
            return Ok(None);
        };
        session::end_all(&*tx, &account)
            .await
            .map_err(|_| Refused::Busy)?;
        tx.execute(
            "UPDATE password_links SET used_at = now() WHERE account_id = $1 AND used_at IS NULL",
            &[&account],
        )
        .await
        .map_err(busy)?;
        admin::audit(
            &*tx,
            Some(&tenant),
            &who.actor(),
            "staff.removed",
            &email,
            Some(&from),
        )
        .await
        .map_err(|_| Refused::Busy)?;
        tx.commit().await.map_err(busy)?;
        Ok::<_, Refused>(Some(email))
    }
    .await;
    match done {
        Ok(Some(_)) => Redirect::to("/team").into_response(),
        Ok(None) => message(
            StatusCode::NOT_FOUND,
            "No such person",
            "Nobody with that account is on this practice's team.",
        ),
        Err(r) => r.into_response(),
    }
}
