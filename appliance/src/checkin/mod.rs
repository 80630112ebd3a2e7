//! Where a check-in enters the box, by QR (the patient's phone), by voice
//! or by hand at the desk, and the cascade it starts: check-in row, audit
//! entry, outbox event and billing event in one durable transaction, then
//! every TV, the front desk and the patient's status page are told.

pub mod http;
pub mod identity;
pub mod link;
pub mod matching;

use std::collections::BTreeMap;

use cloud_sync::events::{BoxEvent, CheckinArrived, CheckinProcessed, CheckinStatusChanged};
use serde_json::json;

use crate::core::Core;
use crate::display::hub::QueueEntry;
use crate::practice::{Practice, fill};
use crate::secrets::{random_token, token_hash};
use crate::store::{
    self, CheckinRow, CheckinStatus, Method, NewCheckin, PatientRow, StoreError, now_ms,
};
use identity::IdentityError;

#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    #[error("{0}")]
    Invalid(#[from] IdentityError),
    #[error("Check-in is switched off for this practice. Please see the front desk.")]
    Disabled,
    #[error("No such check-in.")]
    UnknownCheckin,
    #[error("No such appointment today.")]
    UnknownAppointment,
    #[error("Please choose a room.")]
    RoomRequired,
    #[error("\"{0}\" is not one of this practice's rooms.")]
    UnknownRoom(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a person typed to check in.
#[derive(Debug, Clone)]
pub struct PatientDetails {
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    /// They said they have no appointment and the practice takes walk-ins.
    pub walk_in: bool,
}

#[derive(Debug)]
pub enum Outcome {
    CheckedIn {
        checkin: CheckinRow,
        /// The bearer token for the patient's live status page.
        status_token: String,
        walk_in: bool,
    },
    AlreadyCheckedIn {
        checkin: CheckinRow,
    },
    /// No appointment fits. `walk_in_offered` when the practice takes
    /// walk-ins and the person may check in without one.
    NoMatch {
        walk_in_offered: bool,
    },
    /// More than one appointment fits: never guess, send them to the desk.
    SeeDesk,
}

/// Who did it, for the audit log.
pub fn actor_for(method: Method, staff_id: Option<&str>) -> String {
    match (method, staff_id) {
        (_, Some(id)) => format!("staff:{id}"),
        (Method::Qr, None) => "patient:qr".into(),
        (Method::Voice, None) => "patient:voice".into(),
        (Method::Desk, None) => "staff".into(),
    }
}

/// Check-in from a patient's own details (phone form, voice, or staff typing
/// them in).
pub async fn by_patient(
    core: &Core,
    details: PatientDetails,
    method: Method,
    actor: String,
) -> Result<Outcome, CheckinError> {
    let practice = core.practice();
    if !practice.feature("patient_checkin") {
        return Err(CheckinError::Disabled);
    }
    let first = identity::tidy_name("first name", &details.first_name)?;
    let last = identity::tidy_name("last name", &details.last_name)?;
    let dob = identity::parse_dob(&details.date_of_birth)?;
    let tenant = practice.tenant_id().to_string();
    let dob_hash = identity::dob_hash(&core.key, &tenant, dob);
    let key = identity::name_key(&first, &last);
    let today = practice.today();

    let (t, d) = (tenant.clone(), today.clone());
    let schedule = core
        .store
        .read(move |c| store::schedule_for_day(c, &t, &d))
        .await?;

    let (appointment_id, patient_id, walk_in) = match matching::find(&schedule, &key, &dob_hash) {
        matching::Match::One(entry) => (
            Some(entry.appointment_id.clone()),
            entry.patient_id.clone(),
            false,
        ),
        matching::Match::Ambiguous => return Ok(Outcome::SeeDesk),
        matching::Match::None => {
            let walk_in_offered = practice.config.settings.allow_walk_ins;
            if !(details.walk_in && walk_in_offered) {
                return Ok(Outcome::NoMatch { walk_in_offered });
            }
            let (t, k, h) = (tenant.clone(), key.clone(), dob_hash.clone());
            let known = core
                .store
                .read(move |c| store::find_patient(c, &t, &k, &h))
                .await?;
            let id = known.unwrap_or_else(|| format!("walkin-{}", uuid::Uuid::now_v7()));
            (None, id, true)
        }
    };

    let patient = walk_in.then(|| PatientRow {
        patient_id: patient_id.clone(),
        first_name: first,
        last_name: last,
        name_key: key,
        dob_hash,
    });
    commit(
        core,
        &practice,
        NewArrival {
            appointment_id,
            patient_id,
            walk_in_patient: patient,
            method,
            actor,
            local_date: today,
        },
    )
    .await
}

/// Check-in of a known appointment: staff picking it from today's schedule
/// (method = desk), or a spoken name matched to it (method = voice).
pub async fn by_appointment(
    core: &Core,
    appointment_id: &str,
    method: Method,
    actor: String,
) -> Result<Outcome, CheckinError> {
    let practice = core.practice();
    let tenant = practice.tenant_id().to_string();
    let today = practice.today();
    let (t, d) = (tenant.clone(), today.clone());
    let schedule = core
        .store
        .read(move |c| store::schedule_for_day(c, &t, &d))
        .await?;
    let entry = schedule
        .iter()
        .find(|e| e.appointment_id == appointment_id)
        .ok_or(CheckinError::UnknownAppointment)?;
    commit(
        core,
        &practice,
        NewArrival {
            appointment_id: Some(entry.appointment_id.clone()),
            patient_id: entry.patient_id.clone(),
            walk_in_patient: None,
            method,
            actor,
            local_date: today,
        },
    )
    .await
}

struct NewArrival {
    appointment_id: Option<String>,
    patient_id: String,
    walk_in_patient: Option<PatientRow>,
    method: Method,
    actor: String,
    local_date: String,
}

enum Committed {
    New(CheckinRow),
    Existing(CheckinRow),
}

async fn commit(core: &Core, practice: &Practice, a: NewArrival) -> Result<Outcome, CheckinError> {
    let tenant = practice.tenant_id().to_string();
    let status_token = random_token();
    let token_h = token_hash(&status_token);
    let walk_in = a.walk_in_patient.is_some();
    let method = a.method;

    let committed = core
        .store
        .write(move |txn| {
            // The unique (patient, day) index makes this race-free; checking
            // first just lets us answer "already checked in" politely.
            if let Some(existing) =
                store::checkin_for_patient_on(txn, &tenant, &a.patient_id, &a.local_date)?
            {
                return Ok(Committed::Existing(existing));
            }
            if let Some(p) = &a.walk_in_patient {
                store::upsert_patient(txn, &tenant, p)?;
            }
            let checkin_id = uuid::Uuid::now_v7().to_string();
            let arrived_at = now_ms();
            let ticket = store::insert_checkin(
                txn,
                &tenant,
                &NewCheckin {
                    checkin_id: &checkin_id,
                    appointment_id: a.appointment_id.as_deref(),
                    patient_id: &a.patient_id,
                    local_date: &a.local_date,
                    method: a.method,
                    arrived_at,
                    status_token_hash: &token_h,
                },
            )?;
            store::append_audit(
                txn,
                &tenant,
                &a.actor,
                "checkin.arrived",
                &checkin_id,
                &json!({"method": a.method.as_str(), "walk_in": a.walk_in_patient.is_some()}),
            )?;
            // What leaves the box: ids and times, no names or dates of birth
            // (cloud_sync::events, docs/data.md). A walk-in's patient id is
            // the box's own and stays here.
            store::enqueue_event(
                txn,
                &tenant,
                &BoxEvent::CheckinArrived(CheckinArrived {
                    checkin_id: checkin_id.clone(),
                    appointment_id: a.appointment_id.clone(),
                    patient_id: (!walk_in).then(|| a.patient_id.clone()),
                    walk_in,
                    method: a.method,
                    local_date: a.local_date.clone(),
                    ticket,
                    arrived_at,
                }),
            )?;
            store::enqueue_event(
                txn,
                &tenant,
                &BoxEvent::CheckinProcessed(CheckinProcessed {
                    checkin_id: checkin_id.clone(),
                    method: a.method,
                    at: arrived_at,
                }),
            )?;
            let row = store::get_checkin(txn, &tenant, &checkin_id)?
                .ok_or_else(|| StoreError::NotFound(checkin_id.clone()))?;
            Ok(Committed::New(row))
        })
        .await?;

    match committed {
        Committed::Existing(checkin) => Ok(Outcome::AlreadyCheckedIn { checkin }),
        Committed::New(checkin) => {
            core.metrics.checkin(method);
            announce_arrival(core, practice, &checkin, walk_in);
            Ok(Outcome::CheckedIn {
                checkin,
                status_token,
                walk_in,
            })
        }
    }
}

fn announce_arrival(core: &Core, practice: &Practice, c: &CheckinRow, walk_in: bool) {
    let welcome = format!(
        "Welcome, {}!",
        practice.lobby_name(&c.first_name, &c.last_name, c.ticket)
    );
    let mut values = practice.values();
    values.insert(
        "first_name",
        practice.greeting_name(&c.first_name, &c.last_name, c.ticket),
    );
    values.insert(
        "provider",
        practice.provider_phrase(c.provider_name.as_deref()),
    );
    let template = if walk_in {
        &practice.vertical.templates.welcome_walk_in
    } else {
        &practice.vertical.templates.welcome
    };
    let greeting = fill(template, &values);
    core.hub
        .arrived(QueueEntry::of(practice, c), welcome, greeting);
}

/// The words for a call: "Sarah J., please come to Room 2."
pub fn call_announcement(practice: &Practice, c: &CheckinRow, room: &str) -> String {
    let mut values: BTreeMap<&str, String> = practice.values();
    values.insert(
        "display_name",
        practice.lobby_name(&c.first_name, &c.last_name, c.ticket),
    );
    values.insert("room", room.to_string());
    fill(&practice.vertical.templates.call, &values)
}

/// Staff move a check-in along: call to a room, seen, no-show, back to waiting.
pub async fn set_status(
    core: &Core,
    checkin_id: &str,
    status: CheckinStatus,
    room: Option<String>,
    actor: String,
) -> Result<CheckinRow, CheckinError> {
    let practice = core.practice();
    let room = room.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if status == CheckinStatus::Called {
        let Some(r) = &room else {
            return Err(CheckinError::RoomRequired);
        };
        if !practice
            .config
            .settings
            .rooms
            .iter()
            .any(|known| known == r)
        {
            return Err(CheckinError::UnknownRoom(r.clone()));
        }
    }
    let tenant = practice.tenant_id().to_string();
    let id = checkin_id.to_string();
    let room_w = room.clone();
    let row = core
        .store
        .write(move |txn| {
            let at = now_ms();
            if !store::set_checkin_status(txn, &tenant, &id, status, room_w.as_deref(), at)? {
                return Ok(None);
            }
            store::append_audit(
                txn,
                &tenant,
                &actor,
                &format!("checkin.{}", status.as_str()),
                &id,
                &json!({"room": room_w}),
            )?;
            store::enqueue_event(
                txn,
                &tenant,
                &BoxEvent::CheckinStatus(CheckinStatusChanged {
                    checkin_id: id.clone(),
                    status,
                    room: room_w.clone(),
                    at,
                }),
            )?;
            store::get_checkin(txn, &tenant, &id)
        })
        .await?
        .ok_or(CheckinError::UnknownCheckin)?;

    let announcement = match (&row.room, status) {
        (Some(r), CheckinStatus::Called) => Some(call_announcement(&practice, &row, r)),
        _ => None,
    };
    core.hub
        .status_changed(QueueEntry::of(&practice, &row), announcement);
    Ok(row)
}
