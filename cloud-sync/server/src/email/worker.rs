//! The worker that sends the outbox, in every `sos-cloud serve` that has
//! `--smtp-url`.
//!
//! One email at a time is claimed (`FOR UPDATE SKIP LOCKED`, then a lease
//! of [`LEASE`]), so several processes never send the same row. The claim's
//! transaction also mints the secrets the email carries (the password link,
//! the box token; only their hashes are stored) and revokes what an earlier
//! failed attempt minted. Then the email goes to the SMTP server, and
//! `sent_at` is set. A refused send is retried with backoff; a permanent
//! refusal (5xx) stops and is kept in `last_error` for an operator.
//!
//! The one way an email can go twice: the process dies after the SMTP
//! server accepted it and before `sent_at` is written; the lease then runs
//! out and another attempt sends it again, with fresh secrets (the first
//! email's are revoked). Its `Message-ID` is the same, so mail systems that
//! dedupe by it show one.

use std::time::Duration;

use deadpool_postgres::Pool;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;

use super::Kind;
use super::letters::{self, Letter};
use crate::admin::{self, PROVISIONING_PREFIX, token_hash};
use crate::db::DbError;

/// How long a claimed email is its sender's before another may retry it.
pub const LEASE: Duration = Duration::from_secs(300);
/// How long the welcome email's box token works.
pub const BOX_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Password links start with this.
pub const PASSWORD_PREFIX: &str = "sos_pw_";

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the SMTP URL is not usable: {0}")]
    SmtpUrl(String),
    #[error("\"{0}\" is not a usable sender address (--email-from)")]
    From(String),
    #[error("\"{0}\" is not an http(s) URL with a host (--public-url)")]
    PublicUrl(String),
    #[error("{0}")]
    Other(String),
}

impl From<tokio_postgres::Error> for EmailError {
    fn from(e: tokio_postgres::Error) -> Self {
        EmailError::Db(DbError::Postgres(e))
    }
}

impl From<deadpool_postgres::PoolError> for EmailError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        EmailError::Db(DbError::Pool(e))
    }
}

impl From<admin::AdminError> for EmailError {
    fn from(e: admin::AdminError) -> Self {
        match e {
            admin::AdminError::Db(e) => EmailError::Db(e),
            other => EmailError::Other(other.to_string()),
        }
    }
}

/// Where and as whom emails are sent.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The dashboard's base URL, for the links in emails.
    public_url: String,
    /// Its host, for Message-IDs.
    host: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials.
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// `smtp_url`: `smtp://host:port` (plain, e.g. a relay on this host),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://host:465`.
    pub fn new(smtp_url: &str, from: &str, public_url: &str) -> Result<Mailer, EmailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| EmailError::SmtpUrl(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| EmailError::From(from.to_string()))?;
        let host = reqwest::Url::parse(public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|u| u.host_str().map(str::to_string))
            .ok_or_else(|| EmailError::PublicUrl(public_url.to_string()))?;
        Ok(Mailer {
            transport,
            from,
            public_url: public_url.trim_end_matches('/').to_string(),
            host,
        })
    }
}

/// Sends due emails until `stop` turns true.
pub async fn run(pool: Pool, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    loop {
        let more = match send_one(&pool, &mailer).await {
            Ok(Some(_)) => true,
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "email outbox: cannot send");
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent(i64),
    /// Will be retried at the backoff.
    Deferred(i64),
    /// The server refused it for good; kept for an operator.
    Refused(i64),
}

struct Claimed {
    email_id: i64,
    /// What the Message-ID names: the tenant of a welcome email (one per
    /// tenant), else the outbox row.
    thread: String,
    kind: Kind,
    to: String,
    practice: String,
    attempts: i32,
    password_link: String,
    link_expires: String,
    /// Only in the welcome email: (token, until).
    box_token: Option<(String, String)>,
}

/// Claims one due email, sends it, and records the outcome; `None` when
/// nothing is due.
pub async fn send_one(pool: &Pool, mailer: &Mailer) -> Result<Option<Attempt>, EmailError> {
    let c = match claim(pool).await? {
        Some(Ok(c)) => c,
        Some(Err((email_id, why))) => return refuse(pool, email_id, &why).await.map(Some),
        None => return Ok(None),
    };
    let message = match compose(mailer, &c) {
        Ok(m) => m,
        Err(why) => return refuse(pool, c.email_id, &why).await.map(Some),
    };
    match mailer.transport.send(message).await {
        Ok(_) => {
            let client = pool.get().await?;
            client
                .execute(
                    "UPDATE email_outbox SET sent_at = now(), claimed_until = NULL,
                            last_error = NULL WHERE email_id = $1",
                    &[&c.email_id],
                )
                .await?;
            tracing::info!(email = c.email_id, kind = c.kind.as_str(), "email sent");
            Ok(Some(Attempt::Sent(c.email_id)))
        }
        Err(e) if e.is_permanent() => refuse(
            pool,
            c.email_id,
            &format!("the mail server refused it: {e}"),
        )
        .await
        .map(Some),
        Err(e) => {
            // 30 s, 1, 2, 4 … minutes, at most an hour apart.
            let backoff = 30.0 * 2f64.powi(c.attempts.clamp(1, 8) - 1);
            let backoff = backoff.min(3600.0);
            let client = pool.get().await?;
            client
                .execute(
                    "UPDATE email_outbox SET claimed_until = NULL, last_error = $2,
                            next_attempt_at = now() + make_interval(secs => $3)
                     WHERE email_id = $1",
                    &[&c.email_id, &e.to_string(), &backoff],
                )
                .await?;
            revoke_secrets(&**client, c.email_id).await?;
            // The error may quote the address; the log names the row only.
            tracing::warn!(
                email = c.email_id,
                attempts = c.attempts,
                retry_in_s = backoff,
                "email deferred"
            );
            Ok(Some(Attempt::Deferred(c.email_id)))
        }
    }
}

async fn refuse(pool: &Pool, email_id: i64, why: &str) -> Result<Attempt, EmailError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE email_outbox SET claimed_until = NULL, last_error = $2,
                    next_attempt_at = 'infinity' WHERE email_id = $1",
            &[&email_id, &why],
        )
        .await?;
    revoke_secrets(&**client, email_id).await?;
    tracing::warn!(
        email = email_id,
        "email refused for good (see email_outbox.last_error)"
    );
    Ok(Attempt::Refused(email_id))
}

/// What an attempt minted stops working (it was never delivered, or a
/// newer attempt supersedes it).
async fn revoke_secrets(
    client: &impl tokio_postgres::GenericClient,
    email_id: i64,
) -> Result<(), EmailError> {
    client
        .execute(
            "UPDATE password_links SET used_at = now() WHERE email_id = $1 AND used_at IS NULL",
            &[&email_id],
        )
        .await?;
    client
        .execute(
            "UPDATE provisioning_tokens SET expires_at = now()
             WHERE email_id = $1 AND used_at IS NULL AND expires_at > now()",
            &[&email_id],
        )
        .await?;
    Ok(())
}

/// One due email, claimed, with the secrets it carries minted; `Err` for
/// a row no text exists for (refused for good by the caller).
async fn claim(pool: &Pool) -> Result<Option<Result<Claimed, (i64, String)>>, EmailError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT o.email_id, o.tenant_id, o.account_id, o.kind, a.email,
                    coalesce(t.name, 'SOS Edge'), o.attempts
             FROM email_outbox o
             JOIN accounts a ON a.account_id = o.account_id
             LEFT JOIN tenants t ON t.tenant_id = o.tenant_id
             WHERE o.sent_at IS NULL AND o.next_attempt_at <= now()
               AND (o.claimed_until IS NULL OR o.claimed_until < now())
             ORDER BY o.email_id LIMIT 1
             FOR UPDATE OF o SKIP LOCKED",
            &[],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let email_id: i64 = row.try_get(0)?;
    let tenant: Option<String> = row.try_get(1)?;
    let account: String = row.try_get(2)?;
    let kind_text: String = row.try_get(3)?;
    let attempts: i32 = row.try_get::<_, i32>(6)? + 1;
    let Some(kind) = Kind::parse(&kind_text) else {
        return Ok(Some(Err((
            email_id,
            format!("no text for emails of kind \"{kind_text}\""),
        ))));
    };
    tx.execute(
        "UPDATE email_outbox SET attempts = $2,
                claimed_until = now() + make_interval(secs => $3)
         WHERE email_id = $1",
        &[&email_id, &attempts, &(LEASE.as_secs() as f64)],
    )
    .await?;
    // A new attempt supersedes whatever an earlier one minted.
    revoke_secrets(&*tx, email_id).await?;
    let password = admin::new_secret(PASSWORD_PREFIX)?;
    let link_expires = mint(
        &*tx,
        "INSERT INTO password_links (token_hash, account_id, expires_at, email_id)
         VALUES ($1, $2, now() + make_interval(secs => $3), $4)",
        &password,
        &account,
        kind.link_ttl(),
        email_id,
    )
    .await?;
    let box_token = match (kind, &tenant) {
        (Kind::Welcome, Some(tenant)) => {
            let token = admin::new_secret(PROVISIONING_PREFIX)?;
            let until = mint(
                &*tx,
                "INSERT INTO provisioning_tokens (token_hash, tenant_id, expires_at, email_id)
                 VALUES ($1, $2, now() + make_interval(secs => $3), $4)",
                &token,
                tenant,
                BOX_TOKEN_TTL,
                email_id,
            )
            .await?;
            Some((token, until))
        }
        _ => None,
    };
    let thread = match (kind, tenant) {
        (Kind::Welcome, Some(tenant)) => tenant,
        _ => email_id.to_string(),
    };
    let claimed = Claimed {
        email_id,
        thread,
        kind,
        to: row.try_get(4)?,
        practice: row.try_get(5)?,
        attempts,
        password_link: password,
        link_expires,
        box_token,
    };
    tx.commit().await?;
    Ok(Some(Ok(claimed)))
}

/// Stores the hash of `secret` for `owner` (an account or a tenant) with
/// `insert` ($1 hash, $2 owner, $3 seconds to live, $4 email); returns when
/// it expires, as the email says it.
async fn mint(
    tx: &impl tokio_postgres::GenericClient,
    insert: &str,
    secret: &str,
    owner: &str,
    ttl: Duration,
    email_id: i64,
) -> Result<String, EmailError> {
    let sql = format!(
        "{insert} RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"')"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &token_hash(secret),
                &owner,
                &(ttl.as_secs() as f64),
                &email_id,
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

fn compose(mailer: &Mailer, c: &Claimed) -> Result<Message, String> {
    let to: Mailbox =
        c.to.parse()
            .map_err(|_| "the address is not one a mail server accepts".to_string())?;
    let letter = Letter {
        practice: c.practice.clone(),
        dashboard: mailer.public_url.clone(),
        to: c.to.clone(),
        password_link: format!("{}/password?token={}", mailer.public_url, c.password_link),
        link_expires: c.link_expires.clone(),
        box_token: c.box_token.as_ref().map(|(t, _)| t.clone()),
        token_expires: c.box_token.as_ref().map(|(_, until)| until.clone()),
    };
    let body = letters::body(c.kind, &letter)
        .map_err(|e| format!("the {} template failed: {e}", c.kind.as_str()))?;
    // The same id on every attempt: a retry after a crash is recognisable.
    let host = &mailer.host;
    Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(letters::subject(c.kind, &letter))
        .message_id(Some(format!("<{}.{}@{host}>", c.kind.as_str(), c.thread)))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("cannot build the email: {e}"))
}
