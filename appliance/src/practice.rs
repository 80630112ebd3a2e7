//! The practice this box serves: its replicated tenant config plus its
//! vertical (terminology, features, templates), which is data in
//! `assets/verticals/`, not code, read by `cloud_sync::verticals` (the
//! cloud creates tenants from the same files).

use std::collections::BTreeMap;

use serde::Serialize;

use cloud_sync::plans::{Entitlements, Feature, Notice, PlanTable};
pub use cloud_sync::verticals::{Features, Templates, Terms, Vertical, VerticalError};

pub use cloud_sync::practice::fill;

use crate::store::TenantConfig;

/// Tenant config and vertical together: what every page and message needs.
#[derive(Debug, Clone, Serialize)]
pub struct Practice {
    pub config: TenantConfig,
    pub vertical: Vertical,
    /// From `config` (see [`Practice::entitlements`]).
    #[serde(skip)]
    entitlements: Entitlements,
}

impl Practice {
    pub fn new(config: TenantConfig) -> Result<Practice, VerticalError> {
        let mut vertical = Vertical::load(&config.vertical)?;
        // The owner's own greeting and call, where they wrote one.
        config.settings.templates.apply(&mut vertical.templates);
        // What the plan allows is decided once per practice (the config is
        // replaced whole when it changes), not on every greeting and page.
        let entitlements = config
            .entitlements
            .clone()
            .unwrap_or_else(|| PlanTable::shipped().entitlements(&config.plan, &config.status));
        Ok(Practice {
            config,
            vertical,
            entitlements,
        })
    }

    pub fn tenant_id(&self) -> &str {
        &self.config.tenant_id
    }

    /// What the practice's plan in its status allows now: as the cloud
    /// sent it, or (a box without a cloud) from the plans the box ships
    /// with. An unknown plan or status fails closed.
    pub fn entitlements(&self) -> &Entitlements {
        &self.entitlements
    }

    /// A feature is on when the vertical has it and the plan in its status
    /// allows it. Check-in and the lobby TV are never gated by payment:
    /// plans gate features, never data.
    pub fn feature(&self, name: &str) -> bool {
        let f = &self.vertical.features;
        let ent = self.entitlements();
        match name {
            "patient_checkin" => f.patient_checkin,
            "tv_display" => f.tv_display,
            "voice_guidance" => f.voice_guidance && ent.allows(Feature::VoiceGreetings),
            "kids_mode" => f.kids_mode && ent.allows(Feature::KidsMode),
            "voice_checkin" => ent.allows(Feature::VoiceCheckin),
            "cast" => ent.allows(Feature::Cast),
            _ => false,
        }
    }

    /// How many TVs the plan allows now.
    pub fn max_displays(&self) -> usize {
        self.entitlements().limits.max_displays as usize
    }

    /// What the front desk should read about billing, if anything. Never
    /// shown on the lobby TV or to patients.
    pub fn billing_notice(&self) -> Option<String> {
        let ent = self.entitlements();
        Some(match ent.notice? {
            Notice::PastDue => "Payment for this practice is overdue. Everything keeps working \
                                for now; please update the payment method on the SOS dashboard."
                .to_string(),
            Notice::Suspended => "This practice's plan is suspended for non-payment: voice, \
                                  casting and extra TVs are off. Check-in and the records keep \
                                  working; paying on the SOS dashboard turns everything back on."
                .to_string(),
            Notice::Cancelled => "This practice's plan is cancelled: voice, casting and extra TVs \
                                  are off. Check-in and the records keep working, and nothing \
                                  has been deleted."
                .to_string(),
            Notice::Unknown => format!(
                "This box does not know the plan \"{}\" in status \"{}\": paid features are \
                 off until it is updated.",
                ent.plan, ent.status
            ),
        })
    }

    /// "Doctor Lee" for a provider called "Lee" (or "Dr. Lee" as entered).
    pub fn provider_phrase(&self, provider_name: Option<&str>) -> String {
        self.vertical.terms.provider_phrase(provider_name)
    }

    /// What the lobby may show for a person: never more than first name and
    /// last initial, less if the practice chooses.
    pub fn lobby_name(&self, first: &str, last: &str, ticket: i64) -> String {
        self.config.settings.name_display.show(first, last, ticket)
    }

    /// What a greeting calls a person: never more than the lobby may see.
    pub fn greeting_name(&self, first: &str, last: &str, ticket: i64) -> String {
        self.config.settings.name_display.greet(first, last, ticket)
    }

    pub fn values(&self) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::new();
        v.insert("practice", self.config.name.clone());
        v.insert("agent", self.config.agent_name.clone());
        v.insert("customer", self.vertical.terms.customer.clone());
        v.insert("appointment", self.vertical.terms.appointment.clone());
        v.insert("provider_word", self.vertical.terms.provider.clone());
        v
    }

    pub fn idle_messages(&self) -> Vec<String> {
        let values = self.values();
        self.vertical
            .templates
            .idle_messages
            .iter()
            .chain(self.config.branding.messages.iter())
            .map(|m| fill(m, &values))
            .collect()
    }

    pub fn timezone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.config.settings.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// Today's date (YYYY-MM-DD) in the practice's time zone.
    pub fn today(&self) -> String {
        jiff::Timestamp::now()
            .to_zoned(self.timezone())
            .date()
            .to_string()
    }

    /// "2:30 PM" in the practice's time zone.
    pub fn clock(&self, at_ms: i64) -> String {
        match jiff::Timestamp::from_millisecond(at_ms) {
            Ok(ts) => ts
                .to_zoned(self.timezone())
                .strftime("%-I:%M %p")
                .to_string(),
            Err(_) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_vertical_parses_and_uses_its_own_words() {
        for id in Vertical::known() {
            let v = Vertical::load(id).unwrap();
            assert_eq!(v.id, id);
        }
        let vet = Vertical::load("vet").unwrap();
        assert_eq!(vet.terms.customer, "pet owner");
        assert_eq!(vet.terms.appointment, "visit");
        assert_eq!(vet.terms.provider, "vet");
        assert!(Vertical::load("plumbing").is_err());
    }

    #[test]
    fn fill_replaces_known_placeholders_only() {
        let mut v = BTreeMap::new();
        v.insert("first_name", "Sarah".to_string());
        assert_eq!(
            fill("Hi {first_name}, {unknown} {", &v),
            "Hi Sarah, {unknown} {"
        );
    }

    fn practice(plan: &str, status: &str, from_cloud: Option<Entitlements>) -> Practice {
        Practice::new(TenantConfig {
            tenant_id: "t".into(),
            name: "Bright Smile".into(),
            vertical: "dental".into(),
            agent_name: "Dandan".into(),
            agent_voice: "v".into(),
            plan: plan.into(),
            status: status.into(),
            branding: Default::default(),
            settings: Default::default(),
            entitlements: from_cloud,
            config_version: 1,
        })
        .unwrap()
    }

    #[test]
    fn the_plan_in_its_status_decides_the_features_never_check_in() {
        let pro = practice("pro", "active", None);
        assert!(pro.feature("voice_guidance") && pro.feature("cast"));
        assert_eq!(pro.max_displays(), 3);
        assert_eq!(pro.billing_notice(), None);
        let starter = practice("starter", "active", None);
        assert!(!starter.feature("voice_guidance") && !starter.feature("voice_checkin"));
        assert_eq!(starter.max_displays(), 1);
        let late = practice("pro", "past_due", None);
        assert!(late.feature("voice_guidance"));
        assert!(late.billing_notice().unwrap().contains("overdue"));
        let off = practice("elite", "suspended", None);
        assert!(!off.feature("voice_guidance") && !off.feature("cast"));
        assert!(off.feature("patient_checkin") && off.feature("tv_display"));
        assert!(off.billing_notice().unwrap().contains("suspended"));
        // An unknown plan fails closed (it used to get every feature).
        let odd = practice("platinum", "active", None);
        assert!(!odd.feature("voice_guidance") && !odd.feature("kids_mode"));
        assert_eq!(odd.max_displays(), 1);
        assert!(odd.billing_notice().unwrap().contains("platinum"));
    }

    #[test]
    fn what_the_cloud_decided_wins_over_the_boxs_own_table() {
        let mut ent = PlanTable::shipped().entitlements("pro", "active");
        ent.limits.max_displays = 7;
        ent.limits.voice_greetings = false;
        let p = practice("pro", "active", Some(ent));
        assert_eq!(p.max_displays(), 7);
        assert!(!p.feature("voice_guidance"));
    }
}
