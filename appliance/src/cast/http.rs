//! Front-desk JSON routes under `/desk/api/cast`: the TVs the box found,
//! "Show lobby display here", and stop. Staff session + CSRF via
//! [`StaffApi`].

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::{CastError, CastService};
use crate::clinic::Clinic;
use crate::desk::StaffApi;
use crate::web::WebResult;
use crate::web::error::WebError;

pub fn routes() -> Router<Arc<Clinic>> {
    Router::new()
        .route("/desk/api/cast", get(list))
        .route("/desk/api/cast/{id}/show", post(show))
        .route("/desk/api/cast/{id}/stop", post(stop))
}

impl From<CastError> for WebError {
    fn from(e: CastError) -> WebError {
        match e {
            CastError::Store(s) => WebError::from(s).json(),
            CastError::UnknownDevice => WebError::not_found(e.to_string()).json(),
            CastError::Off => WebError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).json(),
            CastError::NotInPlan => WebError::new(StatusCode::FORBIDDEN, e.to_string()).json(),
            other => WebError::bad_request(other.to_string()).json(),
        }
    }
}

fn service(clinic: &Clinic) -> Result<Arc<CastService>, WebError> {
    clinic.cast.service().ok_or_else(|| CastError::Off.into())
}

/// Discovered TVs and chosen TVs, each with its plain-language status.
async fn list(_staff: StaffApi, State(clinic): State<Arc<Clinic>>) -> WebResult<Response> {
    let Some(svc) = clinic.cast.service() else {
        return Ok(Json(json!({
            "enabled": false,
            "discovery": false,
            "message": "Casting is off on this box.",
            "devices": [],
        }))
        .into_response());
    };
    let targets = svc.targets();
    let mut devices: Vec<serde_json::Value> = svc
        .devices
        .list()
        .into_iter()
        .map(|d| {
            let status = targets
                .iter()
                .find(|(t, _)| t.device_id == d.id)
                .map(|(_, s)| s.clone());
            json!({
                "id": d.id, "name": d.name, "model": d.model,
                "address": d.address.to_string(), "port": d.port,
                "online": true, "chosen": status.is_some(), "status": status,
            })
        })
        .collect();
    // Chosen TVs that are not announcing themselves right now.
    for (t, s) in &targets {
        if svc.devices.get(&t.device_id).is_none() {
            devices.push(json!({
                "id": t.device_id, "name": t.name, "model": t.model,
                "address": t.host, "port": t.port,
                "online": false, "chosen": true, "status": s,
            }));
        }
    }
    Ok(Json(json!({
        "enabled": true,
        "discovery": svc.mdns_running(),
        "app_id": svc.config().app_id,
        "devices": devices,
    }))
    .into_response())
}

async fn show(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let svc = service(&clinic)?;
    let t = svc
        .show(&id, &format!("staff:{}", staff.staff_id))
        .await
        .map_err(WebError::from)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": t.device_id, "name": t.name, "status": svc.status_of(&id)})),
    )
        .into_response())
}

async fn stop(
    staff: StaffApi,
    State(clinic): State<Arc<Clinic>>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let svc = service(&clinic)?;
    svc.stop(&id, &format!("staff:{}", staff.staff_id))
        .await
        .map_err(WebError::from)?;
    Ok(Json(json!({"id": id, "stopped": true})).into_response())
}
