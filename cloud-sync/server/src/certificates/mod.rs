//! Boxes' HTTPS certificates: each enrolled box gets a publicly trusted
//! certificate for a name of its own, `<device>.<tenant>.<edge domain>`,
//! resolving to its address on the clinic's network, so the phones on the
//! clinic Wi-Fi reach it over HTTPS with no warning.
//!
//! The box makes its key and a certificate request and sends the request
//! over its signed channel (`POST /v1/certificate`); the cloud points the
//! name at the box's LAN address, answers the CA's DNS-01 challenge
//! ([`dns`]) and orders the certificate ([`acme`]). The box never holds
//! DNS or CA credentials, and its private key never leaves it. A revoked
//! box is refused before any of this (the signed-request check).

pub mod acme;
mod csr;
pub mod dns;

use std::net::IpAddr;

use cloud_sync::wire::IssuedCertificate;
use deadpool_postgres::Pool;

use crate::db::DbError;
use crate::devices::Device;

/// How the cloud issues boxes' certificates (`--acme-directory`,
/// `--edge-domain`, `--dns-api`).
pub struct Issuer {
    pub ca: acme::Ca,
    pub dns: dns::Dns,
    /// The domain under which boxes get their names (`edge.example.com`).
    pub edge_domain: String,
    account: tokio::sync::OnceCell<instant_acme::Account>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("directory", &self.ca.directory)
            .field("edge_domain", &self.edge_domain)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the certificate authority refused or failed: {0}")]
    Acme(String),
    #[error("the cloud's DNS could not be updated: {0}")]
    Dns(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for CertError {
    fn from(e: tokio_postgres::Error) -> Self {
        CertError::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for CertError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        CertError::Db(e.into())
    }
}

impl Issuer {
    pub fn new(ca: acme::Ca, dns: dns::Dns, edge_domain: &str) -> Result<Issuer, CertError> {
        let edge_domain = edge_domain.trim().trim_matches('.').to_ascii_lowercase();
        if edge_domain.split('.').count() < 2 || !edge_domain.split('.').all(is_label) {
            return Err(CertError::BadRequest(format!(
                "--edge-domain must be a domain name such as edge.example.com, not {edge_domain:?}"
            )));
        }
        Ok(Issuer {
            ca,
            dns,
            edge_domain,
            account: tokio::sync::OnceCell::new(),
        })
    }

    /// The box's own name. Device and tenant ids are `d-`/`t-` and hex,
    /// valid DNS labels as they are.
    pub fn name_for(&self, device: &Device) -> String {
        format!(
            "{}.{}.{}",
            device.device_id.to_ascii_lowercase(),
            device.tenant_id.to_ascii_lowercase(),
            self.edge_domain
        )
    }

    /// The certificate for `device`'s key `csr_pem`, resolving its name to
    /// `addresses`. A request for the key of the certificate it already
    /// holds, while that one is in the first third of its life, is
    /// answered with it: a box that lost the answer (power cut) asks again
    /// without costing a second order at the CA.
    pub async fn issue(
        &self,
        pool: &Pool,
        device: &Device,
        csr_pem: &str,
        addresses: &[IpAddr],
    ) -> Result<IssuedCertificate, CertError> {
        let name = self.name_for(device);
        check_addresses(addresses)?;
        let csr = csr::check(csr_pem, &name)?;
        // The box may have moved on its network since: its name follows.
        self.dns.set_addresses(&name, addresses).await?;
        if let Some((held, key)) = stored(pool, device).await?
            && key == csr.public_key
            && young(&held, now_ms())
        {
            return Ok(held);
        }
        let account = self
            .account
            .get_or_try_init(|| self.ca.account(pool))
            .await?;
        let chain_pem = acme::order(account, &self.dns, &name, &csr.der).await?;
        let (not_before, not_after, key) = csr::leaf(&chain_pem)?;
        if key != csr.public_key {
            return Err(CertError::Acme(
                "the CA issued a certificate for another key".into(),
            ));
        }
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO device_certificates
                     (device_id, name, public_key, chain_pem, not_before, not_after)
                 VALUES ($1, $2, $3, $4, to_timestamp($5), to_timestamp($6))
                 ON CONFLICT (device_id) DO UPDATE SET
                     name = excluded.name, public_key = excluded.public_key,
                     chain_pem = excluded.chain_pem, not_before = excluded.not_before,
                     not_after = excluded.not_after, issued_at = now()",
                &[
                    &device.device_id,
                    &name,
                    &key,
                    &chain_pem,
                    &(not_before as f64),
                    &(not_after as f64),
                ],
            )
            .await?;
        tracing::info!(device_id = %device.device_id, %name, not_after, "box certificate issued");
        Ok(IssuedCertificate {
            chain_pem,
            not_before: not_before * 1000,
            not_after: not_after * 1000,
        })
    }
}

/// The latest certificate issued for `device`, if any.
pub async fn held(pool: &Pool, device: &Device) -> Result<Option<IssuedCertificate>, CertError> {
    Ok(stored(pool, device).await?.map(|(c, _)| c))
}

async fn stored(
    pool: &Pool,
    device: &Device,
) -> Result<Option<(IssuedCertificate, Vec<u8>)>, CertError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT chain_pem,
                    (extract(epoch FROM not_before) * 1000)::bigint,
                    (extract(epoch FROM not_after) * 1000)::bigint,
                    public_key
             FROM device_certificates WHERE device_id = $1",
            &[&device.device_id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((
        IssuedCertificate {
            chain_pem: row.try_get(0)?,
            not_before: row.try_get(1)?,
            not_after: row.try_get(2)?,
        },
        row.try_get(3)?,
    )))
}

/// In the first third of its validity: not yet due for renewal (the box
/// renews at two thirds).
fn young(c: &IssuedCertificate, now_ms: i64) -> bool {
    now_ms < c.not_before + (c.not_after - c.not_before) / 3
}

fn now_ms() -> i64 {
    cloud_sync::auth::now_ms() as i64
}

/// A box's name may only point into a private network: the edge domain
/// must not become a way to name arbitrary hosts on the internet.
fn check_addresses(addresses: &[IpAddr]) -> Result<(), CertError> {
    if addresses.is_empty() || addresses.len() > 8 {
        return Err(CertError::BadRequest(
            "addresses must list the box's 1 to 8 addresses on the clinic's network".into(),
        ));
    }
    for a in addresses {
        let private = match a {
            IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
            // Unique-local fc00::/7.
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        if !private {
            return Err(CertError::BadRequest(format!(
                "{a} is not an address on a private network; a box's name may only point to its LAN address"
            )));
        }
    }
    Ok(())
}

fn is_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_name_points_only_into_a_private_network() {
        for ok in [
            "192.168.1.20",
            "10.0.0.5",
            "172.16.3.4",
            "127.0.0.1",
            "fd00::5",
        ] {
            assert!(check_addresses(&[ok.parse().unwrap()]).is_ok(), "{ok}");
        }
        for bad in ["8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            let e = check_addresses(&[bad.parse().unwrap()]).unwrap_err();
            assert!(
                e.to_string()
                    .contains("not an address on a private network"),
                "{e}"
            );
        }
        assert!(check_addresses(&[]).is_err());
    }

    #[test]
    fn renewal_is_asked_after_a_third_of_the_life() {
        let c = IssuedCertificate {
            chain_pem: String::new(),
            not_before: 0,
            not_after: 90,
        };
        assert!(young(&c, 29) && !young(&c, 30));
    }
}
