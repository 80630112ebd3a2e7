//! Tenants: one clinic each. [`create`] is the one way a tenant comes to
//! be, whether an operator sets a clinic up by hand (`sos-cloud tenant
//! create`) or a paid Stripe Checkout does ([`crate::onboarding`]).

use cloud_sync::plans::PlanTable;
use cloud_sync::practice::{Branding, Settings, VOICES};
use cloud_sync::verticals::Vertical;
use deadpool_postgres::Pool;
use tokio_postgres::GenericClient;

use crate::admin::{AdminError, RequestFrom, audit, bump_version};

#[derive(Debug, Clone, Default)]
pub struct TenantFields {
    pub name: Option<String>,
    pub vertical: Option<String>,
    pub agent_name: Option<String>,
    pub agent_voice: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
    pub branding: Option<serde_json::Value>,
    pub settings: Option<serde_json::Value>,
}

/// Stripe's ids for a tenant that was bought, not set up by hand.
#[derive(Debug, Clone, Default)]
pub struct StripeIds {
    pub customer: String,
    pub subscription: String,
    pub checkout_session: String,
}

pub const STATUSES: &[&str] = &["trialing", "active", "past_due", "suspended", "cancelled"];

/// The plans one may choose, for messages ("elite, pro, starter").
pub fn plan_ids() -> String {
    PlanTable::shipped().ids().collect::<Vec<_>>().join(", ")
}

/// Longest practice name a tenant may have (it is shown on TVs and spoken).
pub const MAX_NAME_CHARS: usize = 120;

fn check_fields(f: &TenantFields) -> Result<(), AdminError> {
    if let Some(p) = &f.plan
        && PlanTable::shipped().get(p).is_none()
    {
        return Err(AdminError::Invalid(format!(
            "plan must be one of {}",
            plan_ids()
        )));
    }
    if let Some(s) = &f.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(AdminError::Invalid(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    if let Some(v) = &f.vertical {
        Vertical::load(v).map_err(|e| AdminError::Invalid(e.to_string()))?;
    }
    if let Some(n) = &f.name
        && n.trim().chars().count() > MAX_NAME_CHARS
    {
        return Err(AdminError::Invalid(format!(
            "a practice name has at most {MAX_NAME_CHARS} characters"
        )));
    }
    for (what, v) in [("branding", &f.branding), ("settings", &f.settings)] {
        if let Some(v) = v
            && !v.is_object()
        {
            return Err(AdminError::Invalid(format!("{what} must be a JSON object")));
        }
    }
    // What the box would not use is refused here, with the field named.
    if let Some(v) = &f.settings {
        let settings: Settings = serde_json::from_value(v.clone())
            .map_err(|e| AdminError::Invalid(format!("settings: {e}")))?;
        settings
            .check(is_zone)
            .map_err(|e| AdminError::Invalid(format!("settings: {e}")))?;
    }
    if let Some(v) = &f.branding {
        let branding: Branding = serde_json::from_value(v.clone())
            .map_err(|e| AdminError::Invalid(format!("branding: {e}")))?;
        branding
            .check()
            .map_err(|e| AdminError::Invalid(format!("branding: {e}")))?;
    }
    if let Some(voice) = &f.agent_voice
        && !VOICES.iter().any(|(id, _)| id == voice)
    {
        return Err(AdminError::Invalid(format!(
            "agent_voice must be one of {}",
            VOICES
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(n) = &f.agent_name
        && (n.trim().is_empty() || n.trim().chars().count() > MAX_AGENT_NAME_CHARS)
    {
        return Err(AdminError::Invalid(format!(
            "an agent's name has 1 to {MAX_AGENT_NAME_CHARS} characters"
        )));
    }
    Ok(())
}

/// Whether `name` is an IANA time zone the box will find.
pub fn is_zone(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}

/// Longest name the agent may have (it is spoken in every greeting).
pub const MAX_AGENT_NAME_CHARS: usize = 40;

/// Creates a tenant inside the caller's transaction; returns its id. The
/// agent's name and voice default to the vertical's (`assets/verticals`);
/// greetings and announcements are the vertical's until the owner changes
/// them (the box reads the same files), so nothing is copied here.
pub async fn create(
    tx: &impl GenericClient,
    f: TenantFields,
    stripe: Option<&StripeIds>,
    actor: &str,
) -> Result<String, AdminError> {
    check_fields(&f)?;
    let name = f
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AdminError::Invalid("a tenant needs a name".into()))?;
    let vertical_id = f.vertical.unwrap_or_else(|| "dental".into());
    let vertical = Vertical::load(&vertical_id).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let agent_name = f.agent_name.unwrap_or(vertical.default_agent_name);
    let agent_voice = f.agent_voice.unwrap_or(vertical.default_agent_voice);
    let plan = f.plan.unwrap_or_else(|| "starter".into());
    let status = f.status.unwrap_or_else(|| "trialing".into());
    let branding = f.branding.unwrap_or_else(|| serde_json::json!({}));
    let settings = f.settings.unwrap_or_else(|| serde_json::json!({}));
    let id = format!("t-{}", uuid::Uuid::now_v7().simple());
    tx.execute(
        "INSERT INTO tenants (tenant_id, name, vertical, agent_name, agent_voice, plan, status,
                              branding, settings, stripe_customer_id, stripe_subscription_id,
                              stripe_checkout_session_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10, $11, $12)",
        &[
            &id,
            &name,
            &vertical_id,
            &agent_name,
            &agent_voice,
            &plan,
            &status,
            &branding.to_string(),
            &settings.to_string(),
            &stripe.map(|s| s.customer.as_str()),
            &stripe.map(|s| s.subscription.as_str()),
            &stripe.map(|s| s.checkout_session.as_str()),
        ],
    )
    .await?;
    audit(tx, Some(&id), actor, "tenant.created", &id, None).await?;
    Ok(id)
}

/// A whole clinic in the caller's transaction: the tenant, its owner's
/// account (no password yet) and the welcome email, which carries the
/// link that sets the password and the box's token. A paid Stripe
/// Checkout and an operator's concierge set-up both come here. Returns
/// (tenant, owner account).
pub async fn create_clinic(
    tx: &impl GenericClient,
    f: TenantFields,
    stripe: Option<&StripeIds>,
    owner_email: &str,
    actor: &str,
) -> Result<(String, String), AdminError> {
    // Everything is checked before the first row is written.
    let email = crate::accounts::check_email(owner_email)?;
    check_fields(&f)?;
    let tenant = create(tx, f, stripe, actor).await?;
    let account = crate::accounts::create_owner(tx, &tenant, &email, actor).await?;
    crate::email::enqueue(
        tx,
        Some(&tenant),
        &account,
        crate::email::Kind::Welcome,
        &crate::email::welcome_key(&tenant),
    )
    .await?;
    Ok((tenant, account))
}

/// An operator's concierge set-up: a clinic without Stripe, in one
/// transaction.
pub async fn create_clinic_by_hand(
    pool: &Pool,
    f: TenantFields,
    owner_email: &str,
) -> Result<String, AdminError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let (tenant, _) = create_clinic(&*tx, f, None, owner_email, "operator").await?;
    tx.commit().await?;
    Ok(tenant)
}

/// Creates a tenant on its own (the operator's command line).
pub async fn create_tenant(pool: &Pool, f: TenantFields) -> Result<String, AdminError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let id = create(&*tx, f, None, "operator").await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes some of a tenant's fields; returns the new config version.
pub async fn update_tenant(pool: &Pool, tenant: &str, f: TenantFields) -> Result<i64, AdminError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let v = update(&*tx, tenant, f, "operator", None).await?;
    tx.commit().await?;
    Ok(v)
}

/// Changes some of a tenant's fields in the caller's transaction, audited
/// as `actor`'s; returns the new config version (the boxes take it at
/// their next long-poll, woken at once).
pub async fn update(
    tx: &impl GenericClient,
    tenant: &str,
    f: TenantFields,
    actor: &str,
    from: Option<&RequestFrom>,
) -> Result<i64, AdminError> {
    check_fields(&f)?;
    let n = tx
        .execute(
            "UPDATE tenants SET
                name = COALESCE($2, name), vertical = COALESCE($3, vertical),
                agent_name = COALESCE($4, agent_name), agent_voice = COALESCE($5, agent_voice),
                plan = COALESCE($6, plan), status = COALESCE($7, status),
                branding = COALESCE($8::text::jsonb, branding),
                settings = COALESCE($9::text::jsonb, settings),
                updated_at = now()
             WHERE tenant_id = $1",
            &[
                &tenant,
                &f.name.map(|n| n.trim().to_string()),
                &f.vertical,
                &f.agent_name.map(|n| n.trim().to_string()),
                &f.agent_voice,
                &f.plan,
                &f.status,
                &f.branding.map(|v| v.to_string()),
                &f.settings.map(|v| v.to_string()),
            ],
        )
        .await?;
    if n == 0 {
        return Err(AdminError::NoTenant(tenant.into()));
    }
    audit(tx, Some(tenant), actor, "tenant.updated", tenant, from).await?;
    bump_version(tx, tenant).await
}
