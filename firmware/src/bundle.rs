//! The provisioning bundle: what one clinic's box needs to set itself up
//! at first boot, as an installer writes it (TOML).
//!
//! ```toml
//! cloud_url = "https://cloud.sos-edge.example"
//! token = "sos_prov_…"            # one-time, from the owner's Boxes page
//! hostname = "bright-smile-lobby"
//! timezone = "Europe/London"
//! wifi_ssid = "Clinic"             # optional, with wifi_psk and wifi_country
//! wifi_psk = "…"
//! wifi_country = "GB"
//! ssh_authorized_key = "ssh-ed25519 AAAA… installer@laptop"   # optional
//! cloud_ca = """-----BEGIN CERTIFICATE-----
//! …"""                             # optional: a cloud with its own CA
//! ```
//!
//! Every field is checked before anything is written, and an error names
//! the field. The token and the Wi-Fi passphrase are secrets: [`Bundle`]'s
//! `Debug` and [`Bundle::masked`] never show them.

use std::fmt;

use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("the bundle is not valid TOML: {0}")]
    Toml(String),
    #[error("bundle field `{field}`: {why}")]
    Field { field: &'static str, why: String },
}

fn bad(field: &'static str, why: impl Into<String>) -> BundleError {
    BundleError::Field {
        field,
        why: why.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    cloud_url: Option<String>,
    token: Option<String>,
    hostname: Option<String>,
    timezone: Option<String>,
    wifi_ssid: Option<String>,
    wifi_psk: Option<String>,
    wifi_country: Option<String>,
    ssh_authorized_key: Option<String>,
    cloud_ca: Option<String>,
}

/// The clinic's Wi-Fi.
#[derive(Clone, PartialEq, Eq)]
pub struct Wifi {
    pub ssid: String,
    pub psk: String,
    /// ISO 3166 two-letter country (the radio's regulatory domain).
    pub country: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Bundle {
    pub cloud_url: String,
    pub token: String,
    pub hostname: String,
    pub timezone: String,
    pub wifi: Option<Wifi>,
    pub ssh_authorized_key: Option<String>,
    /// PEM certificates the box trusts for its cloud besides the public
    /// ones (an on-premises or test cloud with its own authority).
    pub cloud_ca: Option<String>,
}

/// The provisioning token's shape, as `sos-cloud` issues it.
const TOKEN_PREFIX: &str = "sos_prov_";

impl Bundle {
    pub fn parse(text: &str) -> Result<Bundle, BundleError> {
        let raw: Raw = toml::from_str(text).map_err(|e| BundleError::Toml(e.message().into()))?;
        let need = |field: &'static str, v: Option<String>| -> Result<String, BundleError> {
            match v.map(|s| s.trim().to_string()) {
                Some(s) if !s.is_empty() => Ok(s),
                _ => Err(bad(field, "is missing")),
            }
        };
        let cloud_url = need("cloud_url", raw.cloud_url)?;
        let rest = cloud_url
            .strip_prefix("https://")
            .or_else(|| cloud_url.strip_prefix("http://"))
            .ok_or_else(|| {
                bad(
                    "cloud_url",
                    "must start with https:// (or http:// for a test cloud)",
                )
            })?;
        if rest.is_empty() || rest.contains(char::is_whitespace) || rest.starts_with('/') {
            return Err(bad("cloud_url", "has no host"));
        }
        let token = need("token", raw.token)?;
        let secret = token.strip_prefix(TOKEN_PREFIX).unwrap_or("");
        if secret.len() < 16
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "token",
                format!(
                    "is not a set-up token (they start with {TOKEN_PREFIX}; copy it from the practice's Boxes page)"
                ),
            ));
        }
        let hostname = need("hostname", raw.hostname)?.to_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if hostname.len() > 63 || !label_ok(&hostname) {
            return Err(bad(
                "hostname",
                "use letters, digits and hyphens, at most 63, not starting or ending with a hyphen",
            ));
        }
        let timezone = need("timezone", raw.timezone)?;
        let zone_ok = timezone == "UTC"
            || (timezone.contains('/')
                && timezone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b)));
        if !zone_ok || timezone.contains("..") {
            return Err(bad("timezone", "use a zone name like Europe/London or UTC"));
        }
        let wifi = match (raw.wifi_ssid, raw.wifi_psk, raw.wifi_country) {
            (None, None, None) => None,
            (ssid, psk, country) => {
                let ssid = ssid.unwrap_or_default();
                if ssid.is_empty() || ssid.len() > 32 {
                    return Err(bad("wifi_ssid", "is 1 to 32 bytes"));
                }
                let psk = psk.unwrap_or_default();
                if !(8..=63).contains(&psk.len()) || !psk.is_ascii() {
                    return Err(bad(
                        "wifi_psk",
                        "a WPA passphrase is 8 to 63 ASCII characters",
                    ));
                }
                let country = country.unwrap_or_default().to_uppercase();
                if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(bad(
                        "wifi_country",
                        "is the two-letter country code, like GB or US",
                    ));
                }
                Some(Wifi { ssid, psk, country })
            }
        };
        let ssh_authorized_key = match raw.ssh_authorized_key.map(|k| k.trim().to_string()) {
            None => None,
            Some(k) if k.is_empty() => None,
            Some(k) => {
                let kind = k.split_whitespace().next().unwrap_or("");
                if !(kind.starts_with("ssh-")
                    || kind.starts_with("ecdsa-")
                    || kind.starts_with("sk-"))
                    || k.split_whitespace().count() < 2
                    || k.contains('\n')
                {
                    return Err(bad(
                        "ssh_authorized_key",
                        "is one public key line, like `ssh-ed25519 AAAA… you@laptop`",
                    ));
                }
                Some(k)
            }
        };
        let cloud_ca = match raw.cloud_ca.map(|c| c.trim().to_string()) {
            None => None,
            Some(c) if c.is_empty() => None,
            Some(c) => {
                if !c.starts_with("-----BEGIN CERTIFICATE-----")
                    || !c.ends_with("-----END CERTIFICATE-----")
                    || c.len() > 64 * 1024
                {
                    return Err(bad(
                        "cloud_ca",
                        "is one or more PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----), at most 64 KB",
                    ));
                }
                if !cloud_url.starts_with("https://") {
                    return Err(bad(
                        "cloud_ca",
                        "only means something with an https:// cloud_url",
                    ));
                }
                Some(c)
            }
        };
        Ok(Bundle {
            cloud_url,
            token,
            hostname,
            timezone,
            wifi,
            ssh_authorized_key,
            cloud_ca,
        })
    }

    /// The fields as `sos-flash inspect` shows them: secrets masked.
    pub fn masked(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("cloud_url", self.cloud_url.clone()),
            ("token", mask(&self.token)),
            ("hostname", self.hostname.clone()),
            ("timezone", self.timezone.clone()),
        ];
        if let Some(w) = &self.wifi {
            out.push(("wifi_ssid", w.ssid.clone()));
            out.push(("wifi_psk", "********".into()));
            out.push(("wifi_country", w.country.clone()));
        }
        if let Some(k) = &self.ssh_authorized_key {
            out.push(("ssh_authorized_key", k.clone()));
        }
        if let Some(c) = &self.cloud_ca {
            let n = c.matches("-----BEGIN CERTIFICATE-----").count();
            out.push(("cloud_ca", format!("{n} certificate(s), {} bytes", c.len())));
        }
        out
    }
}

/// The token's prefix and its last four characters, so an installer can
/// tell two apart without the secret being readable.
fn mask(token: &str) -> String {
    let tail: String = token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{TOKEN_PREFIX}…{tail}")
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
cloud_url = "https://cloud.example"
token = "sos_prov_0123456789abcdefABCDEF"
hostname = "Lobby-Box"
timezone = "Europe/London"
wifi_ssid = "Clinic"
wifi_psk = "correct horse"
wifi_country = "gb"
ssh_authorized_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA installer@laptop"
"#;

    #[test]
    fn a_good_bundle_reads_and_never_shows_its_secrets() {
        let b = Bundle::parse(GOOD).unwrap();
        assert_eq!(b.hostname, "lobby-box");
        assert_eq!(b.wifi.as_ref().unwrap().country, "GB");
        let shown = format!("{b:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(!shown.contains("correct horse"), "{shown}");
        assert!(shown.contains("sos_prov_…CDEF"), "{shown}");
    }

    #[test]
    fn each_bad_field_is_named() {
        let with = |from: &str, to: &str| GOOD.replace(from, to);
        let field = |text: String| match Bundle::parse(&text) {
            Err(BundleError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(with("https://cloud.example", "ftp://x")), "cloud_url");
        assert_eq!(
            field(with("sos_prov_0123456789abcdefABCDEF", "hunter2")),
            "token"
        );
        assert_eq!(field(with("Lobby-Box", "lobby box")), "hostname");
        assert_eq!(field(with("Europe/London", "Mars")), "timezone");
        assert_eq!(field(with("correct horse", "short")), "wifi_psk");
        assert_eq!(field(with("\"gb\"", "\"Britain\"")), "wifi_country");
        assert_eq!(
            field(with(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA installer@laptop",
                "hello"
            )),
            "ssh_authorized_key"
        );
        assert_eq!(
            field(GOOD.replace("hostname = \"Lobby-Box\"\n", "")),
            "hostname"
        );
        assert!(matches!(
            Bundle::parse("cloud_url = "),
            Err(BundleError::Toml(_))
        ));
        assert!(matches!(
            Bundle::parse(&format!("{GOOD}\nextra = 1")),
            Err(BundleError::Toml(_))
        ));
    }

    #[test]
    fn wifi_and_ssh_are_optional() {
        let minimal = "cloud_url = \"http://10.0.2.2:8443\"\ntoken = \"sos_prov_0123456789abcdef\"\nhostname = \"box\"\ntimezone = \"UTC\"\n";
        let b = Bundle::parse(minimal).unwrap();
        assert!(b.wifi.is_none() && b.ssh_authorized_key.is_none() && b.cloud_ca.is_none());
    }

    #[test]
    fn a_cloud_ca_is_pem_and_only_for_https() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        let b = Bundle::parse(&format!("{GOOD}cloud_ca = \"\"\"\n{pem}\n\"\"\"\n")).unwrap();
        assert_eq!(b.cloud_ca.as_deref(), Some(pem));
        let shown = b.masked();
        assert!(shown.contains(&("cloud_ca", format!("1 certificate(s), {} bytes", pem.len()))));
        let field = |text: String| match Bundle::parse(&text) {
            Err(BundleError::Field { field, why }) => (field, why),
            other => panic!("{other:?}"),
        };
        let (f, why) = field(format!("{GOOD}cloud_ca = \"not a certificate\"\n"));
        assert_eq!(f, "cloud_ca");
        assert!(why.contains("PEM"), "{why}");
        let plain = GOOD.replace("https://cloud.example", "http://10.0.2.2:8443");
        let (f, why) = field(format!("{plain}cloud_ca = \"\"\"\n{pem}\n\"\"\"\n"));
        assert_eq!(f, "cloud_ca");
        assert!(why.contains("https"), "{why}");
    }
}
