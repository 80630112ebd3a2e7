//! Where the cloud publishes its boxes' names and answers ACME DNS-01
//! challenges: the seam to the DNS that serves the edge domain.
//!
//! This speaks the management API of `pebble-challtestsrv` (Let's
//! Encrypt's own test DNS, which Pebble validates against), the DNS the
//! tests run. A production edge domain is served by a DNS provider with
//! an API of its own; it plugs in here, behind the same three calls.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use super::CertError;

pub struct Dns {
    http: reqwest::Client,
    api: String,
}

impl Dns {
    /// The management API at `api` (e.g. `http://127.0.0.1:8055`).
    pub fn new(api: &str) -> Result<Dns, CertError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CertError::Dns(e.to_string()))?;
        Ok(Dns {
            http,
            api: api.trim_end_matches('/').to_string(),
        })
    }

    /// `name` resolves to `addresses` (replacing what it resolved to).
    pub async fn set_addresses(&self, name: &str, addresses: &[IpAddr]) -> Result<(), CertError> {
        let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = addresses.iter().partition(|a| a.is_ipv4());
        for (path, list, clear) in [("add-a", v4, "clear-a"), ("add-aaaa", v6, "clear-aaaa")] {
            self.call(clear, json!({ "host": fqdn(name) })).await?;
            if !list.is_empty() {
                let list: Vec<String> = list.iter().map(IpAddr::to_string).collect();
                self.call(path, json!({ "host": fqdn(name), "addresses": list }))
                    .await?;
            }
        }
        Ok(())
    }

    /// The DNS-01 answer for `name`: `_acme-challenge.<name>` TXT `value`.
    pub async fn set_challenge(&self, name: &str, value: &str) -> Result<(), CertError> {
        let host = fqdn(&format!("_acme-challenge.{name}"));
        self.call("set-txt", json!({ "host": host, "value": value }))
            .await
    }

    pub async fn clear_challenge(&self, name: &str) -> Result<(), CertError> {
        let host = fqdn(&format!("_acme-challenge.{name}"));
        self.call("clear-txt", json!({ "host": host })).await
    }

    async fn call(&self, path: &str, body: serde_json::Value) -> Result<(), CertError> {
        let resp = self
            .http
            .post(format!("{}/{path}", self.api))
            .json(&body)
            .send()
            .await
            .map_err(|e| CertError::Dns(format!("{path}: {e}")))?;
        if !resp.status().is_success() {
            return Err(CertError::Dns(format!("{path} answered {}", resp.status())));
        }
        Ok(())
    }
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}
