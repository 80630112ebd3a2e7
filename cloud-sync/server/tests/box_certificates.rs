//! Boxes' own HTTPS certificates, for real: `sos-cloud` orders them from
//! Pebble (Let's Encrypt's ACME test server) through DNS-01, answered in
//! `pebble-challtestsrv`, for a key and request the box made itself.

mod common;

use std::sync::Arc;

use cloud_server::admin;
use cloud_sync::client::{ClientError, Device};
use cloud_sync::wire::{CertificateRequest, CertificateResponse, codes};
use common::acme::IssuingCloud;
use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

const EDGE: &str = "edge.sos.test";

/// A key and a certificate request for `name`, as the box makes them.
fn csr_for(name: &str) -> (rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

fn ask(csr: &str, address: &str) -> CertificateRequest {
    CertificateRequest {
        csr_pem: csr.to_string(),
        addresses: vec![address.parse().unwrap()],
    }
}

fn refused(e: ClientError) -> (u16, String, String) {
    match e {
        ClientError::Refused {
            status,
            code,
            message,
        } => (status, code, message),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// The chain verifies to `root` for `name`, as a browser would check it.
fn verify_chain(chain_pem: &str, root_pem: &str, name: &str) {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .map(|c| c.unwrap())
        .collect();
    assert!(chain.len() >= 2, "leaf and intermediate expected");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
    rustls::client::danger::ServerCertVerifier::verify_server_cert(
        verifier.as_ref(),
        &chain[0],
        &chain[1..],
        &ServerName::try_from(name.to_string()).unwrap(),
        &[],
        UnixTime::now(),
    )
    .unwrap_or_else(|e| panic!("the chain does not verify for {name}: {e}"));
}

async fn name_of(cloud: &Cloud, device: &Device) -> CertificateResponse {
    cloud.client().certificate(device).await.unwrap()
}

#[tokio::test]
async fn a_box_gets_a_certificate_for_its_own_name_that_chains_to_the_ca() {
    let IssuingCloud {
        cloud,
        pool,
        tenant: t,
        pebble,
        db: _db,
    } = IssuingCloud::start(3600, EDGE).await;
    let device = device(&pool, &cloud.client(), &t).await;

    // Before asking: its name, no certificate.
    let before = name_of(&cloud, &device).await;
    let name = before.name.clone();
    assert_eq!(name, format!("{}.{t}.{EDGE}", device.device_id));
    assert_eq!(before.certificate, None);

    let (_key, csr) = csr_for(&name);
    let got = cloud
        .client()
        .request_certificate(&device, &ask(&csr, "192.168.1.20"))
        .await
        .unwrap();
    let issued = got.certificate.expect("a certificate");
    assert_eq!(got.name, name);
    verify_chain(&issued.chain_pem, &pebble.issuing_root().await, &name);
    // Phones on the clinic Wi-Fi find the box at its LAN address.
    assert_eq!(pebble.resolve(&name), ["192.168.1.20"]);
    let now = cloud_sync::auth::now_ms() as i64;
    assert!(issued.not_before <= now + 60_000 && issued.not_after > now + 3_000_000);

    // Asked again for the same key (a box that lost the answer): the same
    // certificate, not a second order; and it is what GET reports.
    let again = cloud
        .client()
        .request_certificate(&device, &ask(&csr, "192.168.1.20"))
        .await
        .unwrap();
    assert_eq!(again.certificate.as_ref(), Some(&issued));
    assert_eq!(name_of(&cloud, &device).await.certificate, Some(issued));
}

#[tokio::test]
async fn a_box_renews_with_a_new_certificate_and_a_revoked_box_gets_none() {
    // Certificates of 9 s: past the first third (3 s) a request is renewed.
    let IssuingCloud {
        cloud,
        pool,
        tenant: t,
        pebble,
        db: _db,
    } = IssuingCloud::start(9, EDGE).await;
    let device = device(&pool, &cloud.client(), &t).await;
    let name = name_of(&cloud, &device).await.name;
    let (_key, csr) = csr_for(&name);
    let first = cloud
        .client()
        .request_certificate(&device, &ask(&csr, "10.0.0.7"))
        .await
        .unwrap()
        .certificate
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let renewed = cloud
        .client()
        .request_certificate(&device, &ask(&csr, "10.0.0.7"))
        .await
        .unwrap()
        .certificate
        .unwrap();
    assert_ne!(renewed.chain_pem, first.chain_pem, "not renewed");
    assert!(renewed.not_after > first.not_after);
    verify_chain(&renewed.chain_pem, &pebble.issuing_root().await, &name);

    admin::revoke_device(&pool, &device.device_id)
        .await
        .unwrap();
    let (status, code, _) = refused(
        cloud
            .client()
            .request_certificate(&device, &ask(&csr, "10.0.0.7"))
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (403, codes::DEVICE_REVOKED));
    // What the cloud holds for it is still the certificate issued before.
    let c = pool.get().await.unwrap();
    let held: String = c
        .query_one(
            "SELECT chain_pem FROM device_certificates WHERE device_id = $1",
            &[&device.device_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, renewed.chain_pem, "issued after revocation");
}

/// Requests the cloud must not pass on to the CA: another box's name, a
/// public address, something that is not a request; each said plainly,
/// nothing issued. A cloud without a CA says it issues none.
#[tokio::test]
async fn bad_certificate_requests_are_refused_and_issue_nothing() {
    let IssuingCloud {
        cloud,
        pool,
        tenant: t,
        pebble: _pebble,
        db,
    } = IssuingCloud::start(3600, EDGE).await;
    let other = tenant(&pool, "Other Clinic").await;
    let neighbour = device(&pool, &cloud.client(), &other).await;
    let device = device(&pool, &cloud.client(), &t).await;
    let name = name_of(&cloud, &device).await.name;
    let theirs = name_of(&cloud, &neighbour).await.name;

    let (_, mine) = csr_for(&name);
    let (_, stolen) = csr_for(&theirs);
    let (_, two) = {
        let key = rcgen::KeyPair::generate().unwrap();
        let p = rcgen::CertificateParams::new(vec![name.clone(), "evil.example".into()]).unwrap();
        ((), p.serialize_request(&key).unwrap().pem().unwrap())
    };
    let cases = [
        (ask(&stolen, "192.168.1.20"), "must name exactly"),
        (ask(&two, "192.168.1.20"), "must name exactly"),
        (ask(&mine, "8.8.8.8"), "not an address on a private network"),
        (ask("hello", "192.168.1.20"), "csr_pem is not PEM"),
        (
            CertificateRequest {
                csr_pem: mine.clone(),
                addresses: vec![],
            },
            "1 to 8 addresses",
        ),
    ];
    for (req, words) in cases {
        let (status, _, message) = refused(
            cloud
                .client()
                .request_certificate(&device, &req)
                .await
                .unwrap_err(),
        );
        assert_eq!(status, 422, "{message}");
        assert!(message.contains(words), "{message}");
    }
    assert_eq!(name_of(&cloud, &device).await.certificate, None);
    let all = "SELECT count(*) FROM device_certificates c JOIN devices d USING (device_id)
               WHERE d.tenant_id = $1";
    assert_eq!(count(&pool, all, &other).await, 0);

    let plain = Cloud::start(&db);
    let (status, code, message) = refused(plain.client().certificate(&device).await.unwrap_err());
    assert_eq!(
        (status, code.as_str()),
        (404, codes::NOT_ISSUED),
        "{message}"
    );
    assert!(message.contains("stays on plain HTTP"), "{message}");
}

/// An operator's half-given ACME settings stop the start, naming the flag.
#[test]
fn acme_settings_without_their_domain_or_dns_stop_the_start() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_sos-cloud"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("SOS_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let dir = ["--acme-directory", "https://127.0.0.1:1/dir"];
    assert!(run(&dir).contains("--edge-domain is needed"));
    let with_edge = [&dir[..], &["--edge-domain", "edge.sos.test"]].concat();
    assert!(run(&with_edge).contains("--dns-api is needed"));
    let bad_edge = [
        &dir[..],
        &["--edge-domain", "local", "--dns-api", "http://x"],
    ]
    .concat();
    assert!(run(&bad_edge).contains("--edge-domain must be a domain name"));
    assert!(run(&["--acme-directory", "http://x/dir"]).contains("must be an https:// URL"));
}
