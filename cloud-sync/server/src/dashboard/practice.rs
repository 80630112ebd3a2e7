//! `/practice`: the owner sets the practice's name, address, time zone,
//! agent, greetings, TV privacy mode, rooms, quiet hours and colours;
//! "Preview" shows the sentences and a miniature of the lobby TV without
//! saving, "Save" makes a new config version that the boxes take at once
//! (their long-poll is woken), and the page says which boxes hold it.
//! The logo has its own form ([`super::logo`]). Staff see the page
//! read-only.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cloud_sync::practice::{Branding, NameDisplay, Settings, TemplateOverrides, VOICES, fill};
use cloud_sync::verticals::Vertical;
use serde::{Deserialize, Serialize};

use super::routes::{Access, Routes};
use super::session::{Change, Refused, SignedIn};
use super::tv_preview::{self, Scene};
use super::{home::OFFLINE_AFTER_SECS, page};
use crate::admin::AdminError;
use crate::api::AppState;
use crate::tenants::{self, TenantFields};

pub fn routes(r: Routes) -> Routes {
    r.get("/practice", Access::Member, show)
        .post("/practice", Access::Owner, change)
}

/// The practice as the form shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Form {
    name: String,
    address: String,
    timezone: String,
    agent_name: String,
    agent_voice: String,
    name_display: String,
    /// A checkbox: present when ticked.
    allow_walk_ins: Option<String>,
    /// One room per line.
    rooms: String,
    quiet_from: String,
    quiet_to: String,
    voice_volume: String,
    welcome: String,
    welcome_walk_in: String,
    call: String,
    primary_color: String,
    accent_color: String,
    background_color: String,
    text_color: String,
    /// One idle-screen message per line.
    messages: String,
    /// "preview" or "save".
    action: String,
}

/// The stored practice, as the form and the preview need it.
struct Stored {
    name: String,
    vertical: Vertical,
    agent_name: String,
    agent_voice: String,
    settings: Settings,
    branding: Branding,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The owner's words, or `None` where they left the vertical's.
fn own_words(typed: &str, default: &str) -> Option<String> {
    let t = typed.trim();
    (!t.is_empty() && t != default.trim()).then(|| t.to_string())
}

impl Form {
    fn of(s: &Stored) -> Form {
        let (quiet_from, quiet_to) = s
            .settings
            .quiet_hours
            .as_deref()
            .and_then(|q| q.split_once('-'))
            .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
            .unwrap_or_default();
        let t = &s.settings.templates;
        let v = &s.vertical.templates;
        Form {
            name: s.name.clone(),
            address: s.settings.address.clone(),
            timezone: s.settings.timezone.clone(),
            agent_name: s.agent_name.clone(),
            agent_voice: s.agent_voice.clone(),
            name_display: s.settings.name_display.as_str().into(),
            allow_walk_ins: s.settings.allow_walk_ins.then(|| "yes".into()),
            rooms: s.settings.rooms.join("\n"),
            quiet_from,
            quiet_to,
            voice_volume: s
                .settings
                .voice_volume
                .map(|v| v.to_string())
                .unwrap_or_default(),
            welcome: t.welcome.clone().unwrap_or_else(|| v.welcome.clone()),
            welcome_walk_in: t
                .welcome_walk_in
                .clone()
                .unwrap_or_else(|| v.welcome_walk_in.clone()),
            call: t.call.clone().unwrap_or_else(|| v.call.clone()),
            primary_color: s.branding.primary_color.clone(),
            accent_color: s.branding.accent_color.clone(),
            background_color: s.branding.background_color.clone(),
            text_color: s.branding.text_color.clone(),
            messages: s.branding.messages.join("\n"),
            action: String::new(),
        }
    }

    /// What the form asks for, checked as the box would use it; the error
    /// names the field.
    fn read(
        &self,
        stored: &Stored,
    ) -> Result<(String, String, String, Settings, Branding), String> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > tenants::MAX_NAME_CHARS {
            return Err(format!(
                "Practice name: 1 to {} characters.",
                tenants::MAX_NAME_CHARS
            ));
        }
        let agent_name = self.agent_name.trim().to_string();
        if agent_name.is_empty() || agent_name.chars().count() > tenants::MAX_AGENT_NAME_CHARS {
            return Err(format!(
                "Agent's name: 1 to {} characters.",
                tenants::MAX_AGENT_NAME_CHARS
            ));
        }
        if !VOICES.iter().any(|(id, _)| *id == self.agent_voice) {
            return Err("Voice: choose one of the listed voices.".into());
        }
        let name_display = NameDisplay::parse(&self.name_display)
            .ok_or("TV privacy: choose how names show on the TV.")?;
        let quiet_hours = match (self.quiet_from.trim(), self.quiet_to.trim()) {
            ("", "") => None,
            (a, b) => Some(format!("{a}-{b}")),
        };
        let voice_volume =
            match self.voice_volume.trim() {
                "" => None,
                v => Some(v.parse::<u8>().ok().filter(|v| *v <= 100).ok_or(
                    "Speaker volume: a number from 0 to 100, or empty for the box's own.",
                )?),
            };
        let v = &stored.vertical.templates;
        let settings = Settings {
            timezone: self.timezone.trim().to_string(),
            address: self.address.trim().to_string(),
            allow_walk_ins: self.allow_walk_ins.is_some(),
            name_display,
            rooms: lines(&self.rooms),
            voice_volume,
            quiet_hours,
            templates: TemplateOverrides {
                welcome: own_words(&self.welcome, &v.welcome),
                welcome_walk_in: own_words(&self.welcome_walk_in, &v.welcome_walk_in),
                call: own_words(&self.call, &v.call),
            },
        };
        settings
            .check(tenants::is_zone)
            .map_err(|e| format!("{}: {}.", label(e.field), e.why))?;
        let branding = Branding {
            // The logo is not on this form: it is kept.
            logo_svg: stored.branding.logo_svg.clone(),
            primary_color: self.primary_color.trim().to_lowercase(),
            accent_color: self.accent_color.trim().to_lowercase(),
            background_color: self.background_color.trim().to_lowercase(),
            text_color: self.text_color.trim().to_lowercase(),
            messages: lines(&self.messages),
        };
        branding
            .check()
            .map_err(|e| format!("{}: {}.", label(e.field), e.why))?;
        Ok((
            name,
            agent_name,
            self.agent_voice.clone(),
            settings,
            branding,
        ))
    }
}

/// How the form labels a field `Settings::check` or `Branding::check` names.
fn label(field: &str) -> &'static str {
    match field {
        "timezone" => "Time zone",
        "address" => "Address",
        "rooms" => "Rooms",
        "voice_volume" => "Speaker volume",
        "quiet_hours" => "Quiet hours",
        "welcome" => "Greeting",
        "welcome_walk_in" => "Greeting for walk-ins",
        "call" => "Call to a room",
        "primary_color" => "Main colour",
        "accent_color" => "Accent colour",
        "background_color" => "Background colour",
        "text_color" => "Text colour",
        "messages" => "TV messages",
        "logo_svg" => "Logo",
        _ => "A setting",
    }
}

async fn load(state: &AppState, tenant: &str) -> Result<Stored, Refused> {
    let client = state.pool.get().await.map_err(|_| Refused::Busy)?;
    let row = client
        .query_one(
            "SELECT name, vertical, agent_name, agent_voice, settings::text, branding::text
             FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .map_err(super::session::busy)?;
    let text = |i| -> Result<String, Refused> { row.try_get(i).map_err(super::session::busy) };
    let vertical = Vertical::load(&text(1)?).map_err(|e| {
        tracing::error!(error = %e, "a tenant's vertical is unknown");
        Refused::Busy
    })?;
    Ok(Stored {
        name: text(0)?,
        vertical,
        agent_name: text(2)?,
        agent_voice: text(3)?,
        // As the box reads them: what it does not understand is the default.
        settings: serde_json::from_str(&text(4)?).unwrap_or_default(),
        branding: serde_json::from_str(&text(5)?).unwrap_or_default(),
    })
}

/// A box and whether it holds the practice's latest config.
#[derive(Serialize)]
struct BoxState {
    name: String,
    online: bool,
    current: bool,
}

async fn boxes(state: &AppState, tenant: &str) -> Result<Vec<BoxState>, Refused> {
    let client = state.pool.get().await.map_err(|_| Refused::Busy)?;
    let rows = client
        .query(
            "SELECT CASE WHEN d.name = '' THEN d.device_id ELSE d.name END,
                    coalesce(d.last_seen_at > now() - make_interval(secs => $2), false),
                    coalesce(d.config_version >= t.config_version, false)
             FROM devices d JOIN tenants t ON t.tenant_id = d.tenant_id
             WHERE d.tenant_id = $1 AND d.revoked_at IS NULL
             ORDER BY d.enrolled_at",
            &[&tenant, &OFFLINE_AFTER_SECS],
        )
        .await
        .map_err(super::session::busy)?;
    rows.iter()
        .map(|r| {
            Ok(BoxState {
                name: r.try_get(0)?,
                online: r.try_get(1)?,
                current: r.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(super::session::busy)
}

#[derive(Serialize)]
struct Preview {
    greeting: String,
    walk_in: String,
    call: String,
    tv: String,
}

/// The sentences and the TV as the box would make them from these settings.
fn preview(
    stored: &Stored,
    name: &str,
    agent: &str,
    settings: &Settings,
    branding: &Branding,
) -> Preview {
    let mut templates = stored.vertical.templates.clone();
    settings.templates.apply(&mut templates);
    let terms = &stored.vertical.terms;
    let mut values = std::collections::BTreeMap::new();
    values.insert("practice", name.to_string());
    values.insert("agent", agent.to_string());
    values.insert("customer", terms.customer.clone());
    values.insert("appointment", terms.appointment.clone());
    values.insert("provider_word", terms.provider.clone());
    // As the box greets: no more than the lobby's name mode shows.
    values.insert(
        "first_name",
        settings.name_display.greet("Sarah", "Jones", 12),
    );
    values.insert("provider", terms.provider_phrase(Some("Lee")));
    let shown = settings.name_display.show("Sarah", "Jones", 12);
    values.insert("display_name", shown.clone());
    let room = settings.rooms.first().cloned().unwrap_or_default();
    values.insert("room", room);
    let call = fill(&templates.call, &values);
    let idle = templates
        .idle_messages
        .iter()
        .chain(branding.messages.iter())
        .next()
        .map(|m| fill(m, &values))
        .unwrap_or_default();
    let waiting = vec![
        shown,
        settings.name_display.show("Omar", "Haddad", 13),
        settings.name_display.show("Mei", "Chen", 14),
    ];
    Preview {
        greeting: fill(&templates.welcome, &values),
        walk_in: fill(&templates.welcome_walk_in, &values),
        tv: tv_preview::data_uri(&Scene {
            practice: name,
            branding,
            waiting: &waiting,
            call: &call,
            idle: &idle,
        }),
        call,
    }
}

struct Shown<'a> {
    who: &'a SignedIn,
    stored: &'a Stored,
    form: Form,
    preview: Option<Preview>,
    error: Option<String>,
    saved: bool,
}

async fn render(state: &AppState, status: StatusCode, s: Shown<'_>) -> Result<Response, Refused> {
    let tenant = s.who.tenant()?;
    let boxes = boxes(state, tenant).await?;
    let zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.to_string())
        .filter(|n| n.contains('/') || n == "UTC")
        .collect();
    let v = &s.stored.vertical.templates;
    Ok(page(
        status,
        "practice.html",
        minijinja::context! {
            who => super::who(s.who, "/practice"),
            f => s.form,
            preview => s.preview,
            error => s.error,
            saved => s.saved,
            boxes,
            zones,
            voices => VOICES.iter().map(|(id, label)| minijinja::context! { id, label }).collect::<Vec<_>>(),
            displays => NameDisplay::ALL.iter().map(|d| minijinja::context! {
                id => d.as_str(),
                label => match d {
                    NameDisplay::FirstLastInitial => "First name and last initial (Sarah J.)",
                    NameDisplay::Initials => "Initials only (S. J.)",
                    NameDisplay::Ticket => "Ticket number only (Ticket 12)",
                },
            }).collect::<Vec<_>>(),
            defaults => minijinja::context! {
                welcome => v.welcome, welcome_walk_in => v.welcome_walk_in, call => v.call,
            },
            vertical => s.stored.vertical.label,
            logo => (!s.stored.branding.logo_svg.is_empty())
                .then(|| super::svg_data_uri(&s.stored.branding.logo_svg)),
            max_logo_mb => super::logo::MAX_UPLOAD / (1024 * 1024),
        },
    ))
}

#[derive(Deserialize)]
struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

async fn show(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<Saved>,
) -> Response {
    stored_page(&state, &who, StatusCode::OK, q.saved.is_some(), None).await
}

/// The page with the stored practice and `error` said at its top (a logo
/// that was refused: the settings form itself was not sent).
pub(super) async fn page_with_error(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    error: String,
) -> Response {
    stored_page(state, who, status, false, Some(error)).await
}

async fn stored_page(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    saved: bool,
    error: Option<String>,
) -> Response {
    let result = async {
        let stored = load(state, who.tenant()?).await?;
        let form = Form::of(&stored);
        let p = preview(
            &stored,
            &stored.name,
            &stored.agent_name,
            &stored.settings,
            &stored.branding,
        );
        render(
            state,
            status,
            Shown {
                who,
                stored: &stored,
                form,
                preview: Some(p),
                error,
                saved,
            },
        )
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn change(State(state): State<Arc<AppState>>, change: Change<Form>) -> Response {
    let Change { who, from, form } = change;
    let result = async {
        let tenant = who.require_owner()?.to_string();
        let stored = load(&state, &tenant).await?;
        let (name, agent_name, agent_voice, settings, branding) = match form.read(&stored) {
            Ok(parts) => parts,
            Err(why) => {
                return render(
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Shown {
                        who: &who,
                        stored: &stored,
                        form,
                        preview: None,
                        error: Some(why),
                        saved: false,
                    },
                )
                .await;
            }
        };
        if form.action != "save" {
            let p = preview(&stored, &name, &agent_name, &settings, &branding);
            return render(
                &state,
                StatusCode::OK,
                Shown {
                    who: &who,
                    stored: &stored,
                    form,
                    preview: Some(p),
                    error: None,
                    saved: false,
                },
            )
            .await;
        }
        let fields = TenantFields {
            name: Some(name),
            agent_name: Some(agent_name),
            agent_voice: Some(agent_voice),
            settings: Some(serde_json::to_value(&settings).map_err(|_| Refused::Busy)?),
            branding: Some(serde_json::to_value(&branding).map_err(|_| Refused::Busy)?),
            ..Default::default()
        };
        let mut client = state.pool.get().await.map_err(|_| Refused::Busy)?;
        let tx = client.transaction().await.map_err(super::session::busy)?;
        match tenants::update(&*tx, &tenant, fields, &who.actor(), Some(&from)).await {
            Ok(_) => {}
            // The form's own check passed; the stored one is the same, so
            // this is a mismatch between them, said plainly.
            Err(AdminError::Invalid(why)) => return Err(Refused::BadForm(why)),
            Err(e) => return Err(super::session::busy(e)),
        }
        tx.commit().await.map_err(super::session::busy)?;
        Ok(Redirect::to("/practice?saved=1").into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
