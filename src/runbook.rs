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
use crate::observation::{self, Spec};

/// The runbooks compiled into the binary, so a fresh install has them. Order matters where two
/// claim one DNS target: the first wins when no origin decides.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "heroku-dns-target.toml",
        include_str!("../runbooks/heroku-dns-target.toml"),
    ),
    (
        "azure-front-door.toml",
        include_str!("../runbooks/azure-front-door.toml"),
    ),
    (
        "google-cloud-run.toml",
        include_str!("../runbooks/google-cloud-run.toml"),
    ),
    (
        "google-app-engine.toml",
        include_str!("../runbooks/google-app-engine.toml"),
    ),
    ("vercel.toml", include_str!("../runbooks/vercel.toml")),
    ("railway.toml", include_str!("../runbooks/railway.toml")),
    (
        "aws-api-gateway.toml",
        include_str!("../runbooks/aws-api-gateway.toml"),
    ),
    (
        "generic-dns-target.toml",
        include_str!("../runbooks/generic-dns-target.toml"),
    ),
];

pub const GENERIC: &str = "generic-dns-target";

/// The platform signatures of the embedded runbooks, parsed once. Diagnose recognises every
/// platform's errors whichever runbook runs: an error page is an error wherever it comes from.
pub fn signatures() -> &'static [Signature] {
    static SIGNATURES: std::sync::LazyLock<Vec<Signature>> = std::sync::LazyLock::new(|| {
        EMBEDDED
            .iter()
            .filter_map(|(name, text)| parse(name, text).ok()?.signature)
            .collect()
    });
    &SIGNATURES
}

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
    /// What the custom domain's DNS target looks like on this platform, for people.
    pub target_shape: Option<String>,
    /// What the direct URL looks like on this platform, for people.
    pub origin_shape: Option<String>,
    /// The platform's status page, which `init` writes into `[status_pages]`.
    pub status_page: Option<StatusPageRef>,
    /// Headers the direct URL may need from a proxy; `init` writes them, commented, into
    /// `[service.origin_headers]`, where their values live.
    pub direct_headers: Vec<DirectHeader>,
    /// How diagnose recognises the platform's own layer and the errors it reports for the app.
    pub signature: Option<Signature>,
    pub steps: Vec<Step>,
    /// `embedded` or the file it came from.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StatusPageRef {
    /// The key in `[status_pages]`.
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DirectHeader {
    pub name: String,
    /// When the direct URL needs it, and where its value comes from.
    pub why: String,
}

/// A platform's fingerprints in an HTTP answer. PURE data; [`Signature::error_in`] reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// How the platform is named in evidence, e.g. `Heroku` (`Heroku H10`).
    pub name: String,
    /// How its layer is named in a check's path, e.g. `heroku router`.
    pub via: String,
    /// Headers that show the platform's own layer answered.
    #[serde(default)]
    pub served_by: Vec<HeaderMatch>,
    /// A word whose presence in the body also lets the error signatures apply (an error page
    /// served without the layer's headers).
    #[serde(default)]
    pub mention: Option<String>,
    #[serde(default)]
    pub error: Vec<ErrorSignature>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub header: String,
    /// Case-insensitive; empty: the header's presence is enough.
    #[serde(default)]
    pub contains: String,
}

/// An error the platform's layer reports on the app's behalf. Where it looks: the value of
/// `header`, else the body. What it finds: a `code` shape (letters, `_`, and `#` for a digit,
/// standing alone, e.g. `H##`), else the `text` (case-insensitive), else the header's presence
/// (its value is then the code).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ErrorSignature {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// Only answers with at least this status count.
    #[serde(default)]
    pub min_status: Option<u16>,
}

/// The parts of an HTTP answer a signature reads; the caller lends them, so this module needs
/// no probe type.
pub struct Answer<'a> {
    pub status: Option<u16>,
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
    pub body: &'a str,
}

impl Signature {
    /// The platform's layer answered (one of `served_by` matched).
    pub fn served(&self, a: &Answer<'_>) -> bool {
        self.served_by.iter().any(|m| {
            (a.header)(&m.header).is_some_and(|v| {
                v.to_ascii_lowercase()
                    .contains(&m.contains.to_ascii_lowercase())
            })
        })
    }

    /// The platform error this answer reports (`H10`, `DEPLOYMENT_NOT_FOUND`, a phrase), when
    /// the platform's layer answered or the body mentions the platform.
    pub fn error_in(&self, a: &Answer<'_>) -> Option<String> {
        let named = self.served(a)
            || self.mention.as_ref().is_some_and(|m| {
                a.body
                    .to_ascii_lowercase()
                    .contains(&m.to_ascii_lowercase())
            });
        if !named {
            return None;
        }
        self.error.iter().find_map(|e| {
            if e.min_status
                .is_some_and(|min| a.status.is_none_or(|s| s < min))
            {
                return None;
            }
            let hay = match &e.header {
                Some(h) => (a.header)(h)?,
                None => a.body,
            };
            if let Some(shape) = &e.code {
                return find_code(hay, shape);
            }
            if let Some(text) = &e.text {
                return hay
                    .to_ascii_lowercase()
                    .contains(&text.to_ascii_lowercase())
                    .then(|| match e.header {
                        Some(_) => crate::text::excerpt(hay, 60),
                        None => text.clone(),
                    });
            }
            e.header.as_ref().map(|_| crate::text::excerpt(hay, 60))
        })
    }
}

/// The first run of `text` fitting `shape` (`#` a digit, anything else itself) that stands
/// alone: no letter, digit or `_` right before or after it.
fn find_code(text: &str, shape: &str) -> Option<String> {
    let (t, s) = (text.as_bytes(), shape.as_bytes());
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (0..=t.len().checked_sub(s.len())?).find_map(|i| {
        let fits = s.iter().zip(&t[i..]).all(|(p, c)| match p {
            b'#' => c.is_ascii_digit(),
            p => p == c,
        });
        let before = i == 0 || !word(t[i - 1]);
        let after = t.get(i + s.len()).is_none_or(|b| !word(*b));
        (fits && before && after).then(|| text[i..i + s.len()].to_owned())
    })
}

/// Whether `host` ends with `suffix`, where `*` in the suffix stands for any run of characters
/// within one label (`.vercel-dns*.com` fits `cname.vercel-dns-017.com`).
pub fn suffix_fits(host: &str, suffix: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let want: Vec<&str> = suffix.trim_start_matches('.').split('.').collect();
    let have: Vec<&str> = host.split('.').collect();
    // A suffix that starts with a dot needs a label before it: `.herokuapp.com` is not
    // `herokuapp.com` itself.
    let extra = usize::from(suffix.starts_with('.'));
    if have.len() < want.len() + extra {
        return false;
    }
    want.iter()
        .zip(&have[have.len() - want.len()..])
        .all(|(w, h)| label_fits(h.as_bytes(), w.as_bytes()))
}

fn label_fits(label: &[u8], pattern: &[u8]) -> bool {
    match pattern.split_first() {
        None => label.is_empty(),
        Some((b'*', rest)) => (0..=label.len()).any(|i| label_fits(&label[i..], rest)),
        Some((p, rest)) => label
            .split_first()
            .is_some_and(|(c, tail)| c == p && label_fits(tail, rest)),
    }
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
    target_shape: Option<String>,
    #[serde(default)]
    origin_shape: Option<String>,
    #[serde(default)]
    status_page: Option<Spanned<StatusPageRef>>,
    #[serde(default)]
    direct_header: Vec<Spanned<DirectHeader>>,
    #[serde(default)]
    signature: Option<Spanned<Signature>>,
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
    if let Some(page) = &raw.status_page {
        let name = &page.get_ref().name;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err(
                Some(page.span()),
                "status_page.name",
                "must be letters, digits, dashes or underscores (a key in [status_pages])"
                    .to_owned(),
            ));
        }
        if Url::parse(&page.get_ref().url).is_err() {
            return Err(err(
                Some(page.span()),
                "status_page.url",
                "must be a URL, e.g. \"https://status.example.com/api/v2/summary.json\"".to_owned(),
            ));
        }
    }
    for (i, h) in raw.direct_header.iter().enumerate() {
        let name = &h.get_ref().name;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(err(
                Some(h.span()),
                &format!("direct_header[{i}].name"),
                "must be an HTTP header name (letters, digits, dashes)".to_owned(),
            ));
        }
    }
    if let Some(sig) = &raw.signature {
        for (i, e) in sig.get_ref().error.iter().enumerate() {
            if e.header.is_none() && e.code.is_none() && e.text.is_none() {
                return Err(err(
                    Some(sig.span()),
                    &format!("signature.error[{i}]"),
                    "needs `code`, `text` or `header` to look for".to_owned(),
                ));
            }
            if e.code.as_deref() == Some("") || e.text.as_deref() == Some("") {
                return Err(err(
                    Some(sig.span()),
                    &format!("signature.error[{i}]"),
                    "`code` and `text` must not be empty".to_owned(),
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
        target_shape: raw.target_shape,
        origin_shape: raw.origin_shape,
        status_page: raw.status_page.map(Spanned::into_inner),
        direct_headers: raw
            .direct_header
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        signature: raw.signature.map(Spanned::into_inner),
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
        // The origin names the platform that serves the app; a target suffix can be shared
        // (Cloud Run and App Engine both use ghs.googlehosted.com), so it decides only when
        // no origin does.
        let by_origin = self.runbooks.iter().find(|r| {
            origin_hosts
                .iter()
                .any(|h| r.origin_suffixes.iter().any(|s| suffix_fits(h, s)))
        });
        let by_target = || {
            let t = dns_target?;
            self.runbooks
                .iter()
                .find(|r| r.target_suffixes.iter().any(|s| suffix_fits(t, s)))
        };
        by_origin
            .or_else(by_target)
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
        "# {}\n\n`{}` · platform: {} · source: {}\n\n{}\n\n",
        rb.title, rb.id, rb.platform, rb.source, rb.summary
    );
    let platform_facts = [
        rb.target_shape
            .as_ref()
            .map(|t| format!("- Custom domain's DNS target: `{t}`\n")),
        rb.origin_shape
            .as_ref()
            .map(|o| format!("- Direct URL (the proxy's origin): `{o}`\n")),
        rb.status_page
            .as_ref()
            .map(|p| format!("- Status page: `{} = \"{}\"`\n", p.name, p.url)),
        rb.signature.as_ref().map(|s| {
            let errors: Vec<String> = s
                .error
                .iter()
                .map(|e| match (&e.code, &e.text, &e.header) {
                    (Some(c), _, _) => format!("`{c}` (# a digit)"),
                    (_, Some(t), _) => format!("\"{t}\""),
                    (_, _, Some(h)) => format!("a `{h}` header"),
                    _ => String::new(),
                })
                .collect();
            format!("- Errors diagnose recognises: {}\n", errors.join(", "))
        }),
    ];
    let facts: String = platform_facts.into_iter().flatten().collect();
    if !facts.is_empty() || !rb.direct_headers.is_empty() {
        md.push_str("## The platform\n\n");
        md.push_str(&facts);
        for h in &rb.direct_headers {
            md.push_str(&format!(
                "- Header the direct URL may need (`[service.origin_headers]`): `{}`: {}\n",
                h.name, h.why
            ));
        }
        md.push('\n');
    }
    md.push_str("## Steps\n\n");
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
| verdict `dns_target_failure`, `edge_failure` or `degraded`: see the plan | `failover deploy-proxy --dry-run` |\n\
| put the emergency proxy in front of the direct origin | `failover deploy-proxy` |\n\
| is the proxy live, is the platform healthy yet? | `failover status` |\n\
| the platform path works again (`diagnose` says `rollback`) | `failover rollback` |\n\
| write the postmortem timeline | `failover report > incident.md` |\n\
| `origin_down`, `public_dns_failure` or `inconclusive` | escalate: a proxy cannot help |\n",
    );
    md
}

/// A step's check that cannot run here (no token, no value for a placeholder, a value that is
/// not a URL): it joins the diagnosis as a skipped check with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: String,
    pub kind: &'static str,
    pub target: String,
    pub reason: String,
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
    pub skipped: Vec<Skipped>,
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

/// Scheme, host and port: what `{public_url}` stands for, so that `{public_url}{health_path}`
/// is the public URL at its health path, as the standard checks probe it.
fn base(url: &Url) -> String {
    url[..url::Position::BeforePath].to_owned()
}

/// What `{origin}` stands for: the direct URL with its own path (API Gateway's stage), without
/// a trailing slash, so that `{origin}{health_path}` is where the proxy sends `health_path`.
fn origin_base(url: &Url) -> String {
    url[..url::Position::AfterPath]
        .trim_end_matches('/')
        .to_owned()
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
            settings.service.origins.iter().map(origin_base).collect()
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
        plan.skipped.push(Skipped {
            id: extra_id.clone(),
            kind,
            target: crate::text::excerpt(target, 200),
            reason: crate::text::excerpt(&reason, 200),
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
            .contains("known: heroku-dns-target, azure-front-door"));

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
        assert_eq!(cf.kind, "cloudflare_record");
        assert!(cf.reason.contains("CLOUDFLARE_API_TOKEN"), "{}", cf.reason);
        assert_eq!(plans[2].cloudflare_record, None);
        assert!(plans[3].skipped[0]
            .reason
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

    /// Each platform's runbook, from its origin's shape or its DNS target's shape alone.
    #[test]
    fn pick_by_platform_shape() {
        let cat = Catalog::from_files(Vec::new()).unwrap();
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("myapp-abc.herokuapp.com", None, "heroku-dns-target"),
            (
                "x.example",
                Some("haiku-1.herokudns.com."),
                "heroku-dns-target",
            ),
            ("contoso.azurewebsites.net", None, "azure-front-door"),
            (
                "x.example",
                Some("contoso-frontend-mdjf2jfgjf82mnzx.z01.azurefd.net"),
                "azure-front-door",
            ),
            ("svc-abc123xyz-uc.a.run.app", None, "google-cloud-run"),
            // The shared Google target: the origin decides, else Cloud Run (listed first).
            (
                "my-project.appspot.com",
                Some("ghs.googlehosted.com"),
                "google-app-engine",
            ),
            (
                "x.example",
                Some("ghs.googlehosted.com"),
                "google-cloud-run",
            ),
            ("acme-web.vercel.app", None, "vercel"),
            ("x.example", Some("cname.vercel-dns.com"), "vercel"),
            (
                "x.example",
                Some("d1d4fc829fe7bc7c.vercel-dns-017.com"),
                "vercel",
            ),
            ("api-production.up.railway.app", None, "railway"),
            ("x.example", Some("g05ns7.up.railway.app"), "railway"),
            (
                "abc123.execute-api.us-east-1.amazonaws.com",
                None,
                "aws-api-gateway",
            ),
            (
                "x.example",
                Some("d-abcde12345.execute-api.ap-southeast-2.amazonaws.com"),
                "aws-api-gateway",
            ),
            // One name for the custom domain and the direct URL: no platform runbook fits.
            ("x.onrender.com", None, GENERIC),
            ("exemplum.fly.dev", None, GENERIC),
            ("brave-curie-671954.netlify.app", None, GENERIC),
            ("octocat.github.io", Some("octocat.github.io"), GENERIC),
            // A suffix is a suffix: the platform's own apex, or a look-alike, is not the platform.
            ("herokuapp.com", None, GENERIC),
            ("evilvercel.app", None, GENERIC),
            ("x.example", Some("vercel-dns.com.example"), GENERIC),
            ("x.example", Some("s3.us-east-1.amazonaws.com"), GENERIC),
        ];
        for (origin, target, want) in cases {
            let got = &cat.pick(None, &[origin], *target).unwrap().id;
            assert_eq!(got, want, "origin {origin}, target {target:?}");
        }
        for rb in &cat.runbooks {
            assert!(rb.id == GENERIC || rb.platform != "generic", "{}", rb.id);
        }
    }

    /// The error signatures of the embedded runbooks, as diagnose applies them.
    #[test]
    fn error_signatures() {
        let cat = Catalog::from_files(Vec::new()).unwrap();
        let sig = |id: &str| cat.get(id).unwrap().signature.clone().unwrap();
        #[track_caller]
        fn check(
            sig: &Signature,
            status: u16,
            headers: &[(&str, &str)],
            body: &str,
            want: Option<&str>,
        ) {
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            };
            let a = Answer {
                status: Some(status),
                header: &header,
                body,
            };
            assert_eq!(sig.error_in(&a).as_deref(), want, "{headers:?} {body:?}");
        }
        let heroku = sig("heroku-dns-target");
        check(
            &heroku,
            503,
            &[("server", "heroku-router")],
            "<!-- code=H10 desc=\"App crashed\" -->",
            Some("H10"),
        );
        check(&heroku, 503, &[("via", "1.1 vegur")], "H12", Some("H12"));
        check(&heroku, 200, &[("via", "1.1 vegur")], "HELLO H10X", None);
        check(&heroku, 503, &[], "H10", None);
        check(
            &heroku,
            503,
            &[],
            "Heroku | Application Error",
            Some("application error"),
        );
        check(&heroku, 404, &[], "Heroku | Application Error", None);
        let vercel = sig("vercel");
        check(
            &vercel,
            404,
            &[("server", "Vercel")],
            "404: NOT_FOUND Code: DEPLOYMENT_NOT_FOUND",
            Some("DEPLOYMENT_NOT_FOUND"),
        );
        check(
            &vercel,
            504,
            &[("x-vercel-id", "hnd1::fs8k9")],
            "Code: FUNCTION_INVOCATION_TIMEOUT",
            Some("FUNCTION_INVOCATION_TIMEOUT"),
        );
        check(
            &vercel,
            200,
            &[],
            "DEPLOYMENT_NOT_FOUND in an app's own page",
            None,
        );
        let afd = sig("azure-front-door");
        check(
            &afd,
            503,
            &[("x-azure-ref", "0WKZEYg")],
            "<h2>Our services aren't available right now</h2>",
            Some("Our services aren't available right now"),
        );
        check(&afd, 200, &[("x-azure-ref", "0WKZEYg")], "ok", None);
        let railway = sig("railway");
        check(&railway, 404, &[], "Not Found\nThe train has not arrived at the station.\nhttps://docs.railway.com/guides/public-networking", Some("The train has not arrived at the station"));
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
