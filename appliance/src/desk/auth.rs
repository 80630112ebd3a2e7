//! Staff sign-in: PIN or password (argon2id), a session cookie, a CSRF token
//! for every change, and a lock-out after repeated wrong PINs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use crate::clinic::Clinic;
use crate::secrets::{random_token, token_hash};
use crate::store::{self, StaffRow, StoreError, now_ms};
use crate::web::error::WebError;
use crate::web::{WebResult, templates};

pub const COOKIE: &str = "sos_desk";
/// A shift, roughly; staff sign in again after that.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Wrong PINs allowed before the account locks, and for how long at first.
const FREE_ATTEMPTS: i64 = 5;
const FIRST_LOCK_MS: i64 = 60_000;
const MAX_LOCK_MS: i64 = 15 * 60_000;
pub const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The PIN must be at least {MIN_SECRET_LEN} characters.")]
    TooShort,
    #[error("The PIN is too long (at most 128 characters).")]
    TooLong,
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn hash_secret(secret: &str) -> Result<String, AuthError> {
    if secret.chars().count() < MIN_SECRET_LEN {
        return Err(AuthError::TooShort);
    }
    if secret.len() > 128 {
        return Err(AuthError::TooLong);
    }
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Sets (or replaces) a staff member's PIN, given as [`hash_secret`] made
/// it (hashed before the write: argon2 takes tens of milliseconds, and the
/// store has one writer). Used by the CLI and the demo.
pub fn save_staff_secret(
    conn: &store::Connection,
    tenant: &str,
    staff_id: &str,
    name: &str,
    secret_hash: String,
) -> Result<(), StoreError> {
    store::upsert_staff(
        conn,
        tenant,
        &StaffRow {
            staff_id: staff_id.into(),
            name: name.into(),
            secret_hash,
            failed_attempts: 0,
            locked_until: None,
            from_cloud: false,
        },
    )?;
    store::append_audit(conn, tenant, "cli", "staff.pin_set", staff_id, &json!({}))?;
    Ok(())
}

#[derive(Clone)]
struct Session {
    staff_id: String,
    name: String,
    csrf: String,
    expires: Instant,
}

/// Signed-in staff, in memory: a restart signs everyone out, which is fine.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn create(&self, staff_id: &str, name: &str) -> String {
        let token = random_token();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > Instant::now());
        map.insert(
            token_hash(&token),
            Session {
                staff_id: staff_id.into(),
                name: name.into(),
                csrf: random_token(),
                expires: Instant::now() + SESSION_TTL,
            },
        );
        token
    }

    fn get(&self, token: &str) -> Option<Session> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&token_hash(token))
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    fn remove(&self, token: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&token_hash(token));
    }

    /// Signs out everyone signed in as one of `staff_ids` (they were
    /// removed): the next request goes back to the sign-in page.
    pub fn end_for(&self, staff_ids: &[String]) {
        if staff_ids.is_empty() {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| !staff_ids.contains(&s.staff_id));
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn session_of(parts: &Parts, clinic: &Clinic) -> Option<Session> {
    cookie_value(&parts.headers).and_then(|t| clinic.sessions.get(&t))
}

/// Signed-in staff on a page: otherwise, off to the sign-in page.
pub struct StaffPage {
    pub staff_id: String,
    pub name: String,
    pub csrf: String,
}

impl FromRequestParts<Arc<Clinic>> for StaffPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, clinic: &Arc<Clinic>) -> Result<Self, Response> {
        match session_of(parts, clinic) {
            Some(s) => Ok(StaffPage {
                staff_id: s.staff_id,
                name: s.name,
                csrf: s.csrf,
            }),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/desk");
                let q = serde_urlencoded_pair("next", next);
                Err(Redirect::to(&format!("/desk/login?{q}")).into_response())
            }
        }
    }
}

fn serde_urlencoded_pair(k: &str, v: &str) -> String {
    let enc: String = v
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{k}={enc}")
}

/// Signed-in staff calling the API; changes also need the CSRF header.
pub struct StaffApi {
    pub staff_id: String,
    pub name: String,
}

impl FromRequestParts<Arc<Clinic>> for StaffApi {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, clinic: &Arc<Clinic>) -> Result<Self, WebError> {
        let s = session_of(parts, clinic).ok_or_else(|| {
            WebError::new(
                StatusCode::UNAUTHORIZED,
                "Please sign in at the front desk page first.",
            )
            .json()
        })?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ok: bool = subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), s.csrf.as_bytes()).into();
            if !ok {
                return Err(WebError::forbidden(
                    "This page is out of date. Please reload it and try again.",
                )
                .json());
            }
        }
        Ok(StaffApi {
            staff_id: s.staff_id,
            name: s.name,
        })
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only local front-desk paths: never bounce a sign-in to another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/desk") && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/desk".into(),
    }
}

fn login_page(clinic: &Clinic, next: &str, error: Option<&str>, configured: bool) -> Html<String> {
    let body = templates::render(
        "login.html",
        minijinja::context! {
            practice_name => clinic.practice().config.name,
            next => next,
            error => error,
            configured => configured,
        },
    )
    .unwrap_or_else(|_| "Sign-in page unavailable".into());
    Html(body)
}

pub async fn login_form(
    State(clinic): State<Arc<Clinic>>,
    Query(q): Query<LoginQuery>,
) -> WebResult<Html<String>> {
    let tenant = clinic.tenant_id();
    let staff = clinic
        .store
        .read(move |c| store::list_staff(c, &tenant))
        .await?;
    Ok(login_page(
        &clinic,
        &safe_next(q.next.as_deref()),
        None,
        !staff.is_empty(),
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    pin: String,
    next: Option<String>,
}

pub async fn login(
    State(clinic): State<Arc<Clinic>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    let next = safe_next(form.next.as_deref());
    if !crate::web::same_origin(&headers) {
        return Err(WebError::forbidden(
            "Please sign in from the box's own page.",
        ));
    }
    if !clinic.limits.login_allowed(peer.ip()) {
        return Err(WebError::too_many());
    }
    let tenant = clinic.tenant_id();
    let t = tenant.clone();
    let staff = clinic.store.read(move |c| store::list_staff(c, &t)).await?;
    if staff.is_empty() {
        return Ok(login_page(&clinic, &next, None, false).into_response());
    }
    let now = now_ms();
    let unlocked: Vec<StaffRow> = staff
        .into_iter()
        .filter(|s| s.locked_until.is_none_or(|t| t <= now))
        .collect();
    if unlocked.is_empty() {
        let msg = "Too many wrong PINs. Sign-in is locked for a few minutes.";
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            login_page(&clinic, &next, Some(msg), true),
        )
            .into_response());
    }
    let pin = form.pin;
    if pin.len() > 128 {
        return Ok((
            StatusCode::BAD_REQUEST,
            login_page(&clinic, &next, Some("That PIN is too long."), true),
        )
            .into_response());
    }
    let candidates = unlocked.clone();
    let matched = tokio::task::spawn_blocking(move || {
        candidates
            .into_iter()
            .find(|s| verify_secret(&pin, &s.secret_hash))
    })
    .await
    .map_err(|_| WebError::internal())?;

    match matched {
        Some(s) => {
            let (t, id) = (tenant.clone(), s.staff_id.clone());
            clinic
                .store
                .write(move |txn| {
                    store::record_login_result(txn, &t, &id, 0, None)?;
                    store::append_audit(
                        txn,
                        &t,
                        &format!("staff:{id}"),
                        "staff.login",
                        &id,
                        &json!({}),
                    )
                })
                .await?;
            let token = clinic.sessions.create(&s.staff_id, &s.name);
            let secure = if clinic.https() { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200{secure}"
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
        }
        None => {
            let t = tenant.clone();
            let locked = clinic
                .store
                .write(move |txn| {
                    let mut locked = false;
                    for s in &unlocked {
                        let failed = s.failed_attempts + 1;
                        let lock = (failed >= FREE_ATTEMPTS).then(|| {
                            let doublings = (failed - FREE_ATTEMPTS).min(10) as u32;
                            now + (FIRST_LOCK_MS << doublings).min(MAX_LOCK_MS)
                        });
                        locked |= lock.is_some();
                        store::record_login_result(txn, &t, &s.staff_id, failed, lock)?;
                    }
                    store::append_audit(
                        txn,
                        &t,
                        "unknown",
                        "staff.login_failed",
                        "desk",
                        &json!({}),
                    )?;
                    Ok(locked)
                })
                .await?;
            let msg = if locked {
                "Too many wrong PINs. Sign-in is locked for a few minutes."
            } else {
                "That PIN is not right. Please try again."
            };
            Ok((
                StatusCode::UNAUTHORIZED,
                login_page(&clinic, &next, Some(msg), true),
            )
                .into_response())
        }
    }
}

pub async fn logout(State(clinic): State<Arc<Clinic>>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_value(&headers) {
        clinic.sessions.remove(&token);
    }
    let secure = if clinic.https() { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/desk/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_and_verify() {
        let h = hash_secret("2468").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret("2468", &h));
        assert!(!verify_secret("2469", &h));
        assert!(matches!(hash_secret("12"), Err(AuthError::TooShort)));
    }

    #[test]
    fn sign_in_never_redirects_off_the_desk() {
        assert_eq!(safe_next(Some("/desk/pair?code=AB")), "/desk/pair?code=AB");
        assert_eq!(safe_next(Some("https://evil.example")), "/desk");
        assert_eq!(safe_next(Some("//evil.example")), "/desk");
        assert_eq!(safe_next(None), "/desk");
    }
}
