//! The box's HTTP server: the features' routes merged, operations
//! (`/`, `/healthz`, `/metrics`), static assets and the layers every
//! route passes (body limit, metrics, security headers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use tokio::sync::watch;

use super::error::{WebError, rejection_message};
use super::https::{Certificate, HttpsStatus};
use super::{MAX_BODY, WebResult, templates};
use crate::clinic::Clinic;
use crate::core::Core;
use crate::{checkin, desk, display, store};

pub fn router(clinic: Arc<Clinic>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/assets/{file}", get(asset))
        .route("/brand/logo.svg", get(logo))
        .merge(checkin::http::routes())
        .merge(desk::http::routes())
        .merge(display::http::routes())
        .merge(crate::cast::http::routes())
        .merge(listen_routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(refuse_oversize))
        .layer(middleware::from_fn_with_state(clinic.clone(), observe))
        .layer(middleware::from_fn_with_state(
            clinic.clone(),
            security_headers,
        ))
        .with_state(clinic)
}

#[cfg(feature = "listen")]
fn listen_routes() -> Router<Arc<Clinic>> {
    crate::listen::http::routes()
}

#[cfg(not(feature = "listen"))]
fn listen_routes() -> Router<Arc<Clinic>> {
    Router::new()
}

async fn not_found() -> WebError {
    WebError::not_found("There is no page here.")
}

/// Most of an oversize body read (and dropped) before it is refused.
const DRAIN_MAX: usize = 1024 * 1024;

/// Refuses a body announced as larger than [`MAX_BODY`] after reading it
/// (up to [`DRAIN_MAX`], for at most 5 s): answering while the phone is
/// still sending makes the connection close with data unread, which resets
/// it, and the phone then shows a network error instead of this answer.
async fn refuse_oversize(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(len) = announced.filter(|n| *n > MAX_BODY as u64) else {
        return next.run(req).await;
    };
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if len <= DRAIN_MAX as u64 {
        let mut body = req.into_body().into_data_stream();
        let drain = async {
            let mut read = 0;
            while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut body).await {
                read += chunk.len();
                if read > DRAIN_MAX {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
    }
    let refusal = WebError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        rejection_message(StatusCode::PAYLOAD_TOO_LARGE),
    );
    if json {
        refusal.json().into_response()
    } else {
        refusal.into_response()
    }
}

async fn observe(State(clinic): State<Arc<Clinic>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    clinic.metrics.observe(
        &route,
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn security_headers(State(clinic): State<Arc<Clinic>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if clinic.https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(super::https::HSTS),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // same-origin, not no-referrer: with no-referrer browsers send
        // `Origin: null` on form posts, which the same-origin check refuses.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Everything is served by the box itself: no CDN, no third party.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

async fn home(State(clinic): State<Arc<Clinic>>) -> WebResult<Html<String>> {
    let practice = clinic.practice();
    let body = templates::render(
        "home.html",
        minijinja::context! { practice_name => practice.config.name },
    )
    .map_err(|_| WebError::internal())?;
    Ok(Html(body))
}

async fn asset(Path(file): Path<String>) -> Response {
    match templates::static_file(&file) {
        Some((mime, body)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            body,
        )
            .into_response(),
        None => not_found().await.into_response(),
    }
}

async fn logo(State(clinic): State<Arc<Clinic>>) -> Response {
    let svg = clinic.practice().config.branding.logo_svg.clone();
    if svg.is_empty() {
        return not_found().await.into_response();
    }
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

/// Ready only when the database is open, migrated and answering.
async fn healthz(State(clinic): State<Arc<Clinic>>) -> Response {
    let tenant = clinic.tenant_id();
    let probe = clinic
        .store
        .read(move |c| {
            let version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
            // A real query on a tenant table: migrated and answering.
            store::count_pending_events(c, &tenant)?;
            Ok(version)
        })
        .await;
    let sync = crate::sync::status(&clinic).await;
    match probe {
        Ok(version) if clinic.store.is_ready() => (
            StatusCode::OK,
            axum::Json(json!({
                "status": "ready",
                "database": "ok",
                "schema_version": version,
                "tv_clients": clinic.hub.tv_subscribers(),
                "sync": sync,
                "voice": clinic.voice.get().map(|v| v.status()),
                "listen": clinic.listen_status(),
                "https": clinic.https_status(),
                "uptime_s": clinic.started_at.elapsed().as_secs(),
            })),
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "database": "not ready"})),
        )
            .into_response(),
    }
}

async fn metrics(State(clinic): State<Arc<Clinic>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        clinic.metrics.render(),
    )
        .into_response()
}

/// How long a stop waits for requests still open (a check-in being
/// written, a page being sent) before it closes the database anyway.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(4);

/// HTTPS for every page, once the box holds a certificate.
pub struct Https {
    pub listener: HttpsListener,
    /// The certificate to serve, as it changes: the clinic's own (given
    /// at start, never changes) or the box's own from the cloud (arrives
    /// after enrollment, renewed in place).
    pub certificates: watch::Receiver<Option<Certificate>>,
    /// `--public-url`, checked against the clinic's own certificate.
    pub public_url: Option<String>,
    /// For the box's own certificate: phones move to HTTPS only once this
    /// network's DNS resolves its name to the box.
    pub name_check: Option<super::reachable::NameCheck>,
}

pub enum HttpsListener {
    /// Bound at start (the clinic's own certificate: a port in use stops
    /// the start, naming the flag).
    Bound(tokio::net::TcpListener),
    /// Bound when the first certificate arrives.
    Later(SocketAddr),
}

/// Serves until `shutdown` fires: in-flight requests finish (for at most
/// [`DRAIN`]), TVs are told the box is going away, then the database is
/// closed cleanly. With `https`, the pages move there as soon as it has a
/// certificate, and `listener` (plain HTTP) then answers only `/healthz`
/// and redirects.
pub async fn serve(
    listener: tokio::net::TcpListener,
    clinic: Arc<Clinic>,
    https: Option<Https>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (fire, fired) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = fire.send(true);
    });
    let app = router(clinic.clone());
    let served = match https {
        None => serve_http(listener, app, fired).await,
        Some(https) => {
            let plain = app.clone().layer(middleware::from_fn_with_state(
                clinic.core.clone(),
                super::https::redirect_plain,
            ));
            let (plain, secure) = tokio::join!(
                serve_http(listener, plain, fired.clone()),
                serve_https(https, app, &clinic.core, fired),
            );
            plain.and(secure)
        }
    };
    clinic.store.close();
    served
}

/// Resolves once the stop has been asked for.
async fn stop_asked(mut fired: tokio::sync::watch::Receiver<bool>) {
    let _ = fired.wait_for(|stop| *stop).await;
}

async fn serve_http(
    listener: tokio::net::TcpListener,
    app: Router,
    fired: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop_asked(fired.clone()));
    // A request that does not end (a client that never reads its answer)
    // must not hold a stop past systemd's TimeoutStopSec and its SIGKILL.
    let drained = async move {
        stop_asked(fired).await;
        tokio::time::sleep(DRAIN).await;
    };
    tokio::select! {
        served = server => served,
        _ = drained => {
            tracing::warn!(after = ?DRAIN, "requests still open at stop; closing anyway");
            Ok(())
        }
    }
}

/// Waits until this network's DNS resolves `name` to the box, saying on
/// the desk why phones stay on plain HTTP meanwhile; false if the box
/// stops first. Asked again every minute (a router fixed, the record
/// propagated).
async fn found_by_name(
    check: &super::reachable::NameCheck,
    name: &str,
    core: &Core,
    fired: watch::Receiver<bool>,
) -> bool {
    loop {
        match check.check(name).await {
            Ok(()) => return true,
            Err(why) => {
                tracing::warn!(%name, reason = %why, "phones stay on plain HTTP");
                core.set_https_status(HttpsStatus::plain(format!(
                    "the box has its certificate, but {why}; phones stay on plain HTTP until then"
                )));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = stop_asked(fired.clone()) => return false,
        }
    }
}

/// Waits for the first certificate, then serves HTTPS with it and swaps
/// in each renewal (open connections keep the one they started with).
async fn serve_https(
    https: Https,
    app: Router,
    core: &Arc<Core>,
    fired: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let Https {
        listener,
        mut certificates,
        public_url,
        name_check,
    } = https;
    let first = tokio::select! {
        c = certificates.wait_for(Option::is_some) => c.ok().and_then(|c| c.clone()),
        _ = stop_asked(fired.clone()) => None,
    };
    let Some(first) = first else { return Ok(()) };
    let listener = match listener {
        HttpsListener::Bound(l) => l,
        HttpsListener::Later(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot serve HTTPS");
                core.set_https_status(HttpsStatus::plain(format!(
                    "the box has a certificate but cannot listen on {addr} ({e}); set --https-listen"
                )));
                return Ok(());
            }
        },
    };
    let port = listener.local_addr()?.port();
    let url_of = move |c: &Certificate| super::https::public_url(c, public_url.as_deref(), port);
    if let Some(check) = name_check
        && let Some(name) = first.names.first()
        && !found_by_name(&check, name, core, fired.clone()).await
    {
        return Ok(());
    }
    match url_of(&first) {
        Ok(url) => {
            core.serve_https_at(url.clone(), HttpsStatus::of(&first, &url));
            tracing::info!(%url, "serving HTTPS");
        }
        Err(e) => {
            core.set_https_status(HttpsStatus::plain(e.to_string()));
            return Ok(());
        }
    }
    let config = axum_server::tls_rustls::RustlsConfig::from_config(first.config.clone());
    let reload = config.clone();
    let swapping = Arc::clone(core);
    let renewed_url = url_of.clone();
    tokio::spawn(async move {
        while certificates.changed().await.is_ok() {
            let Some(c) = certificates.borrow_and_update().clone() else {
                continue;
            };
            reload.reload_from_config(c.config.clone());
            if let Ok(url) = renewed_url(&c) {
                swapping.serve_https_at(url.clone(), HttpsStatus::of(&c, &url));
            }
        }
    });
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        stop_asked(fired).await;
        stopper.graceful_shutdown(Some(DRAIN));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}
