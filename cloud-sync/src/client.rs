//! HTTP client for the sync calls (feature `client`).

use std::time::Duration;

use crate::auth::{AuthError, DeviceKey};
use crate::wire::{
    self, ConfigResponse, EnrollRequest, EnrollResponse, ErrorBody, Event, EventsRequest,
    EventsResponse, PROTOCOL_VERSION,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the cloud: {0}")]
    Unreachable(String),
    #[error("the cloud refused the request ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the cloud's answer was not understood: {0}")]
    Protocol(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("bad cloud URL: {0}")]
    BadUrl(String),
}

impl ClientError {
    /// True when trying again later may succeed (network trouble, cloud
    /// overloaded or restarting, clock not yet synchronised).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Unreachable(_) | ClientError::Protocol(_) => true,
            ClientError::Refused { status, code, .. } => {
                *status >= 500
                    || *status == 408
                    || *status == 429
                    || code == wire::codes::CLOCK_SKEW
                    || code == wire::codes::REPLAYED
            }
            ClientError::Auth(_) | ClientError::BadUrl(_) => false,
        }
    }

    /// The cloud's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_revoked(&self) -> bool {
        self.code() == Some(wire::codes::DEVICE_REVOKED)
    }
}

/// A device's credential: its id at the cloud and its private key.
#[derive(Debug)]
pub struct Device {
    pub device_id: String,
    pub key: DeviceKey,
}

/// Talks to one `sos-cloud` base URL.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// Raw answer of [`Client::send_signed`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Client {
    /// A client for `base_url`, which must be `https://`. Plain `http://`
    /// is allowed only to this machine (tests, or a TLS-terminating proxy
    /// on the box itself): the schedule that comes down holds patients'
    /// names and dates of birth.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        if let Some(rest) = base.strip_prefix("http://") {
            if !is_loopback_host(rest) {
                return Err(ClientError::BadUrl(
                    "the cloud URL must start with https:// (plain http:// only to this machine)"
                        .into(),
                ));
            }
        } else if !base.starts_with("https://") {
            return Err(ClientError::BadUrl(
                "the cloud URL must start with https://".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::BadUrl(e.to_string()))?;
        Ok(Client { http, base })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// This machine's address on its route to the cloud: behind a clinic's
    /// router, its LAN address. Nothing is sent (a UDP "connect" only asks
    /// the kernel for the route).
    pub async fn route_source(&self) -> Result<std::net::IpAddr, ClientError> {
        let url =
            reqwest::Url::parse(&self.base).map_err(|e| ClientError::BadUrl(e.to_string()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let host = url
            .host_str()
            .ok_or_else(|| ClientError::BadUrl("the cloud URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let cloud = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => std::net::SocketAddr::new(ip, port),
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| ClientError::Unreachable(format!("cannot resolve {host}")))?,
        };
        let any: std::net::SocketAddr = if cloud.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket =
            std::net::UdpSocket::bind(any).map_err(|e| ClientError::Unreachable(e.to_string()))?;
        socket
            .connect(cloud)
            .and_then(|_| socket.local_addr())
            .map(|a| a.ip())
            .map_err(|e| ClientError::Unreachable(format!("no route to the cloud: {e}")))
    }
}

/// `authority[/path]` names this machine: localhost or a loopback address.
fn is_loopback_host(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The whole cause chain: reqwest's own message ("error sending request")
/// hides the part that helps, e.g. an unknown certificate issuer.
fn unreachable(e: reqwest::Error) -> ClientError {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = cause.source();
    }
    ClientError::Unreachable(msg)
}

impl Client {
    /// Exchanges a provisioning token for a device credential.
    pub async fn enroll(
        &self,
        token: &str,
        key: &DeviceKey,
        device_name: &str,
    ) -> Result<EnrollResponse, ClientError> {
        let body = serde_json::to_vec(&EnrollRequest {
            token: token.trim().to_string(),
            public_key: key.public_key_b64(),
            device_name: device_name.to_string(),
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = self
            .http
            .post(format!("{}{}", self.base, wire::PATH_ENROLL))
            .header(wire::HEADER_PROTOCOL, PROTOCOL_VERSION.to_string())
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(30))
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        decode(status, &bytes)
    }

    /// `GET /v1/config?since=..&wait=..` (long-poll up to `wait_secs`).
    pub async fn config(
        &self,
        device: &Device,
        since: i64,
        wait_secs: u64,
    ) -> Result<ConfigResponse, ClientError> {
        let path = format!("{}?since={since}&wait={wait_secs}", wire::PATH_CONFIG);
        let raw = self
            .send_signed(
                device,
                "GET",
                &path,
                Vec::new(),
                Duration::from_secs(wait_secs + 15),
            )
            .await?;
        decode(raw.status, &raw.body)
    }

    /// `POST /v1/events`.
    pub async fn push_events(
        &self,
        device: &Device,
        events: &[Event],
    ) -> Result<EventsResponse, ClientError> {
        let body = serde_json::to_vec(&EventsRequest {
            events: events.to_vec(),
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let raw = self
            .send_signed(
                device,
                "POST",
                wire::PATH_EVENTS,
                body,
                Duration::from_secs(60),
            )
            .await?;
        decode(raw.status, &raw.body)
    }

    /// `POST /v1/report`.
    pub async fn report(
        &self,
        device: &Device,
        report: &wire::BoxReport,
    ) -> Result<wire::ReportResponse, ClientError> {
        let body = serde_json::to_vec(report).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let raw = self
            .send_signed(
                device,
                "POST",
                wire::PATH_REPORT,
                body,
                Duration::from_secs(30),
            )
            .await?;
        decode(raw.status, &raw.body)
    }

    /// `GET /v1/certificate`: the box's name and its latest certificate.
    pub async fn certificate(
        &self,
        device: &Device,
    ) -> Result<wire::CertificateResponse, ClientError> {
        let raw = self
            .send_signed(
                device,
                "GET",
                wire::PATH_CERTIFICATE,
                Vec::new(),
                Duration::from_secs(30),
            )
            .await?;
        decode(raw.status, &raw.body)
    }

    /// `POST /v1/certificate`: a certificate for the key in the request.
    /// The cloud orders it from its CA while the request waits.
    pub async fn request_certificate(
        &self,
        device: &Device,
        request: &wire::CertificateRequest,
    ) -> Result<wire::CertificateResponse, ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let raw = self
            .send_signed(
                device,
                "POST",
                wire::PATH_CERTIFICATE,
                body,
                Duration::from_secs(180),
            )
            .await?;
        decode(raw.status, &raw.body)
    }

    /// Sends a signed request and returns the raw answer, whatever its status.
    pub async fn send_signed(
        &self,
        device: &Device,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<RawResponse, ClientError> {
        let h = device
            .key
            .sign_request(&device.device_id, method, path_and_query, &body)?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ClientError::BadUrl(e.to_string()))?;
        let resp = self
            .http
            .request(method, format!("{}{}", self.base, path_and_query))
            .header(wire::HEADER_PROTOCOL, PROTOCOL_VERSION.to_string())
            .header(wire::HEADER_DEVICE, h.device_id)
            .header(wire::HEADER_TIMESTAMP, h.timestamp)
            .header(wire::HEADER_NONCE, h.nonce)
            .header(wire::HEADER_SIGNATURE, h.signature)
            .header("content-type", "application/json")
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(unreachable)?.to_vec();
        Ok(RawResponse { status, body })
    }
}

fn decode<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ClientError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| ClientError::Protocol(e.to_string()));
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => Err(ClientError::Refused {
            status,
            code: e.error,
            message: e.message,
        }),
        Err(_) => Err(ClientError::Refused {
            status,
            code: if status >= 500 {
                wire::codes::INTERNAL.into()
            } else {
                wire::codes::BAD_REQUEST.into()
            },
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_for_https_and_plain_http_only_to_this_machine() {
        assert!(Client::new("https://cloud.example.com/").is_ok());
        assert_eq!(
            Client::new("http://127.0.0.1:1/").unwrap().base_url(),
            "http://127.0.0.1:1"
        );
        for local in [
            "http://localhost:8443",
            "http://[::1]:80/x",
            "http://127.0.0.2",
        ] {
            assert!(Client::new(local).is_ok(), "{local}");
        }
        for bad in [
            "ftp://x",
            "http://cloud.example.com",
            "http://10.0.0.5:8443",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example/",
        ] {
            assert!(
                matches!(Client::new(bad), Err(ClientError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn retry_classification() {
        let refused = |status: u16, code: &str| ClientError::Refused {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(refused(503, wire::codes::INTERNAL).is_retryable());
        assert!(refused(401, wire::codes::CLOCK_SKEW).is_retryable());
        assert!(!refused(401, wire::codes::BAD_SIGNATURE).is_retryable());
        assert!(!refused(403, wire::codes::DEVICE_REVOKED).is_retryable());
        assert!(refused(403, wire::codes::DEVICE_REVOKED).is_revoked());
        assert!(ClientError::Unreachable("x".into()).is_retryable());
    }
}
