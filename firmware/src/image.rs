//! A disk image (or a card) as partitions: the table read with `mbrman`
//! (MBR, Raspberry Pi OS) or `gpt` (GPT, Debian's images), and the boot
//! partition found by its FAT file system, opened in place with `fatfs`
//! over a slice of the file: nothing is mounted, nothing needs root.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use fscommon::{BufStream, StreamSlice};

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

/// The disk's partitions, in order.
pub fn partitions(path: &Path) -> Result<(Table, Vec<Partition>), ImageError> {
    let shown = path.display().to_string();
    let io = |source| ImageError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut mbr = [0u8; 512];
    file.read_exact(&mut mbr).map_err(io)?;
    if mbr[510..512] != [0x55, 0xaa] {
        return Err(ImageError::NoTable(shown));
    }
    // A protective MBR (one entry of type 0xEE) fronts a GPT.
    let protective = (0..4).any(|i| mbr[446 + i * 16 + 4] == 0xee);
    let bad = |why: String| ImageError::BadTable {
        path: shown.clone(),
        why,
    };
    let mut found: Vec<Partition> = if protective {
        let disk = gpt::GptConfig::new()
            .writable(false)
            .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
            .open(path)
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
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let table =
            mbrman::MBR::read_from(&mut file, SECTOR as u32).map_err(|e| bad(e.to_string()))?;
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
        p.fat = looks_like_fat(&mut file, p.start).map_err(io)?;
    }
    let table = if protective { Table::Gpt } else { Table::Mbr };
    Ok((table, found))
}

/// A FAT boot sector: the jump, the 0x55AA signature and "FAT" where FAT12/16
/// or FAT32 name their type.
fn looks_like_fat(file: &mut File, start: u64) -> std::io::Result<bool> {
    let mut sector = [0u8; 512];
    file.seek(SeekFrom::Start(start))?;
    if file.read_exact(&mut sector).is_err() {
        return Ok(false);
    }
    let jump = sector[0] == 0xeb || sector[0] == 0xe9;
    let signed = sector[510..512] == [0x55, 0xaa];
    let named = &sector[54..57] == b"FAT" || &sector[82..85] == b"FAT";
    Ok(jump && signed && named)
}

/// The boot partition: the first FAT partition.
pub fn boot_partition(path: &Path) -> Result<(Table, Partition), ImageError> {
    let (table, parts) = partitions(path)?;
    parts
        .into_iter()
        .find(|p| p.fat)
        .map(|p| (table, p))
        .ok_or_else(|| ImageError::NoBootPartition(path.display().to_string()))
}

/// The FAT file system of partition `p`, opened in place (read-write when
/// the file is).
pub type Fat = fatfs::FileSystem<BufStream<StreamSlice<File>>>;

pub fn open_fat(path: &Path, file: File, p: &Partition) -> Result<Fat, ImageError> {
    let bad = |why: String| ImageError::BadFat {
        path: path.display().to_string(),
        why,
    };
    let slice =
        StreamSlice::new(file, p.start, p.start + p.size).map_err(|e| bad(e.to_string()))?;
    fatfs::FileSystem::new(BufStream::new(slice), fatfs::FsOptions::new())
        .map_err(|e| bad(e.to_string()))
}

/// The names in the FAT's root directory.
pub fn root_names(fat: &Fat) -> Vec<String> {
    fat.root_dir()
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "." && n != "..")
        .collect()
}
