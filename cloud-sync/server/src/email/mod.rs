//! Emails the cloud sends: the welcome email, password resets and staff
//! invitations. An email is decided in the transaction that decides
//! it, as a row of `email_outbox`; a worker sends it. The row's `dedupe`
//! key is unique, so "one welcome email per tenant" holds whatever retries
//! or races happen upstream.
//!
//! * [`worker`]: claims, sends and retries (SMTP, `lettre`).
//! * [`letters`]: what each email says.

pub mod letters;
pub mod worker;

use std::time::Duration;

use tokio_postgres::GenericClient;

use crate::admin::AdminError;

/// What an email is for; each kind has its own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Set your password, then flash the card, plug in the box, scan the
    /// TV code.
    Welcome,
    /// A link that sets a new password.
    Reset,
    /// A staff member's link to set a password.
    Invite,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Welcome => "welcome",
            Kind::Reset => "reset",
            Kind::Invite => "invite",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Welcome, Kind::Reset, Kind::Invite]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// How long the email's password link works: a reset is for now; an
    /// owner or a new colleague may read theirs days later.
    pub fn link_ttl(self) -> Duration {
        match self {
            Kind::Welcome => Duration::from_secs(72 * 3600),
            Kind::Reset => Duration::from_secs(3600),
            Kind::Invite => Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Queues an email for `account`; returns false when the same email
/// (`dedupe`) was queued before.
pub async fn enqueue(
    tx: &impl GenericClient,
    tenant: Option<&str>,
    account: &str,
    kind: Kind,
    dedupe: &str,
) -> Result<bool, AdminError> {
    let n = tx
        .execute(
            "INSERT INTO email_outbox (tenant_id, account_id, kind, dedupe)
             VALUES ($1, $2, $3, $4) ON CONFLICT (dedupe) DO NOTHING",
            &[&tenant, &account, &kind.as_str(), &dedupe],
        )
        .await?;
    Ok(n == 1)
}

/// The dedupe key of a tenant's welcome email.
pub fn welcome_key(tenant: &str) -> String {
    format!("welcome:{tenant}")
}
