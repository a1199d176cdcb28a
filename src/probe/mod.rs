//! I/O for diagnosis: checks are values (kind, parameters, role), one function runs any check
//! into a plain [`Observation`], and [`gather`] runs a set concurrently under one deadline.
//!
//! A failed probe is data, not an error: NXDOMAIN, a timeout or an HTTP 530 come back as
//! observations. Only "could not run at all" is missing, and then it is a [`Outcome::NotRun`].

pub mod dns;
pub mod http;
pub mod status_page;
pub mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use url::Url;

use crate::config::Settings;
use crate::observation::{
    target_checks, Check, DnsTarget, HttpAnswer, Observation, Outcome, Role, Spec, TargetSource,
};
use dns::DnsClient;
use http::HttpProber;

/// Runs checks: the resolvers and HTTP settings of one run.
#[derive(Clone)]
pub struct Prober {
    pub dns: Arc<DnsClient>,
    pub http: HttpProber,
}

impl Prober {
    pub fn new(settings: &Settings) -> Self {
        let dns = Arc::new(DnsClient::new(&settings.dns));
        Prober {
            http: HttpProber {
                dns: dns.clone(),
                pins: settings.probe.pins.clone(),
                timeout: settings.probe.timeout,
            },
            dns,
        }
    }

    /// Runs one check. Never fails: a failure is what the observation says.
    pub async fn run(&self, check: &Check) -> Observation {
        let start = Instant::now();
        let outcome = match &check.spec {
            Spec::DnsChain { host, resolver } => {
                Outcome::Dns(self.dns.resolve_chain(resolver, host).await)
            }
            Spec::DnsAddrs { name, resolver } => {
                Outcome::Dns(self.dns.resolve_addrs(resolver, name).await)
            }
            Spec::Http { url } => Outcome::Http(self.http.get(url).await),
            Spec::WebSocket { url } => Outcome::Http(ws::upgrade(&self.http, url).await),
            Spec::StatusPage { url, .. } => {
                // Statuspage summaries list every component: hundreds of kilobytes.
                let answer = self.http.get_up_to(url, 4 << 20).await;
                match (&answer.failure, answer.status) {
                    (Some((kind, why)), _) => Outcome::NotRun {
                        reason: format!("{}: {why}", kind.as_str()),
                    },
                    (None, Some(status)) if !(200..300).contains(&status) => Outcome::NotRun {
                        reason: format!("status page answered HTTP {status}"),
                    },
                    _ => match status_page::parse(&answer.body) {
                        Ok(page) => Outcome::StatusPage(page),
                        Err(reason) => Outcome::NotRun { reason },
                    },
                }
            }
        };
        Observation {
            check: check.clone(),
            outcome,
            elapsed: start.elapsed(),
        }
    }
}

/// Hears about checks as they start and finish (spinners, the journal).
pub trait Watch: Sync {
    fn started(&self, _index: usize, _check: &Check) {}
    fn finished(&self, _index: usize, _observation: &Observation) {}
}

/// A watcher that does nothing.
pub struct Quiet;
impl Watch for Quiet {}

/// The target read from the host's Cloudflare record, when the caller asked the API for it:
/// `None` when the record names no target (or could not be read; the caller says why).
pub type CloudflareTarget<'a> = futures::future::BoxFuture<'a, Option<String>>;

/// Runs `checks` concurrently under `deadline`. When no DNS target is configured, the first
/// CNAME hop of the public host (haiku-word-123.herokudns.com) names it, from whichever
/// resolver shows it first, or else the host's Cloudflare record (`cloudflare`, read beside
/// the probes), and the target checks join the run at once: a target that blackholes then
/// costs one DNS timeout, not the chain's timeout and then the target's. Checks unfinished at
/// the deadline come back as [`Outcome::NotRun`]. Observations are in the order the checks
/// were added; the target checked, if any, comes with them.
pub async fn gather(
    settings: &Settings,
    prober: &Prober,
    checks: Vec<Check>,
    cloudflare: Option<CloudflareTarget<'_>>,
    deadline: Duration,
    watch: &dyn Watch,
) -> (Vec<Observation>, Option<DnsTarget>) {
    let end = tokio::time::Instant::now() + deadline;
    let mut all: Vec<Check> = Vec::new();
    let mut results: Vec<Option<Observation>> = Vec::new();
    let mut pending = FuturesUnordered::new();
    let mut learned = checks.iter().find_map(|c| match (&c.spec, c.role) {
        (Spec::DnsAddrs { name, .. }, Role::Target) => Some(DnsTarget {
            name: name.clone(),
            source: TargetSource::Config,
        }),
        _ => None,
    });
    let mut target_known = learned.is_some();
    let asked = cloudflare.is_some();
    let mut cloudflare = cloudflare.unwrap_or_else(|| Box::pin(async { None }));
    let mut cloudflare_done = !asked;
    // One CNAME question per resolver, beside the chain checks, to learn the target early.
    let mut discover: FuturesUnordered<_> = checks
        .iter()
        .filter(|_| !target_known)
        .filter_map(|c| match (&c.spec, c.role) {
            (Spec::DnsChain { host, resolver }, Role::Public) => {
                let (dns, host, resolver) = (prober.dns.clone(), host.clone(), resolver.clone());
                Some(async move { dns.first_hop(&resolver, &host).await })
            }
            _ => None,
        })
        .collect();

    let start = |check: Check,
                 all: &mut Vec<Check>,
                 results: &mut Vec<Option<Observation>>,
                 pending: &mut FuturesUnordered<_>| {
        let index = all.len();
        watch.started(index, &check);
        all.push(check.clone());
        results.push(None);
        let prober = prober.clone();
        pending.push(async move { (index, prober.run(&check).await) });
    };
    for check in checks {
        start(check, &mut all, &mut results, &mut pending);
    }
    loop {
        // Once every check is in, only the Cloudflare record can still name a target.
        let waits_for_record = !target_known && !cloudflare_done;
        let next = tokio::time::timeout_at(end, async {
            if pending.is_empty() && waits_for_record {
                return Step::Record((&mut cloudflare).await);
            }
            tokio::select! {
                Some(Some(target)) = discover.next(), if !target_known && !discover.is_empty() => {
                    Step::Target(target, TargetSource::Cname)
                }
                record = &mut cloudflare, if waits_for_record => Step::Record(record),
                done = pending.next() => Step::Done(done),
            }
        })
        .await;
        let (index, observation) = match next {
            Ok(Step::Record(record)) => {
                cloudflare_done = true;
                if let Some(target) = record {
                    target_known = true;
                    for check in target_checks(settings, &target) {
                        start(check, &mut all, &mut results, &mut pending);
                    }
                    learned = Some(DnsTarget {
                        name: target,
                        source: TargetSource::Cloudflare,
                    });
                }
                continue;
            }
            Ok(Step::Target(target, source)) => {
                target_known = true;
                for check in target_checks(settings, &target) {
                    start(check, &mut all, &mut results, &mut pending);
                }
                learned = Some(DnsTarget {
                    name: target,
                    source,
                });
                continue;
            }
            Ok(Step::Done(Some(done))) => done,
            Ok(Step::Done(None)) | Err(_) => break,
        };
        watch.finished(index, &observation);
        // A chain may finish before any discovery question does; it names the target as well.
        if !target_known && observation.check.role == Role::Public {
            if let Outcome::Dns(answer) = &observation.outcome {
                if let Some(target) = answer.chain.first() {
                    target_known = true;
                    for check in target_checks(settings, target) {
                        start(check, &mut all, &mut results, &mut pending);
                    }
                    learned = Some(DnsTarget {
                        name: target.clone(),
                        source: TargetSource::Cname,
                    });
                }
            }
        }
        results[index] = Some(observation);
    }
    drop(pending);
    let observations = results
        .into_iter()
        .zip(all)
        .enumerate()
        .map(|(index, (result, check))| {
            result.unwrap_or_else(|| {
                let observation = Observation {
                    check,
                    outcome: Outcome::NotRun {
                        reason: format!(
                            "unfinished at the deadline (probe.deadline_ms, {} ms)",
                            settings.probe.deadline.as_millis()
                        ),
                    },
                    elapsed: deadline,
                };
                watch.finished(index, &observation);
                observation
            })
        })
        .collect();
    (observations, learned)
}

enum Step<T> {
    Target(String, TargetSource),
    Record(Option<String>),
    Done(Option<T>),
}

/// One GET through the configured resolvers and pins (status, headers, body start), for
/// verifying a deploy or rollback by the `x-failover-proxy` marker.
pub async fn get(settings: &Settings, url: &Url) -> HttpAnswer {
    Prober::new(settings).http.get(url).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{ApiArgs, ProbeArgs};
    use crate::config::{Env, LoadedFile};
    use crate::sandbox::http::{Answer, HttpServer};

    /// A real Statuspage summary lists every component; the whole document must be read.
    #[tokio::test]
    async fn large_status_page_is_read_whole() {
        let components: Vec<serde_json::Value> = (0..2000)
            .map(|i| serde_json::json!({"id": i, "name": format!("Component {i}"), "status": "operational"}))
            .collect();
        let body = serde_json::json!({
            "components": components,
            "status": {"indicator": "minor", "description": "Minor Service Outage"},
        })
        .to_string();
        assert!(body.len() > 4 * crate::observation::BODY_LIMIT);
        let page = HttpServer::start(Answer::new(200, body)).await.unwrap();
        let file = LoadedFile::parse(
            std::path::Path::new("failover.toml"),
            "[service]\npublic_url = \"https://a.test\"\norigin = \"https://b.test\"\n".to_owned(),
        )
        .unwrap();
        let settings = Settings::resolve(
            &file,
            &Env::default(),
            &ProbeArgs::default(),
            &ApiArgs::default(),
        )
        .unwrap();
        let check = Check {
            id: "status.cloudflare".into(),
            role: Role::Status,
            spec: Spec::StatusPage {
                name: "cloudflare".into(),
                url: format!("{}/api/v2/summary.json", page.url())
                    .parse()
                    .unwrap(),
            },
            env: None,
        };
        let observation = Prober::new(&settings).run(&check).await;
        match observation.outcome {
            Outcome::StatusPage(p) => assert!(p.degraded, "{p:?}"),
            other => panic!("{other:?}"),
        }
    }
}
