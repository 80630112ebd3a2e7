//! What the cloud asks Stripe: the current state of a subscription
//! (webhooks arrive late, twice and out of order; the state read back here
//! does not, so a tenant's status never depends on the order of delivery),
//! and a customer-portal session for an owner's "Manage payment" button.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum StripeApiError {
    #[error("\"{0}\" is not a Stripe id of the kind asked for")]
    BadId(String),
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe answered {status} for {id}")]
    Status { status: u16, id: String },
    #[error("Stripe's answer about {id} cannot be read: {detail}")]
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

    /// Sends a call with the API key; a failure or a non-2xx answer is an
    /// error about `what`.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, StripeApiError> {
        let response = request
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| StripeApiError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(StripeApiError::Status {
                status: status.as_u16(),
                id: what.to_string(),
            });
        }
        Ok(response)
    }

    /// `GET /v1/subscriptions/{id}`.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, StripeApiError> {
        // The id goes into a URL path: only Stripe's own alphabet.
        if !is_stripe_id(id, "sub_") {
            return Err(StripeApiError::BadId(id.to_string()));
        }
        let response = self
            .call(
                self.http
                    .get(format!("{}/v1/subscriptions/{id}", self.base)),
                &format!("subscription {id}"),
            )
            .await?;
        let wire: Wire = response
            .json()
            .await
            .map_err(|e| StripeApiError::Malformed {
                id: format!("subscription {id}"),
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

    /// `POST /v1/billing_portal/sessions`: a short-lived link that signs
    /// `customer` in to Stripe's customer portal (card, invoices, plan,
    /// cancelling), coming back to `return_url`.
    pub async fn portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, StripeApiError> {
        if !is_stripe_id(customer, "cus_") {
            return Err(StripeApiError::BadId(customer.to_string()));
        }
        let response = self
            .call(
                self.http
                    .post(format!("{}/v1/billing_portal/sessions", self.base))
                    .form(&[("customer", customer), ("return_url", return_url)]),
                &format!("a portal session of {customer}"),
            )
            .await?;
        #[derive(Deserialize)]
        struct Session {
            url: String,
        }
        let session: Session = response
            .json()
            .await
            .map_err(|e| StripeApiError::Malformed {
                id: customer.to_string(),
                detail: e.without_url().to_string(),
            })?;
        // It becomes a redirect: only a web address.
        if !(session.url.starts_with("https://") || session.url.starts_with("http://"))
            || session.url.chars().any(char::is_control)
        {
            return Err(StripeApiError::Malformed {
                id: customer.to_string(),
                detail: "the portal link is not a web address".into(),
            });
        }
        Ok(session.url)
    }
}

/// Stripe's own id alphabet with the expected prefix (ids go into URL paths
/// and forms).
fn is_stripe_id(id: &str, prefix: &str) -> bool {
    id.starts_with(prefix)
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
