//! The box's own HTTPS certificate, from the cloud: phones on the clinic
//! Wi-Fi reach the box as `https://<device>.<tenant>.<edge domain>:8443`
//! with no warning, under a certificate a public CA issued for it.
//!
//! The box makes its key (it never leaves the data directory) and a
//! certificate request for the name the cloud gives it, and sends the
//! request with its LAN address over the signed channel; the cloud answers
//! the CA's DNS-01 challenge and returns the chain (`POST /v1/certificate`,
//! `docs/data.md`). The key and chain are kept in one file, `tls/cloud.pem`
//! (0600), replaced in one rename; the server swaps each renewal in place.
//! Renewal is at two thirds of the certificate's life; on failure the box
//! keeps serving the one it has, retries with backoff, and the desk says
//! why.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cloud_sync::client::{Client, ClientError};
use cloud_sync::wire::{CertificateRequest, codes};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::SyncError;
use super::credential::{Credential, write_private};
use super::engine::{backoff, sleep_or_stop};
use crate::core::Core;
use crate::web::https::{self, Certificate, HttpsStatus};

/// The key and chain, in one file.
pub const HELD_FILE: &str = "tls/cloud.pem";
/// The key of the request in flight: asked again with it after a power
/// cut, the cloud answers with the certificate it already issued for it.
const NEXT_KEY_FILE: &str = "tls/next-key.pem";

/// Keeps the box's certificate from the cloud in `certificates` (read by
/// the HTTPS server) until the box stops.
pub fn spawn(
    core: Arc<Core>,
    cred: Credential,
    data_dir: &Path,
    certificates: watch::Sender<Option<Certificate>>,
) -> Result<JoinHandle<()>, SyncError> {
    let client = Client::new(&cred.link.cloud_url)?;
    let dir = data_dir.to_path_buf();
    Ok(tokio::spawn(keep(core, client, cred, dir, certificates)))
}

async fn keep(
    core: Arc<Core>,
    client: Client,
    cred: Credential,
    dir: PathBuf,
    certificates: watch::Sender<Option<Certificate>>,
) {
    let mut stop = core.shutdown.clone();
    let mut held = held(&dir);
    match &held {
        Some(c) => {
            certificates.send_replace(Some(c.clone()));
        }
        None => core.set_https_status(HttpsStatus::plain(
            "asking the cloud for the box's own certificate; until then phones reach the box over plain HTTP",
        )),
    }
    let mut failures = 0u32;
    loop {
        let now = jiff::Timestamp::now();
        if let Some(c) = &held
            && c.renew_at() > now
        {
            // Woken at least hourly: a clock set right after boot (no
            // real-time clock) moves the due time.
            let ms = c.renew_at().as_millisecond() - now.as_millisecond();
            let wait = Duration::from_millis(ms.max(0) as u64).min(Duration::from_secs(3600));
            if sleep_or_stop(&mut stop, wait).await {
                return;
            }
            continue;
        }
        match obtain(&client, &cred, &dir).await {
            Ok(c) => {
                tracing::info!(not_after = %c.not_after, "the box's certificate arrived from the cloud");
                held = Some(c.clone());
                certificates.send_replace(Some(c));
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                let wait = match &e {
                    Failure::NotIssued => Duration::from_secs(6 * 3600),
                    _ => backoff(Duration::from_secs(30), Duration::from_secs(3600), failures),
                };
                let why = format!("{e}; trying again in {} min", wait.as_secs().div_ceil(60));
                tracing::warn!(error = %e, "no certificate from the cloud");
                report(&core, held.as_ref(), why);
                if matches!(e, Failure::Cloud(ref c) if c.is_revoked()) {
                    return;
                }
                if sleep_or_stop(&mut stop, wait).await {
                    return;
                }
            }
        }
    }
}

/// What the desk and `/healthz` say after a failed attempt: plain HTTP and
/// why, or, while a certificate is still served, why it was not renewed.
fn report(core: &Core, held: Option<&Certificate>, why: String) {
    match held {
        Some(c) => {
            let mut status = core.https_status();
            status.renewal = Some(format!(
                "the certificate could not be renewed: {why} (it is valid until {})",
                c.not_after
            ));
            core.set_https_status(status);
        }
        None => core.set_https_status(HttpsStatus::plain(format!(
            "no certificate from the cloud yet: {why}; phones reach the box over plain HTTP"
        ))),
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("this box's cloud does not issue certificates")]
    NotIssued,
    #[error("{0}")]
    Cloud(ClientError),
    #[error("{0}")]
    Local(String),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        if e.code() == Some(codes::NOT_ISSUED) {
            Failure::NotIssued
        } else {
            Failure::Cloud(e)
        }
    }
}

/// The certificate kept from before, if it is still good.
pub fn held(dir: &Path) -> Option<Certificate> {
    let path = dir.join(HELD_FILE);
    let pem = std::fs::read(&path).ok()?;
    match https::from_pem(&pem, &path) {
        Ok(c) if c.not_after > jiff::Timestamp::now() => Some(c),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the kept certificate is unusable; asking for a new one");
            None
        }
    }
}

/// One request: the name, a key, the cloud's answer, kept on disk.
async fn obtain(client: &Client, cred: &Credential, dir: &Path) -> Result<Certificate, Failure> {
    let name = client.certificate(&cred.device).await?.name;
    let key = next_key(dir)?;
    let csr = rcgen::CertificateParams::new(vec![name.clone()])
        .and_then(|p| p.serialize_request(&key))
        .and_then(|r| r.pem())
        .map_err(|e| Failure::Local(format!("cannot make the certificate request: {e}")))?;
    // Its LAN address: the one it reaches the cloud from.
    let addresses = vec![client.route_source().await?];
    let answer = client
        .request_certificate(
            &cred.device,
            &CertificateRequest {
                csr_pem: csr,
                addresses,
            },
        )
        .await?;
    let issued = answer
        .certificate
        .ok_or_else(|| Failure::Local("the cloud answered without a certificate".into()))?;
    let pem = format!("{}{}", key.serialize_pem(), issued.chain_pem);
    let path = dir.join(HELD_FILE);
    let cert = https::from_pem(pem.as_bytes(), &path)
        .map_err(|e| Failure::Local(format!("the cloud's certificate is unusable: {e}")))?;
    if !cert.names.contains(&name) {
        return Err(Failure::Local(format!(
            "the cloud's certificate is not for {name}"
        )));
    }
    write_private(&path, pem.as_bytes()).map_err(|e| Failure::Local(e.to_string()))?;
    let _ = std::fs::remove_file(dir.join(NEXT_KEY_FILE));
    Ok(cert)
}

/// The key for the next certificate: the one a lost answer was for, or a
/// new one (ECDSA P-256), written before it is used.
fn next_key(dir: &Path) -> Result<rcgen::KeyPair, Failure> {
    let path = dir.join(NEXT_KEY_FILE);
    if let Ok(pem) = std::fs::read_to_string(&path)
        && let Ok(key) = rcgen::KeyPair::from_pem(&pem)
    {
        return Ok(key);
    }
    let local = |e: String| Failure::Local(format!("cannot make the box's HTTPS key: {e}"));
    let key = rcgen::KeyPair::generate().map_err(|e| local(e.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| local(e.to_string()))?;
    }
    write_private(&path, key.serialize_pem().as_bytes()).map_err(|e| local(e.to_string()))?;
    Ok(key)
}
