//! The ACME side (RFC 8555, through `instant-acme`): the cloud's account
//! at the CA, kept in PostgreSQL so every process and restart uses the
//! same one, and one DNS-01 order per certificate.

use std::path::PathBuf;
use std::time::Duration;

use deadpool_postgres::Pool;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};

use super::CertError;
use super::dns::Dns;

/// Where the cloud's ACME account lives.
pub struct Ca {
    /// The ACME directory URL (Let's Encrypt's, or Pebble's in tests).
    pub directory: String,
    /// A root to trust for the directory's own HTTPS (Pebble's test CA);
    /// `None`: the system's roots.
    pub root: Option<PathBuf>,
    /// `mailto:` contact for the account, if any.
    pub contact: Option<String>,
}

fn acme(e: instant_acme::Error) -> CertError {
    CertError::Acme(e.to_string())
}

impl Ca {
    fn builder(&self) -> Result<instant_acme::AccountBuilder, CertError> {
        match &self.root {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        }
        .map_err(acme)
    }

    /// The stored account, or a new one stored for the next time (the
    /// first process to store wins; the others use its account).
    pub async fn account(&self, pool: &Pool) -> Result<Account, CertError> {
        let client = pool.get().await?;
        let stored = client
            .query_opt(
                "SELECT credentials FROM acme_accounts WHERE directory = $1",
                &[&self.directory],
            )
            .await?;
        if let Some(row) = stored {
            let json: String = row.try_get(0)?;
            return self.restore(&json).await;
        }
        let contact: Vec<&str> = self.contact.iter().map(String::as_str).collect();
        let (_, credentials) = self
            .builder()?
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory.clone(),
                None,
            )
            .await
            .map_err(acme)?;
        let json = serde_json::to_string(&credentials)
            .map_err(|e| CertError::Acme(format!("cannot keep the ACME account: {e}")))?;
        client
            .execute(
                "INSERT INTO acme_accounts (directory, credentials) VALUES ($1, $2)
                 ON CONFLICT (directory) DO NOTHING",
                &[&self.directory, &json],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT credentials FROM acme_accounts WHERE directory = $1",
                &[&self.directory],
            )
            .await?;
        let json: String = row.try_get(0)?;
        self.restore(&json).await
    }

    async fn restore(&self, json: &str) -> Result<Account, CertError> {
        let credentials: AccountCredentials = serde_json::from_str(json)
            .map_err(|e| CertError::Acme(format!("the stored ACME account is damaged: {e}")))?;
        self.builder()?
            .from_credentials(credentials)
            .await
            .map_err(acme)
    }
}

/// One order for `name`: the DNS-01 challenge answered in `dns`, the
/// box's request finalised, the chain (PEM, leaf first) returned. The
/// challenge record is removed whatever happens.
pub async fn order(
    account: &Account,
    dns: &Dns,
    name: &str,
    csr_der: &[u8],
) -> Result<String, CertError> {
    let result = run_order(account, dns, name, csr_der).await;
    if let Err(e) = dns.clear_challenge(name).await {
        tracing::warn!(error = %e, "cannot remove the ACME challenge record");
    }
    result
}

async fn run_order(
    account: &Account,
    dns: &Dns,
    name: &str,
    csr_der: &[u8],
) -> Result<String, CertError> {
    let identifiers = [Identifier::Dns(name.to_string())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(acme)?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(acme)?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(CertError::Acme(format!(
                    "the CA's authorization for {name} is {other:?}"
                )));
            }
        }
        let mut challenge = authz
            .challenge(ChallengeType::Dns01)
            .ok_or_else(|| CertError::Acme("the CA offers no DNS-01 challenge".into()))?;
        dns.set_challenge(name, &challenge.key_authorization().dns_value())
            .await?;
        challenge.set_ready().await.map_err(acme)?;
    }
    let patience = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .timeout(Duration::from_secs(60));
    let status = order.poll_ready(&patience).await.map_err(acme)?;
    if status != OrderStatus::Ready {
        let why = order
            .state()
            .error
            .as_ref()
            .and_then(|p| p.detail.clone())
            .unwrap_or_else(|| format!("{status:?}"));
        return Err(CertError::Acme(format!(
            "the CA did not validate {name}: {why}"
        )));
    }
    order.finalize_csr(csr_der).await.map_err(acme)?;
    order.poll_certificate(&patience).await.map_err(acme)
}
