//! What diagnosis looks at, as plain data: the checks (what to ask, of whom, in which role), what
//! each saw ([`Observation`]), and the standard set of checks a configuration calls for. The
//! probes produce these and the pure verdict reads them; neither imports the other.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::config::{ResolverSpec, Settings};

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

/// How a DNS question failed, as the diagnosis and the JSON document name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    Nxdomain,
    Servfail,
    Refused,
    Timeout,
    NoRecords,
    /// The resolver could not be reached or configured at all.
    Connect,
}

impl DnsFailure {
    /// Whether the resolver answered at all (an RCODE or records): a timeout, a refusal or an
    /// unreachable resolver says something about this vantage point, nothing about the name.
    pub fn answered(self) -> bool {
        matches!(
            self,
            DnsFailure::Nxdomain | DnsFailure::Servfail | DnsFailure::NoRecords
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DnsFailure::Nxdomain => "nxdomain",
            DnsFailure::Servfail => "servfail",
            DnsFailure::Refused => "refused",
            DnsFailure::Timeout => "timeout",
            DnsFailure::NoRecords => "no_records",
            DnsFailure::Connect => "connect",
        }
    }
}

/// What one resolver said about one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// The name asked about (no trailing dot).
    pub name: String,
    /// The resolver, as shown to people: `1.1.1.1:53` or `system (10.0.0.2:53)`.
    pub resolver: String,
    /// CNAME hops followed from `name`, in order: each entry is the name pointed to.
    pub chain: Vec<String>,
    /// The final addresses (A and AAAA), empty when the lookup failed.
    pub addrs: Vec<IpAddr>,
    /// Why there are no addresses, with the resolver's own words.
    pub failure: Option<(DnsFailure, String)>,
}

/// How much of a body is kept: enough for any error page's code, little enough to never matter.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Why an HTTP probe got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpFailure {
    Connect,
    Tls,
    Timeout,
    Protocol,
    /// The host's name did not resolve on any resolver, so the server was never contacted:
    /// evidence about DNS as seen from here, never about the server. Holds how the lookup
    /// failed (the most telling resolver's answer).
    Unresolved(DnsFailure),
}

impl HttpFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpFailure::Connect => "connect",
            HttpFailure::Tls => "tls",
            HttpFailure::Timeout => "timeout",
            HttpFailure::Protocol => "protocol",
            HttpFailure::Unresolved(_) => "unresolved",
        }
    }
}

/// What one GET saw. Remote text (headers, body) is raw here; printers sanitize it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct HttpAnswer {
    pub url: String,
    pub status: Option<u16>,
    /// Response headers, names lowercase, in order.
    pub headers: Vec<(String, String)>,
    /// The first [`BODY_LIMIT`] bytes of the body, lossily decoded.
    pub body: String,
    pub failure: Option<(HttpFailure, String)>,
}

impl HttpAnswer {
    /// The first value of a header (name in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a status page says, reduced to the one fact the diagnosis weighs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageAnswer {
    /// `true` when the provider reports any degradation.
    pub degraded: bool,
    /// The provider's own words, e.g. `major` or `Apps: red`.
    pub detail: String,
}
