//! PURE: observations -> verdict, scope, action, summary, evidence. No clock, env or network;
//! every decision here is table-tested below.

use serde::Serialize;

use crate::observation::HttpAnswer;
use crate::observation::{Check, DnsTarget, Observation, Outcome, PlatformHealth, Role, Spec};
use crate::observation::{DnsAnswer, DnsFailure, HttpFailure};
use crate::text::excerpt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    DnsTargetFailure,
    OriginDown,
    EdgeFailure,
    ProxyActive,
    Inconclusive,
    /// The public host's own DNS fails (its zone, not the platform's target).
    PublicDnsFailure,
    /// The normal path works from here, but the DNS target fails on some answering resolvers.
    Degraded,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::DnsTargetFailure => "dns_target_failure",
            Verdict::OriginDown => "origin_down",
            Verdict::EdgeFailure => "edge_failure",
            Verdict::ProxyActive => "proxy_active",
            Verdict::Inconclusive => "inconclusive",
            Verdict::PublicDnsFailure => "public_dns_failure",
            Verdict::Degraded => "degraded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    None,
    DeployProxy,
    Escalate,
    Rollback,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::DeployProxy => "deploy-proxy",
            Action::Escalate => "escalate",
            Action::Rollback => "rollback",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Region,
    Global,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    Skip,
}

/// The error classes of the `failover.diagnosis/v1` document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Nxdomain,
    Servfail,
    Refused,
    Timeout,
    NoRecords,
    Connect,
    Tls,
    HttpStatus,
    EdgeError,
    Protocol,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Nxdomain => "nxdomain",
            ErrorKind::Servfail => "servfail",
            ErrorKind::Refused => "refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NoRecords => "no_records",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::EdgeError => "edge_error",
            ErrorKind::Protocol => "protocol",
        }
    }
}

/// One check as the JSON document and the report show it. `detail` is already sanitized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub kind: &'static str,
    pub target: String,
    pub resolver: Option<String>,
    pub status: Status,
    pub error: Option<ErrorKind>,
    pub detail: String,
    pub elapsed_ms: u64,
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    pub action: Action,
    pub scope: Scope,
    pub summary: String,
    /// The few lines that carry the verdict, most telling first.
    pub evidence: Vec<String>,
    /// The exact commands (or steps) to run next, in order.
    pub next: Vec<String>,
    pub checks: Vec<CheckReport>,
    /// The DNS target the checks looked at and where it came from (config, the public host's
    /// CNAME, the Cloudflare record); `None` when no target was known.
    pub dns_target: Option<DnsTarget>,
    /// Our Worker, when it answered the public URL: its mode and the path it took.
    pub proxy: Option<ProxySeen>,
}

/// What an HTTP answer says about the path it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathFacts {
    /// Cloudflare answered (`server: cloudflare` or a `cf-ray`).
    pub cloudflare: bool,
    /// A Cloudflare error code: from the body (`error code: 1016`, `Error 1016`) or 530.
    pub edge_code: Option<u32>,
    /// The platform layer that answered, as its runbook names it (`heroku router`).
    pub platform: Option<String>,
    /// An error the platform's layer reports for the app, with the platform's name
    /// (`Heroku H10`), as the runbooks' signatures describe them.
    pub platform_error: Option<String>,
    /// Our own `x-failover-proxy` marker: the emergency proxy served this.
    pub proxy_marker: Option<String>,
    /// A standby Worker's `x-failover-path`: `platform` or `direct`.
    pub proxy_path: Option<&'static str>,
}

/// Which of our Workers answered the public URL, and by which path: the emergency proxy always
/// from the direct origin, a standby one by the path its `x-failover-path` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxySeen {
    pub mode: &'static str,
    pub path: &'static str,
}

impl PathFacts {
    /// A standby Worker passed the request through the platform's own path: the answer is the
    /// platform's, judged as if no Worker were there.
    pub fn through_platform(&self) -> bool {
        self.proxy_path == Some("platform")
    }

    pub fn proxy(&self) -> Option<ProxySeen> {
        self.proxy_marker.as_ref()?;
        Some(match self.proxy_path {
            Some(path) => ProxySeen {
                mode: "standby",
                path,
            },
            None => ProxySeen {
                mode: "emergency",
                path: "direct",
            },
        })
    }

    /// The edge reports it cannot resolve or reach the origin by DNS (1016, or a bare 530).
    pub fn edge_dns_error(&self) -> bool {
        matches!(self.edge_code, Some(1016) | Some(530))
    }
}

pub fn path_facts(a: &HttpAnswer) -> PathFacts {
    let server = a.header("server").unwrap_or_default().to_ascii_lowercase();
    let cloudflare = server.contains("cloudflare") || a.header("cf-ray").is_some();
    let body = a.body.to_ascii_lowercase();
    let edge_code = if cloudflare || body.contains("cloudflare") {
        find_code(&body, "error code: ")
            .or_else(|| find_code(&body, "error code "))
            .or_else(|| find_code(&body, "error "))
            .filter(|c| (500..=599).contains(c) || (1000..=1999).contains(c))
            .or((a.status == Some(530)).then_some(530))
    } else {
        None
    };
    let answer = crate::runbook::Answer {
        status: a.status,
        header: &|name| a.header(name),
        body: &a.body,
    };
    let signatures = crate::runbook::signatures();
    let platform = signatures
        .iter()
        .find(|s| s.served(&answer))
        .map(|s| s.via.clone());
    let platform_error = signatures
        .iter()
        .find_map(|s| Some(format!("{} {}", s.name, s.error_in(&answer)?)));
    let proxy_marker = a
        .header("x-failover-proxy")
        .map(|m| excerpt(m, 63))
        .filter(|m| !m.is_empty());
    let proxy_path = match a.header("x-failover-path") {
        Some(p) if p.eq_ignore_ascii_case("platform") => Some("platform"),
        Some(p) if p.eq_ignore_ascii_case("direct") => Some("direct"),
        _ => None,
    };
    PathFacts {
        cloudflare,
        edge_code,
        platform,
        platform_error,
        proxy_marker,
        proxy_path,
    }
}

/// The first number of 3 to 4 digits right after `prefix` in `body`.
fn find_code(body: &str, prefix: &str) -> Option<u32> {
    body.match_indices(prefix).find_map(|(i, _)| {
        let digits: String = body[i + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (3..=4)
            .contains(&digits.len())
            .then(|| digits.parse().ok())?
    })
}

/// Whether an HTTP answer is the app answering (below 500, no edge or router error).
fn http_ok(a: &HttpAnswer) -> bool {
    let facts = path_facts(a);
    a.failure.is_none()
        && a.status.is_some_and(|s| s < 500)
        && facts.edge_code.is_none()
        && facts.platform_error.is_none()
}

/// Pure classification of one observation for the document and the report.
pub fn check_report(o: &Observation) -> CheckReport {
    let check = &o.check;
    let (status, error, detail, resolver) = match &o.outcome {
        Outcome::NotRun { reason } => (Status::Skip, None, excerpt(reason, 160), None),
        Outcome::Dns(answer) => {
            let (status, error, detail) = dns_status(answer);
            (status, error, detail, Some(answer.resolver.clone()))
        }
        Outcome::Http(answer) => {
            let (status, error, detail) = http_status(check, answer);
            (status, error, detail, None)
        }
        Outcome::StatusPage(page) => (
            if page.degraded {
                Status::Warn
            } else {
                Status::Pass
            },
            None,
            format!(
                "{}: {}",
                if page.degraded {
                    "degraded"
                } else {
                    "operational"
                },
                excerpt(&page.detail, 120)
            ),
            None,
        ),
    };
    CheckReport {
        id: check.id.clone(),
        kind: check.kind(),
        target: excerpt(&check.target(), 200),
        resolver: resolver.or_else(|| check.resolver().map(|r| r.to_string())),
        status,
        error,
        detail,
        elapsed_ms: u64::try_from(o.elapsed.as_millis()).unwrap_or(u64::MAX),
    }
}

fn dns_status(a: &DnsAnswer) -> (Status, Option<ErrorKind>, String) {
    let chain = if a.chain.is_empty() {
        String::new()
    } else {
        format!("CNAME {}; ", excerpt(&a.chain.join(" -> "), 200))
    };
    match &a.failure {
        None => {
            let addrs: Vec<String> = a.addrs.iter().map(|ip| ip.to_string()).collect();
            (Status::Pass, None, format!("{chain}{}", addrs.join(", ")))
        }
        Some((kind, why)) => (
            Status::Fail,
            Some(dns_error(*kind)),
            format!("{chain}{}", excerpt(why, 120)),
        ),
    }
}

fn dns_error(kind: DnsFailure) -> ErrorKind {
    match kind {
        DnsFailure::Nxdomain => ErrorKind::Nxdomain,
        DnsFailure::Servfail => ErrorKind::Servfail,
        DnsFailure::Refused => ErrorKind::Refused,
        DnsFailure::Timeout => ErrorKind::Timeout,
        DnsFailure::NoRecords => ErrorKind::NoRecords,
        DnsFailure::Connect => ErrorKind::Connect,
    }
}

fn http_status(check: &Check, a: &HttpAnswer) -> (Status, Option<ErrorKind>, String) {
    if let Some((kind, why)) = &a.failure {
        let error = match kind {
            HttpFailure::Connect => ErrorKind::Connect,
            HttpFailure::Tls => ErrorKind::Tls,
            HttpFailure::Timeout => ErrorKind::Timeout,
            HttpFailure::Protocol => ErrorKind::Protocol,
            // The server was never contacted: the error is how its name failed to resolve.
            HttpFailure::Unresolved(dns) => dns_error(*dns),
        };
        return (Status::Fail, Some(error), excerpt(why, 200));
    }
    let status = a.status.unwrap_or_default();
    let facts = path_facts(a);
    let mut via = Vec::new();
    if facts.cloudflare {
        match a.header("cf-ray") {
            Some(ray) => via.push(format!("cloudflare (cf-ray {})", excerpt(ray, 40))),
            None => via.push("cloudflare".to_owned()),
        }
    }
    if let Some(layer) = &facts.platform {
        via.push(layer.clone());
    }
    if let Some(marker) = &facts.proxy_marker {
        match facts.proxy_path {
            Some(path) => via.push(format!("x-failover-proxy {marker} ({path} path)")),
            None => via.push(format!("x-failover-proxy {marker}")),
        }
    }
    let mut detail = format!("HTTP {status}");
    if !via.is_empty() {
        detail.push_str(&format!(" via {}", via.join(", ")));
    }
    let websocket = matches!(check.spec, Spec::WebSocket { .. });
    if let Some(code) = facts.edge_code {
        let what = match code {
            1016 => "origin DNS error",
            530 => "origin unreachable",
            _ => "edge error",
        };
        detail.push_str(&format!("; Cloudflare {code} ({what})"));
        return (Status::Fail, Some(ErrorKind::EdgeError), detail);
    }
    if let Some(error) = &facts.platform_error {
        detail.push_str(&format!("; {error}"));
        return (Status::Fail, Some(ErrorKind::HttpStatus), detail);
    }
    let body = excerpt(&a.body, 80);
    if websocket {
        return if status == 101 {
            (Status::Pass, None, format!("{detail} (upgraded)"))
        } else {
            (Status::Fail, Some(ErrorKind::HttpStatus), detail)
        };
    }
    match status {
        500.. => {
            if !body.is_empty() {
                detail.push_str(&format!(": {body}"));
            }
            (Status::Fail, Some(ErrorKind::HttpStatus), detail)
        }
        400..=499 => (Status::Warn, Some(ErrorKind::HttpStatus), detail),
        _ if facts.proxy_marker.is_some()
            && !facts.through_platform()
            && check.role == Role::Public =>
        {
            (Status::Warn, None, detail)
        }
        _ => (Status::Pass, None, detail),
    }
}

/// What this machine could see through its resolvers. A resolver that refuses, cannot be
/// reached, or answers nothing at all for any name says something about this vantage point,
/// never about the names asked.
struct Vantage {
    /// Resolvers (as labelled in answers) that answered at least one question with an RCODE
    /// or records: only their failures count against a name.
    answering: Vec<String>,
    /// Resolvers asked that never answered anything.
    silent: Vec<String>,
    /// Some name resolved here (addresses or a CNAME on some resolver), or an origin or
    /// another environment was reached by name: DNS works from this machine at least partly.
    sees: bool,
}

fn vantage(obs: &[Observation]) -> Vantage {
    let mut answering: Vec<String> = Vec::new();
    let mut asked: Vec<String> = Vec::new();
    let mut sees = false;
    for o in obs {
        match &o.outcome {
            Outcome::Dns(a) => {
                if !asked.contains(&a.resolver) {
                    asked.push(a.resolver.clone());
                }
                let positive = !a.addrs.is_empty() || !a.chain.is_empty();
                sees |= positive;
                let answered = positive || a.failure.as_ref().is_some_and(|(f, _)| f.answered());
                if answered && !answering.contains(&a.resolver) {
                    answering.push(a.resolver.clone());
                }
            }
            Outcome::Http(a) if matches!(o.check.role, Role::Origin | Role::Compare) => {
                sees |= !matches!(a.failure, Some((HttpFailure::Unresolved(_), _)));
            }
            _ => {}
        }
    }
    let silent = asked
        .into_iter()
        .filter(|r| !answering.contains(r))
        .collect();
    Vantage {
        answering,
        silent,
        sees,
    }
}

/// How one name fared on the answering resolvers.
struct NameState {
    name: Option<String>,
    /// Answers from answering resolvers (a refusal or an unreachable resolver says nothing of
    /// the name, and neither does a resolver that answered nothing all run).
    ran: usize,
    /// The answering resolvers on which it failed.
    failed: Vec<String>,
    first_failure: Option<ErrorKind>,
    /// Every counted failure came back without a CNAME hop: the name's own zone fails.
    own_zone: bool,
}

fn name_state(obs: &[Observation], role: Role, v: &Vantage) -> NameState {
    let mut state = NameState {
        name: None,
        ran: 0,
        failed: Vec::new(),
        first_failure: None,
        own_zone: true,
    };
    let dns = |o: &&Observation| {
        o.check.role == role
            && matches!(o.check.spec, Spec::DnsAddrs { .. } | Spec::DnsChain { .. })
    };
    for o in obs.iter().filter(dns) {
        if let Outcome::Dns(a) = &o.outcome {
            state.name.get_or_insert_with(|| a.name.clone());
            let refused = matches!(
                a.failure,
                Some((DnsFailure::Connect | DnsFailure::Refused, _))
            );
            if refused || !v.answering.contains(&a.resolver) {
                continue;
            }
            state.ran += 1;
            if a.addrs.is_empty() {
                state.failed.push(a.resolver.clone());
                state.own_zone &= a.chain.is_empty();
                if state.first_failure.is_none() {
                    state.first_failure = dns_status(a).1;
                }
            }
        }
    }
    if state.name.is_none() {
        state.name = obs.iter().filter(dns).find_map(|o| match &o.check.spec {
            Spec::DnsAddrs { name, .. } => Some(name.clone()),
            Spec::DnsChain { host, .. } => Some(host.clone()),
            _ => None,
        });
    }
    state
}

impl NameState {
    /// `name fails on 2/3 resolvers (SERVFAIL)` or `name resolves on 3/3 ...`.
    fn summary(&self, what: &str) -> String {
        let name = self
            .name
            .as_deref()
            .map(|n| excerpt(n, 100))
            .unwrap_or_else(|| what.to_owned());
        if self.failed.is_empty() {
            format!("{name} resolves on {}/{} resolvers", self.ran, self.ran)
        } else {
            format!(
                "{name} fails on {}/{} resolvers ({})",
                self.failed.len(),
                self.ran,
                self.first_failure
                    .map(|e| e.as_str().to_ascii_uppercase())
                    .unwrap_or_default()
            )
        }
    }
}

fn http_of(o: &Observation) -> Option<&HttpAnswer> {
    match (&o.outcome, &o.check.spec) {
        (Outcome::Http(a), Spec::Http { .. }) => Some(a),
        _ => None,
    }
}

/// The server was contacted: an answer, or a failure after its name resolved.
fn reached(a: &HttpAnswer) -> bool {
    !matches!(a.failure, Some((HttpFailure::Unresolved(_), _)))
}

/// The platform path from observations (target DNS and origins), shared with other commands.
pub fn platform_health(obs: &[Observation]) -> PlatformHealth {
    let v = vantage(obs);
    let target = name_state(obs, Role::Target, &v);
    let origins: Vec<&Observation> = obs
        .iter()
        .filter(|o| o.check.role == Role::Origin && http_of(o).is_some())
        .collect();
    let origin_healthy = origins.iter().any(|o| http_of(o).is_some_and(http_ok));
    let target_resolves = target.ran > 0 && target.failed.is_empty();
    let mut evidence = Vec::new();
    match &target.name {
        Some(_) if target.ran > 0 => evidence.push(target.summary("the DNS target")),
        _ => evidence.push("the DNS target could not be checked".to_owned()),
    }
    if !v.silent.is_empty() {
        evidence.push(silent_line(&v));
    }
    for o in &origins {
        let r = check_report(o);
        evidence.push(format!("origin {}: {}", r.target, r.detail));
    }
    PlatformHealth {
        dns_target: target.name.map(|n| excerpt(&n, 253)),
        target_resolves,
        origin_healthy,
        evidence,
    }
}

/// The resolvers that answered nothing, said as what they are: this machine's problem.
fn silent_line(v: &Vantage) -> String {
    format!(
        "{} answered nothing here (timeout, REFUSED or unreachable on every query): not counted",
        excerpt(&v.silent.join(", "), 200)
    )
}

/// One check as an evidence line: mark, id, target, resolver, detail.
pub fn evidence_line(r: &CheckReport) -> String {
    let mark = match r.status {
        Status::Pass => "ok  ",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
        Status::Skip => "skip",
    };
    match &r.resolver {
        Some(res) => format!("{mark} {} {} @{}: {}", r.id, r.target, res, r.detail),
        None => format!("{mark} {} {}: {}", r.id, r.target, r.detail),
    }
}

/// How the verdict reads the origins.
enum OriginState<'a> {
    /// One origin answers as the app: the observation and its answer.
    Healthy(&'a Observation, &'a HttpAnswer),
    /// Every origin was reached and failed; `tls` when each failed its TLS handshake (the
    /// app may well run: its certificate is the problem).
    Down { detail: String, tls: bool },
    /// None answers healthily and some were never contacted: why, for people.
    Unseen(String),
}

fn origin_state<'a>(rows: &[(&'a Observation, &'a CheckReport)]) -> OriginState<'a> {
    let origins: Vec<_> = rows
        .iter()
        .copied()
        .filter(|(o, _)| o.check.role == Role::Origin && matches!(o.check.spec, Spec::Http { .. }))
        .collect();
    if let Some((o, a)) = origins
        .iter()
        .find_map(|(o, _)| http_of(o).filter(|a| http_ok(a)).map(|a| (*o, a)))
    {
        return OriginState::Healthy(o, a);
    }
    let contacted: Vec<_> = origins
        .iter()
        .filter(|(o, _)| http_of(o).is_some_and(reached))
        .collect();
    if !origins.is_empty() && contacted.len() == origins.len() {
        let tls = contacted
            .iter()
            .all(|(_, r)| r.error == Some(ErrorKind::Tls));
        return OriginState::Down {
            detail: origins
                .first()
                .map(|(_, r)| r.detail.clone())
                .unwrap_or_default(),
            tls,
        };
    }
    let why = match origins
        .iter()
        .find(|(o, _)| !http_of(o).is_some_and(reached))
    {
        None => "no origin is configured".to_owned(),
        Some((o, r)) => match &o.outcome {
            Outcome::NotRun { .. } => format!("the origin could not be checked ({})", r.detail),
            _ => "the origin was never reached: its name did not resolve here".to_owned(),
        },
    };
    OriginState::Unseen(why)
}

/// The ids of the checks that did not run, once each: what the verdict could not see.
fn unseen(checks: &[CheckReport]) -> Option<String> {
    let mut ids: Vec<&str> = Vec::new();
    for c in checks.iter().filter(|c| c.status == Status::Skip) {
        if !ids.contains(&c.id.as_str()) {
            ids.push(&c.id);
        }
    }
    (!ids.is_empty()).then(|| format!("not seen: {}", ids.join(", ")))
}

/// The verdict. Cannot fail: missing evidence makes it `inconclusive`. `dns_target` is what the
/// run learned before the target checks joined it; the verdict reads only the checks.
///
/// Only evidence decides, never how far the deadline let checks run: a check cut short is
/// missing evidence, named in the summary, and a resolver that answered nothing all run
/// counts for no name.
pub fn decide(obs: &[Observation], dns_target: Option<&DnsTarget>) -> Diagnosis {
    let checks: Vec<CheckReport> = obs.iter().map(check_report).collect();
    // Each observation beside its report: the verdict reads the first, the evidence the second.
    let rows: Vec<(&Observation, &CheckReport)> = obs.iter().zip(&checks).collect();
    let public = rows
        .iter()
        .copied()
        .find(|(o, _)| o.check.role == Role::Public && matches!(o.check.spec, Spec::Http { .. }));
    let public_answer = public.and_then(|(o, _)| http_of(o));
    let v = vantage(obs);
    let origin = origin_state(&rows);
    let target = name_state(obs, Role::Target, &v);
    let public_dns = name_state(obs, Role::Public, &v);
    let platform = platform_health(obs);
    let mut evidence: Vec<String> = Vec::new();
    let line = evidence_line;
    // The most telling first: what users get (the public URL, then its DNS), the target, the
    // origins, then the rest; within a role, in the order the checks ran.
    let rank = |o: &Observation| {
        let role = match o.check.role {
            Role::Public => 0,
            Role::Target => 2,
            Role::Origin => 3,
            Role::Compare => 4,
            Role::Status => 5,
            Role::Extra => 6,
        };
        let public_dns = o.check.role == Role::Public && o.check.kind() == "dns";
        role + usize::from(public_dns)
    };
    let mut ordered = rows.clone();
    ordered.sort_by_key(|(o, _)| rank(o));
    for (o, r) in ordered {
        let role = o.check.role;
        let telling = r.status != Status::Pass
            || matches!(role, Role::Origin | Role::Compare | Role::Extra)
            || (role == Role::Public && matches!(o.check.spec, Spec::Http { .. }))
            || (role == Role::Target && target.failed.is_empty());
        if telling && !evidence.iter().any(|e| e == &line(r)) {
            evidence.push(line(r));
        }
    }
    if !v.silent.is_empty() {
        evidence.push(format!("note {}", silent_line(&v)));
    }

    let origin_summary = match &origin {
        OriginState::Healthy(o, a) => format!(
            "origin answers {} in {} ms",
            a.status.unwrap_or_default(),
            o.elapsed.as_millis()
        ),
        OriginState::Down { tls: true, .. } => "the origin's TLS fails".to_owned(),
        OriginState::Down { .. } => "origin fails".to_owned(),
        OriginState::Unseen(why) => why.clone(),
    };
    let target_summary = target.summary("the DNS target");
    let blind = format!(
        "this machine cannot see: no resolver answered any question here ({}); try another \
         resolver with --resolver 1.1.1.1 (repeatable), or check this machine's network",
        match (v.silent.len(), unseen(&checks)) {
            (0, Some(unseen)) => format!("nothing answered before the deadline; {unseen}"),
            (0, None) => "none was asked".to_owned(),
            (n, _) => format!("{n} timed out, refused or was unreachable on every query"),
        }
    );
    let public_zone_fails =
        public_dns.ran > 0 && public_dns.failed.len() == public_dns.ran && public_dns.own_zone;
    let mut tls_origin = false;

    let (verdict, summary) = match (public, public_answer) {
        (None, _) => (
            Verdict::Inconclusive,
            "the public URL was not checked".to_owned(),
        ),
        (Some(_), None) if !v.sees => (Verdict::Inconclusive, blind),
        (Some((o, public_report)), None) => (
            Verdict::Inconclusive,
            format!(
                "the public URL check did not finish{}; {}",
                match &o.outcome {
                    Outcome::NotRun { reason } if reason.contains("deadline") => {
                        " by the deadline (probe.deadline_ms)".to_owned()
                    }
                    _ => format!(" ({})", public_report.detail),
                },
                unseen(&checks).unwrap_or_default()
            ),
        ),
        (Some((p, public_report)), Some(answer)) => {
            let facts = path_facts(answer);
            // Users resolve the target themselves only when the edge does not proxy the host.
            let dns_only = !facts.cloudflare;
            // Only the target's failures: a proxy helps those users, not a failing own zone.
            let some_users_fail = dns_only && !target.failed.is_empty();
            let serving = facts
                .proxy_marker
                .as_ref()
                .filter(|_| !facts.through_platform());
            if let Some(marker) = serving {
                let state = if platform.healthy() {
                    "the platform path is healthy again".to_owned()
                } else if target.ran == 0 {
                    format!(
                        "the platform path cannot be seen from here ({})",
                        if v.sees {
                            "the DNS target was not checked"
                        } else {
                            "no resolver answers"
                        }
                    )
                } else {
                    "the platform path still fails".to_owned()
                };
                let what = if facts.proxy_path.is_some() {
                    "the standby proxy"
                } else {
                    "the emergency proxy"
                };
                (
                    Verdict::ProxyActive,
                    format!(
                        "{what} {marker} serves the public URL from the direct origin; {state}"
                    ),
                )
            } else if http_ok(answer) && some_users_fail {
                (
                    Verdict::Degraded,
                    format!(
                        "{target_summary}: users on those resolvers fail; the public URL answers \
                         {} through the normal path from here",
                        answer.status.unwrap_or_default()
                    ),
                )
            } else if http_ok(answer) {
                (
                    Verdict::Healthy,
                    format!(
                        "public URL answers {} in {} ms through the normal path",
                        answer.status.unwrap_or_default(),
                        p.elapsed.as_millis()
                    ),
                )
            } else if !v.sees {
                (Verdict::Inconclusive, blind)
            } else if public_zone_fails {
                (
                    Verdict::PublicDnsFailure,
                    format!(
                        "the public host's own DNS fails: {} with no CNAME; a proxy cannot fix \
                         this, escalate to the zone's DNS provider; {origin_summary}",
                        public_dns.summary("the public host")
                    ),
                )
            } else {
                match &origin {
                    OriginState::Down { detail, tls } => {
                        tls_origin = *tls;
                        let summary = if *tls {
                            format!(
                                "the direct origin's TLS fails ({detail}): the app may run, its \
                                 certificate is the problem, and a proxy cannot reach it either"
                            )
                        } else {
                            format!("the direct origin fails too ({detail}): a proxy cannot help")
                        };
                        (Verdict::OriginDown, summary)
                    }
                    OriginState::Unseen(why) => (
                        Verdict::Inconclusive,
                        format!("the public URL fails and {why}"),
                    ),
                    OriginState::Healthy(..) if facts.edge_dns_error() && target.failed.is_empty() => (
                        Verdict::DnsTargetFailure,
                        format!(
                            "the edge reports an origin DNS error (Cloudflare {}); {origin_summary}",
                            facts.edge_code.unwrap_or_default()
                        ),
                    ),
                    OriginState::Healthy(..) if !target.failed.is_empty() => (
                        Verdict::DnsTargetFailure,
                        format!("{target_summary}; {origin_summary}"),
                    ),
                    OriginState::Healthy(..) if target.ran > 0 || public_resolves(obs) => (
                        Verdict::EdgeFailure,
                        format!(
                            "public URL fails ({}) while {}; {origin_summary}",
                            public_report.detail,
                            if target.ran > 0 {
                                target_summary.clone()
                            } else {
                                "the public host resolves".to_owned()
                            }
                        ),
                    ),
                    OriginState::Healthy(..) => (
                        Verdict::Inconclusive,
                        format!(
                            "public URL fails ({}) and the DNS target is unknown; set \
                             service.dns_target",
                            public_report.detail
                        ),
                    ),
                }
            }
        }
    };
    // "N/M" counts answering resolvers only; the others are named, not hidden.
    let summary = match v.silent.len() {
        0 => summary,
        _ if !v.sees => summary,
        1 => format!("{summary}; 1 more resolver answered nothing here and is not counted"),
        n => format!("{summary}; {n} more resolvers answered nothing here and are not counted"),
    };
    let proxy = public_answer.and_then(|a| path_facts(a).proxy());
    let action = match verdict {
        // A standby Worker is meant to stay, and it goes back to the platform path by itself.
        Verdict::ProxyActive if proxy.as_ref().is_some_and(|p| p.mode == "standby") => Action::None,
        Verdict::Healthy => Action::None,
        Verdict::DnsTargetFailure | Verdict::EdgeFailure | Verdict::Degraded => Action::DeployProxy,
        Verdict::OriginDown | Verdict::Inconclusive | Verdict::PublicDnsFailure => Action::Escalate,
        Verdict::ProxyActive if platform.healthy() => Action::Rollback,
        Verdict::ProxyActive => Action::None,
    };
    let scope = if verdict == Verdict::Healthy {
        Scope::Unknown
    } else {
        scope_of(obs)
    };
    for o in obs.iter().filter(|o| o.check.role == Role::Status) {
        if let Outcome::StatusPage(page) = &o.outcome {
            if page.degraded {
                let name = match &o.check.spec {
                    Spec::StatusPage { name, .. } => name.as_str(),
                    _ => "provider",
                };
                evidence.push(format!(
                    "note {name} reports trouble: {}",
                    excerpt(&page.detail, 100)
                ));
            }
        }
    }
    let next = next_steps(verdict, action, tls_origin, v.sees);
    Diagnosis {
        verdict,
        action,
        scope,
        summary: excerpt(&summary, 400),
        evidence,
        next,
        checks,
        proxy,
        // A name read from a remote answer: bounded like every other target in the document.
        dns_target: dns_target.map(|t| DnsTarget {
            name: excerpt(&t.name, 253),
            source: t.source,
        }),
    }
}

fn public_resolves(obs: &[Observation]) -> bool {
    obs.iter().any(|o| {
        o.check.role == Role::Public && matches!(&o.outcome, Outcome::Dns(a) if !a.addrs.is_empty())
    })
}

/// `region` when another environment is healthy while this one fails, `global` when all fail.
fn scope_of(obs: &[Observation]) -> Scope {
    let mut envs: Vec<(String, bool, bool)> = Vec::new(); // name, all ran, all ok
    for o in obs.iter().filter(|o| o.check.role == Role::Compare) {
        let Some(env) = &o.check.env else { continue };
        // An environment never contacted (its name did not resolve here) did not run.
        let (ran, ok) = match http_of(o) {
            Some(a) => (reached(a), http_ok(a)),
            None => (false, false),
        };
        match envs.iter_mut().find(|(n, _, _)| n == &env.name) {
            Some(e) => {
                e.1 &= ran;
                e.2 &= ok;
            }
            None => envs.push((env.name.clone(), ran, ok)),
        }
    }
    if envs.iter().any(|(_, ran, ok)| *ran && *ok) {
        Scope::Region
    } else if !envs.is_empty() && envs.iter().all(|(_, ran, _)| *ran) {
        Scope::Global
    } else {
        Scope::Unknown
    }
}

fn next_steps(verdict: Verdict, action: Action, tls_origin: bool, sees: bool) -> Vec<String> {
    let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect();
    match (verdict, action) {
        (_, Action::DeployProxy) => v(&["failover deploy-proxy --dry-run", "failover deploy-proxy"]),
        (_, Action::Rollback) => v(&["failover rollback --dry-run", "failover rollback"]),
        (Verdict::OriginDown, _) if tls_origin => v(&[
            "fix the origin's TLS certificate (or its host name in service.origin): the platform or whoever issues it",
        ]),
        (Verdict::OriginDown, _) => v(&[
            "escalate to the platform: the app itself fails (check its logs and the provider status page)",
        ]),
        (Verdict::PublicDnsFailure, _) => v(&[
            "escalate to the public zone's DNS provider: the host's own records do not resolve",
        ]),
        (Verdict::ProxyActive, _) => v(&["failover status"]),
        (Verdict::Inconclusive, _) if !sees => v(&[
            "failover diagnose --resolver 1.1.1.1 --resolver 8.8.8.8",
            "escalate: this machine cannot see the service",
        ]),
        (Verdict::Inconclusive, _) => v(&["failover diagnose -v", "escalate: the evidence does not decide"]),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;
    use crate::config::ResolverSpec;
    use crate::observation::DnsFailure;
    use crate::observation::HttpFailure;
    use crate::observation::PageAnswer;
    use crate::observation::{CompareEnv, TargetSource};

    const TARGET: &str = "haiku-word-123.herokudns.com";
    const RESOLVERS: [&str; 4] = ["1.1.1.1:53", "8.8.8.8:53", "9.9.9.9:53", "10.0.0.2:53"];

    fn obs(role: Role, spec: Spec, outcome: Outcome, env: Option<&str>) -> Observation {
        Observation {
            check: Check {
                id: format!("{role:?}").to_lowercase(),
                role,
                spec,
                env: env.map(|n| CompareEnv {
                    name: n.to_owned(),
                    region: Some("eu".to_owned()),
                }),
            },
            outcome,
            elapsed: Duration::from_millis(84),
        }
    }

    fn resolver(r: &str) -> ResolverSpec {
        ResolverSpec::Addr(r.parse().unwrap())
    }

    /// The target on resolver `i`: `None` resolves, `Some(f)` fails with `f`.
    fn target(i: usize, failure: Option<DnsFailure>) -> Observation {
        let answer = DnsAnswer {
            name: TARGET.to_owned(),
            resolver: RESOLVERS[i].to_owned(),
            chain: vec![],
            addrs: if failure.is_none() {
                vec!["192.0.2.1".parse::<IpAddr>().unwrap()]
            } else {
                vec![]
            },
            failure: failure.map(|f| (f, "x".to_owned())),
        };
        obs(
            Role::Target,
            Spec::DnsAddrs {
                name: TARGET.to_owned(),
                resolver: resolver(RESOLVERS[i]),
            },
            Outcome::Dns(answer),
            None,
        )
    }

    /// The public host's chain on resolver `i`: the CNAME to the target, then the target's
    /// fate (the resolver answered the first hop, so it counts).
    fn chain(i: usize, failure: Option<DnsFailure>) -> Observation {
        let mut o = target(i, failure);
        let Outcome::Dns(a) = &mut o.outcome else {
            unreachable!()
        };
        a.name = "api.example.com".to_owned();
        a.chain = vec![TARGET.to_owned()];
        o.check.role = Role::Public;
        o.check.spec = Spec::DnsChain {
            host: a.name.clone(),
            resolver: resolver(RESOLVERS[i]),
        };
        o
    }

    /// The public host's own zone on resolver `i`: `None` resolves (no CNAME), `Some(f)` fails.
    fn zone(i: usize, failure: Option<DnsFailure>) -> Observation {
        let mut o = chain(i, failure);
        let Outcome::Dns(a) = &mut o.outcome else {
            unreachable!()
        };
        a.chain.clear();
        o
    }

    /// The public chain and the target on each of the four resolvers; the first `fails` fail.
    fn targets(fails: usize, failure: DnsFailure) -> Vec<Observation> {
        (0..4)
            .flat_map(|i| {
                let f = (i < fails).then_some(failure);
                [chain(i, f), target(i, f)]
            })
            .collect()
    }

    /// Resolver `i` as a resolver that never answers: every question fails with `failure`.
    fn silent(i: usize, failure: DnsFailure) -> Vec<Observation> {
        let mut z = zone(i, Some(failure));
        z.check.id = "dns.public".to_owned();
        vec![z, target(i, Some(failure))]
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> HttpAnswer {
        HttpAnswer {
            url: "https://x/".to_owned(),
            status: Some(status),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
            failure: None,
        }
    }

    fn failed(kind: HttpFailure) -> HttpAnswer {
        HttpAnswer {
            url: "https://x/".to_owned(),
            failure: Some((kind, "boom".to_owned())),
            ..HttpAnswer::default()
        }
    }

    fn http(role: Role, a: HttpAnswer) -> Observation {
        obs(
            role,
            Spec::Http {
                url: "https://x/".parse().unwrap(),
            },
            Outcome::Http(a),
            None,
        )
    }

    fn compare(ok: bool) -> Observation {
        let a = if ok {
            answer(200, &[], "ok")
        } else {
            failed(HttpFailure::Timeout)
        };
        obs(
            Role::Compare,
            Spec::Http {
                url: "https://eu/".parse().unwrap(),
            },
            Outcome::Http(a),
            Some("staging-eu"),
        )
    }

    fn not_run(role: Role) -> Observation {
        obs(
            role,
            Spec::Http {
                url: "https://x/".parse().unwrap(),
            },
            Outcome::NotRun {
                reason: "deadline".to_owned(),
            },
            None,
        )
    }

    fn page(degraded: bool) -> Observation {
        obs(
            Role::Status,
            Spec::StatusPage {
                name: "heroku".to_owned(),
                url: "https://status/".parse().unwrap(),
            },
            Outcome::StatusPage(PageAnswer {
                degraded,
                detail: "Apps: red".to_owned(),
            }),
            None,
        )
    }

    fn ok() -> HttpAnswer {
        answer(
            200,
            &[("server", "cloudflare"), ("cf-ray", "abc-IAD")],
            "ok",
        )
    }
    fn cf(status: u16, body: &str) -> HttpAnswer {
        answer(status, &[("server", "cloudflare"), ("cf-ray", "abc")], body)
    }
    fn h10() -> HttpAnswer {
        answer(
            503,
            &[("server", "heroku-router"), ("via", "1.1 heroku-router")],
            "<html><title>Application Error</title> H10 </html>",
        )
    }
    fn proxied() -> HttpAnswer {
        answer(
            200,
            &[("x-failover-proxy", "failover-api-example-com")],
            "ok",
        )
    }

    #[track_caller]
    fn check(obs: Vec<Observation>, verdict: Verdict, action: Action, scope: Scope) {
        let d = decide(&obs, None);
        assert_eq!(
            (d.verdict, d.action, d.scope),
            (verdict, action, scope),
            "summary: {}\nevidence:\n{}",
            d.summary,
            d.evidence.join("\n")
        );
        assert!(!d.summary.is_empty());
    }

    fn world(public: HttpAnswer, target: Vec<Observation>, origin: HttpAnswer) -> Vec<Observation> {
        let mut v = vec![http(Role::Public, public)];
        v.extend(target);
        v.push(http(Role::Origin, origin));
        v
    }

    fn with(
        mut v: Vec<Observation>,
        more: impl IntoIterator<Item = Observation>,
    ) -> Vec<Observation> {
        v.extend(more);
        v
    }

    use DnsFailure::{Nxdomain, Servfail, Timeout};
    use Verdict as V;

    #[test]
    fn healthy() {
        check(
            world(ok(), targets(0, Servfail), ok()),
            V::Healthy,
            Action::None,
            Scope::Unknown,
        );
    }

    #[test]
    fn healthy_with_one_of_four_resolvers_failing() {
        check(
            world(ok(), targets(1, Timeout), ok()),
            V::Healthy,
            Action::None,
            Scope::Unknown,
        );
    }

    #[test]
    fn healthy_when_public_slow_but_up() {
        let mut v = world(ok(), targets(0, Servfail), ok());
        v[0].elapsed = Duration::from_millis(4_900);
        check(v, V::Healthy, Action::None, Scope::Unknown);
    }

    #[test]
    fn october_2025_outage_region() {
        check(
            with(
                world(cf(530, "error code: 1016"), targets(4, Servfail), ok()),
                [compare(true)],
            ),
            V::DnsTargetFailure,
            Action::DeployProxy,
            Scope::Region,
        );
    }

    #[test]
    fn target_timeouts_with_public_timeout() {
        check(
            world(failed(HttpFailure::Timeout), targets(4, Timeout), ok()),
            V::DnsTargetFailure,
            Action::DeployProxy,
            Scope::Unknown,
        );
    }

    #[test]
    fn target_nxdomain_global() {
        check(
            with(
                world(cf(530, ""), targets(4, Nxdomain), ok()),
                [compare(false)],
            ),
            V::DnsTargetFailure,
            Action::DeployProxy,
            Scope::Global,
        );
    }

    #[test]
    fn one_of_four_resolvers_fails_while_public_fails() {
        check(
            world(failed(HttpFailure::Connect), targets(1, Servfail), ok()),
            V::DnsTargetFailure,
            Action::DeployProxy,
            Scope::Unknown,
        );
    }

    #[test]
    fn edge_reports_1016_though_target_resolves_here() {
        check(
            world(
                cf(530, "<h1>Error 1016</h1> Origin DNS error"),
                targets(0, Servfail),
                ok(),
            ),
            V::DnsTargetFailure,
            Action::DeployProxy,
            Scope::Unknown,
        );
    }

    #[test]
    fn origin_503_h10_is_origin_down() {
        check(
            world(h10(), targets(0, Servfail), h10()),
            V::OriginDown,
            Action::Escalate,
            Scope::Unknown,
        );
    }

    #[test]
    fn origin_down_while_target_also_fails() {
        check(
            world(
                cf(530, "error code: 1016"),
                targets(4, Servfail),
                failed(HttpFailure::Connect),
            ),
            V::OriginDown,
            Action::Escalate,
            Scope::Unknown,
        );
    }

    #[test]
    fn edge_failure_tls() {
        check(
            world(failed(HttpFailure::Tls), targets(0, Servfail), ok()),
            V::EdgeFailure,
            Action::DeployProxy,
            Scope::Unknown,
        );
    }

    #[test]
    fn edge_failure_502_from_edge() {
        check(
            with(
                world(cf(502, "error code: 502"), targets(0, Servfail), ok()),
                [compare(true)],
            ),
            V::EdgeFailure,
            Action::DeployProxy,
            Scope::Region,
        );
    }

    #[test]
    fn proxy_active_platform_healthy_again_means_rollback() {
        check(
            world(proxied(), targets(0, Servfail), ok()),
            V::ProxyActive,
            Action::Rollback,
            Scope::Unknown,
        );
    }

    #[test]
    fn proxy_active_platform_still_failing_means_none() {
        check(
            world(proxied(), targets(4, Servfail), ok()),
            V::ProxyActive,
            Action::None,
            Scope::Unknown,
        );
    }

    fn standby(path: &str) -> HttpAnswer {
        answer(
            200,
            &[
                ("server", "cloudflare"),
                ("x-failover-proxy", "failover-api-example-com"),
                ("x-failover-path", path),
            ],
            "ok",
        )
    }

    /// A standby Worker passing requests through the platform path is no incident of its own;
    /// one serving from the direct origin is our proxy at work, with nothing to do.
    #[test]
    fn standby_proxy_by_path() {
        #[track_caller]
        fn case(
            public: HttpAnswer,
            failing: usize,
            verdict: Verdict,
            action: Action,
            mode: &str,
            path: &str,
        ) {
            let d = decide(&world(public, targets(failing, Servfail), ok()), None);
            assert_eq!((d.verdict, d.action), (verdict, action), "{}", d.summary);
            let proxy = d.proxy.expect("the proxy seen");
            assert_eq!((proxy.mode, proxy.path), (mode, path));
        }
        case(
            standby("platform"),
            0,
            V::Healthy,
            Action::None,
            "standby",
            "platform",
        );
        case(
            standby("direct"),
            4,
            V::ProxyActive,
            Action::None,
            "standby",
            "direct",
        );
        case(
            standby("direct"),
            0,
            V::ProxyActive,
            Action::None,
            "standby",
            "direct",
        );
        case(
            proxied(),
            0,
            V::ProxyActive,
            Action::Rollback,
            "emergency",
            "direct",
        );
        assert_eq!(
            decide(&world(ok(), targets(0, Servfail), ok()), None).proxy,
            None
        );
    }

    #[test]
    fn public_not_run_is_inconclusive() {
        let v = vec![not_run(Role::Public), http(Role::Origin, ok())];
        check(v, V::Inconclusive, Action::Escalate, Scope::Unknown);
    }

    #[test]
    fn origin_not_run_is_inconclusive() {
        let mut v = vec![http(Role::Public, failed(HttpFailure::Timeout))];
        v.extend(targets(4, Timeout));
        v.push(not_run(Role::Origin));
        check(v, V::Inconclusive, Action::Escalate, Scope::Unknown);
    }

    #[test]
    fn unknown_target_and_unresolvable_public_is_inconclusive() {
        let v = vec![
            http(Role::Public, failed(HttpFailure::Connect)),
            http(Role::Origin, ok()),
        ];
        check(v, V::Inconclusive, Action::Escalate, Scope::Unknown);
    }

    #[test]
    fn second_origin_healthy_is_enough() {
        let v = with(
            world(cf(530, "error code: 1016"), targets(4, Servfail), h10()),
            [http(Role::Origin, ok())],
        );
        check(v, V::DnsTargetFailure, Action::DeployProxy, Scope::Unknown);
    }

    #[test]
    fn degraded_status_page_is_evidence_not_verdict() {
        let v = with(world(ok(), targets(0, Servfail), ok()), [page(true)]);
        check(v.clone(), V::Healthy, Action::None, Scope::Unknown);
        assert!(decide(&v, None)
            .evidence
            .iter()
            .any(|e| e.contains("heroku reports trouble")));
    }

    #[test]
    fn unreachable_resolver_says_nothing_about_the_target() {
        let mut v = world(failed(HttpFailure::Tls), targets(0, Servfail), ok());
        v.push(target(3, Some(DnsFailure::Connect)));
        check(v, V::EdgeFailure, Action::DeployProxy, Scope::Unknown);
    }

    #[test]
    fn failing_extra_check_is_evidence_only() {
        let v = with(
            world(ok(), targets(0, Servfail), ok()),
            [http(Role::Extra, h10())],
        );
        check(v.clone(), V::Healthy, Action::None, Scope::Unknown);
        assert!(decide(&v, None)
            .evidence
            .iter()
            .any(|e| e.starts_with("FAIL extra")));
    }

    fn unresolved(f: DnsFailure) -> HttpAnswer {
        failed(HttpFailure::Unresolved(f))
    }

    /// The verdict and action, and words the summary must hold.
    #[track_caller]
    fn says(obs: Vec<Observation>, verdict: Verdict, action: Action, words: &[&str]) -> Diagnosis {
        let d = decide(&obs, None);
        assert_eq!((d.verdict, d.action), (verdict, action), "{}", d.summary);
        for w in words {
            assert!(d.summary.contains(w), "{w:?} not in {:?}", d.summary);
        }
        d
    }

    #[test]
    fn public_zone_fails_while_the_target_resolves() {
        let mut v = vec![http(Role::Public, unresolved(Servfail))];
        v.extend((0..4).flat_map(|i| [zone(i, Some(Servfail)), target(i, None)]));
        v.push(http(Role::Origin, ok()));
        says(
            v,
            V::PublicDnsFailure,
            Action::Escalate,
            &["fails on 4/4 resolvers (SERVFAIL)", "no CNAME"],
        );
    }

    #[test]
    fn public_zone_fails_without_a_known_target() {
        let mut v = vec![http(Role::Public, unresolved(Servfail))];
        v.extend((0..4).map(|i| zone(i, Some(Servfail))));
        v.push(http(Role::Origin, ok()));
        let d = says(
            v,
            V::PublicDnsFailure,
            Action::Escalate,
            &["origin answers"],
        );
        assert!(!d.summary.contains("dns_target"), "{}", d.summary);
    }

    #[test]
    fn a_machine_without_working_dns_sees_nothing() {
        // Every resolver blackholes, the only one refuses, or none can be reached: the same.
        for failure in [Timeout, DnsFailure::Refused, DnsFailure::Connect] {
            let mut v = vec![http(Role::Public, unresolved(failure))];
            v.extend((0..4).flat_map(|i| silent(i, failure)));
            v.push(http(Role::Origin, unresolved(failure)));
            v.push(compare_unresolved());
            let d = says(
                v,
                V::Inconclusive,
                Action::Escalate,
                &["cannot see", "--resolver"],
            );
            assert_eq!(d.scope, Scope::Unknown);
        }
    }

    #[test]
    fn the_deadline_never_changes_a_blind_verdict() {
        // Cut at the deadline before any DNS timeout: the same verdict as after them.
        let mut v = vec![not_run(Role::Public)];
        v.extend((0..4).map(|i| {
            let mut o = target(i, None);
            o.outcome = Outcome::NotRun {
                reason: "unfinished at the deadline (probe.deadline_ms)".to_owned(),
            };
            o
        }));
        v.push(not_run(Role::Origin));
        says(v, V::Inconclusive, Action::Escalate, &["cannot see"]);
    }

    #[test]
    fn a_refusing_resolver_is_not_counted_against_the_target() {
        let mut v = vec![http(Role::Public, cf(530, "error code: 1016"))];
        v.extend((0..3).flat_map(|i| [chain(i, Some(Servfail)), target(i, Some(Servfail))]));
        v.extend(silent(3, DnsFailure::Refused));
        v.push(http(Role::Origin, ok()));
        let d = says(
            v,
            V::DnsTargetFailure,
            Action::DeployProxy,
            &["fails on 3/3 resolvers (SERVFAIL)"],
        );
        assert!(d
            .evidence
            .iter()
            .any(|e| e.contains("answered nothing here")));
    }

    #[test]
    fn after_recovery_a_refusing_resolver_does_not_block_rollback() {
        let mut v = vec![http(Role::Public, proxied())];
        v.extend((0..3).flat_map(|i| [chain(i, None), target(i, None)]));
        v.extend(silent(3, DnsFailure::Refused));
        v.push(http(Role::Origin, ok()));
        says(v, V::ProxyActive, Action::Rollback, &["healthy again"]);
    }

    #[test]
    fn a_dns_only_host_failing_on_some_resolvers_is_degraded() {
        let mut v = vec![http(Role::Public, answer(200, &[], "ok"))];
        v.extend((0..3).flat_map(|i| {
            let f = (i < 2).then_some(Servfail);
            [chain(i, f), target(i, f)]
        }));
        v.push(http(Role::Origin, ok()));
        says(
            v,
            V::Degraded,
            Action::DeployProxy,
            &[
                "fails on 2/3 resolvers (SERVFAIL)",
                "users on those resolvers fail",
            ],
        );
    }

    #[test]
    fn a_proxied_host_failing_on_some_resolvers_is_healthy() {
        // Cloudflare's edge resolves the target for every user: our resolvers speak for no one.
        let v = world(ok(), targets(2, Servfail), ok());
        check(v, V::Healthy, Action::None, Scope::Unknown);
    }

    #[test]
    fn an_origin_certificate_problem_is_named_not_the_app() {
        let bad_cert = HttpAnswer {
            url: "https://x/".to_owned(),
            failure: Some((
                HttpFailure::Tls,
                "TLS: a CA certificate used as the server's certificate".to_owned(),
            )),
            ..HttpAnswer::default()
        };
        let d = says(
            world(cf(530, "error code: 1016"), targets(4, Servfail), bad_cert),
            V::OriginDown,
            Action::Escalate,
            &[
                "TLS fails",
                "a CA certificate used as the server's certificate",
            ],
        );
        assert!(
            d.next.iter().all(|n| !n.contains("the app itself fails")),
            "{:?}",
            d.next
        );
        assert!(d.next[0].contains("certificate"), "{:?}", d.next);
    }

    #[test]
    fn an_origin_never_contacted_is_not_down() {
        let v = world(
            cf(530, "error code: 1016"),
            targets(4, Servfail),
            unresolved(Timeout),
        );
        says(v, V::Inconclusive, Action::Escalate, &["never reached"]);
    }

    fn compare_unresolved() -> Observation {
        let mut o = compare(false);
        o.outcome = Outcome::Http(unresolved(Timeout));
        o
    }

    #[track_caller]
    fn facts(a: HttpAnswer, edge: Option<u32>, heroku: Option<&str>, marker: bool) {
        let f = path_facts(&a);
        assert_eq!(
            (
                f.edge_code,
                f.platform_error.as_deref(),
                f.proxy_marker.is_some()
            ),
            (edge, heroku, marker)
        );
    }

    #[test]
    fn path_facts_table() {
        facts(cf(530, "error code: 1016"), Some(1016), None, false);
        facts(cf(530, ""), Some(530), None, false);
        facts(cf(502, "<span>Error 502</span>"), Some(502), None, false);
        facts(answer(530, &[], "plain"), None, None, false);
        facts(h10(), None, Some("Heroku H10"), false);
        facts(
            answer(503, &[("via", "1.1 vegur")], "Application error"),
            None,
            Some("Heroku application error"),
            false,
        );
        facts(
            answer(200, &[("via", "1.1 vegur")], "HELLO H10X"),
            None,
            None,
            false,
        );
        facts(proxied(), None, None, true);
    }

    #[test]
    fn hostile_body_is_sanitized_in_detail() {
        let learned = DnsTarget {
            name: format!("\x1b[2J{}", "a".repeat(300)),
            source: TargetSource::Cloudflare,
        };
        let d = decide(
            &world(
                answer(500, &[], "\x1b[2Jgotcha\r"),
                targets(0, Servfail),
                ok(),
            ),
            Some(&learned),
        );
        assert!(d
            .checks
            .iter()
            .all(|c| !c.detail.contains('\x1b') && !c.detail.contains('\r')));
        // The learned target is remote text too (a Cloudflare record's content).
        let target = d.dns_target.expect("the learned target is carried");
        assert_eq!(target.source, TargetSource::Cloudflare);
        assert!(
            !target.name.contains('\x1b') && target.name.chars().count() <= 253,
            "{target:?}"
        );
    }

    #[test]
    fn platform_health_table() {
        let h = platform_health(&world(ok(), targets(4, Servfail), ok()));
        assert!(!h.target_resolves && h.origin_healthy && !h.healthy());
        let h = platform_health(&world(ok(), targets(0, Servfail), ok()));
        assert!(h.healthy());
        assert_eq!(h.dns_target.as_deref(), Some(TARGET));
        let h = platform_health(&world(ok(), targets(0, Servfail), h10()));
        assert!(!h.healthy());
    }
}
