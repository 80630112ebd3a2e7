//! The daemon as an operator sees it: health, metrics, clean shutdown,
//! durability across restarts, refusing a newer database, the CLI tools.

mod common;

use std::process::Command;

use common::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sos-appliance"))
}

#[tokio::test]
async fn health_and_metrics_report_what_is_happening() {
    let d = Daemon::demo();
    let h = get_json(&d.url("/healthz")).await;
    assert_eq!(h["status"], "ready");
    assert_eq!(h["schema_version"], appliance::store::SCHEMA_VERSION);
    // Browsers only send a usable Origin on form posts if the referrer
    // policy allows it; `no-referrer` makes every post look foreign.
    let r = client().get(d.url("/healthz")).send().await.unwrap();
    assert_eq!(r.headers()["referrer-policy"], "same-origin");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );

    let staff = sign_in(&d).await;
    let (_tv, _, _) = paired_tv(&d, &staff).await;
    check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    let m = get_text(&d.url("/metrics")).await;
    assert!(
        m.contains("sos_edge_checkins_total{method=\"qr\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("sos_edge_websocket_clients{kind=\"tv\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("route=\"/c/{tenant}/{sig}\",method=\"POST\",status=\"303\"}"),
        "{m}"
    );
    // Counts only: nobody's name in the metrics.
    assert!(!m.contains("Sarah") && !m.contains("Jones"));
}

#[tokio::test]
async fn a_check_in_survives_a_restart_and_shutdown_is_clean() {
    let d = Daemon::demo();
    let r = check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    assert_eq!(r.status, 303);
    let status_path = r.location.unwrap();
    let dir = d.into_dir(); // SIGTERM, waits for exit
    // Checkpointed on the way out: the database file stands on its own.
    let wal = dir.path().join("sos-edge.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL left behind"
    );
    let d = Daemon::demo_in(dir, &[]);
    let page = get_text(&d.url(&status_path)).await;
    assert!(page.contains("Thanks, Sarah"));
    let again = check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    assert!(again.body.contains("already checked in"));
}

#[tokio::test]
async fn sigterm_stops_the_daemon_with_success() {
    let mut d = Daemon::demo();
    let st = d.stop();
    assert!(st.success(), "{st:?}");
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let out = bin()
        .args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer version"), "{err}");
    assert!(std::fs::read(&db).unwrap() == before, "database modified");
}

#[test]
fn run_without_a_practice_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no practice configured"), "{err}");
}

#[test]
fn a_bad_config_file_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("box.toml");
    std::fs::write(
        &cfg,
        "[practice]\ntenant_id = \"t1\"\nname = \"X\"\nvertical = \"plumbing\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("practice.vertical"), "{err}");
}

#[tokio::test]
async fn a_configured_vet_practice_speaks_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("box.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\n[practice]\ntenant_id = \"happy-paws\"\nname = \"Happy Paws Vet\"\nvertical = \"vet\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut child = bin()
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut base = String::new();
    let mut link = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(r) = line.strip_prefix("listening on ") {
            base = r.to_string();
        }
        if let Some(r) = line.trim().strip_prefix("check-in:") {
            link = r.trim().to_string();
            break;
        }
    }
    let path = &link[link.find("/c/").unwrap()..];
    let page = get_text(&format!("{base}{path}")).await;
    assert!(page.contains("Happy Paws Vet"));
    assert!(page.contains("your visit today"), "{page}");
    let login = get_text(&format!("{base}/desk/login")).await;
    assert!(
        login.contains("staff-pin"),
        "no PIN yet: says how to set one"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn import_reports_bad_rows_by_line_and_keeps_the_good_ones() {
    let d = Daemon::demo();
    let csv = format!(
        "first_name,last_name,date_of_birth,date,time,provider,type\n\
         Ada,Lovelace,1915-12-10,{t},9:00 AM,Dr. Lee,Check-up\n\
         Bad,Date,1990-02-31,{t},9:30 AM,Dr. Lee,Check-up\n\
         Grace,Hopper,1906-12-09,{t},10:00,Dr. Patel,Cleaning\n",
        t = today()
    );
    let file = d.data_dir().join("today.csv");
    std::fs::write(&file, csv).unwrap();
    let out = bin()
        .args(["import", "--data-dir"])
        .arg(d.data_dir())
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("imported 2 appointment"), "{stdout}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("date_of_birth"), "{stderr}");

    let bad = d.data_dir().join("nothing.csv");
    std::fs::write(&bad, "name,when\nx,y\n").unwrap();
    let out = bin()
        .args(["import", "--data-dir"])
        .arg(d.data_dir())
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("first_name"));
}

#[test]
fn the_qr_tool_prints_the_signed_link_for_this_practice() {
    let d = Daemon::demo();
    let out_file = d.data_dir().join("poster.html");
    let out = bin()
        .args([
            "qr",
            "--format",
            "poster",
            "--base-url",
            "http://bright-smile-sos.local:8080",
            "--data-dir",
        ])
        .arg(d.data_dir())
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let poster = std::fs::read_to_string(&out_file).unwrap();
    let sig = d.checkin_url.rsplit('/').next().unwrap();
    assert!(poster.contains(&format!(
        "http://bright-smile-sos.local:8080/c/demo-bright-smile/{sig}"
    )));
    assert!(poster.contains("Bright Smile Dental"));
    assert!(poster.contains("<svg"));
    let png = bin()
        .args(["qr", "--format", "png", "--data-dir"])
        .arg(d.data_dir())
        .output()
        .unwrap();
    assert!(png.stdout.starts_with(b"\x89PNG"));
    let bad = bin()
        .args(["qr", "--base-url", "ftp://x", "--data-dir"])
        .arg(d.data_dir())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--base-url"));
}
