//! Checks through the network that a deploy or rollback did what it meant to: does the public
//! URL answer with our marker, does a WebSocket upgrade work, is the platform path healthy.
//! HTTP and DNS go through the probes (our resolvers and `--resolve` pins).

use std::time::Duration;

use crate::config::Settings;
use crate::observation::{standard_checks, Role, Spec};
use crate::probe::{self, Prober};
use crate::report::deployment::{MarkerCheck, PlatformHealth};
use crate::worker::MARKER_HEADER;

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

/// The probes' platform health. `dns_target` is used when the config names none: after a
/// deploy the public host is proxied, so its CNAME chain no longer shows the platform's target,
/// while the record Cloudflare holds still does.
pub async fn platform_health(settings: &Settings, dns_target: Option<&str>) -> PlatformHealth {
    let mut settings = settings.clone();
    if settings.service.dns_target.is_none() {
        settings.service.dns_target = dns_target.map(str::to_owned);
    }
    let h = probe_platform(&settings).await;
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

/// Probes the platform path only (target DNS, the public chain to learn it, origins) and reads
/// it with the verdict's own rules.
async fn probe_platform(settings: &Settings) -> crate::observation::PlatformHealth {
    let prober = Prober::new(settings);
    let checks = standard_checks(settings)
        .into_iter()
        .filter(|c| {
            matches!(c.role, Role::Target | Role::Origin) || matches!(c.spec, Spec::DnsChain { .. })
        })
        .collect();
    let (observations, _) = probe::gather(
        settings,
        &prober,
        checks,
        None,
        settings.probe.deadline,
        &probe::Quiet,
    )
    .await;
    crate::diagnose::platform_health(&observations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{ApiArgs, ProbeArgs};
    use crate::config::{Env, LoadedFile};
    use crate::sandbox::dns::{Behaviour, DnsServer};
    use crate::sandbox::http::{Answer, HttpServer};

    const TARGET: &str = "haiku-word-123.herokudns.test";

    /// The API deploy, rollback and status use, against the sandbox world.
    #[tokio::test(flavor = "multi_thread")]
    async fn platform_health_and_get_for_other_commands() {
        let dns = DnsServer::start().await.unwrap();
        let edge = HttpServer::start(Answer::proxied("failover-api-example-test"))
            .await
            .unwrap();
        let origin = HttpServer::start(Answer::ok()).await.unwrap();
        dns.set_cname("api.example.test", TARGET).unwrap();
        dns.set_addrs(TARGET, &["192.0.2.1".parse().unwrap()]);
        dns.set_addrs("myapp.herokuapp.test", &["127.0.0.1".parse().unwrap()]);
        let toml = format!(
            "[service]\npublic_url = \"http://api.example.test:{}\"\norigin = \"http://myapp.herokuapp.test:{}\"\n",
            edge.port(),
            origin.port()
        );
        let file = LoadedFile::parse(std::path::Path::new("failover.toml"), toml).unwrap();
        let probe = ProbeArgs {
            resolvers: vec![dns.addr().to_string()],
            resolve: vec![format!("api.example.test:{}:127.0.0.1", edge.port())],
        };
        let settings =
            Settings::resolve(&file, &Env::default(), &probe, &ApiArgs::default()).unwrap();

        let health = platform_health(&settings, None).await;
        assert!(health.healthy, "{health:?}");
        assert_eq!(health.dns_target.as_deref(), Some(TARGET));

        // The pin sends the public host to the edge, whose answer carries our marker.
        let answer = crate::probe::get(&settings, &settings.service.public_url).await;
        assert_eq!(answer.status, Some(200), "{answer:?}");
        assert_eq!(
            answer.header("x-failover-proxy"),
            Some("failover-api-example-test")
        );
        assert!(edge.hits() > 0 && origin.hits() > 0);

        dns.set_behaviour(TARGET, Behaviour::Servfail);
        let health = platform_health(&settings, None).await;
        assert!(
            !health.target_resolves && health.origin_healthy,
            "{health:?}"
        );
        origin.set(Answer::heroku_h10());
        dns.set_behaviour(TARGET, Behaviour::Answer);
        let health = platform_health(&settings, None).await;
        assert!(
            health.target_resolves && !health.origin_healthy,
            "{health:?}"
        );
    }

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
