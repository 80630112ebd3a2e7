//! Prometheus metrics at `/metrics`: check-ins, WebSocket clients, request
//! latencies. Counts only: no names or other patient data in labels.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::Method;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
    method: String,
    status: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    checkins: Family<MethodLabel, Counter>,
    ws_clients: Family<ClientLabel, Gauge>,
    latency: Family<RouteLabel, Histogram>,
}

/// The kinds of live WebSocket client.
#[derive(Clone, Copy, Debug)]
pub enum ClientKind {
    Tv,
    PatientStatus,
    Desk,
}

impl ClientKind {
    fn label(self) -> &'static str {
        match self {
            ClientKind::Tv => "tv",
            ClientKind::PatientStatus => "patient_status",
            ClientKind::Desk => "front_desk",
        }
    }
}

/// Decrements the client gauge when the connection ends, however it ends.
pub struct ClientGuard(Gauge);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sos_edge");
        let checkins = Family::<MethodLabel, Counter>::default();
        let ws_clients = Family::<ClientLabel, Gauge>::default();
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "checkins",
            "Check-ins recorded, by method",
            checkins.clone(),
        );
        registry.register(
            "websocket_clients",
            "Connected WebSocket clients, by kind",
            ws_clients.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route",
            latency.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            checkins,
            ws_clients,
            latency,
        }
    }

    pub fn checkin(&self, method: Method) {
        self.checkins
            .get_or_create(&MethodLabel {
                method: method.as_str().into(),
            })
            .inc();
    }

    pub fn client_connected(&self, kind: ClientKind) -> ClientGuard {
        let g = self
            .ws_clients
            .get_or_create(&ClientLabel {
                kind: kind.label().into(),
            })
            .clone();
        g.inc();
        ClientGuard(g)
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.latency
            .get_or_create(&RouteLabel {
                route: route.into(),
                method: method.into(),
                status: status.to_string(),
            })
            .observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        }
        out
    }
}
