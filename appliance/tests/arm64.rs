//! The Raspberry Pi's package: `scripts/build-deb.sh --arch arm64`
//! cross-compiles the box with Debian's toolchain and packages it with the
//! arm64 ONNX Runtime. This reads that package back and runs what it
//! carries, the arm64 binary and runtime, under `qemu-aarch64` (user-mode
//! emulation; the closest peer to a Pi this machine has): the demo clinic
//! serves, a patient checks in from a phone, the desk calls her, and the
//! lobby voice (Piper on the arm64 ONNX Runtime, eSpeak NG's data from the
//! package) speaks into a file-backed ALSA device.
//!
//! `scripts/test.sh` builds the package first and passes it in
//! `SOS_ARM64_DEB`; without it the test fails when `SOS_REQUIRE_CROSS=1`
//! (CI) and is skipped otherwise (a developer's quick `cargo test`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, check_in, get_json, sign_in};
use serde_json::json;

fn package() -> Option<PathBuf> {
    match std::env::var_os("SOS_ARM64_DEB") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("SOS_REQUIRE_CROSS").is_some() => {
            panic!("SOS_ARM64_DEB is not set: run scripts/build-deb.sh --arch arm64 first")
        }
        None => {
            eprintln!("skipped: no SOS_ARM64_DEB (scripts/test.sh builds it)");
            None
        }
    }
}

fn field(deb: &Path, name: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()
        .expect("dpkg-deb");
    assert!(out.status.success(), "dpkg-deb -f {name} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The ELF machine of a file (0xB7: AArch64, 0x3E: x86-64).
fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    u16::from_le_bytes([bytes[18], bytes[19]])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pi_package_runs_a_check_in_and_speaks_it_on_arm64() {
    let Some(deb) = package() else { return };
    assert_eq!(field(&deb, "Package"), "sos-appliance");
    assert_eq!(field(&deb, "Architecture"), "arm64");
    // dpkg-shlibdeps read the arm64 binary's libraries.
    let depends = field(&deb, "Depends");
    assert!(depends.contains("libasound2"), "Depends: {depends}");
    assert!(depends.contains("libc6"), "Depends: {depends}");

    let root = tempfile::tempdir().unwrap();
    let st = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(root.path())
        .status()
        .unwrap();
    assert!(st.success());
    let bin = root.path().join("usr/bin/sos-appliance");
    let share = root.path().join("usr/share/sos-edge");
    assert_eq!(elf_machine(&bin), 0xB7, "the binary is not arm64");
    let ort = share.join("models/onnxruntime/libonnxruntime.so.1.31.1");
    assert_eq!(elf_machine(&ort), 0xB7, "ONNX Runtime is not arm64");

    // ALSA's default device: a raw file, as on a box without a speaker.
    let home = tempfile::tempdir().unwrap();
    let raw = common::file_speaker(home.path());
    // qemu-user 7.2 shows the guest this machine's (x86) /proc/cpuinfo, on
    // which ONNX Runtime's CPU detection dereferences NULL; a Pi's kernel
    // describes its cores. The emulator reads paths under `-L` first, so
    // the binary sees a Raspberry Pi 4's Cortex-A72 cores, as many as this
    // machine has.
    let pi = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(pi.path().join("proc")).unwrap();
    std::fs::write(pi.path().join("proc/cpuinfo"), pi4_cpuinfo()).unwrap();
    let mut cmd = Command::new("qemu-aarch64");
    // A Pi 4's CPU, so ONNX Runtime and whisper.cpp choose the kernels a
    // Pi runs (the default, every feature qemu knows, includes SVE: far
    // slower to emulate, and not what a box has).
    cmd.args(["-cpu", "cortex-a72", "-L"])
        .arg(pi.path())
        .arg(&bin)
        .env("HOME", home.path())
        .env("SOS_MODELS_DIR", share.join("models"))
        .env("PIPER_ESPEAKNG_DATA_DIRECTORY", &share)
        .env("SOS_NO_LISTEN", "true")
        .env_remove("ORT_DYLIB_PATH");
    let mut d = Daemon::demo_by(cmd, tempfile::tempdir().unwrap(), &["--no-chime"]);

    let health = wait_for(&d, Duration::from_secs(180), |h| {
        h["voice"]["state"] == "ready" || h["voice"]["state"] == "off"
    })
    .await;
    assert_eq!(
        health["voice"]["state"], "ready",
        "the voice did not load on arm64: {health}"
    );

    let r = check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    assert_eq!(r.status, 303, "check-in refused: {}", r.body);
    // The desk calls her. (Her greeting may be dropped: emulated, one
    // sentence takes longer to synthesise than a greeting may wait, 8 s;
    // a call is never dropped.)
    let staff = sign_in(&d).await;
    let today = staff.today(&d).await;
    let id = today["queue"][0]["checkin_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, body) = staff
        .post(
            &d,
            &format!("/desk/api/checkins/{id}/call"),
            json!({"room": "Room 2"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let health = wait_for(&d, Duration::from_secs(240), |h| {
        h["voice"]["spoken"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    assert!(
        health["voice"]["spoken"].as_u64().unwrap_or(0) >= 1,
        "nothing was said: {health}"
    );
    // Speech reached the device: a second and more of sound, not silence.
    let bytes = std::fs::read(&raw).unwrap_or_default();
    let loud = bytes
        .chunks_exact(2)
        .filter(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs() > 1000)
        .count();
    assert!(
        loud > 16_000 / 4,
        "only {loud} loud samples in {} bytes of audio",
        bytes.len()
    );
    let status = d.stop_within(Duration::from_secs(60));
    assert!(status.success(), "the arm64 daemon stopped with {status}");
}

/// A Raspberry Pi 4's `/proc/cpuinfo` (Cortex-A72, part 0xd08), with as
/// many cores as this machine's sysfs lists.
fn pi4_cpuinfo() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut s = String::new();
    for i in 0..cores {
        s.push_str(&format!(
            "processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n\
             CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n\
             CPU revision\t: 3\n\n"
        ));
    }
    s.push_str("Revision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n");
    s
}

async fn wait_for(
    d: &Daemon,
    limit: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let h = get_json(&d.url("/healthz")).await;
        if done(&h) || start.elapsed() > limit {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
