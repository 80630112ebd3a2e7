//! What leaves the box: every event kind the box sends the cloud, with its
//! payload as a type both sides compile against.
//!
//! This file is also the privacy boundary (`docs/data.md`): an event carries
//! ids, times, counts and how a patient checked in, never a name, a date of
//! birth, an appointment note or audio. A field added here is a field the
//! box sends; review it as such.
//!
//! On the wire an event is still [`crate::wire::Event`] (`kind` + JSON
//! `payload`), so the protocol version does not change: [`BoxEvent::kind`]
//! and [`BoxEvent::payload`] build it, [`BoxEvent::parse`] reads it back.
//! Kinds this build does not know parse to `None`: the cloud stores them
//! without applying them, so a newer box can talk to an older cloud.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const KIND_CHECKIN_ARRIVED: &str = "checkin.arrived";
pub const KIND_CHECKIN_STATUS: &str = "checkin.status";
pub const KIND_CHECKIN_PROCESSED: &str = "billing.checkin_processed";
pub const KIND_GREETING_SPOKEN: &str = "billing.greeting_spoken";
pub const KIND_VOICE_SECONDS: &str = "billing.voice_seconds";
pub const KIND_AUDIT: &str = "audit.entry";

/// Longest id the cloud accepts in a payload.
const MAX_ID_CHARS: usize = 200;

/// How a patient checked in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Qr,
    Voice,
    Desk,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Qr => "qr",
            Method::Voice => "voice",
            Method::Desk => "desk",
        }
    }
}

/// Where a checked-in patient is: in the lobby, called to a room, seen, or
/// marked as not there.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckinStatus {
    Waiting,
    Called,
    Seen,
    NoShow,
}

impl CheckinStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckinStatus::Waiting => "waiting",
            CheckinStatus::Called => "called",
            CheckinStatus::Seen => "seen",
            CheckinStatus::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "waiting" => CheckinStatus::Waiting,
            "called" => CheckinStatus::Called,
            "seen" => CheckinStatus::Seen,
            "no_show" => CheckinStatus::NoShow,
            _ => return None,
        })
    }
}

/// `checkin.arrived`: a patient checked in (by phone, voice or at the desk).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckinArrived {
    pub checkin_id: String,
    /// The appointment matched; none for a walk-in.
    pub appointment_id: Option<String>,
    /// The practice's own patient id; none for a walk-in, whose record
    /// exists only on the box.
    pub patient_id: Option<String>,
    pub walk_in: bool,
    pub method: Method,
    /// `YYYY-MM-DD` in the practice's time zone.
    pub local_date: String,
    /// The lobby ticket number of the day.
    pub ticket: i64,
    /// Unix milliseconds.
    pub arrived_at: i64,
}

/// `checkin.status`: staff called a patient to a room, saw them, or marked
/// a no-show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckinStatusChanged {
    pub checkin_id: String,
    pub status: CheckinStatus,
    /// The room a patient was called to.
    pub room: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// `billing.checkin_processed`: one check-in, counted for the plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckinProcessed {
    pub checkin_id: String,
    pub method: Method,
    pub at: i64,
}

/// `billing.greeting_spoken`: one greeting played on the lobby speakers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GreetingSpoken {
    pub checkin_id: Option<String>,
    pub audio_ms: u64,
    /// Every clause came from the phrase cache (no synthesis).
    pub cached: bool,
    pub at: i64,
}

/// `billing.voice_seconds`: seconds of speech the box transcribed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VoiceSeconds {
    pub seconds: f64,
    pub at: i64,
}

/// `audit.entry`: an entry of the box's own audit log (staff signed in, a
/// TV paired, a patient called), so the owner's audit log has the box's
/// side too. Who (a staff member's name, "patient", "cloud"), what, and the
/// id it was about; the box's detail stays on the box.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub at: i64,
}

/// Every event the box sends.
#[derive(Debug, Clone, PartialEq)]
pub enum BoxEvent {
    CheckinArrived(CheckinArrived),
    CheckinStatus(CheckinStatusChanged),
    CheckinProcessed(CheckinProcessed),
    GreetingSpoken(GreetingSpoken),
    VoiceSeconds(VoiceSeconds),
    Audit(AuditEntry),
}

/// What a billing event counts: the cloud's `billing_events` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage<'a> {
    pub checkin_id: Option<&'a str>,
    pub quantity: f64,
    pub at: i64,
}

impl BoxEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            BoxEvent::CheckinArrived(_) => KIND_CHECKIN_ARRIVED,
            BoxEvent::CheckinStatus(_) => KIND_CHECKIN_STATUS,
            BoxEvent::CheckinProcessed(_) => KIND_CHECKIN_PROCESSED,
            BoxEvent::GreetingSpoken(_) => KIND_GREETING_SPOKEN,
            BoxEvent::VoiceSeconds(_) => KIND_VOICE_SECONDS,
            BoxEvent::Audit(_) => KIND_AUDIT,
        }
    }

    /// The payload as it goes on the wire (a JSON object).
    pub fn payload(&self) -> serde_json::Value {
        let v = match self {
            BoxEvent::CheckinArrived(p) => serde_json::to_value(p),
            BoxEvent::CheckinStatus(p) => serde_json::to_value(p),
            BoxEvent::CheckinProcessed(p) => serde_json::to_value(p),
            BoxEvent::GreetingSpoken(p) => serde_json::to_value(p),
            BoxEvent::VoiceSeconds(p) => serde_json::to_value(p),
            BoxEvent::Audit(p) => serde_json::to_value(p),
        };
        // Plain structs of strings and numbers always serialise; a NaN
        // (the only failure) becomes null rather than a panic.
        v.unwrap_or_default()
    }

    /// Reads an event back from its kind and payload: `Ok(None)` for a kind
    /// this build does not know, an error naming the field for a payload
    /// that does not fit its kind.
    pub fn parse(kind: &str, payload: &serde_json::Value) -> Result<Option<BoxEvent>, String> {
        let event = match kind {
            KIND_CHECKIN_ARRIVED => BoxEvent::CheckinArrived(read(payload)?),
            KIND_CHECKIN_STATUS => BoxEvent::CheckinStatus(read(payload)?),
            KIND_CHECKIN_PROCESSED => BoxEvent::CheckinProcessed(read(payload)?),
            KIND_GREETING_SPOKEN => BoxEvent::GreetingSpoken(read(payload)?),
            KIND_VOICE_SECONDS => BoxEvent::VoiceSeconds(read(payload)?),
            KIND_AUDIT => BoxEvent::Audit(read(payload)?),
            _ => return Ok(None),
        };
        event.check()?;
        Ok(Some(event))
    }

    /// What a billing event counts; `None` for the other kinds.
    pub fn usage(&self) -> Option<Usage<'_>> {
        match self {
            BoxEvent::CheckinProcessed(p) => Some(Usage {
                checkin_id: Some(&p.checkin_id),
                quantity: 1.0,
                at: p.at,
            }),
            BoxEvent::GreetingSpoken(p) => Some(Usage {
                checkin_id: p.checkin_id.as_deref(),
                quantity: 1.0,
                at: p.at,
            }),
            BoxEvent::VoiceSeconds(p) => Some(Usage {
                checkin_id: None,
                quantity: p.seconds,
                at: p.at,
            }),
            BoxEvent::CheckinArrived(_) | BoxEvent::CheckinStatus(_) | BoxEvent::Audit(_) => None,
        }
    }

    /// Rules serde cannot state: ids are present and short, amounts are
    /// real numbers.
    fn check(&self) -> Result<(), String> {
        let ids: &[(&str, Option<&str>)] = match self {
            BoxEvent::CheckinArrived(p) => &[
                ("checkin_id", Some(&p.checkin_id)),
                ("appointment_id", p.appointment_id.as_deref()),
                ("patient_id", p.patient_id.as_deref()),
                ("local_date", Some(&p.local_date)),
            ],
            BoxEvent::CheckinStatus(p) => &[
                ("checkin_id", Some(&p.checkin_id)),
                ("room", p.room.as_deref()),
            ],
            BoxEvent::CheckinProcessed(p) => &[("checkin_id", Some(&p.checkin_id))],
            BoxEvent::GreetingSpoken(p) => &[("checkin_id", p.checkin_id.as_deref())],
            BoxEvent::Audit(p) => &[
                ("actor", Some(&p.actor)),
                ("action", Some(&p.action)),
                ("subject", Some(&p.subject)),
            ],
            BoxEvent::VoiceSeconds(p) => {
                if !p.seconds.is_finite() || p.seconds < 0.0 {
                    return Err("field `seconds` must be a number of seconds, 0 or more".into());
                }
                &[]
            }
        };
        for (field, value) in ids {
            match value {
                Some("") => return Err(format!("field `{field}` is empty")),
                Some(v) if v.chars().count() > MAX_ID_CHARS => {
                    return Err(format!(
                        "field `{field}` is longer than {MAX_ID_CHARS} characters"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn read<T: DeserializeOwned>(payload: &serde_json::Value) -> Result<T, String> {
    T::deserialize(payload).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arrived() -> BoxEvent {
        BoxEvent::CheckinArrived(CheckinArrived {
            checkin_id: "c1".into(),
            appointment_id: Some("a1".into()),
            patient_id: Some("p1".into()),
            walk_in: false,
            method: Method::Voice,
            local_date: "2026-12-06".into(),
            ticket: 14,
            arrived_at: 1_000,
        })
    }

    #[test]
    fn every_kind_reads_back_as_it_was_sent() {
        let events = [
            arrived(),
            BoxEvent::CheckinStatus(CheckinStatusChanged {
                checkin_id: "c1".into(),
                status: CheckinStatus::Called,
                room: Some("Room 2".into()),
                at: 2_000,
            }),
            BoxEvent::CheckinProcessed(CheckinProcessed {
                checkin_id: "c1".into(),
                method: Method::Qr,
                at: 1_000,
            }),
            BoxEvent::GreetingSpoken(GreetingSpoken {
                checkin_id: None,
                audio_ms: 1_800,
                cached: true,
                at: 1_100,
            }),
            BoxEvent::VoiceSeconds(VoiceSeconds {
                seconds: 2.5,
                at: 1_200,
            }),
        ];
        for e in events {
            let back = BoxEvent::parse(e.kind(), &e.payload());
            assert_eq!(back, Ok(Some(e)));
        }
    }

    /// The payload the box has sent since protocol 1 (outbox rows written
    /// by older builds are still on boxes) reads as the typed event.
    #[test]
    fn payloads_of_earlier_builds_still_parse() {
        let p = json!({"checkin_id": "c1", "appointment_id": "a1", "patient_id": "p1",
                       "walk_in": false, "method": "voice", "local_date": "2026-12-06",
                       "ticket": 14, "arrived_at": 1000});
        assert_eq!(
            BoxEvent::parse(KIND_CHECKIN_ARRIVED, &p),
            Ok(Some(arrived()))
        );
        let walk_in = json!({"checkin_id": "c2", "appointment_id": null, "patient_id": null,
                             "walk_in": true, "method": "qr", "local_date": "2026-12-06",
                             "ticket": 15, "arrived_at": 1001});
        assert!(matches!(
            BoxEvent::parse(KIND_CHECKIN_ARRIVED, &walk_in),
            Ok(Some(BoxEvent::CheckinArrived(CheckinArrived {
                walk_in: true,
                ..
            })))
        ));
    }

    #[test]
    fn a_payload_that_does_not_fit_its_kind_names_the_field() {
        let no_id = json!({"status": "called", "room": null, "at": 1});
        let e = BoxEvent::parse(KIND_CHECKIN_STATUS, &no_id).unwrap_err();
        assert!(e.contains("checkin_id"), "{e}");
        let bad_status = json!({"checkin_id": "c1", "status": "gone", "at": 1});
        let e = BoxEvent::parse(KIND_CHECKIN_STATUS, &bad_status).unwrap_err();
        assert!(e.contains("gone"), "{e}");
        let empty = json!({"checkin_id": "", "method": "qr", "at": 1});
        let e = BoxEvent::parse(KIND_CHECKIN_PROCESSED, &empty).unwrap_err();
        assert!(e.contains("checkin_id"), "{e}");
        let long = json!({"checkin_id": "x".repeat(201), "method": "qr", "at": 1});
        assert!(BoxEvent::parse(KIND_CHECKIN_PROCESSED, &long).is_err());
        let negative = json!({"seconds": -1.0, "at": 1});
        assert!(BoxEvent::parse(KIND_VOICE_SECONDS, &negative).is_err());
    }

    /// The privacy boundary: a name or a date of birth slipped into a
    /// payload is refused, not carried along.
    #[test]
    fn a_payload_carrying_more_than_its_type_is_refused() {
        let mut p = arrived().payload();
        p["first_name"] = json!("Sarah");
        let e = BoxEvent::parse(KIND_CHECKIN_ARRIVED, &p).unwrap_err();
        assert!(e.contains("first_name"), "{e}");
    }

    #[test]
    fn unknown_kinds_are_left_to_newer_builds() {
        assert_eq!(
            BoxEvent::parse("display.paired", &json!({"anything": 1})),
            Ok(None)
        );
    }

    #[test]
    fn billing_events_say_what_they_count() {
        let voice = BoxEvent::VoiceSeconds(VoiceSeconds {
            seconds: 3.25,
            at: 7,
        });
        assert_eq!(
            voice.usage(),
            Some(Usage {
                checkin_id: None,
                quantity: 3.25,
                at: 7
            })
        );
        assert_eq!(arrived().usage(), None);
    }
}
