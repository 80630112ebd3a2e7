//! The lobby's physical "talk" button: a push button on a GPIO pin or a key
//! (a USB foot pedal, a big keyboard key). Each press opens the microphone
//! for one kiosk utterance, exactly as the kiosk page's button does.
//!
//! Two sources, both read as a byte stream so a FIFO can stand in for the
//! hardware in tests:
//! * lines: every line is a press. A GPIO button is wired with libgpiod's
//!   `gpiomon` writing into a FIFO (`docs/voice-in.md`), which keeps GPIO
//!   chip access out of this process.
//! * evdev: a Linux input device (`/dev/input/event*`); a press is an
//!   `EV_KEY` event with the configured key code and value 1 (not the
//!   release, not auto-repeat).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::dialog::{self, Mode};
use crate::clinic::Clinic;

/// Where presses come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// A FIFO or file: one line per press.
    Lines(PathBuf),
    /// A Linux input device and the key code that means "talk".
    Key { device: PathBuf, code: u16 },
}

impl Button {
    fn path(&self) -> &PathBuf {
        match self {
            Button::Lines(p) | Button::Key { device: p, .. } => p,
        }
    }
}

const EV_KEY: u16 = 1;
/// `struct input_event`: a `timeval` (two longs), type, code, value.
const EVENT_SIZE: usize = 2 * std::mem::size_of::<std::ffi::c_long>() + 8;

/// Calls `press` for every press read from `input` until it ends.
pub fn read_presses(button: &Button, input: impl Read, mut press: impl FnMut()) {
    match button {
        Button::Lines(_) => {
            for line in BufReader::new(input).lines() {
                match line {
                    Ok(_) => press(),
                    Err(_) => return,
                }
            }
        }
        Button::Key { code, .. } => {
            let mut input = input;
            let mut event = [0u8; EVENT_SIZE];
            while input.read_exact(&mut event).is_ok() {
                let at = EVENT_SIZE - 8;
                let kind = u16::from_ne_bytes([event[at], event[at + 1]]);
                let key = u16::from_ne_bytes([event[at + 2], event[at + 3]]);
                let value = i32::from_ne_bytes([
                    event[at + 4],
                    event[at + 5],
                    event[at + 6],
                    event[at + 7],
                ]);
                if kind == EV_KEY && key == *code && value == 1 {
                    press();
                }
            }
        }
    }
}

/// Watches the button for the life of the process. A reader thread
/// (re)opens the source, since a FIFO ends whenever its writer closes it;
/// an async task runs one kiosk conversation per press and drops presses
/// made while it was already listening.
pub fn spawn(clinic: Arc<Clinic>, button: Button) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let source = button.clone();
    let reader = std::thread::Builder::new()
        .name("talk-button".into())
        .spawn(move || {
            loop {
                match std::fs::File::open(source.path()) {
                    Ok(f) => read_presses(&source, f, || {
                        let _ = tx.send(());
                    }),
                    Err(e) => {
                        tracing::warn!(path = %source.path().display(), error = %e, "cannot open the talk button");
                        std::thread::sleep(Duration::from_secs(5));
                    }
                }
                if tx.is_closed() {
                    return;
                }
                // A FIFO whose writer went away: wait for the next one.
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    if let Err(e) = reader {
        tracing::warn!(error = %e, "the talk button is off");
        return;
    }
    tracing::info!(path = %button.path().display(), "talk button ready");
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let Some(listener) = clinic.listener.get().cloned() else {
                continue;
            };
            match dialog::listen_and_respond(Arc::clone(&clinic), listener, Mode::Kiosk).await {
                Ok(reply) => tracing::info!(intent = reply.intent, "talk button answered"),
                Err(e) => tracing::warn!(error = %e, "talk button: voice in failed"),
            }
            // Presses made while listening were for this conversation.
            while rx.try_recv().is_ok() {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16, code: u16, value: i32) -> Vec<u8> {
        let mut e = vec![0u8; EVENT_SIZE - 8];
        e.extend(kind.to_ne_bytes());
        e.extend(code.to_ne_bytes());
        e.extend(value.to_ne_bytes());
        e
    }

    #[test]
    fn a_key_press_counts_once_not_its_repeat_release_or_other_keys() {
        const SPACE: u16 = 57;
        let mut stream = Vec::new();
        stream.extend(event(4, 4, 30)); // EV_MSC scan code
        stream.extend(event(EV_KEY, SPACE, 1)); // press
        stream.extend(event(EV_KEY, SPACE, 2)); // auto-repeat
        stream.extend(event(0, 0, 0)); // EV_SYN
        stream.extend(event(EV_KEY, SPACE, 0)); // release
        stream.extend(event(EV_KEY, 28, 1)); // Enter: another key
        stream.extend(event(EV_KEY, SPACE, 1)); // second press
        stream.extend(&[1, 2, 3]); // a torn last event is ignored
        let button = Button::Key {
            device: "/dev/input/event0".into(),
            code: SPACE,
        };
        let mut presses = 0;
        read_presses(&button, stream.as_slice(), || presses += 1);
        assert_eq!(presses, 2);
    }

    #[test]
    fn every_line_is_a_press() {
        let gpiomon = "event: FALLING EDGE offset: 17 timestamp: [1.5]\n\
                       event: FALLING EDGE offset: 17 timestamp: [9.2]\n";
        let mut presses = 0;
        read_presses(
            &Button::Lines("/run/sos-edge/talk".into()),
            gpiomon.as_bytes(),
            || presses += 1,
        );
        assert_eq!(presses, 2);
    }
}
