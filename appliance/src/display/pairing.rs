//! Pairing a TV: an unpaired TV shows a short code; staff approve it (from
//! the front-desk page or by scanning the TV's QR with a phone); the TV then
//! receives its own revocable token. Codes live only in memory and expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::oneshot;

/// Long enough to walk to the desk; short enough that old codes are useless.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// No 0/O, 1/I/L: codes are read off a TV across a room.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 6;

/// What an approved TV receives.
#[derive(Debug, Clone)]
pub struct Grant {
    pub display_id: String,
    pub name: String,
    pub token: String,
}

struct Pending {
    created: Instant,
    grant: oneshot::Sender<Grant>,
}

/// Connected TVs, for "online" and last-seen on the desk page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveTv {
    pub connections: usize,
    pub last_seen_ms: i64,
}

#[derive(Default)]
pub struct Pairings {
    pending: Mutex<HashMap<String, Pending>>,
    live: Mutex<HashMap<String, LiveTv>>,
}

pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl Pairings {
    /// A fresh code for a TV that is waiting to be paired.
    pub fn open(&self) -> (String, oneshot::Receiver<Grant>) {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.created.elapsed() < CODE_TTL && !p.grant.is_closed());
        let mut rng = rand::rng();
        let code = loop {
            let c: String = (0..CODE_LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            if !pending.contains_key(&c) {
                break c;
            }
        };
        pending.insert(
            code.clone(),
            Pending {
                created: Instant::now(),
                grant: tx,
            },
        );
        (code, rx)
    }

    /// True if a TV is showing this code right now.
    pub fn is_waiting(&self, code: &str) -> bool {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .get(&normalise_code(code))
            .is_some_and(|p| p.created.elapsed() < CODE_TTL && !p.grant.is_closed())
    }

    /// Claims the code for approval; the caller then sends the grant.
    pub fn claim(&self, code: &str) -> Option<oneshot::Sender<Grant>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let p = pending.remove(&normalise_code(code))?;
        (p.created.elapsed() < CODE_TTL && !p.grant.is_closed()).then_some(p.grant)
    }

    pub fn forget(&self, code: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.remove(code);
    }

    pub fn tv_connected(&self, display_id: &str, now_ms: i64) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let e = live.entry(display_id.to_string()).or_insert(LiveTv {
            connections: 0,
            last_seen_ms: now_ms,
        });
        e.connections += 1;
        e.last_seen_ms = now_ms;
    }

    pub fn tv_seen(&self, display_id: &str, now_ms: i64) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = live.get_mut(display_id) {
            e.last_seen_ms = now_ms;
        }
    }

    pub fn tv_disconnected(&self, display_id: &str) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = live.get_mut(display_id) {
            e.connections = e.connections.saturating_sub(1);
        }
    }

    pub fn live(&self, display_id: &str) -> Option<LiveTv> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(display_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_claimed_once_and_typed_loosely() {
        let p = Pairings::default();
        let (code, _rx) = p.open();
        assert_eq!(code.len(), CODE_LEN);
        let typed = format!(" {}-{} ", &code[..3].to_lowercase(), &code[3..]);
        assert!(p.is_waiting(&typed));
        assert!(p.claim(&typed).is_some());
        assert!(p.claim(&code).is_none());
    }

    #[test]
    fn a_code_whose_tv_left_cannot_be_approved() {
        let p = Pairings::default();
        let (code, rx) = p.open();
        drop(rx);
        assert!(!p.is_waiting(&code));
        assert!(p.claim(&code).is_none());
    }
}
