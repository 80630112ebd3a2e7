//! The dashboard owners reach from a browser, served by `sos-cloud serve`
//! beside the sync API. It starts with the page the welcome email links to:
//!
//! * [`password`]: `GET/POST /password`, setting a password with a
//!   single-use link.
//!
//! Pages are server-rendered (minijinja, auto-escaped) from
//! `assets/cloud/templates/`, styled by the box's own stylesheet so the
//! dashboard looks like the same product, with a strict CSP (no script, no
//! inline style, nothing from another origin) and `no-store`.

pub mod password;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;

use crate::api::AppState;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../../assets/cloud/templates/base.html"),
    ),
    (
        "password.html",
        include_str!("../../../../assets/cloud/templates/password.html"),
    ),
    (
        "message.html",
        include_str!("../../../../assets/cloud/templates/message.html"),
    ),
];

const STYLE: &str = include_str!("../../../../assets/web/static/style.css");

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(password::routes())
        .route("/assets/style.css", get(style))
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

/// A page that only says something (done, or what went wrong).
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        "message.html",
        minijinja::context! { title, message, error => !status.is_success() },
    )
}
