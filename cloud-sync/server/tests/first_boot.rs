//! Installers' promise, proven on a real boot: a base Debian image (built
//! by `scripts/build-base-image.sh` with mmdebstrap), provisioned by
//! `sos-flash` with the package `scripts/build-deb.sh` makes, booted under
//! QEMU (TCG) with no keyboard and no network but its cloud: the box
//! enrolls itself with the real `sos-cloud`, serves under systemd as the
//! `sos-edge` user with its sandbox, takes a phone check-in that reaches
//! the cloud, leaves no token behind, does not enroll again at its next
//! boot, and a power cut in the middle of its first boot ends in the same
//! box, enrolled once.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::vm::{self, GUEST_CLOUD, Vm};
use common::*;
use sos_flash::bundle::Bundle;
use sos_flash::provision::provision;
use sos_flash::write::Target;

const DEVICES: &str = "SELECT count(*) FROM devices WHERE tenant_id = $1";
const CHECKINS: &str = "SELECT count(*) FROM checkins WHERE tenant_id = $1";
const ENROLLED: &str =
    "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'device.enrolled'";
/// Where the base image puts its partitions (scripts/build-base-image.sh).
const BOOT_START: u64 = 1 << 20;
const BOOT_SIZE: u64 = 512 << 20;

/// The clinic's bundle: the cloud over HTTPS with the test's own CA.
fn bundle(token: &str, ca_pem: &str) -> Bundle {
    Bundle::parse(&format!(
        "cloud_url = \"https://{GUEST_CLOUD}\"\ntoken = \"{token}\"\nhostname = \"lobby-box\"\ntimezone = \"Europe/London\"\ncloud_ca = \"\"\"\n{}\n\"\"\"\n",
        ca_pem.trim()
    ))
    .unwrap()
}

/// Polls `check` every half second until it is true or `within` passes.
async fn until<F, Fut>(within: Duration, what: &str, vm: &Vm, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return vm.started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "{what} did not happen within {within:?}; console:\n{}",
        vm.tail()
    );
}

async fn healthy(http: &reqwest::Client, vm: &Vm) -> bool {
    match http.get(format!("{}/healthz", vm.http)).send().await {
        Ok(r) if r.status() == 200 => r
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|h| h["status"] == "ready"),
        _ => false,
    }
}

/// The check-in link the box printed (its journal, on the console).
fn checkin_path(vm: &Vm) -> Option<String> {
    let text = vm.console_text();
    let line = text.lines().rev().find(|l| l.contains("check-in:"))?;
    let at = line.find("/c/")?;
    Some(line[at..].split_whitespace().next()?.to_string())
}

async fn phone_check_in(vm: &Vm, path: &str) -> u16 {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = format!("{}{path}", vm.http);
    let form = http.get(&url).send().await.unwrap().text().await.unwrap();
    let marker = "name=\"form_token\" value=\"";
    let start = form.find(marker).expect("form token") + marker.len();
    let end = form[start..].find('"').unwrap() + start;
    http.post(&url)
        .form(&[
            ("first_name", "Sarah"),
            ("last_name", "Jones"),
            ("date_of_birth", "1985-04-12"),
            ("form_token", &form[start..end]),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Which file (or free space) holds byte `at` of the card, for a failure
/// message.
fn whose(at: u64, root_start: u64, root: &Path) -> String {
    if at < root_start {
        return format!("byte {at}, in the boot partition");
    }
    let block = (at - root_start) / 4096;
    let icheck = debugfs(root, &format!("icheck {block}"));
    let inode = icheck
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let ncheck = debugfs(root, &format!("ncheck {inode}"));
    format!("byte {at}, root block {block}: {icheck} {ncheck}")
}

fn debugfs(part: &Path, request: &str) -> String {
    let out = Command::new("debugfs")
        .args(["-R", request])
        .arg(part)
        .output()
        .expect("debugfs (e2fsprogs)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flashed_box_sets_itself_up_enrolls_once_and_survives_a_power_cut() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    // The cloud over HTTPS, with a certificate for the address the guest
    // knows it by, from a CA the bundle gives the box.
    let certs = tempfile::tempdir().unwrap();
    let guest_ip = GUEST_CLOUD.split(':').next().unwrap();
    let (ca, cert, key) = tls::private_ca(certs.path(), &[guest_ip]);
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    let cloud = Cloud::start_with(
        &db,
        "127.0.0.1:0",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let cloud_port: u16 = cloud.url.rsplit(':').next().unwrap().parse().unwrap();
    let t = practice(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let base = vm::base_image();
    let deb = vm::package(dir.path());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    // The installer's laptop: flash a card for this clinic.
    let tok = token(&pool, &t).await;
    let card = dir.path().join("box.img");
    let flashed = Instant::now();
    provision(
        &base.join("base.img"),
        &bundle(&tok, &ca_pem),
        &deb,
        &Target::File(card.clone()),
    )
    .unwrap();
    eprintln!("provisioned in {:.1} s", flashed.elapsed().as_secs_f64());

    // First boot: nobody touches it.
    let mut vm = Vm::boot(&base, &card, cloud_port, dir.path(), "first");
    let enrolled = until(Duration::from_secs(420), "enrollment", &vm, || async {
        count(&pool, DEVICES, &t).await == 1
    })
    .await;
    let ready = until(Duration::from_secs(180), "/healthz ready", &vm, || {
        healthy(&http, &vm)
    })
    .await;
    eprintln!(
        "first boot: enrolled {:.1} s, /healthz ready {:.1} s after qemu started",
        enrolled.as_secs_f64(),
        ready.as_secs_f64()
    );
    // A patient on their phone, on the clinic's Wi-Fi.
    let path = checkin_path(&vm).unwrap_or_else(|| panic!("no check-in link:\n{}", vm.tail()));
    assert_eq!(phone_check_in(&vm, &path).await, 303);
    until(
        Duration::from_secs(120),
        "the check-in reaching the cloud",
        &vm,
        || async { count(&pool, CHECKINS, &t).await == 1 },
    )
    .await;
    vm.power_off(Duration::from_secs(180));

    // The card after its first boot.
    let image = std::fs::read(&card).unwrap();
    let root = dir.path().join("root.part");
    let root_start = BOOT_START + BOOT_SIZE;
    vm::extract(&card, root_start, image.len() as u64 - root_start, &root);
    if let Some(at) = find(&image, tok.as_bytes()) {
        let around = &image[at.saturating_sub(300)..(at + 300).min(image.len())];
        panic!(
            "the token is still on the card: {}\n{:?}",
            whose(at as u64, root_start, &root),
            String::from_utf8_lossy(around)
        );
    }
    let report = sos_flash::inspect::inspect(&card).unwrap();
    assert!(
        report.bundle.is_none(),
        "the bundle is still on the boot partition"
    );
    for gone in ["sos-edge-provision.json", "sos-edge-sos-appliance.deb"] {
        assert!(
            !report.boot_files.iter().any(|f| f == gone),
            "{gone} left: {:?}",
            report.boot_files
        );
    }
    drop(image);
    let passwd = debugfs(&root, "cat /etc/passwd");
    let uid = passwd
        .lines()
        .find_map(|l| l.strip_prefix("sos-edge:x:"))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("no sos-edge user:\n{passwd}"))
        .to_string();
    let listing = debugfs(&root, "ls -l /var/lib/sos-edge");
    assert!(
        listing.contains("cloud.json") && listing.contains(".first-boot-done"),
        "{listing}"
    );
    assert!(!listing.contains("provision.json"), "{listing}");
    // The service's own log lines, as journald recorded them: its user and
    // its capabilities (none).
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    debugfs(
        &root,
        &format!("rdump /var/log/journal {}", journal.display()),
    );
    let out = Command::new("journalctl")
        .arg("--directory")
        .arg(journal.join("journal"))
        .args(["-u", "sos-appliance.service", "-o", "json", "--no-pager"])
        .output()
        .expect("journalctl");
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["_COMM"] == "sos-appliance")
        .collect();
    assert!(
        !entries.is_empty(),
        "no log lines of the service: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for e in &entries {
        assert_eq!(e["_UID"], uid.as_str(), "{e}");
        assert_eq!(e["_CAP_EFFECTIVE"], "0", "{e}");
    }

    // Second boot: the same box, not enrolled again.
    let mut vm = Vm::boot(&base, &card, cloud_port, dir.path(), "second");
    until(
        Duration::from_secs(300),
        "/healthz ready on the second boot",
        &vm,
        || healthy(&http, &vm),
    )
    .await;
    assert_eq!(count(&pool, DEVICES, &t).await, 1);
    assert_eq!(count(&pool, ENROLLED, &t).await, 1);
    vm.power_off(Duration::from_secs(180));

    // A second card; the power goes the moment the cloud has spent its
    // token, before the box could know.
    let tok = token(&pool, &t).await;
    let card = dir.path().join("cut.img");
    provision(
        &base.join("base.img"),
        &bundle(&tok, &ca_pem),
        &deb,
        &Target::File(card.clone()),
    )
    .unwrap();
    let mut vm = Vm::boot(&base, &card, cloud_port, dir.path(), "cut");
    until(
        Duration::from_secs(420),
        "the token being spent",
        &vm,
        || async { count(&pool, DEVICES, &t).await == 2 },
    )
    .await;
    vm.kill();
    let mut vm = Vm::boot(&base, &card, cloud_port, dir.path(), "after-cut");
    until(
        Duration::from_secs(300),
        "/healthz ready after the power cut",
        &vm,
        || healthy(&http, &vm),
    )
    .await;
    let h: serde_json::Value = http
        .get(format!("{}/healthz", vm.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["sync"]["enrolled"], true, "{h}");
    assert_eq!(
        count(&pool, DEVICES, &t).await,
        2,
        "the cut box enrolled twice"
    );
    assert_eq!(count(&pool, ENROLLED, &t).await, 2);
    vm.power_off(Duration::from_secs(180));
}
