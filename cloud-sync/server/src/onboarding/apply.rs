//! What a Stripe event does, inside the transaction that records it:
//!
//! * a paid Checkout Session provisions the clinic ([`provision`]): the
//!   tenant, the owner's account, and the welcome email (which carries the
//!   box's provisioning token and the link that sets the password);
//! * every subscription or invoice event re-reads the subscription from
//!   Stripe and sets the tenant's plan and status from it ([`refresh`]).
//!
//! Both take a transaction-scoped lock on the subscription id first, so two
//! events about one subscription (on any process) apply one after the
//! other, each with Stripe's state as it is by then.
//!
//! Whatever Stripe sends that cannot be applied (no practice name, an
//! unknown price) is not an error of the delivery: the event is recorded
//! with the reason as its outcome, for an operator, and acknowledged so
//! Stripe stops retrying.

use serde_json::Value;
use tokio_postgres::GenericClient;

use super::status;
use super::stripe_api::{StripeApiError, Subscription};
use super::{HandleError, Onboarding};
use crate::accounts;
use crate::admin::{AdminError, audit, bump_version};
use crate::tenants::{self, StripeIds, TenantFields};

/// What an event is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A Checkout Session that may now be paid.
    Checkout(CheckoutSession),
    /// Something about this subscription changed.
    Subscription(String),
    /// Nothing SOS acts on (recorded all the same).
    Ignored,
    /// An event SOS acts on, without what it needs.
    Refused(String),
}

/// The parts of a Checkout Session provisioning reads.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutSession {
    pub id: String,
    pub payment_status: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub email: Option<String>,
    pub practice_name: Option<String>,
    pub vertical: Option<String>,
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut at = v;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str().map(str::to_string)
}

/// Reads what `kind` is about from the event's `data.object`.
pub fn subject(kind: &str, object: &Value) -> Subject {
    match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let Some(id) = text(object, &["id"]) else {
                return Subject::Refused("the Checkout Session has no id".into());
            };
            Subject::Checkout(CheckoutSession {
                id,
                payment_status: text(object, &["payment_status"]).unwrap_or_default(),
                customer: text(object, &["customer"]),
                subscription: text(object, &["subscription"]),
                email: text(object, &["customer_details", "email"])
                    .or_else(|| text(object, &["customer_email"])),
                practice_name: text(object, &["metadata", "practice_name"]),
                vertical: text(object, &["metadata", "vertical"]),
            })
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => match text(object, &["id"]) {
            Some(id) => Subject::Subscription(id),
            None => Subject::Refused("the subscription has no id".into()),
        },
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            // `subscription` until API version 2025-03-31, then under
            // `parent.subscription_details`.
            match text(object, &["subscription"])
                .or_else(|| text(object, &["parent", "subscription_details", "subscription"]))
            {
                Some(id) => Subject::Subscription(id),
                None => Subject::Ignored,
            }
        }
        _ => Subject::Ignored,
    }
}

/// Serialises everything that touches one subscription, across processes,
/// until the transaction ends.
async fn lock_subscription(tx: &impl GenericClient, subscription: &str) -> Result<(), HandleError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 5053))",
        &[&subscription],
    )
    .await
    .map_err(AdminError::from)?;
    Ok(())
}

/// Reads the subscription back; `Err(outcome)` when Stripe says it does
/// not exist (retrying will not change that).
async fn read_back(
    on: &Onboarding,
    subscription: &str,
) -> Result<Result<Subscription, String>, HandleError> {
    match on.api.subscription(subscription).await {
        Ok(s) => Ok(Ok(s)),
        Err(StripeApiError::Status { status: 404, .. }) => {
            Ok(Err(format!("Stripe has no subscription {subscription}")))
        }
        Err(e @ StripeApiError::BadId(_)) => Ok(Err(e.to_string())),
        Err(e) => Err(HandleError::Stripe(e)),
    }
}

/// Our plan for the subscription's price, from the configured price table.
fn plan_of<'a>(on: &'a Onboarding, sub: &Subscription) -> Result<&'a str, String> {
    let price = sub
        .price
        .as_deref()
        .ok_or_else(|| format!("subscription {} has no price", sub.id))?;
    on.prices.get(price).map(String::as_str).ok_or_else(|| {
        format!("the price {price} is not one of this cloud's plans (--stripe-prices)")
    })
}

/// Provisions the clinic a paid Checkout Session bought; returns the outcome.
pub async fn provision(
    tx: &impl GenericClient,
    on: &Onboarding,
    kind: &str,
    session: &CheckoutSession,
) -> Result<String, HandleError> {
    if !matches!(
        session.payment_status.as_str(),
        "paid" | "no_payment_required"
    ) {
        // checkout.session.async_payment_succeeded follows when it clears.
        return Ok(format!(
            "not provisioned yet: {kind} with payment status \"{}\"",
            session.payment_status
        ));
    }
    let Some(sub_id) = session.subscription.as_deref() else {
        return Ok(format!(
            "refused: Checkout Session {} is not a subscription",
            session.id
        ));
    };
    lock_subscription(tx, sub_id).await?;
    let existing = tx
        .query_opt(
            "SELECT tenant_id FROM tenants
             WHERE stripe_checkout_session_id = $1 OR stripe_subscription_id = $2",
            &[&session.id, &sub_id],
        )
        .await
        .map_err(AdminError::from)?;
    if let Some(row) = existing {
        let tenant: String = row.try_get(0).map_err(AdminError::from)?;
        return Ok(format!("already provisioned: {tenant}"));
    }
    // Everything is checked before the first row is written.
    let name = session.practice_name.as_deref().unwrap_or("").trim();
    if name.is_empty() {
        return Ok("refused: the Checkout Session has no practice_name in its metadata".into());
    }
    let Some(vertical) = session.vertical.as_deref() else {
        return Ok("refused: the Checkout Session has no vertical in its metadata".into());
    };
    let email = match session.email.as_deref().map(accounts::check_email) {
        Some(Ok(e)) => e,
        // The address itself stays out of the outcome (it is logged).
        Some(Err(_)) => return Ok("refused: the customer email is not an email address".into()),
        None => return Ok("refused: the Checkout Session has no customer email".into()),
    };
    let sub = match read_back(on, sub_id).await? {
        Ok(s) => s,
        Err(why) => return Ok(format!("refused: {why}")),
    };
    let plan = match plan_of(on, &sub) {
        Ok(p) => p,
        Err(why) => return Ok(format!("refused: {why}")),
    };
    let now = cloud_sync::auth::now_ms() / 1000;
    let Some((status, past_due_since)) = status::derive(&sub.status, None, now, on.grace) else {
        return Ok(format!(
            "refused: subscription {sub_id} has a status SOS does not know (\"{}\")",
            sub.status
        ));
    };
    let fields = TenantFields {
        name: Some(name.to_string()),
        vertical: Some(vertical.to_string()),
        plan: Some(plan.to_string()),
        status: Some(status.to_string()),
        ..TenantFields::default()
    };
    let ids = StripeIds {
        customer: session.customer.clone().unwrap_or(sub.customer.clone()),
        subscription: sub_id.to_string(),
        checkout_session: session.id.clone(),
    };
    let tenant = match tenants::create_clinic(tx, fields, Some(&ids), &email, "stripe").await {
        Ok((t, _)) => t,
        Err(AdminError::Invalid(why)) => return Ok(format!("refused: {why}")),
        Err(e) => return Err(e.into()),
    };
    if let Some(since) = past_due_since {
        set_past_due_since(tx, &tenant, Some(since)).await?;
    }
    Ok(format!("provisioned {tenant} ({plan}, {status})"))
}

async fn set_past_due_since(
    tx: &impl GenericClient,
    tenant: &str,
    since: Option<i64>,
) -> Result<(), HandleError> {
    tx.execute(
        "UPDATE tenants SET past_due_since = to_timestamp($2::bigint::double precision)
         WHERE tenant_id = $1",
        &[&tenant, &since],
    )
    .await
    .map_err(AdminError::from)?;
    Ok(())
}

/// Sets the plan and status of the subscription's tenant from Stripe's
/// current state; returns the outcome.
pub async fn refresh(
    tx: &impl GenericClient,
    on: &Onboarding,
    sub_id: &str,
) -> Result<String, HandleError> {
    lock_subscription(tx, sub_id).await?;
    let row = tx
        .query_opt(
            "SELECT tenant_id, plan, status, extract(epoch FROM past_due_since)::bigint
             FROM tenants WHERE stripe_subscription_id = $1 FOR UPDATE",
            &[&sub_id],
        )
        .await
        .map_err(AdminError::from)?;
    let Some(row) = row else {
        // Its Checkout Session's event has not arrived yet; provisioning
        // reads the subscription then.
        return Ok(format!("no tenant for {sub_id} yet"));
    };
    let get = |e| HandleError::from(AdminError::from(e));
    let tenant: String = row.try_get(0).map_err(get)?;
    let old_plan: String = row.try_get(1).map_err(get)?;
    let old_status: String = row.try_get(2).map_err(get)?;
    let since: Option<i64> = row.try_get(3).map_err(get)?;
    let sub = match read_back(on, sub_id).await? {
        Ok(s) => s,
        Err(why) => return Ok(format!("{tenant} unchanged: {why}")),
    };
    let now = cloud_sync::auth::now_ms() / 1000;
    let Some((new_status, new_since)) = status::derive(&sub.status, since, now, on.grace) else {
        return Ok(format!(
            "{tenant} unchanged: Stripe status \"{}\" is not one SOS knows",
            sub.status
        ));
    };
    // An unknown price keeps the plan the practice has (and says so).
    let (new_plan, note) = match plan_of(on, &sub) {
        Ok(p) => (p.to_string(), String::new()),
        Err(why) => (old_plan.clone(), format!("; plan kept: {why}")),
    };
    if new_status == old_status && new_plan == old_plan {
        if new_since != since {
            set_past_due_since(tx, &tenant, new_since).await?;
        }
        return Ok(format!(
            "{tenant} {new_status} ({new_plan}), unchanged{note}"
        ));
    }
    tx.execute(
        "UPDATE tenants SET status = $2, plan = $3,
                past_due_since = to_timestamp($4::bigint::double precision), updated_at = now()
         WHERE tenant_id = $1",
        &[&tenant, &new_status, &new_plan, &new_since],
    )
    .await
    .map_err(AdminError::from)?;
    audit(
        tx,
        Some(&tenant),
        "stripe",
        "tenant.billing_changed",
        &tenant,
        None,
    )
    .await?;
    bump_version(tx, &tenant).await?;
    Ok(format!(
        "{tenant} {old_status} ({old_plan}) -> {new_status} ({new_plan}){note}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_name_their_subscription() {
        assert_eq!(
            subject("invoice.payment_failed", &json!({"subscription": "sub_1"})),
            Subject::Subscription("sub_1".into())
        );
        assert_eq!(
            subject(
                "invoice.paid",
                &json!({"parent": {"subscription_details": {"subscription": "sub_2"}}})
            ),
            Subject::Subscription("sub_2".into())
        );
        assert_eq!(
            subject("customer.subscription.deleted", &json!({"id": "sub_3"})),
            Subject::Subscription("sub_3".into())
        );
        assert_eq!(
            subject("invoice.paid", &json!({"subscription": null})),
            Subject::Ignored
        );
        assert_eq!(subject("customer.created", &json!({})), Subject::Ignored);
        assert!(matches!(
            subject("checkout.session.completed", &json!({})),
            Subject::Refused(_)
        ));
    }
}
