//! What the box tells the cloud about itself (`POST /v1/report`), for the
//! owner's boxes page: its version, events waiting, its TVs, the speaker
//! and the microphone. Counts and device states only, no patient data.

use cloud_sync::wire::{BoxReport, PartReport, TvReport};

use crate::clinic::Clinic;

/// The box's software version, as `sos-appliance --version` prints it.
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn of(clinic: &Clinic) -> BoxReport {
    let sync = super::status(clinic).await;
    let tvs = match crate::display::statuses(&clinic.core, &clinic.pairings).await {
        Ok(list) => list
            .into_iter()
            .filter(|d| d.row.revoked_at.is_none())
            .map(|d| TvReport {
                name: d.row.name,
                online: d.online,
                last_seen_at: d.last_seen_ms,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the TVs for the report");
            Vec::new()
        }
    };
    let speaker = match clinic.voice.get().map(|v| v.status()) {
        Some(s) => PartReport {
            detail: s.reason.or(s.device),
            state: s.state,
        },
        None => PartReport {
            state: "off".into(),
            detail: Some("voice out is not started".into()),
        },
    };
    BoxReport {
        software_version: SOFTWARE_VERSION.into(),
        events_waiting: sync.events_waiting,
        tvs,
        speaker,
        microphone: microphone(clinic),
    }
}

#[cfg(feature = "listen")]
fn microphone(clinic: &Clinic) -> PartReport {
    match clinic.listener.get().map(|l| l.status()) {
        Some(s) => PartReport {
            detail: s.reason.or(s.microphone),
            state: s.state,
        },
        None => off_microphone(),
    }
}

#[cfg(not(feature = "listen"))]
fn microphone(_: &Clinic) -> PartReport {
    off_microphone()
}

fn off_microphone() -> PartReport {
    PartReport {
        state: "off".into(),
        detail: Some("voice in is not started".into()),
    }
}
