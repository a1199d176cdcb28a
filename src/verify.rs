//! Checks through the network that a deploy or rollback did what it meant to: does the public
//! URL answer with our marker, does a WebSocket upgrade work, is the platform path healthy.
//! Honours `--resolve` pins so the checks can be pointed at a test edge.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::config::Settings;

/// The header every answer through the Worker carries.
pub const MARKER_HEADER: &str = "x-failover-proxy";

/// What one GET of the public URL showed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MarkerCheck {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The marker header's value, when present.
    pub marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn client(settings: &Settings) -> reqwest::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.probe.timeout)
        .user_agent(concat!("failover/", env!("CARGO_PKG_VERSION")));
    for pin in &settings.probe.pins {
        b = b.resolve(&pin.host, SocketAddr::new(pin.addr, pin.port));
    }
    b.build()
}

/// One GET of the public URL at the health path.
pub async fn public_marker(settings: &Settings) -> MarkerCheck {
    let url = settings
        .service
        .public_url
        .join(&settings.service.health_path)
        .unwrap_or_else(|_| settings.service.public_url.clone());
    let mut check = MarkerCheck {
        url: url.to_string(),
        status: None,
        marker: None,
        error: None,
    };
    let result = match client(settings) {
        Ok(c) => c.get(url).send().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(resp) => {
            check.status = Some(resp.status().as_u16());
            check.marker = resp
                .headers()
                .get(MARKER_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(crate::ui::sanitize);
        }
        Err(e) => check.error = Some(crate::ui::excerpt(&format!("{e:#}"), 200)),
    }
    check
}

/// Polls the public URL until the marker is `present` (or absent), at most `attempts` times:
/// the edge and resolvers take a moment to see a change.
pub async fn await_marker(
    settings: &Settings,
    script: &str,
    present: bool,
    attempts: u32,
    interval: Duration,
) -> (bool, MarkerCheck) {
    let mut last = public_marker(settings).await;
    for _ in 1..attempts.max(1) {
        if matches_want(&last, script, present) {
            break;
        }
        tokio::time::sleep(interval).await;
        last = public_marker(settings).await;
    }
    (matches_want(&last, script, present), last)
}

fn matches_want(check: &MarkerCheck, script: &str, present: bool) -> bool {
    if present {
        check.marker.as_deref() == Some(script)
    } else {
        check.status.is_some() && check.marker.as_deref() != Some(script)
    }
}

/// Where `host:port` connects: a `--resolve` pin, else the system resolver.
async fn resolve(settings: &Settings, host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Some(pin) = settings
        .probe
        .pins
        .iter()
        .find(|p| p.host.eq_ignore_ascii_case(host) && p.port == port)
    {
        return Ok(SocketAddr::new(pin.addr, port));
    }
    let lookup = tokio::time::timeout(
        settings.dns.timeout,
        tokio::net::lookup_host((host.to_owned(), port)),
    )
    .await
    .map_err(|_| format!("{host}: lookup timed out"))?
    .map_err(|e| format!("{host}: {e}"))?;
    let addrs: Vec<SocketAddr> = lookup.collect();
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("{host}: no addresses"))
}

/// A WebSocket upgrade at `path` on the public host: `Ok` when it answers 101.
pub async fn websocket(settings: &Settings, path: &str) -> Result<(), String> {
    let public = &settings.service.public_url;
    let mut url = public.clone();
    url.set_path(path);
    let ws_scheme = if public.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    url.set_scheme(ws_scheme)
        .map_err(|()| "cannot form the WebSocket URL".to_owned())?;
    let host = public.host_str().unwrap_or_default().to_owned();
    let port = public.port_or_known_default().unwrap_or(443);
    let addr = resolve(settings, &host, port).await?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let (mut ws, resp) = tokio_tungstenite::client_async_tls(url.as_str(), tcp)
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        let _ = ws.close(None).await;
        if resp.status().as_u16() == 101 {
            Ok(())
        } else {
            Err(format!("answered {}", resp.status()))
        }
    };
    tokio::time::timeout(settings.probe.timeout, attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Is the platform's own path healthy: does its DNS target resolve, does the origin answer?
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlatformHealth {
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_error: Option<String>,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_error: Option<String>,
}

impl PlatformHealth {
    pub fn summary(&self) -> String {
        let dns = match (&self.dns_target, &self.dns_error) {
            (Some(t), None) => format!("{t} resolves"),
            (Some(t), Some(e)) => format!("{t} fails ({e})"),
            (None, _) => "no DNS target known".to_owned(),
        };
        let origin = match (self.origin_status, &self.origin_error) {
            (Some(s), _) => format!("origin answers {s}"),
            (None, Some(e)) => format!("origin fails ({e})"),
            (None, None) => "origin not checked".to_owned(),
        };
        format!("{dns}; {origin}")
    }
}

/// Checks the DNS target (when one is known) and the primary origin at the health path.
pub async fn platform_health(settings: &Settings, dns_target: Option<&str>) -> PlatformHealth {
    let target = dns_target
        .map(str::to_owned)
        .or_else(|| settings.service.dns_target.clone());
    let origin: Url = settings.service.origins[0]
        .join(&settings.service.health_path)
        .unwrap_or_else(|_| settings.service.origins[0].clone());
    let dns = async {
        match &target {
            Some(t) => resolve(settings, t, 443).await.err(),
            None => None,
        }
    };
    let http = async {
        match client(settings) {
            Ok(c) => c
                .get(origin.clone())
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| crate::ui::excerpt(&format!("{e:#}"), 200)),
            Err(e) => Err(e.to_string()),
        }
    };
    let (dns_error, origin_result) = tokio::join!(dns, http);
    let (origin_status, origin_error) = match origin_result {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    PlatformHealth {
        healthy: dns_error.is_none() && origin_status.is_some_and(|s| s < 500),
        dns_target: target,
        dns_error,
        origin: origin.to_string(),
        origin_status,
        origin_error,
    }
}
