//! The sync loops of a running box.
//!
//! * Config down: `GET /v1/config?since=<applied version>&wait=25` in a
//!   loop (the cloud answers at once when something changed, else holds the
//!   call up to 25 s); a changed config is applied in one transaction and
//!   pushed to the TVs with [`Core::reload_practice`]; the sessions of
//!   staff the cloud removed end at once.
//! * Events up: the oldest unsent outbox events, in `seq` order, in batches;
//!   marked sent only once the cloud acknowledged them. A crash between the
//!   two resends the batch; the cloud acknowledges duplicates without
//!   applying them again.
//!
//! Failures back off exponentially (0.5 s doubling to 60 s) with jitter, so
//! a fleet coming back online does not stampede the cloud. The box keeps
//! working offline indefinitely: the outbox just grows.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloud_sync::client::{Client, ClientError};
use cloud_sync::wire::{self, codes};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::credential::Credential;
use super::{SyncError, SyncStatus, apply};
use crate::clinic::Clinic;
use crate::core::Core;
use crate::store::{self, now_ms};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Events per `POST /v1/events` (at most 1000).
    pub batch_size: usize,
    /// Seconds the cloud may hold a config poll.
    pub wait_secs: u64,
    /// How often an empty outbox is looked at again.
    pub idle_poll: Duration,
    /// First retry delay; doubles per failure up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Retry delay once the cloud says this box is revoked.
    pub revoked_retry: Duration,
    /// How often the box reports its state (`POST /v1/report`).
    pub report_every: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch_size: 500,
            wait_secs: wire::MAX_WAIT_SECS,
            idle_poll: Duration::from_millis(500),
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            revoked_retry: Duration::from_secs(300),
            report_every: Duration::from_secs(60),
        }
    }
}

/// Starts syncing if the box is enrolled (`cloud.json` in `data_dir`);
/// `Ok(None)` when it is not. The task ends when the clinic shuts down.
pub fn spawn(clinic: Arc<Clinic>, data_dir: &Path) -> Result<Option<JoinHandle<()>>, SyncError> {
    match Credential::load(data_dir)? {
        Some(cred) => Ok(Some(spawn_with(clinic, cred, SyncOptions::default())?)),
        None => Ok(None),
    }
}

/// Starts syncing with an explicit credential and options.
pub fn spawn_with(
    clinic: Arc<Clinic>,
    cred: Credential,
    opts: SyncOptions,
) -> Result<JoinHandle<()>, SyncError> {
    let client = Client::new(&cred.link.cloud_url)?;
    let status = clinic.sync.clone();
    let generation = status.start();
    // Until the cloud answers (it may be away), the config in use is the
    // one stored in the replica.
    let stored = clinic.practice().config.config_version;
    if stored > 0 {
        status.update(|s| s.config_version = Some(stored));
    }
    // The engine touches the shared core, its own status and, through this
    // callback only, the desk's sessions.
    let sessions = Arc::clone(&clinic);
    let reported = Arc::clone(&clinic);
    let ctx = Arc::new(Ctx {
        core: Arc::clone(&clinic.core),
        staff_removed: Box::new(move |ids| sessions.sessions.end_for(ids)),
        report: Box::new(move || {
            let clinic = Arc::clone(&reported);
            Box::pin(async move { super::report::of(&clinic).await })
        }),
        client,
        cred,
        status: status.clone(),
        opts,
    });
    tracing::info!(
        device = %ctx.cred.link.device_id,
        cloud = %ctx.cred.link.cloud_url,
        "sync starting"
    );
    Ok(tokio::spawn(async move {
        tokio::join!(
            config_loop(Arc::clone(&ctx)),
            push_loop(Arc::clone(&ctx)),
            report_loop(Arc::clone(&ctx))
        );
        status.stop(generation);
        tracing::info!("sync stopped");
    }))
}

type StaffRemoved = Box<dyn Fn(&[String]) + Send + Sync>;
/// Makes the box's report (it reads the TVs and the voice, which the
/// engine does not otherwise touch).
type MakeReport = Box<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = wire::BoxReport> + Send>>
        + Send
        + Sync,
>;

struct Ctx {
    core: Arc<Core>,
    /// Ends the front-desk sessions of staff the cloud removed.
    staff_removed: StaffRemoved,
    report: MakeReport,
    client: Client,
    cred: Credential,
    status: SyncStatus,
    opts: SyncOptions,
}

impl Ctx {
    fn tenant(&self) -> &str {
        &self.cred.link.tenant_id
    }

    fn succeeded(&self) {
        self.status.update(|s| {
            if !s.online {
                tracing::info!("cloud reachable: sync online");
            }
            s.online = true;
            s.revoked = false;
            s.last_success_at = Some(now_ms());
            s.last_error = None;
        });
    }

    fn failed(&self, what: &str, e: &SyncError) {
        self.status.update(|s| {
            if s.online || s.last_error.is_none() {
                tracing::warn!(error = %e, "{what} failed: sync offline, retrying with backoff");
            } else {
                tracing::debug!(error = %e, "{what} failed again");
            }
            s.online = false;
            s.revoked = matches!(e, SyncError::Client(c) if c.is_revoked());
            s.last_error = Some(e.to_string());
        });
    }

    /// Delay before the next try after `attempt` consecutive failures.
    fn delay_after(&self, e: &SyncError, attempt: u32) -> Duration {
        match e {
            SyncError::Client(c) if c.is_revoked() => self.opts.revoked_retry,
            SyncError::Client(c) if !c.is_retryable() => self.opts.max_backoff,
            _ => backoff(self.opts.base_backoff, self.opts.max_backoff, attempt),
        }
    }
}

/// Exponential backoff with jitter: a random delay in [cap/2, cap] where
/// cap = base * 2^attempt, bounded by `max`.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let cap = base
        .saturating_mul(1u32 << attempt.min(20))
        .min(max)
        .max(Duration::from_millis(2));
    let half = cap / 2;
    let ms = half.as_millis() as u64;
    half + Duration::from_millis(rand::random_range(0..=ms))
}

/// Sleeps `d`; true when the clinic is shutting down instead.
pub(super) async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        r = stop.changed() => r.is_err() || *stop.borrow(),
    }
}

async fn local_version(ctx: &Ctx) -> Result<i64, SyncError> {
    let t = ctx.core.store.read(store::load_tenant).await?;
    Ok(t.filter(|t| t.tenant_id == ctx.tenant())
        .map(|t| t.config_version)
        .unwrap_or(0))
}

async fn config_loop(ctx: Arc<Ctx>) {
    let mut stop = ctx.core.shutdown.clone();
    let mut attempt = 0u32;
    let mut first = true;
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = if first { 0 } else { ctx.opts.wait_secs };
        let result = tokio::select! {
            r = pull_config(&ctx, wait) => r,
            _ = stop.changed() => return,
        };
        match result {
            Ok(()) => {
                first = false;
                attempt = 0;
                ctx.succeeded();
            }
            Err(e) => {
                ctx.failed("config pull", &e);
                let d = ctx.delay_after(&e, attempt);
                attempt = attempt.saturating_add(1);
                if sleep_or_stop(&mut stop, d).await {
                    return;
                }
            }
        }
    }
}

async fn pull_config(ctx: &Ctx, wait: u64) -> Result<(), SyncError> {
    let since = local_version(ctx).await?;
    let resp = ctx.client.config(&ctx.cred.device, since, wait).await?;
    if !resp.changed {
        ctx.status.update(|s| {
            s.config_version = Some(resp.config_version);
        });
        return Ok(());
    }
    let applied = apply::apply_config(&ctx.core.store, &ctx.core.key, ctx.tenant(), resp).await?;
    tracing::info!(
        config_version = applied.config_version,
        appointments = applied.appointments,
        skipped = applied.skipped,
        removed_staff = applied.removed_staff.len(),
        "cloud config applied"
    );
    (ctx.staff_removed)(&applied.removed_staff);
    if let Err(e) = ctx.core.reload_practice().await {
        tracing::warn!(error = %e, "config applied but the practice did not reload");
    }
    ctx.status.update(|s| {
        s.config_version = Some(applied.config_version);
    });
    Ok(())
}

async fn push_loop(ctx: Arc<Ctx>) {
    let mut stop = ctx.core.shutdown.clone();
    let mut attempt = 0u32;
    let mut batch = ctx.opts.batch_size.clamp(1, wire::MAX_EVENTS_PER_BATCH);
    loop {
        if *stop.borrow() {
            return;
        }
        match push_once(&ctx, batch).await {
            Ok(0) => {
                attempt = 0;
                if sleep_or_stop(&mut stop, ctx.opts.idle_poll).await {
                    return;
                }
            }
            Ok(_) => {
                attempt = 0;
                ctx.succeeded();
            }
            Err(e) => {
                if let SyncError::Client(c) = &e
                    && c.code() == Some(codes::TOO_LARGE)
                    && batch > 1
                {
                    batch = (batch / 2).max(1);
                    continue;
                }
                ctx.failed("event push", &e);
                let d = ctx.delay_after(&e, attempt);
                attempt = attempt.saturating_add(1);
                if sleep_or_stop(&mut stop, d).await {
                    return;
                }
            }
        }
    }
}

/// Reports the box's state at start and then every `report_every`. A
/// report that does not get through is not retried: the next one is
/// fresher, and the page shows when the last one arrived.
async fn report_loop(ctx: Arc<Ctx>) {
    let mut stop = ctx.core.shutdown.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        let report = (ctx.report)().await;
        // Like every call, it tells whether the cloud is reachable and
        // whether this box is still enrolled.
        match ctx.client.report(&ctx.cred.device, &report).await {
            Ok(_) => ctx.succeeded(),
            Err(e) => ctx.failed("report", &e.into()),
        }
        if sleep_or_stop(&mut stop, ctx.opts.report_every).await {
            return;
        }
    }
}

/// Sends one batch; returns how many events the cloud acknowledged.
async fn push_once(ctx: &Ctx, batch: usize) -> Result<usize, SyncError> {
    let tenant = ctx.tenant().to_string();
    let limit = batch as i64;
    let pending = ctx
        .core
        .store
        .read(move |c| store::pending_events(c, &tenant, limit))
        .await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let events: Vec<wire::Event> = pending
        .into_iter()
        .map(|e| wire::Event {
            event_id: e.event_id,
            seq: e.seq,
            kind: e.kind,
            payload: e.payload,
            created_at: e.created_at,
        })
        .collect();
    let resp = ctx
        .client
        .push_events(&ctx.cred.device, &events)
        .await
        .map_err(|e: ClientError| SyncError::Client(e))?;
    let acked = resp.acked;
    let n = acked.len();
    let tenant = ctx.tenant().to_string();
    ctx.core
        .store
        .write(move |txn| store::mark_events_sent(txn, &tenant, &acked, now_ms()))
        .await?;
    ctx.status.update(|s| {
        s.events_sent += n as u64;
    });
    tracing::debug!(
        sent = n,
        applied = resp.applied,
        duplicates = resp.duplicates,
        "events acknowledged"
    );
    Ok(n)
}
