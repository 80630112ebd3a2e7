//! The practice's signed check-in link. The signature covers the tenant, not
//! the host, so the same QR works whether the phone reaches the box by IP or
//! by its mDNS name; a QR from another practice or an edited one is refused.

use base64::Engine;

use crate::secrets::{BoxKey, Purpose, b64};

/// Bytes of MAC kept in the URL: 96 bits is plenty against guessing and
/// keeps the QR small.
const TAG_LEN: usize = 12;

pub fn path(key: &BoxKey, tenant: &str) -> String {
    let tag = key.mac(Purpose::CheckinLink, tenant.as_bytes());
    format!("/c/{tenant}/{}", b64().encode(&tag[..TAG_LEN]))
}

pub fn verify(key: &BoxKey, tenant: &str, sig: &str) -> bool {
    key.verify(Purpose::CheckinLink, tenant.as_bytes(), sig, TAG_LEN)
}

/// Hidden form token: proves the form came from this box recently, so a
/// page elsewhere cannot post check-ins through a patient's browser.
pub fn form_token(key: &BoxKey, tenant: &str, now_ms: i64) -> String {
    let msg = format!("{tenant}\n{now_ms}");
    let tag = key.mac(Purpose::FormToken, msg.as_bytes());
    format!("{now_ms}.{}", b64().encode(&tag[..16]))
}

/// Forms stay valid for an hour: long enough for a slow patient, short
/// enough that a leaked token is useless later.
const FORM_TTL_MS: i64 = 60 * 60 * 1000;

pub fn verify_form_token(key: &BoxKey, tenant: &str, token: &str, now_ms: i64) -> bool {
    let Some((issued, tag)) = token.split_once('.') else {
        return false;
    };
    let Ok(issued_ms) = issued.parse::<i64>() else {
        return false;
    };
    if issued_ms > now_ms + 60_000 || now_ms - issued_ms > FORM_TTL_MS {
        return false;
    }
    let msg = format!("{tenant}\n{issued_ms}");
    key.verify(Purpose::FormToken, msg.as_bytes(), tag, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_only_for_their_own_practice_and_untampered() {
        let key = BoxKey::from_bytes([7; 32]);
        let p = path(&key, "t1");
        let sig = p.rsplit('/').next().unwrap();
        assert!(verify(&key, "t1", sig));
        assert!(!verify(&key, "t2", sig));
        let mut bad = sig.to_string();
        bad.replace_range(0..1, if bad.starts_with('A') { "B" } else { "A" });
        assert!(!verify(&key, "t1", &bad));
        assert!(!verify(&BoxKey::from_bytes([8; 32]), "t1", sig));
    }

    #[test]
    fn form_tokens_expire_and_bind_to_the_tenant() {
        let key = BoxKey::from_bytes([1; 32]);
        let t = form_token(&key, "t1", 1_000_000);
        assert!(verify_form_token(&key, "t1", &t, 1_000_000 + 1000));
        assert!(!verify_form_token(&key, "t2", &t, 1_000_000 + 1000));
        assert!(!verify_form_token(
            &key,
            "t1",
            &t,
            1_000_000 + FORM_TTL_MS + 1
        ));
        assert!(!verify_form_token(&key, "t1", "garbage", 1_000_000));
    }
}
