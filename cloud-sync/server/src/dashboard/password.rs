//! Setting a password with a single-use link (the welcome email's; resets
//! later). The link's token is the credential: 256 random bits, kept only
//! as its SHA-256, working once and until it expires. `GET` only shows the
//! form; `POST` checks the token again under a row lock, so two submits of
//! one link set the password once.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::routes::{Access, Routes};
use super::{message, page};
use crate::accounts;
use crate::admin::{RequestFrom, audit, token_hash};
use crate::api::AppState;

pub const PATH: &str = "/password";
/// NIST SP 800-63B asks for at least 8; owners guard a clinic's data.
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 256;

pub fn routes(r: Routes) -> Routes {
    r.get(PATH, Access::Anyone, show)
        .post(PATH, Access::Anyone, set)
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct SetPassword {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

const GONE: &str = "This link has expired or has already been used. Ask for a new one: \
                    links work once, for a limited time.";

/// The account a working link is for.
struct LinkOwner {
    account: String,
    email: String,
    /// "owner of Bright Smile", "staff at Bright Smile", "operator".
    standing: String,
}

async fn link_owner(state: &AppState, token: &str) -> Result<Option<LinkOwner>, Response> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let client = state.pool.get().await.map_err(|_| unavailable())?;
    let row = client
        .query_opt(
            "SELECT a.account_id, a.email,
                    CASE a.role WHEN 'owner' THEN 'owner of ' || t.name
                                WHEN 'staff' THEN 'staff at ' || t.name
                                ELSE 'SOS Edge operator' END
             FROM password_links l
             JOIN accounts a ON a.account_id = l.account_id
             LEFT JOIN tenants t ON t.tenant_id = a.tenant_id
             WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now()
               AND a.removed_at IS NULL",
            &[&token_hash(token)],
        )
        .await
        .map_err(|_| unavailable())?;
    match row {
        Some(r) => Ok(Some(LinkOwner {
            account: r.try_get(0).map_err(|_| unavailable())?,
            email: r.try_get(1).map_err(|_| unavailable())?,
            standing: r.try_get(2).map_err(|_| unavailable())?,
        })),
        None => Ok(None),
    }
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again in a moment",
        "The service is busy. Your link still works; open it again in a minute.",
    )
}

fn form(status: StatusCode, token: &str, owner: &LinkOwner, error: Option<&str>) -> Response {
    page(
        status,
        "password.html",
        minijinja::context! {
            token, error, email => owner.email, standing => owner.standing,
            min_len => MIN_PASSWORD_CHARS, max_len => MAX_PASSWORD_CHARS,
        },
    )
}

async fn show(State(state): State<Arc<AppState>>, Query(link): Query<Link>) -> Response {
    match link_owner(&state, &link.token).await {
        Ok(Some(owner)) => form(StatusCode::OK, &link.token, &owner, None),
        Ok(None) => message(StatusCode::GONE, "This link no longer works", GONE),
        Err(r) => r,
    }
}

/// What is wrong with a new password, in the words the page shows.
pub fn check_password(password: &str, confirm: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "The password is too short: use at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "The password is too long: at most {MAX_PASSWORD_CHARS} characters."
        ));
    }
    if password != confirm {
        return Err("The two passwords are not the same.".into());
    }
    Ok(())
}

async fn set(
    State(state): State<Arc<AppState>>,
    from: RequestFrom,
    Form(f): Form<SetPassword>,
) -> Response {
    let owner = match link_owner(&state, &f.token).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return message(StatusCode::GONE, "This link no longer works", GONE),
        Err(r) => return r,
    };
    if let Err(why) = check_password(&f.password, &f.confirm) {
        return form(
            StatusCode::UNPROCESSABLE_ENTITY,
            &f.token,
            &owner,
            Some(&why),
        );
    }
    // argon2id takes tens of milliseconds of CPU: off the async threads.
    let password = f.password;
    let hash = match tokio::task::spawn_blocking(move || accounts::hash_password(&password)).await {
        Ok(Ok(h)) => h,
        _ => return unavailable(),
    };
    match store(&state, &f.token, &owner.account, &hash, &from).await {
        Ok(true) => message(
            StatusCode::OK,
            "Your password is set",
            "You can now sign in to your SOS Edge dashboard with your email and this password.",
        ),
        // Used by another submit a moment ago.
        Ok(false) => message(StatusCode::GONE, "This link no longer works", GONE),
        Err(()) => unavailable(),
    }
}

/// Spends the link and sets the hash in one transaction; false when the
/// link was spent meanwhile.
async fn store(
    state: &AppState,
    token: &str,
    account: &str,
    hash: &str,
    from: &RequestFrom,
) -> Result<bool, ()> {
    let mut client = state.pool.get().await.map_err(|_| ())?;
    let tx = client.transaction().await.map_err(|_| ())?;
    let spent = tx
        .execute(
            "UPDATE password_links SET used_at = now()
             WHERE token_hash = $1 AND account_id = $2 AND used_at IS NULL AND expires_at > now()",
            &[&token_hash(token), &account],
        )
        .await
        .map_err(|_| ())?;
    if spent != 1 {
        return Ok(false);
    }
    let tenant: Option<String> = tx
        .query_one(
            "UPDATE accounts SET password_hash = $2 WHERE account_id = $1 RETURNING tenant_id",
            &[&account, &hash],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|_| ())?;
    // A new password signs the account out everywhere.
    super::session::end_all(&*tx, account)
        .await
        .map_err(|_| ())?;
    // Any other link for this account is superseded.
    tx.execute(
        "UPDATE password_links SET used_at = now() WHERE account_id = $1 AND used_at IS NULL",
        &[&account],
    )
    .await
    .map_err(|_| ())?;
    audit(
        &*tx,
        tenant.as_deref(),
        account,
        "account.password_set",
        account,
        Some(from),
    )
    .await
    .map_err(|_| ())?;
    tx.commit().await.map_err(|_| ())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::check_password;

    #[test]
    fn passwords_are_checked_in_plain_words() {
        assert!(check_password("correct horse", "correct horse").is_ok());
        assert!(
            check_password("short", "short")
                .unwrap_err()
                .contains("too short")
        );
        assert!(
            check_password("correct horse", "correct house")
                .unwrap_err()
                .contains("not the same")
        );
        let long = "x".repeat(257);
        assert!(
            check_password(&long, &long)
                .unwrap_err()
                .contains("too long")
        );
    }
}
