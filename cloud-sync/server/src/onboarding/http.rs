//! Where Stripe's deliveries enter: `POST /webhooks/stripe`.
//!
//! Nothing is read from a delivery before its signature is verified over
//! the raw bytes; a refused one changes nothing and gets a 400 with the
//! reason (Stripe shows it on the endpoint's page). Logs name the event id
//! and type only: the payload holds the customer's email and name.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cloud_sync::wire::codes;

use super::signature;
use super::{Recorded, StripeEvent, record};
use crate::api::{ApiError, ApiResult, AppState};

pub const PATH: &str = "/webhooks/stripe";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, post(stripe_webhook))
}

async fn stripe_webhook(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    if state.stripe_webhook_secrets.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::INTERNAL,
            "Stripe is not set up on this cloud (no webhook signing secret)",
        ));
    }
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = cloud_sync::auth::now_ms() / 1000;
    signature::verify(header, &body, &state.stripe_webhook_secrets, now).map_err(|e| {
        tracing::warn!(reason = %e, "Stripe webhook refused");
        ApiError::bad(e.to_string())
    })?;
    let payload: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| ApiError::bad("the Stripe event is not JSON"))?;
    let event: StripeEvent = serde_json::from_value(payload.clone())
        .map_err(|e| ApiError::bad(format!("the Stripe event lacks its id, type or time: {e}")))?;
    if !event.id.starts_with("evt_") || event.id.len() > 255 {
        return Err(ApiError::bad(
            "the Stripe event id is not an event id (evt_…)",
        ));
    }
    match record(&state.pool, &event, &payload).await? {
        Recorded::New => {
            tracing::info!(event = %event.id, kind = %event.kind, "Stripe event received");
        }
        Recorded::AlreadyKnown => {
            tracing::info!(event = %event.id, kind = %event.kind, "Stripe event already received");
        }
    }
    Ok(StatusCode::OK)
}
