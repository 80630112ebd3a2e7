//! The box's identity at the cloud: `device.key` (Ed25519 seed, mode 0600)
//! and `cloud.json` (cloud URL, device id, tenant id) in the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use cloud_sync::DeviceKey;
use cloud_sync::client::{Client, ClientError, Device};
use serde::{Deserialize, Serialize};

use super::SyncError;

pub const KEY_FILE: &str = "device.key";
pub const CLOUD_FILE: &str = "cloud.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CloudLink {
    pub cloud_url: String,
    pub device_id: String,
    pub tenant_id: String,
    pub enrolled_at: i64,
}

/// An enrolled box: where its cloud is and how it signs.
#[derive(Debug)]
pub struct Credential {
    pub link: CloudLink,
    pub device: Device,
}

impl Credential {
    /// Loads the credential from `data_dir`; `None` when the box has not
    /// been enrolled.
    pub fn load(data_dir: &Path) -> Result<Option<Credential>, SyncError> {
        let link_path = data_dir.join(CLOUD_FILE);
        let text = match std::fs::read_to_string(&link_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SyncError::io(&link_path, e)),
        };
        let link: CloudLink = serde_json::from_str(&text)
            .map_err(|e| SyncError::Credential(format!("{} is damaged: {e}", CLOUD_FILE)))?;
        let key_path = data_dir.join(KEY_FILE);
        let seed = std::fs::read(&key_path).map_err(|e| SyncError::io(&key_path, e))?;
        let key = DeviceKey::from_seed(&seed)
            .map_err(|e| SyncError::Credential(format!("{KEY_FILE}: {e}")))?;
        Ok(Some(Credential {
            device: Device {
                device_id: link.device_id.clone(),
                key,
            },
            link,
        }))
    }
}

/// Writes `bytes` to `path` atomically, readable by the owner only.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SyncError> {
    let tmp: PathBuf = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| SyncError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| SyncError::io(&tmp, e))?;
    f.sync_all().map_err(|e| SyncError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| SyncError::io(path, e))?;
    // The rename itself must survive a power cut (found on a real boot:
    // without this, device.key could vanish after the cloud had spent the
    // token on it, and the resumed enrollment was refused).
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SyncError::io(dir, e))?;
    }
    Ok(())
}

/// Exchanges a provisioning token for a device credential and stores it in
/// `data_dir`. Refuses when the box is already enrolled.
pub async fn enroll(
    data_dir: &Path,
    cloud_url: &str,
    token: &str,
    device_name: &str,
) -> Result<Credential, SyncError> {
    if let Some(existing) = Credential::load(data_dir)? {
        return Err(SyncError::Credential(format!(
            "this box is already enrolled as device {} of tenant {}; remove {} from {} to enroll it again",
            existing.link.device_id,
            existing.link.tenant_id,
            CLOUD_FILE,
            data_dir.display()
        )));
    }
    let client = Client::new(cloud_url)?;
    // The key is on disk before the token is spent. A key there without
    // `cloud.json` is an enrollment whose answer was lost (power cut after
    // the cloud answered): present the same token with the same key again
    // and the cloud answers the same device.
    let key_path = data_dir.join(KEY_FILE);
    let (key, pending) = match pending_key(&key_path)? {
        Some(key) => (key, true),
        None => (new_key(&key_path)?, false),
    };
    let resp = match client.enroll(token, &key, device_name).await {
        // That key is a device of another token (a new token after a lost
        // answer): enroll afresh; the operator sees the other one unused.
        Err(ClientError::Refused { status: 409, .. }) if pending => {
            let key = new_key(&key_path)?;
            let resp = client.enroll(token, &key, device_name).await?;
            return save_link(data_dir, &client, resp, key);
        }
        other => other?,
    };
    save_link(data_dir, &client, resp, key)
}

fn pending_key(path: &Path) -> Result<Option<DeviceKey>, SyncError> {
    match std::fs::read(path) {
        Ok(seed) => DeviceKey::from_seed(&seed)
            .map(Some)
            .map_err(|e| SyncError::Credential(format!("{KEY_FILE}: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SyncError::io(path, e)),
    }
}

fn new_key(path: &Path) -> Result<DeviceKey, SyncError> {
    let key = DeviceKey::generate()?;
    write_private(path, &key.to_seed())?;
    Ok(key)
}

fn save_link(
    data_dir: &Path,
    client: &Client,
    resp: cloud_sync::wire::EnrollResponse,
    key: DeviceKey,
) -> Result<Credential, SyncError> {
    let link = CloudLink {
        cloud_url: client.base_url().to_string(),
        device_id: resp.device_id.clone(),
        tenant_id: resp.tenant_id,
        enrolled_at: crate::store::now_ms(),
    };
    let text = serde_json::to_vec_pretty(&link)
        .map_err(|e| SyncError::Credential(format!("cannot encode {CLOUD_FILE}: {e}")))?;
    write_private(&data_dir.join(CLOUD_FILE), &text)?;
    Ok(Credential {
        device: Device {
            device_id: resp.device_id,
            key,
        },
        link,
    })
}
