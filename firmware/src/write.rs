//! Writing the image out, and reading it back. The image streams in chunks
//! (the edited head first, then the rest of the base, decompressed if it
//! was xz); each chunk's SHA-256 is kept, and once the target is synced it
//! is read back and every chunk compared, so a card that lies about its
//! size or loses writes is caught before it goes into a box. To a file,
//! runs of zeros are skipped (sparse); to a disk, everything is written,
//! since the old bytes there are not zero.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

pub const CHUNK: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the base image cannot be read past {at} bytes: {why}")]
    Base { at: u64, why: String },
    #[error("{path} holds {size} bytes; the image needs at least {need}: use a larger card")]
    TooSmall { path: String, size: u64, need: u64 },
    #[error(
        "{path} does not hold what was written: bytes {at}..{end} read back differently (a failing card, or one that is smaller than it claims)"
    )]
    Mismatch { path: String, at: u64, end: u64 },
}

/// Where the image goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// An image file, created or replaced.
    File(PathBuf),
    /// A whole disk of `size` bytes, already checked (`device::check`).
    Disk { path: PathBuf, size: u64 },
}

impl Target {
    pub fn path(&self) -> &Path {
        match self {
            Target::File(p) | Target::Disk { path: p, .. } => p,
        }
    }
}

/// What was written: its length and each chunk's digest.
#[derive(Debug)]
pub struct Written {
    pub len: u64,
    pub chunks: Vec<Chunk>,
}

#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    pub digest: [u8; 32],
    /// All zeros: to a file, a hole the file system keeps as zeros, so it
    /// is neither written nor read back.
    pub zero: bool,
}

/// The digest of an all-zero chunk, computed once: most of an image is
/// zeros, and hashing them over and over was most of the time.
fn zero_digest(n: usize) -> [u8; 32] {
    static FULL: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    if n == CHUNK {
        *FULL.get_or_init(|| Sha256::digest(vec![0u8; CHUNK]).into())
    } else {
        Sha256::digest(vec![0u8; n]).into()
    }
}

/// A byte-counting bar on standard error; hidden when that is not a terminal.
pub fn bar(len: Option<u64>, message: &'static str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = if len.is_some() {
        "{msg:12} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
    } else {
        "{msg:12} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message);
    pb
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Fills `buf` from `r` as far as it goes; the count read.
pub(crate) fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes `head` then `rest` to `target`; `len` is the total when known
/// (for the bar and the size check before the first byte).
pub fn write(
    head: &[u8],
    rest: impl Read,
    len: Option<u64>,
    target: &Target,
) -> Result<Written, WriteError> {
    let path = target.path();
    if let (Target::Disk { size, .. }, Some(need)) = (target, len)
        && need > *size
    {
        return Err(WriteError::TooSmall {
            path: path.display().to_string(),
            size: *size,
            need,
        });
    }
    let mut out = match target {
        Target::File(p) => File::create(p).map_err(io("create", p))?,
        Target::Disk { path, .. } => OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io("open", path))?,
    };
    let sparse = matches!(target, Target::File(_));
    let pb = bar(len, "writing");
    let mut stream = std::io::Cursor::new(head).chain(rest);
    let mut buf = vec![0u8; CHUNK];
    let mut chunks = Vec::new();
    let mut at = 0u64;
    loop {
        let n = fill(&mut stream, &mut buf).map_err(|e| WriteError::Base {
            at,
            why: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if let Target::Disk { size, .. } = target
            && at + n as u64 > *size
        {
            return Err(WriteError::TooSmall {
                path: path.display().to_string(),
                size: *size,
                need: at + n as u64,
            });
        }
        let zero = chunk.iter().all(|b| *b == 0);
        let digest = if zero {
            zero_digest(n)
        } else {
            Sha256::digest(chunk).into()
        };
        chunks.push(Chunk { digest, zero });
        if sparse && zero {
            out.seek(SeekFrom::Current(n as i64))
                .map_err(io("write", path))?;
        } else {
            out.write_all(chunk).map_err(io("write", path))?;
        }
        at += n as u64;
        pb.set_position(at);
    }
    if sparse {
        out.set_len(at).map_err(io("write", path))?;
    }
    pb.set_message("syncing");
    out.sync_all().map_err(io("sync", path))?;
    pb.finish_and_clear();
    Ok(Written { len: at, chunks })
}

/// Reads the target back and compares every chunk with what was written.
pub fn verify(target: &Target, written: &Written) -> Result<(), WriteError> {
    let path = target.path();
    let mut f = File::open(path).map_err(io("read back", path))?;
    // A card's bytes, not the page cache's copy of what was sent to it.
    if matches!(target, Target::Disk { .. }) {
        let _ = rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed);
    }
    let pb = bar(Some(written.len), "verifying");
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    let sparse = matches!(target, Target::File(_));
    for want in &written.chunks {
        let n = (written.len - at).min(CHUNK as u64) as usize;
        if sparse && want.zero {
            f.seek(SeekFrom::Current(n as i64))
                .map_err(io("read back", path))?;
            at += n as u64;
            continue;
        }
        let got = fill(&mut f, &mut buf[..n]).map_err(io("read back", path))?;
        let digest: [u8; 32] = if got == n && buf[..n].iter().all(|b| *b == 0) {
            zero_digest(n)
        } else {
            Sha256::digest(&buf[..got]).into()
        };
        if got != n || digest != want.digest {
            return Err(WriteError::Mismatch {
                path: path.display().to_string(),
                at,
                end: at + n as u64,
            });
        }
        at += n as u64;
        pb.set_position(at);
    }
    pb.finish_and_clear();
    Ok(())
}
