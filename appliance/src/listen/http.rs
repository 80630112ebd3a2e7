//! Where voice in is reached from: the lobby kiosk's "talk" button (a page
//! shown on the box's own touchscreen, so served to the box itself only)
//! and the front desk's "talk" and "mute voice" buttons (signed-in staff).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::dialog::{self, DialogError, Mode};
use super::{ListenError, VoiceIn};
use crate::clinic::Clinic;
use crate::desk::auth::StaffApi;
use crate::web::error::WebError;
use crate::web::{JsonBody, WebResult, templates};

pub fn routes() -> axum::Router<Arc<Clinic>> {
    axum::Router::new()
        .route("/kiosk", get(kiosk_page))
        .route("/kiosk/api/listen", post(kiosk_listen))
        .route("/desk/api/voice/listen", post(desk_listen))
        .route("/desk/api/voice/mute", post(desk_mute))
}

impl From<DialogError> for WebError {
    fn from(e: DialogError) -> WebError {
        match e {
            DialogError::Checkin(c) => WebError::from(c),
            DialogError::Listen(ListenError::Busy) => {
                WebError::new(StatusCode::CONFLICT, ListenError::Busy.to_string())
            }
            DialogError::Listen(e @ ListenError::Off(_)) => {
                WebError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            DialogError::Listen(e) => {
                tracing::warn!(error = %e, "voice in failed");
                WebError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "Voice check-in is not working right now ({e}). Please use the QR code or see the front desk."
                    ),
                )
            }
        }
    }
}

/// The kiosk runs on the box's own screen: nobody else on the LAN may open
/// the lobby microphone or read what it heard.
fn only_this_box(peer: SocketAddr) -> Result<(), WebError> {
    if peer.ip().is_loopback() {
        Ok(())
    } else {
        Err(WebError::forbidden(
            "The voice kiosk only works on the box's own screen.",
        ))
    }
}

fn listener(clinic: &Clinic) -> Result<VoiceIn, WebError> {
    // Checked on every request: a plan change applies at once.
    if !clinic.practice().feature("voice_checkin") {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            "Voice check-in and voice commands are not part of this practice's plan now. \
             Check-in by QR code and at the desk keep working.",
        ));
    }
    clinic.listener.get().cloned().ok_or_else(|| {
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Voice check-in is not available on this box.",
        )
    })
}

async fn kiosk_page(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(clinic): State<Arc<Clinic>>,
) -> WebResult<Html<String>> {
    only_this_box(peer)?;
    let practice = clinic.practice();
    let status = clinic.listener.get().map(|l| l.status());
    let body = templates::render(
        "kiosk.html",
        minijinja::context! {
            practice_name => practice.config.name,
            terms => practice.vertical.terms,
            branding => practice.config.branding,
            available => status.as_ref().is_some_and(|s| s.state != "off"),
            reason => status.and_then(|s| s.reason),
        },
    )
    .map_err(|_| WebError::internal())?;
    Ok(Html(body))
}

async fn kiosk_listen(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(clinic): State<Arc<Clinic>>,
) -> WebResult<Response> {
    only_this_box(peer).map_err(WebError::json)?;
    let l = listener(&clinic).map_err(WebError::json)?;
    let reply = dialog::listen_and_respond(Arc::clone(&clinic), l, Mode::Kiosk)
        .await
        .map_err(|e| WebError::from(e).json())?;
    Ok(Json(reply).into_response())
}

async fn desk_listen(staff: StaffApi, State(clinic): State<Arc<Clinic>>) -> WebResult<Response> {
    let l = listener(&clinic).map_err(WebError::json)?;
    let mode = Mode::Desk {
        staff_id: staff.staff_id,
    };
    let reply = dialog::listen_and_respond(Arc::clone(&clinic), l, mode)
        .await
        .map_err(|e| WebError::from(e).json())?;
    Ok(Json(reply).into_response())
}

#[derive(Deserialize)]
struct Mute {
    muted: bool,
}

/// The desk's "mute voice" switch: announcements stop at once (what is
/// playing is cut, the queue is skipped) until unmuted.
async fn desk_mute(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    JsonBody(req): JsonBody<Mute>,
) -> WebResult<Response> {
    let voice = clinic.voice.get().ok_or_else(|| {
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The lobby voice is not running on this box.",
        )
        .json()
    })?;
    voice.set_muted(req.muted);
    let tenant = clinic.tenant_id();
    let actor = format!("staff:{}", staff.staff_id);
    let action = if req.muted {
        "voice.mute"
    } else {
        "voice.unmute"
    };
    clinic
        .store
        .write(move |txn| {
            crate::store::append_audit(txn, &tenant, &actor, action, "voice", &json!({}))
        })
        .await
        .map_err(|e| WebError::from(e).json())?;
    Ok(Json(json!({"voice": voice.status()})).into_response())
}
