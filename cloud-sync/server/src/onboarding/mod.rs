//! Self-serve onboarding: a clinic owner pays on Stripe Checkout and Stripe
//! tells the cloud through a signed webhook; no person is involved.
//!
//! * [`signature`]: `Stripe-Signature` checked over the raw body.
//! * [`http`]: `POST /webhooks/stripe`, where Stripe's deliveries enter.
//! * here: each event recorded once by its Stripe id and applied in the
//!   same transaction, whichever process receives it and however often
//!   Stripe retries.
//! * [`apply`]: what an event does (provision a clinic, or set its plan and
//!   status from the subscription).
//! * [`status`]: Stripe's subscription states to ours, and the grace period.
//! * [`stripe_api`]: reading a subscription back from Stripe.

pub mod apply;
pub mod http;
pub mod signature;
pub mod status;
pub mod stripe_api;

use std::collections::BTreeMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use serde::Deserialize;

use crate::admin::AdminError;
use crate::db::DbError;
use apply::Subject;
use stripe_api::{StripeApi, StripeApiError};

/// How this cloud is set up with Stripe.
#[derive(Debug, Clone)]
pub struct Onboarding {
    /// The endpoint's signing secrets (`whsec_…`), several while one is
    /// rolled.
    pub webhook_secrets: Vec<String>,
    pub api: StripeApi,
    /// Stripe price (or plan) id → our plan (starter, pro, elite).
    pub prices: BTreeMap<String, String>,
    /// How long a past-due practice keeps its features.
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// Stripe could not be asked; the delivery is refused so Stripe retries.
    #[error(transparent)]
    Stripe(StripeApiError),
}

impl From<AdminError> for HandleError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Db(e) => HandleError::Db(e),
            // Invalid input is an outcome, never an error; what is left is
            // a tenant that vanished mid-transaction, which cannot happen
            // (tenants are never deleted): report it as the database's.
            other => HandleError::Db(DbError::Build(other.to_string())),
        }
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// First delivery of this event: applied, with this outcome.
    Applied(String),
    /// Seen before (a retry, or the same event on another process).
    AlreadyKnown,
}

/// The envelope of every Stripe event; the rest stays in the payload.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
}

/// Records the event and applies it, in one transaction: the insert of
/// its id is the guard. A second delivery of the same id waits on the first
/// one's row until it commits (then it is [`Handled::AlreadyKnown`]) or
/// rolls back (then it applies the event itself), so an event is applied
/// exactly once even when a retry arrives mid-way.
pub async fn handle(
    pool: &Pool,
    on: &Onboarding,
    event: &StripeEvent,
    payload: &serde_json::Value,
) -> Result<Handled, HandleError> {
    let mut client = pool.get().await.map_err(DbError::from)?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    let inserted = tx
        .execute(
            "INSERT INTO stripe_events (event_id, event_type, created, livemode, payload)
             VALUES ($1, $2, $3, $4, $5::text::jsonb)
             ON CONFLICT (event_id) DO NOTHING",
            &[
                &event.id,
                &event.kind,
                &event.created,
                &event.livemode,
                &payload.to_string(),
            ],
        )
        .await
        .map_err(DbError::from)?;
    if inserted == 0 {
        tx.commit().await.map_err(DbError::from)?;
        return Ok(Handled::AlreadyKnown);
    }
    let object = payload
        .get("data")
        .and_then(|d| d.get("object"))
        .unwrap_or(&serde_json::Value::Null);
    let outcome = match apply::subject(&event.kind, object) {
        Subject::Checkout(session) => apply::provision(&*tx, on, &event.kind, &session).await?,
        Subject::Subscription(id) => apply::refresh(&*tx, on, &id).await?,
        Subject::Ignored => "not used by SOS".to_string(),
        Subject::Refused(why) => format!("refused: {why}"),
    };
    tx.execute(
        "UPDATE stripe_events SET applied_at = now(), outcome = $2 WHERE event_id = $1",
        &[&event.id, &outcome],
    )
    .await
    .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(Handled::Applied(outcome))
}
