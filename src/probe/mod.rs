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
use serde::Serialize;
use url::Url;

use crate::config::{ResolverSpec, Settings};
use dns::{DnsAnswer, DnsClient};
use http::{HttpAnswer, HttpProber};
use status_page::PageAnswer;

/// What part of the path a check looks at; the verdict reads observations by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The public host and URL, as users reach it.
    Public,
    /// The platform DNS target the public host points at.
    Target,
    /// A direct origin URL.
    Origin,
    /// Another environment (`[[compare]]`), for the scope.
    Compare,
    /// A provider status page.
    Status,
    /// A team's own addition (a runbook step): evidence shown with the verdict, never deciding it.
    Extra,
}

/// The parameters of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Spec {
    /// Follow `host`'s CNAME chain on one resolver and resolve the final name.
    DnsChain {
        host: String,
        #[serde(serialize_with = "display")]
        resolver: ResolverSpec,
    },
    /// Resolve `name`'s addresses on one resolver.
    DnsAddrs {
        name: String,
        #[serde(serialize_with = "display")]
        resolver: ResolverSpec,
    },
    /// GET a URL.
    Http { url: Url },
    /// Attempt a WebSocket upgrade.
    WebSocket { url: Url },
    /// Read a provider status page.
    StatusPage { name: String, url: Url },
}

fn display<S: serde::Serializer>(r: &ResolverSpec, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(r)
}

/// One check: an id for reports, a role for the verdict, the spec, and for `[[compare]]`
/// checks the environment's name and region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub id: String,
    pub role: Role,
    pub spec: Spec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<CompareEnv>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompareEnv {
    pub name: String,
    pub region: Option<String>,
}

impl Check {
    /// The kind as the JSON document names it.
    pub fn kind(&self) -> &'static str {
        match self.spec {
            Spec::DnsChain { .. } | Spec::DnsAddrs { .. } => "dns",
            Spec::Http { .. } => "http",
            Spec::WebSocket { .. } => "websocket",
            Spec::StatusPage { .. } => "status_page",
        }
    }

    /// What the check looks at: a host name or a URL.
    pub fn target(&self) -> String {
        match &self.spec {
            Spec::DnsChain { host, .. } => host.clone(),
            Spec::DnsAddrs { name, .. } => name.clone(),
            Spec::Http { url } | Spec::WebSocket { url } | Spec::StatusPage { url, .. } => {
                url.to_string()
            }
        }
    }

    pub fn resolver(&self) -> Option<&ResolverSpec> {
        match &self.spec {
            Spec::DnsChain { resolver, .. } | Spec::DnsAddrs { resolver, .. } => Some(resolver),
            _ => None,
        }
    }
}

/// What a check saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    Dns(DnsAnswer),
    Http(HttpAnswer),
    StatusPage(PageAnswer),
    /// The check could not run or did not finish: the reason.
    NotRun {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub check: Check,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

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

/// `url` with its path replaced by `path` (the health or WebSocket path).
fn at_path(url: &Url, path: &str) -> Url {
    let mut u = url.clone();
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    u.set_path(p);
    u.set_query(q);
    u
}

/// `path` under a direct URL's own path, as the proxy forwards it: an origin
/// `https://abc.execute-api.us-east-1.amazonaws.com/prod` answers `/health` at `/prod/health`.
pub fn under_origin(origin: &Url, path: &str) -> Url {
    at_path(
        origin,
        &format!("{}{path}", origin.path().trim_end_matches('/')),
    )
}

/// The standard set of checks for a configuration, before the DNS target is known: the
/// public host's chain on every resolver, the public URL, each origin at `health_path`, the
/// WebSocket path, each `[[compare]]` environment and each status page. When
/// `service.dns_target` is set, the target checks are included at once.
pub fn standard_checks(settings: &Settings) -> Vec<Check> {
    let service = &settings.service;
    let mut checks = Vec::new();
    let host = service.public_host().to_owned();
    // An IP literal has no name to resolve: only its HTTP checks make sense.
    let named = host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_err();
    for resolver in settings.dns.resolvers.iter().filter(|_| named) {
        checks.push(Check {
            id: "dns.public".into(),
            role: Role::Public,
            spec: Spec::DnsChain {
                host: host.clone(),
                resolver: resolver.clone(),
            },
            env: None,
        });
    }
    if let Some(target) = &service.dns_target {
        checks.extend(target_checks(settings, target));
    }
    checks.push(Check {
        id: "http.public".into(),
        role: Role::Public,
        spec: Spec::Http {
            url: at_path(&service.public_url, &service.health_path),
        },
        env: None,
    });
    for origin in &service.origins {
        checks.push(Check {
            id: "http.origin".into(),
            role: Role::Origin,
            spec: Spec::Http {
                url: under_origin(origin, &service.health_path),
            },
            env: None,
        });
    }
    if let Some(path) = &service.websocket_path {
        checks.push(Check {
            id: "ws.public".into(),
            role: Role::Public,
            spec: Spec::WebSocket {
                url: at_path(&service.public_url, path),
            },
            env: None,
        });
    }
    for compare in &settings.compare {
        let env = Some(CompareEnv {
            name: compare.name.clone(),
            region: compare.region.clone(),
        });
        for (side, url) in [("public", &compare.public_url), ("origin", &compare.origin)] {
            let Some(url) = url else { continue };
            checks.push(Check {
                id: format!("compare.{}.{side}", compare.name),
                role: Role::Compare,
                spec: Spec::Http {
                    url: at_path(url, &service.health_path),
                },
                env: env.clone(),
            });
        }
    }
    for page in &settings.status_pages {
        checks.push(Check {
            id: format!("status.{}", page.name),
            role: Role::Status,
            spec: Spec::StatusPage {
                name: page.name.clone(),
                url: page.url.clone(),
            },
            env: None,
        });
    }
    checks
}

/// The DNS target resolved on every configured resolver separately.
pub fn target_checks(settings: &Settings, target: &str) -> Vec<Check> {
    settings
        .dns
        .resolvers
        .iter()
        .map(|resolver| Check {
            id: "dns.target".into(),
            role: Role::Target,
            spec: Spec::DnsAddrs {
                name: target.to_owned(),
                resolver: resolver.clone(),
            },
            env: None,
        })
        .collect()
}

/// Hears about checks as they start and finish (spinners, the journal).
pub trait Watch: Sync {
    fn started(&self, _index: usize, _check: &Check) {}
    fn finished(&self, _index: usize, _observation: &Observation) {}
}

/// A watcher that does nothing.
pub struct Quiet;
impl Watch for Quiet {}

/// Where the DNS target of a run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    /// `service.dns_target` (or a runbook step that names the target itself).
    Config,
    /// The first CNAME hop of the public host, as a resolver answered it.
    Cname,
    /// The host's DNS record in its Cloudflare zone: a proxied host answers with the edge's
    /// addresses, so only the record still shows the platform's target.
    Cloudflare,
}

impl TargetSource {
    /// Where the target came from, for people.
    pub fn describe(self) -> &'static str {
        match self {
            TargetSource::Config => "service.dns_target",
            TargetSource::Cname => "the public host's CNAME",
            TargetSource::Cloudflare => "the host's Cloudflare DNS record",
        }
    }
}

/// The DNS target a run checked, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsTarget {
    pub name: String,
    pub source: TargetSource,
}

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
                        reason: "unfinished at the deadline (probe.deadline_ms)".to_owned(),
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

/// Is the platform path healthy: does the DNS target resolve, does the origin answer?
#[derive(Debug, Clone, Serialize)]
pub struct PlatformHealth {
    /// The DNS target examined (configured, or learned from the public host's CNAME chain).
    pub dns_target: Option<String>,
    /// The target resolved on every resolver that answered at all (and at least one did).
    pub target_resolves: bool,
    /// At least one origin answered its health path without a server or router error.
    pub origin_healthy: bool,
    /// One line each, for people.
    pub evidence: Vec<String>,
}

impl PlatformHealth {
    pub fn healthy(&self) -> bool {
        self.target_resolves && self.origin_healthy
    }
}

/// Probes the platform path only (target DNS, public chain to learn it, origins), for deploy
/// verification, rollback and status.
pub async fn platform_health(settings: &Settings) -> PlatformHealth {
    let prober = Prober::new(settings);
    let checks = standard_checks(settings)
        .into_iter()
        .filter(|c| {
            matches!(c.role, Role::Target | Role::Origin) || matches!(c.spec, Spec::DnsChain { .. })
        })
        .collect();
    let (observations, _) = gather(
        settings,
        &prober,
        checks,
        None,
        settings.probe.deadline,
        &Quiet,
    )
    .await;
    crate::diagnose::platform_health(&observations)
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
    use crate::sandbox::dns::{Behaviour, DnsServer};
    use crate::sandbox::http::{Answer, HttpServer};

    const TARGET: &str = "haiku-word-123.herokudns.test";

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
        assert!(body.len() > 4 * http::BODY_LIMIT);
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

        let health = platform_health(&settings).await;
        assert!(health.healthy(), "{health:?}");
        assert_eq!(health.dns_target.as_deref(), Some(TARGET));

        // The pin sends the public host to the edge, whose answer carries our marker.
        let answer = get(&settings, &settings.service.public_url).await;
        assert_eq!(answer.status, Some(200), "{answer:?}");
        assert_eq!(
            answer.header("x-failover-proxy"),
            Some("failover-api-example-test")
        );
        assert!(edge.hits() > 0 && origin.hits() > 0);

        dns.set_behaviour(TARGET, Behaviour::Servfail);
        let health = platform_health(&settings).await;
        assert!(
            !health.target_resolves && health.origin_healthy,
            "{health:?}"
        );
        origin.set(Answer::heroku_h10());
        dns.set_behaviour(TARGET, Behaviour::Answer);
        let health = platform_health(&settings).await;
        assert!(
            health.target_resolves && !health.origin_healthy,
            "{health:?}"
        );
    }
}
