//! The lobby TVs: the TV page, its WebSocket, pairing and revocation.
//!
//! A TV connects to `/tv/ws` and says hello with its token (or none). A TV
//! without a valid token is shown a pairing code and nothing about anyone;
//! once staff approve the code it receives a token and, on the same socket,
//! a full snapshot of the lobby followed by every change in sequence.

pub mod hub;
pub mod pairing;
pub mod speaker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::clinic::Clinic;
use crate::metrics::ClientKind;
use crate::secrets::{random_token, token_hash};
use crate::store::{self, DisplayRow, StoreError, now_ms};
use crate::web::WebResult;
use crate::web::error::WebError;
use hub::Control;
use pairing::{CODE_TTL, Grant};

/// How often the box pings each TV, and how long a silent TV is given
/// before it is considered gone.
const HEARTBEAT: Duration = Duration::from_secs(10);
const DEAD_AFTER: Duration = Duration::from_secs(35);
/// A TV that cannot take a frame in this long is treated as dead, so one
/// stuck TV never holds on to resources forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
const TOUCH_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("No TV is showing the code \"{0}\" right now. Check the code on the TV screen.")]
    NoSuchCode(String),
    #[error("The TV stopped waiting before it could be paired. Refresh the TV and try again.")]
    TvGone,
    #[error(
        "Your plan allows {0} TV(s) and that many are paired. Remove one, or upgrade the plan."
    )]
    PlanLimit(usize),
    #[error("Please give the TV a name of at most 40 characters.")]
    BadName,
    #[error("No such TV.")]
    UnknownDisplay,
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
) -> Response {
    let base = crate::web::base_url(&headers, &clinic.public_url);
    ws.max_message_size(4096)
        .on_upgrade(move |socket| tv_session(socket, clinic, base))
        .into_response()
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
        && let Some((d, token)) = crate::cast::redeem_grant(&clinic, grant).await
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

/// Staff approve the code a TV is showing.
pub async fn approve(
    clinic: &Clinic,
    code: &str,
    name: &str,
    actor: String,
) -> Result<DisplayRow, DisplayError> {
    let name = clean_name(name)?;
    let code = pairing::normalise_code(code);
    let tenant = clinic.tenant_id();
    check_plan_limit(clinic).await?;
    let grant_tx = clinic
        .pairings
        .claim(&code)
        .ok_or_else(|| DisplayError::NoSuchCode(code.clone()))?;
    let (row, token) = insert_display(clinic, name.clone(), actor).await?;
    let grant = Grant {
        display_id: row.display_id.clone(),
        name,
        token,
    };
    if grant_tx.send(grant).is_err() {
        // The TV left between claim and now: its token was never seen, so
        // make sure it can never be used.
        let (t, id) = (tenant, row.display_id.clone());
        clinic
            .store
            .write(move |txn| store::revoke_display(txn, &t, &id, now_ms()))
            .await?;
        return Err(DisplayError::TvGone);
    }
    Ok(row)
}

fn clean_name(name: &str) -> Result<String, DisplayError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = if name.is_empty() {
        "Lobby TV".to_string()
    } else {
        name
    };
    if name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(DisplayError::BadName);
    }
    Ok(name)
}

async fn check_plan_limit(clinic: &Clinic) -> Result<(), DisplayError> {
    let practice = clinic.practice();
    let tenant = practice.tenant_id().to_string();
    let max = practice.max_displays();
    let active = clinic
        .store
        .read(move |c| store::list_displays(c, &tenant))
        .await?
        .iter()
        .filter(|d| d.revoked_at.is_none())
        .count();
    if active >= max {
        return Err(DisplayError::PlanLimit(max));
    }
    Ok(())
}

async fn insert_display(
    clinic: &Clinic,
    name: String,
    actor: String,
) -> Result<(DisplayRow, String), DisplayError> {
    let token = random_token();
    let row = DisplayRow {
        display_id: uuid::Uuid::now_v7().to_string(),
        name,
        paired_at: now_ms(),
        paired_by: actor.clone(),
        revoked_at: None,
        last_seen_at: None,
    };
    let (r, h, t) = (row.clone(), token_hash(&token), clinic.tenant_id());
    clinic
        .store
        .write(move |txn| {
            store::insert_display(txn, &t, &r, &h)?;
            store::append_audit(
                txn,
                &t,
                &actor,
                "display.paired",
                &r.display_id,
                &json!({"name": r.name}),
            )
        })
        .await?;
    Ok((row, token))
}

/// Pairs a TV without a code (a Cast receiver that presented a one-time
/// grant): the same checks and records as [`approve`].
pub async fn create_display(
    clinic: &Clinic,
    name: &str,
    actor: String,
) -> Result<(DisplayRow, String), DisplayError> {
    let name = clean_name(name)?;
    check_plan_limit(clinic).await?;
    insert_display(clinic, name, actor).await
}

pub async fn revoke(clinic: &Clinic, display_id: &str, actor: String) -> Result<(), DisplayError> {
    let tenant = clinic.tenant_id();
    let id = display_id.to_string();
    let revoked = clinic
        .store
        .write(move |txn| {
            let ok = store::revoke_display(txn, &tenant, &id, now_ms())?;
            if ok {
                store::append_audit(txn, &tenant, &actor, "display.revoked", &id, &json!({}))?;
            }
            Ok(ok)
        })
        .await?;
    if !revoked {
        return Err(DisplayError::UnknownDisplay);
    }
    clinic.hub.revoke(display_id);
    Ok(())
}

/// A paired TV as staff see it.
#[derive(Debug, Serialize)]
pub struct DisplayStatus {
    #[serde(flatten)]
    pub row: DisplayRow,
    pub online: bool,
    pub last_seen_ms: Option<i64>,
}

pub async fn statuses(clinic: &Clinic) -> Result<Vec<DisplayStatus>, StoreError> {
    let tenant = clinic.tenant_id();
    let rows = clinic
        .store
        .read(move |c| store::list_displays(c, &tenant))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let live = clinic.pairings.live(&row.display_id);
            let online = row.revoked_at.is_none()
                && live.as_ref().is_some_and(|l| {
                    l.connections > 0 && now_ms() - l.last_seen_ms < DEAD_AFTER.as_millis() as i64
                });
            let last_seen_ms = live.map(|l| l.last_seen_ms).or(row.last_seen_at);
            DisplayStatus {
                row,
                online,
                last_seen_ms,
            }
        })
        .collect())
}
