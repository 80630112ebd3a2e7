//! The sync HTTP API: `POST /v1/enroll`, `GET /v1/config`, `POST /v1/events`.
//!
//! A request is checked in this order, and nothing is written before every
//! check passed: protocol version, body size, authentication headers,
//! timestamp window, device known, signature, device not revoked, nonce not
//! seen before (inserted: the replay guard, shared by every process through
//! PostgreSQL), then the body itself.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloud_sync::auth::{self, AuthError, RequestAuth};
use cloud_sync::wire::{
    self, Appointment, ConfigResponse, EnrollRequest, EnrollResponse, ErrorBody, EventsRequest,
    EventsResponse, PROTOCOL_VERSION, TenantConfig, codes,
};
use deadpool_postgres::Pool;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use crate::admin::token_hash;
use crate::db::{self, WAKE_ALL};
use crate::ingest::{Ingested, ingest};

pub struct AppState {
    pub pool: Pool,
    /// Device id → (tenant, public key). Both never change for a device id,
    /// so caching them is safe across processes; revocation is read from
    /// PostgreSQL on every request.
    pub device_keys: DeviceKeys,
    /// Asynchronous commit, for request authentication only (see
    /// [`crate::db::auth_pool`]).
    pub auth_pool: Pool,
    pub config_changes: broadcast::Sender<String>,
    pub shutdown: watch::Receiver<bool>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(wire::PATH_ENROLL, post(enroll))
        .route(wire::PATH_CONFIG, get(config))
        .route(wire::PATH_EVENTS, post(events))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        // The handlers read the body as bytes and refuse oversize ones
        // themselves (a clear JSON error); this is the hard cap.
        .layer(DefaultBodyLimit::max(wire::MAX_BODY_BYTES))
        .with_state(state)
}

// ------------------------------------------------------------------ errors

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }
    fn internal() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::INTERNAL,
            "the cloud could not complete the request; try again shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody {
                error: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        tracing::error!(error = %db::describe(&e), "database error");
        ApiError::internal()
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        tracing::error!(error = %e, "database pool error");
        ApiError::internal()
    }
}

impl From<db::DbError> for ApiError {
    fn from(e: db::DbError) -> Self {
        match &e {
            // Constraint details may hold row values (db::describe).
            db::DbError::Postgres(pg) => {
                tracing::error!(error = %db::describe(pg), "database error");
            }
            other => tracing::error!(error = %other, "database error"),
        }
        ApiError::internal()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match e {
            AuthError::ClockSkew { .. } => codes::CLOCK_SKEW,
            AuthError::BadSignature => codes::BAD_SIGNATURE,
            _ => codes::UNAUTHENTICATED,
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::BAD_REQUEST,
        "no such endpoint",
    )
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.pool.get().await {
        Ok(c) if c.simple_query("SELECT 1").await.is_ok() => {
            axum::Json(serde_json::json!({"ok": true})).into_response()
        }
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"ok": false})),
        )
            .into_response(),
    }
}

// ------------------------------------------------------------ common checks

fn check_protocol(headers: &HeaderMap) -> ApiResult<()> {
    let v = headers
        .get(wire::HEADER_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    match v.map(|v| v.trim().parse::<u32>()) {
        Some(Ok(PROTOCOL_VERSION)) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            codes::UNSUPPORTED_PROTOCOL,
            format!("this cloud speaks sync protocol {PROTOCOL_VERSION} only; update the box"),
        )),
        None => Err(ApiError::bad(format!(
            "the {} header is required",
            wire::HEADER_PROTOCOL
        ))),
    }
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    match body {
        Ok(b) if b.len() <= wire::MAX_BODY_BYTES => Ok(b),
        Ok(_) => Err(too_large()),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Err(_) => Err(ApiError::bad("the request body could not be read")),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::TOO_LARGE,
        format!(
            "the request body is larger than {} bytes; send smaller batches",
            wire::MAX_BODY_BYTES
        ),
    )
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Immutable facts about devices seen by this process (see
/// [`AppState::device_keys`]).
#[derive(Default)]
pub struct DeviceKeys(std::sync::RwLock<std::collections::HashMap<String, (String, [u8; 32])>>);

impl DeviceKeys {
    /// Generous for one process; past it the cache starts over.
    const MAX: usize = 200_000;

    fn get(&self, device: &str) -> Option<(String, [u8; 32])> {
        self.0.read().ok()?.get(device).cloned()
    }

    fn put(&self, device: &str, tenant: &str, key: [u8; 32]) {
        if let Ok(mut m) = self.0.write() {
            if m.len() >= Self::MAX {
                m.clear();
            }
            m.insert(device.to_string(), (tenant.to_string(), key));
        }
    }
}

/// The authenticated caller: a device of exactly one tenant.
#[derive(Debug, Clone)]
struct Device {
    device_id: String,
    tenant_id: String,
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> ApiResult<Device> {
    let auth = RequestAuth::parse(
        header(headers, wire::HEADER_DEVICE),
        header(headers, wire::HEADER_TIMESTAMP),
        header(headers, wire::HEADER_NONCE),
        header(headers, wire::HEADER_SIGNATURE),
    )?;
    auth.check_time(auth::now_ms())?;
    // Prepared once per connection: each call is then one round trip.
    let client = state.auth_pool.get().await?;
    let unknown = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHENTICATED,
            "unknown device; enroll the box again",
        )
    };
    let (tenant_id, key) = match state.device_keys.get(&auth.device_id) {
        Some(known) => known,
        None => {
            let lookup = client
                .prepare_cached("SELECT tenant_id, public_key FROM devices WHERE device_id = $1")
                .await?;
            let row = client
                .query_opt(&lookup, &[&auth.device_id])
                .await?
                .ok_or_else(unknown)?;
            let tenant_id: String = row.get(0);
            let key: Vec<u8> = row.get(1);
            let key: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| ApiError::internal())?;
            state.device_keys.put(&auth.device_id, &tenant_id, key);
            (tenant_id, key)
        }
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    auth.verify(&key, method.as_str(), path, body)?;
    // Revocation, the nonce and the last-seen time in one statement (atomic
    // on its own, on the asynchronous-commit pool): a revoked device's nonce
    // is not stored.
    let remember = client
        .prepare_cached(
            "WITH d AS (
                 SELECT revoked_at IS NOT NULL AS revoked FROM devices WHERE device_id = $1
             ), n AS (
                 INSERT INTO device_nonces (device_id, nonce)
                 SELECT $1, $2 FROM d WHERE NOT d.revoked
                 ON CONFLICT DO NOTHING RETURNING 1
             ), seen AS (
                 UPDATE devices SET last_seen_at = now()
                 WHERE device_id = $1 AND EXISTS (SELECT 1 FROM n)
                       AND (last_seen_at IS NULL OR last_seen_at < now() - interval '30 seconds')
             )
             SELECT (SELECT revoked FROM d), (SELECT count(*) FROM n)",
        )
        .await?;
    let row = client
        .query_one(&remember, &[&auth.device_id, &auth.nonce])
        .await?;
    let revoked: Option<bool> = row.get(0);
    let fresh: i64 = row.get(1);
    match revoked {
        None => return Err(unknown()),
        Some(true) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::DEVICE_REVOKED,
                "this box has been revoked by the practice or the operator; it needs a new enrollment token",
            ));
        }
        Some(false) => {}
    }
    if fresh == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::REPLAYED,
            "this request was already received (replayed nonce)",
        ));
    }
    Ok(Device {
        device_id: auth.device_id,
        tenant_id,
    })
}

/// Optional `tenant` query parameter: when a caller names a tenant it must
/// be its own.
fn check_tenant_param(device: &Device, tenant: Option<&str>) -> ApiResult<()> {
    match tenant {
        Some(t) if t != device.tenant_id => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            "this device belongs to another tenant",
        )),
        _ => Ok(()),
    }
}

// --------------------------------------------------------------- enrollment

async fn enroll(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<axum::Json<EnrollResponse>> {
    check_protocol(&headers)?;
    let body = body_bytes(body)?;
    let req: EnrollRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("the enrollment request is malformed: {e}")))?;
    let public_key = auth::parse_public_key(&req.public_key)
        .map_err(|e| ApiError::bad(e.to_string()))?
        .to_vec();
    if req.device_name.len() > 200 {
        return Err(ApiError::bad("device_name is longer than 200 characters"));
    }
    let device_id = format!("d-{}", uuid::Uuid::now_v7().simple());
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    // Single use, race-safe: the row lock makes a concurrent second use wait,
    // then see used_at set and match nothing.
    let row = tx
        .query_opt(
            "UPDATE provisioning_tokens SET used_at = now(), device_id = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING tenant_id",
            &[&token_hash(&req.token), &device_id],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_INVALID,
            "this provisioning token is unknown, expired or already used; ask for a new one",
        ));
    };
    let tenant_id: String = row.get(0);
    let inserted = tx
        .execute(
            "INSERT INTO devices (device_id, tenant_id, public_key, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (public_key) DO NOTHING",
            &[&device_id, &tenant_id, &public_key, &req.device_name],
        )
        .await?;
    if inserted == 0 {
        // Rolled back: the token stays unused.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::CONFLICT,
            "this device key is already enrolled; generate a new key",
        ));
    }
    tx.execute(
        "INSERT INTO audit_log (tenant_id, actor, action, subject) VALUES ($1, $2, 'device.enrolled', $2)",
        &[&tenant_id, &device_id],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%tenant_id, %device_id, "device enrolled");
    Ok(axum::Json(EnrollResponse {
        protocol: PROTOCOL_VERSION,
        device_id,
        tenant_id,
    }))
}

// ------------------------------------------------------------------- config

#[derive(Debug, Deserialize)]
struct ConfigQuery {
    #[serde(default)]
    since: i64,
    #[serde(default)]
    wait: u64,
    tenant: Option<String>,
}

async fn config(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    query: Result<Query<ConfigQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<axum::Json<ConfigResponse>> {
    check_protocol(&headers)?;
    let body = body_bytes(body)?;
    let device = authenticate(&state, &headers, &method, &uri, &body).await?;
    let Query(q) = query.map_err(|_| {
        ApiError::bad("query must be ?since=<version>&wait=<seconds> (both integers)")
    })?;
    check_tenant_param(&device, q.tenant.as_deref())?;
    let wait = Duration::from_secs(q.wait.min(wire::MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribe before reading, so a change between the read and the wait
    // is not missed.
    let mut changes = state.config_changes.subscribe();
    let mut shutdown = state.shutdown.clone();
    loop {
        let version = current_version(&state.pool, &device.tenant_id).await?;
        if version != q.since {
            return Ok(axum::Json(
                full_config(&state.pool, &device.tenant_id).await?,
            ));
        }
        if wait.is_zero() {
            return Ok(axum::Json(unchanged(version)));
        }
        // Wait for a change of this tenant (or a wake-all), the deadline, or
        // shutdown.
        let woke = loop {
            tokio::select! {
                m = changes.recv() => match m {
                    Ok(t) if t == device.tenant_id || t == WAKE_ALL => break true,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break true,
                    Err(broadcast::error::RecvError::Closed) => break false,
                },
                _ = tokio::time::sleep_until(deadline) => break false,
                _ = shutdown.changed() => break false,
            }
        };
        if !woke {
            let version = current_version(&state.pool, &device.tenant_id).await?;
            if version != q.since {
                return Ok(axum::Json(
                    full_config(&state.pool, &device.tenant_id).await?,
                ));
            }
            return Ok(axum::Json(unchanged(version)));
        }
    }
}

fn unchanged(version: i64) -> ConfigResponse {
    ConfigResponse {
        protocol: PROTOCOL_VERSION,
        changed: false,
        config_version: version,
        tenant: None,
        appointments: Vec::new(),
        staff: Vec::new(),
    }
}

async fn current_version(pool: &Pool, tenant: &str) -> ApiResult<i64> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached("SELECT config_version FROM tenants WHERE tenant_id = $1")
        .await?;
    let row = client.query_one(&stmt, &[&tenant]).await?;
    Ok(row.get(0))
}

/// The whole config in one snapshot (REPEATABLE READ: version, tenant and
/// appointments agree).
async fn full_config(pool: &Pool, tenant: &str) -> ApiResult<ConfigResponse> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let t = tx
        .query_one(
            "SELECT tenant_id, name, vertical, agent_name, agent_voice, plan, status,
                    branding::text, settings::text, config_version
             FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?;
    let branding: String = t.get(7);
    let settings: String = t.get(8);
    let tenant_cfg = TenantConfig {
        tenant_id: t.get(0),
        name: t.get(1),
        vertical: t.get(2),
        agent_name: t.get(3),
        agent_voice: t.get(4),
        plan: t.get(5),
        status: t.get(6),
        branding: serde_json::from_str(&branding).unwrap_or_default(),
        settings: serde_json::from_str(&settings).unwrap_or_default(),
    };
    let version: i64 = t.get(9);
    // Yesterday onwards (time zones), two weeks ahead.
    let rows = tx
        .query(
            "SELECT appointment_id, patient_id, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), provider_id, provider_name,
                    to_char(local_date, 'YYYY-MM-DD'), starts_at, kind, notes, cancelled
             FROM appointments
             WHERE tenant_id = $1 AND local_date >= current_date - 1
                   AND local_date <= current_date + 14
             ORDER BY starts_at, appointment_id",
            &[&tenant],
        )
        .await?;
    let staff = tx
        .query(
            "SELECT staff_id, name, secret_hash FROM staff WHERE tenant_id = $1 ORDER BY staff_id",
            &[&tenant],
        )
        .await?
        .iter()
        .map(|r| wire::Staff {
            staff_id: r.get(0),
            name: r.get(1),
            secret_hash: r.get(2),
        })
        .collect();
    tx.commit().await?;
    let appointments = rows
        .iter()
        .map(|r| Appointment {
            appointment_id: r.get(0),
            patient_id: r.get(1),
            first_name: r.get(2),
            last_name: r.get(3),
            date_of_birth: r.get(4),
            provider_id: r.get(5),
            provider_name: r.get(6),
            local_date: r.get(7),
            starts_at: r.get(8),
            kind: r.get(9),
            notes: r.get(10),
            cancelled: r.get(11),
        })
        .collect();
    Ok(ConfigResponse {
        protocol: PROTOCOL_VERSION,
        changed: true,
        config_version: version,
        tenant: Some(tenant_cfg),
        appointments,
        staff,
    })
}

// ------------------------------------------------------------------- events

#[derive(Debug, Deserialize)]
struct EventsQuery {
    tenant: Option<String>,
}

async fn events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<axum::Json<EventsResponse>> {
    check_protocol(&headers)?;
    let body = body_bytes(body)?;
    let device = authenticate(&state, &headers, &method, &uri, &body).await?;
    let Query(q) = query.map_err(|_| ApiError::bad("unexpected query parameters"))?;
    check_tenant_param(&device, q.tenant.as_deref())?;
    let req: EventsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("the events batch is malformed: {e}")))?;
    let parsed = wire::validate_batch(&req.events).map_err(|m| {
        if req.events.len() > wire::MAX_EVENTS_PER_BATCH {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, m)
        } else {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, codes::BAD_REQUEST, m)
        }
    })?;
    let Ingested {
        applied,
        duplicates,
    } = ingest(
        &state.pool,
        &device.tenant_id,
        &device.device_id,
        &req.events,
        &parsed,
    )
    .await?;
    tracing::debug!(
        tenant = %device.tenant_id,
        device = %device.device_id,
        applied,
        duplicates,
        "events ingested"
    );
    Ok(axum::Json(EventsResponse {
        protocol: PROTOCOL_VERSION,
        acked: req.events.iter().map(|e| e.event_id.clone()).collect(),
        applied,
        duplicates,
    }))
}
