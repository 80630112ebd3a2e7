//! `POST /billing/portal`: the owner's "Manage payment and invoices"
//! button. The cloud asks Stripe for a customer-portal session of the
//! practice's Stripe customer and sends the browser there; Stripe brings it
//! back to the dashboard. Card, invoices, plan changes and cancelling are
//! Stripe's pages; what they change comes back as webhooks like any other.
//!
//! A practice set up by hand (concierge, no Stripe customer) has no
//! portal: the page says who to ask instead.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::message;
use super::routes::{Access, Routes};
use super::session::{Change, Refused, busy};
use crate::api::AppState;

pub fn routes(r: Routes) -> Routes {
    r.post("/billing/portal", Access::Owner, portal)
}

#[derive(serde::Deserialize)]
struct Empty {}

/// Where Stripe sends the owner back: the dashboard as they reach it.
fn return_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.public_url {
        Some(base) => format!("{}/", base.trim_end_matches('/')),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .filter(|h| {
                    h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
                })
                .unwrap_or("localhost");
            format!("http://{host}/")
        }
    }
}

async fn portal(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    change: Change<Empty>,
) -> Response {
    let result = async {
        let tenant = change.who.require_owner()?;
        let client = state.pool.get().await.map_err(busy)?;
        let customer: Option<String> = client
            .query_one(
                "SELECT stripe_customer_id FROM tenants WHERE tenant_id = $1",
                &[&tenant],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(busy)?;
        drop(client);
        let (Some(customer), Some(onboarding)) = (customer, state.onboarding.as_ref()) else {
            return Ok(message(
                StatusCode::CONFLICT,
                "Billed by hand",
                "This practice was set up by our team rather than bought online, so it has no \
                 Stripe billing page. To change the plan or the payment, contact support.",
            ));
        };
        match onboarding
            .api
            .portal_session(&customer, &return_url(&state, &headers))
            .await
        {
            Ok(url) => Ok(Redirect::to(&url).into_response()),
            Err(e) => {
                tracing::error!(%tenant, error = %e, "cannot open Stripe's customer portal");
                Ok(message(
                    StatusCode::BAD_GATEWAY,
                    "Stripe's billing page did not open",
                    "Stripe is not answering right now. Nothing was changed; try again in a minute.",
                ))
            }
        }
    }
    .await;
    result.unwrap_or_else(|refused: Refused| refused.into_response())
}
