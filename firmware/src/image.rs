//! A disk image (or a card) as partitions: the table read with `mbrman`
//! (MBR, Raspberry Pi OS) or `gpt` (GPT, Debian's images), each checked for
//! a FAT file system (the boot partition; `source` opens it with `fatfs`):
//! nothing is mounted, nothing needs root.

use std::io::{Read, Seek, SeekFrom, Write};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} has no partition table this tool knows (neither MBR nor GPT)")]
    NoTable(String),
    #[error("{path}'s partition table cannot be read: {why}")]
    BadTable { path: String, why: String },
    #[error("{0} has no FAT boot partition (a Raspberry Pi OS or Debian image has one)")]
    NoBootPartition(String),
    #[error("the boot partition of {path} cannot be read as FAT: {why}")]
    BadFat { path: String, why: String },
    #[error(
        "the boot partition of {path} ends {end} bytes in, past the first GiB this tool reads into memory; this is not a Raspberry Pi OS or Debian image layout"
    )]
    BootTooFar { path: String, end: u64 },
    #[error(
        "{path} ends after {len} bytes, inside its boot partition (which ends at {end}): the image is truncated"
    )]
    Truncated { path: String, end: u64, len: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Mbr,
    Gpt,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Mbr => "MBR",
            Table::Gpt => "GPT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based, as `fdisk` numbers them.
    pub number: u32,
    /// Bytes from the start of the disk.
    pub start: u64,
    pub size: u64,
    /// The MBR type byte (`0x0c`) or the GPT type GUID.
    pub kind: String,
    /// Whether it holds a FAT file system.
    pub fat: bool,
}

const SECTOR: u64 = 512;

/// The partitions of the disk `dev` (a file, a card, or an image's first
/// bytes in memory), named `shown` in errors. A partition whose start lies
/// beyond the end of `dev` is listed as not FAT.
pub fn partitions_in<D>(dev: &mut D, shown: &str) -> Result<(Table, Vec<Partition>), ImageError>
where
    D: Read + Write + Seek + std::fmt::Debug,
{
    let io = |source| ImageError::Io {
        path: shown.to_string(),
        source,
    };
    let mut mbr = [0u8; 512];
    dev.seek(SeekFrom::Start(0)).map_err(io)?;
    dev.read_exact(&mut mbr).map_err(io)?;
    if mbr[510..512] != [0x55, 0xaa] {
        return Err(ImageError::NoTable(shown.to_string()));
    }
    // A protective MBR (one entry of type 0xEE) fronts a GPT.
    let protective = (0..4).any(|i| mbr[446 + i * 16 + 4] == 0xee);
    let bad = |why: String| ImageError::BadTable {
        path: shown.to_string(),
        why,
    };
    let mut found: Vec<Partition> = if protective {
        // Only the primary header is needed: an image's first bytes in
        // memory have no backup header at their end.
        let disk = gpt::GptConfig::new()
            .writable(false)
            .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
            .open_from_device(&mut *dev)
            .map_err(|e| bad(e.to_string()))?;
        disk.partitions()
            .iter()
            .filter(|(_, p)| p.is_used())
            .map(|(n, p)| Partition {
                number: *n,
                start: p.first_lba * SECTOR,
                size: (p.last_lba + 1 - p.first_lba) * SECTOR,
                kind: p.part_type_guid.guid.to_string().to_lowercase(),
                fat: false,
            })
            .collect()
    } else {
        dev.seek(SeekFrom::Start(0)).map_err(io)?;
        let table =
            mbrman::MBR::read_from(&mut *dev, SECTOR as u32).map_err(|e| bad(e.to_string()))?;
        table
            .iter()
            .filter(|(_, p)| p.is_used())
            .map(|(n, p)| Partition {
                number: n as u32,
                start: u64::from(p.starting_lba) * SECTOR,
                size: u64::from(p.sectors) * SECTOR,
                kind: format!("0x{:02x}", p.sys),
                fat: false,
            })
            .collect()
    };
    for p in &mut found {
        p.fat = looks_like_fat(dev, p.start).map_err(io)?;
    }
    let table = if protective { Table::Gpt } else { Table::Mbr };
    Ok((table, found))
}

/// A FAT boot sector: the jump, the 0x55AA signature and "FAT" where FAT12/16
/// or FAT32 name their type.
pub(crate) fn looks_like_fat<D: Read + Seek>(dev: &mut D, start: u64) -> std::io::Result<bool> {
    let mut sector = [0u8; 512];
    dev.seek(SeekFrom::Start(start))?;
    if dev.read_exact(&mut sector).is_err() {
        return Ok(false);
    }
    let jump = sector[0] == 0xeb || sector[0] == 0xe9;
    let signed = sector[510..512] == [0x55, 0xaa];
    let named = &sector[54..57] == b"FAT" || &sector[82..85] == b"FAT";
    Ok(jump && signed && named)
}

/// The names in the FAT's root directory.
pub fn root_names<IO: fatfs::ReadWriteSeek>(fat: &fatfs::FileSystem<IO>) -> Vec<String> {
    fat.root_dir()
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "." && n != "..")
        .collect()
}
