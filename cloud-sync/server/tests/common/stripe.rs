//! Stripe's side in tests: `localstripe` (PyPI, in `.venv/`, from
//! `scripts/setup-cloud-peers.sh`) as the API the cloud reads back from and
//! as a source of real signed webhooks, and Stripe's own npm library
//! (`tests/`, from `scripts/setup-browser.sh`) to sign the events
//! localstripe cannot send (Checkout Sessions).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const SECRET: &str = "whsec_sos_test_3f9a1c";
pub const API_KEY: &str = "sk_test_sos_localstripe";
/// The price → plan table every Stripe test cloud runs with.
pub const PRICES: &str = "price_sos_starter=starter,price_sos_pro=pro,price_sos_elite=elite";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn now() -> i64 {
    cloud_sync::auth::now_ms() / 1000
}

/// The `Stripe-Signature` header Stripe's library makes for `payload`.
pub fn stripe_header(payload: &str, secret: &str, timestamp: i64) -> String {
    let out = Command::new("node")
        .current_dir(root().join("tests"))
        .args([
            "-e",
            "const Stripe = require('stripe'); \
             const [payload, secret, timestamp] = process.argv.slice(1); \
             process.stdout.write(new Stripe('sk_test_unused').webhooks.generateTestHeaderString( \
               { payload, secret, timestamp: Number(timestamp) }));",
            payload,
            secret,
            &timestamp.to_string(),
        ])
        .output()
        .expect("run node (scripts/setup-browser.sh installs it and npm stripe)");
    assert!(
        out.status.success(),
        "npm stripe is needed in tests/ (scripts/setup-browser.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("header")
}

/// Headers for many payloads with one run of node (signing 600 events one
/// by one would start node 600 times).
pub fn stripe_headers(payloads: &[String], secret: &str, timestamp: i64) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new("node")
        .current_dir(root().join("tests"))
        .args([
            "-e",
            "const Stripe = require('stripe'); const s = new Stripe('sk_test_unused'); \
             const [secret, timestamp] = process.argv.slice(1); let input = ''; \
             process.stdin.on('data', d => input += d).on('end', () => \
               process.stdout.write(JSON.stringify(JSON.parse(input).map(payload => \
                 s.webhooks.generateTestHeaderString({ payload, secret, timestamp: Number(timestamp) })))));",
            secret,
            &timestamp.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node");
    let input = serde_json::to_vec(payloads).expect("json");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write payloads");
    let out = child.wait_with_output().expect("node");
    assert!(out.status.success(), "npm stripe signing failed");
    serde_json::from_slice(&out.stdout).expect("headers")
}

/// Posts a signed delivery; returns the status and the JSON answer.
pub async fn deliver(cloud_url: &str, body: &str, header: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{cloud_url}/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(h) = header {
        req = req.header("Stripe-Signature", h);
    }
    let r = req.send().await.expect("deliver");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Signs `body` as Stripe does now and delivers it.
pub async fn deliver_signed(cloud_url: &str, body: &str) -> (u16, Value) {
    let header = stripe_header(body, SECRET, now());
    deliver(cloud_url, body, Some(&header)).await
}

/// `serve` arguments for a cloud that uses Stripe at `api_base`.
pub fn stripe_args(api_base: &str) -> Vec<String> {
    [
        "--stripe-webhook-secret",
        SECRET,
        "--stripe-api-key",
        API_KEY,
        "--stripe-api-base",
        api_base,
        "--stripe-prices",
        PRICES,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A `localstripe` process on a loopback port of its own.
pub struct LocalStripe {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl LocalStripe {
    pub async fn start() -> LocalStripe {
        let python = root().join(".venv/bin/python");
        let port = super::free_port();
        // localstripe's own `start()` binds every interface; the tests stay
        // on loopback, and start from an empty store.
        let child = Command::new(&python)
            .args([
                "-c",
                "import sys, aiohttp.web as w, localstripe.server as s; \
                 w.run_app(s.app, host='127.0.0.1', port=int(sys.argv[1]), print=None)",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): run scripts/setup-cloud-peers.sh",
                    python.display()
                )
            });
        let ls = LocalStripe {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        };
        for _ in 0..200 {
            if let Ok(r) = ls
                .http
                .get(format!("{}/v1/plans", ls.url))
                .bearer_auth(API_KEY)
                .send()
                .await
                && r.status().is_success()
            {
                return ls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "localstripe never answered on {} (scripts/setup-cloud-peers.sh)",
            ls.url
        );
    }

    /// A form-encoded call of Stripe's API; panics on a Stripe error.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(API_KEY)
            .form(form)
            .send()
            .await
            .expect("localstripe");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "localstripe {path}: {status} {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("localstripe")
            .json()
            .await
            .expect("json")
    }

    pub async fn delete(&self, path: &str) -> Value {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("localstripe")
            .json()
            .await
            .expect("json")
    }

    /// Sends localstripe's own signed webhooks to `cloud_url`.
    pub async fn send_webhooks_to(&self, cloud_url: &str) {
        let url = format!("{cloud_url}/webhooks/stripe");
        self.post(
            "/_config/webhooks/sos",
            &[("url", &url), ("secret", SECRET)],
        )
        .await;
    }

    /// The three plans as monthly prices (ids from [`PRICES`]).
    pub async fn plans(&self) {
        for (id, amount) in [
            ("price_sos_starter", "4900"),
            ("price_sos_pro", "9900"),
            ("price_sos_elite", "19900"),
        ] {
            self.post(
                "/v1/plans",
                &[
                    ("id", id),
                    ("amount", amount),
                    ("currency", "usd"),
                    ("interval", "month"),
                    ("product[name]", id),
                ],
            )
            .await;
        }
    }

    /// A card payment method (`4242…` pays, `4000002500003155` needs
    /// authentication, which the tests then fail).
    pub async fn card(&self, customer: &str, number: &str) -> String {
        let pm = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2030"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        let id = pm["id"].as_str().expect("pm id").to_string();
        self.post(
            &format!("/v1/payment_methods/{id}/attach"),
            &[("customer", customer)],
        )
        .await;
        id
    }

    pub async fn use_card(&self, customer: &str, pm: &str) {
        self.post(
            &format!("/v1/customers/{customer}"),
            &[("invoice_settings[default_payment_method]", pm)],
        )
        .await;
    }

    /// A customer paying `price` by card: (customer, subscription, good card).
    pub async fn subscriber(&self, email: &str, price: &str) -> (String, String, String) {
        let cus = self.post("/v1/customers", &[("email", email)]).await;
        let cus = cus["id"].as_str().expect("customer id").to_string();
        let card = self.card(&cus, "4242424242424242").await;
        self.use_card(&cus, &card).await;
        let sub = self
            .post(
                "/v1/subscriptions",
                &[("customer", &cus), ("items[0][plan]", price)],
            )
            .await;
        assert_eq!(sub["status"], "active", "{sub}");
        (cus, sub["id"].as_str().expect("sub id").to_string(), card)
    }

    /// The next invoice of `sub` fails (the card's authentication is
    /// refused): Stripe sends `invoice.payment_failed` and the subscription
    /// goes past due. Returns the open invoice.
    pub async fn fail_next_invoice(&self, customer: &str, sub: &str) -> String {
        let card = self.card(customer, "4000002500003155").await;
        self.use_card(customer, &card).await;
        let inv = self
            .post(
                "/v1/invoices",
                &[("customer", customer), ("subscription", sub)],
            )
            .await;
        let inv = inv["id"].as_str().expect("invoice id").to_string();
        let paid = self.post(&format!("/v1/invoices/{inv}/pay"), &[]).await;
        let pi = paid["payment_intent"].as_str().expect("payment intent");
        let pi = self.get(&format!("/v1/payment_intents/{pi}")).await;
        let (id, secret) = (
            pi["id"].as_str().expect("pi id"),
            pi["client_secret"].as_str().expect("client secret"),
        );
        self.post(
            &format!("/v1/payment_intents/{id}/_authenticate"),
            &[("client_secret", secret), ("success", "false")],
        )
        .await;
        inv
    }

    /// Pays the open invoice with the good card: `invoice.payment_succeeded`,
    /// and the subscription is active again.
    pub async fn pay(&self, customer: &str, good_card: &str, invoice: &str) {
        self.use_card(customer, good_card).await;
        self.post(&format!("/v1/invoices/{invoice}/pay"), &[]).await;
    }

    pub async fn subscription_status(&self, sub: &str) -> String {
        self.get(&format!("/v1/subscriptions/{sub}")).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed-by-us-shaped `checkout.session.completed` (or
/// `async_payment_succeeded`) event in Stripe's documented shape.
pub fn checkout_event(
    event_id: &str,
    kind: &str,
    session: &str,
    customer: &str,
    subscription: &str,
    payment_status: &str,
    metadata: Value,
) -> String {
    serde_json::json!({
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "type": kind,
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "data": {"object": {
            "id": session,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "complete",
            "payment_status": payment_status,
            "customer": customer,
            "subscription": subscription,
            "customer_details": {"email": "owner@bright-smile.example", "name": "Dr. Lee"},
            "metadata": metadata,
        }}
    })
    .to_string()
}
