//! The one thing the cloud asks Stripe: the current state of a
//! subscription. Webhooks arrive late, twice and out of order; the state
//! read back here does not, so a tenant's status never depends on the order
//! of delivery.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum StripeApiError {
    #[error("\"{0}\" is not a Stripe subscription id")]
    BadId(String),
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe answered {status} for subscription {id}")]
    Status { status: u16, id: String },
    #[error("Stripe's answer for subscription {id} is not a subscription: {detail}")]
    Malformed { id: String, detail: String },
    #[error("cannot set up the HTTP client for Stripe: {0}")]
    Client(String),
}

/// A subscription as far as the cloud cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    /// Stripe's status: trialing, active, past_due, unpaid, paused,
    /// canceled, incomplete, incomplete_expired.
    pub status: String,
    /// The price (or, in older API versions, the plan) of its first item:
    /// which of our plans was bought.
    pub price: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    id: String,
    customer: String,
    status: String,
    #[serde(default)]
    items: Option<Items>,
}

#[derive(Deserialize)]
struct Items {
    #[serde(default)]
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    price: Option<IdOnly>,
    #[serde(default)]
    plan: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// Stripe's API at a configurable base (Stripe's own, or localstripe).
#[derive(Debug, Clone)]
pub struct StripeApi {
    base: String,
    key: String,
    http: reqwest::Client,
}

pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

impl StripeApi {
    pub fn new(base: &str, key: &str) -> Result<StripeApi, StripeApiError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StripeApiError::Client(e.to_string()))?;
        Ok(StripeApi {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http,
        })
    }

    /// `GET /v1/subscriptions/{id}`.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, StripeApiError> {
        // The id goes into a URL path: only Stripe's own alphabet.
        if !id.starts_with("sub_")
            || id.len() > 255
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StripeApiError::BadId(id.to_string()));
        }
        let response = self
            .http
            .get(format!("{}/v1/subscriptions/{id}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| StripeApiError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(StripeApiError::Status {
                status: status.as_u16(),
                id: id.to_string(),
            });
        }
        let wire: Wire = response
            .json()
            .await
            .map_err(|e| StripeApiError::Malformed {
                id: id.to_string(),
                detail: e.without_url().to_string(),
            })?;
        let price = wire.items.and_then(|items| {
            items
                .data
                .into_iter()
                .next()
                .and_then(|item| item.price.or(item.plan))
                .map(|p| p.id)
        });
        Ok(Subscription {
            id: wire.id,
            customer: wire.customer,
            status: wire.status,
            price,
        })
    }
}
