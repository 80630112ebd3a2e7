//! What the box tells systemd (`Type=notify`, `systemd/sos-appliance.service`):
//! READY once it serves, WATCHDOG only while the database answers, STOPPING
//! on the way out. A box whose database wedges stops being vouched for, and
//! systemd restarts it (`WatchdogSec=`, `Restart=on-failure`). Outside
//! systemd (no `NOTIFY_SOCKET`) every call here does nothing.

use sd_notify::NotifyState;
use tokio::sync::watch;

use crate::store::Store;

/// Tells systemd the box serves, with a one-line status for `systemctl status`.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A status line while starting (first boot: waiting to enroll).
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Pings systemd's watchdog every half of `WatchdogSec=` while a read and a
/// write transaction both complete; stops when `stop` fires. Does nothing
/// when systemd asked for no watchdog.
pub fn spawn_watchdog(store: Store, mut stop: watch::Receiver<bool>) {
    let Some(timeout) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = timeout / 2;
    tokio::spawn(async move {
        let mut quiet = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            match tokio::time::timeout(every, database_answers(&store)).await {
                Ok(Ok(())) => {
                    if quiet {
                        tracing::info!("the database answers again; watchdog resumed");
                        quiet = false;
                    }
                    send(&[NotifyState::Watchdog]);
                }
                Ok(Err(e)) => {
                    if !quiet {
                        tracing::error!(error = %e, "the database does not answer; not pinging the watchdog");
                    }
                    quiet = true;
                }
                Err(_) => {
                    if !quiet {
                        tracing::error!(waited = ?every, "the database did not answer in time; not pinging the watchdog");
                    }
                    quiet = true;
                }
            }
        }
    });
}

/// A read on a reader connection and an (empty) write transaction through
/// the group-commit writer: both paths a check-in takes.
async fn database_answers(store: &Store) -> Result<(), crate::store::StoreError> {
    store
        .read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await?;
    store.write(|_| Ok(())).await
}
