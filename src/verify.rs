//! Checks through the network that a deploy or rollback did what it meant to: does the public
//! URL answer with our marker, does a WebSocket upgrade work, is the platform path healthy.
//! HTTP and DNS go through the probes (our resolvers and `--resolve` pins).

use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;
use crate::worker::MARKER_HEADER;

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

/// One GET of the public URL at the health path, through our resolvers and `--resolve` pins.
pub async fn public_marker(settings: &Settings) -> MarkerCheck {
    let url = settings
        .service
        .public_url
        .join(&settings.service.health_path)
        .unwrap_or_else(|_| settings.service.public_url.clone());
    let answer = crate::probe::get(settings, &url).await;
    MarkerCheck {
        url: url.to_string(),
        status: answer.status,
        marker: answer.header(MARKER_HEADER).map(crate::text::sanitize),
        error: answer
            .failure
            .as_ref()
            .map(|(_, detail)| crate::text::excerpt(detail, 200)),
    }
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

/// With the proxy present: its marker. Gone: an answer through the platform path, which is an
/// answer without the marker that is not a server error (a 5xx without the marker is what the
/// edge answers when a route names a script that no longer exists, or the platform still fails).
fn matches_want(check: &MarkerCheck, script: &str, present: bool) -> bool {
    if present {
        check.marker.as_deref() == Some(script)
    } else {
        check.status.is_some_and(|s| s < 500) && check.marker.as_deref() != Some(script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(status: Option<u16>, marker: Option<&str>, present: bool, want: bool) {
        let c = MarkerCheck {
            url: "http://h/".into(),
            status,
            marker: marker.map(str::to_owned),
            error: None,
        };
        assert_eq!(
            matches_want(&c, "s", present),
            want,
            "{c:?} present={present}"
        );
    }

    #[test]
    fn what_counts_as_verified() {
        check(Some(200), Some("s"), true, true);
        check(Some(200), None, true, false);
        check(Some(200), None, false, true);
        check(Some(404), None, false, true);
        check(Some(200), Some("s"), false, false);
        check(Some(500), None, false, false);
        check(Some(530), None, false, false);
        check(None, None, false, false);
    }
}

/// A WebSocket upgrade at `path` on the public host, through the probes (our resolvers and
/// `--resolve` pins): `Ok` when it answers 101.
pub async fn websocket(settings: &Settings, path: &str) -> Result<(), String> {
    let mut url = settings.service.public_url.clone();
    url.set_path(path);
    let answer = crate::probe::ws::upgrade(&crate::probe::Prober::new(settings).http, &url).await;
    match (answer.status, answer.failure) {
        (Some(101), _) => Ok(()),
        (_, Some((_, why))) => Err(crate::text::excerpt(&why, 200)),
        (Some(status), None) => Err(format!("answered {status}")),
        (None, None) => Err("no answer".to_owned()),
    }
}

/// Is the platform's own path healthy: does its DNS target resolve on our resolvers, does the
/// origin answer its health path?
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlatformHealth {
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_target: Option<String>,
    pub target_resolves: bool,
    pub origin_healthy: bool,
    /// One line each, for people.
    pub evidence: Vec<String>,
}

impl PlatformHealth {
    pub fn summary(&self) -> String {
        if self.evidence.is_empty() {
            format!(
                "DNS target {}; origin {}",
                if self.target_resolves {
                    "resolves"
                } else {
                    "fails"
                },
                if self.origin_healthy {
                    "answers"
                } else {
                    "fails"
                }
            )
        } else {
            self.evidence.join("; ")
        }
    }
}

/// The probes' platform health. `dns_target` is used when the config names none: after a
/// deploy the public host is proxied, so its CNAME chain no longer shows the platform's target,
/// while the record Cloudflare holds still does.
pub async fn platform_health(settings: &Settings, dns_target: Option<&str>) -> PlatformHealth {
    let mut settings = settings.clone();
    if settings.service.dns_target.is_none() {
        settings.service.dns_target = dns_target.map(str::to_owned);
    }
    let h = crate::probe::platform_health(&settings).await;
    PlatformHealth {
        healthy: h.healthy(),
        dns_target: h.dns_target.clone(),
        target_resolves: h.target_resolves,
        origin_healthy: h.origin_healthy,
        evidence: h
            .evidence
            .iter()
            .map(|e| crate::text::excerpt(e, 200))
            .collect(),
    }
}
