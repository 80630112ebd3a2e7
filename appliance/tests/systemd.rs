//! The box under systemd: the daemon's READY / WATCHDOG / STOPPING over a
//! real `NOTIFY_SOCKET` (the protocol systemd speaks), and the shipped unit
//! checked by systemd's own `systemd-analyze verify` and `security`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// Datagrams the daemon sent, with when they arrived.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<(Instant, String)>>>);

impl Heard {
    fn listen(sock: UnixDatagram) -> Heard {
        let heard = Heard::default();
        let h = heard.clone();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        h.0.lock().unwrap().push((Instant::now(), text));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
                if Arc::strong_count(&h.0) == 1 {
                    return;
                }
            }
        });
        heard
    }

    /// Arrival times of the datagrams holding `line`.
    fn times(&self, line: &str) -> Vec<Instant> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t)| t.lines().any(|l| l == line))
            .map(|(at, _)| *at)
            .collect()
    }

    fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn wait_for(&self, line: &str, within: Duration) -> Instant {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(at) = self.times(line).last() {
                return *at;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no {line} within {within:?}; heard {:?}", self.all());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_box_is_vouched_for_only_while_its_database_answers() {
    let sockets = tempfile::tempdir().unwrap();
    let sock_path = sockets.path().join("notify");
    let heard = Heard::listen(UnixDatagram::bind(&sock_path).unwrap());
    // WatchdogSec=1: a ping every half second while healthy.
    let mut d = Daemon::demo_env(
        tempfile::tempdir().unwrap(),
        &[],
        &[
            ("NOTIFY_SOCKET", sock_path.as_path()),
            ("WATCHDOG_USEC", Path::new("1000000")),
        ],
    );
    // READY once it serves, with a status line for `systemctl status`.
    heard.wait_for("READY=1", Duration::from_secs(10));
    assert!(
        heard
            .all()
            .iter()
            .any(|t| t.contains("STATUS=serving on 127.0.0.1:")),
        "{:?}",
        heard.all()
    );
    let h = get_json(&d.url("/healthz")).await;
    assert_eq!(h["status"], "ready");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(heard.times("WATCHDOG=1").len() >= 2, "{:?}", heard.all());

    // Someone else holds the database's write lock: check-ins could not be
    // stored, and the box stops vouching for itself.
    let mut db = rusqlite::Connection::open(db_path(&d.data_dir())).unwrap();
    let txn = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let locked = Instant::now();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let pings_while_locked = heard
        .times("WATCHDOG=1")
        .into_iter()
        .filter(|at| *at > locked + Duration::from_millis(700))
        .count();
    assert_eq!(pings_while_locked, 0, "pinged with a wedged database");
    txn.commit().unwrap();
    drop(db);
    let released = Instant::now();
    let until = released + Duration::from_secs(8);
    while !heard.times("WATCHDOG=1").iter().any(|at| *at > released) {
        assert!(Instant::now() < until, "watchdog never resumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let st = d.stop();
    assert!(st.success(), "{st:?}");
    heard.wait_for("STOPPING=1", Duration::from_secs(2));
}

/// The unit as shipped, with ExecStart pointed at the binary just built
/// (verify checks that it exists and runs).
fn unit_under_test(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd/sos-appliance.service");
    let text = std::fs::read_to_string(&shipped).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/sos-appliance "));
    let text = text.replace(
        "ExecStart=/usr/bin/sos-appliance ",
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_sos-appliance")),
    );
    let path = dir.join("sos-appliance.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only lines about our unit count: the host's own units are not ours.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("sos-appliance"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}

#[test]
fn the_unit_is_rated_ok_by_systemd_analyze_security() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no rating: {text}"));
    let exposure: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line}"));
    assert!(exposure <= 2.0, "{line}");
}
