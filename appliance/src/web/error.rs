//! Errors as people see them: a plain-language sentence and the right
//! status code; HTML for pages, JSON for the front desk's API. Details of
//! internal failures go to the log (without patient data), never to the page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
    pub json: bool,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
            json: false,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn forbidden(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::FORBIDDEN, message)
    }
    pub fn too_many() -> WebError {
        WebError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts from this device. Please wait a minute and try again.",
        )
    }
    pub fn internal() -> WebError {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again, or see the front desk.",
        )
    }
    /// Answer as JSON (front desk API).
    pub fn json(mut self) -> WebError {
        self.json = true;
        self
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> WebError {
        tracing::error!(error = %e, "storage failure");
        WebError::internal()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.json {
            return (self.status, axum::Json(json!({"error": self.message}))).into_response();
        }
        let body = crate::web::templates::render(
            "error.html",
            minijinja::context! { message => self.message, status => self.status.as_u16() },
        )
        .unwrap_or_else(|_| self.message.clone());
        (self.status, Html(body)).into_response()
    }
}

/// Maps a form/JSON/query extraction failure to a plain sentence.
pub fn rejection_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "That was too much data to send. Please shorten it.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Please send the form from the page.",
        _ => "Some of the information sent was missing or not in the expected shape.",
    }
}
