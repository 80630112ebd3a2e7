//! Talking to the dashboard as a browser does (reqwest with cookies, see
//! [`super::browser`]).

use deadpool_postgres::Pool;

pub async fn sign_in(c: &reqwest::Client, url: &str, email: &str, pw: &str) -> reqwest::Response {
    c.post(format!("{url}/login"))
        .form(&[("email", email), ("password", pw)])
        .send()
        .await
        .unwrap()
}

pub async fn get(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = c.post(url).form(form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Where a redirect goes.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A staff member of `tenant` who has set their password (as an
/// invitation's link would).
pub async fn staff_with_password(pool: &Pool, tenant: &str, account: &str, email: &str, pw: &str) {
    let hash = cloud_server::accounts::hash_password(pw).unwrap();
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO accounts (account_id, tenant_id, email, role, password_hash)
             VALUES ($1, $2, $3, 'staff', $4)",
            &[&account, &tenant, &email, &hash],
        )
        .await
        .unwrap();
}

/// Marks every queued email as sent: the set-up's welcome email is not
/// the subject of the tests that call this.
pub async fn emails_already_sent(pool: &Pool) {
    pool.get()
        .await
        .unwrap()
        .execute("UPDATE email_outbox SET sent_at = now()", &[])
        .await
        .unwrap();
}

/// Runs `tests/<script>` in Node (headless Chromium through playwright-core,
/// `scripts/setup-browser.sh`) with `args`, at most 90 s; fails the test
/// with what the script printed unless it succeeded.
pub async fn in_chromium(script: &str, args: &[&str]) {
    let tests = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests");
    let mut cmd = std::process::Command::new("timeout");
    cmd.current_dir(&tests)
        .args(["90", "node", script])
        .args(args);
    let run =
        tokio::task::spawn_blocking(move || cmd.output().expect("node (scripts/setup-browser.sh)"))
            .await
            .unwrap();
    assert!(
        run.status.success(),
        "{script} in Chromium: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The practice's config version (a save makes a new one).
pub async fn config_version(pool: &Pool, tenant: &str) -> i64 {
    pool.get()
        .await
        .unwrap()
        .query_one(
            "SELECT config_version FROM tenants WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0)
}
