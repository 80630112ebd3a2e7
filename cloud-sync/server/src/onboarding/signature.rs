//! `Stripe-Signature` as Stripe specifies it: the header is
//! `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`, and each `v1` is
//! HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's signing secret
//! (`whsec_…`, used as the key bytes as they are). Any `v1` may match (Stripe
//! signs with the old and the new secret while one is rolled), the
//! comparison is constant-time, and a timestamp more than the tolerance away
//! from now is refused so a captured delivery cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's own default tolerance.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp (t=…)")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error(
        "the Stripe-Signature timestamp is {0} s away from this server's clock (at most {TOLERANCE_SECS} s allowed)"
    )]
    Stale(i64),
    #[error("no signature in the Stripe-Signature header matches this endpoint's secret")]
    Mismatch,
}

/// Checks `header` over the raw `body` against any of `secrets` at `now`
/// (unix seconds).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut saw_v1 = false;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            // A v1 that is not hex cannot match; it is skipped, not fatal
            // (another entry may still be valid).
            "v1" => {
                saw_v1 = true;
                signatures.extend(hex::decode(value).ok());
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if !saw_v1 {
        return Err(SignatureError::NoSignature);
    }
    let skew = now.saturating_sub(t);
    if skew.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(skew));
    }
    for secret in secrets {
        for sig in &signatures {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                continue;
            };
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            // Constant-time (hmac's verify_slice).
            if mac.verify_slice(sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature Stripe computes, written out independently of
    /// `verify` (sha2 + a hand-rolled HMAC per RFC 2104), so the test does
    /// not check the code against itself.
    fn stripe_sign(secret: &str, t: i64, body: &[u8]) -> String {
        use sha2::Digest;
        let mut key = secret.as_bytes().to_vec();
        if key.len() > 64 {
            key = Sha256::digest(&key).to_vec();
        }
        key.resize(64, 0);
        let ipad: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
        let mut inner = Sha256::new();
        inner.update(&ipad);
        inner.update(format!("{t}.").as_bytes());
        inner.update(body);
        let inner = inner.finalize();
        let mut outer = Sha256::new();
        outer.update(&opad);
        outer.update(inner);
        hex::encode(outer.finalize())
    }

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    fn secrets() -> Vec<String> {
        vec![SECRET.to_string()]
    }

    #[test]
    fn a_signature_stripe_made_is_accepted() {
        let h = format!("t=1000,v1={}", stripe_sign(SECRET, 1000, BODY));
        assert_eq!(verify(Some(&h), BODY, &secrets(), 1000), Ok(()));
        // Within the tolerance either way.
        assert_eq!(verify(Some(&h), BODY, &secrets(), 1300), Ok(()));
        assert_eq!(verify(Some(&h), BODY, &secrets(), 700), Ok(()));
    }

    #[test]
    fn any_v1_may_match_while_a_secret_is_rolled() {
        let old = stripe_sign("whsec_old", 1000, BODY);
        let new = stripe_sign(SECRET, 1000, BODY);
        let h = format!("t=1000,v1={old},v1={new},v0=deadbeef");
        assert_eq!(verify(Some(&h), BODY, &secrets(), 1000), Ok(()));
        // And an endpoint that still holds the old secret too.
        let both = vec!["whsec_other".to_string(), "whsec_old".to_string()];
        let h = format!("t=1000,v1={old}");
        assert_eq!(verify(Some(&h), BODY, &both, 1000), Ok(()));
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let good = stripe_sign(SECRET, 1000, BODY);
        assert_eq!(
            verify(None, BODY, &secrets(), 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some(&format!("v1={good}")), BODY, &secrets(), 1000),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(Some("t=1000,v0=abc"), BODY, &secrets(), 1000),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            verify(Some(&format!("t=1000,v1={good}")), BODY, &secrets(), 1301),
            Err(SignatureError::Stale(301))
        );
        // One byte of the body changed.
        assert_eq!(
            verify(
                Some(&format!("t=1000,v1={good}")),
                br#"{"id":"evt_1","type":"invoice.paiD"}"#,
                &secrets(),
                1000
            ),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is part of what is signed.
        assert_eq!(
            verify(Some(&format!("t=1001,v1={good}")), BODY, &secrets(), 1000),
            Err(SignatureError::Mismatch)
        );
        // Another endpoint's secret.
        assert_eq!(
            verify(
                Some(&format!("t=1000,v1={good}")),
                BODY,
                &["whsec_else".to_string()],
                1000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some("t=1000,v1=not-hex"), BODY, &secrets(), 1000),
            Err(SignatureError::Mismatch)
        );
    }
}
