//! The watch's Prometheus metrics (the only user of prometheus-client) and the small server
//! that exposes them at `/metrics` in the text exposition format (OpenMetrics). The server runs
//! on its own task, so a scrape is answered while a cycle or a change is under way.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::diagnose::{CheckReport, Status};

/// The verdicts known when the watch starts: each gets a `failover_verdict` series from the
/// first scrape, so an alert on `failover_verdict{verdict="healthy"} == 0` never lacks data.
/// A verdict added later joins when first seen.
const VERDICTS: [&str; 8] = [
    "healthy",
    "dns_target_failure",
    "origin_down",
    "edge_failure",
    "proxy_active",
    "inconclusive",
    "public_dns_failure",
    "degraded",
];

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: String,
    resolver: String,
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotifyLabels {
    notifier: String,
    result: String,
}

/// Every metric the watch exposes.
pub struct Metrics {
    registry: Registry,
    verdict: Family<VerdictLabels, Gauge>,
    check_up: Family<CheckLabels, Gauge>,
    check_duration: Family<CheckLabels, Gauge<f64, AtomicU64>>,
    cycles: Counter,
    cycle_duration: Gauge<f64, AtomicU64>,
    actions: Family<ActionLabels, Counter>,
    notifications: Family<NotifyLabels, Counter>,
    last_cycle: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("failover");
        let m = Metrics {
            verdict: Family::default(),
            check_up: Family::default(),
            check_duration: Family::default(),
            cycles: Counter::default(),
            cycle_duration: Gauge::default(),
            actions: Family::default(),
            notifications: Family::default(),
            last_cycle: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "verdict",
            "The verdict of the last cycle: 1 for the current one, 0 for the others",
            m.verdict.clone(),
        );
        registry.register(
            "check_up",
            "Whether a check of the last cycle passed (1) or failed (0); skipped checks are absent",
            m.check_up.clone(),
        );
        registry.register(
            "check_duration_seconds",
            "How long each check of the last cycle took",
            m.check_duration.clone(),
        );
        registry.register(
            "cycles",
            "Diagnosis cycles run since the watch started",
            m.cycles.clone(),
        );
        registry.register(
            "cycle_duration_seconds",
            "How long the last cycle's diagnosis took",
            m.cycle_duration.clone(),
        );
        registry.register(
            "actions",
            "Changes the watch made on its own (deploy-proxy, rollback), by result (ok, unverified, failed)",
            m.actions.clone(),
        );
        registry.register(
            "notifications",
            "Notifications sent, by notifier and result (ok, failed)",
            m.notifications.clone(),
        );
        registry.register(
            "last_cycle_timestamp_seconds",
            "When the last cycle finished, in seconds since the Unix epoch",
            m.last_cycle.clone(),
        );
        for v in VERDICTS {
            m.verdict
                .get_or_create(&VerdictLabels {
                    verdict: v.to_owned(),
                })
                .set(0);
        }
        // Counters start at 0, so a rate or an increase has a series from the first scrape.
        for action in ["deploy-proxy", "rollback"] {
            for result in ["ok", "unverified", "failed"] {
                m.actions
                    .get_or_create(&ActionLabels {
                        action: action.to_owned(),
                        result: result.to_owned(),
                    })
                    .get();
            }
        }
        Metrics { registry, ..m }
    }

    /// One finished cycle: its verdict, its checks, when it ended (Unix seconds).
    pub fn cycle(&self, verdict: &str, checks: &[CheckReport], elapsed_secs: f64, at_unix: f64) {
        // Set every known verdict, the current one to 1; the family is never cleared, so a
        // scrape between two calls never sees no verdict at all.
        for v in VERDICTS.iter().copied().chain(std::iter::once(verdict)) {
            self.verdict
                .get_or_create(&VerdictLabels {
                    verdict: v.to_owned(),
                })
                .set(i64::from(v == verdict));
        }
        // The checks of this cycle only: one that is no longer run leaves no stale series.
        self.check_up.clear();
        self.check_duration.clear();
        for c in checks {
            let labels = CheckLabels {
                check: c.id.clone(),
                resolver: c.resolver.clone().unwrap_or_default(),
                target: c.target.clone(),
            };
            self.check_duration
                .get_or_create(&labels)
                .set(c.elapsed_ms as f64 / 1000.0);
            let up = match c.status {
                Status::Pass | Status::Warn => 1,
                Status::Fail => 0,
                Status::Skip => continue,
            };
            self.check_up.get_or_create(&labels).set(up);
        }
        self.cycles.inc();
        self.cycle_duration.set(elapsed_secs);
        self.last_cycle.set(at_unix);
    }

    pub fn action(&self, action: &str, result: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    pub fn notified(&self, notifier: &str, ok: bool) {
        self.notifications
            .get_or_create(&NotifyLabels {
                notifier: notifier.to_owned(),
                result: if ok { "ok" } else { "failed" }.to_owned(),
            })
            .inc();
    }

    /// The exposition text, as `/metrics` serves it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Binds `addr` and serves `/metrics` until the process ends; returns the address bound (the
/// port is known even when `addr` asked for port 0).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot serve metrics on {addr}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(bound)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::ErrorKind;

    fn check(id: &str, resolver: Option<&str>, status: Status) -> CheckReport {
        CheckReport {
            id: id.to_owned(),
            kind: "dns",
            target: "t.example".to_owned(),
            resolver: resolver.map(str::to_owned),
            status,
            error: (status == Status::Fail).then_some(ErrorKind::Servfail),
            detail: String::new(),
            elapsed_ms: 1500,
        }
    }

    #[test]
    fn renders_the_contract_names_with_help() {
        let m = Metrics::new();
        m.cycle(
            "dns_target_failure",
            &[
                check("dns.target", Some("1.1.1.1:53"), Status::Fail),
                check("http.origin", None, Status::Pass),
                check("status.heroku", None, Status::Skip),
            ],
            0.4,
            1_700_000_000.5,
        );
        m.action("deploy-proxy", "ok");
        let text = m.render();
        for line in [
            "# HELP failover_verdict ",
            "failover_verdict{verdict=\"dns_target_failure\"} 1",
            "failover_verdict{verdict=\"healthy\"} 0",
            "failover_check_up{check=\"dns.target\",resolver=\"1.1.1.1:53\",target=\"t.example\"} 0",
            "failover_check_up{check=\"http.origin\",resolver=\"\",target=\"t.example\"} 1",
            "failover_check_duration_seconds{check=\"dns.target\",resolver=\"1.1.1.1:53\",target=\"t.example\"} 1.5",
            "failover_cycles_total 1",
            "failover_actions_total{action=\"deploy-proxy\",result=\"ok\"} 1",
            "failover_last_cycle_timestamp_seconds 1700000000.5",
            "# EOF",
        ] {
            assert!(text.contains(line), "lacks {line:?}:\n{text}");
        }
        assert!(
            !text.contains("status.heroku\",resolver=\"\",target=\"t.example\"} 0"),
            "{text}"
        );
        // The next cycle replaces the checks and moves the verdict.
        m.cycle("healthy", &[], 0.1, 1_700_000_030.0);
        let text = m.render();
        assert!(
            text.contains("failover_verdict{verdict=\"healthy\"} 1"),
            "{text}"
        );
        assert!(!text.contains("failover_check_up{"), "{text}");
    }
}
