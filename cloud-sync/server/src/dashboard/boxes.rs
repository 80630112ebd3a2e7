//! `/boxes`: the practice's boxes as they report themselves: online or
//! offline (and since when), software version, last sync, events waiting,
//! whether they hold the latest settings, their TVs, speaker and
//! microphone. Owners get a set-up token for a new box (shown once, with a
//! QR code and its expiry) and revoke a box with a confirmation.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cloud_sync::wire::{BoxReport, PartReport};
use serde::{Deserialize, Serialize};

use super::home::OFFLINE_AFTER_SECS;
use super::routes::{Access, Routes};
use super::session::{Change, Refused, SignedIn, busy};
use super::{message, page};
use crate::admin;
use crate::api::AppState;

/// How long a set-up token from this page works (once).
pub const TOKEN_TTL: Duration = Duration::from_secs(72 * 3600);

pub fn routes(r: Routes) -> Routes {
    r.get("/boxes", Access::Member, show)
        .post("/boxes/token", Access::Owner, new_token)
        .post("/boxes/{device}/revoke", Access::Owner, revoke)
}

#[derive(Serialize)]
struct Tv {
    name: String,
    online: bool,
    last_seen: Option<String>,
}

#[derive(Serialize)]
struct Part {
    words: &'static str,
    detail: Option<String>,
    ok: bool,
}

#[derive(Serialize)]
struct BoxRow {
    device_id: String,
    name: String,
    online: bool,
    /// The last time the box called: its last sync.
    last_seen: Option<String>,
    current: bool,
    /// From the box's latest report; `None` until it sent one.
    version: Option<String>,
    events_waiting: Option<i64>,
    reported: Option<String>,
    tvs: Vec<Tv>,
    speaker: Option<Part>,
    microphone: Option<Part>,
}

/// A speaker's or microphone's state in the owner's words.
fn part(p: PartReport) -> Part {
    let (words, ok) = match p.state.as_str() {
        "ready" => ("working", true),
        "listening" => ("listening", true),
        "loading" => ("starting", true),
        "off" => ("off", true),
        "no_device" => ("not found", false),
        _ => ("not working", false),
    };
    Part {
        words,
        detail: p.detail,
        ok,
    }
}

/// "7 Dec 14:05" in the practice's time zone.
fn when(ms: Option<i64>, tz: &jiff::tz::TimeZone) -> Option<String> {
    let ts = jiff::Timestamp::from_millisecond(ms?).ok()?;
    Some(ts.to_zoned(tz.clone()).strftime("%-d %b %H:%M").to_string())
}

async fn boxes(state: &AppState, tenant: &str) -> Result<Vec<BoxRow>, Refused> {
    let client = state.pool.get().await.map_err(busy)?;
    let rows = client
        .query(
            "SELECT d.device_id, CASE WHEN d.name = '' THEN d.device_id ELSE d.name END,
                    coalesce(d.last_seen_at > now() - make_interval(secs => $2), false),
                    (extract(epoch FROM d.last_seen_at) * 1000)::bigint,
                    coalesce(d.config_version >= t.config_version, false),
                    d.report::text,
                    (extract(epoch FROM d.reported_at) * 1000)::bigint,
                    coalesce(t.settings->>'timezone', 'UTC')
             FROM devices d JOIN tenants t ON t.tenant_id = d.tenant_id
             WHERE d.tenant_id = $1 AND d.revoked_at IS NULL
             ORDER BY d.enrolled_at",
            &[&tenant, &OFFLINE_AFTER_SECS],
        )
        .await
        .map_err(busy)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let read = || -> Result<BoxRow, tokio_postgres::Error> {
            let zone: String = r.try_get(7)?;
            let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
            let report: Option<BoxReport> = r
                .try_get::<_, Option<String>>(5)?
                .and_then(|t| serde_json::from_str(&t).ok());
            let (version, events_waiting, tvs, speaker, microphone) = match report {
                Some(rep) => (
                    Some(rep.software_version),
                    Some(rep.events_waiting),
                    rep.tvs
                        .into_iter()
                        .map(|t| Tv {
                            name: t.name,
                            online: t.online,
                            last_seen: when(t.last_seen_at, &tz),
                        })
                        .collect(),
                    Some(part(rep.speaker)),
                    Some(part(rep.microphone)),
                ),
                None => (None, None, Vec::new(), None, None),
            };
            Ok(BoxRow {
                device_id: r.try_get(0)?,
                name: r.try_get(1)?,
                online: r.try_get(2)?,
                last_seen: when(r.try_get(3)?, &tz),
                current: r.try_get(4)?,
                version,
                events_waiting,
                reported: when(r.try_get(6)?, &tz),
                tvs,
                speaker,
                microphone,
            })
        };
        out.push(read().map_err(busy)?);
    }
    Ok(out)
}

/// A token just issued, shown once.
#[derive(Serialize)]
struct Issued {
    token: String,
    expires: String,
    qr: String,
    command: String,
}

fn qr_data_uri(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build();
    Some(super::svg_data_uri(&svg))
}

async fn render(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    issued: Option<Issued>,
    error: Option<&str>,
) -> Result<Response, Refused> {
    let tenant = who.tenant()?;
    let boxes = boxes(state, tenant).await?;
    Ok(page(
        status,
        "boxes.html",
        minijinja::context! {
            who => super::who(who, "/boxes"),
            boxes, issued, error,
            ttl_hours => TOKEN_TTL.as_secs() / 3600,
        },
    ))
}

async fn show(State(state): State<Arc<AppState>>, who: SignedIn) -> Response {
    render(&state, &who, StatusCode::OK, None, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct NoFields {}

async fn new_token(State(state): State<Arc<AppState>>, change: Change<NoFields>) -> Response {
    let Change { who, from, .. } = change;
    let result = async {
        let tenant = who.require_owner()?;
        let client = state.pool.get().await.map_err(busy)?;
        let (token, expires) =
            admin::issue_token(&**client, tenant, TOKEN_TTL, &who.actor(), Some(&from))
                .await
                .map_err(busy)?;
        drop(client);
        let cloud = state
            .public_url
            .as_deref()
            .unwrap_or("<this dashboard's address>")
            .trim_end_matches('/');
        let issued = Issued {
            qr: qr_data_uri(&token).unwrap_or_default(),
            command: format!("sos-appliance enroll --cloud {cloud} --token {token}"),
            token,
            expires,
        };
        render(&state, &who, StatusCode::OK, Some(issued), None).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct Revoke {
    #[serde(default)]
    confirm: String,
}

async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(device): Path<String>,
    change: Change<Revoke>,
) -> Response {
    let Change { who, from, form } = change;
    let result = async {
        let tenant = who.require_owner()?;
        if form.confirm != "yes" {
            return render(
                &state,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("Tick \"Yes, revoke\" to confirm; the box was not revoked."),
            )
            .await;
        }
        let client = state.pool.get().await.map_err(busy)?;
        // Only this practice's box: another practice's is not found.
        let done = admin::revoke(&**client, Some(tenant), &device, &who.actor(), Some(&from))
            .await
            .map_err(busy)?;
        if !done {
            return Ok(message(
                StatusCode::NOT_FOUND,
                "No such box",
                "This practice has no such box (or it was revoked already). Nothing was changed.",
            ));
        }
        Ok(Redirect::to("/boxes").into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_states_read_as_plain_words() {
        let p = |state: &str| {
            part(PartReport {
                state: state.into(),
                detail: None,
            })
        };
        assert_eq!(p("ready").words, "working");
        assert!(!p("no_device").ok);
        assert_eq!(p("something new").words, "not working");
    }

    #[test]
    fn a_token_has_a_qr_code() {
        assert!(
            qr_data_uri("sos_prov_abc")
                .unwrap()
                .starts_with("data:image/svg+xml;base64,")
        );
    }
}
