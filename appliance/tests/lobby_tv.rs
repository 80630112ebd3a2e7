//! Lobby TVs: pairing, revocation, reconnect-resync, and slow TVs.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;

#[tokio::test]
async fn an_unpaired_tv_shows_a_code_and_nothing_about_patients() {
    let d = Daemon::demo();
    check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    let mut tv = ws(&d.ws_url("/tv/ws")).await;
    hello(&mut tv, None).await;
    let pairing = next_json(&mut tv, 3).await;
    assert_eq!(pairing["type"], "pairing");
    let code = pairing["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(pairing["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        pairing["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/desk/pair?code={code}"))
    );
    // Nothing else arrives while unpaired, even as people check in.
    check_in(&d, "José", "Núñez", "1979-11-02", false).await;
    let quiet = tokio::time::timeout(Duration::from_millis(500), tv.next()).await;
    assert!(quiet.is_err(), "unpaired TV received {quiet:?}");

    // A made-up token is refused and the TV is offered pairing instead.
    let mut fake = ws(&d.ws_url("/tv/ws")).await;
    hello(&mut fake, Some("not-a-real-token")).await;
    assert_eq!(next_json(&mut fake, 3).await["type"], "revoked");
    assert_eq!(next_json(&mut fake, 3).await["type"], "pairing");
}

#[tokio::test]
async fn pairing_with_a_wrong_code_is_refused_plainly() {
    let d = Daemon::demo();
    let staff = sign_in(&d).await;
    let (st, body) = staff
        .post(
            &d,
            "/desk/api/displays/pair",
            serde_json::json!({"code": "ZZZZZZ"}),
        )
        .await;
    assert_eq!(st, 404);
    assert!(body["error"].as_str().unwrap().contains("No TV is showing"));
    let today = staff.today(&d).await;
    assert_eq!(today["displays"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_tv_that_reconnects_gets_a_snapshot_and_continues_in_sequence() {
    let d = Daemon::demo();
    let staff = sign_in(&d).await;
    let (tv, token, snap) = paired_tv(&d, &staff).await;
    assert_eq!(snap["queue"].as_array().unwrap().len(), 0);
    drop(tv);

    // Something happens while it is away.
    check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    let mut tv = ws(&d.ws_url("/tv/ws")).await;
    hello(&mut tv, Some(&token)).await;
    assert_eq!(next_json(&mut tv, 3).await["type"], "welcome");
    let snap = next_json(&mut tv, 3).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["queue"][0]["name"], "Sarah J.");
    let seq = snap["seq"].as_u64().unwrap();

    check_in(&d, "José", "Núñez", "1979-11-02", false).await;
    let next = next_of(&mut tv, "arrived", 3).await;
    assert_eq!(
        next["seq"].as_u64().unwrap(),
        seq + 1,
        "no gap after the snapshot"
    );
    assert_eq!(next["entry"]["name"], "José N.");

    // The desk sees the TV online with a last-seen time.
    let today = staff.today(&d).await;
    let online: Vec<_> = today["displays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["online"] == true)
        .collect();
    assert_eq!(online.len(), 1);
    assert!(online[0]["last_seen_ms"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn a_revoked_tv_is_cut_off_at_once_and_its_token_is_dead() {
    let d = Daemon::demo();
    let staff = sign_in(&d).await;
    let (mut tv, token, _) = paired_tv(&d, &staff).await;
    let id = staff.today(&d).await["displays"][0]["display_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = staff
        .post(
            &d,
            &format!("/desk/api/displays/{id}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(next_json(&mut tv, 3).await["type"], "revoked");
    // Back to a pairing code on the same socket; patients stay private.
    assert_eq!(next_json(&mut tv, 3).await["type"], "pairing");
    check_in(&d, "Sarah", "Jones", "1985-04-23", false).await;
    let quiet = tokio::time::timeout(Duration::from_millis(400), tv.next()).await;
    assert!(quiet.is_err(), "revoked TV received {quiet:?}");

    let mut again = ws(&d.ws_url("/tv/ws")).await;
    hello(&mut again, Some(&token)).await;
    assert_eq!(next_json(&mut again, 3).await["type"], "revoked");

    // Revoking twice is a clear 404, not a silent success.
    let (st, _) = staff
        .post(
            &d,
            &format!("/desk/api/displays/{id}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn a_stuck_tv_never_slows_the_others() {
    let d = Daemon::demo_with(&["--checkin-rate-per-minute", "100000"]);
    let staff = sign_in(&d).await;
    // This TV pairs, then never reads another byte.
    let (_stuck, _, _) = paired_tv(&d, &staff).await;
    let (mut healthy, _, _) = paired_tv(&d, &staff).await;

    let n = 150;
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut got = 0;
        let mut last_seq = 0;
        while got < n {
            let f = next_of(&mut healthy, "arrived", 20).await;
            let seq = f["seq"].as_u64().unwrap();
            assert!(seq > last_seq);
            last_seq = seq;
            got += 1;
        }
        got
    });
    for i in 0..n {
        let r = check_in(&d, &format!("Walker{i}"), "Stuck", "1990-01-01", true).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let got = reader.await.unwrap();
    assert_eq!(got, n);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "healthy TV fell behind"
    );
}
