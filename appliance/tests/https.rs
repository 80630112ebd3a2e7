//! HTTPS with a certificate the clinic brings (`--tls-cert`/`--tls-key`):
//! the patient's form, the staff PIN and the desk's cookie go over TLS, the
//! plain port only redirects, and a bad certificate stops the start with
//! the flag to fix.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Daemon, PIN};
use serde_json::Value;

const NAME: &str = "box.test";

fn https_daemon(cert: &Path, key: &Path) -> Daemon {
    https_daemon_in(tempfile::tempdir().unwrap(), cert, key)
}

/// The same on a data directory a daemon used before.
fn https_daemon_in(dir: tempfile::TempDir, cert: &Path, key: &Path) -> Daemon {
    Daemon::demo_in(
        dir,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--https-listen",
            "127.0.0.1:0",
        ],
    )
}

/// A browser-like client that trusts the clinic's CA and finds `box.test`
/// at the daemon (as the clinic's DNS or the box's own name would).
fn phone(ca: &Path, at: SocketAddr) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .resolve(NAME, at)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn with_a_certificate_every_page_is_served_over_https_and_plain_http_redirects() {
    let scratch = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::tls::private_ca(scratch.path(), &[NAME]);
    let d = https_daemon(&cert, &key);
    let at = d.https.expect("the daemon said where it serves HTTPS");
    let origin = format!("https://{NAME}:{}", at.port());

    // The printed link (and so the QR code) sends phones to the
    // certificate's name over HTTPS.
    let path = d.checkin_url.split_once("/c/").unwrap().1;
    let page_url = format!("{origin}/c/{path}");
    assert_eq!(d.printed_checkin_url, page_url);
    let phone = phone(&ca, at);
    let page = phone.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let form = page.text().await.unwrap();

    // A check-in over HTTPS.
    let token = common::hidden_value(&form, "form_token").expect("form token");
    let r = phone
        .post(&page_url)
        .header("origin", &origin)
        .form(&[
            ("first_name", "Sarah"),
            ("last_name", "Jones"),
            ("date_of_birth", "1985-04-23"),
            ("form_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "check-in over HTTPS");

    // The desk's session cookie is Secure.
    let login = phone
        .post(format!("{origin}/desk/login"))
        .header("origin", &origin)
        .form(&[("pin", PIN), ("next", "/desk")])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let today = common::get_json_by(&phone, &format!("{origin}/desk/api/today")).await;
    assert!(
        today.to_string().contains("Sarah"),
        "the desk sees the check-in: {today}"
    );
    // The desk says how phones reach the box.
    assert_eq!(today["https"]["on"], true, "{today}");
    assert_eq!(today["https"]["name"], "box.test", "{today}");

    // Plain HTTP: only a redirect to the same page over HTTPS...
    let plain = common::client();
    let r = plain
        .get(d.url(&format!("/c/{path}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], page_url.as_str());
    let r = plain.post(d.url("/desk/login")).send().await.unwrap();
    assert_eq!(r.status(), 308, "a PIN is never taken over plain HTTP");
    assert_eq!(
        r.headers()["location"],
        format!("{origin}/desk/login").as_str()
    );
    // ...and the health check, which says HTTPS is on and until when.
    let health = common::get_json(&d.url("/healthz")).await;
    assert_eq!(health["https"]["on"], true, "{health}");
    assert_eq!(health["https"]["name"], NAME, "{health}");
    assert!(health["https"]["expires"].is_string(), "{health}");
}

#[tokio::test]
async fn without_a_certificate_the_box_says_it_serves_plain_http() {
    let d = Daemon::demo();
    assert!(d.https.is_none());
    let health: Value = common::get_json(&d.url("/healthz")).await;
    assert_eq!(health["https"]["on"], false, "{health}");
    assert!(
        health["https"]["reason"]
            .as_str()
            .unwrap()
            .contains("no certificate"),
        "{health}"
    );
    let page = common::client().get(&d.checkin_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("strict-transport-security").is_none());
}

/// The daemon started with `args`: it must refuse to start, and say why.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sos-appliance"))
        .arg("demo")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0"])
        .args(args)
        .env("SOS_LOG", "error")
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_certificate_stops_the_start_with_the_flag_to_fix() {
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();
    let (_, cert, key) = common::tls::private_ca(s, &[NAME]);
    let other = s.join("other");
    std::fs::create_dir(&other).unwrap();
    let (_, _, other_key) = common::tls::private_ca(&other, &[NAME]);
    let (cert, key, other_key) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        other_key.to_str().unwrap(),
    );

    let e = refused(s, &["--tls-cert", cert]);
    assert!(e.contains("needs --tls-key"), "{e}");
    let e = refused(s, &["--tls-cert", key, "--tls-key", key]);
    assert!(
        e.contains("--tls-cert") && e.contains("no PEM certificate"),
        "{e}"
    );
    let e = refused(s, &["--tls-cert", cert, "--tls-key", other_key]);
    assert!(e.contains("do not go together"), "{e}");
    let e = refused(s, &["--tls-cert", "/nonexistent.pem", "--tls-key", key]);
    assert!(e.contains("cannot read /nonexistent.pem"), "{e}");
    for (public_url, says) in [
        (
            "https://elsewhere.test",
            "the certificate is for box.test, not for elsewhere.test",
        ),
        ("http://box.test", "must start with https://"),
    ] {
        let e = refused(
            s,
            &[
                "--tls-cert",
                cert,
                "--tls-key",
                key,
                "--public-url",
                public_url,
            ],
        );
        assert!(e.contains(says), "{e}");
    }
    // Nothing was written for a start that was refused.
    assert!(!s.join("data").exists());
}

/// A TV paired over plain HTTP, before the box had a certificate: once
/// the box serves HTTPS, the TV's socket on plain HTTP hears only where
/// to go, with a one-time grant that pairs it again over HTTPS by itself
/// (its token lives in the old origin's storage). No lobby data crosses
/// in clear, and staff do nothing.
#[tokio::test]
async fn a_tv_paired_over_plain_http_moves_to_https_by_itself() {
    use futures_util::{SinkExt, StreamExt};
    use rustls::pki_types::pem::PemObject;
    use tokio_tungstenite::tungstenite::Message;

    let d = Daemon::demo();
    let staff = common::sign_in(&d).await;
    let (tv, token, _) = common::paired_tv(&d, &staff).await;
    drop(tv);
    let dir = d.into_dir();
    let scratch = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::tls::private_ca(scratch.path(), &[NAME]);
    let d = https_daemon_in(dir, &cert, &key);
    let at = d.https.expect("serving HTTPS");

    let mut plain = common::ws(&d.ws_url("/tv/ws")).await;
    common::hello(&mut plain, Some(&token)).await;
    let moved = common::next_json(&mut plain, 5).await;
    assert_eq!(moved["type"], "moved", "{moved}");
    let url = moved["url"].as_str().unwrap();
    let prefix = format!("https://{NAME}:{}/tv?grant=", at.port());
    assert!(url.starts_with(&prefix), "{url}");
    let grant = &url[prefix.len()..];
    // Nothing else on the plain socket: it closes.
    let rest = tokio::time::timeout(Duration::from_secs(5), plain.next()).await;
    assert!(
        matches!(rest, Ok(None | Some(Ok(Message::Close(_))) | Some(Err(_)))),
        "{rest:?}"
    );

    // Over HTTPS the grant pairs it again, under its name, with the lobby.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(at).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(NAME.try_into().unwrap(), tcp)
        .await
        .unwrap();
    let (mut secure, _) =
        tokio_tungstenite::client_async(format!("wss://{NAME}:{}/tv/ws", at.port()), tls)
            .await
            .unwrap();
    let hello = serde_json::json!({"type": "hello", "grant": grant}).to_string();
    secure.send(Message::Text(hello.into())).await.unwrap();
    let mut kinds = Vec::new();
    let mut paired = Value::Null;
    while !kinds.iter().any(|k| k == "snapshot") {
        let m = tokio::time::timeout(Duration::from_secs(5), secure.next())
            .await
            .expect("a frame over HTTPS")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "paired" {
                paired = v.clone();
            }
            kinds.push(v["type"].as_str().unwrap_or_default().to_string());
        }
    }
    assert_eq!(kinds[0], "paired", "{kinds:?}");
    assert_eq!(paired["name"], "Lobby", "{paired}");
    assert_ne!(paired["token"].as_str().unwrap(), token);
    // The grant is spent, and the old pairing is gone.
    let mut again = common::ws(&d.ws_url("/tv/ws")).await;
    common::hello(&mut again, Some(&token)).await;
    let moved = common::next_json(&mut again, 5).await;
    assert_eq!(
        moved["url"],
        format!("https://{NAME}:{}/tv", at.port()),
        "{moved}"
    );
}
