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
use super::{HandleError, Handled, StripeEvent, handle};
use crate::api::{ApiError, ApiResult, AppState};

pub const PATH: &str = "/webhooks/stripe";

/// Stripe's events are a few kilobytes; anything this big is not one
/// (and is refused before its signature is computed over it).
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH, post(stripe_webhook))
        // The handler refuses oversize bodies with a clear message; this is
        // the hard cap.
        .layer(axum::extract::DefaultBodyLimit::max(
            cloud_sync::wire::MAX_BODY_BYTES,
        ))
}

async fn stripe_webhook(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let Some(onboarding) = state.onboarding.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::INTERNAL,
            "Stripe is not set up on this cloud (no webhook signing secret)",
        ));
    };
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::TOO_LARGE,
            format!(
                "{} bytes is larger than any Stripe event (at most {MAX_EVENT_BYTES})",
                body.len()
            ),
        ));
    }
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = cloud_sync::auth::now_ms() / 1000;
    signature::verify(header, &body, &onboarding.webhook_secrets, now).map_err(|e| {
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
    match handle(&state.pool, onboarding, &event, &payload).await {
        Ok(Handled::Applied(outcome)) => {
            // Outcomes name ids and reasons, never the customer's data.
            tracing::info!(event = %event.id, kind = %event.kind, %outcome, "Stripe event applied");
            Ok(axum::Json(
                serde_json::json!({"received": true, "outcome": outcome}),
            ))
        }
        Ok(Handled::AlreadyKnown) => {
            tracing::info!(event = %event.id, kind = %event.kind, "Stripe event already received");
            Ok(axum::Json(serde_json::json!({"received": true})))
        }
        Err(HandleError::Stripe(e)) => {
            tracing::warn!(event = %event.id, kind = %event.kind, error = %e, "Stripe event not applied");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::INTERNAL,
                format!("{e}; Stripe will retry this event"),
            ))
        }
        Err(HandleError::Db(e)) => Err(e.into()),
    }
}
