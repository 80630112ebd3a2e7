//! `sos-flash provision` from an `.img.xz` (compressed by xz-utils) and onto
//! real block devices (loop devices over files, attached with `losetup`),
//! read back by independent tools; the refusals read from the real sysfs
//! and mount table; read-back verification catching a changed byte.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use sos_flash::bundle::Bundle;
use sos_flash::device::{self, DeviceError, Host};
use sos_flash::inspect::inspect;
use sos_flash::provision::{ProvisionError, provision};
use sos_flash::write::{self, Target, WriteError};

const BUNDLE: &str = r#"
cloud_url = "http://10.0.2.2:8443"
token = "sos_prov_SECRETsecretSECRET1234"
hostname = "lobby"
timezone = "Europe/London"
"#;

fn pi_image(dir: &Path) -> PathBuf {
    let img = image(dir, "dos");
    put(&img, "config.txt", "arm_64bit=1\n");
    put(&img, "cmdline.txt", "console=tty1 rootwait\n");
    put(&img, "user-data", "#cloud-config\n");
    put(&img, "meta-data", "instance-id: rpios\n");
    put(&img, "network-config", "# the image's placeholder\n");
    img
}

/// A loop device over `file`, detached when dropped.
struct Loop(PathBuf);

impl Loop {
    fn attach(file: &Path) -> Loop {
        let out = run(Command::new("losetup").args(["-f", "--show"]).arg(file));
        Loop(PathBuf::from(out.trim()))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

fn read_range(path: &Path, from: u64, len: u64) -> Vec<u8> {
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(from)).unwrap();
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).unwrap();
    buf
}

/// Outside the boot partition `out` holds `base`'s bytes; inside, mtools
/// reads the package back.
fn assert_provisioned(out: &Path, base: &[u8], package: &Path) {
    let (boot_start, boot_end) = (BOOT_START * 512, (BOOT_START + BOOT_SECTORS) * 512);
    let len = base.len() as u64;
    assert_eq!(read_range(out, 0, boot_start), base[..boot_start as usize]);
    assert_eq!(
        read_range(out, boot_end, len - boot_end),
        base[boot_end as usize..]
    );
    assert_eq!(
        get(out, "sos-edge-sos-appliance.deb"),
        std::fs::read(package).unwrap()
    );
}

#[test]
fn an_xz_image_is_decompressed_while_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let base = pi_image(dir.path());
    let before = std::fs::read(&base).unwrap();
    run(Command::new("xz").args(["-k", "-1", "-T1"]).arg(&base));
    let xz = base.with_extension("img.xz");
    assert!(std::fs::metadata(&xz).unwrap().len() < before.len() as u64 / 4);
    let package = deb(dir.path(), 64 * 1024);
    let out = dir.path().join("box.img");
    let b = Bundle::parse(BUNDLE).unwrap();
    let done = provision(&xz, &b, &package, &Target::File(out.clone())).unwrap();
    assert_eq!(done.bytes, before.len() as u64);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), before.len() as u64);
    assert_provisioned(&out, &before, &package);
    let report = inspect(&out).unwrap();
    assert!(report.text().contains("sos_prov_…1234"));
    // No Wi-Fi in the bundle: the placeholder network-config is gone, so
    // cloud-init's fallback brings the wired port up.
    assert!(
        !report.boot_files.iter().any(|f| f == "network-config"),
        "{:?}",
        report.boot_files
    );
    // inspect reads the compressed base as it is.
    let report = inspect(&xz).unwrap().text();
    assert!(
        report.contains("cloud-init") && report.contains("user-data"),
        "{report}"
    );

    // A download cut short: a plain error, and no half image left behind.
    let bytes = std::fs::read(&xz).unwrap();
    let cut = dir.path().join("cut.img.xz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out2 = dir.path().join("box2.img");
    let e = provision(&cut, &b, &package, &Target::File(out2.clone())).unwrap_err();
    assert!(e.to_string().contains("cut.img.xz"), "{e}");
    assert!(!out2.exists(), "a half-written image was left");
}

/// Changes one byte of `path` at `at`.
fn poke(path: &Path, at: u64) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[0x5a]).unwrap();
}

fn assert_caught(e: WriteError, at: u64) {
    let WriteError::Mismatch { at: from, end, .. } = e else {
        panic!("{e}");
    };
    assert!(from <= at && at < end, "{from}..{end} does not hold {at}");
}

#[test]
fn read_back_catches_a_byte_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let base = pi_image(dir.path());
    let head = std::fs::read(&base).unwrap();
    // A byte of data in the root partition (its file system's first
    // non-zero byte), changed after it was written to an image file.
    let boot_end = ((BOOT_START + BOOT_SECTORS) * 512) as usize;
    let at = (boot_end + head[boot_end..].iter().position(|b| *b != 0).unwrap()) as u64;
    let out = Target::File(dir.path().join("copy.img"));
    let written = write::write(&head, std::io::empty(), None, &out).unwrap();
    write::verify(&out, &written).unwrap();
    poke(out.path(), at);
    assert_caught(write::verify(&out, &written).unwrap_err(), at);

    // On a card even the zeros are checked: they were written over old
    // bytes, and a card can lose any write.
    let card_file = dir.path().join("card.bin");
    std::fs::write(&card_file, vec![0xa5u8; head.len()]).unwrap();
    let card = Loop::attach(&card_file);
    let disk = Target::Disk {
        path: card.0.clone(),
        size: head.len() as u64,
    };
    let written = write::write(&head, std::io::empty(), None, &disk).unwrap();
    write::verify(&disk, &written).unwrap();
    let zero_at = head.iter().rposition(|b| *b == 0).unwrap() as u64;
    poke(&card.0, zero_at);
    assert_caught(write::verify(&disk, &written).unwrap_err(), zero_at);
}

#[test]
fn a_card_is_written_verified_and_readable_by_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let base = pi_image(dir.path());
    let before = std::fs::read(&base).unwrap();
    let package = deb(dir.path(), 64 * 1024);
    // A "card" twice the image's size, full of old data.
    let card_file = dir.path().join("card.bin");
    std::fs::write(&card_file, vec![0xa5u8; before.len() * 2]).unwrap();
    let card = Loop::attach(&card_file);
    let host = Host::this_machine();

    // A loop device is not removable: refused unless --force, untouched.
    let e = device::check(&card.0, &host, false).unwrap_err();
    assert!(matches!(e, DeviceError::NotRemovable { .. }), "{e}");
    assert!(e.to_string().contains("--force"), "{e}");
    let disk = device::check(&card.0, &host, true).unwrap();
    assert_eq!(disk.size, before.len() as u64 * 2);

    let b = Bundle::parse(BUNDLE).unwrap();
    let target = Target::Disk {
        path: card.0.clone(),
        size: disk.size,
    };
    let done = provision(&base, &b, &package, &target).unwrap();
    assert_eq!(done.bytes, before.len() as u64);
    // The card, read back through the device and by mtools from a copy.
    let copy = dir.path().join("card-copy.img");
    std::fs::write(&copy, read_range(&card.0, 0, before.len() as u64)).unwrap();
    assert_provisioned(&copy, &before, &package);
    // Every old byte under the image was overwritten (zeros included);
    // past the image's end the card is as it was.
    assert_eq!(
        read_range(&card.0, before.len() as u64, 4096),
        vec![0xa5u8; 4096]
    );
    let report = inspect(&card.0).unwrap().text();
    assert!(report.contains("cloud-init"), "{report}");
    assert!(report.contains("sos_prov_…1234"), "{report}");
}

#[test]
fn unsafe_targets_are_refused_before_a_byte_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let base = pi_image(dir.path());
    let package = deb(dir.path(), 4096);
    let b = Bundle::parse(BUNDLE).unwrap();
    let host = Host::this_machine();

    // A file given as a device.
    let e = device::check(&base, &host, true).unwrap_err();
    assert!(matches!(e, DeviceError::NotADisk(_)), "{e}");
    assert!(e.to_string().contains("-o"), "{e}");

    // A card smaller than the image: refused before writing.
    let small_file = dir.path().join("small.bin");
    std::fs::write(&small_file, vec![0x11u8; 16 << 20]).unwrap();
    let small = Loop::attach(&small_file);
    let disk = device::check(&small.0, &host, true).unwrap();
    let target = Target::Disk {
        path: small.0.clone(),
        size: disk.size,
    };
    let e = provision(&base, &b, &package, &target).unwrap_err();
    assert!(
        matches!(e, ProvisionError::Write(WriteError::TooSmall { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("larger card"), "{e}");
    assert_eq!(read_range(&small.0, 0, 4096), vec![0x11u8; 4096]);

    // A disk with a mounted file system.
    let mounted_file = dir.path().join("mounted.bin");
    std::fs::write(&mounted_file, vec![0u8; 32 << 20]).unwrap();
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&mounted_file));
    let mounted = Loop::attach(&mounted_file);
    let at = dir.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    run(Command::new("mount").arg(&mounted.0).arg(&at));
    let e = device::check(&mounted.0, &Host::this_machine(), true);
    run(Command::new("umount").arg(&at));
    let e = e.unwrap_err();
    assert!(matches!(e, DeviceError::InUse { .. }), "{e}");
    assert!(e.to_string().contains("mounted at"), "{e}");

    // The disk the system runs from (described: this test never points a
    // writer at the real one).
    let pretend = Host {
        system_disks: vec![small.0.file_name().unwrap().to_string_lossy().into_owned()],
        ..Host::this_machine()
    };
    let e = device::check(&small.0, &pretend, true).unwrap_err();
    assert!(matches!(e, DeviceError::SystemDisk(_)), "{e}");
}

#[test]
fn the_system_disk_is_found_as_findmnt_finds_it() {
    let source = run(Command::new("findmnt").args(["-n", "-o", "SOURCE", "/"]));
    let source = source.trim();
    if !source.starts_with("/dev/") {
        // "/" on an overlay or a network file system: no disk to protect,
        // and sos-flash must not invent one.
        assert!(Host::this_machine().system_disks.is_empty() || source.is_empty());
        return;
    }
    let parent = run(Command::new("lsblk")
        .args(["-n", "-o", "PKNAME"])
        .arg(source));
    let disk = match parent.trim() {
        "" => Path::new(source)
            .canonicalize()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        p => p.to_string(),
    };
    let found = Host::this_machine().system_disks;
    assert!(found.contains(&disk), "{found:?} lacks {disk}");
}
