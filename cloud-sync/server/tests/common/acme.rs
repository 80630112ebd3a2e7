//! Pebble, Let's Encrypt's own ACME test server, with
//! `pebble-challtestsrv` as the DNS it validates DNS-01 challenges in
//! (Debian packages `pebble`; `scripts/setup-cloud-peers.sh` installs it).
//! Both on loopback, on ports of their own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Pebble {
    pebble: Child,
    challtestsrv: Child,
    /// The ACME directory URL.
    pub directory: String,
    /// The root Pebble's own HTTPS is signed by (not the issuing root).
    pub https_root: PathBuf,
    management: String,
    dns: u16,
    /// challtestsrv's management API, where the cloud publishes records.
    pub dns_api: String,
    _dir: tempfile::TempDir,
}

/// A real cloud on its own database that issues box certificates from a
/// Pebble of `validity_secs`, with one practice.
pub struct IssuingCloud {
    pub cloud: super::Cloud,
    pub pool: deadpool_postgres::Pool,
    pub tenant: String,
    pub pebble: Pebble,
    pub db: super::TestDb,
}

impl IssuingCloud {
    pub async fn start(validity_secs: u64, edge_domain: &str) -> IssuingCloud {
        let pebble = Pebble::start(validity_secs);
        let db = super::TestDb::create().await;
        let pool = db.pool().await;
        let args = pebble.cloud_args(edge_domain);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let cloud = super::Cloud::start_with(&db, "127.0.0.1:0", &args);
        let tenant = super::tenant(&pool, "Bright Smile").await;
        IssuingCloud {
            cloud,
            pool,
            tenant,
            pebble,
            db,
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn binary(name: &str) -> &str {
    if Command::new(name).arg("-h").output().is_err() {
        panic!("{name} is not installed; run scripts/setup-cloud-peers.sh (Debian package pebble)");
    }
    name
}

impl Pebble {
    /// Pebble issuing certificates valid for `validity` seconds.
    pub fn start(validity_secs: u64) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let (root, cert, key) = super::tls::private_ca(dir.path(), &["127.0.0.1", "localhost"]);
        let (acme, mgmt, dns, dns_mgmt) = (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": cert, "privateKey": key,
            "httpPort": free_port(), "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity_secs,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let challtestsrv = Command::new(binary("pebble-challtestsrv"))
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            // A name resolves only to what the cloud published.
            .args(["-defaultIPv4", "", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble-challtestsrv");
        let pebble = Command::new(binary("pebble"))
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // No random wait before validating; no nonces refused at
            // random; every order proves its challenge anew.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble");
        let p = Pebble {
            pebble,
            challtestsrv,
            directory: format!("https://127.0.0.1:{acme}/dir"),
            https_root: root,
            management: format!("https://127.0.0.1:{mgmt}"),
            dns_api: format!("http://127.0.0.1:{dns_mgmt}"),
            dns,
            _dir: dir,
        };
        for port in [acme, mgmt, dns_mgmt] {
            wait_listening(port);
        }
        p
    }

    /// The flags that make `sos-cloud serve` issue box certificates here.
    pub fn cloud_args(&self, edge_domain: &str) -> Vec<String> {
        vec![
            "--acme-directory".into(),
            self.directory.clone(),
            "--acme-root".into(),
            self.https_root.display().to_string(),
            "--edge-domain".into(),
            edge_domain.into(),
            "--dns-api".into(),
            self.dns_api.clone(),
        ]
    }

    /// The DNS Pebble validates in (ip:port), as a box's `--dns-server`.
    pub fn dns_server(&self) -> String {
        format!("127.0.0.1:{}", self.dns)
    }

    /// What `name` resolves to (A and AAAA) in the DNS Pebble validates
    /// in, asked as any resolver would (`dig`).
    pub fn resolve(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for kind in ["A", "AAAA"] {
            let o = Command::new("dig")
                .args([
                    "@127.0.0.1",
                    "-p",
                    &self.dns.to_string(),
                    "+short",
                    "+time=2",
                ])
                .args([name, kind])
                .output()
                .expect("dig (scripts/setup-cloud-peers.sh installs it)");
            out.extend(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_string),
            );
        }
        out
    }

    /// The root Pebble issues under (new at every start), PEM.
    pub async fn issuing_root(&self) -> String {
        let ca = std::fs::read(&self.https_root).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let resp = http
            .get(format!("{}/roots/0", self.management))
            .send()
            .await
            .expect("pebble's management API");
        assert!(resp.status().is_success(), "{}", resp.status());
        resp.text().await.unwrap()
    }
}

fn wait_listening(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on 127.0.0.1:{port}: pebble or pebble-challtestsrv did not start");
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in [&mut self.pebble, &mut self.challtestsrv] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
