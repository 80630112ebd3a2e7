//! Real `sos-appliance` processes: `enroll` and `run`.
//!
//! The binary is taken from `SOS_APPLIANCE_BIN` or from the same target
//! directory as `sos-cloud` (`cargo build -p sos-appliance` builds it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn appliance_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SOS_APPLIANCE_BIN") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_BIN_EXE_sos-cloud")).with_file_name("sos-appliance");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p sos-appliance` (or set SOS_APPLIANCE_BIN)",
        p.display()
    );
    p
}

/// A running `sos-appliance run`; killed (SIGKILL) when dropped.
pub struct Appliance {
    child: Child,
    /// e.g. `http://127.0.0.1:41234`
    pub base: String,
    /// The practice's signed check-in form (the QR code's target).
    pub checkin_url: String,
}

impl Appliance {
    /// SIGKILL: no shutdown code runs, the database is left as it was.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How long a box may take to print its addresses.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run_appliance(dir: &Path) -> Appliance {
    run_appliance_with(dir, &[])
}

/// `sos-appliance run --data-dir DIR --listen 127.0.0.1:0 EXTRA...`; returns
/// once it printed its addresses (it serves from then on).
pub fn run_appliance_with(dir: &Path, extra: &[&str]) -> Appliance {
    run_appliance_in_env(dir, extra, &[])
}

/// The same with environment variables, e.g. `SSL_CERT_FILE`: the CA a
/// private cloud's certificate is issued by.
pub fn run_appliance_in_env(dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Appliance {
    let mut child = Command::new(appliance_bin())
        .arg("run")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .env("SOS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sos-appliance");
    // Lines come through a thread, so a box that hangs at start fails the
    // test after START_TIMEOUT instead of blocking it; the thread then keeps
    // draining stdout so the box never blocks on a full pipe.
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let (mut base, mut checkin) = (String::new(), String::new());
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!(
                    "sos-appliance did not report its addresses ({e:?} after {START_TIMEOUT:?}; exit status {status:?})"
                );
            }
        };
        if let Some(rest) = line.strip_prefix("listening on ") {
            base = rest.trim().to_string();
        }
        if let Some(rest) = line.trim().strip_prefix("check-in:") {
            checkin = rest.trim().to_string();
        }
        if line.trim().starts_with("front desk:") {
            break;
        }
    }
    assert!(!base.is_empty(), "sos-appliance did not report its address");
    let path = checkin
        .find("/c/")
        .map(|i| checkin[i..].to_string())
        .expect("check-in URL");
    Appliance {
        child,
        checkin_url: format!("{base}{path}"),
        base,
    }
}

/// `sos-appliance enroll --data-dir DIR --cloud URL --token TOKEN`.
pub fn enroll(dir: &Path, cloud_url: &str, token: &str) -> std::process::Output {
    enroll_in_env(dir, cloud_url, token, &[])
}

/// The same with environment variables (see [`run_appliance_in_env`]).
pub fn enroll_in_env(
    dir: &Path,
    cloud_url: &str,
    token: &str,
    env: &[(&str, &Path)],
) -> std::process::Output {
    Command::new(appliance_bin())
        .arg("enroll")
        .arg("--data-dir")
        .arg(dir)
        .args(["--cloud", cloud_url, "--token", token])
        .envs(env.iter().copied())
        .env("SOS_LOG", "warn")
        .output()
        .expect("run sos-appliance enroll")
}

/// A browser-like client: cookies kept, redirects shown, not followed.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// A GET answered with JSON, as a monitor reads `/healthz`.
pub async fn get_json(url: &str) -> serde_json::Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// The hidden form token of a check-in form page.
pub fn form_token(page: &str) -> Option<String> {
    hidden_value(page, "name=\"form_token\" value=\"")
}

/// The CSRF token of a front-desk page.
pub fn csrf_token(page: &str) -> Option<String> {
    hidden_value(page, "name=\"csrf-token\" content=\"")
}

fn hidden_value(page: &str, marker: &str) -> Option<String> {
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}
