//! The box's configuration: a TOML file, then `SOS_*` environment variables,
//! then command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::store::{Branding, Settings, TenantConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
    #[error("config field `{field}` is invalid: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    /// HTTPS with a certificate the clinic brings (PEM files).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub https_listen: Option<String>,
    /// The DNS server that checks the box's certificate name (ip:port).
    pub dns_server: Option<String>,
    /// A practice to serve when no cloud config has arrived yet.
    pub practice: Option<PracticeSeed>,
}

/// Enough to run a practice standalone; the cloud replaces it when synced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeSeed {
    pub tenant_id: String,
    pub name: String,
    #[serde(default = "default_vertical")]
    pub vertical: String,
    pub agent_name: Option<String>,
    pub agent_voice: Option<String>,
    #[serde(default = "default_plan")]
    pub plan: String,
    #[serde(default)]
    pub branding: Branding,
    #[serde(default)]
    pub settings: Settings,
}

fn default_vertical() -> String {
    "dental".into()
}
fn default_plan() -> String {
    "pro".into()
}

impl PracticeSeed {
    pub fn into_tenant(self) -> Result<TenantConfig, ConfigError> {
        let vertical =
            crate::practice::Vertical::load(&self.vertical).map_err(|e| ConfigError::Field {
                field: "practice.vertical",
                message: e.to_string(),
            })?;
        if !self
            .tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
            || self.tenant_id.is_empty()
            || self.tenant_id.len() > 64
        {
            return Err(ConfigError::Field {
                field: "practice.tenant_id",
                message: "use 1-64 letters, digits or dashes".into(),
            });
        }
        if jiff::tz::TimeZone::get(&self.settings.timezone).is_err() {
            return Err(ConfigError::Field {
                field: "practice.settings.timezone",
                message: format!("unknown time zone \"{}\"", self.settings.timezone),
            });
        }
        let plans = cloud_sync::plans::PlanTable::shipped();
        if plans.get(&self.plan).is_none() {
            return Err(ConfigError::Field {
                field: "practice.plan",
                message: format!(
                    "must be one of {}",
                    plans.ids().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Ok(TenantConfig {
            tenant_id: self.tenant_id,
            name: self.name,
            agent_name: self.agent_name.unwrap_or(vertical.default_agent_name),
            agent_voice: self.agent_voice.unwrap_or(vertical.default_agent_voice),
            vertical: self.vertical,
            plan: self.plan,
            status: "active".into(),
            branding: self.branding,
            settings: self.settings,
            entitlements: None,
            config_version: 0,
        })
    }
}

pub fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

pub fn parse_listen(s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| ConfigError::Field {
        field: "listen",
        message: format!("\"{s}\" is not an address like 0.0.0.0:8080"),
    })
}
