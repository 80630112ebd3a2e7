//! `--device /dev/sdX`: which disk that is, and whether writing over it is
//! safe. Read from sysfs and the mount table (nothing is opened for
//! writing here): refused are a partition instead of a disk, the disk the
//! system runs from, a disk with anything mounted or in use, and a disk the
//! kernel does not call removable unless the installer says `--force`.
//! The size is checked against the image as it is written.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a disk (a block device); to write an image file use -o")]
    NotADisk(String),
    #[error("{path} is a partition of {disk}; give the whole disk: --device /dev/{disk}")]
    Partition { path: String, disk: String },
    #[error("{0} is the disk this computer runs from; refusing to write over it")]
    SystemDisk(String),
    #[error("{path} is in use: {what}; unmount it (and eject nothing) before writing")]
    InUse { path: String, what: String },
    #[error(
        "{path} ({model}, {size}) is not a removable disk; if it really is the box's card or stick, add --force"
    )]
    NotRemovable {
        path: String,
        model: String,
        size: String,
    },
}

/// A disk as the kernel describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    pub path: PathBuf,
    /// Its kernel name (`sdb`, `mmcblk0`, `loop3`).
    pub name: String,
    pub size: u64,
    pub removable: bool,
    pub model: String,
}

/// What the checks read about this computer; [`Host::this_machine`] reads
/// the real one, tests can describe another.
#[derive(Debug, Clone)]
pub struct Host {
    pub sysfs: PathBuf,
    /// `/proc/self/mounts`.
    pub mounts: String,
    /// `/proc/swaps`.
    pub swaps: String,
    /// Kernel names of the disks holding `/`.
    pub system_disks: Vec<String>,
}

impl Host {
    pub fn this_machine() -> Host {
        let sysfs = PathBuf::from("/sys");
        let system_disks = std::fs::metadata("/")
            .ok()
            .map(|m| disks_under(&sysfs, m.dev()))
            .unwrap_or_default();
        Host {
            mounts: std::fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
            swaps: std::fs::read_to_string("/proc/swaps").unwrap_or_default(),
            sysfs,
            system_disks,
        }
    }
}

/// `major:minor` of a `dev_t`, as glibc splits it.
fn dev_numbers(dev: u64) -> String {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    format!("{major}:{minor}")
}

/// The sysfs directory of a block device number, if the kernel has one.
fn sys_dir(sysfs: &Path, dev: u64) -> Option<PathBuf> {
    sysfs
        .join("dev/block")
        .join(dev_numbers(dev))
        .canonicalize()
        .ok()
}

/// The whole disks under device `dev`: itself, its parent when it is a
/// partition, and the disks under a device-mapper or RAID device.
fn disks_under(sysfs: &Path, dev: u64) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(dir) = sys_dir(sysfs, dev) {
        collect_disks(&dir, &mut out, 0);
    }
    out
}

fn collect_disks(dir: &Path, out: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    let slaves: Vec<PathBuf> = std::fs::read_dir(dir.join("slaves"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.path().canonicalize().ok())
                .collect()
        })
        .unwrap_or_default();
    if !slaves.is_empty() {
        for s in slaves {
            collect_disks(&s, out, depth + 1);
        }
        return;
    }
    let disk = if dir.join("partition").exists() {
        dir.parent().map(Path::to_path_buf)
    } else {
        Some(dir.to_path_buf())
    };
    if let Some(name) = disk.as_deref().and_then(Path::file_name) {
        out.push(name.to_string_lossy().into_owned());
    }
}

fn read_trim(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Human size, as a card's label says it (decimal GB).
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1_000_000_000 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{:.0} MB", bytes as f64 / 1e6)
    }
}

/// Checks that `path` is a whole disk that may be written over.
pub fn check(path: &Path, host: &Host, force: bool) -> Result<Disk, DeviceError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| DeviceError::Io {
        path: shown.clone(),
        source,
    })?;
    if !meta.file_type().is_block_device() {
        return Err(DeviceError::NotADisk(shown));
    }
    let dir =
        sys_dir(&host.sysfs, meta.rdev()).ok_or_else(|| DeviceError::NotADisk(shown.clone()))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if dir.join("partition").exists() {
        let disk = dir
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(DeviceError::Partition { path: shown, disk });
    }
    if host.system_disks.contains(&name) {
        return Err(DeviceError::SystemDisk(shown));
    }
    // The disk and its partitions, by kernel name.
    let mut names = vec![name.clone()];
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.filter_map(Result::ok) {
            if e.path().join("partition").exists() {
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    if let Some(what) = in_use(host, &dir, &names) {
        return Err(DeviceError::InUse { path: shown, what });
    }
    let size = read_trim(&dir.join("size")).parse::<u64>().unwrap_or(0) * 512;
    let removable = read_trim(&dir.join("removable")) == "1";
    let model = match read_trim(&dir.join("device/model")) {
        m if m.is_empty() => name.clone(),
        m => m,
    };
    if !removable && !force {
        return Err(DeviceError::NotRemovable {
            path: shown,
            model,
            size: size_label(size),
        });
    }
    Ok(Disk {
        path: path.to_path_buf(),
        name,
        size,
        removable,
        model,
    })
}

/// A mount, a swap area or a holder (LVM, RAID, dm-crypt) on the disk or
/// one of its partitions, said in words.
fn in_use(host: &Host, dir: &Path, names: &[String]) -> Option<String> {
    let is_ours = |source: &str| {
        source.starts_with("/dev/")
            && Path::new(source)
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .is_some_and(|n| names.contains(&n))
    };
    for line in host.mounts.lines() {
        let mut f = line.split_whitespace();
        if let (Some(source), Some(at)) = (f.next(), f.next())
            && is_ours(source)
        {
            return Some(format!("{source} is mounted at {at}"));
        }
    }
    for line in host.swaps.lines().skip(1) {
        if let Some(source) = line.split_whitespace().next()
            && is_ours(source)
        {
            return Some(format!("{source} is a swap area"));
        }
    }
    for n in names {
        let holders = if *n == names[0] {
            dir.join("holders")
        } else {
            dir.join(n).join("holders")
        };
        if let Some(h) = std::fs::read_dir(holders)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
        {
            return Some(format!(
                "{n} is held by {}",
                h.file_name().to_string_lossy()
            ));
        }
    }
    None
}
