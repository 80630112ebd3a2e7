//! `sos-flash provision --image BASE.img --bundle FILE --deb FILE -o OUT`:
//! a copy of the base image with, on its boot partition only, what the box
//! needs to set itself up at first boot.
//!
//! All in the partition's root, named `sos-edge-…` (*decision:* fatfs 0.3
//! wrote a new directory's first entries over its `.` and `..`, which
//! `fsck.vfat` reported, so nothing here makes a directory):
//!
//! * `sos-edge-provision.json`: the cloud and the one-time token, in the
//!   form the appliance enrolls from at its first start
//!   (`appliance::sync::provision`), named after the box's host name;
//! * `sos-edge-sos-appliance.deb`: the package;
//! * `sos-edge-first-boot.sh`: installs the package, hands the token to the
//!   appliance's data directory, removes it from the boot partition, starts
//!   the service, and leaves a marker so it runs once;
//! * cloud-init's NoCloud seed: `user-data` (host name, time zone, the
//!   installer's SSH key, running `sos-edge-first-boot.sh` at every boot
//!   until it has finished once), `meta-data` (a fresh
//!   instance id, so cloud-init treats the box as new), and
//!   `network-config` with the clinic's Wi-Fi when the bundle has one
//!   (without, the base's placeholder is removed: cloud-init's fallback
//!   brings the wired port up by DHCP).
//!
//! On a Raspberry Pi OS before Trixie (no cloud-init) the seed is
//! `sos-edge-firstrun.sh` run from `cmdline.txt` instead ([`firstrun`]).
//!
//! The boot partition is edited in memory before anything is written; the
//! image then streams to the file (sparse) or the disk (`write`), and is
//! read back and compared chunk by chunk. Nothing outside the boot
//! partition's file system changes.

use std::io::Write;
use std::path::Path;

use crate::bundle::{Bundle, Wifi};
use crate::firstrun;
use crate::image::{self, ImageError};
use crate::inspect::{FirstBoot, PREFIX};
use crate::source::{Base, HeadFat};
use crate::write::{self, Target, WriteError};

/// The script first boot runs (cloud-init's `bootcmd`), shipped in this binary.
pub const FIRST_BOOT_SH: &str = include_str!("../first-boot.sh");
pub const DEB_FILE: &str = "sos-appliance.deb";
pub const PROVISION_FILE: &str = "provision.json";

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{0} does not say how it sets itself up at first boot (no cloud-init seed files on its boot partition); use a Raspberry Pi OS (Trixie or later) or a Debian cloud image"
    )]
    NoFirstBoot(String),
    #[error(
        "the boot partition has {free} bytes free; the package and the set-up files need {need}"
    )]
    BootFull { free: u64, need: u64 },
    #[error("{0} is not a Debian package (.deb)")]
    NotADeb(String),
    #[error("the output {0} is the input image; write to another file")]
    SameFile(String),
    #[error("the boot partition cannot be written: {0}")]
    Fat(String),
}

fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ProvisionError + 'a {
    move |source| ProvisionError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// What was written.
#[derive(Debug)]
pub struct Provisioned {
    pub first_boot: FirstBoot,
    pub files: Vec<String>,
    /// The image's length.
    pub bytes: u64,
}

/// Writes `base` with the clinic's set-up files to `target`, then reads
/// it back. Everything is checked, and the boot partition edited in
/// memory, before the first byte is written; a half-written image file is
/// removed.
pub fn provision(
    base: &Path,
    bundle: &Bundle,
    deb: &Path,
    target: &Target,
) -> Result<Provisioned, ProvisionError> {
    let package = std::fs::read(deb).map_err(io("read", deb))?;
    // A .deb is an ar archive whose first member is debian-binary.
    if !package.starts_with(b"!<arch>\ndebian-binary") {
        return Err(ProvisionError::NotADeb(deb.display().to_string()));
    }
    let out = target.path();
    if let (Ok(a), Ok(b)) = (base.canonicalize(), out.canonicalize())
        && a == b
    {
        return Err(ProvisionError::SameFile(out.display().to_string()));
    }
    let mut img = Base::open(base)?;
    let (_, boot) = img.boot()?;
    let (first_boot, written_names) = {
        let fat = img.fat(&boot)?;
        let first_boot = FirstBoot::detect(&image::root_names(&fat));
        let mut files = seed(bundle, &package);
        match first_boot {
            FirstBoot::CloudInit => files.extend(cloud_init_seed(bundle)),
            FirstBoot::FirstrunScript => {
                let existing = read_text(&fat, "cmdline.txt")?;
                files.push((
                    "cmdline.txt".into(),
                    firstrun::cmdline(&existing, bundle).into_bytes(),
                ));
                files.push((
                    firstrun::script_name(),
                    firstrun::script(bundle, &uuid::Uuid::new_v4().to_string()).into_bytes(),
                ));
            }
            FirstBoot::Unknown => {
                return Err(ProvisionError::NoFirstBoot(base.display().to_string()));
            }
        }
        (first_boot, write_files(fat, &files)?)
    };
    let len = img.len;
    let (head, rest) = img.into_stream();
    let written = write::write(&head, rest, len, target).and_then(|w| {
        write::verify(target, &w)?;
        Ok(w)
    });
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            if let Target::File(p) = target {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    };
    Ok(Provisioned {
        first_boot,
        files: written_names,
        bytes: written.len,
    })
}

/// Puts `files` in the FAT's root (replacing files of the same name) if
/// they fit.
fn write_files(
    fat: HeadFat<'_>,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<String>, ProvisionError> {
    let fat_err = |e: std::io::Error| ProvisionError::Fat(e.to_string());
    let stats = fat.stats().map_err(fat_err)?;
    let cluster = stats.cluster_size() as u64;
    let free = stats.free_clusters() as u64 * cluster;
    // Each file rounds up to whole clusters; cloud-init's seed replaces
    // files of about the same size.
    let need: u64 = files
        .iter()
        .map(|(_, bytes)| (bytes.len() as u64).div_ceil(cluster) * cluster)
        .sum();
    if need > free {
        return Err(ProvisionError::BootFull { free, need });
    }
    let root = fat.root_dir();
    // A placeholder network-config in the base would replace cloud-init's
    // fallback (DHCP on the wired port): without Wi-Fi there is none.
    if !files.iter().any(|(n, _)| n == "network-config") {
        match root.remove("network-config") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fat_err(e)),
        }
    }
    let mut written = Vec::new();
    for (name, bytes) in files {
        let mut f = root.create_file(name).map_err(fat_err)?;
        f.truncate().map_err(fat_err)?;
        f.write_all(bytes).map_err(fat_err)?;
        f.flush().map_err(fat_err)?;
        written.push(name.clone());
    }
    drop(root);
    fat.unmount().map_err(fat_err)?;
    Ok(written)
}

/// The files for the boot partition that every first-boot mechanism
/// uses, by path.
fn seed(b: &Bundle, package: &[u8]) -> Vec<(String, Vec<u8>)> {
    let provision = serde_json::json!({
        "cloud_url": b.cloud_url,
        "token": b.token,
        "device_name": b.hostname,
    });
    vec![
        (format!("{PREFIX}{DEB_FILE}"), package.to_vec()),
        (
            format!("{PREFIX}{PROVISION_FILE}"),
            provision.to_string().into_bytes(),
        ),
        (
            format!("{PREFIX}first-boot.sh"),
            FIRST_BOOT_SH.as_bytes().to_vec(),
        ),
        (
            format!("{PREFIX}{}", crate::inspect::BUNDLE_FILE),
            bundle_toml(b).into_bytes(),
        ),
    ]
}

/// cloud-init's NoCloud seed.
fn cloud_init_seed(b: &Bundle) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("user-data".into(), user_data(b).into_bytes()),
        ("meta-data".into(), meta_data(b).into_bytes()),
    ];
    if let Some(w) = &b.wifi {
        files.push(("network-config".into(), network_config(w).into_bytes()));
    }
    files
}

/// A text file of the boot partition's root.
fn read_text(fat: &HeadFat<'_>, name: &str) -> Result<String, ProvisionError> {
    use std::io::Read;
    let mut text = String::new();
    fat.root_dir()
        .open_file(name)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| ProvisionError::Fat(format!("cannot read {name}: {e}")))?;
    Ok(text)
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    match getrandom::fill(&mut raw) {
        Ok(()) => raw.iter().map(|x| format!("{x:02x}")).collect(),
        Err(_) => format!("{:0width$x}", std::process::id(), width = bytes * 2),
    }
}

/// A YAML/TOML string: JSON's quoting is valid in both.
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The bundle as `sos-flash inspect` reads it back (the token included: it
/// is on the card until first boot removes it).
fn bundle_toml(b: &Bundle) -> String {
    let mut t = format!(
        "cloud_url = {}\ntoken = {}\nhostname = {}\ntimezone = {}\n",
        q(&b.cloud_url),
        q(&b.token),
        q(&b.hostname),
        q(&b.timezone)
    );
    if let Some(w) = &b.wifi {
        t.push_str(&format!(
            "wifi_ssid = {}\nwifi_psk = {}\nwifi_country = {}\n",
            q(&w.ssid),
            q(&w.psk),
            q(&w.country)
        ));
    }
    if let Some(k) = &b.ssh_authorized_key {
        t.push_str(&format!("ssh_authorized_key = {}\n", q(k)));
    }
    if let Some(c) = &b.cloud_ca {
        t.push_str(&format!("cloud_ca = {}\n", q(c)));
    }
    t
}

fn user_data(b: &Bundle) -> String {
    let mut y = format!(
        "#cloud-config\n# Written by sos-flash for an SOS Edge box.\nhostname: {h}\nfqdn: {h}\ntimezone: {tz}\n",
        h = q(&b.hostname),
        tz = q(&b.timezone)
    );
    if let Some(k) = &b.ssh_authorized_key {
        y.push_str(&format!(
            "users:\n  - name: installer\n    groups: [sudo]\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    lock_passwd: true\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - {}\nssh_pwauth: false\n",
            q(k)
        ));
    }
    if let Some(c) = &b.cloud_ca {
        // cloud-init's ca_certs: into the system trust store the appliance
        // reads (update-ca-certificates), before the service starts.
        y.push_str("ca_certs:\n  trusted:\n    - |\n");
        for line in c.lines() {
            y.push_str(&format!("      {}\n", line.trim_end()));
        }
    }
    // bootcmd, not runcmd: it runs at every boot, so a first boot cut
    // short is finished at the next (the script exits at once when done).
    y.push_str("bootcmd:\n  - [sh, -c, 'for d in /boot/firmware /boot/efi /boot; do [ -f \"$d/sos-edge-first-boot.sh\" ] && exec sh \"$d/sos-edge-first-boot.sh\"; done; echo \"sos-edge-first-boot.sh not found\" >&2; exit 1']\n");
    y
}

fn meta_data(b: &Bundle) -> String {
    // A new instance id: cloud-init runs its first-boot modules again for
    // a card flashed anew.
    let id = random_hex(8);
    format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        q(&format!("sos-edge-{}-{id}", b.hostname)),
        q(&b.hostname)
    )
}

/// The clinic's Wi-Fi, and nothing about the wired port. *Decision:*
/// cloud-init names a v2 `match` entry after its key on renderers without
/// matching (ifupdown on Debian), which broke wired DHCP there; without a
/// `network-config`, every renderer gets cloud-init's fallback (DHCP on the
/// wired port), and with Wi-Fi, Raspberry Pi OS's NetworkManager keeps
/// bringing up the wired port on its own.
fn network_config(w: &Wifi) -> String {
    format!(
        "version: 2\nwifis:\n  wlan0:\n    dhcp4: true\n    optional: true\n    regulatory-domain: {}\n    access-points:\n      {}:\n        password: {}\n",
        q(&w.country),
        q(&w.ssid),
        q(&w.psk)
    )
}
