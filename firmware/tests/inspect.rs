//! `sos-flash inspect` on disk images made and read back by tools that are
//! not ours: `sfdisk` (MBR and GPT), `mkfs.vfat`, `mkfs.ext4`, and mtools'
//! `mcopy`/`mmd` to put a Raspberry Pi's boot files and a bundle in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use sos_flash::inspect::{FirstBoot, inspect};

const MIB: u64 = 1024 * 1024;
/// The boot partition starts at 1 MiB and is 40 MiB; the root follows.
const BOOT_START: u64 = 2048;
const BOOT_SECTORS: u64 = 81920;

fn run(cmd: &mut Command) -> String {
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
fn image(dir: &Path, table: &str) -> PathBuf {
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
fn fat(img: &Path) -> String {
    format!("{}@@{}", img.display(), BOOT_START * 512)
}

fn put(img: &Path, name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    std::fs::write(&local, text).unwrap();
    run(Command::new("mcopy")
        .args(["-o", "-i", &fat(img)])
        .arg(&local)
        .arg(format!("::{name}")));
}

#[test]
fn partitions_are_read_as_sfdisk_reads_them_on_mbr_and_gpt() {
    let dir = tempfile::tempdir().unwrap();
    for table in ["dos", "gpt"] {
        let img = image(dir.path(), table);
        let report = inspect(&img).unwrap();
        let dump: serde_json::Value =
            serde_json::from_str(&run(Command::new("sfdisk").arg("--json").arg(&img))).unwrap();
        let theirs: Vec<(u64, u64)> = dump["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["start"].as_u64().unwrap() * 512,
                    p["size"].as_u64().unwrap() * 512,
                )
            })
            .collect();
        let ours: Vec<(u64, u64)> = report
            .partitions
            .iter()
            .map(|p| (p.start, p.size))
            .collect();
        assert_eq!(ours, theirs, "{table}");
        assert_eq!(
            report.table.name(),
            if table == "dos" { "MBR" } else { "GPT" }
        );
        assert_eq!(
            report.boot,
            Some(1),
            "{table}: the FAT partition is the boot one"
        );
        assert!(!report.partitions[1].fat, "ext4 is not FAT");
        assert_eq!(
            report.first_boot,
            FirstBoot::Unknown,
            "an empty boot partition"
        );
    }
}

#[test]
fn a_pi_boot_partition_and_a_bundle_are_shown_with_the_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "dos");
    put(&img, "config.txt", "arm_64bit=1\n");
    put(
        &img,
        "cmdline.txt",
        "console=tty1 root=PARTUUID=abc-02 rootwait\n",
    );
    assert_eq!(inspect(&img).unwrap().first_boot, FirstBoot::FirstrunScript);
    put(&img, "user-data", "#cloud-config\n");
    run(Command::new("mmd").args(["-i", &fat(&img), "::sos-edge"]));
    put(
        &img,
        "sos-edge/bundle.toml",
        "cloud_url = \"https://cloud.example\"\ntoken = \"sos_prov_SECRETsecretSECRET1234\"\nhostname = \"lobby\"\ntimezone = \"UTC\"\nwifi_ssid = \"Clinic\"\nwifi_psk = \"wifi passphrase\"\nwifi_country = \"GB\"\n",
    );
    let report = inspect(&img).unwrap();
    assert_eq!(report.first_boot, FirstBoot::CloudInit);
    let mut listed = report.boot_files.clone();
    listed.sort();
    let mdir = run(Command::new("mdir").args(["-b", "-i", &fat(&img), "::"]));
    let mut theirs: Vec<String> = mdir
        .lines()
        .map(|l| {
            l.trim_start_matches("::/")
                .trim_end_matches('/')
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    theirs.sort();
    assert_eq!(listed, theirs);
    let text = report.text();
    assert!(text.contains("hostname = lobby"), "{text}");
    assert!(text.contains("token = sos_prov_…1234"), "{text}");
    assert!(
        !text.contains("SECRETsecret") && !text.contains("wifi passphrase"),
        "{text}"
    );
}

#[test]
fn what_is_not_a_disk_image_is_refused_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("photo.jpg");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let e = inspect(&junk).unwrap_err().to_string();
    assert!(e.contains("no partition table"), "{e}");
    let short = dir.path().join("short.img");
    std::fs::write(&short, b"tiny").unwrap();
    assert!(
        inspect(&short)
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );
}
