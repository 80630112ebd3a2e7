//! Signing in and out: `GET/POST /login`, `POST /logout`.
//!
//! A password guess costs an attacker: every address typed has its own
//! failure count (kept whether or not an account has that address, so the
//! answer never tells which exist), and after [`FREE_ATTEMPTS`] failures
//! it is locked for 30 s, doubling with each further failure up to 15
//! minutes; each client address has [`IP_ATTEMPTS`] tries per
//! [`IP_WINDOW`]. Unknown addresses still cost one argon2id verification,
//! so timing does not tell either.
//!
//! *Decision:* one address may own several practices (one account each).
//! Signing in opens the oldest account whose password matches; each
//! practice's welcome email sets that account's own password.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page;
use super::routes::{Access, Routes};
use super::session::{self, Change, RequestFrom, Role, SignedIn};
use crate::accounts;
use crate::admin;
use crate::api::AppState;

/// Failures allowed on one address before it locks.
pub const FREE_ATTEMPTS: i32 = 5;
const FIRST_LOCK: Duration = Duration::from_secs(30);
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Sign-in attempts per client address per window (a clinic's staff share
/// one address behind the router).
pub const IP_ATTEMPTS: i32 = 30;
pub const IP_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A failure count older than this starts again.
const FAILURES_FORGOTTEN: Duration = Duration::from_secs(86_400);

pub fn routes(r: Routes) -> Routes {
    r.get("/login", Access::Anyone, show)
        .post("/login", Access::Anyone, sign_in)
        .post("/logout", Access::Yourself, sign_out)
}

#[derive(Deserialize)]
struct Login {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct Logout {
    #[serde(default)]
    everywhere: Option<String>,
}

fn form(status: StatusCode, email: &str, error: Option<&str>) -> Response {
    page(status, "login.html", minijinja::context! { email, error })
}

async fn show(who: Option<SignedIn>) -> Response {
    match who {
        Some(_) => Redirect::to("/").into_response(),
        None => form(StatusCode::OK, "", None),
    }
}

/// "in 3 minutes", "in 40 seconds".
pub fn wait_words(secs: f64) -> String {
    let secs = secs.ceil().max(1.0) as u64;
    if secs == 1 {
        "in a second".to_string()
    } else if secs < 90 {
        format!("in {secs} seconds")
    } else {
        format!("in {} minutes", secs.div_ceil(60))
    }
}

fn lock_for(failures: i32) -> Duration {
    let extra = (failures - FREE_ATTEMPTS).clamp(0, 16) as u32;
    FIRST_LOCK.saturating_mul(1 << extra).min(MAX_LOCK)
}

/// A hash nobody's password matches, verified when no account has the
/// address, so that an unknown address takes as long as a wrong password.
static DECOY: LazyLock<Option<String>> =
    LazyLock::new(|| accounts::hash_password("no account has this password").ok());

async fn sign_in(
    State(state): State<Arc<AppState>>,
    from: RequestFrom,
    headers: HeaderMap,
    Form(f): Form<Login>,
) -> Response {
    let email = match session::typed_address(&headers, &f.email) {
        Ok(email) => email,
        Err(None) => return session::from_another_site(),
        Err(Some(typed)) => {
            return form(
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                Some("Type the email address you signed up with, like owner@clinic.com."),
            );
        }
    };
    if f.password.is_empty() || f.password.len() > 1024 {
        return form(
            StatusCode::UNPROCESSABLE_ENTITY,
            &email,
            Some("Type your password."),
        );
    }
    match attempt(&state, &email, f.password, &from).await {
        Ok(Ok((token, _))) => {
            let cookie = session::set_cookie(state.secure_cookies, Some(&token));
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(Err(refusal)) => refusal,
        Err(()) => session::unavailable(),
    }
}

type Attempt = Result<(String, Role), Response>;

async fn attempt(
    state: &AppState,
    email: &str,
    password: String,
    from: &RequestFrom,
) -> Result<Attempt, ()> {
    let client = state.pool.get().await.map_err(|_| ())?;
    if let Some(left) = over_network_limit(&client, from).await? {
        let why = format!(
            "Too many sign-in attempts from this network. Try again {}.",
            wait_words(left)
        );
        return Ok(Err(form(StatusCode::TOO_MANY_REQUESTS, email, Some(&why))));
    }
    let locked: Option<f64> = client
        .query_opt(
            "SELECT extract(epoch FROM locked_until - now())::float8 FROM login_failures
             WHERE email = $1 AND locked_until > now()",
            &[&email],
        )
        .await
        .map_err(|_| ())?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(|_| ())?;
    if let Some(left) = locked {
        let why = format!(
            "Too many wrong passwords for this address. Try again {}, or set a new password with the link in your email.",
            wait_words(left)
        );
        return Ok(Err(form(StatusCode::TOO_MANY_REQUESTS, email, Some(&why))));
    }
    let rows = client
        .query(
            "SELECT account_id, role, tenant_id, password_hash FROM accounts
             WHERE lower(email) = $1 AND password_hash IS NOT NULL AND removed_at IS NULL
             ORDER BY created_at LIMIT 10",
            &[&email],
        )
        .await
        .map_err(|_| ())?;
    let mut candidates = Vec::with_capacity(rows.len());
    for r in &rows {
        let (id, role, tenant, hash): (String, String, Option<String>, String) = (
            r.try_get(0).map_err(|_| ())?,
            r.try_get(1).map_err(|_| ())?,
            r.try_get(2).map_err(|_| ())?,
            r.try_get(3).map_err(|_| ())?,
        );
        candidates.push((id, Role::parse(&role).ok_or(())?, tenant, hash));
    }
    let hashes: Vec<String> = candidates.iter().map(|c| c.3.clone()).collect();
    // argon2id takes tens of milliseconds of CPU: off the async threads.
    let matched = tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            if let Some(decoy) = DECOY.as_deref() {
                accounts::verify_password(&password, decoy);
            }
            return None;
        }
        hashes
            .iter()
            .position(|h| accounts::verify_password(&password, h))
    })
    .await
    .map_err(|_| ())?;
    let Some(i) = matched else {
        failed(&client, email, &candidates, from).await?;
        return Ok(Err(form(
            StatusCode::UNAUTHORIZED,
            email,
            Some("The email address or the password is not right."),
        )));
    };
    let (account, role, tenant, _) = &candidates[i];
    client
        .execute("DELETE FROM login_failures WHERE email = $1", &[&email])
        .await
        .map_err(|_| ())?;
    let token = session::start(&**client, account, *role, from)
        .await
        .map_err(|_| ())?;
    let actor = match role {
        Role::Operator => format!("operator {email}"),
        _ => email.to_string(),
    };
    admin::audit(
        &**client,
        tenant.as_deref(),
        &actor,
        "account.signed_in",
        account,
        Some(from),
    )
    .await
    .map_err(|_| ())?;
    Ok(Ok((token, *role)))
}

/// Counts an attempt (a sign-in, a reset asked for) from the client's
/// address; `Some(seconds)` until the window ends when it is over the
/// limit.
pub async fn over_network_limit(
    client: &tokio_postgres::Client,
    from: &RequestFrom,
) -> Result<Option<f64>, ()> {
    let Some(ip) = &from.ip else { return Ok(None) };
    let row = client
        .query_one(
            "INSERT INTO login_throttle AS t (ip, window_start, attempts) VALUES ($1, now(), 1)
             ON CONFLICT (ip) DO UPDATE SET
               attempts = CASE WHEN t.window_start < now() - make_interval(secs => $2)
                               THEN 1 ELSE t.attempts + 1 END,
               window_start = CASE WHEN t.window_start < now() - make_interval(secs => $2)
                                   THEN now() ELSE t.window_start END
             RETURNING attempts,
               extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8",
            &[ip, &(IP_WINDOW.as_secs() as f64)],
        )
        .await
        .map_err(|_| ())?;
    let (attempts, left): (i32, f64) = (
        row.try_get(0).map_err(|_| ())?,
        row.try_get(1).map_err(|_| ())?,
    );
    Ok((attempts > IP_ATTEMPTS).then_some(left))
}

/// Counts a failure on `email` and locks it past the free attempts; the
/// practices with an account of that address see it in their audit log.
async fn failed(
    client: &tokio_postgres::Client,
    email: &str,
    candidates: &[(String, Role, Option<String>, String)],
    from: &RequestFrom,
) -> Result<(), ()> {
    let failures: i32 = client
        .query_one(
            "INSERT INTO login_failures AS f (email, failures) VALUES ($1, 1)
             ON CONFLICT (email) DO UPDATE SET
               failures = CASE WHEN f.last_at < now() - make_interval(secs => $2)
                               THEN 1 ELSE f.failures + 1 END,
               last_at = now()
             RETURNING failures",
            &[&email, &(FAILURES_FORGOTTEN.as_secs() as f64)],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|_| ())?;
    if failures >= FREE_ATTEMPTS {
        client
            .execute(
                "UPDATE login_failures SET locked_until = now() + make_interval(secs => $2)
                 WHERE email = $1",
                &[&email, &(lock_for(failures).as_secs() as f64)],
            )
            .await
            .map_err(|_| ())?;
    }
    for (account, _, tenant, _) in candidates {
        admin::audit(
            client,
            tenant.as_deref(),
            email,
            "account.sign_in_failed",
            account,
            Some(from),
        )
        .await
        .map_err(|_| ())?;
    }
    Ok(())
}

async fn sign_out(State(state): State<Arc<AppState>>, change: Change<Logout>) -> Response {
    let Change { who, from, form } = change;
    let everywhere = form.everywhere.is_some();
    let done = async {
        let client = state.pool.get().await.map_err(|_| ())?;
        // An operator's log-in-as ends with the session, in the practice's
        // log; the sign-out itself is the operator's, not the practice's.
        let mut tenant = who.tenant_id.as_deref();
        if let (Some(practice), Some(_)) = (tenant, who.acting.as_ref()) {
            super::log_in_as::end(&**client, &who, practice, "signed out", Some(&from))
                .await
                .map_err(|_| ())?;
            tenant = None;
        }
        if everywhere {
            session::end_all(&**client, &who.account_id)
                .await
                .map_err(|_| ())?;
        } else {
            session::end(&**client, &who).await.map_err(|_| ())?;
        }
        let action = if everywhere {
            "account.signed_out_everywhere"
        } else {
            "account.signed_out"
        };
        admin::audit(
            &**client,
            tenant,
            &who.actor(),
            action,
            &who.account_id,
            Some(&from),
        )
        .await
        .map_err(|_| ())
    }
    .await;
    if done.is_err() {
        return session::unavailable();
    }
    let cookie = session::set_cookie(state.secure_cookies, None);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_and_stop_at_fifteen_minutes() {
        assert_eq!(lock_for(FREE_ATTEMPTS), Duration::from_secs(30));
        assert_eq!(lock_for(FREE_ATTEMPTS + 1), Duration::from_secs(60));
        assert_eq!(lock_for(FREE_ATTEMPTS + 3), Duration::from_secs(240));
        assert_eq!(lock_for(FREE_ATTEMPTS + 40), MAX_LOCK);
    }

    #[test]
    fn waits_are_said_plainly() {
        assert_eq!(wait_words(29.2), "in 30 seconds");
        assert_eq!(wait_words(240.0), "in 4 minutes");
        assert_eq!(wait_words(0.0), "in a second");
    }
}
