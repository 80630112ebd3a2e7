//! `sos-flash provision` on images made by `sfdisk`, `mkfs.vfat` and
//! `mkfs.ext4` with a package built by `dpkg-deb`; the result is read back
//! with mtools and compared byte for byte outside the boot partition.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use common::*;
use sos_flash::bundle::Bundle;
use sos_flash::inspect::{FirstBoot, inspect};
use sos_flash::provision::{ProvisionError, provision};
use sos_flash::write::Target;

const BUNDLE: &str = r#"
cloud_url = "http://10.0.2.2:8443"
token = "sos_prov_SECRETsecretSECRET1234"
hostname = "lobby"
timezone = "Europe/London"
wifi_ssid = "Clinic \"Main\""
wifi_psk = "wifi passphrase"
wifi_country = "GB"
ssh_authorized_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA installer@laptop"
"#;

/// A Raspberry Pi OS (Trixie) like boot partition: its firmware files and
/// cloud-init's placeholder seed.
fn pi_image(dir: &Path) -> std::path::PathBuf {
    let img = image(dir, "dos");
    put(&img, "config.txt", "arm_64bit=1\n");
    put(
        &img,
        "cmdline.txt",
        "console=tty1 root=PARTUUID=abc-02 rootwait\n",
    );
    put(
        &img,
        "user-data",
        "#cloud-config\n# the image's own placeholder\n",
    );
    put(&img, "meta-data", "instance-id: rpios\n");
    img
}

fn bytes(path: &Path, from: u64, len: u64) -> Vec<u8> {
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(from)).unwrap();
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn a_provisioned_image_carries_the_seed_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let base = pi_image(dir.path());
    let before = std::fs::read(&base).unwrap();
    let package = deb(dir.path(), 64 * 1024);
    let out = dir.path().join("box.img");
    let bundle = Bundle::parse(BUNDLE).unwrap();
    let done = provision(&base, &bundle, &package, &Target::File(out.clone())).unwrap();
    assert_eq!(done.files.len(), 7, "{:?}", done.files);
    assert_eq!(
        std::fs::read(&base).unwrap(),
        before,
        "the base image is untouched"
    );

    // Outside the boot partition, the same bytes.
    let (boot_start, boot_end) = (BOOT_START * 512, (BOOT_START + BOOT_SECTORS) * 512);
    let len = before.len() as u64;
    assert_eq!(std::fs::metadata(&out).unwrap().len(), len);
    assert_eq!(bytes(&out, 0, boot_start), before[..boot_start as usize]);
    assert_eq!(
        bytes(&out, boot_end, len - boot_end),
        before[boot_end as usize..],
        "the root partition is untouched"
    );

    // The boot partition, read back by mtools.
    assert_eq!(
        get(&out, "sos-edge-sos-appliance.deb"),
        std::fs::read(&package).unwrap()
    );
    let p: serde_json::Value =
        serde_json::from_slice(&get(&out, "sos-edge-provision.json")).unwrap();
    assert_eq!(p["cloud_url"], "http://10.0.2.2:8443");
    assert_eq!(p["token"], "sos_prov_SECRETsecretSECRET1234");
    assert_eq!(p["device_name"], "lobby");
    let user_data = String::from_utf8(get(&out, "user-data")).unwrap();
    assert!(user_data.starts_with("#cloud-config\n"), "{user_data}");
    for line in [
        "hostname: \"lobby\"",
        "timezone: \"Europe/London\"",
        "ssh-ed25519 AAAAC3",
        "first-boot.sh",
    ] {
        assert!(
            user_data.contains(line),
            "user-data lacks {line}: {user_data}"
        );
    }
    assert!(
        !user_data.contains("SECRET"),
        "the token is not in user-data"
    );
    let network = String::from_utf8(get(&out, "network-config")).unwrap();
    assert!(network.contains("\"Clinic \\\"Main\\\"\":"), "{network}");
    assert!(
        network.contains("password: \"wifi passphrase\""),
        "{network}"
    );
    let meta = String::from_utf8(get(&out, "meta-data")).unwrap();
    assert!(meta.contains("instance-id: \"sos-edge-lobby-"), "{meta}");
    let script = String::from_utf8(get(&out, "sos-edge-first-boot.sh")).unwrap();
    assert!(script.starts_with("#!/bin/sh"));
    // The firmware's own files are as they were.
    assert_eq!(get(&out, "config.txt"), b"arm_64bit=1\n");
    // fsck agrees the FAT is sound.
    run(std::process::Command::new("fsck.vfat")
        .args(["-n"])
        .arg(extract_boot(&out, dir.path())));

    // inspect reads it back, masked.
    let text = inspect(&out).unwrap().text();
    assert!(text.contains("token = sos_prov_…1234"), "{text}");
    assert!(
        !text.contains("SECRETsecret") && !text.contains("wifi passphrase"),
        "{text}"
    );

    // Provisioning again (a second card from the same base) starts afresh.
    let again = dir.path().join("box2.img");
    provision(&base, &bundle, &package, &Target::File(again.clone())).unwrap();
    assert_ne!(
        get(&again, "meta-data"),
        get(&out, "meta-data"),
        "a new instance id"
    );
}

/// A Raspberry Pi OS Bookworm boot partition: firmware files, no
/// cloud-init; its first boot resizes the root (`init=`), and Raspberry Pi
/// Imager had set it up before (its `systemd.run`).
fn bookworm_image(dir: &Path) -> std::path::PathBuf {
    let img = image(dir, "dos");
    put(
        &img,
        "config.txt",
        "# /boot/firmware/overlays/README\narm_64bit=1\n",
    );
    put(
        &img,
        "cmdline.txt",
        "console=serial0,115200 console=tty1 root=PARTUUID=abc-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n",
    );
    put(&img, "firstrun.sh", "#!/bin/bash\n# Imager's\n");
    img
}

#[test]
fn a_bookworm_card_is_set_up_by_its_firstrun_script_from_cmdline() {
    let dir = tempfile::tempdir().unwrap();
    let base = bookworm_image(dir.path());
    let package = deb(dir.path(), 64 * 1024);
    let out = dir.path().join("box.img");
    let bundle = Bundle::parse(BUNDLE).unwrap();
    let done = provision(&base, &bundle, &package, &Target::File(out.clone())).unwrap();
    assert_eq!(done.first_boot, FirstBoot::FirstrunScript);
    assert_eq!(done.files.len(), 6, "{:?}", done.files);

    // cmdline.txt: the base's words in order, Imager's run replaced by
    // ours, the Wi-Fi country for the radio; one line.
    let cmdline = String::from_utf8(get(&out, "cmdline.txt")).unwrap();
    assert_eq!(
        cmdline,
        "console=serial0,115200 console=tty1 root=PARTUUID=abc-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot cfg80211.ieee80211_regdom=GB systemd.run=/boot/firmware/sos-edge-firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n"
    );
    // No cloud-init seed on a system without cloud-init.
    let names = mdir(&out);
    for absent in ["user-data", "meta-data", "network-config"] {
        assert!(!names.contains(&absent.to_string()), "{absent}: {names:?}");
    }
    for present in [
        "sos-edge-sos-appliance.deb",
        "sos-edge-provision.json",
        "sos-edge-first-boot.sh",
    ] {
        assert!(names.contains(&present.to_string()), "{present}: {names:?}");
    }

    // The script: valid sh, the bundle's values quoted.
    let script = String::from_utf8(get(&out, "sos-edge-firstrun.sh")).unwrap();
    let path = dir.path().join("firstrun.sh");
    std::fs::write(&path, &script).unwrap();
    run(std::process::Command::new("sh").arg("-n").arg(&path));
    for line in [
        "HOST='lobby'",
        "TZONE='Europe/London'",
        "ssid=Clinic \"Main\"",
        "psk=wifi passphrase",
        "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA installer@laptop'",
        "ExecStart=/bin/sh /boot/firmware/sos-edge-first-boot.sh",
    ] {
        assert!(script.contains(line), "the script lacks {line}:\n{script}");
    }
    assert!(!script.contains("SECRET"), "the token is not in the script");
    // fsck agrees the FAT is sound.
    run(std::process::Command::new("fsck.vfat")
        .args(["-n"])
        .arg(extract_boot(&out, dir.path())));

    // A card flashed from that card again: still one run, ours.
    let again = dir.path().join("box2.img");
    provision(&out, &bundle, &package, &Target::File(again.clone())).unwrap();
    assert_eq!(
        String::from_utf8(get(&again, "cmdline.txt")).unwrap(),
        cmdline
    );
}

/// The boot partition as a file of its own, for fsck.
fn extract_boot(img: &Path, dir: &Path) -> std::path::PathBuf {
    let part = dir.join("boot.part");
    std::fs::write(&part, bytes(img, BOOT_START * 512, BOOT_SECTORS * 512)).unwrap();
    part
}

#[test]
fn what_cannot_be_provisioned_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = Bundle::parse(BUNDLE).unwrap();
    let package = deb(dir.path(), 1024);
    let out = dir.path().join("box.img");

    // Not a package.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let base = pi_image(dir.path());
    let e = provision(&base, &bundle, &text, &Target::File(out.clone())).unwrap_err();
    assert!(matches!(e, ProvisionError::NotADeb(_)), "{e}");
    // An image with no first-boot mechanism.
    let elsewhere = tempfile::tempdir().unwrap();
    let bare = image(elsewhere.path(), "dos");
    let e = provision(&bare, &bundle, &package, &Target::File(out.clone())).unwrap_err();
    assert!(e.to_string().contains("first boot"), "{e}");
    // The output onto the input.
    let e = provision(&base, &bundle, &package, &Target::File(base.clone())).unwrap_err();
    assert!(matches!(e, ProvisionError::SameFile(_)), "{e}");
    assert!(!out.exists(), "nothing was written");

    // A package larger than the boot partition's free space.
    let big = tempfile::tempdir().unwrap();
    let huge = deb(big.path(), 45 * 1024 * 1024);
    let e = provision(&base, &bundle, &huge, &Target::File(out.clone())).unwrap_err();
    assert!(matches!(e, ProvisionError::BootFull { .. }), "{e}");
    assert!(e.to_string().contains("bytes free"), "{e}");
    assert!(!out.exists(), "a half-written image is not left behind");
}
