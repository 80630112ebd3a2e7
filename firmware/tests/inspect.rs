//! `sos-flash inspect` on disk images made and read back by tools that are
//! not ours: `sfdisk` (MBR and GPT), `mkfs.vfat`, `mkfs.ext4`, and mtools'
//! `mcopy` to put a Raspberry Pi's boot files and a bundle in place.

mod common;

use std::process::Command;

use common::*;
use sos_flash::inspect::{FirstBoot, inspect};

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
    put(
        &img,
        "sos-edge-bundle.toml",
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
