//! The practice's logo against a real `sos-cloud serve`, PostgreSQL and a
//! box in this process: an owner's PNG reaches the box's lobby TV frame
//! re-encoded, a refused file (SVG, not an image, too large) changes
//! nothing and says why, staff and a forged form are refused, and removing
//! the logo takes it off the TV.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::dashboard::*;
use common::in_process::*;
use common::*;
use reqwest::multipart::{Form, Part};

const PW: &str = "correct horse battery";

fn png(w: u32, h: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([200, (x % 255) as u8, 40]));
    let mut out = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn upload(csrf: &str, name: &str, bytes: Vec<u8>) -> Form {
    Form::new()
        .text("csrf", csrf.to_string())
        .part("logo", Part::bytes(bytes).file_name(name.to_string()))
}

async fn send(b: &reqwest::Client, url: &str, form: Form) -> (u16, String, String) {
    let r = b
        .post(format!("{url}/practice/logo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let to = location(&r);
    (status, to, r.text().await.unwrap())
}

#[tokio::test]
async fn an_owners_logo_reaches_the_lobby_tv_re_encoded() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(&pool, "Alpha Dental", "owner@alpha.example", PW).await;
    emails_already_sent(&pool).await;
    staff_with_password(&pool, &tenant, "a-staff", "staff@alpha.example", PW).await;
    let cloud = Cloud::start(&db);
    let url = &cloud.url;
    let (_dir, the_box) = enrolled_box(&pool, url, &tenant, "Alpha Dental").await;
    let core = std::sync::Arc::clone(&the_box.clinic.core);
    assert!(core.practice().config.branding.logo_svg.is_empty());

    let b = browser();
    sign_in(&b, url, "owner@alpha.example", PW).await;
    let (_, html) = get(&b, &format!("{url}/practice")).await;
    assert!(html.contains("No logo yet"), "{html}");
    let csrf = csrf_of(&html).unwrap();
    let before = config_version(&pool, &tenant).await;

    // Refused, with the reason, and nothing saved.
    let script = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>fetch('/x')</script></svg>"#;
    for (name, bytes, status, says) in [
        (
            "logo.svg",
            script.to_vec(),
            422,
            "SVG files are not accepted",
        ),
        (
            "logo.png",
            b"not a picture".to_vec(),
            422,
            "not a PNG or JPEG",
        ),
        ("logo.png", Vec::new(), 422, "Choose an image file first"),
        (
            "huge.png",
            vec![0x89; 1024 * 1024 + 1],
            413,
            "larger than 1 MB",
        ),
        ("strip.png", png(7000, 1), 422, "larger than 6000"),
    ] {
        let (got, _, html) = send(&b, url, upload(&csrf, name, bytes)).await;
        assert_eq!(got, status, "{name}: {html}");
        assert!(html.contains(says), "{name} should say {says}: {html}");
        assert!(html.contains("Nothing was saved."), "{html}");
    }
    // A forged form and staff: refused.
    let (status, _, _) = send(&b, url, upload("forged", "logo.png", png(10, 10))).await;
    assert_eq!(status, 403);
    let staff = browser();
    sign_in(&staff, url, "staff@alpha.example", PW).await;
    let (_, staff_page) = get(&staff, &format!("{url}/practice")).await;
    assert!(
        !staff_page.contains("Upload logo"),
        "staff get no upload form"
    );
    let staff_csrf = csrf_of(&staff_page).unwrap();
    let (status, _, _) = send(&staff, url, upload(&staff_csrf, "logo.png", png(10, 10))).await;
    assert_eq!(status, 403);
    assert_eq!(
        config_version(&pool, &tenant).await,
        before,
        "nothing was saved"
    );

    // A real upload: scaled, re-encoded, on the TV within seconds.
    let (status, to, _) = send(&b, url, upload(&csrf, "logo.png", png(800, 400))).await;
    assert_eq!((status, to.as_str()), (303, "/practice?saved=1"));
    assert!(config_version(&pool, &tenant).await > before);
    eventually(Duration::from_secs(20), "the TV frame has the logo", || {
        let core = std::sync::Arc::clone(&core);
        async move {
            core.hub
                .snapshot()
                .json
                .contains("viewBox=\\\"0 0 256 128\\\"")
        }
    })
    .await;
    let logo = core.practice().config.branding.logo_svg.clone();
    assert!(
        logo.contains("<image href=\"data:image/png;base64,"),
        "{logo}"
    );
    assert!(!logo.contains("script"));
    let (_, html) = get(&b, &format!("{url}/practice")).await;
    assert!(html.contains("id=\"logo-now\"") && html.contains("Remove logo"));
    let audited: String = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT actor FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.updated'
             ORDER BY id DESC LIMIT 1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, "owner@alpha.example");

    // Removed: off the TV.
    let (status, _, _) = send(
        &b,
        url,
        Form::new().text("csrf", csrf.clone()).text("remove", "yes"),
    )
    .await;
    assert_eq!(status, 303);
    eventually(Duration::from_secs(20), "the logo is off the TV", || {
        let core = std::sync::Arc::clone(&core);
        async move { core.practice().config.branding.logo_svg.is_empty() }
    })
    .await;
    the_box.stop().await;
}
