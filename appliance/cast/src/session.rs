//! One CASTV2 session with one Cast device: connect over TLS, launch the
//! receiver app, hand it the TV page's URL, then answer heartbeats and watch
//! the receiver's status until the session ends. Blocking: runs on its own
//! thread.
//!
//! The protocol layer is rust_cast's (`MessageManager` and its connection,
//! heartbeat and receiver channels). The transport underneath is ours:
//! `CastDevice::connect_without_host_verification` gives no read timeout (a
//! TV that loses power mid-session would block the thread forever) and
//! allocates whatever frame length the peer declares (up to 4 GiB), so we
//! open the TLS connection ourselves (rustls, the same no-verification
//! policy: Cast devices present self-signed certificates) and put a framing
//! guard with deadlines and a 64 KiB frame limit under rust_cast.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rust_cast::channels::connection::{ConnectionChannel, ConnectionResponse};
use rust_cast::channels::heartbeat::{HeartbeatChannel, HeartbeatResponse};
use rust_cast::channels::receiver::{CastDeviceApp, ReceiverChannel, ReceiverResponse};
use rust_cast::message_manager::{CastMessage, CastMessagePayload, MessageManager};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// The namespace DashCast listens on for `{"url": …}`.
pub const DASHCAST_NAMESPACE: &str = "urn:x-cast:com.madmod.dashcast";
/// DashCast: a public receiver that loads any URL.
pub const DASHCAST_APP_ID: &str = "84912283";
/// Cast frames are at most 64 KiB by the protocol.
const MAX_FRAME: usize = 64 * 1024;
/// Consecutive unreadable messages tolerated during a session.
const MAX_BAD_MESSAGES: u32 = 5;
const SENDER: &str = "sender-sos-edge";
const PLATFORM: &str = "receiver-0";

/// Timing of one session. Defaults follow what Google's own senders do
/// (PING every 5 s, peer dead after 10 s of silence) but tighter, so a
/// dropped TV is noticed well inside the 10 s recovery target.
#[derive(Debug, Clone)]
pub struct Timing {
    pub connect_timeout: Duration,
    /// How long the receiver may take to start the app.
    pub launch_timeout: Duration,
    pub ping_every: Duration,
    pub dead_after: Duration,
    /// Granularity of the session loop (commands, pings).
    pub tick: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            connect_timeout: Duration::from_secs(3),
            launch_timeout: Duration::from_secs(20),
            ping_every: Duration::from_secs(3),
            dead_after: Duration::from_secs(8),
            tick: Duration::from_millis(200),
        }
    }
}

/// Why a session could not start or ended; each has a plain-language
/// explanation for the front desk.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("TV is off or unreachable ({0})")]
    Unreachable(String),
    #[error("this device did not answer like a Chromecast ({0})")]
    NotCast(String),
    #[error(
        "the TV could not start the display app (app id {app_id}: {reason}); check the cast app id in the box settings"
    )]
    LaunchFailed { app_id: String, reason: String },
    #[error("the TV stopped answering ({0})")]
    Dropped(String),
    #[error("another app is showing on the TV ({0})")]
    TakenOver(String),
    #[error("the display app was closed on the TV")]
    AppClosed,
    #[error("the cast app id \"{0}\" is not valid (expected 8 hex digits)")]
    BadAppId(String),
}

/// What happened to a session that had started showing.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// Staff stopped it; the app was asked to stop.
    Stopped,
    /// The box is shutting down; the TV is left as it is.
    Shutdown,
    /// It ended by itself; worth re-casting.
    Lost(SessionError),
}

/// Commands from the supervisor to a running session.
#[derive(Debug, Clone, PartialEq)]
pub enum Ctrl {
    Stop,
    Shutdown,
    /// The device moved or staff asked to retry: re-check now.
    Nudge,
}

/// Progress reported by a session.
#[derive(Debug, Clone)]
pub enum Progress {
    Launching,
    /// The receiver reported the app running and was given the URL.
    Showing {
        app_name: String,
        session_id: String,
        launch_ms: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub addr: SocketAddr,
    pub app_id: &'a str,
    pub url: &'a str,
    pub timing: &'a Timing,
}

pub fn valid_app_id(app_id: &str) -> bool {
    app_id.len() == 8 && app_id.chars().all(|c| c.is_ascii_hexdigit())
}

/// Runs one session to its end. Never panics on peer input: rust_cast
/// panics on a few malformed replies (e.g. a launch status listing no
/// apps), so those are caught and reported as a protocol error.
pub fn run(req: &Request<'_>, ctrl: &Receiver<Ctrl>, progress: &mut dyn FnMut(Progress)) -> Ended {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_inner(req, ctrl, progress)
    }));
    match outcome {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => Ended::Lost(e),
        Err(_) => Ended::Lost(SessionError::NotCast(
            "it sent a reply the box could not understand".into(),
        )),
    }
}

type Mm = MessageManager<Framed>;

fn run_inner(
    req: &Request<'_>,
    ctrl: &Receiver<Ctrl>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Ended, SessionError> {
    if !valid_app_id(req.app_id) {
        return Err(SessionError::BadAppId(req.app_id.into()));
    }
    let started = Instant::now();
    let idle = Rc::new(Cell::new(req.timing.launch_timeout));
    let stream = connect(req.addr, req.timing, idle.clone())?;
    let mm: Rc<Mm> = Rc::new(MessageManager::new(stream));
    let connection = ConnectionChannel::new(SENDER, mm.clone());
    let heartbeat = HeartbeatChannel::new(SENDER, PLATFORM, mm.clone());
    let receiver = ReceiverChannel::new(SENDER, PLATFORM, mm.clone());

    connection.connect(PLATFORM).map_err(io_or_protocol)?;
    progress(Progress::Launching);
    let app =
        CastDeviceApp::from_str(req.app_id).unwrap_or(CastDeviceApp::Custom(req.app_id.into()));
    let launched = receiver.launch_app(&app).map_err(|e| match e {
        rust_cast::errors::Error::Internal(reason) => SessionError::LaunchFailed {
            app_id: req.app_id.into(),
            reason: clean(&reason),
        },
        other => io_or_protocol(other),
    })?;
    if !launched.app_id.eq_ignore_ascii_case(req.app_id) {
        return Err(SessionError::TakenOver(clean(&launched.display_name)));
    }
    connection
        .connect(launched.transport_id.as_str())
        .map_err(io_or_protocol)?;
    let load =
        serde_json::json!({"url": req.url, "force": true, "reload": false, "reload_time": 0});
    mm.send(CastMessage {
        namespace: DASHCAST_NAMESPACE.into(),
        source: SENDER.into(),
        destination: launched.transport_id.clone(),
        payload: CastMessagePayload::String(load.to_string()),
    })
    .map_err(io_or_protocol)?;
    progress(Progress::Showing {
        app_name: clean(&launched.display_name),
        session_id: launched.session_id.clone(),
        launch_ms: started.elapsed().as_millis() as u64,
    });

    idle.set(req.timing.tick);
    let mut last_heard = Instant::now();
    let mut last_ping = Instant::now();
    let mut bad = 0u32;
    loop {
        match ctrl.try_recv() {
            Ok(Ctrl::Stop) => {
                idle.set(Duration::from_secs(2));
                let _ = receiver.stop_app(launched.session_id.as_str());
                return Ok(Ended::Stopped);
            }
            Ok(Ctrl::Shutdown) | Err(TryRecvError::Disconnected) => {
                let _ = connection.disconnect(launched.transport_id.as_str());
                return Ok(Ended::Shutdown);
            }
            Ok(Ctrl::Nudge) | Err(TryRecvError::Empty) => {}
        }
        if last_ping.elapsed() >= req.timing.ping_every {
            heartbeat.ping().map_err(io_or_protocol)?;
            last_ping = Instant::now();
        }
        if last_heard.elapsed() >= req.timing.dead_after {
            return Err(SessionError::Dropped(format!(
                "no answer for {} s",
                req.timing.dead_after.as_secs()
            )));
        }
        let msg = match mm_receive(&connection, &heartbeat, &receiver, &mm) {
            Ok(m) => m,
            Err(rust_cast::errors::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                continue;
            }
            // One message the box cannot read: skip it, but a device that
            // keeps sending them is not a Chromecast.
            Err(e)
                if !matches!(
                    e,
                    rust_cast::errors::Error::Io(_) | rust_cast::errors::Error::Tls(_)
                ) =>
            {
                bad += 1;
                tracing::debug!(error = %e, "unreadable message from a Cast device");
                if bad > MAX_BAD_MESSAGES {
                    return Err(SessionError::NotCast(format!("{bad} unreadable messages")));
                }
                continue;
            }
            Err(e) => return Err(dropped_or_protocol(e)),
        };
        bad = 0;
        last_heard = Instant::now();
        match msg {
            Incoming::Heartbeat(HeartbeatResponse::Ping) => {
                heartbeat.pong().map_err(io_or_protocol)?;
            }
            Incoming::Receiver(ReceiverResponse::Status(status)) => {
                if status
                    .applications
                    .iter()
                    .any(|a| a.session_id == launched.session_id)
                {
                    continue;
                }
                return Err(match status.applications.first() {
                    Some(other) => SessionError::TakenOver(clean(&other.display_name)),
                    None => SessionError::AppClosed,
                });
            }
            Incoming::Connection(ConnectionResponse::Close) => {
                return Err(SessionError::AppClosed);
            }
            _ => {}
        }
    }
}

enum Incoming {
    Connection(ConnectionResponse),
    Heartbeat(HeartbeatResponse),
    Receiver(ReceiverResponse),
    Other,
}

/// `CastDevice::receive` without `CastDevice`: routes one message to the
/// channel that understands it.
fn mm_receive(
    connection: &ConnectionChannel<'_, Framed>,
    heartbeat: &HeartbeatChannel<'_, Framed>,
    receiver: &ReceiverChannel<'_, Framed>,
    mm: &Mm,
) -> Result<Incoming, rust_cast::errors::Error> {
    let m = mm.receive()?;
    if connection.can_handle(&m) {
        return Ok(Incoming::Connection(connection.parse(&m)?));
    }
    if heartbeat.can_handle(&m) {
        return Ok(Incoming::Heartbeat(heartbeat.parse(&m)?));
    }
    if receiver.can_handle(&m) {
        return Ok(Incoming::Receiver(receiver.parse(&m)?));
    }
    Ok(Incoming::Other)
}

/// Peer-supplied text for a status line: printable, bounded.
pub fn clean(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.trim().is_empty() {
        "an unnamed app".into()
    } else {
        s.trim().to_string()
    }
}

fn io_or_protocol(e: rust_cast::errors::Error) -> SessionError {
    match e {
        rust_cast::errors::Error::Io(io) => match io.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                SessionError::Dropped("no reply in time".into())
            }
            io::ErrorKind::InvalidData => SessionError::NotCast(io.to_string()),
            _ => SessionError::Dropped(io.to_string()),
        },
        rust_cast::errors::Error::Tls(t) => SessionError::NotCast(format!("TLS: {t}")),
        other => {
            SessionError::NotCast(format!("unreadable message: {}", clean(&other.to_string())))
        }
    }
}

fn dropped_or_protocol(e: rust_cast::errors::Error) -> SessionError {
    io_or_protocol(e)
}

fn connect(
    addr: SocketAddr,
    timing: &Timing,
    idle: Rc<Cell<Duration>>,
) -> Result<Framed, SessionError> {
    let tcp = TcpStream::connect_timeout(&addr, timing.connect_timeout)
        .map_err(|e| SessionError::Unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .and_then(|_| tcp.set_write_timeout(Some(timing.connect_timeout)))
        .map_err(|e| SessionError::Unreachable(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SessionError::NotCast(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| SessionError::NotCast(e.to_string()))?;
    let mut tls = StreamOwned::new(conn, tcp);
    let deadline = Instant::now() + timing.connect_timeout;
    while tls.conn.is_handshaking() {
        match tls.conn.complete_io(&mut tls.sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
            Err(e) if is_timeout(&e) => {
                return Err(SessionError::NotCast("no TLS handshake in time".into()));
            }
            Err(e) => return Err(SessionError::NotCast(format!("TLS handshake failed: {e}"))),
        }
    }
    Ok(Framed {
        tls,
        buf: Vec::new(),
        pos: 0,
        idle,
        frame_deadline: timing.dead_after,
    })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Cast devices present certificates signed by Google's device CA, which
/// no public root store holds; senders do not verify them (nor does
/// rust_cast's `connect_without_host_verification`). Signatures are still
/// checked, so the TLS session itself is sound.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS stream as rust_cast reads it: one whole, length-checked frame at
/// a time. Between frames, a read that finds nothing within `idle` returns
/// `WouldBlock` (nothing consumed, so the framing stays intact); a frame
/// that starts but does not finish within `frame_deadline` is an error.
pub struct Framed {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
    pos: usize,
    idle: Rc<Cell<Duration>>,
    frame_deadline: Duration,
}

impl Framed {
    fn fill(&mut self) -> io::Result<()> {
        let started = Instant::now();
        let mut header = [0u8; 4];
        self.read_full(&mut header, started, true)?;
        let len = u32::from_be_bytes(header) as usize;
        if len == 0 || len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("it announced a {len}-byte message (at most {MAX_FRAME} allowed)"),
            ));
        }
        let mut body = vec![0u8; len];
        self.read_full(&mut body, Instant::now(), false)?;
        self.buf = header.to_vec();
        self.buf.extend_from_slice(&body);
        self.pos = 0;
        Ok(())
    }

    fn read_full(&mut self, out: &mut [u8], started: Instant, at_boundary: bool) -> io::Result<()> {
        let mut got = 0;
        while got < out.len() {
            match self.tls.read(&mut out[got..]) {
                // rustls reports a close without close_notify as UnexpectedEof.
                Ok(0) => return Err(closed(got == 0 && at_boundary)),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(closed(got == 0 && at_boundary));
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    if at_boundary && got == 0 {
                        if started.elapsed() >= self.idle.get() {
                            return Err(io::Error::new(io::ErrorKind::WouldBlock, "idle"));
                        }
                    } else if started.elapsed() >= self.frame_deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the TV stopped in the middle of a message",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn closed(cleanly: bool) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        if cleanly {
            "the TV closed the connection"
        } else {
            "the TV closed the connection in the middle of a message"
        },
    )
}

impl Read for Framed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.buf.len() {
            self.fill()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Framed {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.tls.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tls.flush()
    }
}
