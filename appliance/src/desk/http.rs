//! Where the front desk's requests enter: its page, sign-in, the live
//! queue's WebSocket, and the API behind the page's buttons.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::auth::{self, StaffApi, StaffPage};
use crate::checkin::{self, Outcome, PatientDetails};
use crate::clinic::Clinic;
use crate::display;
use crate::metrics::ClientKind;
use crate::store::{self, CheckinStatus, Method, now_ms};
use crate::web::error::WebError;
use crate::web::{JsonBody, WebResult, templates};

pub fn routes() -> Router<Arc<Clinic>> {
    Router::new()
        .route("/desk", get(page))
        .route("/desk/login", get(auth::login_form).post(auth::login))
        .route("/desk/logout", post(auth::logout))
        .route("/desk/pair", get(pair_page))
        .route("/desk/ws", get(ws))
        .route("/desk/api/today", get(today))
        .route("/desk/api/audit", get(audit))
        .route("/desk/api/checkins", post(check_in))
        .route("/desk/api/checkins/{id}/{action}", post(change_status))
        .route("/desk/api/displays/pair", post(pair_display))
        .route("/desk/api/displays/{id}/revoke", post(revoke_display))
}

pub async fn page(staff: StaffPage, State(clinic): State<Arc<Clinic>>) -> WebResult<Html<String>> {
    let practice = clinic.practice();
    let body = templates::render(
        "desk.html",
        minijinja::context! {
            practice_name => practice.config.name,
            staff_name => staff.name,
            csrf => staff.csrf,
            terms => practice.vertical.terms,
            rooms => practice.config.settings.rooms,
            walk_ins => practice.config.settings.allow_walk_ins,
            billing_notice => practice.billing_notice(),
        },
    )
    .map_err(|_| WebError::internal())?;
    Ok(Html(body))
}

#[derive(Serialize)]
struct ScheduleLine {
    appointment_id: String,
    time: String,
    name: String,
    provider: String,
    kind: String,
    checkin_id: Option<String>,
    checkin_status: Option<String>,
}

#[derive(Serialize)]
struct QueueLine {
    checkin_id: String,
    name: String,
    lobby_name: String,
    status: CheckinStatus,
    room: Option<String>,
    method: String,
    arrived: String,
    arrived_at: i64,
    wait_minutes: i64,
    walk_in: bool,
    /// The provider brief: who, what appointment, notes.
    brief: Brief,
}

#[derive(Serialize)]
struct Brief {
    appointment: Option<String>,
    provider: Option<String>,
    booked_for: Option<String>,
    notes: Option<String>,
}

/// Everything the desk page shows, in one call.
pub async fn today(_staff: StaffApi, State(clinic): State<Arc<Clinic>>) -> WebResult<Response> {
    let practice = clinic.practice();
    let store::Day { schedule, checkins } =
        clinic.today().await.map_err(|e| WebError::from(e).json())?;
    let displays = display::statuses(&clinic, &clinic.pairings)
        .await
        .map_err(|e| WebError::from(e).json())?;
    let now = now_ms();
    let schedule: Vec<ScheduleLine> = schedule
        .into_iter()
        .map(|e| ScheduleLine {
            time: practice.clock(e.starts_at),
            name: format!("{} {}", e.first_name, e.last_name),
            appointment_id: e.appointment_id,
            provider: e.provider_name,
            kind: e.kind,
            checkin_id: e.checkin_id,
            checkin_status: e.checkin_status,
        })
        .collect();
    let queue: Vec<QueueLine> = checkins
        .into_iter()
        .map(|c| QueueLine {
            lobby_name: practice.lobby_name(&c.first_name, &c.last_name, c.ticket),
            name: format!("{} {}", c.first_name, c.last_name),
            status: c.status,
            room: c.room.clone(),
            method: c.method.clone(),
            arrived: practice.clock(c.arrived_at),
            arrived_at: c.arrived_at,
            wait_minutes: (c.called_at.unwrap_or(now) - c.arrived_at).max(0) / 60_000,
            walk_in: c.appointment_id.is_none(),
            brief: Brief {
                appointment: c.appointment_kind.clone(),
                provider: c.provider_name.clone(),
                booked_for: c.starts_at.map(|t| practice.clock(t)),
                notes: c.appointment_notes.clone().filter(|n| !n.is_empty()),
            },
            checkin_id: c.checkin_id,
        })
        .collect();
    Ok(Json(json!({
        "practice": {
            "name": practice.config.name,
            "terms": practice.vertical.terms,
            "rooms": practice.config.settings.rooms,
            "walk_ins": practice.config.settings.allow_walk_ins,
            "max_displays": practice.max_displays(),
        },
        "date": practice.today(),
        "billing_notice": practice.billing_notice(),
        "voice": voice_status(&clinic, &practice),
        "listen": clinic.listen_status(),
        "schedule": schedule,
        "queue": queue,
        "displays": displays,
        "sync": crate::sync::status(&clinic).await,
        "https": clinic.https_status(),
    }))
    .into_response())
}

/// The voice's state, and "off" with the reason when the plan does not
/// include it now (the voice stays loaded, so it comes back the moment the
/// plan does).
fn voice_status(
    clinic: &Clinic,
    practice: &crate::practice::Practice,
) -> Option<serde_json::Value> {
    let status = clinic.voice.get().map(|v| v.status())?;
    let mut status = serde_json::to_value(status).ok()?;
    if !practice.feature("voice_guidance")
        && let Some(o) = status.as_object_mut()
    {
        o.insert("state".into(), json!("off"));
        o.insert(
            "reason".into(),
            json!("voice greetings are not part of this practice's plan now"),
        );
    }
    Some(status)
}

#[derive(Deserialize)]
pub struct DeskCheckin {
    appointment_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    date_of_birth: Option<String>,
}

pub async fn check_in(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    JsonBody(req): JsonBody<DeskCheckin>,
) -> WebResult<Response> {
    let actor = format!("staff:{}", staff.staff_id);
    let outcome = match req.appointment_id.filter(|a| !a.is_empty()) {
        Some(id) => checkin::by_appointment(&clinic, &id, Method::Desk, actor).await,
        None => {
            let details = PatientDetails {
                first_name: req.first_name.unwrap_or_default(),
                last_name: req.last_name.unwrap_or_default(),
                date_of_birth: req.date_of_birth.unwrap_or_default(),
                walk_in: true,
            };
            checkin::by_patient(&clinic, details, Method::Desk, actor).await
        }
    }
    .map_err(|e| WebError::from(e).json())?;
    let body = match outcome {
        Outcome::CheckedIn { checkin, .. } => {
            json!({"result": "checked_in", "checkin_id": checkin.checkin_id})
        }
        Outcome::AlreadyCheckedIn { checkin } => {
            json!({"result": "already_checked_in", "checkin_id": checkin.checkin_id})
        }
        Outcome::NoMatch { .. } => {
            return Err(WebError::bad_request(
                "Walk-ins are switched off for this practice, and no appointment today matches.",
            )
            .json());
        }
        Outcome::SeeDesk => {
            return Err(WebError::bad_request(
                "More than one appointment matches; check them in from the schedule instead.",
            )
            .json());
        }
    };
    Ok(Json(body).into_response())
}

#[derive(Deserialize, Default)]
pub struct StatusChange {
    room: Option<String>,
}

pub async fn change_status(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let status = match action.as_str() {
        "call" => CheckinStatus::Called,
        "seen" => CheckinStatus::Seen,
        "no-show" => CheckinStatus::NoShow,
        "waiting" => CheckinStatus::Waiting,
        _ => return Err(WebError::not_found("No such action.").json()),
    };
    // The body is optional: only a call needs one (the room).
    let change: StatusChange = if body.iter().all(u8::is_ascii_whitespace) {
        StatusChange::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            WebError::bad_request("Please send the room as {\"room\": \"Room 2\"}.").json()
        })?
    };
    let room = change.room;
    let row = checkin::set_status(
        &clinic,
        &id,
        status,
        room,
        format!("staff:{}", staff.staff_id),
    )
    .await
    .map_err(|e| WebError::from(e).json())?;
    Ok(
        Json(json!({"checkin_id": row.checkin_id, "status": row.status, "room": row.room}))
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct PairRequest {
    code: String,
    name: Option<String>,
}

pub async fn pair_display(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    JsonBody(req): JsonBody<PairRequest>,
) -> WebResult<Response> {
    let row = display::approve(
        &clinic,
        &clinic.pairings,
        &req.code,
        req.name.as_deref().unwrap_or(""),
        format!("staff:{}", staff.staff_id),
    )
    .await
    .map_err(|e| WebError::from(e).json())?;
    Ok(Json(json!({"display_id": row.display_id, "name": row.name})).into_response())
}

pub async fn revoke_display(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    display::revoke(&clinic, &id, format!("staff:{}", staff.staff_id))
        .await
        .map_err(|e| WebError::from(e).json())?;
    Ok(Json(json!({"revoked": id})).into_response())
}

pub async fn audit(_staff: StaffApi, State(clinic): State<Arc<Clinic>>) -> WebResult<Response> {
    let tenant = clinic.tenant_id();
    let rows = clinic
        .store
        .read(move |c| store::recent_audit(c, &tenant, 200))
        .await
        .map_err(|e| WebError::from(e).json())?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
pub struct PairQuery {
    code: Option<String>,
}

/// Where a TV's pairing QR leads: a phone-sized approve page.
pub async fn pair_page(
    staff: StaffPage,
    State(clinic): State<Arc<Clinic>>,
    Query(q): Query<PairQuery>,
) -> WebResult<Html<String>> {
    let code = q
        .code
        .map(|c| display::pairing::normalise_code(&c))
        .unwrap_or_default();
    let waiting = !code.is_empty() && clinic.pairings.is_waiting(&code);
    let body = templates::render(
        "pair.html",
        minijinja::context! {
            practice_name => clinic.practice().config.name,
            code => code,
            waiting => waiting,
            csrf => staff.csrf,
        },
    )
    .map_err(|_| WebError::internal())?;
    Ok(Html(body))
}

/// Live nudges for the desk page: something changed, fetch `/desk/api/today`.
pub async fn ws(
    _staff: StaffPage,
    ws: WebSocketUpgrade,
    State(clinic): State<Arc<Clinic>>,
) -> Response {
    ws.max_message_size(1024)
        .on_upgrade(move |socket| desk_session(socket, clinic))
        .into_response()
}

async fn desk_session(mut socket: WebSocket, clinic: Arc<Clinic>) {
    let _client = clinic.metrics.client_connected(ClientKind::Desk);
    let mut events = clinic.hub.events();
    let mut shutdown = clinic.shutdown.clone();
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(15));
    loop {
        let msg = tokio::select! {
            e = events.recv() => match e {
                Ok(crate::display::hub::LobbyEvent::Arrived { checkin_id, lobby_name, .. }) =>
                    json!({"type": "arrived", "checkin_id": checkin_id, "lobby_name": lobby_name}),
                Ok(_) | Err(RecvError::Lagged(_)) => json!({"type": "changed"}),
                Err(RecvError::Closed) => return,
            },
            _ = ping.tick() => json!({"type": "ping", "at": now_ms()}),
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            _ = shutdown.changed() => return,
        };
        if socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}
