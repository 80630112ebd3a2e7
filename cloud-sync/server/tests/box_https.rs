//! A real box gets its own HTTPS certificate from a real cloud, which
//! orders it from Pebble (Let's Encrypt's ACME test server) through
//! DNS-01: the box then serves every page over HTTPS under its own name,
//! plain HTTP redirects, Chromium trusting only Pebble's root loads the
//! check-in page with no warning, the certificate is renewed in place
//! before it expires, and a revoked box keeps the one it has but gets no
//! new one, and says so.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::acme::{IssuingCloud, Pebble, free_port};
use common::box_process::{enroll, http, run_appliance_with};
use common::*;

const EDGE: &str = "edge.sos.test";

async fn healthz(base: &str) -> serde_json::Value {
    common::box_process::get_json(&format!("{base}/healthz")).await
}

/// Polls the box's `/healthz` until `https` satisfies `ok`, at most 60 s.
async fn wait_https(
    base: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = healthz(base).await["https"].clone();
        if ok(&h) {
            return h;
        }
        assert!(Instant::now() < deadline, "{what}: /healthz says {h}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A client that trusts only `root_pem` and finds `name` at `addr`, with
/// the server's certificate kept on each answer.
fn phone(root_pem: &str, name: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(name, addr)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The certificate the box served on `resp`'s connection (DER).
fn served(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .expect("a TLS answer")
        .to_vec()
}

/// A HOME whose NSS store (what Chromium on Linux trusts) holds `root`.
fn nss_home(dir: &Path, root_pem: &str) -> std::path::PathBuf {
    let home = dir.join("home");
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let root = dir.join("pebble-root.pem");
    std::fs::write(&root, root_pem).unwrap();
    let db_arg = format!("sql:{}", db.display());
    for args in [
        vec!["-N", "-d", &db_arg, "--empty-password"],
        vec![
            "-A",
            "-d",
            &db_arg,
            "-n",
            "pebble",
            "-t",
            "C,,",
            "-i",
            root.to_str().unwrap(),
        ],
    ] {
        let o = std::process::Command::new("certutil")
            .args(&args)
            .output()
            .expect("certutil (scripts/setup-cloud-peers.sh installs it)");
        assert!(
            o.status.success(),
            "certutil {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    home
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enrolled_box_serves_https_under_its_own_certificate_renews_it_and_a_revoked_box_gets_none()
 {
    // Certificates of 24 s: the box renews at two thirds, 16 s.
    let IssuingCloud {
        cloud,
        pool,
        tenant: t,
        pebble,
        db: _db,
    } = IssuingCloud::start(24, EDGE).await;
    let dir = tempfile::tempdir().unwrap();
    let o = enroll(dir.path(), &cloud.url, &token(&pool, &t).await);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let port = free_port();
    let https_listen = format!("127.0.0.1:{port}");
    // The box checks its name in the DNS the cloud publishes it in (as a
    // clinic's router would forward the query).
    let dns = pebble.dns_server();
    let b = run_appliance_with(
        dir.path(),
        &["--https-listen", &https_listen, "--dns-server", &dns],
    );

    let status = wait_https(&b.base, "HTTPS on", |h| h["on"] == true).await;
    let device: String = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT device_id FROM devices WHERE tenant_id = $1", &[&t])
        .await
        .unwrap()
        .get(0);
    let name = format!("{device}.{t}.{EDGE}");
    assert_eq!(status["name"], name.as_str());
    let https_base = format!("https://{name}:{port}");

    // Plain HTTP now only redirects (and answers /healthz).
    let r = http().get(format!("{}/desk", b.base)).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("{https_base}/desk").as_str()
    );

    // A phone trusting only the CA's root reaches the check-in page.
    let root = pebble.issuing_root().await;
    let addr: SocketAddr = https_listen.parse().unwrap();
    let checkin = format!(
        "{https_base}{}",
        &b.checkin_url[b.checkin_url.find("/c/").unwrap()..]
    );
    let r = phone(&root, &name, addr)
        .get(&checkin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("strict-transport-security"));
    let first = served(&r);
    assert!(r.text().await.unwrap().contains("<form"));

    // A poster printed now carries the secure link (the default port).
    let svg = dir.path().join("qr.svg");
    let o = std::process::Command::new(common::box_process::appliance_bin())
        .args(["qr", "--format", "svg", "--data-dir"])
        .arg(dir.path())
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{said}");
    assert!(said.contains(&format!("(https://{name}:8443/c/")), "{said}");

    // And so does Chromium, with the root in its trust store, no warning.
    let home = nss_home(dir.path(), &root);
    common::dashboard::in_chromium("box-https.mjs", &[&checkin, &name, home.to_str().unwrap()])
        .await;

    // Renewed before it expires, swapped in without a restart.
    let expires = status["expires"].clone();
    let renewed = wait_https(&b.base, "renewed", |h| {
        h["on"] == true && h["expires"] != expires
    })
    .await;
    assert!(renewed.get("renewal").is_none(), "{renewed}");
    let r = phone(&root, &name, addr)
        .get(format!("{https_base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(
        served(&r),
        first,
        "the box still serves the first certificate"
    );

    // Revoked: no new certificate; the box keeps serving the one it has
    // until it expires, and says why it was not renewed.
    cloud_server::admin::revoke_device(&pool, &device)
        .await
        .unwrap();
    let refused = wait_https(&b.base, "renewal refused", |h| h.get("renewal").is_some()).await;
    assert_eq!(refused["on"], true);
    assert!(
        refused["renewal"].as_str().unwrap().contains("revoked"),
        "{refused}"
    );
    let held: String = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT chain_pem FROM device_certificates WHERE device_id = $1",
            &[&device],
        )
        .await
        .unwrap()
        .get(0);
    let r = phone(&root, &name, addr)
        .get(format!("{https_base}/healthz"))
        .send()
        .await
        .unwrap();
    let serving = served(&r);
    use rustls::pki_types::pem::PemObject;
    let leaf = rustls::pki_types::CertificateDer::pem_slice_iter(held.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        serving,
        leaf.to_vec(),
        "the cloud issued another certificate after revocation"
    );
}

/// The clinic's DNS does not resolve the box's name to it (a router that
/// drops public names pointing into the LAN): phones would find nothing
/// at the HTTPS address, so the box keeps them on plain HTTP and says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_box_whose_name_the_clinic_dns_does_not_resolve_stays_on_plain_http_and_says_why() {
    let IssuingCloud {
        cloud,
        pool,
        tenant: t,
        db: _db,
        pebble: _pebble,
    } = IssuingCloud::start(3600, EDGE).await;
    let dir = tempfile::tempdir().unwrap();
    let o = enroll(dir.path(), &cloud.url, &token(&pool, &t).await);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A DNS server that knows nothing of the edge domain: a second
    // challtestsrv, as an unhelpful clinic router.
    let clinic_dns = Pebble::start(3600);
    let https_listen = format!("127.0.0.1:{}", free_port());
    let dns = clinic_dns.dns_server();
    let b = run_appliance_with(
        dir.path(),
        &["--https-listen", &https_listen, "--dns-server", &dns],
    );
    let status = wait_https(&b.base, "the DNS reason", |h| {
        h["reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not resolve"))
    })
    .await;
    assert_eq!(status["on"], false, "{status}");
    assert!(
        status["reason"]
            .as_str()
            .unwrap()
            .contains("has its certificate"),
        "{status}"
    );
    // The certificate did arrive; the pages stay on plain HTTP.
    assert!(dir.path().join("tls/cloud.pem").exists());
    let r = http()
        .get(format!("{}/desk/login", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
