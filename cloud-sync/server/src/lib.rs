//! `sos-cloud`: the multi-tenant control plane the boxes sync with.
//!
//! * [`api`]: the sync HTTP API, where a box's request enters (enroll,
//!   config long-poll, events) and is authenticated.
//! * [`devices`]: enrollment and the check of every signed request.
//! * [`certificates`]: each box's own HTTPS certificate (ACME DNS-01).
//! * [`config`]: config down, one snapshot per answer.
//! * [`ingest`]: events up, recorded once and applied.
//! * [`onboarding`]: Stripe's webhook, where a paying owner's clinic
//!   starts.
//! * [`tenants`]: creating a tenant (one function for operators and
//!   Stripe) and changing it.
//! * [`accounts`]: the people who sign in to the dashboard.
//! * [`email`]: the outbox of emails to send.
//! * [`usage`]: billing events summed per month beside the plan's allowance.
//! * [`dashboard`]: the owners' pages (today: setting a password).
//! * [`admin`]: operator actions (tokens, devices, appointments, staff).
//! * [`db`]: PostgreSQL pool, migrations, LISTEN/NOTIFY.
//!
//! Nothing here keeps correctness-relevant state in memory: several
//! `sos-cloud` processes can serve one database.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod api;
pub mod certificates;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod devices;
pub mod email;
pub mod ingest;
pub mod onboarding;
pub mod tenants;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

/// The certificate chain and private key `sos-cloud` serves HTTPS with
/// (PEM files, e.g. from the operator's ACME client).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// How `serve` runs.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Database connections per process.
    pub pool_size: usize,
    pub tls: Option<TlsFiles>,
    /// Stripe; `None`: Stripe webhooks answer 503.
    pub onboarding: Option<onboarding::Onboarding>,
    /// SMTP; `None`: emails stay queued in the outbox.
    pub mailer: Option<email::worker::Mailer>,
    /// Browsers reach the dashboard over HTTPS even though this process
    /// serves plain HTTP (a TLS-terminating proxy in front): cookies are
    /// `Secure`. Implied by `tls`.
    pub behind_https: bool,
    /// The dashboard's base URL as owners and boxes reach it (the boxes
    /// page tells installers to enroll against it).
    pub public_url: Option<String>,
    /// Boxes' certificates; `None`: `/v1/certificate` answers that this
    /// cloud does not issue them (boxes stay on plain HTTP).
    pub certificates: Option<Arc<certificates::Issuer>>,
}

/// Connects, migrates, and serves the API on `listener` until `shutdown`
/// resolves: over HTTPS when `tls` is given, else plain HTTP (for a
/// TLS-terminating proxy in front, or tests on loopback).
pub async fn serve(
    database_url: &str,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let ServeOptions {
        pool_size,
        tls,
        onboarding,
        mailer,
        behind_https,
        public_url,
        certificates,
    } = options;
    // One process-wide TLS provider: a workspace build links both ring
    // (the box's) and aws-lc-rs, and a client that asks rustls for "the
    // default" (the ACME client's) would otherwise panic. Already set: fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let secure_cookies = behind_https || tls.is_some();
    // A bad certificate is found before anything else starts.
    let tls = match tls {
        Some(files) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                .await
                .map_err(|e| {
                    ServeError::Tls(format!(
                        "cannot use the certificate {} with the key {}: {e}",
                        files.cert.display(),
                        files.key.display()
                    ))
                })?,
        ),
        None => None,
    };
    let pool = db::pool(database_url, pool_size)?;
    let auth_pool = db::auth_pool(database_url, pool_size.div_ceil(2))?;
    db::migrate(&pool).await?;
    let (changes_tx, _) = broadcast::channel(1024);
    let listener_task = tokio::spawn(db::listen_config_changes(
        database_url.to_string(),
        changes_tx.clone(),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_expired(pool.clone()));
    let grace = onboarding.as_ref().map(|o| o.grace);
    let billing = tokio::spawn(sweep_overdue(pool.clone(), grace));
    let mail = match mailer {
        Some(m) => Some(tokio::spawn(email::worker::run(
            pool.clone(),
            m,
            stop_rx.clone(),
        ))),
        None => {
            tracing::warn!("no --smtp-url: emails are queued in the outbox, not sent");
            None
        }
    };
    let state = Arc::new(api::AppState {
        pool,
        auth_pool,
        device_keys: devices::DeviceKeys::default(),
        config_changes: changes_tx,
        shutdown: stop_rx,
        onboarding,
        secure_cookies,
        public_url,
        certificates,
    });
    let app = api::router(Arc::clone(&state))
        .merge(onboarding::http::routes().with_state(Arc::clone(&state)))
        .merge(dashboard::routes().with_state(state));
    let result = match tls {
        Some(config) => {
            // axum-server sets TCP_NODELAY on every connection and runs each
            // handshake in the connection's own task.
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
                stopper.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            match listener
                .into_std()
                .and_then(|l| axum_server::from_tcp_rustls(l, config))
            {
                Ok(server) => {
                    server
                        .handle(handle)
                        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                        .await
                }
                Err(e) => Err(e),
            }
        }
        None => {
            // Without TCP_NODELAY a response written in two parts waits for
            // the client's delayed ACK (~40 ms per call).
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            // The client's address: the sign-in limit and the audit log.
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await
        }
    };
    listener_task.abort();
    sweeper.abort();
    billing.abort();
    if let Some(m) = mail {
        m.abort();
    }
    result.map_err(ServeError::Io)
}

/// Once a minute, forgets what can no longer matter: nonces older than
/// twice the timestamp window (requests that old are refused by their
/// timestamp anyway), sign-in limits whose window passed, and sessions
/// that ended or expired a month ago.
async fn sweep_expired(pool: deadpool_postgres::Pool) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let window_secs = (2 * cloud_sync::auth::TIMESTAMP_WINDOW_MS / 1000) as f64;
        let Ok(c) = pool.get().await else { continue };
        if let Err(e) = c
            .execute(
                "DELETE FROM device_nonces WHERE seen_at < now() - make_interval(secs => $1)",
                &[&window_secs],
            )
            .await
        {
            tracing::warn!(error = %db::describe(&e), "nonce sweep failed");
        }
        if let Err(e) = c
            .batch_execute(&format!(
                "DELETE FROM login_throttle WHERE window_start < now() - make_interval(secs => {});
                 DELETE FROM login_failures WHERE last_at < now() - interval '1 day'
                   AND (locked_until IS NULL OR locked_until < now());
                 DELETE FROM sessions WHERE coalesce(ended_at, expires_at) < now() - interval '30 days';",
                dashboard::login::IP_WINDOW.as_secs()
            ))
            .await
        {
            tracing::warn!(error = %db::describe(&e), "sign-in sweep failed");
        }
    }
}

/// Suspends practices whose grace period ran out (see
/// [`onboarding::status::suspend_overdue`]), once a minute. Without Stripe
/// the default grace applies to statuses operators set by hand.
async fn sweep_overdue(pool: deadpool_postgres::Pool, grace: Option<Duration>) {
    let grace = grace.unwrap_or(onboarding::status::DEFAULT_GRACE);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match onboarding::status::suspend_overdue(&pool, grace).await {
            Ok(t) if !t.is_empty() => tracing::info!(tenants = ?t, "grace period over: suspended"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "overdue sweep failed"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("server error: {0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Tls(String),
}
