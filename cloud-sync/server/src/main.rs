//! `sos-cloud`: serve the sync API, and the operator's command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use cloud_server::admin;
use cloud_server::tenants::{self, TenantFields};

#[derive(Parser)]
#[command(name = "sos-cloud", version, about = "SOS cloud control plane")]
struct Cli {
    /// PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/sos
    #[arg(
        long,
        env = "SOS_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/sos",
        global = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the sync API.
    Serve {
        #[arg(long, env = "SOS_CLOUD_LISTEN", default_value = "127.0.0.1:8443")]
        listen: String,
        /// Database connections per process.
        #[arg(long, env = "SOS_CLOUD_POOL", default_value_t = 16)]
        pool_size: usize,
        /// Serve HTTPS with this certificate chain (PEM). Without it the API
        /// is plain HTTP, for a TLS-terminating proxy in front.
        #[arg(long, env = "SOS_CLOUD_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, env = "SOS_CLOUD_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        stripe: StripeArgs,
        #[command(flatten)]
        email: EmailArgs,
        #[command(flatten)]
        certificates: CertificateArgs,
    },
    /// Apply migrations and exit.
    Migrate,
    /// Tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// One-time provisioning tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Platform operators (only ever added here, never from the web).
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Enrolled boxes.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Set a front-desk staff PIN or password (read from standard input),
    /// or remove a staff member with `--remove`.
    Staff {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "desk")]
        staff_id: String,
        #[arg(long, default_value = "Front desk")]
        name: String,
        /// Remove this staff member: the boxes drop them and sign them out.
        #[arg(long)]
        remove: bool,
    },
    /// A tenant's usage in a month (UTC) beside its plan's allowance, as JSON.
    Usage {
        #[arg(long)]
        tenant: String,
        /// YYYY-MM; default: this month.
        #[arg(long)]
        month: Option<String>,
    },
    /// The demo practice for the whole system on one machine
    /// (`scripts/demo.sh --with-cloud`): made or found again, with today's
    /// appointments; prints `tenant <id>` and `token <set-up token>`.
    Demo {
        #[arg(long, default_value = "owner@bright-smile.example")]
        owner_email: String,
        #[arg(
            long,
            env = "SOS_DEMO_OWNER_PASSWORD",
            default_value = "bright smile demo"
        )]
        owner_password: String,
        #[arg(long, default_value = "ops@sos-edge.example")]
        operator_email: String,
        #[arg(
            long,
            env = "SOS_DEMO_OPERATOR_PASSWORD",
            default_value = "sos edge operator"
        )]
        operator_password: String,
        /// The practice's time zone; default: this machine's.
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Appointments (JSON array of the wire `Appointment`).
    Appointments {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
}

/// Email: the welcome email and, later, resets and invitations.
#[derive(clap::Args)]
struct EmailArgs {
    /// SMTP server: smtp://host:port (plain, a relay on this host),
    /// smtp://user:pass@host:587?tls=required, or smtps://host:465.
    /// Without it emails wait in the outbox.
    #[arg(long, env = "SOS_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The sender of the cloud's emails.
    #[arg(
        long,
        env = "SOS_EMAIL_FROM",
        default_value = "SOS Edge <no-reply@localhost>"
    )]
    email_from: String,
    /// The dashboard's base URL as owners reach it, for links in emails;
    /// https://… also makes the dashboard's cookies Secure.
    #[arg(long, env = "SOS_PUBLIC_URL")]
    public_url: Option<String>,
}

impl EmailArgs {
    fn mailer(self) -> Result<Option<cloud_server::email::worker::Mailer>> {
        let Some(url) = self.smtp_url.filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let Some(public) = self
            .public_url
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        else {
            bail!(
                "--public-url (SOS_PUBLIC_URL, http(s)://…) is needed with --smtp-url: emails carry links to the dashboard"
            );
        };
        Ok(Some(cloud_server::email::worker::Mailer::new(
            url.trim(),
            &self.email_from,
            &public,
        )?))
    }
}

/// Boxes' own HTTPS certificates, ordered through ACME DNS-01
/// (docs/data.md, "What travels where").
#[derive(clap::Args)]
struct CertificateArgs {
    /// The ACME directory the certificates are ordered from (Let's
    /// Encrypt: https://acme-v02.api.letsencrypt.org/directory). Without
    /// it boxes are told this cloud issues no certificates.
    #[arg(long, env = "SOS_ACME_DIRECTORY")]
    acme_directory: Option<String>,
    /// A root certificate (PEM) to trust for the ACME directory's own
    /// HTTPS, for a private or test CA such as Pebble.
    #[arg(long, env = "SOS_ACME_ROOT")]
    acme_root: Option<PathBuf>,
    /// Contact address for the ACME account (an email address).
    #[arg(long, env = "SOS_ACME_CONTACT")]
    acme_contact: Option<String>,
    /// The domain boxes get their names under: `<box>.<tenant>.<edge domain>`.
    #[arg(long, env = "SOS_EDGE_DOMAIN")]
    edge_domain: Option<String>,
    /// The management API of the DNS serving the edge domain, where the
    /// boxes' addresses and the ACME challenges are published.
    #[arg(long, env = "SOS_DNS_API")]
    dns_api: Option<String>,
}

impl CertificateArgs {
    fn issuer(self) -> Result<Option<std::sync::Arc<cloud_server::certificates::Issuer>>> {
        use cloud_server::certificates::{Issuer, acme::Ca, dns::Dns};
        let Some(directory) = self.acme_directory.filter(|d| !d.trim().is_empty()) else {
            return Ok(None);
        };
        if !directory.starts_with("https://") {
            bail!("--acme-directory must be an https:// URL");
        }
        let Some(edge) = self.edge_domain else {
            bail!(
                "--edge-domain is needed with --acme-directory: it is where boxes get their names"
            );
        };
        let Some(api) = self.dns_api else {
            bail!(
                "--dns-api is needed with --acme-directory: the DNS-01 challenges are answered there"
            );
        };
        if let Some(root) = &self.acme_root
            && !root.is_file()
        {
            bail!("--acme-root: no file at {}", root.display());
        }
        let contact = self.acme_contact.map(|c| {
            if c.starts_with("mailto:") {
                c
            } else {
                format!("mailto:{c}")
            }
        });
        let ca = Ca {
            directory,
            root: self.acme_root,
            contact,
        };
        Ok(Some(std::sync::Arc::new(Issuer::new(
            ca,
            Dns::new(&api)?,
            &edge,
        )?)))
    }
}

/// Stripe: self-serve sign-up and billing (docs/onboarding.md).
#[derive(clap::Args)]
struct StripeArgs {
    /// Stripe's webhook signing secret for this endpoint (whsec_…);
    /// several, comma-separated, while one is rolled. Without it
    /// `POST /webhooks/stripe` answers 503.
    #[arg(long, env = "SOS_STRIPE_WEBHOOK_SECRETS", value_delimiter = ',')]
    stripe_webhook_secret: Vec<String>,
    /// Stripe secret API key (sk_…), to read subscriptions back.
    #[arg(long, env = "SOS_STRIPE_API_KEY", hide_env_values = true)]
    stripe_api_key: Option<String>,
    /// Stripe's API base URL (a test server such as localstripe).
    #[arg(long, env = "SOS_STRIPE_API_BASE", default_value = cloud_server::onboarding::stripe_api::STRIPE_API_BASE)]
    stripe_api_base: String,
    /// Which Stripe price is which plan: `price_…=starter,price_…=pro,…`.
    #[arg(long, env = "SOS_STRIPE_PRICES", value_delimiter = ',')]
    stripe_prices: Vec<String>,
    /// Days a past-due practice keeps its features before it is suspended.
    #[arg(long, env = "SOS_PAST_DUE_GRACE_DAYS", default_value_t = 7)]
    past_due_grace_days: u32,
}

impl StripeArgs {
    /// `None` when Stripe is off (no webhook secret).
    fn onboarding(self) -> Result<Option<cloud_server::onboarding::Onboarding>> {
        let secrets: Vec<String> = self
            .stripe_webhook_secret
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if secrets.is_empty() {
            return Ok(None);
        }
        let Some(key) = self.stripe_api_key.filter(|k| !k.trim().is_empty()) else {
            bail!(
                "--stripe-api-key (SOS_STRIPE_API_KEY) is needed with a webhook secret: the cloud reads subscriptions back from Stripe"
            );
        };
        let mut prices = std::collections::BTreeMap::new();
        for pair in self.stripe_prices.iter().filter(|p| !p.trim().is_empty()) {
            let Some((price, plan)) = pair.trim().split_once('=') else {
                bail!("--stripe-prices: \"{pair}\" is not price=plan");
            };
            if cloud_sync::plans::PlanTable::shipped().get(plan).is_none() {
                bail!(
                    "--stripe-prices: \"{plan}\" is not a plan (one of {})",
                    cloud_server::tenants::plan_ids()
                );
            }
            prices.insert(price.to_string(), plan.to_string());
        }
        if prices.is_empty() {
            bail!(
                "--stripe-prices (SOS_STRIPE_PRICES) is needed with a webhook secret: which price is which plan"
            );
        }
        let api =
            cloud_server::onboarding::stripe_api::StripeApi::new(&self.stripe_api_base, &key)?;
        Ok(Some(cloud_server::onboarding::Onboarding {
            webhook_secrets: secrets,
            api,
            prices,
            grace: Duration::from_secs(u64::from(self.past_due_grace_days) * 24 * 3600),
        }))
    }
}

#[derive(clap::Args)]
struct Fields {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    vertical: Option<String>,
    #[arg(long)]
    agent_name: Option<String>,
    #[arg(long)]
    agent_voice: Option<String>,
    #[arg(long)]
    plan: Option<String>,
    #[arg(long)]
    status: Option<String>,
    /// JSON object.
    #[arg(long)]
    branding: Option<String>,
    /// JSON object.
    #[arg(long)]
    settings: Option<String>,
}

impl Fields {
    fn into_fields(self) -> Result<TenantFields> {
        let json = |s: Option<String>, what: &str| -> Result<Option<serde_json::Value>> {
            s.map(|s| serde_json::from_str(&s).with_context(|| format!("--{what} is not JSON")))
                .transpose()
        };
        Ok(TenantFields {
            name: self.name,
            vertical: self.vertical,
            agent_name: self.agent_name,
            agent_voice: self.agent_voice,
            plan: self.plan,
            status: self.status,
            branding: json(self.branding, "branding")?,
            settings: json(self.settings, "settings")?,
        })
    }
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its id. With --owner-email, the whole
    /// clinic as a paid sign-up makes it (concierge set-up): the owner's
    /// account and the welcome email, in one transaction.
    Create {
        #[command(flatten)]
        fields: Fields,
        /// The owner's email: they get the welcome email (set your
        /// password, the box token, the set-up steps).
        #[arg(long)]
        owner_email: Option<String>,
    },
    /// Change a tenant's config (boxes pick it up within seconds).
    Set {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        fields: Fields,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Add an operator; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a one-time provisioning token; prints it.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 72)]
        ttl_hours: u64,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    List {
        #[arg(long)]
        tenant: String,
    },
    Revoke {
        #[arg(long)]
        device: String,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOS_LOG")
                .unwrap_or_else(|_| "info,tokio_postgres=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let url = cli.database_url;
    // Every command but `serve` is an operator's one-off on a migrated
    // database.
    let pool = || async {
        let pool = cloud_server::db::pool(&url, 2)?;
        cloud_server::db::migrate(&pool)
            .await
            .context("cannot prepare the database")?;
        anyhow::Ok(pool)
    };
    match cli.command {
        Command::Serve {
            listen,
            pool_size,
            tls_cert,
            tls_key,
            stripe,
            email,
            certificates,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(cloud_server::TlsFiles { cert, key }),
                _ => None,
            };
            // Owners reach the dashboard at the public URL: over HTTPS
            // there, its cookies are Secure even behind a proxy.
            let behind_https = email
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"));
            let options = cloud_server::ServeOptions {
                pool_size: pool_size.max(2),
                tls,
                onboarding: stripe.onboarding()?,
                public_url: email.public_url.clone(),
                mailer: email.mailer()?,
                behind_https,
                certificates: certificates.issuer()?,
            };
            serve(&url, &listen, options).await?;
        }
        Command::Migrate => {
            pool().await?;
            println!("database is at the current schema");
        }
        Command::Tenant { command } => match command {
            TenantCommand::Create {
                fields,
                owner_email,
            } => {
                let (pool, fields) = (pool().await?, fields.into_fields()?);
                let id = match owner_email {
                    Some(email) => tenants::create_clinic_by_hand(&pool, fields, &email).await?,
                    None => tenants::create_tenant(&pool, fields).await?,
                };
                println!("{id}");
            }
            TenantCommand::Set { tenant, fields } => {
                let v =
                    tenants::update_tenant(&pool().await?, &tenant, fields.into_fields()?).await?;
                println!("config version {v}");
            }
        },
        Command::Token { command } => match command {
            TokenCommand::Create { tenant, ttl_hours } => {
                if ttl_hours == 0 {
                    bail!("--ttl-hours must be at least 1");
                }
                let token = admin::create_token(
                    &pool().await?,
                    &tenant,
                    Duration::from_secs(ttl_hours * 3600),
                )
                .await?;
                println!("{token}");
            }
        },
        Command::Operator {
            command: OperatorCommand::Add { email },
        } => {
            let mut password = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let id = cloud_server::accounts::add_operator(&pool().await?, &email, password).await?;
            println!("operator {email} added ({id})");
        }
        Command::Device { command } => match command {
            DeviceCommand::List { tenant } => {
                for d in admin::list_devices(&pool().await?, &tenant).await? {
                    println!("{}", serde_json::to_string(&d)?);
                }
            }
            DeviceCommand::Revoke { device } => {
                if !admin::revoke_device(&pool().await?, &device).await? {
                    bail!("no active device {device}");
                }
                println!("revoked {device}");
            }
        },
        Command::Staff {
            tenant,
            staff_id,
            remove: true,
            ..
        } => {
            let v = admin::remove_staff(&pool().await?, &tenant, &staff_id).await?;
            println!("removed {staff_id}; config version {v}");
        }
        Command::Staff {
            tenant,
            staff_id,
            name,
            remove: false,
        } => {
            let mut secret = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut secret)
                .context("cannot read the PIN from standard input")?;
            let secret = secret.trim_end_matches(['\n', '\r']);
            let v = admin::set_staff(&pool().await?, &tenant, &staff_id, &name, secret).await?;
            println!("PIN set for {staff_id}; config version {v}");
        }
        Command::Usage { tenant, month } => {
            let u =
                cloud_server::usage::for_month(&pool().await?, &tenant, month.as_deref()).await?;
            println!("{}", serde_json::to_string(&u)?);
        }
        Command::Demo {
            owner_email,
            owner_password,
            operator_email,
            operator_password,
            timezone,
        } => {
            let zone = timezone.unwrap_or_else(|| {
                jiff::tz::TimeZone::system()
                    .iana_name()
                    .unwrap_or("UTC")
                    .to_string()
            });
            let logins = cloud_server::demo::Logins {
                owner_email: &owner_email,
                owner_password: &owner_password,
                operator_email: &operator_email,
                operator_password: &operator_password,
            };
            let p = cloud_server::demo::prepare(&pool().await?, &logins, &zone).await?;
            println!("tenant {}", p.tenant);
            println!("token {}", p.token);
            println!("appointments {}", p.appointments);
        }
        Command::Appointments { tenant, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let list: Vec<cloud_sync::wire::Appointment> = serde_json::from_str(&text)
                .context("the file is not a JSON array of appointments")?;
            let v = admin::put_appointments(&pool().await?, &tenant, &list).await?;
            println!("{} appointment(s); config version {v}", list.len());
        }
    }
    Ok(())
}

/// Serves the sync API until SIGTERM or SIGINT.
async fn serve(url: &str, listen: &str, options: cloud_server::ServeOptions) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if options.tls.is_none() {
        tracing::warn!(
            "serving plain HTTP: put a TLS-terminating proxy in front, or pass --tls-cert and --tls-key"
        );
    }
    // Machine-readable first line for scripts and tests.
    println!("listening on {scheme}://{bound}");
    tracing::info!(%bound, scheme, "serving");
    cloud_server::serve(url, listener, options, wait_for_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
