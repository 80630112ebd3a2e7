//! Who is signed in: the session cookie, the session row behind it, and the
//! checks every page and every change go through.
//!
//! * [`SignedIn`]: a page's extractor. No live session: a `GET` goes to
//!   `/login`, anything else is 401.
//! * [`Change`]: a form that changes something. It is a [`SignedIn`] plus
//!   the session's CSRF token in the form's `csrf` field (compared in
//!   constant time) and, when the browser says where the request came from,
//!   this same site.
//! * [`RequestFrom`]: the client's address and user agent, for the audit log.
//!
//! The cookie holds 256 random bits; the database keeps only their
//! SHA-256, so a copy of the database signs nobody in. Cookies are
//! `HttpOnly`, `SameSite=Lax` (a link from the welcome email still arrives
//! signed in) and, over HTTPS, `Secure` with the `__Host-` prefix.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequestParts, Request,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use tokio_postgres::GenericClient;

use super::message;
pub use crate::admin::RequestFrom;
use crate::admin::{AdminError, new_secret, token_hash};
use crate::api::AppState;

/// The cookie's name over plain HTTP (tests, a proxy in front).
pub const COOKIE: &str = "sos_session";
/// Over HTTPS: the browser then refuses it from anything but this host,
/// over anything but HTTPS.
pub const SECURE_COOKIE: &str = "__Host-sos_session";
const SESSION_PREFIX: &str = "sos_sess_";

/// How long a session lasts: idle, and at most. An owner signs in on a
/// phone and comes back over days; an operator's power is larger, so their
/// sessions are short.
pub fn lifetime(role: Role) -> (Duration, Duration) {
    match role {
        Role::Owner | Role::Staff => (
            Duration::from_secs(12 * 3600),
            Duration::from_secs(14 * 86_400),
        ),
        Role::Operator => (Duration::from_secs(3600), Duration::from_secs(12 * 3600)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Staff,
    Operator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "staff" => Some(Role::Staff),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// A live session's account.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account_id: String,
    pub email: String,
    pub role: Role,
    /// `None` for an operator, unless they are logged in as a practice.
    pub tenant_id: Option<String>,
    /// An operator logged in as a practice (`tenant_id` is then its id).
    pub acting: Option<Acting>,
    pub csrf: String,
    pub(super) token_hash: String,
}

/// An operator's "log in as", as every page's banner tells it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Acting {
    /// The practice's name.
    pub practice: String,
    /// When it ends by itself, as `HH:MM UTC`.
    pub until: String,
}

impl SignedIn {
    /// The practice this page is about; an operator (who belongs to none)
    /// is sent to the fleet.
    pub fn tenant(&self) -> Result<&str, Refused> {
        self.tenant_id.as_deref().ok_or(Refused::ToFleet)
    }

    /// Owner-only changes (staff read, owners change).
    pub fn require_owner(&self) -> Result<&str, Refused> {
        match self.role {
            Role::Owner => self.tenant(),
            Role::Staff => Err(Refused::OwnerOnly),
            // An operator changes a practice only by logging in as it, so
            // that the change is the practice's own audit entry (under the
            // operator's name: `actor`).
            Role::Operator if self.acting.is_some() => self.tenant(),
            Role::Operator => Err(Refused::NotAsOperator),
        }
    }

    /// An owner-only page (a read): staff are refused, an operator is sent
    /// to the fleet as on any practice's page.
    pub fn owner_page(&self) -> Result<&str, Refused> {
        match self.role {
            Role::Operator if self.acting.is_none() => Err(Refused::ToFleet),
            _ => self.require_owner(),
        }
    }

    /// Whether this person has the owner's powers over the practice they
    /// are looking at (its owner, or an operator logged in as it).
    pub fn acts_as_owner(&self) -> bool {
        self.role == Role::Owner || self.acting.is_some()
    }

    pub fn require_operator(&self) -> Result<(), Refused> {
        if self.role != Role::Operator {
            return Err(Refused::OperatorOnly);
        }
        Ok(())
    }

    /// Whether a form carried this session's CSRF token (compared in
    /// constant time).
    pub fn csrf_is(&self, sent: &str) -> bool {
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), self.csrf.as_bytes()).into();
        same && !self.csrf.is_empty()
    }

    /// How the audit log names this person.
    pub fn actor(&self) -> String {
        match self.role {
            Role::Operator => format!("operator {}", self.email),
            _ => self.email.clone(),
        }
    }
}

/// Why a page or a change was not served, as the person is told.
#[derive(Debug)]
pub enum Refused {
    /// The database did not answer.
    Busy,
    /// No live session: a page goes to sign in, a change is 401.
    SignedOut {
        page: bool,
    },
    OwnerOnly,
    OperatorOnly,
    /// An operator on a practice's page.
    ToFleet,
    /// An operator's change to a practice.
    NotAsOperator,
    /// A change without this session's CSRF token, or from another site.
    Stale,
    /// A form that cannot be read.
    BadForm(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Busy => message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "The service is busy. Nothing was changed; try again in a minute.",
            ),
            Refused::SignedOut { page: true } => Redirect::to("/login").into_response(),
            Refused::SignedOut { page: false } => message(
                StatusCode::UNAUTHORIZED,
                "Please sign in",
                "You are signed out, so nothing was changed. Sign in and try again.",
            ),
            Refused::OwnerOnly => message(
                StatusCode::FORBIDDEN,
                "Only the owner can do this",
                "Your account can see this practice but not change it. Ask the practice's owner.",
            ),
            Refused::OperatorOnly => message(
                StatusCode::FORBIDDEN,
                "For operators only",
                "This page is for the platform's operators.",
            ),
            Refused::ToFleet => Redirect::to("/fleet").into_response(),
            Refused::NotAsOperator => message(
                StatusCode::FORBIDDEN,
                "Operators do not change practices directly",
                "Nothing was changed. A practice is changed by its owner.",
            ),
            Refused::Stale => message(
                StatusCode::FORBIDDEN,
                "This page is out of date",
                "Nothing was changed. Go back, reload the page and try again.",
            ),
            Refused::BadForm(why) => message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The form could not be read",
                &format!("Nothing was changed: {why}."),
            ),
        }
    }
}

/// The session's cookie value, if the request carries one.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE || c.name() == SECURE_COOKIE)
        .map(|c| c.value().to_string())
}

async fn lookup(state: &AppState, headers: &HeaderMap) -> Result<Option<SignedIn>, Refused> {
    let Some(token) = cookie(headers) else {
        return Ok(None);
    };
    if token.len() > 128 {
        return Ok(None);
    }
    let hash = token_hash(&token);
    let client = state.pool.get().await.map_err(|_| Refused::Busy)?;
    let row = client
        .query_opt(
            "SELECT a.account_id, a.email, a.role, a.tenant_id, s.csrf,
                    s.last_seen_at < now() - interval '1 minute',
                    s.acting_tenant, s.acting_until > now(), t.name,
                    to_char(s.acting_until AT TIME ZONE 'UTC', 'HH24:MI \"UTC\"')
             FROM sessions s JOIN accounts a ON a.account_id = s.account_id
             LEFT JOIN tenants t ON t.tenant_id = s.acting_tenant
             WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
               AND s.last_seen_at > now() - s.idle AND a.removed_at IS NULL",
            &[&hash],
        )
        .await
        .map_err(|_| Refused::Busy)?;
    let Some(row) = row else { return Ok(None) };
    let get = |i| -> Result<Option<String>, Refused> { row.try_get(i).map_err(|_| Refused::Busy) };
    let role = get(2)?
        .as_deref()
        .and_then(Role::parse)
        .ok_or(Refused::Busy)?;
    let stale: bool = row.try_get(5).map_err(|_| Refused::Busy)?;
    if stale {
        // The idle clock, moved at most once a minute: a page load is not a
        // write.
        let _ = client
            .execute(
                "UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1",
                &[&hash],
            )
            .await;
    }
    let mut who = SignedIn {
        account_id: get(0)?.unwrap_or_default(),
        email: get(1)?.unwrap_or_default(),
        role,
        tenant_id: get(3)?,
        acting: None,
        csrf: get(4)?.unwrap_or_default(),
        token_hash: hash,
    };
    if let (Some(tenant), Role::Operator) = (get(6)?, role) {
        let live: Option<bool> = row.try_get(7).map_err(|_| Refused::Busy)?;
        if live == Some(true) {
            who.acting = Some(Acting {
                practice: get(8)?.unwrap_or_default(),
                until: get(9)?.unwrap_or_default(),
            });
            who.tenant_id = Some(tenant);
        } else {
            // Its time is up: the operator is back to the fleet, and the
            // practice's log says when it ended.
            super::log_in_as::end(&**client, &who, &tenant, "expired", None)
                .await
                .map_err(busy)?;
        }
    }
    Ok(Some(who))
}

/// The database failed: logged here (the cause is ours, not the
/// person's), told as "try again".
pub fn busy(e: impl std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "the dashboard cannot reach the database");
    Refused::Busy
}

pub fn unavailable() -> Response {
    Refused::Busy.into_response()
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Refused> {
        match lookup(state, &parts.headers).await? {
            Some(s) => Ok(s),
            None => Err(Refused::SignedOut {
                page: parts.method == Method::GET || parts.method == Method::HEAD,
            }),
        }
    }
}

/// `Option<SignedIn>`: pages that also show to the signed out.
impl OptionalFromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Refused> {
        lookup(state, &parts.headers).await
    }
}

/// The session's CSRF token, in every form that changes something.
#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A browser's request from another site (a form posted from elsewhere)
/// when the browser says so: `Sec-Fetch-Site`, else `Origin` against
/// `Host`. Browsers that send neither are left to the CSRF token.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (text("origin"), text("host")) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            !origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

/// The first check of a form the signed-out send (sign in, a forgotten
/// password): it came from this site and names an email address. Returns
/// the address, trimmed and lower-cased; `Err(None)` when the request came
/// from another site, `Err(Some(typed))` when the address does not read as
/// one (the page shows its form again with what was typed).
pub fn typed_address<'a>(headers: &HeaderMap, typed: &'a str) -> Result<String, Option<&'a str>> {
    if cross_site(headers) {
        return Err(None);
    }
    let email = typed.trim().to_lowercase();
    if crate::accounts::check_email(&email).is_err() {
        return Err(Some(typed));
    }
    Ok(email)
}

/// What a signed-out form from another site is told.
pub fn from_another_site() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Use the SOS Edge page",
        "This did not come from the SOS Edge page, so it was refused. Nothing was changed.",
    )
}

/// A signed-in change: the session, its CSRF token checked, and the form.
pub struct Change<T> {
    pub who: SignedIn,
    pub from: RequestFrom,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<AppState>> for Change<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        Self::read(req, state)
            .await
            .map_err(IntoResponse::into_response)
    }
}

impl<T: DeserializeOwned + Send> Change<T> {
    async fn read(req: Request, state: &Arc<AppState>) -> Result<Self, Refused> {
        let (mut parts, body) = req.into_parts();
        let who = <SignedIn as FromRequestParts<_>>::from_request_parts(&mut parts, state).await?;
        let from = RequestFrom::of(&parts);
        if cross_site(&parts.headers) {
            return Err(Refused::Stale);
        }
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| Refused::BadForm(e.body_text()))?;
        let sent: CsrfField = serde_urlencoded::from_bytes(&bytes).map_err(|_| Refused::Stale)?;
        if !who.csrf_is(&sent.csrf) {
            return Err(Refused::Stale);
        }
        let form =
            serde_urlencoded::from_bytes(&bytes).map_err(|e| Refused::BadForm(e.to_string()))?;
        Ok(Change { who, from, form })
    }
}

impl RequestFrom {
    pub fn of(parts: &Parts) -> RequestFrom {
        RequestFrom {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(256).collect()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestFrom {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestFrom::of(parts))
    }
}

/// Starts a session for `account`; returns the cookie's secret.
pub async fn start(
    client: &impl GenericClient,
    account: &str,
    role: Role,
    from: &RequestFrom,
) -> Result<String, AdminError> {
    let token = new_secret(SESSION_PREFIX)?;
    let csrf = new_secret("")?;
    let (idle, max) = lifetime(role);
    client
        .execute(
            "INSERT INTO sessions (token_hash, account_id, csrf, idle, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, make_interval(secs => $4), now() + make_interval(secs => $5), $6, $7)",
            &[
                &token_hash(&token),
                &account,
                &csrf,
                &(idle.as_secs() as f64),
                &(max.as_secs() as f64),
                &from.ip,
                &from.user_agent,
            ],
        )
        .await?;
    Ok(token)
}

/// Ends one session (signing out here).
pub async fn end(client: &impl GenericClient, who: &SignedIn) -> Result<(), AdminError> {
    client
        .execute(
            "UPDATE sessions SET ended_at = now() WHERE token_hash = $1 AND ended_at IS NULL",
            &[&who.token_hash],
        )
        .await?;
    Ok(())
}

/// Ends every session of an account (signing out everywhere, a new
/// password, a removed account); returns how many were live.
pub async fn end_all(client: &impl GenericClient, account: &str) -> Result<u64, AdminError> {
    Ok(client
        .execute(
            "UPDATE sessions SET ended_at = now() WHERE account_id = $1 AND ended_at IS NULL",
            &[&account],
        )
        .await?)
}

/// The `Set-Cookie` that signs this browser in (or, with `None`, out).
pub fn set_cookie(secure: bool, token: Option<&str>) -> String {
    let name = if secure { SECURE_COOKIE } else { COOKIE };
    let mut c = cookie::Cookie::build((name, token.unwrap_or("").to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure);
    if token.is_none() {
        c = c.max_age(cookie::time::Duration::ZERO);
    }
    c.build().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn requests_from_another_site_are_told_apart() {
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&headers(&[
            ("origin", "https://cloud.example"),
            ("host", "cloud.example")
        ])));
        assert!(cross_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "cloud.example")
        ])));
        assert!(cross_site(&headers(&[("origin", "null"), ("host", "a")])));
        assert!(!cross_site(&headers(&[("host", "cloud.example")])));
    }

    #[test]
    fn cookies_are_http_only_and_secure_over_https() {
        let c = set_cookie(true, Some("sos_sess_x"));
        assert!(c.starts_with("__Host-sos_session=sos_sess_x"), "{c}");
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        let plain = set_cookie(false, Some("t"));
        assert!(plain.starts_with("sos_session=t") && !plain.contains("Secure"));
        assert!(set_cookie(false, None).contains("Max-Age=0"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; sos_session=sos_sess_abc; b=2")]);
        assert_eq!(cookie(&h).as_deref(), Some("sos_sess_abc"));
        assert_eq!(cookie(&headers(&[("cookie", "a=1")])), None);
    }
}
