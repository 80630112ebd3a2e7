//! The practice page against a real `sos-cloud serve`, PostgreSQL and a
//! box (the appliance's own clinic and sync, in this process): preview
//! changes nothing, bad settings are refused with the field named, a save
//! reaches the box's TV and its spoken greeting within seconds, and the
//! page then says the box has it.

mod common;

use std::time::Duration;

use appliance::display::hub::LobbyEvent;
use common::dashboard::*;
use common::in_process::*;
use common::*;

const PW: &str = "correct horse battery";

/// The form as the page shows it, with `changes` applied.
fn form_of<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("name", "Alpha Dental"),
        ("address", "1 High Street"),
        ("timezone", "UTC"),
        ("agent_name", "Dandan"),
        ("agent_voice", "en_US-joe-medium"),
        ("name_display", "first_last_initial"),
        ("allow_walk_ins", "yes"),
        ("rooms", "Room 1\nRoom 2"),
        ("quiet_from", ""),
        ("quiet_to", ""),
        ("voice_volume", ""),
        ("welcome", ""),
        ("welcome_walk_in", ""),
        ("call", ""),
        ("primary_color", "#0b6e99"),
        ("accent_color", "#f2a541"),
        ("background_color", "#0f2233"),
        ("text_color", "#ffffff"),
        ("messages", ""),
        ("action", "save"),
    ];
    for (k, v) in changes {
        match f.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v,
            None => f.push((k, v)),
        }
    }
    f
}

fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn an_owner_changes_the_practice_and_the_box_greets_with_it() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    emails_already_sent(&pool).await;
    let cloud = Cloud::start(&db);
    let url = &cloud.url;

    // A box of the practice, enrolled and syncing.
    let (_dir, the_box) = enrolled_box(&pool, url, &tenant, "Alpha Dental").await;
    let core = std::sync::Arc::clone(&the_box.clinic.core);

    let b = browser();
    assert_eq!(
        sign_in(&b, url, "owner@alpha.example", PW).await.status(),
        303
    );
    let (status, html) = get(&b, &format!("{url}/practice")).await;
    assert_eq!(status, 200, "{html}");
    let html = unescape(&html);
    // The vertical's words until the owner writes their own.
    assert!(
        html.contains("Welcome, {first_name}! {provider} will be with you shortly."),
        "{html}"
    );
    assert!(html.contains("front desk"), "the box is listed: {html}");
    let csrf = csrf_of(&html).unwrap();
    let before = config_version(&pool, &tenant).await;

    // Preview: the sentences as the box would say them; nothing saved.
    let greeting = "Hello {first_name}, welcome to {practice}! {provider} is almost ready.";
    let walk_in_words = "Hi {first_name}, welcome to {practice}. Take a seat, please.";
    let (status, html) = post(
        &b,
        &format!("{url}/practice"),
        &form_of(
            &csrf,
            &[
                ("action", "preview"),
                ("name", "Alpha Smiles"),
                ("welcome", greeting),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let html = unescape(&html);
    assert!(
        html.contains("Hello Sarah, welcome to Alpha Smiles! Doctor Lee is almost ready."),
        "{html}"
    );
    // With initials, the preview greets as the box will: by initials.
    let (status, initials) = post(
        &b,
        &format!("{url}/practice"),
        &form_of(
            &csrf,
            &[
                ("action", "preview"),
                ("name", "Alpha Smiles"),
                ("welcome", greeting),
                ("name_display", "initials"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{initials}");
    let initials = unescape(&initials);
    assert!(
        initials.contains("Hello S. J., welcome to Alpha Smiles! Doctor Lee is almost ready."),
        "{initials}"
    );
    assert!(
        html.contains("data:image/svg+xml;base64,"),
        "a TV miniature"
    );
    assert_eq!(
        config_version(&pool, &tenant).await,
        before,
        "a preview saves nothing"
    );

    // Refused with the field named, and nothing saved.
    for (change, says) in [
        (("timezone", "Mars/Base"), "Time zone"),
        (
            ("welcome", "Hi {firstname}!"),
            "{firstname} is not filled in here",
        ),
        (("rooms", " \n "), "Rooms: name at least one room"),
        (("quiet_from", "22:00"), "Quiet hours"),
        (("primary_color", "blue"), "Main colour"),
        (("voice_volume", "300"), "Speaker volume"),
    ] {
        let (status, html) = post(&b, &format!("{url}/practice"), &form_of(&csrf, &[change])).await;
        assert_eq!(status, 422, "{change:?}: {html}");
        let html = unescape(&html);
        assert!(html.contains(says), "{change:?} should say {says}: {html}");
        assert!(html.contains("Nothing was saved."), "{html}");
        // What the owner typed is still in the form.
        assert!(html.contains(change.1.trim()), "{change:?} kept: {html}");
    }
    assert_eq!(config_version(&pool, &tenant).await, before);

    // Save.
    let r = b
        .post(format!("{url}/practice"))
        .form(&form_of(
            &csrf,
            &[
                ("name", "Alpha Smiles"),
                ("welcome", greeting),
                ("welcome_walk_in", walk_in_words),
                ("primary_color", "#7A1F5C"),
                ("name_display", "initials"),
                ("rooms", "Surgery A\nSurgery B"),
                ("quiet_from", "21:30"),
                ("quiet_to", "07:00"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/practice?saved=1");
    assert!(config_version(&pool, &tenant).await > before);
    let c = pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT actor, ip FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.updated'
             ORDER BY id DESC LIMIT 1",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "owner@alpha.example");
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("127.0.0.1")
    );
    drop(c);

    // The box takes it: the TV's frame and the spoken greeting.
    eventually(
        Duration::from_secs(20),
        "the box has the new settings",
        || {
            let core = std::sync::Arc::clone(&core);
            async move {
                let frame = core.hub.snapshot();
                frame.json.contains("Alpha Smiles") && frame.json.contains("#7a1f5c")
            }
        },
    )
    .await;
    let practice = core.practice();
    assert_eq!(practice.config.settings.rooms, ["Surgery A", "Surgery B"]);
    assert_eq!(
        practice.config.settings.quiet_hours.as_deref(),
        Some("21:30-07:00")
    );
    assert_eq!(practice.lobby_name("Walter", "Walker", 1), "W. W.");
    let mut events = core.hub.events();
    walk_in(&the_box.clinic, "Walter").await;
    let spoken = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(LobbyEvent::Arrived { greeting, .. }) = events.recv().await {
                return greeting;
            }
        }
    })
    .await
    .expect("a greeting");
    // The owner chose initials: the lobby hears no more than the TV shows.
    assert_eq!(
        spoken,
        "Hi W. W., welcome to Alpha Smiles. Take a seat, please."
    );

    // The page says the box holds the change.
    eventually(
        Duration::from_secs(20),
        "the page says the box has it",
        || {
            let b = b.clone();
            let url = url.clone();
            async move {
                let (_, html) = get(&b, &format!("{url}/practice?saved=1")).await;
                html.contains("has the latest settings") && html.contains("Saved.")
            }
        },
    )
    .await;

    // Staff see the page but cannot change it.
    staff_with_password(&pool, &tenant, "a-staff", "staff@alpha.example", PW).await;
    let staff = browser();
    sign_in(&staff, url, "staff@alpha.example", PW).await;
    let (status, html) = get(&staff, &format!("{url}/practice")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<fieldset disabled>") && !html.contains("value=\"save\""));
    let staff_csrf = csrf_of(&html).unwrap();
    let saved = config_version(&pool, &tenant).await;
    let (status, _) = post(
        &staff,
        &format!("{url}/practice"),
        &form_of(&staff_csrf, &[("name", "Staff Was Here")]),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(config_version(&pool, &tenant).await, saved);
    the_box.stop().await;
}

#[tokio::test]
async fn the_practice_form_works_by_keyboard_on_a_phone_in_chromium() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    owner_with_password(
        &pool,
        "Beta Veterinary Hospital of the Valley",
        "owner@beta.example",
        PW,
    )
    .await;
    cloud_server::accounts::add_operator(&pool, "ops@sos.example", PW)
        .await
        .unwrap();
    emails_already_sent(&pool).await;
    let cloud = Cloud::start(&db);
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.png");
    image::RgbImage::from_fn(300, 150, |x, y| {
        image::Rgb([(x % 255) as u8, 110, (y % 255) as u8])
    })
    .save(&logo)
    .unwrap();
    in_chromium(
        "cloud-practice.mjs",
        &[
            &cloud.url,
            "owner@alpha.example",
            PW,
            "ops@sos.example",
            logo.to_str().unwrap(),
        ],
    )
    .await;
    let welcome: Option<String> = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT settings #>> '{templates,welcome}' FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        welcome.as_deref(),
        Some("Good day {first_name}, {provider} will see you soon.")
    );
    let logo: String = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT branding->>'logo_svg' FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert!(logo.contains("viewBox=\"0 0 256 128\""), "{logo}");
}
