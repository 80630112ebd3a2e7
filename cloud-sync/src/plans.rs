//! What a clinic may use now: its plan (starter, pro, elite, as data in
//! `assets/plans.toml`) and its billing status (trialing, active,
//! past_due, suspended, cancelled) turned into [`Entitlements`]. The cloud
//! computes them and sends them in the signed config; the box obeys them
//! (and computes them from the same file when it has no cloud).
//!
//! One rule per status: trialing and active get the plan; past_due keeps
//! the plan for its grace period, with a notice for the front desk;
//! suspended and cancelled keep the lobby on one TV and turn the paid
//! features off. An unknown plan or status fails closed the same way.
//! Check-in by QR and the box's record are never gated.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const SHIPPED: &str = include_str!("../../assets/plans.toml");

/// What one plan includes. Every field is required, so a misspelt key in
/// the file is refused; unknown extra keys are ignored, so a box keeps
/// reading the entitlements of a newer cloud that has more.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanLimits {
    pub label: String,
    pub max_displays: u32,
    pub max_boxes: u32,
    pub staff_seats: u32,
    pub retention_days: u32,
    pub voice_greetings: bool,
    pub voice_checkin: bool,
    pub kids_mode: bool,
    pub cast: bool,
    pub included_checkins: u64,
    pub included_voice_minutes: u64,
}

/// Why the front desk should hear about billing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    PastDue,
    Suspended,
    Cancelled,
    /// The box was given a plan or status it does not know.
    Unknown,
}

/// A paid feature a box may have to turn off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    VoiceGreetings,
    VoiceCheckin,
    KidsMode,
    Cast,
}

/// What a clinic may use now, as its boxes receive it: the plan's limits,
/// changed by the status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entitlements {
    pub plan: String,
    pub status: String,
    #[serde(flatten)]
    pub limits: PlanLimits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
}

impl Entitlements {
    pub fn allows(&self, feature: Feature) -> bool {
        let l = &self.limits;
        match feature {
            Feature::VoiceGreetings => l.voice_greetings,
            Feature::VoiceCheckin => l.voice_checkin,
            Feature::KidsMode => l.kids_mode,
            Feature::Cast => l.cast,
        }
    }

    /// The least a clinic gets: check-in and one lobby TV, the paid
    /// features off.
    fn closed(plan: &str, status: &str, base: Option<&PlanLimits>, notice: Notice) -> Entitlements {
        let limits = match base {
            Some(b) => PlanLimits {
                max_displays: b.max_displays.min(1),
                voice_greetings: false,
                voice_checkin: false,
                kids_mode: false,
                cast: false,
                included_voice_minutes: 0,
                ..b.clone()
            },
            None => PlanLimits {
                label: "Unknown plan".into(),
                max_displays: 1,
                max_boxes: 1,
                staff_seats: 1,
                retention_days: 90,
                voice_greetings: false,
                voice_checkin: false,
                kids_mode: false,
                cast: false,
                included_checkins: 0,
                included_voice_minutes: 0,
            },
        };
        Entitlements {
            plan: plan.to_string(),
            status: status.to_string(),
            limits,
            notice: Some(notice),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("assets/plans.toml is invalid: {0}")]
pub struct PlansError(String);

/// Every plan, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTable(BTreeMap<String, PlanLimits>);

impl PlanTable {
    pub fn parse(text: &str) -> Result<PlanTable, PlansError> {
        let plans: BTreeMap<String, PlanLimits> =
            toml::from_str(text).map_err(|e| PlansError(e.to_string()))?;
        if plans.is_empty() {
            return Err(PlansError("no plans".into()));
        }
        Ok(PlanTable(plans))
    }

    /// The plans shipped in `assets/plans.toml` (checked by a test, so a
    /// broken file never ships; if it ever failed, every plan is unknown
    /// and fails closed).
    pub fn shipped() -> &'static PlanTable {
        static TABLE: OnceLock<PlanTable> = OnceLock::new();
        TABLE.get_or_init(|| PlanTable::parse(SHIPPED).unwrap_or(PlanTable(BTreeMap::new())))
    }

    pub fn get(&self, plan: &str) -> Option<&PlanLimits> {
        self.0.get(plan)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// What a tenant on `plan` in `status` may use now.
    pub fn entitlements(&self, plan: &str, status: &str) -> Entitlements {
        let Some(limits) = self.get(plan) else {
            return Entitlements::closed(plan, status, None, Notice::Unknown);
        };
        let notice = match status {
            "trialing" | "active" => None,
            "past_due" => Some(Notice::PastDue),
            "suspended" => {
                return Entitlements::closed(plan, status, Some(limits), Notice::Suspended);
            }
            "cancelled" => {
                return Entitlements::closed(plan, status, Some(limits), Notice::Cancelled);
            }
            _ => return Entitlements::closed(plan, status, Some(limits), Notice::Unknown),
        };
        Entitlements {
            plan: plan.to_string(),
            status: status.to_string(),
            limits: limits.clone(),
            notice,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_plans_parse_and_grow_from_starter_to_elite() {
        let table = PlanTable::parse(SHIPPED).expect("assets/plans.toml");
        assert_eq!(table.ids().collect::<Vec<_>>(), ["elite", "pro", "starter"]);
        let [s, p, e] = ["starter", "pro", "elite"].map(|id| table.get(id).unwrap().clone());
        assert!(s.max_displays < p.max_displays && p.max_displays < e.max_displays);
        assert!(!s.voice_greetings && p.voice_greetings && e.voice_greetings);
    }

    #[test]
    fn status_decides_what_the_plan_gives() {
        let t = PlanTable::shipped();
        let active = t.entitlements("pro", "active");
        assert!(active.allows(Feature::VoiceGreetings) && active.limits.max_displays == 3);
        assert_eq!(active.notice, None);
        let trial = t.entitlements("pro", "trialing");
        assert_eq!(trial.limits.max_displays, 3);
        // Grace: everything still on, and the desk is told.
        let late = t.entitlements("pro", "past_due");
        assert!(late.allows(Feature::VoiceGreetings) && late.limits.max_displays == 3);
        assert_eq!(late.notice, Some(Notice::PastDue));
        for (status, notice) in [
            ("suspended", Notice::Suspended),
            ("cancelled", Notice::Cancelled),
        ] {
            let off = t.entitlements("elite", status);
            assert_eq!(off.limits.max_displays, 1, "{status}");
            assert!(!off.allows(Feature::VoiceGreetings) && !off.allows(Feature::Cast));
            assert_eq!(off.notice, Some(notice));
        }
        // Unknown plan or status: closed, never everything.
        for (plan, status) in [("platinum", "active"), ("pro", "frozen")] {
            let e = t.entitlements(plan, status);
            assert_eq!(e.limits.max_displays, 1);
            assert!(!e.allows(Feature::VoiceCheckin) && !e.allows(Feature::KidsMode));
            assert_eq!(e.notice, Some(Notice::Unknown));
        }
    }

    #[test]
    fn entitlements_travel_flat_and_a_newer_clouds_extra_fields_are_kept_readable() {
        let e = PlanTable::shipped().entitlements("pro", "past_due");
        let mut json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["max_displays"], 3);
        assert_eq!(json["notice"], "past_due");
        json["a_limit_from_the_future"] = serde_json::json!(9);
        let back: Entitlements = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_plan_file_with_a_typo_is_refused() {
        let text = SHIPPED.replace("max_displays", "max_display");
        assert!(PlanTable::parse(&text).is_err());
    }
}
