//! Runbooks as data: parsing, validation (errors name file, line and field), the embedded
//! defaults, override by id, the probe checks a runbook's steps stand for, and the Markdown a
//! team pastes into its wiki. PURE but for `load`.
//!
//! A runbook names its steps in order; each step is a check of a built-in kind with parameters.
//! Parameters may use placeholders filled from the settings at run time: {public_host},
//! {public_url}, {dns_target}, {origin}, {health_path}, {websocket_path}.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use url::Url;

use crate::config::Settings;
use crate::diagnose::{CheckReport, Status};
use crate::observation::{self, Spec};

/// The runbooks compiled into the binary, so a fresh install has them.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "heroku-dns-target.toml",
        include_str!("../runbooks/heroku-dns-target.toml"),
    ),
    (
        "generic-dns-target.toml",
        include_str!("../runbooks/generic-dns-target.toml"),
    ),
];

pub const GENERIC: &str = "generic-dns-target";

/// The placeholders a check parameter may use.
pub const PLACEHOLDERS: &[&str] = &[
    "public_host",
    "public_url",
    "dns_target",
    "origin",
    "health_path",
    "websocket_path",
];

/// The check kinds, as written in `check = { kind = "..." }`.
pub const KINDS: &[&str] = &[
    "dns",
    "http",
    "websocket",
    "compare",
    "status_page",
    "cloudflare_record",
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub platform: String,
    pub summary: String,
    /// Origins whose host ends with one of these make this the default runbook.
    pub origin_suffixes: Vec<String>,
    /// DNS targets ending with one of these make this the default runbook.
    pub target_suffixes: Vec<String>,
    pub steps: Vec<Step>,
    /// `embedded` or the file it came from.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    pub title: String,
    /// Why it matters: what a pass and a fail mean.
    pub why: String,
    pub pass: String,
    pub fail: String,
    pub check: Check,
}

/// What the check looks at. The role tells diagnose which part of the path the result speaks for;
/// `extra` checks are a team's own additions: evidence shown with the verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Public,
    Target,
    Origin,
    #[default]
    Extra,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Target => "target",
            Role::Origin => "origin",
            Role::Extra => "extra",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// Resolve `name` on every configured resolver.
    Dns {
        #[serde(default)]
        role: Role,
        name: String,
    },
    /// GET `url`; `expect_status` defaults to any 2xx/3xx.
    Http {
        #[serde(default)]
        role: Role,
        url: String,
        #[serde(default)]
        expect_status: Option<u16>,
    },
    /// A WebSocket upgrade at `path` of the public URL (or a full `url`).
    Websocket {
        #[serde(default)]
        role: Role,
        #[serde(default)]
        path: Option<String>,
        #[serde(default)]
        url: Option<String>,
    },
    /// The `[[compare]]` environments (all, or the one named).
    Compare {
        #[serde(default)]
        name: Option<String>,
    },
    /// The `[status_pages]` (all, or the one named).
    StatusPage {
        #[serde(default)]
        name: Option<String>,
    },
    /// The host's DNS record in the Cloudflare zone (needs the API token).
    CloudflareRecord { name: String },
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Dns { .. } => "dns",
            Check::Http { .. } => "http",
            Check::Websocket { .. } => "websocket",
            Check::Compare { .. } => "compare",
            Check::StatusPage { .. } => "status_page",
            Check::CloudflareRecord { .. } => "cloudflare_record",
        }
    }

    /// The parameters that may hold placeholders, with their field names.
    fn params(&self) -> Vec<(&'static str, &str)> {
        match self {
            Check::Dns { name, .. } | Check::CloudflareRecord { name } => vec![("name", name)],
            Check::Http { url, .. } => vec![("url", url)],
            Check::Websocket { path, url, .. } => path
                .iter()
                .map(|p| ("path", p.as_str()))
                .chain(url.iter().map(|u| ("url", u.as_str())))
                .collect(),
            Check::Compare { .. } | Check::StatusPage { .. } => vec![],
        }
    }

    /// The roles that mean something for this kind: the verdict reads DNS for the public
    /// chain and the target, HTTP for the public URL and the origins, WebSocket for the public
    /// URL; anything else a team wants to watch is `extra`.
    fn role_fits(&self) -> Result<(), String> {
        let (role, allowed): (Role, &[Role]) = match self {
            Check::Dns { role, .. } => (*role, &[Role::Public, Role::Target, Role::Extra]),
            Check::Http { role, .. } => (*role, &[Role::Public, Role::Origin, Role::Extra]),
            Check::Websocket { role, .. } => (*role, &[Role::Public, Role::Extra]),
            _ => return Ok(()),
        };
        if allowed.contains(&role) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(format!(
            "role {:?} does not apply to a {} check; use one of: {}",
            role.as_str(),
            self.kind(),
            names.join(", ")
        ))
    }

    /// One line saying what the check does, for `runbook show`.
    pub fn describe(&self) -> String {
        match self {
            Check::Dns { name, .. } => format!("resolve `{name}` on every configured resolver"),
            Check::Http {
                url,
                expect_status: Some(s),
                ..
            } => format!("GET `{url}`, expecting {s}"),
            Check::Http { url, .. } => format!("GET `{url}`, expecting 2xx or 3xx"),
            Check::Websocket { url: Some(u), .. } => format!("WebSocket upgrade at `{u}`"),
            Check::Websocket { path, .. } => format!(
                "WebSocket upgrade at `{{public_url}}{}`",
                path.as_deref().unwrap_or("{websocket_path}")
            ),
            Check::Compare { name: Some(n) } => format!("probe the `{n}` comparison environment"),
            Check::Compare { name: None } => "probe every `[[compare]]` environment".to_owned(),
            Check::StatusPage { name: Some(n) } => format!("read the `{n}` status page"),
            Check::StatusPage { name: None } => "read every `[status_pages]` entry".to_owned(),
            Check::CloudflareRecord { name } => {
                format!("read the Cloudflare DNS record of `{name}`")
            }
        }
    }
}

/// A runbook mistake, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RunbookError {
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RunbookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    platform: Option<String>,
    summary: String,
    #[serde(default)]
    origin_suffixes: Vec<String>,
    #[serde(default)]
    target_suffixes: Vec<String>,
    #[serde(default)]
    step: Vec<Spanned<Step>>,
}

/// Parses and validates one runbook file's text.
pub fn parse(file: &str, text: &str) -> Result<Runbook, RunbookError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let err = |span: Option<std::ops::Range<usize>>, field: &str, message: String| RunbookError {
        file: file.to_owned(),
        line: span.map(|s| line_of(s.start)),
        field: field.to_owned(),
        message,
    };
    let raw: RawRunbook = toml::from_str(text).map_err(|e| {
        // serde already lists the known check kinds in an unknown-variant message.
        err(e.span(), "", crate::text::sanitize(e.message().trim()))
    })?;

    let id = raw.id.get_ref();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(err(
            Some(raw.id.span()),
            "id",
            "must be lowercase letters, digits and dashes".to_owned(),
        ));
    }
    if raw.step.is_empty() {
        return Err(err(
            None,
            "step",
            "a runbook needs at least one [[step]]".to_owned(),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, step) in raw.step.iter().enumerate() {
        let span = step.span();
        let s = step.get_ref();
        if seen.insert(s.id.clone(), i).is_some() {
            return Err(err(
                Some(span),
                &format!("step[{i}].id"),
                format!("{:?} is used by an earlier step", s.id),
            ));
        }
        for (field, value) in s.check.params() {
            if let Err(m) = check_placeholders(value) {
                return Err(err(
                    Some(span.clone()),
                    &format!("step[{i}].check.{field}"),
                    m,
                ));
            }
        }
        if let Err(m) = s.check.role_fits() {
            return Err(err(Some(span), &format!("step[{i}].check.role"), m));
        }
        if let Check::Http {
            expect_status: Some(code),
            role,
            ..
        } = s.check
        {
            if role != Role::Extra {
                return Err(err(
                    Some(span),
                    &format!("step[{i}].check.expect_status"),
                    "is for a team's own checks (role = \"extra\"); the verdict judges public and origin answers itself".to_owned(),
                ));
            }
            if !(100..=599).contains(&code) {
                return Err(err(
                    Some(span),
                    &format!("step[{i}].check.expect_status"),
                    "must be an HTTP status (100-599)".to_owned(),
                ));
            }
        }
    }
    Ok(Runbook {
        id: id.clone(),
        title: raw.title,
        platform: raw.platform.unwrap_or_else(|| "generic".to_owned()),
        summary: raw.summary.trim().to_owned(),
        origin_suffixes: raw.origin_suffixes,
        target_suffixes: raw.target_suffixes,
        steps: raw.step.into_iter().map(Spanned::into_inner).collect(),
        source: file.to_owned(),
    })
}

fn check_placeholders(value: &str) -> Result<(), String> {
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            return Err(format!(
                "{value:?} opens a placeholder with {{ and never closes it"
            ));
        };
        let name = &rest[start + 1..start + len];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{}}}; the placeholders are: {}",
                crate::text::sanitize(name),
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &rest[start + len + 1..];
    }
    Ok(())
}

/// Fills placeholders; `None` when one of them has no value (e.g. no websocket_path configured),
/// in which case the check is skipped.
pub fn expand(value: &str, vars: &BTreeMap<&str, String>) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        let len = rest[start..].find('}')?;
        out.push_str(&rest[..start]);
        out.push_str(vars.get(&rest[start + 1..start + len])?);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Every runbook known: embedded first, then the user's, later ones overriding by id.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub runbooks: Vec<Runbook>,
}

impl Catalog {
    /// The embedded runbooks, then `files` (name and text, in order); later ones override
    /// earlier ones by id. Reading the files is the caller's (`engine::load_runbooks`).
    pub fn from_files(files: Vec<(String, String)>) -> Result<Catalog, RunbookError> {
        let embedded = EMBEDDED
            .iter()
            .map(|(name, text)| (format!("embedded:{name}"), (*text).to_owned()));
        let mut runbooks: Vec<Runbook> = Vec::new();
        for (file, text) in embedded.chain(files) {
            let rb = parse(&file, &text)?;
            match runbooks.iter_mut().find(|r| r.id == rb.id) {
                Some(slot) => *slot = rb,
                None => runbooks.push(rb),
            }
        }
        Ok(Catalog { runbooks })
    }

    pub fn get(&self, id: &str) -> Option<&Runbook> {
        self.runbooks.iter().find(|r| r.id == id)
    }

    /// The runbook for a service: the one configured, else the first whose suffixes match the
    /// origin or the DNS target, else the generic one.
    pub fn pick(
        &self,
        configured: Option<&str>,
        origin_hosts: &[&str],
        dns_target: Option<&str>,
    ) -> Result<&Runbook, String> {
        if let Some(id) = configured {
            return self.get(id).ok_or_else(|| self.unknown(id));
        }
        let matches = |r: &&Runbook| {
            origin_hosts
                .iter()
                .any(|h| r.origin_suffixes.iter().any(|s| h.ends_with(s.as_str())))
                || dns_target
                    .is_some_and(|t| r.target_suffixes.iter().any(|s| t.ends_with(s.as_str())))
        };
        self.runbooks
            .iter()
            .find(matches)
            .or_else(|| self.get(GENERIC))
            .ok_or_else(|| self.unknown(GENERIC))
    }

    pub fn unknown(&self, id: &str) -> String {
        format!(
            "no runbook {:?}; known: {} (see `failover runbook list`)",
            crate::text::sanitize(id),
            self.runbooks
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

pub fn io_err(path: &Path, e: std::io::Error) -> RunbookError {
    RunbookError {
        file: path.display().to_string(),
        line: None,
        field: String::new(),
        message: format!("cannot read it: {e}"),
    }
}

/// The runbook as Markdown for a wiki: what it is for, each step, and the exact commands.
pub fn to_markdown(rb: &Runbook) -> String {
    let mut md = format!(
        "# {}\n\n`{}` · platform: {} · source: {}\n\n{}\n\n## Steps\n\n",
        rb.title, rb.id, rb.platform, rb.source, rb.summary
    );
    md.push_str("`failover diagnose` runs every step at once, under one deadline, and prints the verdict; on a terminal it walks through the steps one by one (`e` shows a step's evidence).\n\n");
    for (i, s) in rb.steps.iter().enumerate() {
        md.push_str(&format!(
            "{}. **{}** (`{}`)\n   - Check: {}\n   - Why: {}\n   - Pass: {}\n   - Fail: {}\n",
            i + 1,
            s.title,
            s.id,
            s.check.describe(),
            s.why,
            s.pass,
            s.fail
        ));
    }
    md.push_str(
        "\n## What to run\n\n\
| when | command |\n|---|---|\n\
| find out what is broken | `failover diagnose` |\n\
| verdict `dns_target_failure` or `edge_failure`: see the plan | `failover deploy-proxy --dry-run` |\n\
| put the emergency proxy in front of the direct origin | `failover deploy-proxy` |\n\
| is the proxy live, is the platform healthy yet? | `failover status` |\n\
| the platform path works again (`diagnose` says `rollback`) | `failover rollback` |\n\
| write the postmortem timeline | `failover report > incident.md` |\n\
| `origin_down` or `inconclusive` | escalate: a proxy cannot help |\n",
    );
    md
}

/// One step made concrete for a service: the probe checks it runs, or why it runs none.
#[derive(Debug, Clone)]
pub struct StepPlan {
    pub step: Step,
    /// The probe checks, in the order they join the run.
    pub checks: Vec<observation::Check>,
    /// The DNS target is learned from the public host's CNAME at run time; the target checks
    /// the probe layer adds then belong to this step.
    pub learns_target: bool,
    /// A check that cannot run here, reported as skipped in the document (with its reason).
    pub skipped: Vec<CheckReport>,
    /// Why the step runs nothing (a placeholder without a value), for people only: the
    /// document then looks exactly as it would without the step.
    pub note: Option<String>,
    /// `expect_status` of a team's own HTTP step.
    pub expect_status: Option<u16>,
    /// The host whose Cloudflare DNS record a `cloudflare_record` step reads (the API is
    /// configured; otherwise the step is skipped with what it needs).
    pub cloudflare_record: Option<String>,
}

/// The runbook's steps as probe checks for these settings. The embedded runbooks produce
/// exactly [`observation::standard_checks`], in the same order; a team's `extra` steps add checks
/// whose results are evidence only.
pub fn plan(rb: &Runbook, settings: &Settings) -> Vec<StepPlan> {
    let service = &settings.service;
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("public_host", service.public_host().to_owned());
    vars.insert("public_url", base(&service.public_url));
    vars.insert("health_path", service.health_path.clone());
    if let Some(target) = &service.dns_target {
        vars.insert("dns_target", target.clone());
    }
    if let Some(path) = &service.websocket_path {
        vars.insert("websocket_path", path.clone());
    }
    let standard = observation::standard_checks(settings);
    let mut learning = false;
    rb.steps
        .iter()
        .map(|step| plan_step(step, settings, &vars, &standard, &mut learning))
        .collect()
}

/// Scheme, host and port: what `{public_url}` and `{origin}` stand for, so that
/// `{origin}{health_path}` is the origin at its health path, as the standard checks probe it.
fn base(url: &Url) -> String {
    url[..url::Position::BeforePath].to_owned()
}

/// The first placeholder in `value` without a value.
fn missing<'v>(value: &'v str, vars: &BTreeMap<&str, String>) -> Option<&'v str> {
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        let len = rest[start..].find('}')?;
        let name = &rest[start + 1..start + len];
        if !vars.contains_key(name) {
            return Some(name);
        }
        rest = &rest[start + len + 1..];
    }
    None
}

fn plan_step(
    step: &Step,
    settings: &Settings,
    vars: &BTreeMap<&str, String>,
    standard: &[observation::Check],
    learning: &mut bool,
) -> StepPlan {
    let mut plan = StepPlan {
        step: step.clone(),
        checks: Vec::new(),
        learns_target: false,
        skipped: Vec::new(),
        note: None,
        expect_status: None,
        cloudflare_record: None,
    };
    let extra_id = format!("extra.{}", step.id);
    // `{origin}` stands for each origin in turn: one check per origin, as the standard set has.
    let expand_all = |value: &str| -> Result<Vec<String>, String> {
        let origins: Vec<String> = if value.contains("{origin}") {
            settings.service.origins.iter().map(base).collect()
        } else {
            vec![String::new()]
        };
        origins
            .into_iter()
            .map(|origin| {
                let mut vars = vars.clone();
                vars.insert("origin", origin);
                expand(value, &vars)
                    .ok_or_else(|| missing(value, &vars).unwrap_or_default().to_owned())
            })
            .collect()
    };
    let no_value = |name: &str| format!("skipped: {{{name}}} has no value in this configuration");
    let skip = |plan: &mut StepPlan, kind: &'static str, target: &str, reason: String| {
        plan.skipped.push(CheckReport {
            id: extra_id.clone(),
            kind,
            target: crate::text::excerpt(target, 200),
            resolver: None,
            status: Status::Skip,
            error: None,
            detail: crate::text::excerpt(&reason, 200),
            elapsed_ms: 0,
        });
    };
    // One check per expanded URL; a value that is not a URL is skipped with the reason.
    let url_checks = |plan: &mut StepPlan,
                      kind: &'static str,
                      value: &str,
                      id: &str,
                      role: observation::Role,
                      spec: fn(Url) -> Spec| match expand_all(value) {
        Ok(urls) => {
            for u in urls {
                match Url::parse(&u) {
                    Ok(url) => plan.checks.push(observation::Check {
                        id: id.to_owned(),
                        role,
                        spec: spec(url),
                        env: None,
                    }),
                    Err(e) => skip(plan, kind, &u, format!("not a URL: {e}")),
                }
            }
        }
        Err(m) => plan.note = Some(no_value(&m)),
    };
    match &step.check {
        Check::Dns { role, name } => {
            let names = match expand_all(name) {
                Ok(names) => names,
                Err(m) if *role == Role::Target && m == "dns_target" && !*learning => {
                    *learning = true;
                    plan.learns_target = true;
                    return plan;
                }
                Err(m) => {
                    plan.note = Some(no_value(&m));
                    return plan;
                }
            };
            for name in names {
                if *role == Role::Target {
                    plan.checks
                        .extend(observation::target_checks(settings, &name));
                    continue;
                }
                // An IP literal has no name to resolve.
                if name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
                    plan.note = Some(format!("skipped: {name} is an address, not a name"));
                    continue;
                }
                let (id, role) = match role {
                    Role::Public => ("dns.public".to_owned(), observation::Role::Public),
                    _ => (extra_id.clone(), observation::Role::Extra),
                };
                plan.checks
                    .extend(
                        settings
                            .dns
                            .resolvers
                            .iter()
                            .map(|resolver| observation::Check {
                                id: id.clone(),
                                role,
                                spec: Spec::DnsChain {
                                    host: name.clone(),
                                    resolver: resolver.clone(),
                                },
                                env: None,
                            }),
                    );
            }
        }
        Check::Http {
            role,
            url,
            expect_status,
        } => {
            plan.expect_status = *expect_status;
            let (id, role) = match role {
                Role::Public => ("http.public".to_owned(), observation::Role::Public),
                Role::Origin => ("http.origin".to_owned(), observation::Role::Origin),
                _ => (extra_id.clone(), observation::Role::Extra),
            };
            url_checks(&mut plan, "http", url, &id, role, |url| Spec::Http { url });
        }
        Check::Websocket { role, path, url } => {
            let (id, role) = match role {
                Role::Public => ("ws.public".to_owned(), observation::Role::Public),
                _ => (extra_id.clone(), observation::Role::Extra),
            };
            let value = match (url, path) {
                (Some(u), _) => u.clone(),
                (None, Some(p)) => format!("{{public_url}}{p}"),
                (None, None) => "{public_url}{websocket_path}".to_owned(),
            };
            url_checks(&mut plan, "websocket", &value, &id, role, |url| {
                Spec::WebSocket { url }
            });
        }
        Check::Compare { name } => {
            plan.checks.extend(
                standard
                    .iter()
                    .filter(|c| c.role == observation::Role::Compare)
                    .filter(|c| name.is_none() || c.env.as_ref().map(|e| &e.name) == name.as_ref())
                    .cloned(),
            );
            match name {
                Some(n) if plan.checks.is_empty() => skip(
                    &mut plan,
                    "compare",
                    n,
                    format!("no [[compare]] named {n:?} with a URL in the config"),
                ),
                None if plan.checks.is_empty() => {
                    plan.note = Some("skipped: no [[compare]] environment configured".to_owned())
                }
                _ => {}
            }
        }
        Check::StatusPage { name } => {
            plan.checks.extend(
                standard
                    .iter()
                    .filter(|c| match &c.spec {
                        Spec::StatusPage { name: page, .. } => {
                            name.as_ref().is_none_or(|n| n == page)
                        }
                        _ => false,
                    })
                    .cloned(),
            );
            match name {
                Some(n) if plan.checks.is_empty() => skip(
                    &mut plan,
                    "status_page",
                    n,
                    format!("no [status_pages] entry named {n:?} in the config"),
                ),
                None if plan.checks.is_empty() => {
                    plan.note = Some("skipped: no [status_pages] configured".to_owned())
                }
                _ => {}
            }
        }
        Check::CloudflareRecord { name } => {
            let target = expand_all(name)
                .ok()
                .and_then(|n| n.into_iter().next())
                .unwrap_or_else(|| name.clone());
            let cf = &settings.cloudflare;
            let mut needs = Vec::new();
            if cf.token.is_none() {
                needs.push("CLOUDFLARE_API_TOKEN (or --api-token-file)");
            }
            if cf.account_id.is_none() {
                needs.push("[cloudflare].account_id (or CLOUDFLARE_ACCOUNT_ID)");
            }
            if needs.is_empty() {
                plan.cloudflare_record = Some(target);
                return plan;
            }
            let reason = format!(
                "reading the Cloudflare record needs {}",
                needs.join(" and ")
            );
            skip(&mut plan, "cloudflare_record", &target, reason);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: &str =
        "[[step]]\nid = \"a\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\n";
    const HEAD: &str = "id = \"mine\"\ntitle = \"T\"\nsummary = \"S\"\n";

    #[track_caller]
    fn check_ok(body: &str, kind: &str) {
        let rb =
            parse("mine.toml", &format!("{HEAD}{STEP}{body}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rb.steps[0].check.kind(), kind);
    }

    #[track_caller]
    fn check_err(text: &str, line: Option<usize>, field: &str, needle: &str) {
        let e = parse("mine.toml", text).expect_err("runbook should be rejected");
        assert_eq!((e.line, e.field.as_str()), (line, field), "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
        assert!(e.to_string().starts_with("mine.toml"), "{e}");
    }

    #[test]
    fn good_files() {
        check_ok(
            "check = { kind = \"dns\", role = \"target\", name = \"{dns_target}\" }\n",
            "dns",
        );
        check_ok(
            "check = { kind = \"dns\", name = \"other.example.com\" }\n",
            "dns",
        );
        check_ok("check = { kind = \"http\", url = \"https://x.example.com/ping\", expect_status = 204 }\n", "http");
        check_ok(
            "check = { kind = \"websocket\", role = \"public\", path = \"{websocket_path}\" }\n",
            "websocket",
        );
        check_ok(
            "check = { kind = \"compare\", name = \"staging-eu\" }\n",
            "compare",
        );
        check_ok("check = { kind = \"status_page\" }\n", "status_page");
        check_ok(
            "check = { kind = \"cloudflare_record\", name = \"{public_host}\" }\n",
            "cloudflare_record",
        );
    }

    #[test]
    fn each_kind_of_mistake() {
        check_err(&format!("{HEAD}{STEP}check = {{ kind = \"ping\" }}\n"), Some(10), "", "expected one of `dns`, `http`, `websocket`, `compare`, `status_page`, `cloudflare_record`");
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"dns\" }}\n"),
            Some(10),
            "",
            "missing field `name`",
        );
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"dns\", name = \"x\", colour = 1 }}\n"),
            Some(10),
            "",
            "colour",
        );
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"http\", url = \"{{origin}}{{helth}}\" }}\n"),
            Some(4),
            "step[0].check.url",
            "unknown placeholder {helth}",
        );
        check_err(
            &format!(
                "{HEAD}{STEP}check = {{ kind = \"http\", url = \"x\", expect_status = 99 }}\n"
            ),
            Some(4),
            "step[0].check.expect_status",
            "100-599",
        );
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"dns\", role = \"boss\", name = \"x\" }}\n"),
            Some(10),
            "",
            "boss",
        );
        check_err(&format!("{HEAD}{STEP}check = {{ kind = \"compare\" }}\n{STEP}check = {{ kind = \"compare\" }}\n"), Some(11), "step[1].id", "earlier step");
        check_err(&format!("id = \"Bad Id\"\ntitle = \"T\"\nsummary = \"S\"\n{STEP}check = {{ kind = \"compare\" }}\n"), Some(1), "id", "lowercase");
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"http\", role = \"target\", url = \"x\" }}\n"),
            Some(4),
            "step[0].check.role",
            "use one of: public, origin, extra",
        );
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"websocket\", role = \"origin\" }}\n"),
            Some(4),
            "step[0].check.role",
            "does not apply to a websocket check",
        );
        check_err(
            &format!("{HEAD}{STEP}check = {{ kind = \"http\", role = \"origin\", url = \"x\", expect_status = 204 }}\n"),
            Some(4),
            "step[0].check.expect_status",
            "role = \"extra\"",
        );
        check_err(HEAD, None, "step", "at least one");
        check_err(
            &format!("{HEAD}{STEP}"),
            Some(4),
            "",
            "missing field `check`",
        );
        check_err("title = \"T\"\n", Some(1), "", "missing field `id`");
    }

    #[test]
    fn embedded_runbooks_validate_and_override_by_id() {
        let cat = Catalog::from_files(Vec::new()).unwrap();
        assert_eq!(cat.runbooks.len(), EMBEDDED.len());
        let heroku = cat.pick(None, &["myapp-abc.herokuapp.com"], None).unwrap();
        assert_eq!(heroku.id, "heroku-dns-target");
        assert_eq!(
            cat.pick(None, &["x.onrender.com"], None).unwrap().id,
            GENERIC
        );
        assert_eq!(
            cat.pick(None, &["x.example"], Some("haiku-1.herokudns.com"))
                .unwrap()
                .id,
            "heroku-dns-target"
        );
        assert!(cat
            .pick(Some("nope"), &[], None)
            .unwrap_err()
            .contains("known: heroku-dns-target, generic-dns-target"));

        let dir = tempfile::tempdir().unwrap();
        let mine = format!("id = \"heroku-dns-target\"\ntitle = \"Ours\"\nsummary = \"S\"\n{STEP}check = {{ kind = \"dns\", name = \"db.example.com\" }}\n");
        std::fs::write(dir.path().join("heroku.toml"), mine).unwrap();
        let cat = crate::engine::load_runbooks(Some(dir.path()), None).unwrap();
        assert_eq!(
            cat.runbooks.len(),
            EMBEDDED.len(),
            "same id overrides, never duplicates"
        );
        assert_eq!(cat.get("heroku-dns-target").unwrap().title, "Ours");
    }

    fn settings(toml: &str) -> Settings {
        use crate::cli::{ApiArgs, ProbeArgs};
        use crate::config::{Env, LoadedFile};
        let file = LoadedFile::parse(Path::new("failover.toml"), toml.to_owned())
            .unwrap_or_else(|e| panic!("{e}"));
        let probe = ProbeArgs {
            resolvers: vec!["127.0.0.1:5353".into(), "127.0.0.2:5353".into()],
            resolve: vec![],
        };
        Settings::resolve(&file, &Env::default(), &probe, &ApiArgs::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn planned(rb: &Runbook, s: &Settings) -> Vec<observation::Check> {
        plan(rb, s).into_iter().flat_map(|p| p.checks).collect()
    }

    /// The embedded runbooks are the standard checks, exactly, whatever the configuration.
    #[test]
    fn embedded_runbooks_plan_the_standard_checks() {
        let cat = Catalog::from_files(Vec::new()).unwrap();
        let service = "[service]\npublic_url = \"https://api.example.com\"\n";
        let configs = [
            format!("{service}origin = \"https://a.herokuapp.com\"\n"),
            format!("{service}origin = [\"https://a.herokuapp.com/app\", \"https://b.example.net:8443\"]\nhealth_path = \"/health?deep=1\"\ndns_target = \"haiku-1.herokudns.com\"\nwebsocket_path = \"/cable\"\n[[compare]]\nname = \"eu\"\npublic_url = \"https://eu.example.com\"\norigin = \"https://eu.herokuapp.com\"\n[[compare]]\nname = \"us\"\norigin = \"https://us.herokuapp.com\"\n[status_pages]\nheroku = \"https://status.heroku.com/api/v4/current-status\"\ncloudflare = \"https://www.cloudflarestatus.com/api/v2/summary.json\"\n"),
            "[service]\npublic_url = \"http://127.0.0.1:8080\"\norigin = \"http://[::1]:9000\"\n".to_owned(),
        ];
        for config in &configs {
            let s = settings(config);
            for rb in &cat.runbooks {
                assert_eq!(
                    planned(rb, &s),
                    observation::standard_checks(&s),
                    "{} on\n{config}",
                    rb.id
                );
            }
        }
        // Without a configured target, the target step learns it at run time.
        let s = settings(&configs[0]);
        let plans = plan(cat.get("heroku-dns-target").unwrap(), &s);
        assert!(plans.iter().filter(|p| p.learns_target).count() == 1);
        assert!(plans
            .iter()
            .find(|p| p.step.id == "websocket")
            .unwrap()
            .note
            .is_some());
    }

    /// A team's own steps: extra checks with their own ids, skips that say why.
    #[test]
    fn a_teams_steps_plan_extra_checks() {
        let text = format!(
            "{HEAD}{STEP}check = {{ kind = \"dns\", name = \"db.{{public_host}}\" }}\n\
             [[step]]\nid = \"b\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\n\
             check = {{ kind = \"http\", url = \"{{origin}}/ping\", expect_status = 204 }}\n\
             [[step]]\nid = \"c\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\n\
             check = {{ kind = \"cloudflare_record\", name = \"{{public_host}}\" }}\n\
             [[step]]\nid = \"d\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\n\
             check = {{ kind = \"compare\", name = \"mars\" }}\n"
        );
        let rb = parse("mine.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let s = settings("[service]\npublic_url = \"https://api.example.com\"\norigin = [\"https://a.example.net\", \"https://b.example.net\"]\n");
        let plans = plan(&rb, &s);
        let dns = &plans[0].checks;
        assert_eq!(dns.len(), 2, "one per resolver");
        assert!(dns
            .iter()
            .all(|c| c.id == "extra.a" && c.role == observation::Role::Extra));
        assert_eq!(dns[0].target(), "db.api.example.com");
        let http: Vec<String> = plans[1].checks.iter().map(|c| c.target()).collect();
        assert_eq!(
            http,
            ["https://a.example.net/ping", "https://b.example.net/ping"]
        );
        assert_eq!(plans[1].expect_status, Some(204));
        let cf = &plans[2].skipped[0];
        assert_eq!((cf.kind, cf.status), ("cloudflare_record", Status::Skip));
        assert!(cf.detail.contains("CLOUDFLARE_API_TOKEN"), "{}", cf.detail);
        assert_eq!(plans[2].cloudflare_record, None);
        assert!(plans[3].skipped[0]
            .detail
            .contains("no [[compare]] named \"mars\""));
    }

    #[test]
    fn placeholders_expand_or_skip() {
        let vars: BTreeMap<&str, String> = [
            ("origin", "https://a.herokuapp.com".to_owned()),
            ("health_path", "/health".to_owned()),
        ]
        .into();
        assert_eq!(
            expand("{origin}{health_path}", &vars).as_deref(),
            Some("https://a.herokuapp.com/health")
        );
        assert_eq!(expand("{websocket_path}", &vars), None);
        assert_eq!(expand("plain", &vars).as_deref(), Some("plain"));
    }

    #[test]
    fn markdown_names_the_commands() {
        let cat = Catalog::from_files(Vec::new()).unwrap();
        let md = to_markdown(cat.get("heroku-dns-target").unwrap());
        assert!(md.starts_with("# Heroku"));
        assert!(md.contains("1. **Resolve the custom domain**"));
        assert!(
            md.contains("`failover deploy-proxy --dry-run`") && md.contains("`failover rollback`")
        );
    }
}
