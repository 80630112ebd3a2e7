//! Messages on the wire (JSON over HTTP).
//!
//! Every request carries the header [`HEADER_PROTOCOL`] with
//! [`PROTOCOL_VERSION`]; the cloud refuses versions it does not speak with
//! `426 Upgrade Required` and an [`ErrorBody`] naming the versions it accepts.

use serde::{Deserialize, Serialize};

use crate::events::BoxEvent;

/// Version of this protocol. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

pub const HEADER_PROTOCOL: &str = "sos-protocol";
pub const HEADER_DEVICE: &str = "sos-device";
pub const HEADER_TIMESTAMP: &str = "sos-timestamp";
pub const HEADER_NONCE: &str = "sos-nonce";
pub const HEADER_SIGNATURE: &str = "sos-signature";

pub const PATH_ENROLL: &str = "/v1/enroll";
pub const PATH_CONFIG: &str = "/v1/config";
pub const PATH_EVENTS: &str = "/v1/events";
pub const PATH_REPORT: &str = "/v1/report";
pub const PATH_CERTIFICATE: &str = "/v1/certificate";

/// Most events in one `POST /v1/events`.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;
/// Largest request body the cloud accepts (bytes).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Longest a config long-poll is held (seconds).
pub const MAX_WAIT_SECS: u64 = 25;

/// `POST /v1/enroll`: a one-time provisioning token for a device credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnrollRequest {
    pub token: String,
    /// The device's Ed25519 public key, base64 (standard, padded).
    pub public_key: String,
    /// Free text shown to the owner ("front desk box").
    #[serde(default)]
    pub device_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnrollResponse {
    pub protocol: u32,
    pub device_id: String,
    pub tenant_id: String,
}

/// The practice as the cloud holds it. `branding` and `settings` are JSON
/// objects the box interprets (unknown fields are ignored, missing ones
/// take defaults), so either side can add fields without a version bump.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantConfig {
    pub tenant_id: String,
    pub name: String,
    pub vertical: String,
    pub agent_name: String,
    pub agent_voice: String,
    pub plan: String,
    pub status: String,
    pub branding: serde_json::Value,
    pub settings: serde_json::Value,
    /// What the plan in this status allows, as the cloud decided it. An
    /// older cloud sends none: the box then works it out from `plan` and
    /// `status` with the plans it ships with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlements: Option<crate::plans::Entitlements>,
}

/// One appointment of today or the coming days.
///
/// `date_of_birth` is sent so the box can match a patient who types it; the
/// box hashes it with its own key on arrival and never stores it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Appointment {
    pub appointment_id: String,
    pub patient_id: String,
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub provider_id: String,
    pub provider_name: String,
    /// `YYYY-MM-DD` in the practice's time zone.
    pub local_date: String,
    /// Unix milliseconds.
    pub starts_at: i64,
    pub kind: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub cancelled: bool,
}

/// Answer to `GET /v1/config?since=V[&wait=S]`.
///
/// When the cloud's version is newer than `since`, `changed` is true and the
/// whole config (practice + today's and upcoming appointments) is sent; the
/// box replaces what it has. Otherwise the call waits up to `wait` seconds
/// for a change and then answers `changed: false`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigResponse {
    pub protocol: u32,
    pub changed: bool,
    pub config_version: i64,
    #[serde(default)]
    pub tenant: Option<TenantConfig>,
    #[serde(default)]
    pub appointments: Vec<Appointment>,
    /// Front-desk staff and their PIN/password hashes (argon2id PHC
    /// strings; the PIN itself never leaves the cloud).
    #[serde(default)]
    pub staff: Vec<Staff>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Staff {
    pub staff_id: String,
    pub name: String,
    pub secret_hash: String,
}

/// One outbox event. `kind` and `payload` are a [`BoxEvent`] for the kinds
/// this build knows ([`crate::events`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// UUID, unique per tenant; the idempotency key.
    pub event_id: String,
    /// The box's outbox sequence number (increasing per box).
    pub seq: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Unix milliseconds, box clock.
    pub created_at: i64,
}

/// `POST /v1/events`: events in outbox order (strictly increasing `seq`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventsRequest {
    pub events: Vec<Event>,
}

/// Every event id of the batch is acknowledged (new or already known);
/// `applied` counts the ones seen for the first time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventsResponse {
    pub protocol: u32,
    pub acked: Vec<String>,
    pub applied: usize,
    pub duplicates: usize,
}

/// `POST /v1/report`: how the box is, as the owner's boxes page shows it.
/// Sent at start and then every minute; the cloud keeps the latest. Holds
/// no patient data: counts, TV names, device states.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BoxReport {
    /// The box's software version (`sos-appliance --version`).
    pub software_version: String,
    /// Outbox events not yet acknowledged by the cloud.
    pub events_waiting: i64,
    /// Paired lobby TVs (not revoked).
    pub tvs: Vec<TvReport>,
    /// The lobby speaker (voice out).
    pub speaker: PartReport,
    /// The microphone (voice in).
    pub microphone: PartReport,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TvReport {
    pub name: String,
    /// Connected and heard from lately.
    pub online: bool,
    /// Unix ms the box last heard from it.
    pub last_seen_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PartReport {
    /// "ready", "off", "loading", "listening", "no_device", "error".
    pub state: String,
    /// Plain words when not ready ("no speaker found"), or the device.
    pub detail: Option<String>,
}

pub const MAX_REPORTED_TVS: usize = 64;
const MAX_REPORT_TEXT: usize = 200;

impl BoxReport {
    /// What the cloud stores is bounded: a report out of shape is refused
    /// with the field named.
    pub fn validate(&self) -> Result<(), String> {
        let long = |s: &str| s.chars().count() > MAX_REPORT_TEXT;
        if self.software_version.trim().is_empty() || long(&self.software_version) {
            return Err("software_version: 1 to 200 characters".into());
        }
        if self.events_waiting < 0 {
            return Err("events_waiting: not negative".into());
        }
        if self.tvs.len() > MAX_REPORTED_TVS {
            return Err(format!("tvs: at most {MAX_REPORTED_TVS}"));
        }
        if self.tvs.iter().any(|t| long(&t.name)) {
            return Err("tvs: a name has at most 200 characters".into());
        }
        for (field, part) in [("speaker", &self.speaker), ("microphone", &self.microphone)] {
            if part.state.is_empty() || part.state.len() > 20 {
                return Err(format!("{field}.state: 1 to 20 characters"));
            }
            if part.detail.as_deref().is_some_and(long) {
                return Err(format!("{field}.detail: at most 200 characters"));
            }
        }
        Ok(())
    }
}

/// Answer to `POST /v1/report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportResponse {
    pub protocol: u32,
}

/// `POST /v1/certificate`: the box asks for a publicly trusted certificate
/// for its own name ([`CertificateResponse::name`]), so phones on the
/// clinic Wi-Fi reach it over HTTPS. The box keeps its private key; the
/// cloud answers the ACME DNS-01 challenge for it (the box never holds DNS
/// credentials) and points the name at the box's LAN address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertificateRequest {
    /// A PKCS#10 request (PEM) for exactly the box's name.
    pub csr_pem: String,
    /// The box's addresses on the clinic's network (private IPv4 or IPv6
    /// unique-local), which its name is to resolve to.
    pub addresses: Vec<std::net::IpAddr>,
}

/// Answer to `GET` and `POST /v1/certificate`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertificateResponse {
    pub protocol: u32,
    /// The box's own name (`<device>.<tenant>.<edge domain>`).
    pub name: String,
    /// The latest certificate issued for it; `None` before the first.
    pub certificate: Option<IssuedCertificate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IssuedCertificate {
    /// The chain, leaf first (PEM).
    pub chain_pem: String,
    /// Validity, Unix milliseconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// Body of every 4xx/5xx answer: a stable machine code and plain words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// Stable error codes in [`ErrorBody::error`].
pub mod codes {
    pub const BAD_REQUEST: &str = "bad_request";
    pub const UNSUPPORTED_PROTOCOL: &str = "unsupported_protocol";
    pub const TOO_LARGE: &str = "too_large";
    pub const TOKEN_INVALID: &str = "token_invalid";
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const BAD_SIGNATURE: &str = "bad_signature";
    pub const CLOCK_SKEW: &str = "clock_skew";
    pub const REPLAYED: &str = "replayed";
    pub const DEVICE_REVOKED: &str = "device_revoked";
    pub const FORBIDDEN: &str = "forbidden";
    pub const CONFLICT: &str = "conflict";
    pub const INTERNAL: &str = "internal";
    /// This cloud does not issue box certificates.
    pub const NOT_ISSUED: &str = "not_issued";
}

/// Checks a batch before anything is written: size, ids, order, and each
/// payload against its kind. Returns the events read as [`BoxEvent`]s, in
/// batch order (`None` for kinds this build does not know).
pub fn validate_batch(events: &[Event]) -> Result<Vec<Option<BoxEvent>>, String> {
    if events.is_empty() {
        return Err("the batch is empty".into());
    }
    if events.len() > MAX_EVENTS_PER_BATCH {
        return Err(format!(
            "the batch has {} events; at most {MAX_EVENTS_PER_BATCH} are accepted",
            events.len()
        ));
    }
    let mut last_seq = i64::MIN;
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    let mut parsed = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        if !is_uuid(&e.event_id) {
            return Err(format!("event {i}: event_id is not a UUID"));
        }
        if !seen.insert(e.event_id.as_str()) {
            return Err(format!("event {i}: event_id repeated within the batch"));
        }
        if e.seq <= last_seq || e.seq < 0 {
            return Err(format!(
                "event {i}: seq must be positive and strictly increasing within a batch"
            ));
        }
        last_seq = e.seq;
        if e.kind.is_empty() || e.kind.len() > 64 {
            return Err(format!("event {i}: kind must be 1 to 64 characters"));
        }
        if !e.payload.is_object() {
            return Err(format!("event {i}: payload must be a JSON object"));
        }
        let event = BoxEvent::parse(&e.kind, &e.payload)
            .map_err(|m| format!("event {i} ({}): the payload does not fit: {m}", e.kind))?;
        parsed.push(event);
    }
    Ok(parsed)
}

/// Canonical hyphenated UUID text (any version).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, seq: i64) -> Event {
        Event {
            event_id: id.into(),
            seq,
            kind: crate::events::KIND_CHECKIN_PROCESSED.into(),
            payload: serde_json::json!({"checkin_id": "c1", "method": "qr", "at": 1}),
            created_at: 1,
        }
    }

    const A: &str = "0190f5a2-0000-7000-8000-000000000001";
    const B: &str = "0190f5a2-0000-7000-8000-000000000002";

    #[test]
    fn batch_rules() {
        assert!(validate_batch(&[ev(A, 1), ev(B, 2)]).is_ok());
        assert!(validate_batch(&[]).is_err());
        assert!(validate_batch(&[ev(A, 2), ev(B, 1)]).is_err());
        assert!(validate_batch(&[ev(A, 1), ev(A, 2)]).is_err());
        assert!(validate_batch(&[ev("nope", 1)]).is_err());
        let mut bad = ev(B, 2);
        bad.payload = serde_json::json!({"method": "qr", "at": 1});
        let e = validate_batch(&[ev(A, 1), bad]).unwrap_err();
        assert!(e.starts_with("event 1 (billing.checkin_processed)"), "{e}");
        assert!(e.contains("checkin_id"), "{e}");
        let mut unknown = ev(B, 2);
        unknown.kind = "display.paired".into();
        let parsed = validate_batch(&[ev(A, 1), unknown]).unwrap();
        assert!(parsed[0].is_some() && parsed[1].is_none());
        let many: Vec<Event> = (0..=MAX_EVENTS_PER_BATCH as i64)
            .map(|i| ev(&format!("0190f5a2-0000-7000-8000-{i:012}"), i + 1))
            .collect();
        assert!(validate_batch(&many).is_err());
        assert!(validate_batch(&many[..MAX_EVENTS_PER_BATCH]).is_ok());
    }
}
