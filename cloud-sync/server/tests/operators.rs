//! The operator's command line: operators exist only by `sos-cloud
//! operator add` (password from standard input), and a concierge set-up
//! (`sos-cloud tenant create --owner-email`) makes the same clinic a paid
//! sign-up does, in one transaction, through the same function.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

fn cloud(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sos-cloud"))
        .args(args)
        .env("SOS_DATABASE_URL", &db.url)
        .env("SOS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sos-cloud");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn operators_are_added_from_the_command_line_only_with_a_real_password() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let add = |email: &'static str, pw: &'static str| {
        cloud(&db, &["operator", "add", "--email", email], pw)
    };
    let o = add("ops@sos.example", "short\n");
    assert!(!o.status.success());
    assert!(err(&o).contains("too short"), "{}", err(&o));
    let o = add("not-an-email", "a long enough password\n");
    assert!(!o.status.success());
    assert!(err(&o).contains("not an email address"), "{}", err(&o));
    let o = add("ops@sos.example", "a long enough password\n");
    assert!(o.status.success(), "{}", err(&o));
    let o = add("OPS@sos.example", "another long password\n");
    assert!(!o.status.success());
    assert!(err(&o).contains("already an operator"), "{}", err(&o));
    let c = pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT count(*), min(role), bool_and(tenant_id IS NULL), min(password_hash)
             FROM accounts",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, String>(1), "operator");
    assert!(row.get::<_, bool>(2));
    assert!(row.get::<_, String>(3).starts_with("$argon2id$"));
    // The web has no way to make one: there is no such route.
    let web = Cloud::start(&db);
    let r = reqwest::Client::new()
        .post(format!("{}/operators", web.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_concierge_set_up_makes_the_clinic_a_paid_sign_up_makes() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let o = cloud(
        &db,
        &[
            "tenant",
            "create",
            "--name",
            "Happy Paws Vet",
            "--vertical",
            "vet",
            "--plan",
            "elite",
            "--status",
            "active",
            "--owner-email",
            "owner@happy-paws.example",
        ],
        "",
    );
    assert!(o.status.success(), "{}", err(&o));
    let tenant = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let c = pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT t.agent_name, t.plan, a.email, a.role, a.password_hash IS NULL,
                    (SELECT count(*) FROM email_outbox e WHERE e.tenant_id = t.tenant_id AND e.kind = 'welcome')
             FROM tenants t JOIN accounts a USING (tenant_id) WHERE t.tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Biscuit");
    assert_eq!(row.get::<_, String>(1), "elite");
    assert_eq!(row.get::<_, String>(2), "owner@happy-paws.example");
    assert_eq!(row.get::<_, String>(3), "owner");
    assert!(row.get::<_, bool>(4));
    assert_eq!(row.get::<_, i64>(5), 1);
    // A bad owner email or plan is named, and nothing is created.
    for (email, plan, why) in [
        ("nobody", "pro", "not an email address"),
        ("o@x.example", "platinum", "plan must be one of"),
    ] {
        let o = cloud(
            &db,
            &[
                "tenant",
                "create",
                "--name",
                "Other",
                "--plan",
                plan,
                "--owner-email",
                email,
            ],
            "",
        );
        assert!(!o.status.success());
        assert!(err(&o).contains(why), "{why}: {}", err(&o));
    }
    let n: i64 = c
        .query_one("SELECT count(*) FROM tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
