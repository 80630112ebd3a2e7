//! Self-serve onboarding: a clinic owner pays on Stripe Checkout and Stripe
//! tells the cloud through a signed webhook.
//!
//! * [`signature`]: `Stripe-Signature` checked over the raw body.
//! * [`http`]: `POST /webhooks/stripe`, where Stripe's deliveries enter.
//! * here: each event recorded once by its Stripe id, whichever process
//!   receives it and however often Stripe retries.
//!
//! Applying the events (the tenant, the owner's account, the box token,
//! the welcome email, the status from the subscription) is the next step
//! (issue 26); until then a verified event is stored, unapplied, and
//! acknowledged, so Stripe stops retrying and nothing is lost.

pub mod http;
pub mod signature;

use deadpool_postgres::Pool;
use serde::Deserialize;

use crate::db::DbError;

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

/// Whether this delivery was the first of its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    AlreadyKnown,
}

/// Stores a verified event once; a second delivery of the same id (a
/// retry, or the same event reaching another process at the same moment)
/// changes nothing.
pub async fn record(
    pool: &Pool,
    event: &StripeEvent,
    payload: &serde_json::Value,
) -> Result<Recorded, DbError> {
    let client = pool.get().await?;
    let inserted = client
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
        .await?;
    Ok(if inserted == 1 {
        Recorded::New
    } else {
        Recorded::AlreadyKnown
    })
}
