//! Getting a box enrolled and holding its practice before it serves:
//! `sos-appliance enroll --cloud URL --token T`, or at first start from a
//! provisioning file (`provision.json` in the data directory, written by the
//! flashing tool: `{"cloud_url": "...", "token": "...", "device_name": "..."}`).

use std::path::Path;
use std::time::{Duration, Instant};

use cloud_sync::client::{Client, ClientError};
use serde::Deserialize;

use super::credential::{Credential, enroll};
use super::{SyncError, apply, engine};
use crate::store::{self, Store};

pub const PROVISION_FILE: &str = "provision.json";

/// What an enrollment did (ids, names of the practice, counts).
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollReport {
    pub device_id: String,
    pub tenant_id: String,
    pub practice_name: String,
    pub config_version: i64,
    pub appointments: usize,
}

#[derive(Deserialize)]
struct ProvisionFile {
    cloud_url: String,
    token: String,
    #[serde(default)]
    device_name: String,
}

fn prepare_dir(data_dir: &Path) -> Result<(), SyncError> {
    std::fs::create_dir_all(data_dir).map_err(|e| SyncError::io(data_dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| SyncError::io(data_dir, e))?;
    }
    Ok(())
}

/// `sos-appliance enroll`: exchanges the token for a device credential
/// (stored in `data_dir`), then downloads the practice's config into the
/// replica so the box can start serving at once.
pub async fn enroll_box(
    data_dir: &Path,
    cloud_url: &str,
    token: &str,
    device_name: &str,
) -> Result<EnrollReport, SyncError> {
    prepare_dir(data_dir)?;
    let cred = enroll(data_dir, cloud_url, token, device_name).await?;
    first_pull(data_dir, &cred, Duration::from_secs(15)).await
}

/// Downloads the config once and applies it, retrying network trouble for
/// up to `max_wait`.
async fn first_pull(
    data_dir: &Path,
    cred: &Credential,
    max_wait: Duration,
) -> Result<EnrollReport, SyncError> {
    let client = Client::new(&cred.link.cloud_url)?;
    let resp = retry(max_wait, || client.config(&cred.device, 0, 0)).await?;
    let store = Store::open(&crate::core::replica_path(data_dir))?;
    let key = crate::secrets::BoxKey::load_or_create(&crate::core::key_path(data_dir))
        .map_err(|e| SyncError::Credential(e.to_string()));
    let name = resp
        .tenant
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let applied = match key {
        Ok(key) => apply::apply_config(&store, &key, &cred.link.tenant_id, resp).await,
        Err(e) => Err(e),
    };
    store.close();
    let applied = applied?;
    Ok(EnrollReport {
        device_id: cred.link.device_id.clone(),
        tenant_id: cred.link.tenant_id.clone(),
        practice_name: name,
        config_version: applied.config_version,
        appointments: applied.appointments,
    })
}

/// Calls `f` until it succeeds, fails for good, or `max_wait` has passed.
async fn retry<T, F, Fut>(max_wait: Duration, mut f: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && started.elapsed() < max_wait => {
                let d =
                    engine::backoff(Duration::from_millis(250), Duration::from_secs(10), attempt);
                attempt += 1;
                tokio::time::sleep(d.min(max_wait.saturating_sub(started.elapsed()))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Call before opening the clinic at start. Makes sure an enrolled box holds
/// its practice, and enrolls from `provision.json` when the box has no
/// credential yet (the file is removed once used). Waits up to `max_wait`
/// for the network (first boot). `Ok(None)` when there was nothing to do.
pub async fn prepare_at_start(
    data_dir: &Path,
    max_wait: Duration,
) -> Result<Option<EnrollReport>, SyncError> {
    if let Some(cred) = Credential::load(data_dir)? {
        // Enrolled: if the first download never completed, do it now.
        let db = crate::core::replica_path(data_dir);
        let has_practice = if db.exists() {
            let store = Store::open(&db)?;
            let t = store.read_blocking(store::load_tenant);
            store.close();
            t?.is_some_and(|t| t.tenant_id == cred.link.tenant_id)
        } else {
            false
        };
        if has_practice {
            return Ok(None);
        }
        return first_pull(data_dir, &cred, max_wait).await.map(Some);
    }
    let path = data_dir.join(PROVISION_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SyncError::io(&path, e)),
    };
    let file: ProvisionFile = serde_json::from_str(&text).map_err(|e| {
        SyncError::Credential(format!(
            "{PROVISION_FILE} is not valid (need cloud_url and token): {e}"
        ))
    })?;
    prepare_dir(data_dir)?;
    let name = if file.device_name.trim().is_empty() {
        "SOS Edge box".to_string()
    } else {
        file.device_name
    };
    let started = Instant::now();
    let cred = {
        let mut attempt = 0;
        loop {
            match enroll(data_dir, &file.cloud_url, &file.token, &name).await {
                Ok(c) => break c,
                Err(SyncError::Client(e)) if e.is_retryable() && started.elapsed() < max_wait => {
                    tracing::warn!(error = %e, "enrollment from the provisioning file failed; retrying");
                    tokio::time::sleep(engine::backoff(
                        Duration::from_millis(250),
                        Duration::from_secs(10),
                        attempt,
                    ))
                    .await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    };
    // The token is spent: do not keep it on disk, not even in the freed
    // blocks of the file system (overwritten in place before removal).
    if let Err(e) = erase(&path) {
        tracing::warn!(error = %e, "could not remove the used provisioning file");
    }
    let left = max_wait
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(5));
    first_pull(data_dir, &cred, left).await.map(Some)
}

/// Overwrites a file with zeros, syncs, and removes it.
fn erase(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let len = std::fs::metadata(path)?.len();
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(&vec![0u8; len as usize])?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(path)
}
