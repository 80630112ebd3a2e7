//! The box's own secret: 32 random bytes kept in the data directory (mode
//! 0600), from which a separate key is derived for each purpose so that one
//! use can never be replayed as another.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create the box key at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the box key at {0} is damaged (expected 32 bytes)")]
    Damaged(String),
}

#[derive(Clone)]
pub struct BoxKey([u8; 32]);

/// What a derived key is for.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    CheckinLink,
    DateOfBirth,
    FormToken,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::CheckinLink => b"sos-edge/checkin-link/v1",
            Purpose::DateOfBirth => b"sos-edge/date-of-birth/v1",
            Purpose::FormToken => b"sos-edge/form-token/v1",
        }
    }
}

impl BoxKey {
    pub fn load_or_create(path: &Path) -> Result<BoxKey, SecretError> {
        let io = |source| SecretError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let arr: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretError::Damaged(path.display().to_string()))?;
                Ok(BoxKey(arr))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(path).map_err(io)?;
                f.write_all(&key).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(BoxKey(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    #[cfg(test)]
    pub fn from_bytes(b: [u8; 32]) -> BoxKey {
        BoxKey(b)
    }

    /// HMAC-SHA256 of `msg` under the key for `purpose`.
    pub fn mac(&self, purpose: Purpose, msg: &[u8]) -> [u8; 32] {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key size");
        m.update(purpose.label());
        let sub = m.finalize().into_bytes();
        let mut m = <HmacSha256 as Mac>::new_from_slice(&sub).expect("HMAC takes any key size");
        m.update(msg);
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of a MAC given as url-safe base64 (possibly truncated
    /// to `len` bytes).
    pub fn verify(&self, purpose: Purpose, msg: &[u8], tag_b64: &str, len: usize) -> bool {
        let Ok(tag) = b64().decode(tag_b64) else {
            return false;
        };
        if tag.len() != len {
            return false;
        }
        let expected = self.mac(purpose, msg);
        subtle::ConstantTimeEq::ct_eq(&expected[..len], &tag[..]).into()
    }
}

pub fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// A fresh random bearer token (TV tokens, patient status tokens, sessions).
pub fn random_token() -> String {
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    b64().encode(b)
}

/// How bearer tokens are stored: SHA-256, hex. They are random, so a fast
/// hash is enough; the database never holds a usable token.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}
