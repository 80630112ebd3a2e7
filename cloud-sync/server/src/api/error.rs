//! Every error answer of the sync API: a status, a stable code
//! ([`cloud_sync::wire::codes`]) and a sentence for the person reading the
//! box's log. Database details are logged here without row values, never
//! sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cloud_sync::auth::AuthError;
use cloud_sync::wire::{ErrorBody, codes};

use crate::db;
use crate::devices::DeviceError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::INTERNAL,
            "the cloud could not complete the request; try again shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody {
                error: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<db::DbError> for ApiError {
    fn from(e: db::DbError) -> Self {
        match &e {
            // Constraint details may hold row values (db::describe).
            db::DbError::Postgres(pg) => {
                tracing::error!(error = %db::describe(pg), "database error");
            }
            other => tracing::error!(error = %other, "database error"),
        }
        ApiError::internal()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match e {
            AuthError::ClockSkew { .. } => codes::CLOCK_SKEW,
            AuthError::BadSignature => codes::BAD_SIGNATURE,
            _ => codes::UNAUTHENTICATED,
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
    }
}

impl From<DeviceError> for ApiError {
    fn from(e: DeviceError) -> Self {
        let (status, code) = match e {
            DeviceError::Auth(a) => return a.into(),
            DeviceError::Db(d) => return d.into(),
            DeviceError::StoredKey(_) | DeviceError::Report(_) => {
                tracing::error!(error = %e, "device");
                return ApiError::internal();
            }
            DeviceError::Unknown => (StatusCode::UNAUTHORIZED, codes::UNAUTHENTICATED),
            DeviceError::Revoked => (StatusCode::FORBIDDEN, codes::DEVICE_REVOKED),
            DeviceError::Replayed => (StatusCode::CONFLICT, codes::REPLAYED),
            DeviceError::TokenInvalid => (StatusCode::UNAUTHORIZED, codes::TOKEN_INVALID),
            DeviceError::KeyTaken => (StatusCode::CONFLICT, codes::CONFLICT),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<crate::certificates::CertError> for ApiError {
    fn from(e: crate::certificates::CertError) -> Self {
        use crate::certificates::CertError;
        match e {
            CertError::Db(d) => d.into(),
            CertError::BadRequest(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, codes::BAD_REQUEST, m)
            }
            // The CA or the DNS failing is the cloud's trouble: the box
            // keeps what it has and asks again later.
            CertError::Acme(_) | CertError::Dns(_) => {
                tracing::warn!(error = %e, "box certificate");
                ApiError::new(StatusCode::BAD_GATEWAY, codes::INTERNAL, e.to_string())
            }
        }
    }
}
