//! The watch's notifiers, the only code that talks to them: a generic JSON webhook (the watch
//! event as it is), a Slack incoming webhook, and PagerDuty's Events API v2 (`trigger` with a
//! stable `dedup_key`, `resolve` on recovery). Each notifier has a queue and a task of its own,
//! so a slow or failing one never holds up the watch or the others; a failed send is retried
//! once, then reported. URLs and keys are secrets: no message names them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{NotifyKind, NotifySecrets, NotifySpec};
use crate::watch::{Event, Outcome};

/// How long one send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause before the one retry of a failed send.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Events waiting for a notifier beyond this are dropped (and reported): a dead receiver must
/// not grow the watch's memory.
const QUEUE: usize = 64;
/// PagerDuty's limit on a summary.
const PAGERDUTY_SUMMARY_MAX: usize = 1024;

/// A notifier ready to send: what it is, its secrets, and the service it speaks of.
#[derive(Clone)]
pub struct Notifier {
    pub kind: NotifyKind,
    /// `notify[0] slack`: how reports name it.
    pub name: String,
    secrets: NotifySecrets,
}

impl Notifier {
    /// The notifiers of the config, their secrets read through `var` (the environment).
    pub fn from_specs(
        specs: &[NotifySpec],
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<Notifier>, crate::config::ConfigError> {
        specs
            .iter()
            .map(|spec| {
                Ok(Notifier {
                    kind: spec.kind,
                    name: format!("{} {}", spec.key, spec.kind.as_str()),
                    secrets: spec.secrets(&var)?,
                })
            })
            .collect()
    }
}

/// The service the events speak of, as the notifiers name it.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub host: String,
}

impl Service {
    /// The same for every event of this service, across restarts: PagerDuty folds them into one
    /// alert, and a `resolve` closes it.
    pub fn dedup_key(&self) -> String {
        format!("failover/{}", self.host)
    }
}

/// How one send ended, for the log and the metrics.
#[derive(Debug, Clone)]
pub struct Sent {
    pub notifier: String,
    pub kind: NotifyKind,
    /// `None` when delivered (at the first or the second try), else why not.
    pub error: Option<String>,
    pub attempts: u32,
}

/// Where the outcome of each send is reported (the watch logs, journals and counts it).
pub type Report = Arc<dyn Fn(Sent) + Send + Sync>;

/// The running notifiers: one queue and one task each.
pub struct Dispatch {
    queues: Vec<(String, NotifyKind, mpsc::Sender<Event>)>,
    tasks: Vec<JoinHandle<()>>,
    report: Report,
}

impl Dispatch {
    pub fn start(notifiers: Vec<Notifier>, service: Service, report: Report) -> Dispatch {
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .user_agent(concat!("failover/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for n in notifiers {
            let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
            queues.push((n.name.clone(), n.kind, tx));
            let (client, service, report) = (client.clone(), service.clone(), report.clone());
            tasks.push(tokio::spawn(async move {
                // One at a time, in order: a `resolve` never overtakes its `trigger`.
                while let Some(event) = rx.recv().await {
                    report(send(&client, &n, &service, &event).await);
                }
            }));
        }
        Dispatch {
            queues,
            tasks,
            report,
        }
    }

    /// Queues the event for every notifier; never waits.
    pub fn send(&self, event: &Event) {
        for (name, kind, tx) in &self.queues {
            if tx.try_send(event.clone()).is_err() {
                (self.report)(Sent {
                    notifier: name.clone(),
                    kind: *kind,
                    error: Some(format!(
                        "{QUEUE} events already wait for it; this one is dropped"
                    )),
                    attempts: 0,
                });
            }
        }
    }

    /// Lets the queued events go out, waiting at most `within`.
    pub async fn finish(self, within: Duration) {
        drop(self.queues);
        let all = futures::future::join_all(self.tasks);
        let _ = tokio::time::timeout(within, all).await;
    }
}

/// Sends one event, retrying once after a pause.
async fn send(client: &reqwest::Client, n: &Notifier, service: &Service, event: &Event) -> Sent {
    let body = body(
        n.kind,
        service,
        event,
        n.secrets.routing_key.as_ref().map(|k| k.expose()),
    );
    let mut error = None;
    for attempt in 1..=2 {
        match post(client, &n.secrets.url, &body).await {
            Ok(()) => {
                return Sent {
                    notifier: n.name.clone(),
                    kind: n.kind,
                    error: None,
                    attempts: attempt,
                }
            }
            Err(e) => error = Some(e),
        }
        if attempt == 1 {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
    Sent {
        notifier: n.name.clone(),
        kind: n.kind,
        error,
        attempts: 2,
    }
}

async fn post(client: &reqwest::Client, url: &url::Url, body: &Value) -> Result<(), String> {
    // `without_url`: the URL is a secret, and reqwest's errors would repeat it.
    let resp = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(format!(
        "answered {}: {}",
        status.as_u16(),
        crate::text::excerpt(&text, 200)
    ))
}

/// The JSON a notifier of `kind` receives for `event`.
pub fn body(
    kind: NotifyKind,
    service: &Service,
    event: &Event,
    routing_key: Option<&str>,
) -> Value {
    match kind {
        NotifyKind::Webhook => serde_json::to_value(event).unwrap_or(Value::Null),
        NotifyKind::Slack => json!({ "text": headline(service, event) }),
        NotifyKind::Pagerduty => {
            let mut body = json!({
                "routing_key": routing_key.unwrap_or_default(),
                "event_action": if event.recovered() { "resolve" } else { "trigger" },
                "dedup_key": service.dedup_key(),
            });
            if !event.recovered() {
                body["payload"] = json!({
                    "summary": crate::text::excerpt(&headline(service, event), PAGERDUTY_SUMMARY_MAX - 1),
                    "source": service.host,
                    "severity": severity(event),
                    "component": service.name,
                    "group": "failover",
                    "class": event.verdict,
                    "custom_details": event,
                });
            }
            body
        }
    }
}

/// PagerDuty's severity: a failed change is an error, an outage critical, an outage the proxy
/// carries a warning, the rest information.
fn severity(event: &Event) -> &'static str {
    match (event.result, event.verdict.as_str()) {
        (Some(Outcome::Failed | Outcome::Unverified), _) => "error",
        (Some(Outcome::Ok), _) => "info",
        (None, "proxy_active") => "warning",
        (None, "healthy") => "info",
        (None, _) => "critical",
    }
}

/// One line that says it all: `api.example.com: dns_target_failure (was healthy), next: deploy-proxy; …`.
pub fn headline(service: &Service, event: &Event) -> String {
    match (event.acted, event.result) {
        (Some(act), Some(result)) => format!(
            "{}: failover watch ran {} ({}): {}",
            service.host,
            act.as_str(),
            result.as_str(),
            event.summary
        ),
        _ => format!(
            "{}: {}{}, next: {}; {}",
            service.host,
            event.verdict,
            event
                .previous
                .as_deref()
                .map(|p| format!(" (was {p})"))
                .unwrap_or_default(),
            event.action,
            event.summary
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::{Act, SCHEMA};

    fn event(verdict: &str, previous: Option<&str>, acted: Option<(Act, Outcome)>) -> Event {
        Event {
            schema: SCHEMA,
            at: "2026-11-24T10:00:00Z".to_owned(),
            cycle: 3,
            verdict: verdict.to_owned(),
            previous: previous.map(str::to_owned),
            action: "deploy-proxy".to_owned(),
            summary: "target fails".to_owned(),
            acted: acted.map(|a| a.0),
            result: acted.map(|a| a.1),
        }
    }

    fn service() -> Service {
        Service {
            name: "api".to_owned(),
            host: "api.example.com".to_owned(),
        }
    }

    #[test]
    fn pagerduty_triggers_with_a_stable_key_and_resolves_on_recovery() {
        let s = service();
        let broken = body(
            NotifyKind::Pagerduty,
            &s,
            &event("dns_target_failure", Some("healthy"), None),
            Some("rk"),
        );
        assert_eq!(broken["event_action"], "trigger");
        assert_eq!(broken["routing_key"], "rk");
        assert_eq!(broken["dedup_key"], "failover/api.example.com");
        assert_eq!(broken["payload"]["severity"], "critical");
        assert_eq!(broken["payload"]["source"], "api.example.com");
        let deployed = body(
            NotifyKind::Pagerduty,
            &s,
            &event(
                "dns_target_failure",
                None,
                Some((Act::DeployProxy, Outcome::Failed)),
            ),
            Some("rk"),
        );
        assert_eq!(
            (
                deployed["event_action"].as_str(),
                deployed["payload"]["severity"].as_str()
            ),
            (Some("trigger"), Some("error"))
        );
        assert_eq!(deployed["dedup_key"], broken["dedup_key"]);
        let healthy = body(
            NotifyKind::Pagerduty,
            &s,
            &event("healthy", Some("proxy_active"), None),
            Some("rk"),
        );
        assert_eq!(healthy["event_action"], "resolve");
        assert_eq!(healthy["dedup_key"], broken["dedup_key"]);
        assert!(healthy.get("payload").is_none());
    }

    #[test]
    fn slack_and_webhook_bodies() {
        let s = service();
        let e = event("dns_target_failure", Some("healthy"), None);
        assert_eq!(
            body(NotifyKind::Slack, &s, &e, None)["text"],
            "api.example.com: dns_target_failure (was healthy), next: deploy-proxy; target fails"
        );
        let hook = body(NotifyKind::Webhook, &s, &e, None);
        assert_eq!(
            (hook["schema"].as_str(), hook["cycle"].as_u64()),
            (Some(SCHEMA), Some(3))
        );
    }
}
