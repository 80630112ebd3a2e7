//! The lobby's live state and the fan-out to every TV, status page and
//! listener (front desk, and the voice once it exists).
//!
//! Each change gets the next sequence number and is serialised once; every
//! subscriber has its own bounded queue (a broadcast receiver), so a slow or
//! dead TV only ever loses its own frames, and on falling behind it is sent
//! a fresh snapshot instead.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;

use crate::practice::Practice;
use crate::store::{CheckinRow, CheckinStatus};

/// Frames a TV may lag behind before it is resynchronised with a snapshot.
const TV_QUEUE: usize = 256;
const EVENT_QUEUE: usize = 1024;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueEntry {
    pub id: String,
    /// What the lobby may see: "Sarah J.", "S. J." or "Ticket 12".
    pub name: String,
    pub status: CheckinStatus,
    pub room: Option<String>,
    pub arrived_at: i64,
}

impl QueueEntry {
    /// How a check-in appears in the lobby (first name and last initial,
    /// initials or a ticket, as the practice chose).
    pub fn of(practice: &Practice, c: &CheckinRow) -> QueueEntry {
        QueueEntry {
            id: c.checkin_id.clone(),
            name: practice.lobby_name(&c.first_name, &c.last_name, c.ticket),
            status: c.status,
            room: c.room.clone(),
            arrived_at: c.arrived_at,
        }
    }
}

/// What a TV needs to brand itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PracticeView {
    pub name: String,
    pub logo_svg: String,
    pub primary_color: String,
    pub accent_color: String,
    pub background_color: String,
    pub text_color: String,
    pub messages: Vec<String>,
    pub customers: String,
    pub timezone: String,
}

impl PracticeView {
    pub fn of(p: &Practice) -> PracticeView {
        let b = &p.config.branding;
        PracticeView {
            name: p.config.name.clone(),
            logo_svg: b.logo_svg.clone(),
            primary_color: b.primary_color.clone(),
            accent_color: b.accent_color.clone(),
            background_color: b.background_color.clone(),
            text_color: b.text_color.clone(),
            messages: p.idle_messages(),
            customers: p.vertical.terms.customers.clone(),
            timezone: p.config.settings.timezone.clone(),
        }
    }
}

/// A serialised frame for TVs.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    pub json: Arc<str>,
}

/// What happened in the lobby, for in-process listeners.
#[derive(Debug, Clone)]
pub enum LobbyEvent {
    Arrived {
        checkin_id: String,
        lobby_name: String,
        /// The greeting to speak, e.g. "Welcome, Sarah! Doctor Lee will be with you shortly."
        greeting: String,
    },
    StatusChanged {
        checkin_id: String,
        status: CheckinStatus,
        room: Option<String>,
        /// For calls: "Sarah J., please come to Room 2."
        announcement: Option<String>,
    },
    PracticeChanged,
}

/// Instructions to individual TV connections.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Revoked { display_id: String },
}

struct State {
    seq: u64,
    practice: PracticeView,
    queue: Vec<QueueEntry>,
}

pub struct Hub {
    state: Mutex<State>,
    frames: broadcast::Sender<Frame>,
    events: broadcast::Sender<LobbyEvent>,
    control: broadcast::Sender<Control>,
}

impl Hub {
    pub fn new(practice: PracticeView, queue: Vec<QueueEntry>) -> Hub {
        Hub {
            state: Mutex::new(State {
                seq: 0,
                practice,
                queue,
            }),
            frames: broadcast::channel(TV_QUEUE).0,
            events: broadcast::channel(EVENT_QUEUE).0,
            control: broadcast::channel(64).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue half-edited in
        // a way worse than showing it, so recover rather than cascade.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The full state, and a receiver that continues exactly after it.
    pub fn subscribe_tv(&self) -> (Frame, broadcast::Receiver<Frame>) {
        let state = self.lock();
        (snapshot_frame(&state), self.frames.subscribe())
    }

    pub fn snapshot(&self) -> Frame {
        snapshot_frame(&self.lock())
    }

    pub fn events(&self) -> broadcast::Receiver<LobbyEvent> {
        self.events.subscribe()
    }

    pub fn control(&self) -> broadcast::Receiver<Control> {
        self.control.subscribe()
    }

    pub fn tv_subscribers(&self) -> usize {
        self.frames.receiver_count()
    }

    fn emit(&self, state: &mut State, body: serde_json::Value) {
        state.seq += 1;
        let mut body = body;
        body["seq"] = json!(state.seq);
        let frame = Frame {
            seq: state.seq,
            json: Arc::from(body.to_string()),
        };
        // No receivers is fine: nobody is watching.
        let _ = self.frames.send(frame);
    }

    pub fn arrived(&self, entry: QueueEntry, welcome: String, greeting: String) {
        let checkin_id = entry.id.clone();
        let lobby_name = entry.name.clone();
        {
            let mut state = self.lock();
            state.queue.retain(|e| e.id != entry.id);
            state.queue.push(entry.clone());
            self.emit(
                &mut state,
                json!({"type": "arrived", "entry": entry, "welcome": welcome}),
            );
        }
        let _ = self.events.send(LobbyEvent::Arrived {
            checkin_id,
            lobby_name,
            greeting,
        });
    }

    /// No speaker works: TVs play this announcement themselves.
    pub fn speak(&self, audio_path: &str) {
        let mut state = self.lock();
        self.emit(&mut state, json!({"type": "speak", "audio": audio_path}));
    }

    /// A check-in moved on (called, seen, no-show, back to waiting).
    pub fn status_changed(&self, entry: QueueEntry, announcement: Option<String>) {
        let (id, status, room) = (entry.id.clone(), entry.status, entry.room.clone());
        {
            let mut state = self.lock();
            let body = match status {
                CheckinStatus::Seen | CheckinStatus::NoShow => {
                    state.queue.retain(|e| e.id != id);
                    json!({"type": "removed", "id": id})
                }
                CheckinStatus::Called | CheckinStatus::Waiting => {
                    match state.queue.iter_mut().find(|e| e.id == id) {
                        Some(e) => *e = entry.clone(),
                        None => state.queue.push(entry.clone()),
                    }
                    let kind = if status == CheckinStatus::Called {
                        "called"
                    } else {
                        "updated"
                    };
                    json!({"type": kind, "entry": entry})
                }
            };
            self.emit(&mut state, body);
        }
        let _ = self.events.send(LobbyEvent::StatusChanged {
            checkin_id: id,
            status,
            room,
            announcement,
        });
    }

    /// New branding or settings: TVs get a full snapshot.
    pub fn practice_changed(&self, practice: PracticeView, queue: Vec<QueueEntry>) {
        {
            let mut state = self.lock();
            state.practice = practice;
            state.queue = queue;
            state.seq += 1;
            let frame = snapshot_frame(&state);
            let _ = self.frames.send(frame);
        }
        let _ = self.events.send(LobbyEvent::PracticeChanged);
    }

    pub fn revoke(&self, display_id: &str) {
        let _ = self.control.send(Control::Revoked {
            display_id: display_id.to_string(),
        });
    }
}

fn snapshot_frame(state: &State) -> Frame {
    let body = json!({
        "type": "snapshot",
        "seq": state.seq,
        "practice": state.practice,
        "queue": state.queue,
    });
    Frame {
        seq: state.seq,
        json: Arc::from(body.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> PracticeView {
        PracticeView {
            name: "P".into(),
            logo_svg: String::new(),
            primary_color: String::new(),
            accent_color: String::new(),
            background_color: String::new(),
            text_color: String::new(),
            messages: vec![],
            customers: "patients".into(),
            timezone: "UTC".into(),
        }
    }

    fn entry(id: &str) -> QueueEntry {
        QueueEntry {
            id: id.into(),
            name: "Sarah J.".into(),
            status: CheckinStatus::Waiting,
            room: None,
            arrived_at: 1,
        }
    }

    #[test]
    fn subscribers_continue_right_after_their_snapshot() {
        let hub = Hub::new(view(), vec![]);
        hub.arrived(entry("a"), "Welcome".into(), "Welcome".into());
        let (snap, mut rx) = hub.subscribe_tv();
        assert_eq!(snap.seq, 1);
        assert!(snap.json.contains("Sarah J."));
        let mut called = entry("a");
        called.status = CheckinStatus::Called;
        called.room = Some("Room 2".into());
        hub.status_changed(called, None);
        let f = rx.try_recv().unwrap();
        assert_eq!(f.seq, 2);
        assert!(f.json.contains("\"called\"") && f.json.contains("Room 2"));
    }

    #[test]
    fn a_lagging_tv_is_told_it_fell_behind_not_blocking_others() {
        let hub = Hub::new(view(), vec![]);
        let (_, mut slow) = hub.subscribe_tv();
        for i in 0..(TV_QUEUE + 10) {
            hub.arrived(entry(&i.to_string()), String::new(), String::new());
        }
        assert!(matches!(
            slow.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        assert_eq!(hub.snapshot().seq as usize, TV_QUEUE + 10);
    }
}
