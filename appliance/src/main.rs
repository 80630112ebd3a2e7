//! `sos-appliance`: the box's daemon and its command-line tools.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::watch;

use appliance::clinic::Clinic;
use appliance::config::{self, PracticeSeed};
use appliance::store::{self, Store};
use appliance::{checkin, demo, desk, import, qr, schedule, secrets::BoxKey, web};

#[derive(Parser)]
#[command(
    name = "sos-appliance",
    version,
    about = "SOS Edge: the clinic's check-in box"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Where the database and the box key live.
    #[arg(long, env = "SOS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to serve on.
    #[arg(long, env = "SOS_LISTEN")]
    listen: Option<String>,
    /// Base URL printed in QR codes and pairing links (e.g. the box's mDNS name).
    #[arg(long, env = "SOS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Serve every page over HTTPS with this PEM certificate (chain); plain
    /// HTTP then only redirects. Needs --tls-key.
    #[arg(long, env = "SOS_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SOS_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Address to serve HTTPS on when the box holds a certificate.
    #[arg(long, env = "SOS_HTTPS_LISTEN")]
    https_listen: Option<String>,
    /// The DNS server (ip:port) the box asks whether the clinic's network
    /// resolves its certificate's name to it (default: the system's).
    #[arg(long, env = "SOS_DNS_SERVER")]
    dns_server: Option<String>,
    /// Check-ins one client (IP address) may send per minute.
    #[arg(long, env = "SOS_CHECKIN_RATE_PER_MINUTE", default_value_t = appliance::web::limits::DEFAULT_CHECKINS_PER_MINUTE)]
    checkin_rate_per_minute: u32,
    /// mDNS and Chromecast.
    #[command(flatten)]
    cast: appliance::cast::CastArgs,
    /// Lobby voice.
    #[command(flatten)]
    voice: appliance::voice::VoiceArgs,
    /// Voice in.
    #[command(flatten)]
    listen_in: appliance::listen::ListenArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the practice configured in the config file / replica.
    Run {
        /// TOML config file.
        #[arg(long, short, env = "SOS_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve a complete demo clinic (dental, ~20 appointments today), no setup needed.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Staff PIN for the front desk.
        #[arg(long, env = "SOS_DEMO_PIN", default_value = demo::DEFAULT_PIN)]
        pin: String,
    },
    /// Print the practice's check-in QR code (SVG, PNG or a printable poster page).
    Qr {
        #[arg(long, env = "SOS_DATA_DIR", default_value = "demo-data")]
        data_dir: PathBuf,
        #[arg(long, value_enum, default_value = "svg")]
        format: QrFormat,
        /// Base URL phones reach the box by (IP or mDNS name). Default: the
        /// box's HTTPS name on port 8443 once it holds its certificate from
        /// the cloud, else http://localhost:8080.
        #[arg(long, env = "SOS_PUBLIC_URL")]
        base_url: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Import today's appointments from a CSV or iCalendar (.ics) file.
    Import {
        #[arg(long, env = "SOS_DATA_DIR", default_value = "demo-data")]
        data_dir: PathBuf,
        file: PathBuf,
    },
    /// Enroll this box with the cloud using a one-time provisioning token.
    Enroll {
        #[arg(long, env = "SOS_DATA_DIR", default_value = "/var/lib/sos-edge")]
        data_dir: PathBuf,
        /// Cloud base URL, e.g. https://cloud.example.com
        #[arg(long, env = "SOS_CLOUD_URL")]
        cloud: String,
        /// One-time provisioning token from the operator or the dashboard.
        #[arg(long, env = "SOS_ENROLL_TOKEN")]
        token: String,
        #[arg(long, default_value = "SOS Edge box")]
        name: String,
    },
    /// List the audio output devices the lobby voice can use (--audio-device).
    AudioDevices,
    /// List the microphones voice in can use (--microphone).
    Microphones,
    /// Set a staff PIN or password (read from standard input).
    StaffPin {
        #[arg(long, env = "SOS_DATA_DIR", default_value = "demo-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "desk")]
        staff_id: String,
        #[arg(long, default_value = "Front desk")]
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum QrFormat {
    Svg,
    Png,
    Poster,
}

fn main() -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SOS_LOG")
        .unwrap_or_else(|_| "info".into())
        // ONNX Runtime's environment is released by an exit handler that
        // logs its drop at trace level after the main thread's
        // thread-locals are gone, which aborted every stop logged at
        // trace (SIGABRT). Those lines are only pointer addresses.
        .add_directive(
            "ort::lifetime=off"
                .parse()
                .context("the built-in log filter")?,
        );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Run { config, serve } => run(config, serve).await,
            Command::Demo { serve, pin } => run_demo(serve, pin).await,
            Command::Qr {
                data_dir,
                format,
                base_url,
                out,
            } => {
                let base_url = base_url.unwrap_or_else(|| default_qr_base(&data_dir));
                print_qr(&data_dir, format, &base_url, out.as_deref())
            }
            Command::Import { data_dir, file } => import_file(&data_dir, &file).await,
            Command::StaffPin {
                data_dir,
                staff_id,
                name,
            } => staff_pin(&data_dir, &staff_id, &name),
            Command::AudioDevices => {
                print!("{}", appliance::voice::describe_devices());
                Ok(())
            }
            Command::Microphones => {
                for m in appliance::listen::capture::input_devices()? {
                    let mark = if m.is_default { " (default)" } else { "" };
                    println!("{}\t{}{mark}", m.id, m.name);
                }
                Ok(())
            }
            Command::Enroll {
                data_dir,
                cloud,
                token,
                name,
            } => {
                let r = appliance::sync::enroll_box(&data_dir, &cloud, &token, &name).await?;
                println!(
                    "enrolled as device {} of \"{}\" ({}); config version {}, {} appointment(s)",
                    r.device_id, r.practice_name, r.tenant_id, r.config_version, r.appointments
                );
                Ok(())
            }
        }
    })
}

fn prepare_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Patient names live here: only the service user may read them.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// Opens the replica; if it has no practice yet, seeds it from `seed`.
fn open_seeded(dir: &Path, seed: Option<PracticeSeed>) -> Result<Store> {
    prepare_dir(dir)?;
    let store = Store::open(&appliance::core::replica_path(dir))?;
    if store.read_blocking(store::load_tenant)?.is_none()
        && let Some(seed) = seed
    {
        let tenant = seed.into_tenant()?;
        let (s, t) = (store.clone(), tenant);
        futures_block(async move { s.write(move |txn| store::upsert_tenant(txn, &t)).await })?;
    }
    Ok(store)
}

/// Runs a future to completion from inside the runtime's worker without
/// blocking it (setup code only).
fn futures_block<F, T>(f: F) -> Result<T, appliance::store::StoreError>
where
    F: std::future::Future<Output = Result<T, appliance::store::StoreError>>,
{
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

async fn run(config_path: Option<PathBuf>, args: ServeArgs) -> Result<()> {
    let file = match &config_path {
        Some(p) => config::load_file(p)?,
        None => config::FileConfig::default(),
    };
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("/var/lib/sos-edge"));
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    let listen = config::parse_listen(&listen)?;
    let public_url = args.public_url.or(file.public_url);
    let tls = TlsArgs {
        cert: args.tls_cert.or(file.tls_cert),
        key: args.tls_key.or(file.tls_key),
        listen: args.https_listen.or(file.https_listen),
        dns_server: args.dns_server.or(file.dns_server),
    }
    .load(public_url.as_deref())?;
    // First boot of a flashed box: enroll from its provisioning file and pull
    // the practice before serving.
    prepare_dir(&data_dir)?;
    appliance::service::status("getting the practice from the cloud");
    appliance::sync::prepare_at_start(&data_dir, std::time::Duration::from_secs(120)).await?;
    let store = open_seeded(&data_dir, file.practice)?;
    store.close();
    serve(ServeOptions {
        data_dir,
        listen,
        public_url,
        tls,
        checkins_per_minute: args.checkin_rate_per_minute,
        note: None,
        cast: args.cast,
        mdns_by_default: true,
        voice: args.voice,
        listen_in: args.listen_in,
    })
    .await
}

async fn run_demo(args: ServeArgs, pin: String) -> Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(|| PathBuf::from("demo-data"));
    let listen = config::parse_listen(args.listen.as_deref().unwrap_or("0.0.0.0:8080"))?;
    let tls = TlsArgs {
        cert: args.tls_cert,
        key: args.tls_key,
        listen: args.https_listen,
        dns_server: args.dns_server,
    }
    .load(args.public_url.as_deref())?;
    let store = open_seeded(&data_dir, Some(demo::practice()))?;
    let key = BoxKey::load_or_create(&appliance::core::key_path(&data_dir))?;
    let tenant = store
        .read_blocking(store::load_tenant)?
        .context("demo practice missing after seeding")?;
    if tenant.tenant_id == demo::TENANT_ID {
        let practice = appliance::practice::Practice::new(tenant.clone())?;
        let today: jiff::civil::Date = practice.today().parse()?;
        schedule::save(&store, &key, &tenant, demo::appointments(today), "demo").await?;
        // A PIN refused (too short) is refused before anything is written.
        let (t, hash) = (tenant.tenant_id.clone(), desk::auth::hash_secret(&pin)?);
        store
            .write(move |txn| {
                if store::list_staff(txn, &t)?.is_empty() {
                    desk::auth::save_staff_secret(txn, &t, "desk", "Front desk", hash)?;
                }
                Ok(())
            })
            .await?;
    }
    store.close();
    let note = format!(
        "demo staff PIN: {pin}; try checking in as {}",
        demo::sample_people()
            .iter()
            .map(|(n, d)| format!("{n} (born {d})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    serve(ServeOptions {
        data_dir,
        listen,
        public_url: args.public_url,
        tls,
        checkins_per_minute: args.checkin_rate_per_minute,
        note: Some(note),
        cast: args.cast,
        mdns_by_default: false,
        voice: args.voice,
        listen_in: args.listen_in,
    })
    .await
}

/// What `serve` runs with, from the config file, the environment and flags.
struct ServeOptions {
    data_dir: PathBuf,
    listen: SocketAddr,
    public_url: Option<String>,
    tls: Tls,
    checkins_per_minute: u32,
    /// Printed under the URLs (the demo's PIN and patients).
    note: Option<String>,
    cast: appliance::cast::CastArgs,
    /// mDNS on unless the flags say otherwise (`run`), or off unless they
    /// ask for it (`demo`).
    mdns_by_default: bool,
    voice: appliance::voice::VoiceArgs,
    listen_in: appliance::listen::ListenArgs,
}

async fn serve(opts: ServeOptions) -> Result<()> {
    let ServeOptions {
        data_dir,
        listen,
        public_url,
        tls,
        checkins_per_minute,
        note,
        cast,
        mdns_by_default: mdns_default,
        voice,
        listen_in,
    } = opts;
    let data_dir = data_dir.as_path();
    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    // HTTPS with the clinic's own certificate, bound now; or, for an
    // enrolled box, with its own certificate from the cloud once it has
    // one (unless HTTPS is a proxy's job: an https:// public URL).
    let credential = appliance::sync::Credential::load(data_dir)?;
    let own = tls.certificate.is_some();
    let from_cloud = !own
        && credential.is_some()
        && !public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    let https_listener = if own {
        let l = tokio::net::TcpListener::bind(tls.listen)
            .await
            .with_context(|| format!("--https-listen: cannot listen on {}", tls.listen))?;
        Some(web::server::HttpsListener::Bound(l))
    } else if from_cloud {
        Some(web::server::HttpsListener::Later(tls.listen))
    } else {
        None
    };
    let https_bound = match &https_listener {
        Some(web::server::HttpsListener::Bound(l)) => Some(l.local_addr()?),
        _ => None,
    };
    let given_url = public_url.clone();
    let public_url = match (&tls.certificate, https_bound) {
        (Some(c), Some(addr)) => web::https::public_url(c, public_url.as_deref(), addr.port())?,
        _ => public_url.unwrap_or_else(|| {
            if bound.ip().is_unspecified() {
                format!("http://localhost:{}", bound.port())
            } else {
                format!("http://{bound}")
            }
        }),
    };
    let clinic: Arc<Clinic> = Clinic::open(
        data_dir,
        public_url.clone(),
        appliance::web::limits::RateLimits::new(checkins_per_minute.max(1)),
        stop_rx.clone(),
    )?;
    if let Some(c) = &tls.certificate {
        // Plain HTTP redirects from the first request on.
        clinic.serve_https_at(
            public_url.clone(),
            web::https::HttpsStatus::of(c, &public_url),
        );
    }
    let (certificates, certificates_rx) = watch::channel(tls.certificate.clone());
    let https = https_listener.map(|listener| web::server::Https {
        listener,
        certificates: certificates_rx,
        public_url: if own { given_url } else { None },
        name_check: from_cloud.then(|| web::reachable::NameCheck::new(tls.dns_server)),
    });
    if from_cloud && let Some(cred) = credential {
        appliance::sync::certificate::spawn(
            Arc::clone(&clinic.core),
            cred,
            data_dir,
            certificates,
        )?;
    }
    let mut cast_config = appliance::cast::CastConfig::from_args(&cast, bound.port())?;
    // A TV cast to over HTTPS loads the page by the certificate's name.
    if own && cast_config.base_url.is_none() {
        cast_config.base_url = Some(public_url.clone());
    }
    let mdns = cast.mdns_enabled(mdns_default);
    appliance::cast::start(
        &clinic.core,
        &clinic.cast,
        cast_config,
        mdns.then_some(&cast.mdns_interface[..]),
    )
    .await?;
    // Lobby voice: off with one log line when models are absent.
    // Box <-> cloud sync: off until the box is enrolled.
    let _sync = appliance::sync::spawn(Arc::clone(&clinic), data_dir)?;
    let voice_config = voice.into_config(data_dir)?;
    let models_dir = voice_config.models_dir.clone();
    let voice = appliance::voice::spawn(Arc::clone(&clinic.core), voice_config);
    appliance::display::speaker::use_tvs_as_speaker(&clinic, &voice);
    let _ = clinic.voice.set(voice);
    // Voice in: off with one log line when the model is absent.
    let talk_button = listen_in.button();
    let listen_config = listen_in.into_config(&models_dir);
    let ears =
        tokio::task::spawn_blocking(move || appliance::listen::Listener::start(listen_config))
            .await
            .context("voice in did not start")?;
    let _ = clinic.listener.set(appliance::listen::VoiceIn::new(ears));
    if let Some(button) = talk_button {
        appliance::listen::button::spawn(Arc::clone(&clinic), button);
    }
    let practice = clinic.practice();
    let checkin_url = format!(
        "{public_url}{}",
        checkin::link::path(&clinic.key, practice.tenant_id())
    );
    // Handle SIGTERM from here on, before anyone is told we are up.
    let signals = Signals::install()?;
    // Machine-readable first line for scripts and tests.
    println!("listening on http://{bound}");
    if let Some(addr) = https_bound {
        println!("serving HTTPS on {addr}");
    }
    println!("  practice:     {}", practice.config.name);
    println!("  check-in:     {checkin_url}");
    println!("  lobby TV:     {public_url}/tv");
    println!("  front desk:   {public_url}/desk");
    if let Some(note) = note {
        println!("  {note}");
    }
    tracing::info!(%bound, "serving");
    appliance::service::ready(&format!("serving on {bound}"));
    appliance::service::spawn_watchdog(clinic.store.clone(), stop_rx);
    let stopping = Arc::clone(&clinic);
    let shutdown = async move {
        signals.wait().await;
        appliance::service::stopping();
        tracing::info!("shutting down: finishing requests, closing the database");
        let _ = stop_tx.send(true);
        // Whatever the voice and voice in are doing ends now, so that the
        // requests waiting on them (a kiosk listening) answer while the
        // web server drains.
        if let Some(voice) = stopping.voice.get() {
            voice.shutdown();
        }
        if let Some(voice_in) = stopping.listener.get() {
            voice_in.ears.begin_shutdown();
        }
    };
    web::server::serve(listener, Arc::clone(&clinic), https, shutdown).await?;
    // The voice thread may be in the middle of a sentence (ONNX Runtime),
    // whisper.cpp in the middle of a step: let both end and close before
    // the process exits and runs the libraries' global destructors under
    // them (a SIGSEGV on every stop). Side by side, so a stop stays well
    // inside the unit's TimeoutStopSec=15.
    let voice = clinic.voice.get().cloned();
    let ears = clinic.listener.get().map(|l| l.ears.clone());
    tokio::join!(
        join_native("the voice", move |t| voice
            .is_none_or(|v| v.shutdown_and_wait(t))),
        join_native("voice in", move |t| ears
            .is_none_or(|e| e.shutdown_and_wait(t))),
    );
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Runs a native library's stop-and-wait off the runtime, bounded at 8 s
/// (after at most web::server::DRAIN for open requests: 12 s in all).
async fn join_native(what: &str, stop: impl FnOnce(std::time::Duration) -> bool + Send + 'static) {
    let limit = std::time::Duration::from_secs(8);
    let stopped = tokio::task::spawn_blocking(move || stop(limit))
        .await
        .unwrap_or(false);
    if !stopped {
        tracing::warn!("{what} did not stop within {limit:?}");
    }
}

/// `--tls-cert`, `--tls-key`, `--https-listen` (flags or config file).
struct TlsArgs {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    listen: Option<String>,
    dns_server: Option<String>,
}

/// Where HTTPS is served, and the clinic's own certificate if one was given.
struct Tls {
    certificate: Option<web::https::Certificate>,
    listen: SocketAddr,
    dns_server: Option<SocketAddr>,
}

impl TlsArgs {
    /// The certificate checked, if one was given: before anything is
    /// written, a bad one stops the start with the flag it came from.
    fn load(self, public_url: Option<&str>) -> Result<Tls> {
        let certificate = web::https::load_given(self.cert.as_deref(), self.key.as_deref())?;
        if let Some(c) = &certificate
            && public_url.is_some()
        {
            // The name phones will be sent to must be the certificate's.
            web::https::public_url(c, public_url, 0)?;
        }
        let listen =
            config::parse_listen(self.listen.as_deref().unwrap_or(web::https::DEFAULT_LISTEN))
                .context("--https-listen")?;
        let dns_server = match self.dns_server.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse().map_err(|_| {
                anyhow::anyhow!("--dns-server must be an ip:port such as 192.168.1.1:53, not {s:?}")
            })?),
        };
        Ok(Tls {
            certificate,
            listen,
            dns_server,
        })
    }
}

/// SIGTERM (systemd stop) and SIGINT (Ctrl-C), installed up front.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

fn existing_practice(data_dir: &Path) -> Result<(Store, store::TenantConfig, BoxKey)> {
    if !appliance::core::replica_path(data_dir).exists() {
        bail!(
            "no box database in {} (run `sos-appliance demo` or `run` first, or pass --data-dir)",
            data_dir.display()
        );
    }
    let store = Store::open(&appliance::core::replica_path(data_dir))?;
    let tenant = store
        .read_blocking(store::load_tenant)?
        .context("this box has no practice configured yet")?;
    let key = BoxKey::load_or_create(&appliance::core::key_path(data_dir))?;
    Ok((store, tenant, key))
}

/// The box's own HTTPS address when it holds its certificate from the
/// cloud (a poster printed then carries the secure link).
fn default_qr_base(data_dir: &Path) -> String {
    appliance::sync::certificate::held(data_dir)
        .and_then(|c| web::https::public_url(&c, None, 8443).ok())
        .unwrap_or_else(|| "http://localhost:8080".into())
}

fn print_qr(data_dir: &Path, format: QrFormat, base_url: &str, out: Option<&Path>) -> Result<()> {
    let (store, tenant, key) = existing_practice(data_dir)?;
    store.close();
    let base = base_url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--base-url must start with http:// or https:// (got \"{base_url}\")");
    }
    let url = format!("{base}{}", checkin::link::path(&key, &tenant.tenant_id));
    let vertical = appliance::practice::Vertical::load(&tenant.vertical)?;
    let bytes: Vec<u8> = match format {
        QrFormat::Svg => qr::svg(&url)?.into_bytes(),
        QrFormat::Png => qr::png(&url, 8)?,
        QrFormat::Poster => qr::poster_html(&qr::Poster {
            practice_name: &tenant.name,
            url: &url,
            customer_word: &vertical.terms.customer,
            appointment_word: &vertical.terms.appointment,
            primary_color: &tenant.branding.primary_color,
        })?
        .into_bytes(),
    };
    match out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} ({url})", path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

async fn import_file(data_dir: &Path, file: &Path) -> Result<()> {
    let (store, tenant, key) = existing_practice(data_dir)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let report = import::parse_auto(name, &bytes)?;
    for e in &report.errors {
        eprintln!("{}", e);
    }
    let n = schedule::save(&store, &key, &tenant, report.rows, "cli:import").await?;
    store.close();
    println!(
        "imported {n} appointment(s); {} row(s) had errors and were skipped",
        report.errors.len()
    );
    if n == 0 && !report.errors.is_empty() {
        bail!("nothing was imported");
    }
    Ok(())
}

fn staff_pin(data_dir: &Path, staff_id: &str, name: &str) -> Result<()> {
    let (store, tenant, _) = existing_practice(data_dir)?;
    let mut pin = String::new();
    std::io::stdin()
        .read_to_string(&mut pin)
        .context("cannot read the PIN from standard input")?;
    let pin = pin.trim_end_matches(['\n', '\r']).to_string();
    let (t, id, n) = (
        tenant.tenant_id.clone(),
        staff_id.to_string(),
        name.to_string(),
    );
    let hash = desk::auth::hash_secret(&pin)?;
    futures_block(store.write(move |txn| desk::auth::save_staff_secret(txn, &t, &id, &n, hash)))?;
    store.close();
    println!("PIN set for {staff_id}");
    Ok(())
}
