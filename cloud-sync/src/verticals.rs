//! The verticals (dental, vet, legal): terminology, features, templates and
//! the default agent, as data in `assets/verticals/`. One source for the
//! box (its pages and words) and the cloud (a new tenant's defaults).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vertical {
    pub id: String,
    pub label: String,
    pub default_agent_name: String,
    pub default_agent_voice: String,
    pub terms: Terms,
    pub features: Features,
    pub templates: Templates,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Terms {
    pub customer: String,
    pub customers: String,
    pub appointment: String,
    pub appointments: String,
    pub provider: String,
    /// Spoken/printed before a provider's name ("Doctor Lee"); may be empty.
    pub provider_title: String,
}

impl Terms {
    /// "Doctor Lee" for a provider called "Lee" (or "Dr. Lee" as entered).
    pub fn provider_phrase(&self, provider_name: Option<&str>) -> String {
        let title = self.provider_title.trim();
        match provider_name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) if title.is_empty() || name.starts_with("Dr") => name.to_string(),
            Some(name) => format!("{title} {name}"),
            None => format!("the {}", self.provider),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Features {
    pub patient_checkin: bool,
    pub tv_display: bool,
    pub voice_guidance: bool,
    pub kids_mode: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Templates {
    pub welcome: String,
    pub welcome_walk_in: String,
    pub call: String,
    pub checked_in: String,
    pub ready: String,
    pub no_match: String,
    pub idle_messages: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerticalError {
    #[error("unknown vertical \"{0}\" (known: dental, vet, legal)")]
    Unknown(String),
    #[error("vertical file {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

const SHIPPED: [(&str, &str); 3] = [
    ("dental", include_str!("../../assets/verticals/dental.toml")),
    ("vet", include_str!("../../assets/verticals/vet.toml")),
    ("legal", include_str!("../../assets/verticals/legal.toml")),
];

impl Vertical {
    pub fn load(id: &str) -> Result<Vertical, VerticalError> {
        let (name, text) = SHIPPED
            .iter()
            .find(|(name, _)| *name == id)
            .ok_or_else(|| VerticalError::Unknown(id.to_string()))?;
        toml::from_str(text).map_err(|e| VerticalError::Invalid(name, e.to_string()))
    }

    pub fn known() -> impl Iterator<Item = &'static str> {
        SHIPPED.iter().map(|(n, _)| *n)
    }
}
