//! Where the patient's phone enters: the check-in form behind the
//! practice's signed QR link (`/c/{tenant}/{sig}`), and the live status
//! page it leads to (`/status/{token}` and its WebSocket).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::{CheckinError, Outcome, PatientDetails, link};
use crate::clinic::Clinic;
use crate::display::hub::LobbyEvent;
use crate::metrics::ClientKind;
use crate::practice::{Practice, fill};
use crate::secrets::token_hash;
use crate::store::{self, CheckinRow, CheckinStatus, Method, now_ms};
use crate::web::error::WebError;
use crate::web::{FormBody, WebResult, templates};

pub fn routes() -> Router<Arc<Clinic>> {
    Router::new()
        .route("/c/{tenant}/{sig}", get(form).post(submit))
        .route("/status/{token}", get(status_page))
        .route("/status/{token}/ws", get(status_ws))
}

fn check_link(clinic: &Clinic, tenant: &str, sig: &str) -> Result<Arc<Practice>, WebError> {
    let practice = clinic.practice();
    if tenant != practice.tenant_id() || !link::verify(&clinic.key, tenant, sig) {
        return Err(WebError::not_found(
            "This check-in code is not valid for this practice. Please ask at the front desk.",
        ));
    }
    Ok(practice)
}

#[derive(Default, Deserialize)]
pub struct CheckinForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    walk_in: Option<String>,
}

fn render_form(
    clinic: &Clinic,
    practice: &Practice,
    form: &CheckinForm,
    error: Option<String>,
) -> Result<String, WebError> {
    templates::render(
        "checkin.html",
        minijinja::context! {
            practice_name => practice.config.name,
            terms => practice.vertical.terms,
            branding => practice.config.branding,
            action => link::path(&clinic.key, practice.tenant_id()),
            form_token => link::form_token(&clinic.key, practice.tenant_id(), now_ms()),
            first_name => form.first_name,
            last_name => form.last_name,
            date_of_birth => form.date_of_birth,
            error => error,
        },
    )
    .map_err(|e| {
        tracing::error!(error = %e, "check-in page failed to render");
        WebError::internal()
    })
}

pub async fn form(
    State(clinic): State<Arc<Clinic>>,
    Path((tenant, sig)): Path<(String, String)>,
) -> WebResult<Html<String>> {
    let practice = check_link(&clinic, &tenant, &sig)?;
    Ok(Html(render_form(
        &clinic,
        &practice,
        &CheckinForm::default(),
        None,
    )?))
}

pub async fn submit(
    State(clinic): State<Arc<Clinic>>,
    Path((tenant, sig)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    FormBody(form): FormBody<CheckinForm>,
) -> WebResult<Response> {
    let practice = check_link(&clinic, &tenant, &sig)?;
    if !clinic.limits.checkin_allowed(peer.ip()) {
        return Err(WebError::too_many());
    }
    if !crate::web::same_origin(&headers)
        || !link::verify_form_token(
            &clinic.key,
            practice.tenant_id(),
            &form.form_token,
            now_ms(),
        )
    {
        // Expired or foreign form: show a fresh one, keeping what they typed.
        let page = render_form(
            &clinic,
            &practice,
            &form,
            Some(
                "This page was open for a long time. Please check your details and send again."
                    .into(),
            ),
        )?;
        return Ok((StatusCode::FORBIDDEN, Html(page)).into_response());
    }
    let details = PatientDetails {
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        date_of_birth: form.date_of_birth.clone(),
        walk_in: form.walk_in.as_deref() == Some("yes"),
    };
    let outcome = match super::by_patient(&clinic, details, Method::Qr, "patient:qr".into()).await {
        Ok(o) => o,
        Err(CheckinError::Invalid(e)) => {
            let page = render_form(&clinic, &practice, &form, Some(e.to_string()))?;
            return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let t = &practice.vertical.templates;
    let result = |kind: &str, message: String, walk_in_offered: bool| {
        templates::render(
            "checkin_result.html",
            minijinja::context! {
                practice_name => practice.config.name,
                branding => practice.config.branding,
                kind => kind,
                message => message,
                walk_in_offered => walk_in_offered,
                action => link::path(&clinic.key, practice.tenant_id()),
                form_token => link::form_token(&clinic.key, practice.tenant_id(), now_ms()),
                first_name => form.first_name,
                last_name => form.last_name,
                date_of_birth => form.date_of_birth,
                terms => practice.vertical.terms,
            },
        )
        .map_err(|_| WebError::internal())
    };
    Ok(match outcome {
        Outcome::CheckedIn { status_token, .. } => {
            Redirect::to(&format!("/status/{status_token}")).into_response()
        }
        Outcome::AlreadyCheckedIn { .. } => Html(result(
            "already",
            "You're already checked in. Please take a seat; we'll call you soon.".into(),
            false,
        )?)
        .into_response(),
        Outcome::NoMatch { walk_in_offered } => Html(result(
            "no_match",
            fill(&t.no_match, &practice.values()),
            walk_in_offered,
        )?)
        .into_response(),
        Outcome::SeeDesk => Html(result(
            "see_desk",
            "We need to confirm a detail with you. Please see the front desk.".into(),
            false,
        )?)
        .into_response(),
    })
}

/// The sentence the patient's phone shows for a check-in's state.
pub fn status_message(practice: &Practice, c: &CheckinRow) -> String {
    let mut values = practice.values();
    values.insert(
        "provider",
        practice.provider_phrase(c.provider_name.as_deref()),
    );
    values.insert("room", c.room.clone().unwrap_or_default());
    let t = &practice.vertical.templates;
    match c.status {
        CheckinStatus::Waiting => fill(&t.checked_in, &values),
        CheckinStatus::Called => fill(&t.ready, &values),
        CheckinStatus::Seen => "You're with us now. Thank you!".into(),
        CheckinStatus::NoShow => "We missed you. Please see the front desk.".into(),
    }
}

async fn checkin_for_token(clinic: &Clinic, token: &str) -> Result<CheckinRow, WebError> {
    let tenant = clinic.tenant_id();
    let h = token_hash(token);
    clinic
        .store
        .read(move |c| store::checkin_by_token_hash(c, &tenant, &h))
        .await?
        .ok_or_else(|| {
            WebError::not_found("We can't find that check-in. Please see the front desk.")
        })
}

pub async fn status_page(
    State(clinic): State<Arc<Clinic>>,
    Path(token): Path<String>,
) -> WebResult<Html<String>> {
    let c = checkin_for_token(&clinic, &token).await?;
    let practice = clinic.practice();
    let body = templates::render(
        "status.html",
        minijinja::context! {
            practice_name => practice.config.name,
            branding => practice.config.branding,
            first_name => c.first_name,
            status => c.status,
            room => c.room,
            message => status_message(&practice, &c),
            arrived => practice.clock(c.arrived_at),
            token => token,
        },
    )
    .map_err(|_| WebError::internal())?;
    Ok(Html(body))
}

pub async fn status_ws(
    ws: WebSocketUpgrade,
    State(clinic): State<Arc<Clinic>>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let c = checkin_for_token(&clinic, &token).await?;
    Ok(ws
        .max_message_size(1024)
        .on_upgrade(move |socket| status_session(socket, clinic, c))
        .into_response())
}

fn status_frame(practice: &Practice, c: &CheckinRow) -> String {
    json!({
        "type": "status",
        "status": c.status,
        "room": c.room,
        "message": status_message(practice, c),
    })
    .to_string()
}

async fn status_session(mut socket: WebSocket, clinic: Arc<Clinic>, mut c: CheckinRow) {
    let _client = clinic.metrics.client_connected(ClientKind::PatientStatus);
    // Subscribe before re-reading so no change can slip between the two.
    let mut events = clinic.hub.events();
    let mut shutdown = clinic.shutdown.clone();
    let tenant = clinic.tenant_id();
    let refresh = |clinic: Arc<Clinic>, id: String, tenant: String| async move {
        clinic
            .store
            .read(move |conn| store::get_checkin(conn, &tenant, &id))
            .await
            .ok()
            .flatten()
    };
    if let Some(fresh) = refresh(clinic.clone(), c.checkin_id.clone(), tenant.clone()).await {
        c = fresh;
    }
    if socket
        .send(Message::Text(status_frame(&clinic.practice(), &c).into()))
        .await
        .is_err()
    {
        return;
    }
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(20));
    loop {
        tokio::select! {
            e = events.recv() => {
                let mine = match &e {
                    Ok(LobbyEvent::StatusChanged { checkin_id, .. }) => *checkin_id == c.checkin_id,
                    Ok(LobbyEvent::PracticeChanged) | Err(RecvError::Lagged(_)) => true,
                    Ok(LobbyEvent::Arrived { .. }) => false,
                    Err(RecvError::Closed) => return,
                };
                if !mine {
                    continue;
                }
                if let Some(fresh) = refresh(clinic.clone(), c.checkin_id.clone(), tenant.clone()).await {
                    c = fresh;
                }
                if socket.send(Message::Text(status_frame(&clinic.practice(), &c).into())).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// A check-in problem as the phone or the desk shows it.
impl From<CheckinError> for WebError {
    fn from(e: CheckinError) -> WebError {
        match e {
            CheckinError::Store(s) => s.into(),
            CheckinError::Disabled => WebError::forbidden(e.to_string()),
            CheckinError::UnknownCheckin | CheckinError::UnknownAppointment => {
                WebError::not_found(e.to_string())
            }
            other => WebError::bad_request(other.to_string()),
        }
    }
}
