//! Accounts of the people who sign in to the dashboard: owners, their
//! staff, and the platform's operators. An owner's account is created with
//! the tenant and without a password; the welcome email's single-use link
//! sets it.

use tokio_postgres::GenericClient;

use crate::admin::{AdminError, audit};

/// Longest email address SMTP allows in a path (RFC 5321).
const MAX_EMAIL: usize = 254;

/// A plain check of an address's shape; whether it receives mail is for
/// the welcome email to find out.
pub fn check_email(email: &str) -> Result<String, AdminError> {
    let email = email.trim();
    let bad = || AdminError::Invalid(format!("\"{email}\" is not an email address"));
    if email.is_empty() || email.len() > MAX_EMAIL {
        return Err(bad());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@') =>
        {
            Ok(email.to_string())
        }
        _ => Err(bad()),
    }
}

/// An argon2id hash (PHC string) of a password or PIN, with a fresh salt.
pub fn hash_password(secret: &str) -> Result<String, AdminError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    cloud_sync::auth::random_bytes(&mut salt).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AdminError::Invalid(e.to_string()))?;
    Ok(argon2::Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .to_string())
}

/// Whether `secret` is the one `phc` (an argon2id PHC string) was made
/// from; a malformed hash matches nothing.
pub fn verify_password(secret: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// Creates the owner's account of `tenant` (no password yet); returns its
/// id.
pub async fn create_owner(
    tx: &impl GenericClient,
    tenant: &str,
    email: &str,
    actor: &str,
) -> Result<String, AdminError> {
    let email = check_email(email)?;
    let id = format!("a-{}", uuid::Uuid::now_v7().simple());
    tx.execute(
        "INSERT INTO accounts (account_id, tenant_id, email, role) VALUES ($1, $2, $3, 'owner')",
        &[&id, &tenant, &email],
    )
    .await?;
    audit(tx, Some(tenant), actor, "account.created", &id, None).await?;
    Ok(id)
}

/// Adds a platform operator (only ever from the command line). The
/// password is checked as an owner's is and stored as argon2id.
pub async fn add_operator(
    pool: &deadpool_postgres::Pool,
    email: &str,
    password: &str,
) -> Result<String, AdminError> {
    let email = check_email(email)?;
    crate::dashboard::password::check_password(password, password).map_err(AdminError::Invalid)?;
    let hash = hash_password(password)?;
    let id = format!("a-{}", uuid::Uuid::now_v7().simple());
    let client = pool.get().await?;
    let n = client
        .execute(
            "INSERT INTO accounts (account_id, tenant_id, email, role, password_hash)
             VALUES ($1, NULL, $2, 'operator', $3)
             ON CONFLICT DO NOTHING",
            &[&id, &email, &hash],
        )
        .await?;
    if n == 0 {
        return Err(AdminError::Invalid(format!(
            "there is already an operator {email}"
        )));
    }
    audit(&**client, None, "operator", "operator.added", &id, None).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::check_email;

    #[test]
    fn email_shapes() {
        assert_eq!(
            check_email(" owner@clinic.example ").ok().as_deref(),
            Some("owner@clinic.example")
        );
        for bad in [
            "",
            "owner",
            "@clinic.example",
            "owner@clinic",
            "a b@c.d",
            "a@b@c.d",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?} accepted");
        }
    }
}
