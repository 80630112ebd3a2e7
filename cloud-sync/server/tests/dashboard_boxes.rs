//! The boxes page against a real `sos-cloud serve`, PostgreSQL and a box
//! (the appliance's clinic and sync, in this process): a set-up token from
//! the page enrolls the box, the box's own report (version, events waiting,
//! its TV, speaker, microphone) shows, a revocation needs its confirmation
//! and stops the box.

mod common;

use std::time::Duration;

use cloud_sync::wire::{BoxReport, PartReport};
use common::dashboard::*;
use common::in_process::*;
use common::*;

const PW: &str = "correct horse battery";

fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&quot;", "\"")
}

#[tokio::test]
async fn an_owner_sets_up_a_box_sees_how_it_is_and_revokes_it() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    emails_already_sent(&pool).await;
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let cloud = Cloud::start_with(
        &db,
        &format!("127.0.0.1:{port}"),
        &["--public-url", &public],
    );
    let url = &cloud.url;
    let b = browser();
    assert_eq!(
        sign_in(&b, url, "owner@alpha.example", PW).await.status(),
        303
    );
    let (status, html) = get(&b, &format!("{url}/boxes")).await;
    assert_eq!(status, 200);
    assert!(html.contains("No box is set up yet"), "{html}");
    let csrf = csrf_of(&html).unwrap();

    // A set-up token, shown once with its QR code, expiry and command.
    let (status, html) = post(&b, &format!("{url}/boxes/token"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 200, "{html}");
    let html = unescape(&html);
    let token = word_after(&html, "id=\"token\">").expect("the token on the page");
    assert!(token.starts_with("sos_prov_"), "{token}");
    assert!(html.contains("data:image/svg+xml;base64,"), "a QR code");
    assert!(
        html.contains(&format!(
            "sos-appliance enroll --cloud {public} --token {token}"
        )),
        "{html}"
    );
    assert!(html.contains("shown only once"));
    let (actor, ip): (String, Option<String>) = {
        let c = pool.get().await.unwrap();
        let r = c
            .query_one(
                "SELECT actor, ip FROM audit_log WHERE tenant_id = $1 AND action = 'token.created'",
                &[&tenant],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(actor, "owner@alpha.example");
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    // Not shown again.
    let (_, html) = get(&b, &format!("{url}/boxes")).await;
    assert!(!html.contains(&token));

    // The box enrolls with it, has a TV, and reports.
    let dir = tempfile::tempdir().unwrap();
    appliance::sync::enroll_box(dir.path(), url, &token, "Front desk box")
        .await
        .unwrap();
    let the_box = start_box(dir.path());
    appliance::display::create_display(&the_box.clinic.core, "Waiting room TV", "test".into())
        .await
        .unwrap();
    let version = env!("CARGO_PKG_VERSION");
    eventually(
        Duration::from_secs(20),
        "the box's report on the page",
        || {
            let b = b.clone();
            let url = url.clone();
            async move {
                let (_, html) = get(&b, &format!("{url}/boxes")).await;
                html.contains("Waiting room TV")
            }
        },
    )
    .await;
    let (_, html) = get(&b, &format!("{url}/boxes")).await;
    for says in [
        "Front desk box",
        "<span class=\"badge\">online</span>",
        &format!("<dd class=\"box-version\">{version}</dd>"),
        "<dd class=\"box-waiting\">0</dd>",
        "Waiting room TV</span><span><span class=\"badge warn\">off",
        // No voice is started in this box: said so, not hidden.
        "voice out is not started",
    ] {
        assert!(html.contains(says), "the page should say {says}: {html}");
    }
    in_chromium(
        "cloud-pages.mjs",
        &[url, "owner@alpha.example", PW, "boxes=/boxes"],
    )
    .await;
    let device: String = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT device_id FROM devices WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);

    // Revoking needs the box ticked; then the box is refused and gone.
    let (status, html) = post(
        &b,
        &format!("{url}/boxes/{device}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("was not revoked"));
    let r = b
        .post(format!("{url}/boxes/{device}/revoke"))
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let clinic = std::sync::Arc::clone(&the_box.clinic);
    eventually(
        Duration::from_secs(20),
        "the box sees it is revoked",
        || {
            let clinic = std::sync::Arc::clone(&clinic);
            async move { appliance::sync::status(&clinic).await.revoked }
        },
    )
    .await;
    let (_, html) = get(&b, &format!("{url}/boxes")).await;
    assert!(!html.contains("Front desk box"), "{html}");
    let (status, _) = post(
        &b,
        &format!("{url}/boxes/{device}/revoke"),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 404, "revoked already");
    the_box.stop().await;
}

#[tokio::test]
async fn a_report_out_of_shape_is_refused_and_the_fleet_shows_the_good_one() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let t = tenant(&pool, "Alpha Dental").await;
    let cloud = Cloud::start(&db);
    let client = cloud.client();
    let dev = device(&pool, &client, &t).await;
    let good = BoxReport {
        software_version: "1.2.3".into(),
        events_waiting: 4,
        tvs: Vec::new(),
        speaker: PartReport {
            state: "ready".into(),
            detail: None,
        },
        microphone: PartReport {
            state: "off".into(),
            detail: None,
        },
    };
    client.report(&dev, &good).await.expect("a good report");
    for (bad, field) in [
        (
            BoxReport {
                software_version: String::new(),
                ..good.clone()
            },
            "software_version",
        ),
        (
            BoxReport {
                events_waiting: -1,
                ..good.clone()
            },
            "events_waiting",
        ),
        (
            BoxReport {
                speaker: PartReport {
                    state: String::new(),
                    detail: None,
                },
                ..good.clone()
            },
            "speaker.state",
        ),
    ] {
        let e = client.report(&dev, &bad).await.unwrap_err();
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let stored: String = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT report->>'software_version' FROM devices WHERE device_id = $1",
            &[&dev.device_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, "1.2.3", "a refused report changes nothing");

    // Operators see the fleet's versions and the events waiting.
    cloud_server::accounts::add_operator(&pool, "ops@sos.example", PW)
        .await
        .unwrap();
    let ops = browser();
    sign_in(&ops, &cloud.url, "ops@sos.example", PW).await;
    let (status, html) = get(&ops, &format!("{}/fleet", cloud.url)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<span class=\"who\">1.2.3</span><span>1 box</span>"),
        "{html}"
    );
    assert!(
        html.contains("<td><strong>4</strong></td>"),
        "4 events waiting: {html}"
    );
}

/// The text after `marker` up to the next `<`.
fn word_after(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)? + marker.len();
    Some(html[at..].split('<').next()?.trim().to_string())
}
