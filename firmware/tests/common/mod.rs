//! Disk images made and read back with tools that are not ours: `sfdisk`,
//! `mkfs.vfat`, `mkfs.ext4`, mtools (`scripts/setup.sh` installs them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const MIB: u64 = 1024 * 1024;
/// The boot partition starts at 1 MiB and is 40 MiB; the root follows.
pub const BOOT_START: u64 = 2048;
pub const BOOT_SECTORS: u64 = 81920;

pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/setup.sh installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 64 MiB image: FAT32 boot partition, ext4 root, with `table` ("dos"
/// or "gpt").
pub fn image(dir: &Path, table: &str) -> PathBuf {
    let img = dir.join(format!("{table}.img"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 * MIB)
        .unwrap();
    let (fat, linux) = match table {
        "dos" => ("c", "83"),
        _ => (
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
            "0FC63DAF-8483-4772-8E7D-3D69D8477DE4",
        ),
    };
    let script = format!(
        "label: {table}\nstart={BOOT_START}, size={BOOT_SECTORS}, type={fat}\nstart={}, size=40960, type={linux}\n",
        BOOT_START + BOOT_SECTORS
    );
    let mut child = Command::new("sfdisk")
        .arg("--quiet")
        .arg(&img)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk (scripts/setup.sh installs it)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    run(Command::new("mkfs.vfat")
        .args([
            "-F",
            "32",
            "-s",
            "1",
            "-n",
            "BOOTFS",
            "--offset",
            &BOOT_START.to_string(),
        ])
        .arg(&img)
        .arg((BOOT_SECTORS / 2).to_string()));
    run(Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-E",
            &format!("offset={}", (BOOT_START + BOOT_SECTORS) * 512),
        ])
        .arg(&img)
        .arg("20M"));
    img
}

/// mtools' address of the boot partition.
pub fn fat(img: &Path) -> String {
    format!("{}@@{}", img.display(), BOOT_START * 512)
}

pub fn put(img: &Path, name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    std::fs::write(&local, text).unwrap();
    run(Command::new("mcopy")
        .args(["-o", "-i", &fat(img)])
        .arg(&local)
        .arg(format!("::{name}")));
}

/// A file of the boot partition, read with mtools.
pub fn get(img: &Path, name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    run(Command::new("mcopy")
        .args(["-n", "-i", &fat(img)])
        .arg(format!("::{name}"))
        .arg(&local));
    std::fs::read(local).unwrap()
}

/// A real Debian package built by `dpkg-deb`, with `payload` bytes of
/// random data in it.
pub fn deb(dir: &Path, payload: usize) -> PathBuf {
    let root = dir.join("pkg");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/sos-test")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: sos-appliance\nVersion: 0.1.0\nArchitecture: all\nMaintainer: SOS Edge <dev@sos-edge.example>\nDescription: test package\n",
    )
    .unwrap();
    let mut data = vec![0u8; payload];
    getrandom::fill(&mut data).unwrap();
    std::fs::write(root.join("usr/share/sos-test/blob"), data).unwrap();
    let out = dir.join("sos-appliance.deb");
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&root)
        .arg(&out));
    out
}

/// The boot partition's root, listed by mtools (`mdir -b`: bare names).
pub fn mdir(img: &Path) -> Vec<String> {
    run(Command::new("mdir").args(["-b", "-i", &fat(img), "::/"]))
        .lines()
        .map(|l| l.trim_start_matches("::/").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}
