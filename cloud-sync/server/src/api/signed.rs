//! What every sync request must pass before its handler runs, as axum
//! extractors: [`Versioned`] (protocol version and body size, for
//! enrollment) and [`Signed`] (that, then the device's signature, its
//! revocation and the nonce, and the `tenant` parameter if one is named).
//!
//! The order of the checks, and nothing written before all passed:
//! protocol version, body size, authentication headers, timestamp window,
//! device known, signature, device not revoked, nonce not seen before
//! (inserted: the replay guard shared by every process), tenant named.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{HeaderMap, StatusCode};
use cloud_sync::auth::{self, RequestAuth};
use cloud_sync::wire::{self, PROTOCOL_VERSION, codes};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::devices::{self, Device};

/// A request in the protocol this cloud speaks, with its body read.
pub struct Versioned {
    pub body: Bytes,
}

/// A request signed by an enrolled device of one tenant.
pub struct Signed {
    pub device: Device,
    pub body: Bytes,
}

impl Versioned {
    /// The body as JSON; `what` names it in the error ("the events batch").
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> ApiResult<T> {
        json(&self.body, what)
    }
}

impl Signed {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> ApiResult<T> {
        json(&self.body, what)
    }
}

fn json<T: DeserializeOwned>(body: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("{what} is malformed: {e}")))
}

impl FromRequest<Arc<AppState>> for Versioned {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> ApiResult<Self> {
        check_protocol(req.headers())?;
        let body = read_body(Bytes::from_request(req, state).await)?;
        Ok(Versioned { body })
    }
}

impl FromRequest<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> ApiResult<Self> {
        check_protocol(req.headers())?;
        let (method, uri, headers) = (
            req.method().clone(),
            req.uri().clone(),
            req.headers().clone(),
        );
        let body = read_body(Bytes::from_request(req, state).await)?;
        let auth = RequestAuth::parse(
            header(&headers, wire::HEADER_DEVICE),
            header(&headers, wire::HEADER_TIMESTAMP),
            header(&headers, wire::HEADER_NONCE),
            header(&headers, wire::HEADER_SIGNATURE),
        )?;
        auth.check_time(auth::now_ms())?;
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let device = devices::authenticate(
            &state.auth_pool,
            &state.device_keys,
            &auth,
            method.as_str(),
            path,
            &body,
        )
        .await?;
        // A caller that names a tenant must name its own.
        let Query(named) = Query::<TenantParam>::try_from_uri(&uri)
            .map_err(|_| ApiError::bad("the query parameters are malformed"))?;
        if named.tenant.is_some_and(|t| t != device.tenant_id) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                "this device belongs to another tenant",
            ));
        }
        Ok(Signed { device, body })
    }
}

#[derive(Deserialize)]
struct TenantParam {
    tenant: Option<String>,
}

fn check_protocol(headers: &HeaderMap) -> ApiResult<()> {
    match header(headers, wire::HEADER_PROTOCOL).map(|v| v.trim().parse::<u32>()) {
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

/// The body within [`wire::MAX_BODY_BYTES`], refused with a clear JSON error
/// otherwise (the router's `DefaultBodyLimit` is the hard cap behind it).
fn read_body(body: Result<Bytes, axum::extract::rejection::BytesRejection>) -> ApiResult<Bytes> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::TOO_LARGE,
            format!(
                "the request body is larger than {} bytes; send smaller batches",
                wire::MAX_BODY_BYTES
            ),
        )
    };
    match body {
        Ok(b) if b.len() <= wire::MAX_BODY_BYTES => Ok(b),
        Ok(_) => Err(too_large()),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Err(_) => Err(ApiError::bad("the request body could not be read")),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}
