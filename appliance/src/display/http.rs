//! Where a TV's requests enter: the TV page (`/tv`), its WebSocket
//! (`/tv/ws`) and the announcement clips it plays (`/tv/audio/{id}`).
//!
//! A TV connects to `/tv/ws` and says hello with its token (or none). A TV
//! without a valid token is shown a pairing code and nothing about anyone;
//! once staff approve the code it receives a token and, on the same socket,
//! a full snapshot of the lobby followed by every change in sequence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::hub::Control;
use super::pairing::{CODE_TTL, Grant};
use super::{DEAD_AFTER, DisplayError, speaker};
use crate::clinic::Clinic;
use crate::metrics::ClientKind;
use crate::secrets::token_hash;
use crate::store::{self, DisplayRow, now_ms};
use crate::web::WebResult;
use crate::web::error::WebError;

pub fn routes() -> Router<Arc<Clinic>> {
    Router::new()
        .route("/tv", get(tv_page))
        .route("/tv/ws", get(tv_ws))
        .route("/tv/audio/{id}", get(speaker::clip))
}

/// How often the box pings each TV, and how long a silent TV is given
/// before it is considered gone.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A TV that cannot take a frame in this long is treated as dead, so one
/// stuck TV never holds on to resources forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl From<DisplayError> for WebError {
    fn from(e: DisplayError) -> WebError {
        match e {
            DisplayError::Store(s) => s.into(),
            DisplayError::NoSuchCode(_) | DisplayError::UnknownDisplay => {
                WebError::not_found(e.to_string())
            }
            DisplayError::PlanLimit(_) => WebError::forbidden(e.to_string()),
            other => WebError::bad_request(other.to_string()),
        }
    }
}

pub async fn tv_page(State(clinic): State<Arc<Clinic>>) -> WebResult<Html<String>> {
    let practice = clinic.practice();
    let body = crate::web::templates::render(
        "tv.html",
        minijinja::context! { practice_name => practice.config.name },
    )
    .map_err(|_| WebError::internal())?;
    Ok(Html(body))
}

pub async fn tv_ws(
    ws: WebSocketUpgrade,
    State(clinic): State<Arc<Clinic>>,
    headers: HeaderMap,
    plain: Option<axum::Extension<crate::web::https::PlainHttp>>,
) -> Response {
    let ws = ws.max_message_size(4096);
    if plain.is_some() {
        return ws
            .on_upgrade(move |socket| move_to_https(socket, clinic))
            .into_response();
    }
    let base = crate::web::base_url(&headers, &clinic.public_url());
    ws.on_upgrade(move |socket| tv_session(socket, clinic, base))
        .into_response()
}

/// A TV on plain HTTP while the box serves HTTPS: no lobby data here, only
/// where to go. A paired TV gets a one-time grant that pairs it again over
/// HTTPS under its name, replacing its old pairing; staff do nothing.
async fn move_to_https(mut socket: WebSocket, clinic: Arc<Clinic>) {
    let hello = match tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Hello>(&t).ok(),
        _ => None,
    };
    let Some(hello) = hello.filter(|h| h.kind == "hello") else {
        return;
    };
    let mut url = format!("{}/tv", clinic.public_url());
    if let Some(token) = hello.token.filter(|t| !t.is_empty() && t.len() < 200) {
        let (tenant, h) = (clinic.tenant_id(), token_hash(&token));
        if let Ok(Some(d)) = clinic
            .store
            .read(move |c| store::display_by_token_hash(c, &tenant, &h))
            .await
        {
            let grant = clinic.cast.grants.issue(
                &format!("https:{}", d.display_id),
                &d.name,
                Some(d.display_id.clone()),
            );
            url = format!("{url}?grant={grant}");
            tracing::info!(display = %d.display_id, "TV moving to HTTPS");
        }
    }
    let frame = json!({"type": "moved", "url": url});
    let _ = send_text(&mut socket, &frame.to_string()).await;
    let _ = socket.send(Message::Close(None)).await;
}

#[derive(serde::Deserialize)]
struct Hello {
    #[serde(rename = "type")]
    kind: String,
    token: Option<String>,
    /// One-time pairing grant from the URL a Cast receiver loaded.
    grant: Option<String>,
}

enum Ended {
    Revoked,
    Closed,
}

async fn send_text(socket: &mut WebSocket, text: &str) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

async fn tv_session(mut socket: WebSocket, clinic: Arc<Clinic>, base: String) {
    let _client = clinic.metrics.client_connected(ClientKind::Tv);
    let hello = match tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Hello>(&t).ok(),
        _ => None,
    };
    let Some(hello) = hello.filter(|h| h.kind == "hello") else {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 1008,
                reason: "expected hello".into(),
            })))
            .await;
        return;
    };
    let mut display = match hello.token.filter(|t| !t.is_empty() && t.len() < 200) {
        Some(token) => {
            let tenant = clinic.tenant_id();
            let h = token_hash(&token);
            match clinic
                .store
                .read(move |c| store::display_by_token_hash(c, &tenant, &h))
                .await
            {
                Ok(Some(d)) => Some(d),
                Ok(None) => {
                    let msg = json!({"type": "revoked",
                        "message": "This TV is no longer paired. Ask the front desk to pair it again."});
                    if !send_text(&mut socket, &msg.to_string()).await {
                        return;
                    }
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot look up TV token");
                    return;
                }
            }
        }
        None => None,
    };
    if display.is_none()
        && let Some(grant) = hello.grant.as_deref()
        && let Some((d, token)) = crate::cast::redeem_grant(&clinic, &clinic.cast, grant).await
    {
        let frame = json!({"type": "paired", "token": token,
                           "display_id": d.display_id, "name": d.name});
        if !send_text(&mut socket, &frame.to_string()).await {
            return;
        }
        display = Some(d);
    }
    loop {
        let d = match display.take() {
            Some(d) => d,
            None => match pair(&mut socket, &clinic, &base).await {
                Some(d) => d,
                None => return,
            },
        };
        match serve_paired(&mut socket, &clinic, &d).await {
            Ended::Revoked => continue,
            Ended::Closed => return,
        }
    }
}

/// Shows a pairing code until staff approve it; returns the new display.
async fn pair(socket: &mut WebSocket, clinic: &Clinic, base: &str) -> Option<DisplayRow> {
    let mut shutdown = clinic.shutdown.clone();
    loop {
        let (code, grant_rx) = clinic.pairings.open();
        let url = format!("{base}/desk/pair?code={code}");
        let qr_svg = crate::qr::svg(&url).unwrap_or_default();
        let frame = json!({"type": "pairing", "code": code, "url": url, "qr_svg": qr_svg});
        if !send_text(socket, &frame.to_string()).await {
            clinic.pairings.forget(&code);
            return None;
        }
        let expiry = tokio::time::sleep(CODE_TTL);
        tokio::pin!(expiry);
        tokio::pin!(grant_rx);
        let granted: Option<Grant> = loop {
            tokio::select! {
                g = &mut grant_rx => break g.ok(),
                _ = &mut expiry => break None,
                m = socket.recv() => match m {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        clinic.pairings.forget(&code);
                        return None;
                    }
                    Some(Ok(_)) => {}
                },
                _ = shutdown.changed() => {
                    clinic.pairings.forget(&code);
                    let _ = socket.send(going_away()).await;
                    return None;
                }
            }
        };
        clinic.pairings.forget(&code);
        let Some(grant) = granted else {
            continue;
        };
        let frame = json!({"type": "paired", "token": grant.token,
                           "display_id": grant.display_id, "name": grant.name});
        if !send_text(socket, &frame.to_string()).await {
            return None;
        }
        let tenant = clinic.tenant_id();
        let h = token_hash(&grant.token);
        return clinic
            .store
            .read(move |c| store::display_by_token_hash(c, &tenant, &h))
            .await
            .ok()
            .flatten();
    }
}

fn going_away() -> Message {
    Message::Close(Some(CloseFrame {
        code: 1001,
        reason: "the box is restarting".into(),
    }))
}

async fn serve_paired(socket: &mut WebSocket, clinic: &Clinic, d: &DisplayRow) -> Ended {
    let (snapshot, mut frames) = clinic.hub.subscribe_tv();
    let mut control = clinic.hub.control();
    let mut shutdown = clinic.shutdown.clone();
    let hello = json!({"type": "welcome", "display_id": d.display_id, "name": d.name});
    if !send_text(socket, &hello.to_string()).await || !send_text(socket, &snapshot.json).await {
        return Ended::Closed;
    }
    clinic.pairings.tv_connected(&d.display_id, now_ms());
    touch(clinic, &d.display_id);
    let mut ping = tokio::time::interval(HEARTBEAT);
    let mut last_heard = Instant::now();
    let mut last_touch = Instant::now();
    let ended = loop {
        tokio::select! {
            f = frames.recv() => {
                let text = match f {
                    Ok(frame) => frame.json,
                    // Fell behind: skip what was missed, send the whole state.
                    Err(RecvError::Lagged(_)) => clinic.hub.snapshot().json,
                    Err(RecvError::Closed) => break Ended::Closed,
                };
                if !send_text(socket, &text).await {
                    break Ended::Closed;
                }
            }
            c = control.recv() => {
                if let Ok(Control::Revoked { display_id }) = c
                    && display_id == d.display_id
                {
                    let msg = json!({"type": "revoked",
                        "message": "This TV was removed by the front desk."});
                    let _ = send_text(socket, &msg.to_string()).await;
                    break Ended::Revoked;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    tracing::info!(display = %d.display_id, "TV stopped answering; dropping it");
                    break Ended::Closed;
                }
                let ok = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(ok, Ok(Ok(()))) {
                    break Ended::Closed;
                }
                if last_touch.elapsed() > TOUCH_EVERY {
                    last_touch = Instant::now();
                    touch(clinic, &d.display_id);
                }
            }
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Ended::Closed,
                Some(Ok(_)) => {
                    last_heard = Instant::now();
                    clinic.pairings.tv_seen(&d.display_id, now_ms());
                }
            },
            _ = shutdown.changed() => {
                let _ = socket.send(going_away()).await;
                break Ended::Closed;
            }
        }
    };
    clinic.pairings.tv_disconnected(&d.display_id);
    touch(clinic, &d.display_id);
    ended
}

/// Records a TV's last-seen time without holding up its connection.
fn touch(clinic: &Clinic, display_id: &str) {
    let store = clinic.store.clone();
    let tenant = clinic.tenant_id();
    let id = display_id.to_string();
    let at = now_ms();
    tokio::spawn(async move {
        if let Err(e) = store
            .write(move |txn| store::touch_display(txn, &tenant, &id, at))
            .await
        {
            tracing::warn!(error = %e, "cannot record TV last-seen time");
        }
    });
}
