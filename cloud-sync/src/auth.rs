//! Device identity and request signing.
//!
//! A device holds an Ed25519 key pair generated on the box; the cloud stores
//! only the public half. Every sync request carries
//!
//! ```text
//! sos-device:    <device id>
//! sos-timestamp: <unix milliseconds>
//! sos-nonce:     <16 random bytes, base64url>
//! sos-signature: <Ed25519 signature, base64url>
//! ```
//!
//! over the canonical string built by [`signing_string`]: the protocol tag,
//! method, path with query, timestamp, nonce, SHA-256 of the body and the
//! device id, one per line. The cloud accepts a timestamp within
//! [`TIMESTAMP_WINDOW_MS`] of its clock and each nonce once per device.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// How far a request's timestamp may be from the cloud's clock.
pub const TIMESTAMP_WINDOW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("the device key is not valid: {0}")]
    BadKey(String),
    #[error("the request signature is not valid")]
    BadSignature,
    #[error("the request is missing the {0} header")]
    MissingHeader(&'static str),
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    #[error(
        "the request timestamp is {skew_ms} ms away from the server clock (at most {TIMESTAMP_WINDOW_MS} allowed); check the box's clock"
    )]
    ClockSkew { skew_ms: i64 },
    #[error("no secure random source: {0}")]
    Random(String),
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), AuthError> {
    getrandom::fill(buf).map_err(|e| AuthError::Random(e.to_string()))
}

/// A device's private key.
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &self.public_key_b64())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    pub fn generate() -> Result<DeviceKey, AuthError> {
        let mut seed = [0u8; 32];
        random_bytes(&mut seed)?;
        Ok(DeviceKey(SigningKey::from_bytes(&seed)))
    }

    /// The 32-byte seed, for storage (keep it private: mode 0600).
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn from_seed(seed: &[u8]) -> Result<DeviceKey, AuthError> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| AuthError::BadKey("a device key is 32 bytes".into()))?;
        Ok(DeviceKey(SigningKey::from_bytes(&seed)))
    }

    /// Public key as sent at enrollment (standard base64).
    pub fn public_key_b64(&self) -> String {
        STANDARD.encode(self.0.verifying_key().to_bytes())
    }

    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs a request now with a fresh nonce.
    pub fn sign_request(
        &self,
        device_id: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<SignedHeaders, AuthError> {
        let mut nonce = [0u8; 16];
        random_bytes(&mut nonce)?;
        Ok(self.sign_request_at(
            device_id,
            method,
            path_and_query,
            body,
            now_ms(),
            &URL_SAFE_NO_PAD.encode(nonce),
        ))
    }

    /// Signs with a given timestamp and nonce (tests build bad requests).
    pub fn sign_request_at(
        &self,
        device_id: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp_ms: i64,
        nonce: &str,
    ) -> SignedHeaders {
        let msg = signing_string(
            method,
            path_and_query,
            timestamp_ms,
            nonce,
            &body_hash(body),
            device_id,
        );
        let sig = self.0.sign(msg.as_bytes());
        SignedHeaders {
            device_id: device_id.to_string(),
            timestamp: timestamp_ms.to_string(),
            nonce: nonce.to_string(),
            signature: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        }
    }
}

/// The four authentication headers of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub device_id: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

/// Hex SHA-256 of a request body.
pub fn body_hash(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The exact bytes a device signs.
pub fn signing_string(
    method: &str,
    path_and_query: &str,
    timestamp_ms: i64,
    nonce: &str,
    body_hash_hex: &str,
    device_id: &str,
) -> String {
    format!(
        "SOS-SYNC-1\n{}\n{path_and_query}\n{timestamp_ms}\n{nonce}\n{body_hash_hex}\n{device_id}",
        method.to_ascii_uppercase()
    )
}

/// Parses a public key sent at enrollment.
pub fn parse_public_key(b64: &str) -> Result<[u8; 32], AuthError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| AuthError::BadKey("public_key is not base64".into()))?;
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| AuthError::BadKey("public_key must be 32 bytes".into()))?;
    VerifyingKey::from_bytes(&arr)
        .map_err(|_| AuthError::BadKey("public_key is not an Ed25519 point".into()))?;
    Ok(arr)
}

/// Parsed, not yet verified, authentication headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    pub device_id: String,
    pub timestamp_ms: i64,
    pub nonce: String,
    signature: [u8; 64],
}

impl RequestAuth {
    /// Parses the header values (`None` when absent).
    pub fn parse(
        device: Option<&str>,
        timestamp: Option<&str>,
        nonce: Option<&str>,
        signature: Option<&str>,
    ) -> Result<RequestAuth, AuthError> {
        let device = device.ok_or(AuthError::MissingHeader("sos-device"))?;
        let timestamp = timestamp.ok_or(AuthError::MissingHeader("sos-timestamp"))?;
        let nonce = nonce.ok_or(AuthError::MissingHeader("sos-nonce"))?;
        let signature = signature.ok_or(AuthError::MissingHeader("sos-signature"))?;
        if device.is_empty() || device.len() > 64 {
            return Err(AuthError::MalformedHeader("sos-device"));
        }
        let timestamp_ms: i64 = timestamp
            .parse()
            .map_err(|_| AuthError::MalformedHeader("sos-timestamp"))?;
        if nonce.len() < 16
            || nonce.len() > 64
            || !nonce
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Err(AuthError::MalformedHeader("sos-nonce"));
        }
        let sig = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| AuthError::MalformedHeader("sos-signature"))?;
        let signature: [u8; 64] = sig
            .as_slice()
            .try_into()
            .map_err(|_| AuthError::MalformedHeader("sos-signature"))?;
        Ok(RequestAuth {
            device_id: device.to_string(),
            timestamp_ms,
            nonce: nonce.to_string(),
            signature,
        })
    }

    /// Checks the timestamp window against `now_ms`.
    pub fn check_time(&self, now_ms: i64) -> Result<(), AuthError> {
        let skew_ms = now_ms.saturating_sub(self.timestamp_ms);
        if skew_ms.abs() > TIMESTAMP_WINDOW_MS {
            return Err(AuthError::ClockSkew { skew_ms });
        }
        Ok(())
    }

    /// Verifies the signature with the device's stored public key.
    pub fn verify(
        &self,
        public_key: &[u8; 32],
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), AuthError> {
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| AuthError::BadKey("stored key is invalid".into()))?;
        let msg = signing_string(
            method,
            path_and_query,
            self.timestamp_ms,
            &self.nonce,
            &body_hash(body),
            &self.device_id,
        );
        key.verify(msg.as_bytes(), &Signature::from_bytes(&self.signature))
            .map_err(|_| AuthError::BadSignature)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(h: &SignedHeaders) -> RequestAuth {
        RequestAuth::parse(
            Some(&h.device_id),
            Some(&h.timestamp),
            Some(&h.nonce),
            Some(&h.signature),
        )
        .unwrap()
    }

    #[test]
    fn sign_and_verify() {
        let key = DeviceKey::generate().unwrap();
        let pk = parse_public_key(&key.public_key_b64()).unwrap();
        let h = key
            .sign_request("dev1", "POST", "/v1/events", b"{}")
            .unwrap();
        let a = parse(&h);
        a.check_time(now_ms()).unwrap();
        a.verify(&pk, "POST", "/v1/events", b"{}").unwrap();
        assert_eq!(
            a.verify(&pk, "POST", "/v1/events", b"{ }"),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            a.verify(&pk, "GET", "/v1/events", b"{}"),
            Err(AuthError::BadSignature)
        );
        let other = DeviceKey::generate().unwrap();
        assert_eq!(
            a.verify(&other.public_key_bytes(), "POST", "/v1/events", b"{}"),
            Err(AuthError::BadSignature)
        );
        let restored = DeviceKey::from_seed(&key.to_seed()).unwrap();
        assert_eq!(restored.public_key_bytes(), pk);
    }

    #[test]
    fn old_timestamps_refused() {
        let key = DeviceKey::generate().unwrap();
        let old = now_ms() - TIMESTAMP_WINDOW_MS - 1000;
        let h = key.sign_request_at("d", "GET", "/v1/config", b"", old, "AAAAAAAAAAAAAAAAAAAAAA");
        assert!(matches!(
            parse(&h).check_time(now_ms()),
            Err(AuthError::ClockSkew { .. })
        ));
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(
            RequestAuth::parse(None, Some("1"), Some("n"), Some("s")),
            Err(AuthError::MissingHeader("sos-device"))
        );
        assert_eq!(
            RequestAuth::parse(
                Some("d"),
                Some("x"),
                Some("AAAAAAAAAAAAAAAAAAAA"),
                Some("s")
            ),
            Err(AuthError::MalformedHeader("sos-timestamp"))
        );
        assert!(parse_public_key("not base64!").is_err());
        assert!(parse_public_key("AAAA").is_err());
    }
}
