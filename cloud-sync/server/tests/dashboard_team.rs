//! People who sign in, against a real `sos-cloud serve`, PostgreSQL and an
//! SMTP sink: a forgotten password reset by email, an owner inviting staff
//! (who read but do not change), the plan's seats, and a removal that
//! signs the person out at once.

mod common;

use std::time::Duration;

use common::dashboard::*;
use common::smtp::{SmtpSink, word_starting};
use common::*;

fn start(db: &TestDb, sink: &SmtpSink) -> Cloud {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    Cloud::start_with(
        db,
        &format!("127.0.0.1:{port}"),
        &["--smtp-url", &sink.url(), "--public-url", &public],
    )
}

/// The mails to `to`, once `n` have arrived.
async fn mails_to(sink: &SmtpSink, to: &str, n: usize) -> Vec<smtp::Mail> {
    eventually(Duration::from_secs(20), "the email in the sink", || async {
        sink.messages().iter().filter(|m| m.to == to).count() >= n
    })
    .await;
    sink.messages().into_iter().filter(|m| m.to == to).collect()
}

async fn set_password(c: &reqwest::Client, link: &str, pw: &str) -> (u16, String) {
    let (base, token) = link.split_once("/password?token=").unwrap();
    post(
        c,
        &format!("{base}/password"),
        &[("token", token), ("password", pw), ("confirm", pw)],
    )
    .await
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_an_emailed_link_that_works_once() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    emails_already_sent(&pool).await;
    let sink = SmtpSink::start();
    let cloud = start(&db, &sink);
    let b = browser();

    // Asked twice (a double click) and for an unknown address: the same
    // answer each time, and one email, to the account that exists.
    for email in [
        "Owner@Bright.example",
        "owner@bright.example",
        "nobody@bright.example",
    ] {
        let (status, html) = post(
            &b,
            &format!("{}/password/forgot", cloud.url),
            &[("email", email)],
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Check your email"), "{html}");
    }
    let mails = mails_to(&sink, "owner@bright.example", 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 1, "one email in all");
    assert_eq!(mails[0].subject, "Set a new SOS Edge password");
    assert!(
        mails[0].message_id.starts_with("reset."),
        "{}",
        mails[0].message_id
    );
    let link =
        word_starting(&mails[0].text, &format!("{}/password?token=", cloud.url)).expect("a link");

    // The old password still works until the link is used; the link's page
    // says whose it is.
    let laptop = browser();
    assert_eq!(
        sign_in(
            &laptop,
            &cloud.url,
            "owner@bright.example",
            "correct horse battery"
        )
        .await
        .status(),
        303
    );
    let (status, html) = get(&b, &link).await;
    assert_eq!(status, 200);
    assert!(html.contains("owner of Bright Smile"), "{html}");
    let (status, _) = set_password(&b, &link, "a new long passphrase").await;
    assert_eq!(status, 200);
    // Once only; the laptop is signed out; the new password signs in.
    let (status, _) = set_password(&b, &link, "yet another passphrase").await;
    assert_eq!(status, 410);
    assert_eq!(get(&laptop, &format!("{}/", cloud.url)).await.0, 303);
    assert_eq!(
        sign_in(
            &b,
            &cloud.url,
            "owner@bright.example",
            "correct horse battery"
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        sign_in(
            &b,
            &cloud.url,
            "owner@bright.example",
            "a new long passphrase"
        )
        .await
        .status(),
        303
    );
    // The practice's audit log has the request, with the address it came
    // from.
    let asked: i64 = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1
               AND action = 'account.reset_requested' AND ip = '127.0.0.1'",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(asked, 1);
    // A malformed address is refused in words, and nothing is queued.
    let (status, html) = post(
        &b,
        &format!("{}/password/forgot", cloud.url),
        &[("email", "owner")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Type the email address"), "{html}");
}

#[tokio::test]
async fn an_owner_invites_staff_who_read_but_do_not_change_and_removes_them() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (tenant, _) = owner_with_password(
        &pool,
        "Bright Smile",
        "owner@bright.example",
        "correct horse battery",
    )
    .await;
    emails_already_sent(&pool).await;
    let sink = SmtpSink::start();
    let cloud = start(&db, &sink);
    let owner = browser();
    assert_eq!(
        sign_in(
            &owner,
            &cloud.url,
            "owner@bright.example",
            "correct horse battery"
        )
        .await
        .status(),
        303
    );
    let (_, html) = get(&owner, &format!("{}/team", cloud.url)).await;
    assert!(html.contains("0 of 3 staff seats used"), "{html}");
    let csrf = csrf_of(&html).unwrap();
    let invite = |email: &'static str| {
        let (owner, url, csrf) = (owner.clone(), cloud.url.clone(), csrf.clone());
        async move {
            post(
                &owner,
                &format!("{url}/team/invite"),
                &[("csrf", &csrf), ("email", email)],
            )
            .await
        }
    };

    // Without the page's token, nothing happens.
    let (status, _) = post(
        &owner,
        &format!("{}/team/invite", cloud.url),
        &[("email", "sam@bright.example")],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(invite("not an address").await.0, 422);
    // Invited (twice by a double click: one account, one email).
    assert_eq!(invite("sam@bright.example").await.0, 303);
    assert_eq!(invite("sam@bright.example").await.0, 303);
    let mails = mails_to(&sink, "sam@bright.example", 1).await;
    assert!(
        mails[0].subject.contains("invited to Bright Smile"),
        "{}",
        mails[0].subject
    );
    let link = word_starting(&mails[0].text, &format!("{}/password?token=", cloud.url)).unwrap();
    let (_, html) = get(&owner, &format!("{}/team", cloud.url)).await;
    assert!(
        html.contains("1 of 3 staff seats used") && html.contains("invited"),
        "{html}"
    );
    assert_eq!(invite("owner@bright.example").await.0, 422);

    // Sam sets a password and reads the practice's pages ...
    let sam = browser();
    let (status, html) = get(&sam, &link).await;
    assert_eq!(status, 200);
    assert!(html.contains("staff at Bright Smile"), "{html}");
    assert_eq!(
        set_password(&sam, &link, "sam's own passphrase").await.0,
        200
    );
    assert_eq!(
        sign_in(
            &sam,
            &cloud.url,
            "sam@bright.example",
            "sam's own passphrase"
        )
        .await
        .status(),
        303
    );
    let (status, html) = get(&sam, &format!("{}/", cloud.url)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Bright Smile") && html.contains("(staff)"),
        "{html}"
    );
    let (_, team) = get(&sam, &format!("{}/team", cloud.url)).await;
    assert!(
        !team.contains("Send invitation") && !team.contains("Remove "),
        "{team}"
    );
    // ... but cannot change them: 403, and nobody is added.
    let sam_csrf = csrf_of(&team).unwrap();
    let (status, html) = post(
        &sam,
        &format!("{}/team/invite", cloud.url),
        &[("csrf", &sam_csrf), ("email", "pat@bright.example")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(html.contains("Only the owner"), "{html}");

    // The plan's seats (Starter: 3) are a limit.
    assert_eq!(invite("kim@bright.example").await.0, 303);
    assert_eq!(invite("lee@bright.example").await.0, 303);
    let (status, html) = invite("max@bright.example").await;
    assert_eq!(status, 422);
    assert!(html.contains("3 staff seats"), "{html}");
    let c = pool.get().await.unwrap();
    let staff: i64 = c
        .query_one("SELECT count(*) FROM accounts WHERE role = 'staff'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(staff, 3);

    // Removing needs the tick; then Sam is signed out at once.
    let sam_id: String = c
        .query_one(
            "SELECT account_id FROM accounts WHERE email = 'sam@bright.example'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let remove = format!("{}/team/{sam_id}/remove", cloud.url);
    assert_eq!(post(&owner, &remove, &[("csrf", &csrf)]).await.0, 422);
    assert_eq!(get(&sam, &format!("{}/", cloud.url)).await.0, 200);
    assert_eq!(
        post(&sam, &remove, &[("csrf", &sam_csrf), ("confirm", "yes")])
            .await
            .0,
        403
    );
    assert_eq!(
        post(&owner, &remove, &[("csrf", &csrf), ("confirm", "yes")])
            .await
            .0,
        303
    );
    assert_eq!(get(&sam, &format!("{}/", cloud.url)).await.0, 303);
    assert_eq!(
        sign_in(
            &sam,
            &cloud.url,
            "sam@bright.example",
            "sam's own passphrase"
        )
        .await
        .status(),
        401
    );
    // Again: nobody to remove.
    assert_eq!(
        post(&owner, &remove, &[("csrf", &csrf), ("confirm", "yes")])
            .await
            .0,
        404
    );
    // The seat is free again.
    assert_eq!(invite("max@bright.example").await.0, 303);

    // Another practice's owner cannot see or remove this one's people.
    owner_with_password(
        &pool,
        "Other Clinic",
        "other@clinic.example",
        "another good password",
    )
    .await;
    let other = browser();
    assert_eq!(
        sign_in(
            &other,
            &cloud.url,
            "other@clinic.example",
            "another good password"
        )
        .await
        .status(),
        303
    );
    let (_, html) = get(&other, &format!("{}/team", cloud.url)).await;
    assert!(!html.contains("bright.example"), "{html}");
    let kim_id: String = c
        .query_one(
            "SELECT account_id FROM accounts WHERE email = 'kim@bright.example'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let other_csrf = csrf_of(&html).unwrap();
    let (status, _) = post(
        &other,
        &format!("{}/team/{kim_id}/remove", cloud.url),
        &[("csrf", &other_csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 404);
    let kim_removed: bool = c
        .query_one(
            "SELECT removed_at IS NOT NULL FROM accounts WHERE account_id = $1",
            &[&kim_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!kim_removed);

    // Every change is in the practice's log under the owner's name.
    let log: Vec<(String, String, String)> = c
        .query(
            "SELECT actor, action, subject FROM audit_log
             WHERE tenant_id = $1 AND action LIKE 'staff.%' ORDER BY id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        log.iter()
            .all(|(actor, _, _)| actor == "owner@bright.example"),
        "{log:?}"
    );
    assert!(log.contains(&(
        "owner@bright.example".into(),
        "staff.removed".into(),
        "sam@bright.example".into()
    )));
}
