//! On-disk phrase cache: synthesised clauses, content-addressed by voice,
//! synthesis settings and text, bounded in size, least recently used out.
//!
//! Files are `<sha256>.pcm` (a small header, then f32 little-endian mono
//! samples). The spoken audio contains first names, so the cache lives in the
//! box's private data directory and entries older than `max_age` are removed.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::VoiceError;

const MAGIC: &[u8; 8] = b"SOSVPCM1";
const HEADER: usize = 8 + 4 + 4;

/// A clause's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl Pcm {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.sample_rate.max(1)))
    }
}

struct Entry {
    bytes: u64,
    used: SystemTime,
}

pub struct PhraseCache {
    dir: PathBuf,
    max_bytes: u64,
    total: u64,
    entries: HashMap<String, Entry>,
}

/// The cache key: voice tag (voice, model, settings, engine version) + text.
pub fn key(tag: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    h.update([0u8]);
    h.update(text.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl PhraseCache {
    /// Opens (creating) the cache directory, indexes what is there, removes
    /// entries older than `max_age`, and trims to `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64, max_age: Duration) -> Result<PhraseCache, VoiceError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| VoiceError::Cache(format!("{}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let mut cache = PhraseCache {
            dir: dir.to_path_buf(),
            max_bytes,
            total: 0,
            entries: HashMap::new(),
        };
        let now = SystemTime::now();
        let listing = std::fs::read_dir(dir)
            .map_err(|e| VoiceError::Cache(format!("{}: {e}", dir.display())))?;
        for item in listing.flatten() {
            let path = item.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(k) = name.strip_suffix(".pcm") else {
                continue;
            };
            let Ok(meta) = item.metadata() else { continue };
            let used = meta.modified().unwrap_or(now);
            if now.duration_since(used).unwrap_or_default() > max_age {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            cache.total += meta.len();
            cache.entries.insert(
                k.to_string(),
                Entry {
                    bytes: meta.len(),
                    used,
                },
            );
        }
        cache.evict();
        Ok(cache)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.pcm"))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The cached audio, or None (a damaged file is removed).
    pub fn get(&mut self, key: &str) -> Option<Pcm> {
        if !self.entries.contains_key(key) {
            return None;
        }
        let path = self.path(key);
        match std::fs::read(&path).ok().and_then(|b| decode(&b)) {
            Some(pcm) => {
                let now = SystemTime::now();
                if let Some(e) = self.entries.get_mut(key) {
                    e.used = now;
                }
                // Keep the LRU order across restarts.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(now);
                }
                Some(pcm)
            }
            None => {
                self.remove(key);
                None
            }
        }
    }

    /// Stores audio under `key` (atomically), then trims to the size bound.
    pub fn put(&mut self, key: &str, pcm: &Pcm) -> Result<(), VoiceError> {
        let bytes = encode(pcm);
        let len = bytes.len() as u64;
        if len > self.max_bytes {
            return Ok(());
        }
        let path = self.path(key);
        let tmp = self.dir.join(format!("{key}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| VoiceError::Cache(format!("{}: {e}", path.display())))?;
        if let Some(old) = self.entries.insert(
            key.to_string(),
            Entry {
                bytes: len,
                used: SystemTime::now(),
            },
        ) {
            self.total -= old.bytes;
        }
        self.total += len;
        self.evict();
        Ok(())
    }

    /// Removes entries not used for longer than `max_age`.
    pub fn expire(&mut self, max_age: Duration) {
        let now = SystemTime::now();
        let old: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| now.duration_since(e.used).unwrap_or_default() > max_age)
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            self.remove(&k);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.total -= e.bytes;
        }
        let _ = std::fs::remove_file(self.path(key));
    }

    fn evict(&mut self) {
        while self.total > self.max_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
    }
}

fn encode(pcm: &Pcm) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + pcm.samples.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&pcm.sample_rate.to_le_bytes());
    out.extend_from_slice(&(pcm.samples.len() as u32).to_le_bytes());
    for s in &pcm.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn decode(bytes: &[u8]) -> Option<Pcm> {
    let header = bytes.get(..HEADER)?;
    if &header[..8] != MAGIC {
        return None;
    }
    let rate = u32::from_le_bytes(header[8..12].try_into().ok()?);
    let n = u32::from_le_bytes(header[12..16].try_into().ok()?) as usize;
    let body = bytes.get(HEADER..)?;
    if body.len() != n * 4 || rate == 0 {
        return None;
    }
    let samples = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(Pcm {
        sample_rate: rate,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(n: usize, v: f32) -> Pcm {
        Pcm {
            sample_rate: 22050,
            samples: vec![v; n],
        }
    }

    #[test]
    fn round_trip_is_identical_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let k = key("joe|0|0", "Welcome,");
        let audio = Pcm {
            sample_rate: 22050,
            samples: vec![0.25, -0.5, 1e-7, f32::MIN_POSITIVE],
        };
        {
            let mut c = PhraseCache::open(dir.path(), 1 << 20, Duration::from_secs(3600)).unwrap();
            assert!(c.get(&k).is_none());
            c.put(&k, &audio).unwrap();
            assert_eq!(c.get(&k), Some(audio.clone()));
        }
        let mut c = PhraseCache::open(dir.path(), 1 << 20, Duration::from_secs(3600)).unwrap();
        assert_eq!(c.get(&k), Some(audio));
        assert_ne!(k, key("joe|0|0", "Welcome"));
        assert_ne!(k, key("joe|1|0", "Welcome,"));
    }

    #[test]
    fn least_recently_used_goes_first_when_full() {
        let dir = tempfile::tempdir().unwrap();
        // Each entry is 16 + 400 bytes; room for two.
        let mut c = PhraseCache::open(dir.path(), 900, Duration::from_secs(3600)).unwrap();
        c.put("a", &pcm(100, 0.1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        c.put("b", &pcm(100, 0.2)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.get("a").is_some()); // a is now newer than b
        std::thread::sleep(Duration::from_millis(5));
        c.put("c", &pcm(100, 0.3)).unwrap();
        assert!(c.contains("a") && c.contains("c") && !c.contains("b"));
        assert!(c.total_bytes() <= 900);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn damaged_files_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = PhraseCache::open(dir.path(), 1 << 20, Duration::from_secs(3600)).unwrap();
        c.put("a", &pcm(10, 0.1)).unwrap();
        std::fs::write(dir.path().join("a.pcm"), b"SOSVPCM1garbage").unwrap();
        assert!(c.get("a").is_none());
        assert!(!c.contains("a"));
    }
}
