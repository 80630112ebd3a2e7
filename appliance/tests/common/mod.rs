//! Test harness: the real `sos-appliance` daemon on an ephemeral port with a
//! temporary data directory, and real HTTP / WebSocket clients.
#![allow(dead_code)]

pub mod clinic;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

pub const PIN: &str = "2468";

pub struct Daemon {
    child: Option<Child>,
    pub base: String,
    pub checkin_url: String,
    /// The check-in link as the daemon printed it (its public URL).
    pub printed_checkin_url: String,
    /// Where HTTPS is served, when the box holds a certificate.
    pub https: Option<std::net::SocketAddr>,
    pub dir: tempfile::TempDir,
}

impl Daemon {
    pub fn demo() -> Daemon {
        Self::demo_with(&[])
    }

    pub fn demo_with(extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        Self::demo_in(dir, extra)
    }

    pub fn demo_in(dir: tempfile::TempDir, extra: &[&str]) -> Daemon {
        Self::demo_env(dir, extra, &[])
    }

    /// A demo daemon with extra environment (e.g. a HOME whose
    /// `.asoundrc` gives it file-backed audio devices).
    pub fn demo_env(dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &Path)]) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sos-appliance"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::demo_by(cmd, dir, extra)
    }

    /// The demo clinic started by `cmd`: the test build, or another build
    /// of the box run through an emulator (`qemu-aarch64 sos-appliance`).
    pub fn demo_by(cmd: Command, dir: tempfile::TempDir, extra: &[&str]) -> Daemon {
        Self::demo_logging(cmd, dir, extra, Stdio::inherit())
    }

    /// The same, with the daemon's log (stderr) going to `log`; the log
    /// level is the command's `SOS_LOG`, `warn` if it sets none.
    pub fn demo_logging(
        mut cmd: Command,
        dir: tempfile::TempDir,
        extra: &[&str],
        log: Stdio,
    ) -> Daemon {
        if !cmd.get_envs().any(|(k, _)| k == "SOS_LOG") {
            cmd.env("SOS_LOG", "warn");
        }
        cmd.arg("demo")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0", "--pin", PIN])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("start sos-appliance");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut base = String::new();
        let mut checkin_url = String::new();
        let mut https = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("serving HTTPS on ") {
                https = rest.trim().parse().ok();
            }
            if let Some(rest) = line.strip_prefix("listening on ") {
                base = rest.trim().to_string();
            }
            if let Some(rest) = line.trim().strip_prefix("check-in:") {
                checkin_url = rest.trim().to_string();
            }
            if line.trim().starts_with("front desk:") {
                break;
            }
        }
        assert!(!base.is_empty(), "daemon did not report its address");
        // Keep draining stdout so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        // The printed URL uses the public base; make it absolute on our port.
        let path = checkin_url
            .find("/c/")
            .map(|i| checkin_url[i..].to_string())
            .unwrap();
        Daemon {
            child: Some(child),
            checkin_url: format!("{base}{path}"),
            printed_checkin_url: checkin_url,
            base,
            https,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{}", self.base.replace("http://", "ws://"), path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.stop_within(Duration::from_secs(5))
    }

    /// SIGTERM, and wait at most `limit` for the exit.
    pub fn stop_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        unsafe_kill(child.id(), 15);
        for _ in 0..limit.as_millis().div_ceil(50) {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("daemon did not stop within {limit:?} of SIGTERM");
    }

    /// Stops the daemon and hands back its data directory.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        self.stop();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET a page as text.
pub async fn get_text(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// GET a JSON document.
/// Events in the box's outbox, as `/healthz` counts them.
pub async fn events_waiting(d: &Daemon) -> i64 {
    let h = get_json(&d.url("/healthz")).await;
    h["sync"]["events_waiting"].as_i64().unwrap()
}

pub async fn get_json(url: &str) -> Value {
    get_json_by(&client(), url).await
}

/// GET a JSON document with `c` (its cookies, its trusted roots).
pub async fn get_json_by(c: &reqwest::Client, url: &str) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// Pulls `name="x" value="…"` out of a page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

pub struct CheckinReply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// A patient filling in the form on their phone.
pub async fn check_in(
    d: &Daemon,
    first: &str,
    last: &str,
    dob: &str,
    walk_in: bool,
) -> CheckinReply {
    let c = client();
    let form = c
        .get(&d.checkin_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = hidden_value(&form, "form_token").expect("form token");
    let mut fields = vec![
        ("first_name", first.to_string()),
        ("last_name", last.to_string()),
        ("date_of_birth", dob.to_string()),
        ("form_token", token),
    ];
    if walk_in {
        fields.push(("walk_in", "yes".into()));
    }
    let r = c.post(&d.checkin_url).form(&fields).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    CheckinReply {
        status,
        location,
        body: r.text().await.unwrap(),
    }
}

pub struct Staff {
    pub http: reqwest::Client,
    pub csrf: String,
}

pub async fn sign_in(d: &Daemon) -> Staff {
    let http = client();
    // As a browser posts it: with the page's own Origin.
    let r = http
        .post(d.url("/desk/login"))
        .header("origin", &d.base)
        .form(&[("pin", PIN), ("next", "/desk")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "sign-in should redirect");
    let page = http
        .get(d.url("/desk"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf-token\" content=\"";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("csrf meta missing in {page}"))
        + marker.len();
    let csrf = page[start..start + page[start..].find('"').unwrap()].to_string();
    Staff { http, csrf }
}

impl Staff {
    pub async fn post(&self, d: &Daemon, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(d.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn today(&self, d: &Daemon) -> Value {
        self.http
            .get(d.url("/desk/api/today"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Next JSON text frame (skipping pings), or panic after `secs`.
pub async fn next_json(ws: &mut Ws, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Next frame of the given type, skipping others.
pub async fn next_of(ws: &mut Ws, kind: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let v = next_json(ws, left.as_secs().max(1)).await;
        if v["type"] == kind {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {kind} frame");
    }
}

pub async fn hello(ws: &mut Ws, token: Option<&str>) {
    let msg = serde_json::json!({"type": "hello", "token": token}).to_string();
    ws.send(Message::Text(msg.into())).await.unwrap();
}

/// A TV that pairs itself through the desk; returns its socket (already past
/// the snapshot), its token and the snapshot.
pub async fn paired_tv(d: &Daemon, staff: &Staff) -> (Ws, String, Value) {
    let mut tv = ws(&d.ws_url("/tv/ws")).await;
    hello(&mut tv, None).await;
    let pairing = next_of(&mut tv, "pairing", 5).await;
    let code = pairing["code"].as_str().unwrap().to_string();
    let (st, body) = staff
        .post(
            d,
            "/desk/api/displays/pair",
            serde_json::json!({"code": code, "name": "Lobby"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let paired = next_of(&mut tv, "paired", 5).await;
    let token = paired["token"].as_str().unwrap().to_string();
    let snapshot = next_of(&mut tv, "snapshot", 5).await;
    (tv, token, snapshot)
}

pub fn text_of(v: &Value) -> String {
    v.to_string()
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("sos-edge.db")
}

/// Today's date where the demo runs (the machine's zone).
pub fn today() -> String {
    jiff::Zoned::now().date().to_string()
}

/// ALSA's default output as a raw file (16 kHz mono s16) for processes
/// run with `HOME=home`, as on a box without a speaker; returns the file.
pub fn file_speaker(home: &Path) -> PathBuf {
    let raw = home.join("out.raw");
    std::fs::write(
        home.join(".asoundrc"),
        format!(
            "pcm.!default {{ type plug; slave {{ pcm \"filetap\"; format S16_LE; rate 16000; channels 1 }} }}\n\
             pcm.filetap {{ type file; slave.pcm \"null\"; file \"{}\"; format \"raw\" }}\n",
            raw.display()
        ),
    )
    .unwrap();
    raw
}
