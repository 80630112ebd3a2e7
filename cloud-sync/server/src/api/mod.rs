//! The sync HTTP API: where a box's request enters the cloud.
//!
//! | route | handler | what it does |
//! |---|---|---|
//! | `POST /v1/enroll` | [`enroll`] | a provisioning token for a device credential ([`crate::devices`]) |
//! | `GET /v1/config` | [`config`] | the tenant's config, long-polled ([`crate::config`]) |
//! | `POST /v1/events` | [`events`] | check-ins, statuses and usage up ([`crate::ingest`]) |
//! | `POST /v1/report` | [`report`] | the box's state, for the owner's boxes page |
//! | `GET`/`POST /v1/certificate` | [`certificate`], [`new_certificate`] | the box's name and HTTPS certificate ([`crate::certificates`]) |
//!
//! Every request passes [`signed::Versioned`] or [`signed::Signed`] first
//! (protocol, size, signature, revocation, nonce, tenant); the handlers
//! hold only what their call does.

mod error;
mod signed;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloud_sync::auth;
use cloud_sync::wire::{
    self, ConfigResponse, EnrollRequest, EnrollResponse, EventsRequest, EventsResponse,
    PROTOCOL_VERSION, codes,
};
use deadpool_postgres::Pool;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

pub use error::{ApiError, ApiResult};
use signed::{Signed, Versioned};

use crate::config;
use crate::db::WAKE_ALL;
use crate::devices::{self, DeviceKeys};
use crate::ingest::{Ingested, ingest};

pub struct AppState {
    pub pool: Pool,
    /// Device keys this process has read (see [`DeviceKeys`]).
    pub device_keys: DeviceKeys,
    /// Asynchronous commit, for request authentication only (see
    /// [`crate::db::auth_pool`]).
    pub auth_pool: Pool,
    pub config_changes: broadcast::Sender<String>,
    pub shutdown: watch::Receiver<bool>,
    /// Stripe (webhook secrets, API, prices); `None`: Stripe is off.
    pub onboarding: Option<crate::onboarding::Onboarding>,
    /// The dashboard is reached over HTTPS (served here or by a proxy in
    /// front): its cookies are `Secure`.
    pub secure_cookies: bool,
    /// `--public-url`, when given.
    pub public_url: Option<String>,
    /// Boxes' certificates, when this cloud issues them.
    pub certificates: Option<Arc<crate::certificates::Issuer>>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(wire::PATH_ENROLL, post(enroll))
        .route(wire::PATH_CONFIG, get(config))
        .route(wire::PATH_EVENTS, post(events))
        .route(wire::PATH_REPORT, post(report))
        .route(
            wire::PATH_CERTIFICATE,
            get(certificate).post(new_certificate),
        )
        .route("/healthz", get(healthz))
        .fallback(not_found)
        // The extractors read the body as bytes and refuse oversize ones
        // themselves (a clear JSON error); this is the hard cap.
        .layer(DefaultBodyLimit::max(wire::MAX_BODY_BYTES))
        .with_state(state)
}

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

// --------------------------------------------------------------- enrollment

async fn enroll(
    State(state): State<Arc<AppState>>,
    req: Versioned,
) -> ApiResult<axum::Json<EnrollResponse>> {
    let req: EnrollRequest = req.json("the enrollment request")?;
    let public_key =
        auth::parse_public_key(&req.public_key).map_err(|e| ApiError::bad(e.to_string()))?;
    if req.device_name.len() > 200 {
        return Err(ApiError::bad("device_name is longer than 200 characters"));
    }
    let device = devices::enroll(&state.pool, &req.token, &public_key, &req.device_name).await?;
    tracing::info!(tenant_id = %device.tenant_id, device_id = %device.device_id, "device enrolled");
    Ok(axum::Json(EnrollResponse {
        protocol: PROTOCOL_VERSION,
        device_id: device.device_id,
        tenant_id: device.tenant_id,
    }))
}

// ------------------------------------------------------------------- config

#[derive(Debug, Deserialize)]
struct ConfigQuery {
    #[serde(default)]
    since: i64,
    #[serde(default)]
    wait: u64,
}

/// Answers at once when the tenant's config is newer than `since`, else
/// waits up to `wait` seconds for a change (woken through LISTEN/NOTIFY by
/// whichever process made it).
async fn config(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ConfigQuery>, QueryRejection>,
    req: Signed,
) -> ApiResult<axum::Json<ConfigResponse>> {
    let tenant = req.device.tenant_id.clone();
    let Query(q) = query.map_err(|_| {
        ApiError::bad("query must be ?since=<version>&wait=<seconds> (both integers)")
    })?;
    // A box asks about changes after the version it holds: that is the
    // version the owner's page reports for it. Not worth failing the poll.
    if let Err(e) = crate::devices::holds_config(&state.pool, &req.device.device_id, q.since).await
    {
        tracing::warn!(error = %e, "cannot record the box's config version");
    }
    let wait = Duration::from_secs(q.wait.min(wire::MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribe before reading, so a change between the read and the wait
    // is not missed.
    let mut changes = state.config_changes.subscribe();
    let mut shutdown = state.shutdown.clone();
    loop {
        let version = config::current_version(&state.pool, &tenant).await?;
        if version != q.since {
            return Ok(axum::Json(config::snapshot(&state.pool, &tenant).await?));
        }
        if wait.is_zero() {
            return Ok(axum::Json(config::unchanged(version)));
        }
        // Wait for a change of this tenant (or a wake-all), the deadline, or
        // shutdown.
        let woke = loop {
            tokio::select! {
                m = changes.recv() => match m {
                    Ok(t) if t == tenant || t == WAKE_ALL => break true,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break true,
                    Err(broadcast::error::RecvError::Closed) => break false,
                },
                _ = tokio::time::sleep_until(deadline) => break false,
                _ = shutdown.changed() => break false,
            }
        };
        if !woke {
            let version = config::current_version(&state.pool, &tenant).await?;
            if version != q.since {
                return Ok(axum::Json(config::snapshot(&state.pool, &tenant).await?));
            }
            return Ok(axum::Json(config::unchanged(version)));
        }
    }
}

// ------------------------------------------------------------------- report

/// The box's report about itself, kept for the owner's boxes page.
async fn report(
    State(state): State<Arc<AppState>>,
    req: Signed,
) -> ApiResult<axum::Json<wire::ReportResponse>> {
    let report: wire::BoxReport = req.json("the box's report")?;
    report
        .validate()
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, codes::BAD_REQUEST, m))?;
    crate::devices::store_report(&state.pool, &req.device.device_id, &report).await?;
    Ok(axum::Json(wire::ReportResponse {
        protocol: PROTOCOL_VERSION,
    }))
}

// ------------------------------------------------------------------- events

async fn events(
    State(state): State<Arc<AppState>>,
    req: Signed,
) -> ApiResult<axum::Json<EventsResponse>> {
    let batch: EventsRequest = req.json("the events batch")?;
    let parsed = wire::validate_batch(&batch.events).map_err(|m| {
        if batch.events.len() > wire::MAX_EVENTS_PER_BATCH {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::TOO_LARGE, m)
        } else {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, codes::BAD_REQUEST, m)
        }
    })?;
    let (tenant, device) = (&req.device.tenant_id, &req.device.device_id);
    let Ingested {
        applied,
        duplicates,
    } = ingest(&state.pool, tenant, device, &batch.events, &parsed).await?;
    tracing::debug!(%tenant, %device, applied, duplicates, "events ingested");
    Ok(axum::Json(EventsResponse {
        protocol: PROTOCOL_VERSION,
        acked: batch.events.iter().map(|e| e.event_id.clone()).collect(),
        applied,
        duplicates,
    }))
}

// -------------------------------------------------------------- certificate

fn issuer(state: &AppState) -> ApiResult<&crate::certificates::Issuer> {
    state.certificates.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            codes::NOT_ISSUED,
            "this cloud does not issue box certificates; the box stays on plain HTTP \
             unless the clinic gives it a certificate of its own",
        )
    })
}

/// The box's name and the certificate the cloud last issued for it.
async fn certificate(
    State(state): State<Arc<AppState>>,
    req: Signed,
) -> ApiResult<axum::Json<wire::CertificateResponse>> {
    let issuer = issuer(&state)?;
    let held = crate::certificates::held(&state.pool, &req.device).await?;
    Ok(axum::Json(wire::CertificateResponse {
        protocol: PROTOCOL_VERSION,
        name: issuer.name_for(&req.device),
        certificate: held,
    }))
}

/// A certificate for the box's own key, ordered from the CA now (or the
/// one just issued for that key).
async fn new_certificate(
    State(state): State<Arc<AppState>>,
    req: Signed,
) -> ApiResult<axum::Json<wire::CertificateResponse>> {
    let issuer = issuer(&state)?;
    let ask: wire::CertificateRequest = req.json("the certificate request")?;
    let issued = issuer
        .issue(&state.pool, &req.device, &ask.csr_pem, &ask.addresses)
        .await?;
    Ok(axum::Json(wire::CertificateResponse {
        protocol: PROTOCOL_VERSION,
        name: issuer.name_for(&req.device),
        certificate: Some(issued),
    }))
}
