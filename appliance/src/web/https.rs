//! HTTPS on the clinic's Wi-Fi: the phone form (names, dates of birth), the
//! staff PIN and the desk's session cookie never cross it in clear once the
//! box holds a certificate. The certificate is one the clinic brings
//! (`--tls-cert`/`--tls-key`); while the box has none it serves plain HTTP
//! as before and `/healthz` (and the desk) say why.
//!
//! With a certificate, every page is served over HTTPS on `--https-listen`,
//! and the plain HTTP port answers only `/healthz` and a redirect to the
//! same path under the box's HTTPS address (the certificate's name).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

/// The port HTTPS is served on unless `--https-listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

/// What browsers are told to remember: this box is HTTPS only, for a year
/// (not `includeSubDomains`: the parent domain is not the box's).
pub const HSTS: &str = "max-age=31536000";

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("--tls-cert {0} needs --tls-key (the certificate's private key) too")]
    KeyMissing(PathBuf),
    #[error("--tls-key {0} needs --tls-cert (the certificate) too")]
    CertMissing(PathBuf),
    #[error("--tls-cert: cannot read {0}: {1}")]
    CertUnreadable(PathBuf, String),
    #[error("--tls-cert: {0} holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")]
    NoCertificate(PathBuf),
    #[error("--tls-key: cannot read a PEM private key from {0}: {1}")]
    KeyUnreadable(PathBuf, String),
    #[error("--tls-cert: {0} is not a certificate this box can read: {1}")]
    BadCertificate(PathBuf, String),
    #[error("--tls-cert {cert} and --tls-key {key} do not go together: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error(
        "--tls-cert: {0} names no host (no DNS name in its subjectAltName); pass --public-url https://<the name phones use>"
    )]
    NoName(PathBuf),
    #[error("--public-url {url} must start with https:// when the box serves HTTPS")]
    PublicUrlNotHttps { url: String },
    #[error("--public-url {url}: the certificate is for {names}, not for {host}")]
    WrongName {
        url: String,
        host: String,
        names: String,
    },
}

/// A certificate and its key, checked, ready to serve.
#[derive(Clone)]
pub struct Certificate {
    pub config: Arc<rustls::ServerConfig>,
    /// The DNS names it is valid for, in its own order.
    pub names: Vec<String>,
    pub not_before: jiff::Timestamp,
    /// When browsers stop trusting it.
    pub not_after: jiff::Timestamp,
    /// The file it was read from.
    pub source: PathBuf,
}

impl Certificate {
    /// When to ask for the next one: at two thirds of its life, as Let's
    /// Encrypt advises, which leaves a third (a month of a 90-day
    /// certificate) for retries.
    pub fn renew_at(&self) -> jiff::Timestamp {
        let life = self.not_after.as_millisecond() - self.not_before.as_millisecond();
        jiff::Timestamp::from_millisecond(self.not_before.as_millisecond() + life * 2 / 3)
            .unwrap_or(self.not_before)
    }
}

/// What `/healthz` and the desk say about the connection phones use.
#[derive(Debug, Clone, Serialize)]
pub struct HttpsStatus {
    pub on: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Why the box serves plain HTTP, in words for the front desk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// While on: why the certificate could not be renewed (it is still
    /// served until it expires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal: Option<String>,
}

impl HttpsStatus {
    /// Before the box knows more: HTTPS if its public URL says so (its own
    /// certificate, or a TLS proxy in front), else plain HTTP and why.
    pub fn assumed(public_url: &str) -> HttpsStatus {
        if public_url.starts_with("https://") {
            return HttpsStatus {
                on: true,
                name: host_of(public_url).map(str::to_string),
                expires: None,
                reason: None,
                renewal: None,
            };
        }
        HttpsStatus::plain(
            "this box has no certificate, so phones and the desk reach it over plain HTTP on the clinic Wi-Fi \
             (enroll it with the cloud, or give it one with --tls-cert)",
        )
    }

    /// Plain HTTP, and why.
    pub fn plain(reason: impl Into<String>) -> HttpsStatus {
        HttpsStatus {
            on: false,
            name: None,
            expires: None,
            reason: Some(reason.into()),
            renewal: None,
        }
    }

    pub fn of(cert: &Certificate, public_url: &str) -> HttpsStatus {
        HttpsStatus {
            on: true,
            name: host_of(public_url).map(str::to_string),
            expires: Some(cert.not_after.to_string()),
            reason: None,
            renewal: None,
        }
    }
}

/// The certificate and key from `--tls-cert`/`--tls-key`, if given: both or
/// neither.
pub fn load_given(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<Certificate>, HttpsError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(c), None) => Err(HttpsError::KeyMissing(c.to_path_buf())),
        (None, Some(k)) => Err(HttpsError::CertMissing(k.to_path_buf())),
        (Some(c), Some(k)) => load(c, k).map(Some),
    }
}

/// Reads a PEM certificate chain and its private key, and checks that they
/// belong together before anything is served.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<Certificate, HttpsError> {
    let pem = std::fs::read(cert_path)
        .map_err(|e| HttpsError::CertUnreadable(cert_path.to_path_buf(), e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HttpsError::BadCertificate(cert_path.to_path_buf(), e.to_string()))?;
    if chain.is_empty() {
        return Err(HttpsError::NoCertificate(cert_path.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| HttpsError::KeyUnreadable(key_path.to_path_buf(), e.to_string()))?;
    assemble(chain, key, cert_path).map_err(|e| match e {
        Unusable::Certificate(e) => HttpsError::BadCertificate(cert_path.to_path_buf(), e),
        Unusable::Mismatch(reason) => HttpsError::Mismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
            reason,
        },
    })
}

/// A chain and its key from one PEM text (the box's certificate from the
/// cloud, kept with its key in one file, `source`, so both change at once).
pub fn from_pem(pem: &[u8], source: &Path) -> Result<Certificate, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if chain.is_empty() {
        return Err("no certificate in it".into());
    }
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("no private key: {e}"))?;
    assemble(chain, key, source).map_err(|e| match e {
        Unusable::Certificate(e) | Unusable::Mismatch(e) => e,
    })
}

enum Unusable {
    Certificate(String),
    Mismatch(String),
}

fn assemble(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    source: &Path,
) -> Result<Certificate, Unusable> {
    let leaf = chain
        .first()
        .ok_or_else(|| Unusable::Certificate("no certificate".into()))?;
    let (names, not_before, not_after) = names_and_validity(leaf).map_err(Unusable::Certificate)?;
    // The box's own provider, whatever else the build links (the cloud's
    // crates bring another one into a workspace build).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Unusable::Mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Unusable::Mismatch(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Certificate {
        config: Arc::new(config),
        names,
        not_before,
        not_after,
        source: source.to_path_buf(),
    })
}

type Validity = (Vec<String>, jiff::Timestamp, jiff::Timestamp);

fn names_and_validity(leaf: &CertificateDer<'_>) -> Result<Validity, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| e.to_string())?;
    let names = cert
        .subject_alternative_name()
        .map_err(|e| e.to_string())?
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let at = |t: x509_parser::time::ASN1Time| {
        jiff::Timestamp::from_second(t.timestamp()).map_err(|e| e.to_string())
    };
    Ok((
        names,
        at(cert.validity().not_before)?,
        at(cert.validity().not_after)?,
    ))
}

/// The HTTPS address phones are sent to: `--public-url` if given (it must
/// be `https://` and name a host the certificate is for), else the
/// certificate's first name on `port`.
pub fn public_url(
    cert: &Certificate,
    given: Option<&str>,
    port: u16,
) -> Result<String, HttpsError> {
    if let Some(url) = given {
        let url = url.trim_end_matches('/');
        if !url.starts_with("https://") {
            return Err(HttpsError::PublicUrlNotHttps { url: url.into() });
        }
        let host = host_of(url).unwrap_or_default().to_ascii_lowercase();
        if !cert.names.iter().any(|n| covers(n, &host)) {
            return Err(HttpsError::WrongName {
                url: url.into(),
                host,
                names: cert.names.join(", "),
            });
        }
        return Ok(url.to_string());
    }
    let name = cert
        .names
        .iter()
        .find(|n| !n.starts_with("*."))
        .ok_or_else(|| HttpsError::NoName(cert.source.clone()))?;
    Ok(match port {
        443 => format!("https://{name}"),
        p => format!("https://{name}:{p}"),
    })
}

/// The host of `scheme://host[:port][/…]`.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    if authority.starts_with('[') {
        return authority.split(']').next().map(|h| &h[1..]);
    }
    authority.split(':').next().filter(|h| !h.is_empty())
}

/// Whether certificate name `name` (maybe `*.example`) covers `host`.
fn covers(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

/// The plain HTTP port once the box serves HTTPS: `/healthz` for monitors,
/// and a redirect to the same page over HTTPS for the rest (308 keeps the
/// method, so a form posted to an old link is posted again over HTTPS
/// rather than lost, and never applied from the plain request).
///
/// A lobby TV paired over plain HTTP before the box had its certificate
/// reconnects its socket there (`/tv/ws`): it is let through, marked
/// [`PlainHttp`], and told where it moved, with a one-time grant that pairs
/// it again over HTTPS (its token is in the old origin's storage).
pub async fn redirect_plain(
    axum::extract::State(core): axum::extract::State<Arc<crate::core::Core>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !core.serving_https() || req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    if req.uri().path() == "/tv/ws" {
        req.extensions_mut().insert(PlainHttp);
        return next.run(req).await;
    }
    redirect(&core.public_url(), req.uri())
}

/// The request came over plain HTTP while the box serves HTTPS.
#[derive(Debug, Clone, Copy)]
pub struct PlainHttp;

fn redirect(https_url: &str, uri: &Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Redirect::permanent(&format!("{https_url}{path}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_url() {
        assert_eq!(host_of("https://box.example:8443/c/x"), Some("box.example"));
        assert_eq!(host_of("https://box.example"), Some("box.example"));
        assert_eq!(host_of("https://[::1]:8443"), Some("::1"));
        assert_eq!(host_of("box.example"), None);
    }

    #[test]
    fn a_wildcard_covers_one_label() {
        assert!(covers("*.edge.example", "b1.edge.example"));
        assert!(!covers("*.edge.example", "a.b1.edge.example"));
        assert!(!covers("*.edge.example", "edge.example"));
        assert!(covers("box.example", "box.example"));
        assert!(!covers("box.example", "other.example"));
    }
}
