//! TVs without a keyboard: the box finds Chromecasts / Google TVs on the
//! clinic network (mDNS, [`discovery`]), puts the lobby display on the ones
//! staff choose ([`session`], CASTV2), keeps it there all day (re-casting
//! with backoff), and remembers the choice across restarts.
//!
//! The receiver app loads `<box>/tv?grant=<one-time grant>`; the TV page
//! sends the grant in its hello and is paired on the spot (see
//! [`redeem_grant`]). A grant works once, for a few minutes, and only
//! for the TV it was issued for; the TV then holds its own revocable token
//! like any TV paired by hand.

pub mod http;
// The Cast library (crate sos-cast), under the names the box uses.
pub use sos_cast::{discovery, session};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};
use serde::Serialize;
use serde_json::json;

use crate::core::Core;
use crate::display::hub::LobbyEvent;
use crate::secrets::{random_token, token_hash};
use crate::store::{self, DisplayRow, StoreError, now_ms};
use discovery::{Change, Devices};
use session::{Ctrl, Ended, Progress, SessionError, Timing};

/// How long a pairing grant sent to a TV stays usable.
pub const GRANT_TTL: Duration = Duration::from_secs(5 * 60);
/// How often the box's own mDNS announcement is checked for changes.
const ADVERT_REFRESH: Duration = Duration::from_secs(30);
/// A session that showed for this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CastError {
    #[error(transparent)]
    Mdns(#[from] sos_cast::MdnsError),
    #[error("That TV is not on the network right now. Check that it is switched on.")]
    UnknownDevice,
    #[error("Casting is not running on this box.")]
    Off,
    #[error(
        "Casting to TVs is not part of this practice's plan now. A TV can still open the lobby page in its browser."
    )]
    NotInPlan,
    #[error("the cast app id \"{0}\" is not valid (expected 8 hex digits, e.g. 84912283)")]
    BadAppId(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Command-line / environment settings (flattened into `serve`'s flags).
#[derive(clap::Args, Debug, Clone)]
pub struct CastArgs {
    /// Advertise the box and look for Cast TVs with mDNS (on by default for `run`, off for `demo`).
    #[arg(long, env = "SOS_MDNS")]
    pub mdns: bool,
    /// Do not use mDNS even where it is on by default.
    #[arg(long, conflicts_with = "mdns")]
    pub no_mdns: bool,
    /// Interface(s) for mDNS, e.g. `eth0` (repeat or comma-separate). Default: all but loopback and docker-like ones.
    #[arg(
        long = "mdns-interface",
        env = "SOS_MDNS_INTERFACE",
        value_delimiter = ','
    )]
    pub mdns_interface: Vec<String>,
    /// Cast receiver app that loads the lobby page (DashCast by default; see docs/cast.md).
    #[arg(long, env = "SOS_CAST_APP_ID", default_value = session::DASHCAST_APP_ID)]
    pub cast_app_id: String,
    /// Base URL the TV loads the lobby page from (default: the box's address as seen from the TV).
    #[arg(long, env = "SOS_CAST_BASE_URL")]
    pub cast_base_url: Option<String>,
    /// Seconds another app may keep the TV before the lobby display comes back.
    #[arg(long, env = "SOS_CAST_TAKEOVER_DELAY", default_value_t = 30)]
    pub cast_takeover_delay: u64,
}

impl CastArgs {
    pub fn mdns_enabled(&self, default_on: bool) -> bool {
        !self.no_mdns && (self.mdns || default_on)
    }
}

#[derive(Debug, Clone)]
pub struct CastConfig {
    pub app_id: String,
    pub base_url: Option<String>,
    pub http_port: u16,
    pub takeover_delay: Duration,
    pub backoff_max: Duration,
    pub timing: Timing,
}

impl CastConfig {
    pub fn from_args(args: &CastArgs, http_port: u16) -> Result<CastConfig, CastError> {
        let app_id = args.cast_app_id.trim().to_ascii_uppercase();
        if !session::valid_app_id(&app_id) {
            return Err(CastError::BadAppId(args.cast_app_id.clone()));
        }
        Ok(CastConfig {
            app_id,
            base_url: args
                .cast_base_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            http_port,
            takeover_delay: Duration::from_secs(args.cast_takeover_delay),
            backoff_max: Duration::from_secs(60),
            timing: Timing::default(),
        })
    }
}

/// The cast state a [`Clinic`] carries: pending grants, and the running
/// service once `serve` started it.
#[derive(Default)]
pub struct CastSlot {
    pub grants: Arc<Grants>,
    service: OnceLock<Arc<CastService>>,
}

impl CastSlot {
    pub fn service(&self) -> Option<Arc<CastService>> {
        self.service.get().cloned()
    }
}

#[derive(Debug, Clone)]
pub struct PendingGrant {
    pub device_id: String,
    pub tv_name: String,
    /// The display this TV was paired as before (replaced on redemption).
    pub replaces: Option<String>,
    created: Instant,
}

/// One-time pairing grants, in memory only, stored hashed.
#[derive(Default)]
pub struct Grants {
    map: Mutex<HashMap<String, PendingGrant>>,
}

impl Grants {
    /// A fresh grant for `device_id`; earlier ones for it stop working.
    pub fn issue(&self, device_id: &str, tv_name: &str, replaces: Option<String>) -> String {
        let token = random_token();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, g| g.device_id != device_id && g.created.elapsed() < GRANT_TTL);
        map.insert(
            token_hash(&token),
            PendingGrant {
                device_id: device_id.to_string(),
                tv_name: tv_name.to_string(),
                replaces,
                created: Instant::now(),
            },
        );
        token
    }

    /// Takes the grant (once); `None` if unknown, used or expired.
    pub fn redeem(&self, token: &str) -> Option<PendingGrant> {
        if token.is_empty() || token.len() > 200 {
            return None;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&token_hash(token))
            .filter(|g| g.created.elapsed() < GRANT_TTL)
    }

    pub fn revoke_for(&self, device_id: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, g| g.device_id != device_id);
    }
}

/// Pairs the TV page that presented `grant`: the same path as staff
/// approving a code. Returns the new display and its token.
pub async fn redeem_grant(
    core: &Core,
    slot: &CastSlot,
    grant: &str,
) -> Option<(DisplayRow, String)> {
    let g = slot.grants.redeem(grant)?;
    if let Some(old) = &g.replaces {
        // The TV lost its token (reboot, cleared storage): its old pairing
        // is useless now, and must not count against the plan.
        let _ = crate::display::revoke(core, old, "cast".into()).await;
    }
    let actor = format!("cast:{}", g.device_id);
    match crate::display::create_display(core, &g.tv_name, actor).await {
        Ok((row, token)) => {
            if let Some(svc) = slot.service() {
                svc.paired(&g.device_id, &row.display_id).await;
                svc.refresh_advert().await;
            }
            tracing::info!(display = %row.display_id, "TV paired itself through a cast grant");
            Some((row, token))
        }
        Err(e) => {
            tracing::warn!(error = %e, "cast grant could not pair the TV");
            None
        }
    }
}

/// A TV staff chose, as remembered in `cast_targets`.
pub use crate::store::CastTarget as Target;

/// What the front desk sees for a chosen TV.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TargetStatus {
    /// connecting | launching | showing | retrying | other_app | failed | searching | stopped
    pub state: &'static str,
    /// Plain-language line for staff.
    pub message: String,
    pub since_ms: i64,
    pub launches: u32,
    pub failures: u32,
    /// "Show lobby display here" (or the last recovery) → app running, ms.
    pub last_launch_ms: Option<u64>,
    /// Session lost → showing again, ms (includes the backoff).
    pub last_recovery_ms: Option<u64>,
    pub retry_at_ms: Option<i64>,
}

struct Handle {
    target: Arc<Mutex<Target>>,
    status: Arc<Mutex<TargetStatus>>,
    ctrl: mpsc::Sender<Ctrl>,
}

pub struct CastService {
    core: Weak<Core>,
    /// The slot's grants (one set per box, shared with the TV page).
    grants: Arc<Grants>,
    config: CastConfig,
    pub devices: Devices,
    targets: Mutex<HashMap<String, Handle>>,
    daemon: Mutex<Option<ServiceDaemon>>,
    advert: Mutex<Option<discovery::Advert>>,
    rt: tokio::runtime::Handle,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts casting for the box: re-casts to remembered TVs and, when mDNS
/// is on, advertises the box and watches for Cast devices.
pub async fn start(
    core: &Arc<Core>,
    slot: &CastSlot,
    config: CastConfig,
    mdns_interfaces: Option<&[String]>,
) -> Result<Arc<CastService>, CastError> {
    let svc = Arc::new(CastService {
        core: Arc::downgrade(core),
        grants: Arc::clone(&slot.grants),
        config,
        devices: Devices::default(),
        targets: Mutex::new(HashMap::new()),
        daemon: Mutex::new(None),
        advert: Mutex::new(None),
        rt: tokio::runtime::Handle::current(),
    });
    if slot.service.set(svc.clone()).is_err() {
        return Err(CastError::Off);
    }
    if let Some(ifs) = mdns_interfaces
        && let Err(e) = svc.start_mdns(core, ifs).await
    {
        // Remembered TVs still get the display; only discovery is missing.
        tracing::warn!(error = %e, "mDNS is off: TVs will not be discovered");
    }
    svc.follow_plan(core).await?;
    // The plan can change at any time (payment, upgrade): casting pauses
    // and resumes with it. Remembered TVs stay remembered either way.
    let (weak, mut events, s1) = (Arc::downgrade(core), core.hub.events(), svc.clone());
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(LobbyEvent::PracticeChanged) => {
                    let Some(core) = weak.upgrade() else { return };
                    if let Err(e) = s1.follow_plan(&core).await {
                        tracing::warn!(error = %e, "cannot apply the plan to casting");
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let mut stop = core.shutdown.clone();
    let s2 = svc.clone();
    tokio::spawn(async move {
        let _ = stop.changed().await;
        let _ = tokio::task::spawn_blocking(move || s2.shutdown()).await;
    });
    Ok(svc)
}

impl CastService {
    /// Casts to every remembered TV when the plan includes Cast; stops
    /// (without forgetting them) when it does not.
    async fn follow_plan(self: &Arc<Self>, core: &Core) -> Result<(), CastError> {
        if !core.practice().feature("cast") {
            let paused: Vec<Handle> = lock(&self.targets).drain().map(|(_, h)| h).collect();
            for h in &paused {
                let _ = h.ctrl.send(Ctrl::Stop);
            }
            if !paused.is_empty() {
                tracing::info!(
                    tvs = paused.len(),
                    "casting paused: not part of the plan now"
                );
            }
            return Ok(());
        }
        let tenant = core.tenant_id();
        let remembered = core
            .store
            .read(move |c| store::cast_targets(c, &tenant))
            .await?;
        for t in remembered {
            if !lock(&self.targets).contains_key(&t.device_id) {
                tracing::info!(tv = %t.name, "casting to a remembered TV");
                self.spawn(t);
            }
        }
        Ok(())
    }

    async fn start_mdns(
        self: &Arc<Self>,
        core: &Arc<Core>,
        ifs: &[String],
    ) -> Result<(), CastError> {
        let daemon = discovery::daemon(ifs)?;
        let advert = self.advert(core).await?;
        for info in advert.services()? {
            daemon
                .register(info)
                .map_err(|e| CastError::Mdns(sos_cast::MdnsError(e.to_string())))?;
        }
        *lock(&self.advert) = Some(advert.clone());
        let events = daemon
            .browse(discovery::GOOGLECAST)
            .map_err(|e| CastError::Mdns(sos_cast::MdnsError(e.to_string())))?;
        tracing::info!(host = %advert.host(), "mDNS: advertising the box, looking for Cast TVs");
        *lock(&self.daemon) = Some(daemon);
        // Paired-TV count and practice name change at run time.
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ADVERT_REFRESH).await;
                let Some(svc) = weak.upgrade() else { break };
                svc.refresh_advert().await;
            }
        });
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("cast-discovery".into())
            .spawn(move || {
                while let Ok(ev) = events.recv() {
                    let Some(svc) = weak.upgrade() else { break };
                    svc.discovered(ev);
                }
            })
            .map_err(|e| CastError::Mdns(sos_cast::MdnsError(e.to_string())))?;
        Ok(())
    }

    async fn advert(&self, core: &Core) -> Result<discovery::Advert, CastError> {
        let tenant = core.tenant_id();
        let tvs = core
            .store
            .read(move |c| crate::store::list_displays(c, &tenant))
            .await?
            .iter()
            .filter(|d| d.revoked_at.is_none())
            .count();
        Ok(discovery::Advert {
            practice_name: core.practice().config.name.clone(),
            box_id: box_id(core),
            version: env!("CARGO_PKG_VERSION").into(),
            pairing: if tvs == 0 { "open" } else { "paired" }.into(),
            tvs,
            port: self.config.http_port,
        })
    }

    /// Re-announces the box when what it says about itself changed.
    pub async fn refresh_advert(&self) {
        let Some(core) = self.core.upgrade() else {
            return;
        };
        let Ok(new) = self.advert(&core).await else {
            return;
        };
        if lock(&self.advert).as_ref() == Some(&new) {
            return;
        }
        let Ok(services) = new.services() else { return };
        if let Some(d) = lock(&self.daemon).as_ref() {
            for info in services {
                if let Err(e) = d.register(info) {
                    tracing::warn!(error = %e, "cannot update the mDNS announcement");
                }
            }
        }
        *lock(&self.advert) = Some(new);
    }

    fn discovered(&self, ev: ServiceEvent) {
        if !discovery::is_cast_event(&ev) {
            return;
        }
        match ev {
            ServiceEvent::ServiceResolved(r) => match self.devices.resolved(&r, now_ms()) {
                Change::Appeared(d) => {
                    tracing::info!(tv = %d.name, addr = %d.address, "Cast device appeared");
                    self.nudge(&d.id);
                }
                Change::Moved(d) => {
                    tracing::info!(tv = %d.name, addr = %d.address, "Cast device moved");
                    self.remember_address(&d);
                    self.nudge(&d.id);
                }
                Change::Same => {}
                Change::Ignored(why) => {
                    tracing::warn!(%why, "ignoring a malformed Cast announcement")
                }
            },
            ServiceEvent::ServiceRemoved(_, fullname) => {
                if let Some(d) = self.devices.removed(&fullname) {
                    tracing::info!(tv = %d.name, "Cast device left the network");
                }
            }
            _ => {}
        }
    }

    /// A chosen TV got a new address: use it after a restart too.
    fn remember_address(&self, d: &discovery::Device) {
        let Some(target) = lock(&self.targets).get(&d.id).map(|h| h.target.clone()) else {
            return;
        };
        {
            let mut t = lock(&target);
            t.host = d.address.to_string();
            t.port = d.port;
        }
        let Some(core) = self.core.upgrade() else {
            return;
        };
        let (tenant, id, host, port) = (
            core.tenant_id(),
            d.id.clone(),
            d.address.to_string(),
            d.port,
        );
        self.rt.spawn(async move {
            let r = core
                .store
                .write(move |txn| store::move_cast_target(txn, &tenant, &id, &host, port))
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot remember a TV's new address");
            }
        });
    }

    fn nudge(&self, device_id: &str) {
        if let Some(h) = lock(&self.targets).get(device_id) {
            let _ = h.ctrl.send(Ctrl::Nudge);
        }
    }

    pub fn config(&self) -> &CastConfig {
        &self.config
    }

    pub fn mdns_running(&self) -> bool {
        lock(&self.daemon).is_some()
    }

    /// Chosen TVs and how they are doing.
    pub fn targets(&self) -> Vec<(Target, TargetStatus)> {
        let targets = lock(&self.targets);
        let mut out: Vec<_> = targets
            .values()
            .map(|h| (lock(&h.target).clone(), lock(&h.status).clone()))
            .collect();
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }

    pub fn status_of(&self, device_id: &str) -> Option<TargetStatus> {
        lock(&self.targets)
            .get(device_id)
            .map(|h| lock(&h.status).clone())
    }

    /// "Show lobby display here".
    pub async fn show(self: &Arc<Self>, device_id: &str, actor: &str) -> Result<Target, CastError> {
        if let Some(h) = lock(&self.targets).get(device_id) {
            let _ = h.ctrl.send(Ctrl::Nudge);
            return Ok(lock(&h.target).clone());
        }
        let d = self
            .devices
            .get(device_id)
            .ok_or(CastError::UnknownDevice)?;
        let core = self.core.upgrade().ok_or(CastError::Off)?;
        if !core.practice().feature("cast") {
            return Err(CastError::NotInPlan);
        }
        let target = Target {
            device_id: d.id.clone(),
            name: d.name.clone(),
            model: d.model.clone(),
            host: d.address.to_string(),
            port: d.port,
            app_id: self.config.app_id.clone(),
            display_id: None,
            chosen_by: actor.to_string(),
            chosen_at: now_ms(),
        };
        let (t, tenant) = (target.clone(), core.tenant_id());
        core.store
            .write(move |txn| {
                store::save_cast_target(txn, &tenant, &t)?;
                crate::store::append_audit(
                    txn,
                    &tenant,
                    &t.chosen_by,
                    "cast.started",
                    &t.device_id,
                    &json!({"tv": t.name, "app_id": t.app_id}),
                )
            })
            .await?;
        self.spawn(target.clone());
        Ok(target)
    }

    /// Staff stop casting to a TV; it is forgotten.
    pub async fn stop(&self, device_id: &str, actor: &str) -> Result<(), CastError> {
        let handle = lock(&self.targets).remove(device_id);
        let Some(h) = handle else {
            return Err(CastError::UnknownDevice);
        };
        let _ = h.ctrl.send(Ctrl::Stop);
        self.revoke_grants(device_id);
        let core = self.core.upgrade().ok_or(CastError::Off)?;
        let (id, tenant, actor) = (device_id.to_string(), core.tenant_id(), actor.to_string());
        let name = lock(&h.target).name.clone();
        core.store
            .write(move |txn| {
                txn.execute(
                    "DELETE FROM cast_targets WHERE tenant_id = ?1 AND device_id = ?2",
                    (&tenant, &id),
                )?;
                crate::store::append_audit(
                    txn,
                    &tenant,
                    &actor,
                    "cast.stopped",
                    &id,
                    &json!({"tv": name}),
                )
            })
            .await?;
        Ok(())
    }

    fn revoke_grants(&self, device_id: &str) {
        self.grants.revoke_for(device_id);
    }

    async fn paired(&self, device_id: &str, display_id: &str) {
        let Some(h) = lock(&self.targets).get(device_id).map(|h| h.target.clone()) else {
            return;
        };
        lock(&h).display_id = Some(display_id.to_string());
        let Some(core) = self.core.upgrade() else {
            return;
        };
        let (tenant, dev, disp) = (
            core.tenant_id(),
            device_id.to_string(),
            display_id.to_string(),
        );
        let r = core
            .store
            .write(move |txn| {
                txn.execute(
                    "UPDATE cast_targets SET display_id = ?3 WHERE tenant_id = ?1 AND device_id = ?2",
                    (&tenant, &dev, &disp),
                )?;
                Ok(())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot remember which display a cast TV became");
        }
    }

    fn shutdown(&self) {
        for (_, h) in lock(&self.targets).drain() {
            let _ = h.ctrl.send(Ctrl::Shutdown);
        }
        if let Some(d) = lock(&self.daemon).take() {
            // Say goodbye so phones drop the box's name at once.
            let services = lock(&self.advert).as_ref().and_then(|a| a.services().ok());
            for info in services.unwrap_or_default() {
                if let Ok(done) = d.unregister(info.get_fullname()) {
                    let _ = done.recv_timeout(Duration::from_millis(500));
                }
            }
            let _ = d.shutdown();
        }
    }

    fn spawn(self: &Arc<Self>, target: Target) {
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(TargetStatus {
            state: "connecting",
            message: "Connecting to the TV…".into(),
            since_ms: now_ms(),
            ..Default::default()
        }));
        let shared = Arc::new(Mutex::new(target.clone()));
        {
            let mut targets = lock(&self.targets);
            if targets.contains_key(&target.device_id) {
                return; // two clicks at once: one supervisor is enough
            }
            targets.insert(
                target.device_id.clone(),
                Handle {
                    target: shared.clone(),
                    status: status.clone(),
                    ctrl: tx,
                },
            );
        }
        let svc = self.clone();
        let spawned = std::thread::Builder::new()
            .name("cast-session".into())
            .spawn(move || svc.supervise(&shared, &status, &rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a cast thread");
        }
    }

    /// Keeps one TV showing the lobby display until stopped.
    fn supervise(
        &self,
        target: &Mutex<Target>,
        status: &Mutex<TargetStatus>,
        ctrl: &mpsc::Receiver<Ctrl>,
    ) {
        let set = |state: &'static str, message: String, retry: Option<Duration>| {
            let mut s = lock(status);
            s.state = state;
            s.message = message;
            s.since_ms = now_ms();
            s.retry_at_ms = retry.map(|d| now_ms() + d.as_millis() as i64);
        };
        let mut attempt: u32 = 0;
        let mut requested = Instant::now();
        let mut lost_at: Option<Instant> = None;
        loop {
            let t = lock(target).clone();
            let addr = self.address_of(&t);
            let delay = match addr {
                None => {
                    attempt += 1;
                    let d = self.backoff(attempt);
                    set(
                        "searching",
                        "TV not found on the network yet; still looking".into(),
                        Some(d),
                    );
                    d
                }
                Some(addr) => {
                    set("connecting", "Connecting to the TV…".into(), None);
                    let url = self.tv_url(&t, addr);
                    let req = session::Request {
                        addr,
                        app_id: &t.app_id,
                        url: &url,
                        timing: &self.config.timing,
                    };
                    let mut showing_since = None;
                    let ended = session::run(&req, ctrl, &mut |p| match p {
                        Progress::Launching => {
                            set("launching", "Starting the display on the TV…".into(), None)
                        }
                        Progress::Showing { app_name, .. } => {
                            set(
                                "showing",
                                format!("Showing the lobby display ({app_name})"),
                                None,
                            );
                            let mut s = lock(status);
                            s.launches += 1;
                            s.last_launch_ms = Some(requested.elapsed().as_millis() as u64);
                            if let Some(at) = lost_at.take() {
                                s.last_recovery_ms = Some(at.elapsed().as_millis() as u64);
                            }
                            showing_since = Some(Instant::now());
                            tracing::info!(tv = %t.name, "lobby display is on the TV");
                        }
                    });
                    self.revoke_grants(&t.device_id);
                    let e = match ended {
                        Ended::Stopped => {
                            set("stopped", "Stopped".into(), None);
                            return;
                        }
                        Ended::Shutdown => return,
                        Ended::Lost(e) => e,
                    };
                    if showing_since.is_some_and(|s| s.elapsed() >= STABLE_AFTER) {
                        attempt = 0;
                    }
                    attempt += 1;
                    lost_at.get_or_insert_with(Instant::now);
                    lock(status).failures += 1;
                    tracing::warn!(tv = %t.name, reason = %e, "cast session ended");
                    let (state, delay) = match &e {
                        SessionError::TakenOver(_) => ("other_app", self.config.takeover_delay),
                        SessionError::LaunchFailed { .. } | SessionError::BadAppId(_) => {
                            ("failed", self.backoff(attempt + 4))
                        }
                        SessionError::NotCast(_) => ("failed", self.backoff(attempt + 2)),
                        _ => ("retrying", self.backoff(attempt)),
                    };
                    let msg = plain(&e, delay);
                    set(state, msg, Some(delay));
                    delay
                }
            };
            match ctrl.recv_timeout(delay) {
                Ok(Ctrl::Stop) => {
                    set("stopped", "Stopped".into(), None);
                    return;
                }
                Ok(Ctrl::Shutdown) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Ok(Ctrl::Nudge) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            requested = Instant::now();
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let secs = 1u64 << attempt.saturating_sub(1).min(10);
        Duration::from_secs(secs).min(self.config.backoff_max)
    }

    /// The device's current address: live from mDNS, else as remembered.
    fn address_of(&self, t: &Target) -> Option<SocketAddr> {
        if let Some(d) = self.devices.get(&t.device_id) {
            return Some(SocketAddr::new(d.address, d.port));
        }
        t.host
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, t.port))
    }

    /// The URL the TV loads: the box as the TV reaches it, plus a fresh
    /// one-time grant.
    fn tv_url(&self, t: &Target, tv: SocketAddr) -> String {
        let base = self.config.base_url.clone().unwrap_or_else(|| {
            let ip = local_ip_towards(tv).unwrap_or(IpAddr::from([127, 0, 0, 1]));
            match ip {
                IpAddr::V6(v6) => format!("http://[{v6}]:{}", self.config.http_port),
                IpAddr::V4(v4) => format!("http://{v4}:{}", self.config.http_port),
            }
        });
        let name: String = t
            .name
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect();
        let grant = self.grants.issue(&t.device_id, &name, t.display_id.clone());
        format!("{base}/tv?grant={grant}")
    }
}

impl Drop for CastService {
    fn drop(&mut self) {
        if let Some(d) = lock(&self.daemon).take() {
            let _ = d.shutdown();
        }
    }
}

/// Plain-language status for staff.
pub fn plain(e: &SessionError, retry: Duration) -> String {
    let when = format!("trying again in {} s", retry.as_secs().max(1));
    match e {
        SessionError::Unreachable(_) => format!("TV is off or unreachable; {when}"),
        SessionError::TakenOver(app) => {
            format!(
                "Another app is showing ({app}); the lobby display comes back in {} s",
                retry.as_secs()
            )
        }
        SessionError::AppClosed => format!("The lobby display was closed on the TV; {when}"),
        SessionError::Dropped(_) => format!("The TV stopped answering; {when}"),
        SessionError::NotCast(why) => {
            format!("This device did not answer like a Chromecast ({why}); {when}")
        }
        SessionError::LaunchFailed { app_id, .. } => format!(
            "The TV could not start the display app (app id {app_id}); check the cast app id; {when}"
        ),
        SessionError::BadAppId(id) => format!("The cast app id \"{id}\" is not valid"),
    }
}

/// The box's own address on the route to `peer` (a UDP "connect" sends
/// nothing).
fn local_ip_towards(peer: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if peer.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(peer).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// A stable, non-secret id for the box in mDNS records.
fn box_id(core: &Core) -> String {
    use base64::Engine;
    let mac = core.key.mac(
        crate::secrets::Purpose::FormToken,
        b"sos-edge/mdns-box-id/v1",
    );
    token_hash(&crate::secrets::b64().encode(mac))[..12].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_work_once_and_only_the_latest() {
        let g = Grants::default();
        let a = g.issue("tv1", "Lobby", None);
        let b = g.issue("tv1", "Lobby", None);
        assert!(g.redeem(&a).is_none(), "an older grant is void");
        assert_eq!(g.redeem(&b).map(|p| p.device_id), Some("tv1".into()));
        assert!(g.redeem(&b).is_none(), "a grant works once");
        assert!(g.redeem("").is_none());
        let c = g.issue("tv2", "Other", None);
        g.revoke_for("tv2");
        assert!(g.redeem(&c).is_none());
    }

    #[test]
    fn slugs_and_virtual_interfaces() {
        assert_eq!(
            discovery::slug("Bright Smile Dental"),
            "bright-smile-dental"
        );
        assert_eq!(discovery::slug("Núñez & Co."), "nunez-co");
        assert_eq!(discovery::slug("!!!"), "clinic");
        assert!(discovery::is_virtual("docker0"));
        assert!(discovery::is_virtual("lo"));
        assert!(!discovery::is_virtual("eth0"));
    }

    #[test]
    fn app_ids_are_checked() {
        assert!(session::valid_app_id("84912283"));
        assert!(session::valid_app_id("CC1AD845"));
        assert!(!session::valid_app_id("8491228"));
        assert!(!session::valid_app_id("../../x1"));
    }
}
