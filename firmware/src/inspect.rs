//! `sos-flash inspect IMAGE`: the partitions, the boot partition's files,
//! which first-boot mechanism the image understands, and the bundle
//! already written into it (secrets masked), so an installer can check a
//! card before it goes into a box.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use crate::bundle::Bundle;
use crate::image::{self, ImageError, Partition, Table};
use crate::source::{Base, HeadFat};

/// The prefix of the files `sos-flash provision` puts in the boot
/// partition's root.
pub const PREFIX: &str = "sos-edge-";
pub const BUNDLE_FILE: &str = "bundle.toml";

/// How the base OS sets itself up at first boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstBoot {
    /// cloud-init's NoCloud seed (`user-data`, `meta-data`,
    /// `network-config`) on the boot partition: Raspberry Pi OS since
    /// Trixie, Debian's cloud images.
    CloudInit,
    /// A Raspberry Pi boot partition without cloud-init's files: older
    /// Raspberry Pi OS, set up by `firstrun.sh` from `cmdline.txt`.
    FirstrunScript,
    /// Neither.
    Unknown,
}

impl FirstBoot {
    pub fn detect(names: &[String]) -> FirstBoot {
        let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
        if has("user-data") || has("meta-data") || has("network-config") {
            FirstBoot::CloudInit
        } else if has("cmdline.txt") && has("config.txt") {
            FirstBoot::FirstrunScript
        } else {
            FirstBoot::Unknown
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FirstBoot::CloudInit => {
                "cloud-init (user-data, meta-data, network-config on the boot partition)"
            }
            FirstBoot::FirstrunScript => {
                "firstrun.sh (a Raspberry Pi OS before Trixie: cmdline.txt runs it)"
            }
            FirstBoot::Unknown => {
                "none recognised (no cloud-init seed, not a Raspberry Pi boot partition)"
            }
        }
    }
}

/// What an image holds.
#[derive(Debug)]
pub struct Report {
    pub table: Table,
    pub partitions: Vec<Partition>,
    pub boot: Option<u32>,
    pub boot_files: Vec<String>,
    pub first_boot: FirstBoot,
    /// The bundle written into the image, if any (or why it cannot be read).
    pub bundle: Option<Result<Bundle, String>>,
}

/// Reads an image file (raw or `.img.xz`) or a card.
pub fn inspect(path: &Path) -> Result<Report, ImageError> {
    let mut img = Base::open(path)?;
    let (table, partitions) = img.partitions()?;
    let Some(boot) = partitions.iter().find(|p| p.fat).cloned() else {
        return Ok(Report {
            table,
            partitions,
            boot: None,
            boot_files: Vec::new(),
            first_boot: FirstBoot::Unknown,
            bundle: None,
        });
    };
    img.load(&boot)?;
    let fat = img.fat(&boot)?;
    let boot_files = image::root_names(&fat);
    let first_boot = FirstBoot::detect(&boot_files);
    let bundle = read_bundle(&fat);
    Ok(Report {
        table,
        partitions,
        boot: Some(boot.number),
        boot_files,
        first_boot,
        bundle,
    })
}

fn read_bundle(fat: &HeadFat<'_>) -> Option<Result<Bundle, String>> {
    let mut file = fat
        .root_dir()
        .open_file(&format!("{PREFIX}{BUNDLE_FILE}"))
        .ok()?;
    let mut text = String::new();
    Some(match file.read_to_string(&mut text) {
        Ok(_) => Bundle::parse(&text).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    })
}

impl Report {
    /// As `sos-flash inspect` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "partition table: {}", self.table.name());
        for p in &self.partitions {
            let _ = writeln!(
                out,
                "  {}  start {:>12}  size {:>12}  type {}{}{}",
                p.number,
                p.start,
                p.size,
                p.kind,
                if p.fat { "  FAT" } else { "" },
                if Some(p.number) == self.boot {
                    " (boot)"
                } else {
                    ""
                },
            );
        }
        match self.boot {
            None => {
                let _ = writeln!(out, "boot partition: none (no FAT partition)");
            }
            Some(_) => {
                let _ = writeln!(out, "boot partition files: {}", self.boot_files.join(", "));
            }
        }
        let _ = writeln!(out, "first boot: {}", self.first_boot.describe());
        match &self.bundle {
            None => {
                let _ = writeln!(out, "bundle: none written");
            }
            Some(Err(why)) => {
                let _ = writeln!(out, "bundle: present but not valid: {why}");
            }
            Some(Ok(b)) => {
                let _ = writeln!(out, "bundle:");
                for (k, v) in b.masked() {
                    let _ = writeln!(out, "  {k} = {v}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_boot_mechanism_is_told_from_the_boot_files() {
        assert_eq!(
            FirstBoot::detect(&names(&[
                "config.txt",
                "cmdline.txt",
                "user-data",
                "meta-data"
            ])),
            FirstBoot::CloudInit
        );
        assert_eq!(
            FirstBoot::detect(&names(&["config.txt", "cmdline.txt", "kernel8.img"])),
            FirstBoot::FirstrunScript
        );
        assert_eq!(FirstBoot::detect(&names(&["EFI"])), FirstBoot::Unknown);
    }
}
