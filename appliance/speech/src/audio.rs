//! The box's speakers and microphones as the audio host (ALSA) offers them:
//! listing for `sos-appliance audio-devices` / `microphones`, and finding the
//! configured one. Shared by the lobby voice (`voice`) and voice in
//! (`listen`).

use cpal::traits::{DeviceTrait, HostTrait};
use serde::Serialize;

/// Which side of the audio host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Speakers.
    Output,
    /// Microphones.
    Input,
}

impl Direction {
    fn noun(self) -> &'static str {
        match self {
            Direction::Output => "output device",
            Direction::Input => "microphone",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Direction::Output => "audio-devices",
            Direction::Input => "microphones",
        }
    }
}

/// One device as the CLI lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

fn default_device(host: &cpal::Host, dir: Direction) -> Option<cpal::Device> {
    match dir {
        Direction::Output => host.default_output_device(),
        Direction::Input => host.default_input_device(),
    }
}

fn devices(host: &cpal::Host, dir: Direction) -> Result<Vec<cpal::Device>, String> {
    let list = match dir {
        Direction::Output => host.output_devices().map(|d| d.collect()),
        Direction::Input => host.input_devices().map(|d| d.collect()),
    };
    list.map_err(|e| e.to_string())
}

/// The devices on one side, with the default marked.
pub fn list(dir: Direction) -> Result<Vec<DeviceInfo>, String> {
    let host = cpal::default_host();
    let default_id = default_device(&host, dir)
        .and_then(|d| d.id().ok())
        .map(|id| id.to_string());
    Ok(devices(&host, dir)?
        .into_iter()
        .map(|d| {
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            DeviceInfo {
                name: d.to_string(),
                is_default: default_id.as_deref() == Some(id.as_str()),
                id,
            }
        })
        .collect())
}

/// The device `selector` names (a cpal id such as `alsa:default`, the id
/// alone, or the name), or the default when None / empty / "default".
pub fn find(dir: Direction, selector: Option<&str>) -> Result<cpal::Device, String> {
    let host = cpal::default_host();
    match selector
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "default")
    {
        None => default_device(&host, dir).ok_or_else(|| format!("no default {}", dir.noun())),
        Some(sel) => devices(&host, dir)?
            .into_iter()
            .find(|d| {
                d.id()
                    .map(|id| id.to_string() == sel || id.id() == sel)
                    .unwrap_or(false)
                    || d.to_string() == sel
            })
            .ok_or_else(|| {
                format!(
                    "no {} \"{sel}\" (see `sos-appliance {}`)",
                    dir.noun(),
                    dir.command()
                )
            }),
    }
}
