//! The base image as it is read: a raw image, or an xz-compressed one
//! (crate `xz2`) decompressed as it streams, never to a temporary file. Its
//! first bytes, up to the end of the boot partition, are held in memory so
//! the boot partition can be checked and edited there before anything is
//! written; the rest streams straight to the output.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use fscommon::BufStream;

use crate::image::{self, ImageError, Partition, Table};

/// How far into a base image the boot partition may end (it is at the
/// start of every image this tool knows: 512 MiB on Raspberry Pi OS).
pub const HEAD_LIMIT: u64 = 1 << 30;
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

pub struct Base {
    pub shown: String,
    /// The image's first bytes, decompressed.
    head: Vec<u8>,
    rest: Box<dyn Read>,
    /// Whether `rest` came out of xz.
    pub compressed: bool,
    /// The whole image's size, when known before reading it (raw images).
    pub len: Option<u64>,
}

/// The in-memory boot partition as a FAT file system.
pub type HeadFat<'a> = fatfs::FileSystem<BufStream<Cursor<&'a mut [u8]>>>;

impl Base {
    pub fn open(path: &Path) -> Result<Base, ImageError> {
        let shown = path.display().to_string();
        let io = |source| ImageError::Io {
            path: shown.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 6];
        let n = crate::write::fill(&mut file, &mut magic).map_err(io)?;
        let compressed = magic[..n] == *XZ_MAGIC;
        let len = if compressed {
            None
        } else {
            Some(file.metadata().map_err(io)?.len())
        };
        // The magic bytes were read: start the stream with them again.
        let start = Cursor::new(magic[..n].to_vec());
        let raw = start.chain(BufReader::with_capacity(1 << 20, file));
        let rest: Box<dyn Read> = if compressed {
            Box::new(xz2::read::XzDecoder::new_multi_decoder(raw))
        } else {
            Box::new(raw)
        };
        Ok(Base {
            shown,
            head: Vec::new(),
            rest,
            compressed,
            len,
        })
    }

    /// Reads on until the head holds `upto` bytes or the image ends.
    fn fill_to(&mut self, upto: u64) -> Result<(), ImageError> {
        let want = upto.saturating_sub(self.head.len() as u64);
        if want == 0 {
            return Ok(());
        }
        (&mut self.rest)
            .take(want)
            .read_to_end(&mut self.head)
            .map_err(|source| self.damaged(source))?;
        Ok(())
    }

    fn damaged(&self, source: std::io::Error) -> ImageError {
        if self.compressed {
            ImageError::BadTable {
                path: self.shown.clone(),
                why: format!("the xz data is damaged or truncated ({source})"),
            }
        } else {
            ImageError::Io {
                path: self.shown.clone(),
                source,
            }
        }
    }

    /// The partition table, each partition's FAT check read into the head
    /// (a partition starting past [`HEAD_LIMIT`] is listed as not FAT).
    pub fn partitions(&mut self) -> Result<(Table, Vec<Partition>), ImageError> {
        self.fill_to(1 << 20)?;
        let (table, mut parts) =
            image::partitions_in(&mut Cursor::new(&mut self.head), &self.shown)?;
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|i| parts[*i].start);
        for i in order {
            let start = parts[i].start;
            if start + 512 > HEAD_LIMIT {
                break;
            }
            self.fill_to(start + 512)?;
            parts[i].fat = image::looks_like_fat(&mut Cursor::new(&self.head), start)
                .map_err(|source| self.damaged(source))?;
        }
        Ok((table, parts))
    }

    /// The partition table and the boot partition (the first FAT one),
    /// the boot partition read whole into the head.
    pub fn boot(&mut self) -> Result<(Table, Partition), ImageError> {
        let (table, parts) = self.partitions()?;
        let boot = parts
            .into_iter()
            .find(|p| p.fat)
            .ok_or_else(|| ImageError::NoBootPartition(self.shown.clone()))?;
        self.load(&boot)?;
        Ok((table, boot))
    }

    /// Reads partition `p` whole into the head.
    pub fn load(&mut self, p: &Partition) -> Result<(), ImageError> {
        let end = p.start + p.size;
        if end > HEAD_LIMIT {
            return Err(ImageError::BootTooFar {
                path: self.shown.clone(),
                end,
            });
        }
        self.fill_to(end)?;
        if (self.head.len() as u64) < end {
            return Err(ImageError::Truncated {
                path: self.shown.clone(),
                end,
                len: self.head.len() as u64,
            });
        }
        Ok(())
    }

    /// The boot partition's FAT, in memory: edits change the head only.
    pub fn fat(&mut self, boot: &Partition) -> Result<HeadFat<'_>, ImageError> {
        let shown = self.shown.clone();
        let range = boot.start as usize..(boot.start + boot.size) as usize;
        let slice = self
            .head
            .get_mut(range)
            .ok_or_else(|| ImageError::NoBootPartition(shown.clone()))?;
        fatfs::FileSystem::new(BufStream::new(Cursor::new(slice)), fatfs::FsOptions::new()).map_err(
            |e| ImageError::BadFat {
                path: shown,
                why: e.to_string(),
            },
        )
    }

    /// The whole image, head first, as one stream.
    pub fn into_stream(self) -> (Vec<u8>, Box<dyn Read>) {
        (self.head, self.rest)
    }
}
