//! What HTTPS costs a phone on the clinic Wi-Fi: a new connection, the TLS
//! handshake and the check-in page, against the real daemon serving a
//! certificate (ECDSA P-256 from a private CA, as the cloud's ACME
//! certificates are), next to the same page over plain HTTP from a second
//! daemon measured in the same run. Every connection is new and does a
//! full handshake (no session resumption): a phone's first visit.
//!
//!     cargo run --release -p sos-bench --bin https-bench
//!
//! Loopback only; prints p50/p99/max in milliseconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NAME: &str = "box.bench.test";
const WARMUP: usize = 20;
const RUNS: usize = 300;

struct Daemon {
    child: Child,
    plain: SocketAddr,
    https: Option<SocketAddr>,
    checkin_path: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(exe: &Path, dir: &Path, extra: &[&str]) -> Result<Daemon> {
    let mut child = Command::new(exe)
        .args(["demo", "--data-dir"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--no-listen"])
        .args(extra)
        .env("SOS_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let stdout = child.stdout.take().context("no daemon stdout")?;
    let (mut plain, mut https, mut checkin) = (None, None, String::new());
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(a) = line.strip_prefix("listening on http://") {
            plain = a.trim().parse().ok();
        }
        if let Some(a) = line.strip_prefix("serving HTTPS on ") {
            https = a.trim().parse().ok();
        }
        if let Some(u) = line.trim().strip_prefix("check-in:") {
            checkin = u.trim().to_string();
        }
        if line.trim().starts_with("front desk:") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let checkin_path = checkin
        .find("/c/")
        .map(|i| checkin[i..].to_string())
        .context("the daemon printed no check-in link")?;
    Ok(Daemon {
        child,
        plain: plain.context("the daemon printed no address")?,
        https,
        checkin_path,
    })
}

fn daemon_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe()?.with_file_name("sos-appliance");
    if !exe.exists() {
        bail!(
            "{} not found: cargo build --release -p sos-appliance",
            exe.display()
        );
    }
    Ok(exe)
}

/// A private CA and a certificate for [`NAME`]; returns the client config
/// trusting the CA (resumption off) and the cert and key paths.
fn certificate(dir: &Path) -> Result<(Arc<rustls::ClientConfig>, PathBuf, PathBuf)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec![NAME.to_string()])?.signed_by(&leaf_key, &issuer)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, format!("{}{}", leaf.pem(), ca_cert.pem()))?;
    std::fs::write(&key, leaf_key.serialize_pem())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok((Arc::new(config), cert, key))
}

fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n").into_bytes()
}

fn check_page(page: &[u8]) -> Result<()> {
    if !page.starts_with(b"HTTP/1.1 200") {
        bail!(
            "unexpected answer: {}",
            String::from_utf8_lossy(&page[..page.len().min(80)])
        );
    }
    Ok(())
}

/// New TCP connection, TLS handshake, page read to the end: (handshake, total).
async fn over_https(
    tls: &tokio_rustls::TlsConnector,
    at: SocketAddr,
    path: &str,
) -> Result<(Duration, Duration)> {
    let t0 = Instant::now();
    let tcp = tokio::net::TcpStream::connect(at).await?;
    tcp.set_nodelay(true)?;
    let mut s = tls.connect(ServerName::try_from(NAME)?, tcp).await?;
    let shaken = t0.elapsed();
    s.write_all(&request(path)).await?;
    let mut page = Vec::new();
    // A close_notify-less close still ends the page.
    let _ = s.read_to_end(&mut page).await;
    let total = t0.elapsed();
    check_page(&page)?;
    Ok((shaken, total))
}

async fn over_http(at: SocketAddr, path: &str) -> Result<Duration> {
    let t0 = Instant::now();
    let mut s = tokio::net::TcpStream::connect(at).await?;
    s.set_nodelay(true)?;
    s.write_all(&request(path)).await?;
    let mut page = Vec::new();
    s.read_to_end(&mut page).await?;
    let total = t0.elapsed();
    check_page(&page)?;
    Ok(total)
}

fn line(what: &str, mut d: Vec<Duration>) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let at = |q: f64| d[((d.len() as f64 * q) as usize).min(d.len() - 1)];
    println!(
        "{what:<46} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  (n={})",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(d[d.len() - 1]),
        d.len()
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let exe = daemon_exe()?;
    let scratch = std::env::temp_dir().join(format!("sos-https-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = run(&exe, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run(exe: &Path, scratch: &Path) -> Result<()> {
    let (client, cert, key) = certificate(scratch)?;
    let secure = start(
        exe,
        &scratch.join("https"),
        &[
            "--tls-cert",
            &cert.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
            "--https-listen",
            "127.0.0.1:0",
        ],
    )?;
    let plain = start(exe, &scratch.join("http"), &[])?;
    let https_at = secure.https.context("the daemon did not serve HTTPS")?;
    let tls = tokio_rustls::TlsConnector::from(client);
    let (mut shakes, mut pages, mut plains) = (Vec::new(), Vec::new(), Vec::new());
    // Alternating, so both see the same machine.
    for i in 0..WARMUP + RUNS {
        let (shake, page) = over_https(&tls, https_at, &secure.checkin_path).await?;
        let reference = over_http(plain.plain, &plain.checkin_path).await?;
        if i >= WARMUP {
            shakes.push(shake);
            pages.push(page);
            plains.push(reference);
        }
    }
    println!(
        "HTTPS on the box: new connection + full TLS handshake + check-in page, {RUNS} runs ({WARMUP} warm-up), loopback"
    );
    line("TLS handshake (TCP connect included)", shakes);
    line("HTTPS: handshake + check-in page", pages);
    line("reference, same run: plain HTTP check-in page", plains);
    Ok(())
}
