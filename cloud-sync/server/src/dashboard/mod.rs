//! The dashboard owners reach from a browser, served by `sos-cloud serve`
//! beside the sync API.
//!
//! * [`session`]: who is signed in; the CSRF check every change passes.
//! * [`login`]: `GET/POST /login`, `POST /logout`.
//! * [`password`]: `GET/POST /password`, setting a password with a
//!   single-use link (the welcome email's).
//! * [`reset`]: `GET/POST /password/forgot`, a reset link by email.
//! * [`home`]: `GET /`, the practice at a glance; [`billing`]: the way to
//!   Stripe's customer portal.
//! * [`team`]: `/team`, the people who sign in: owners invite staff and
//!   remove them.
//! * [`practice`]: `/practice`, the practice's settings and branding, with
//!   a preview ([`tv_preview`]: the lobby TV in miniature); [`logo`]: its
//!   logo, uploaded, checked and re-encoded.
//! * [`boxes`]: `/boxes`, the boxes as they report themselves; set-up
//!   tokens and revocation.
//! * [`checkins`]: `/checkins`, a day's check-ins, waits, no-shows and
//!   the 30-day [`charts`].
//! * [`audit`]: `/audit` and `/audit.csv`, the practice's audit log.
//! * [`export`]: `/export.zip`, all of the practice's data, streamed.
//! * [`fleet`]: `/fleet`, the operators' view of every practice.
//! * [`log_in_as`]: an operator logged in as a practice, for a while.
//! * [`routes`]: every route with who it is for, one builder for the
//!   router and the table the isolation test walks.
//!
//! Pages are server-rendered (minijinja, auto-escaped) from
//! `assets/cloud/templates/`, styled by the box's own stylesheet so the
//! dashboard looks like the same product, with a strict CSP (no script, no
//! inline style, nothing from another origin) and `no-store`.

pub mod audit;
pub mod billing;
pub mod boxes;
pub mod charts;
pub mod checkins;
pub mod export;
pub mod fleet;
pub mod home;
pub mod log_in_as;
pub mod login;
pub mod logo;
pub mod password;
pub mod practice;
pub mod reset;
pub mod routes;
pub mod session;
pub mod team;
pub mod tv_preview;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;

use crate::api::AppState;

/// A page template from `assets/cloud/templates/`, built into the binary.
macro_rules! template {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../../assets/cloud/templates/", $name)),
        )
    };
}

const TEMPLATES: &[(&str, &str)] = &[
    template!("base.html"),
    template!("message.html"),
    template!("password.html"),
    template!("forgot.html"),
    template!("login.html"),
    template!("home.html"),
    template!("team.html"),
    template!("fleet.html"),
    template!("practice.html"),
    template!("boxes.html"),
    template!("checkins.html"),
    template!("audit.html"),
    template!("log_in_as.html"),
];

/// The box's stylesheet, then the dashboard's own additions: one product.
const STYLE: &str = concat!(
    include_str!("../../../../assets/web/static/style.css"),
    include_str!("../../../../assets/cloud/static/dashboard.css"),
);

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Forms are small; the largest is a practice's settings.
const MAX_FORM_BYTES: usize = 64 * 1024;

fn all_routes() -> routes::Routes {
    let r = routes::Routes::new();
    let r = password::routes(r);
    let r = login::routes(r);
    let r = reset::routes(r);
    let r = home::routes(r);
    let r = billing::routes(r);
    let r = team::routes(r);
    let r = practice::routes(r);
    let r = logo::routes(r);
    let r = boxes::routes(r);
    let r = checkins::routes(r);
    let r = audit::routes(r);
    let r = export::routes(r);
    let r = log_in_as::routes(r);
    fleet::routes(r)
}

pub fn routes() -> Router<Arc<AppState>> {
    let (router, _) = all_routes().into_parts();
    router
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .route("/assets/style.css", get(style))
}

/// Every dashboard route and who it is for, from the same builder that
/// made the router (the isolation test walks it).
pub fn route_table() -> Vec<routes::RouteInfo> {
    all_routes().into_parts().1
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "a dashboard template does not parse");
            }
        }
        env
    })
}

/// A rendered page with the dashboard's headers.
pub fn page(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    let html = match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(template = name, error = %e, "cannot render a dashboard page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response();
        }
    };
    let mut response = (status, axum::response::Html(html)).into_response();
    let h = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The dashboard's sections, as the header links them.
const PRACTICE_NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/checkins", "Check-ins"),
    ("/practice", "Practice"),
    ("/boxes", "Boxes"),
    ("/team", "Team"),
];
/// Only owners read the audit log (it holds the staff's addresses).
const OWNER_NAV: &[(&str, &str)] = &[("/audit", "Audit log")];
const OPERATOR_NAV: &[(&str, &str)] = &[("/fleet", "Fleet")];

/// The signed-in person as the page templates see them (the header's
/// links, name and sign-out form); `here` is the page's own path.
pub fn who(who: &session::SignedIn, here: &str) -> minijinja::Value {
    let owner = who.acts_as_owner();
    let sections: &[&[(&str, &str)]] = match (who.role, &who.acting) {
        (session::Role::Operator, None) => &[OPERATOR_NAV],
        // Logged in as a practice: its pages as its owner sees them, and
        // the way back.
        (session::Role::Operator, Some(_)) => &[PRACTICE_NAV, OWNER_NAV, OPERATOR_NAV],
        (session::Role::Owner, _) => &[PRACTICE_NAV, OWNER_NAV],
        (session::Role::Staff, _) => &[PRACTICE_NAV],
    };
    let nav: Vec<minijinja::Value> = sections
        .iter()
        .flat_map(|s| s.iter())
        .map(|(href, label)| minijinja::context! { href, label, current => *href == here })
        .collect();
    minijinja::context! {
        email => who.email,
        role => who.role,
        csrf => who.csrf,
        owner,
        acting => who.acting,
        nav,
    }
}

/// An SVG as an `<img src>`: the pages' CSP allows `data:` images and no
/// inline style, so charts, QR codes and the TV miniature go this way.
pub fn svg_data_uri(svg: &str) -> String {
    use base64::Engine;
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

/// The practice's time zone, for its days and clock times (UTC when the
/// name is not one this build knows).
pub async fn practice_zone(
    client: &impl tokio_postgres::GenericClient,
    tenant: &str,
) -> Result<(String, jiff::tz::TimeZone), session::Refused> {
    let zone: String = client
        .query_one(
            "SELECT coalesce(settings->>'timezone', 'UTC') FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(session::busy)?;
    match jiff::tz::TimeZone::get(&zone) {
        Ok(tz) => Ok((zone, tz)),
        Err(_) => Ok(("UTC".into(), jiff::tz::TimeZone::UTC)),
    }
}

/// A page that only says something (done, or what went wrong).
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        "message.html",
        minijinja::context! { title, message, error => !status.is_success() },
    )
}
