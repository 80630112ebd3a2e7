//! `sos-cloud`: the multi-tenant control plane the boxes sync with.
//!
//! * [`api`]: the sync HTTP API (enroll, config long-poll, events).
//! * [`admin`]: operator actions (tenants, tokens, devices, appointments).
//! * [`db`]: PostgreSQL pool, migrations, LISTEN/NOTIFY.
//!
//! Nothing here keeps correctness-relevant state in memory: several
//! `sos-cloud` processes can serve one database.

pub mod admin;
pub mod api;
pub mod db;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

/// Connects, migrates, and serves the API on `listener` until `shutdown`
/// resolves.
pub async fn serve(
    database_url: &str,
    listener: tokio::net::TcpListener,
    pool_size: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let pool = db::pool(database_url, pool_size)?;
    db::migrate(&pool).await?;
    let (changes_tx, _) = broadcast::channel(1024);
    let listener_task = tokio::spawn(db::listen_config_changes(
        database_url.to_string(),
        changes_tx.clone(),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_nonces(pool.clone()));
    let state = Arc::new(api::AppState {
        pool,
        config_changes: changes_tx,
        shutdown: stop_rx,
    });
    let app = api::router(state);
    // Without TCP_NODELAY a response written in two parts waits for the
    // client's delayed ACK (~40 ms per call).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    listener_task.abort();
    sweeper.abort();
    result.map_err(ServeError::Io)
}

/// Forgets nonces older than twice the timestamp window (requests that old
/// are refused by their timestamp anyway).
async fn sweep_nonces(pool: deadpool_postgres::Pool) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let window_secs = (2 * cloud_sync::auth::TIMESTAMP_WINDOW_MS / 1000) as f64;
        if let Ok(c) = pool.get().await
            && let Err(e) = c
                .execute(
                    "DELETE FROM device_nonces WHERE seen_at < now() - make_interval(secs => $1)",
                    &[&window_secs],
                )
                .await
        {
            tracing::warn!(error = %db::describe(&e), "nonce sweep failed");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("server error: {0}")]
    Io(std::io::Error),
}
