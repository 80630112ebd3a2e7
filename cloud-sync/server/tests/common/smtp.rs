//! An SMTP sink: PyPI `aiosmtpd` (in `.venv/`, from
//! `scripts/setup-cloud-peers.sh`) on a loopback port, delivering every
//! message into a Maildir the tests read.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_on(super::free_port())
    }

    pub fn start_on(port: u16) -> SmtpSink {
        let maildir = tempfile::tempdir().expect("maildir");
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run aiosmtpd ({e}): run scripts/setup-cloud-peers.sh")
            });
        let sink = SmtpSink {
            child,
            port,
            maildir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(sink);
        panic!("aiosmtpd never listened on {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far, decoded as a mail client shows it.
    pub fn messages(&self) -> Vec<Mail> {
        self.raw_messages()
            .iter()
            .map(|raw| Mail::parse(raw))
            .collect()
    }

    /// Every message delivered so far, as raw text.
    pub fn raw_messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail/new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first whitespace-delimited word of `text` that starts with `prefix`.
pub fn word_starting(text: &str, prefix: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .map(str::to_string)
}

/// A delivered email: its headers and its decoded text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
}

impl Mail {
    pub fn parse(raw: &str) -> Mail {
        let m = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("a MIME message");
        let first = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string()
        };
        Mail {
            to: first(m.to()),
            from: first(m.from()),
            subject: m.subject().unwrap_or_default().to_string(),
            message_id: m.message_id().unwrap_or_default().to_string(),
            text: m.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}
