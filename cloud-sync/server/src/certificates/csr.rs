//! What the cloud checks in a box's certificate request before it asks
//! the ACME server for anything, and reads back from what it got: plain
//! X.509 parsing (x509-parser). The request's signature is checked by
//! the ACME server at finalisation.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::CertError;

/// A box's request, checked: its DER (for the ACME finalisation) and its
/// public key (DER SubjectPublicKeyInfo).
pub struct CheckedCsr {
    pub der: Vec<u8>,
    pub public_key: Vec<u8>,
}

/// The request is one PEM `CERTIFICATE REQUEST` naming exactly `name`
/// (as its only DNS subject alternative name).
pub fn check(csr_pem: &str, name: &str) -> Result<CheckedCsr, CertError> {
    let bad = |m: String| CertError::BadRequest(m);
    let (_, pem) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes())
        .map_err(|_| bad("csr_pem is not PEM".into()))?;
    if pem.label != "CERTIFICATE REQUEST" {
        return Err(bad(format!(
            "csr_pem holds a {}, not a CERTIFICATE REQUEST",
            pem.label
        )));
    }
    let (_, csr) = X509CertificationRequest::from_der(&pem.contents)
        .map_err(|e| bad(format!("csr_pem is not a certificate request: {e}")))?;
    let mut names = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for n in &san.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                    other => names.push(format!("{other:?}")),
                }
            }
        }
    }
    if names != [name] {
        return Err(bad(format!(
            "the certificate request must name exactly {name} (it names {})",
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let public_key = csr.certification_request_info.subject_pki.raw.to_vec();
    Ok(CheckedCsr {
        der: pem.contents,
        public_key,
    })
}

/// The leaf's validity (Unix seconds) and public key, from a PEM chain.
pub fn leaf(chain_pem: &str) -> Result<(i64, i64, Vec<u8>), CertError> {
    let bad = |m: String| CertError::Acme(format!("the issued chain is unreadable: {m}"));
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
    let v = cert.validity();
    Ok((
        v.not_before.timestamp(),
        v.not_after.timestamp(),
        cert.public_key().raw.to_vec(),
    ))
}
