//! "Forgot your password?": `GET/POST /password/forgot` emails a link that
//! sets a new one (through the outbox; the link is minted when the email
//! is sent and works for an hour, once).
//!
//! The answer is the same whether or not an account has the address, so
//! the page tells nobody which addresses exist. One email per account per
//! ten minutes (the outbox's unique key), however often the form is sent;
//! each request counts against the client address's sign-in limit.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::login::{over_network_limit, wait_words};
use super::routes::{Access, Routes};
use super::session::{self, RequestFrom};
use super::{message, page};
use crate::admin;
use crate::api::AppState;
use crate::email::{self, Kind};

pub const PATH: &str = "/password/forgot";
/// One reset email per account per this many seconds.
const RESET_EVERY_SECS: i64 = 600;

pub fn routes(r: Routes) -> Routes {
    r.get(PATH, Access::Anyone, show)
        .post(PATH, Access::Anyone, ask)
}

#[derive(Deserialize)]
struct Forgot {
    #[serde(default)]
    email: String,
}

fn form(status: StatusCode, email: &str, error: Option<&str>) -> Response {
    page(status, "forgot.html", minijinja::context! { email, error })
}

async fn show() -> Response {
    form(StatusCode::OK, "", None)
}

async fn ask(
    State(state): State<Arc<AppState>>,
    from: RequestFrom,
    headers: HeaderMap,
    Form(f): Form<Forgot>,
) -> Response {
    let email = match session::typed_address(&headers, &f.email) {
        Ok(email) => email,
        Err(None) => return session::from_another_site(),
        Err(Some(typed)) => {
            return form(
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                Some("Type the email address you sign in with, like owner@clinic.com."),
            );
        }
    };
    match queue_resets(&state, &email, &from).await {
        Ok(None) => message(
            StatusCode::OK,
            "Check your email",
            &format!(
                "If an account has the address {email}, an email with a link to set a new \
                 password is on its way. The link works for an hour, once."
            ),
        ),
        Ok(Some(left)) => form(
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            Some(&format!(
                "Too many attempts from this network. Try again {}.",
                wait_words(left)
            )),
        ),
        Err(()) => session::unavailable(),
    }
}

/// Queues a reset email for every account with this address; `Some`
/// (seconds to wait) when the network is over its limit.
async fn queue_resets(
    state: &AppState,
    email: &str,
    from: &RequestFrom,
) -> Result<Option<f64>, ()> {
    let mut client = state.pool.get().await.map_err(|_| ())?;
    if let Some(left) = over_network_limit(&client, from).await? {
        return Ok(Some(left));
    }
    let tx = client.transaction().await.map_err(|_| ())?;
    let rows = tx
        .query(
            "SELECT account_id, tenant_id, (extract(epoch FROM now())::bigint / $2)::text
             FROM accounts WHERE lower(email) = $1 AND removed_at IS NULL",
            &[&email, &RESET_EVERY_SECS],
        )
        .await
        .map_err(|_| ())?;
    for r in rows {
        let (account, tenant, bucket): (String, Option<String>, String) = (
            r.try_get(0).map_err(|_| ())?,
            r.try_get(1).map_err(|_| ())?,
            r.try_get(2).map_err(|_| ())?,
        );
        let key = format!("reset:{account}:{bucket}");
        let queued = email::enqueue(&*tx, tenant.as_deref(), &account, Kind::Reset, &key)
            .await
            .map_err(|_| ())?;
        if queued {
            admin::audit(
                &*tx,
                tenant.as_deref(),
                email,
                "account.reset_requested",
                &account,
                Some(from),
            )
            .await
            .map_err(|_| ())?;
        }
    }
    tx.commit().await.map_err(|_| ())?;
    Ok(None)
}
