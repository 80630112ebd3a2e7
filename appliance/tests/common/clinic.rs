//! An in-process clinic on a temporary replica: the demo practice with the
//! appointments a test gives, for tests that drive the library directly.

use std::sync::Arc;

use appliance::clinic::Clinic;
use appliance::import::ImportedAppointment;
use appliance::store::{self, Store};

pub struct InProcess {
    pub clinic: Arc<Clinic>,
    pub dir: tempfile::TempDir,
    /// Dropping it stops the clinic's tasks.
    pub stop: tokio::sync::watch::Sender<bool>,
}

/// The demo practice with `appointments(today)` on its schedule.
pub async fn demo_practice_with(
    appointments: impl FnOnce(jiff::civil::Date) -> Vec<ImportedAppointment>,
) -> InProcess {
    demo_practice_where(|_| {}, appointments).await
}

/// The same, with the practice's settings changed by `configure` first.
pub async fn demo_practice_where(
    configure: impl FnOnce(&mut store::TenantConfig),
    appointments: impl FnOnce(jiff::civil::Date) -> Vec<ImportedAppointment>,
) -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let st = Store::open(&dir.path().join("sos-edge.db")).unwrap();
    let mut tenant = appliance::demo::practice().into_tenant().unwrap();
    configure(&mut tenant);
    let t = tenant.clone();
    st.write(move |txn| store::upsert_tenant(txn, &t))
        .await
        .unwrap();
    let key = appliance::secrets::BoxKey::load_or_create(&dir.path().join("box.key")).unwrap();
    let practice = appliance::practice::Practice::new(tenant.clone()).unwrap();
    let today: jiff::civil::Date = practice.today().parse().unwrap();
    appliance::schedule::save(&st, &key, &tenant, appointments(today), "test")
        .await
        .unwrap();
    st.close();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let clinic = Clinic::open(
        dir.path(),
        "http://localhost:1".into(),
        appliance::web::limits::RateLimits::new(100),
        stop_rx,
    )
    .unwrap();
    InProcess { clinic, dir, stop }
}

/// Voice in with no model or microphone: the conversation from text.
pub fn text_only_ears() -> appliance::listen::VoiceIn {
    use appliance::listen::{ListenConfig, Listener, VadSettings, VoiceIn};
    VoiceIn::new(Listener::off(
        "text only",
        ListenConfig {
            enabled: false,
            model: std::path::PathBuf::from("unused"),
            microphone: None,
            threads: 1,
            vad: VadSettings::default(),
            debug_keep_audio: None,
        },
    ))
}
