//! What every page and API of the box shares: plain-language errors
//! ([`error`]), the body extractors that explain their rejections, the body
//! size limit, page templates, rate limits and the same-origin check.
//!
//! Where requests enter is each feature's own `http.rs` (`routes()`): the
//! patient's phone in `checkin::http` (`/c/…`, `/status/…`), the lobby TVs
//! in `display::http` (`/tv…`), the front desk in `desk::http` (`/desk…`),
//! Cast in `cast::http` and voice in in `listen::http`. [`server`] merges
//! them, serves operations (`/healthz`, `/metrics`) and the static assets,
//! and wraps every route in the same layers.

pub mod error;
pub mod https;
pub mod limits;
pub mod reachable;
pub mod server;
pub mod templates;

use axum::extract::FromRequest;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::http::{HeaderMap, header};

use error::{WebError, rejection_message};

pub type WebResult<T> = Result<T, WebError>;

/// JSON body whose problems are explained in plain words.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(WebError))]
pub struct JsonBody<T>(pub T);

impl From<JsonRejection> for WebError {
    fn from(r: JsonRejection) -> WebError {
        WebError::new(r.status(), rejection_message(r.status())).json()
    }
}

/// Form body whose problems are explained in plain words.
#[derive(FromRequest)]
#[from_request(via(axum::Form), rejection(WebError))]
pub struct FormBody<T>(pub T);

impl From<FormRejection> for WebError {
    fn from(r: FormRejection) -> WebError {
        WebError::new(r.status(), rejection_message(r.status()))
    }
}

/// Largest request body the box accepts: forms here are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Cross-site form posts carry a foreign Origin; refuse them. Requests
/// without Origin (old browsers, curl) fall back to the other checks.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    origin_host == host
}

/// The address this client reached us by (IP or mDNS name), for links it
/// will show; falls back to the configured public URL, whose scheme it
/// keeps (with HTTPS on, every page is reached over HTTPS).
pub fn base_url(headers: &HeaderMap, fallback: &str) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() < 256
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(|h| {
            let scheme = if fallback.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{h}")
        })
        .unwrap_or_else(|| fallback.trim_end_matches('/').to_string())
}
