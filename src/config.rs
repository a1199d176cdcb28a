//! Flags, environment and `failover.toml` resolved once into validated [`Settings`].
//!
//! Precedence everywhere: flag > environment > config file > default. clap's types stop here;
//! everything after this module sees only `Settings`. A config error names the file, the line
//! and the key, and exits 2 before anything is sent anywhere.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::cli::{ApiArgs, ProbeArgs};
use crate::secret::ApiToken;

pub const DEFAULT_CONFIG: &str = "failover.toml";
pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";
pub const DEFAULT_RESOLVERS: [&str; 4] = ["system", "1.1.1.1", "8.8.8.8", "9.9.9.9"];

/// A configuration mistake, located so that the user can fix it without guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file, or a pseudo-source such as `--resolver` or `CLOUDFLARE_API_BASE_URL`.
    pub source_name: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: ", self.source_name, line)?,
            None => write!(f, "{}: ", self.source_name)?,
        }
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl ConfigError {
    fn flag(flag: &str, message: impl Into<String>) -> Self {
        ConfigError {
            source_name: flag.to_owned(),
            line: None,
            key: String::new(),
            message: message.into(),
        }
    }
}

/// The environment variables failover reads, captured once so resolution is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub config: Option<String>,
    pub api_token: Option<String>,
    pub account_id: Option<String>,
    pub api_base: Option<String>,
    pub workerd: Option<String>,
    pub ci: bool,
    pub no_color: bool,
    /// `GITHUB_STEP_SUMMARY`: where GitHub Actions collects a step's Markdown summary.
    pub github_step_summary: Option<String>,
    /// `GITHUB_ACTIONS=true`: stderr lines such as `::error::` become annotations.
    pub github_actions: bool,
}

impl Env {
    pub fn capture() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            config: var("FAILOVER_CONFIG"),
            api_token: var("CLOUDFLARE_API_TOKEN"),
            account_id: var("CLOUDFLARE_ACCOUNT_ID"),
            api_base: var("CLOUDFLARE_API_BASE_URL"),
            workerd: var("FAILOVER_WORKERD"),
            ci: var("CI").is_some_and(|v| v != "false" && v != "0"),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            github_step_summary: var("GITHUB_STEP_SUMMARY"),
            github_actions: var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub service: Option<Spanned<FileService>>,
    #[serde(default)]
    pub dns: FileDns,
    #[serde(default)]
    pub probe: FileProbe,
    #[serde(default)]
    pub compare: Vec<Spanned<FileCompare>>,
    #[serde(default)]
    pub status_pages: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub cloudflare: FileCloudflare,
    #[serde(default)]
    pub watch: FileWatch,
    #[serde(default)]
    pub notify: Vec<Spanned<FileNotify>>,
    #[serde(default)]
    pub proxy: FileProxy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileService {
    pub name: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
    pub origin: Option<Spanned<OneOrMany>>,
    pub health_path: Option<Spanned<String>>,
    pub dns_target: Option<Spanned<String>>,
    pub websocket_path: Option<Spanned<String>>,
    pub runbook: Option<Spanned<String>>,
    pub origin_headers: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileDns {
    pub resolvers: Option<Spanned<Vec<String>>>,
    pub timeout_ms: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileProbe {
    pub timeout_ms: Option<Spanned<i64>>,
    pub deadline_ms: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCompare {
    pub name: Spanned<String>,
    pub public_url: Option<Spanned<String>>,
    pub origin: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
}

/// `[proxy]`: how long the Worker waits for origins.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileProxy {
    pub timeout_ms: Option<Spanned<i64>>,
    pub attempt_timeout_ms: Option<Spanned<i64>>,
    pub cooldown_ms: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileCloudflare {
    pub account_id: Option<Spanned<String>>,
    pub zone: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileWatch {
    pub interval: Option<Spanned<String>>,
    pub deploy_after: Option<Spanned<i64>>,
    pub rollback_after: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNotify {
    pub kind: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub url_env: Option<Spanned<String>>,
    pub routing_key_env: Option<Spanned<String>>,
}

/// A parsed file and the text it came from, so later errors can still name a line.
pub struct LoadedFile {
    pub path: PathBuf,
    text: String,
    pub raw: FileConfig,
}

impl LoadedFile {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            line: None,
            key: String::new(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file; run `failover init` to write one, or pass --config PATH".to_owned()
            } else {
                format!("cannot read it: {e}")
            },
        })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let raw: FileConfig = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| line_of(&text, s.start));
            ConfigError {
                source_name: path.display().to_string(),
                line,
                key: key_of_toml_error(&e, &text),
                message: e.message().trim().to_owned(),
            }
        })?;
        Ok(LoadedFile {
            path: path.to_owned(),
            text,
            raw,
        })
    }

    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            source_name: self.path.display().to_string(),
            line: span.map(|s| line_of(&self.text, s.start)),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// toml names unknown keys in its message; pull the key out so the error reads `key: ...`.
/// Otherwise (a bad value, a control character in a string) the key is the one assigned on
/// the error's line, under the table last opened above it.
fn key_of_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message();
    if msg.starts_with("unknown field") {
        if let Some(key) = msg.split('`').nth(1) {
            return key.to_owned();
        }
    }
    let Some(span) = e.span() else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let Some((key, _)) = line.split_once('=') else {
        return String::new();
    };
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return String::new();
    }
    let table = before
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .map(|t| t.trim_matches(['[', ']']).trim().to_owned())
        })
        .next_back();
    match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The settings everything else uses.

#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    pub service: Service,
    pub dns: DnsSettings,
    pub probe: ProbeSettings,
    pub compare: Vec<Compare>,
    pub status_pages: Vec<StatusPage>,
    pub cloudflare: CloudflareSettings,
    pub watch: WatchSettings,
    pub notify: Vec<NotifySpec>,
    pub proxy: ProxySettings,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub public_url: Url,
    /// Never empty; the first is the primary.
    pub origins: Vec<Url>,
    pub health_path: String,
    pub dns_target: Option<String>,
    pub websocket_path: Option<String>,
    pub runbook: Option<String>,
    /// Headers the proxy adds to every request to the direct URL (a platform that admits only
    /// requests carrying its routing layer's id, e.g. `X-Azure-FDID`).
    pub origin_headers: BTreeMap<String, String>,
}

/// Headers the proxy itself owns on the way to the origin; a configured value must not
/// replace them.
const OWN_HEADERS: &[&str] = &[
    "host",
    "connection",
    "upgrade",
    "content-length",
    "transfer-encoding",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

fn origin_header_problem(name: &str, value: &str) -> Option<String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Some(format!("{name:?} is not an HTTP header name"));
    }
    if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Some(format!(
            "{name} is set by the proxy itself; the Host is always the origin URL's host"
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Some(format!("the value of {name} holds a control character"));
    }
    None
}

impl Service {
    /// The public host, lowercase, without port.
    pub fn public_host(&self) -> &str {
        self.public_url.host_str().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolverSpec {
    /// The system's configuration (/etc/resolv.conf).
    System,
    Addr(SocketAddr),
}

impl fmt::Display for ResolverSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolverSpec::System => f.write_str("system"),
            ResolverSpec::Addr(a) => write!(f, "{a}"),
        }
    }
}

impl ResolverSpec {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("system") {
            return Ok(ResolverSpec::System);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(ResolverSpec::Addr(SocketAddr::new(ip, 53)));
        }
        s.parse::<SocketAddr>().map(ResolverSpec::Addr).map_err(|_| {
            format!(
                "{:?} is not a resolver: use \"system\", an IP address (1.1.1.1) or IP:PORT (127.0.0.1:5353, [::1]:53)",
                crate::text::sanitize(s)
            )
        })
    }
}

#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub resolvers: Vec<ResolverSpec>,
    pub timeout: Duration,
}

/// A curl-style `--resolve HOST:PORT:ADDR` pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub host: String,
    pub port: u16,
    pub addr: IpAddr,
}

impl Pin {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{:?} is not HOST:PORT:ADDR (e.g. api.example.com:443:127.0.0.1)",
                crate::text::sanitize(s)
            )
        };
        let mut parts = s.splitn(3, ':');
        let (host, port, addr) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || !is_hostname(host) {
            return Err(bad());
        }
        Ok(Pin {
            host: host.to_ascii_lowercase(),
            port: port.parse().map_err(|_| bad())?,
            addr: addr.parse().map_err(|_| bad())?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub timeout: Duration,
    pub deadline: Duration,
    pub pins: Vec<Pin>,
}

#[derive(Debug, Clone)]
pub struct Compare {
    pub name: String,
    pub public_url: Option<Url>,
    pub origin: Option<Url>,
    pub region: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StatusPage {
    pub name: String,
    pub url: Url,
}

/// `[watch]`: how often the watch diagnoses and how many cycles in a row it waits before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSettings {
    pub interval: Duration,
    pub deploy_after: u32,
    pub rollback_after: u32,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            interval: Duration::from_secs(30),
            deploy_after: 3,
            rollback_after: 5,
        }
    }
}

/// The Worker's bounded waits (`[proxy]`). Always `attempt_timeout <= timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// How long to wait for response headers from the last origin tried before answering 504.
    pub timeout: Duration,
    /// How long to wait for response headers before an idempotent request also tries the next
    /// origin.
    pub attempt_timeout: Duration,
    /// How long an origin that just failed is skipped.
    pub cooldown: Duration,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            timeout: Duration::from_millis(DEFAULT_PROXY_TIMEOUT_MS),
            attempt_timeout: Duration::from_millis(DEFAULT_PROXY_ATTEMPT_TIMEOUT_MS),
            cooldown: Duration::from_millis(DEFAULT_PROXY_COOLDOWN_MS),
        }
    }
}

/// The systems a `[[notify]]` entry can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    Webhook,
    Slack,
    Pagerduty,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Webhook => "webhook",
            NotifyKind::Slack => "slack",
            NotifyKind::Pagerduty => "pagerduty",
        }
    }
}

/// Where a notifier's URL comes from. A URL written in the file is still treated as a secret
/// (a Slack or webhook URL usually is one): it never prints.
#[derive(Clone, PartialEq, Eq)]
pub enum UrlSource {
    File(Url),
    Env(String),
    /// PagerDuty's Events API v2, when no URL is given.
    Default,
}

impl fmt::Debug for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlSource::File(_) => f.write_str("File(<redacted>)"),
            UrlSource::Env(name) => write!(f, "Env({name})"),
            UrlSource::Default => f.write_str("Default"),
        }
    }
}

/// One `[[notify]]` entry as validated from the file; its secrets are read from the
/// environment only when the watch starts ([`NotifySpec::secrets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySpec {
    pub kind: NotifyKind,
    pub url: UrlSource,
    pub routing_key_env: Option<String>,
    /// `notify[0]`: how messages name it (never by its URL).
    pub key: String,
    source_name: String,
    line: Option<usize>,
}

/// The secrets of a notifier, read from the environment: they cannot print.
#[derive(Clone)]
pub struct NotifySecrets {
    pub url: Url,
    pub routing_key: Option<ApiToken>,
}

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

impl NotifySpec {
    /// Reads the entry's secrets through `var` (the environment); a variable that is unset,
    /// empty or not a URL is a configuration error naming the file, line and key.
    pub fn secrets(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<NotifySecrets, ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            source_name: self.source_name.clone(),
            line: self.line,
            key: format!("{}.{key}", self.key),
            message,
        };
        let read = |name: &str, key: &str| {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| err(key, format!("the environment variable {name} is unset or empty; export it before starting the watch")))
        };
        let url = match &self.url {
            UrlSource::File(url) => url.clone(),
            UrlSource::Default => Url::parse(PAGERDUTY_EVENTS_URL).expect("a valid URL"),
            UrlSource::Env(name) => {
                let raw = read(name, "url_env")?;
                // The value is a secret: the message names the variable, never its text.
                parse_url(raw.trim()).map_err(|_| {
                    err(
                        "url_env",
                        format!("{name} does not hold an http(s) URL with a host"),
                    )
                })?
            }
        };
        let routing_key = match &self.routing_key_env {
            Some(name) => {
                Some(ApiToken::new(&read(name, "routing_key_env")?).expect("checked non-empty"))
            }
            None => None,
        };
        Ok(NotifySecrets { url, routing_key })
    }
}
pub const DEFAULT_PROXY_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_PROXY_ATTEMPT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_PROXY_COOLDOWN_MS: u64 = 30_000;

#[derive(Debug, Clone)]
pub struct CloudflareSettings {
    pub account_id: Option<String>,
    pub zone: Option<String>,
    pub api_base: Url,
    pub token: Option<ApiToken>,
}

impl Settings {
    /// Resolve a parsed file plus flags and environment into settings, or say what is wrong.
    pub fn resolve(
        file: &LoadedFile,
        env: &Env,
        probe: &ProbeArgs,
        api: &ApiArgs,
    ) -> Result<Settings, ConfigError> {
        let raw = &file.raw;
        let Some(service) = &raw.service else {
            return Err(file.err(
                None,
                "service",
                "missing the [service] table (public_url and origin)",
            ));
        };
        let service_span = service.span();
        let service = service.get_ref();

        let public_url = match &service.public_url {
            Some(v) => parse_url(v.get_ref())
                .map_err(|m| file.err(Some(v.span()), "service.public_url", m))?,
            None => {
                return Err(file.err(
                    Some(service_span.clone()),
                    "service.public_url",
                    "missing; the URL users hit, e.g. \"https://api.example.com\"",
                ))
            }
        };
        if public_url.path() != "/" || public_url.query().is_some() {
            let span = service.public_url.as_ref().map(|v| v.span());
            return Err(file.err(
                span,
                "service.public_url",
                "must be scheme, host and optional port only (no path or query)",
            ));
        }

        let origins =
            match &service.origin {
                Some(v) => {
                    let list = match v.get_ref() {
                        OneOrMany::One(s) => vec![s.clone()],
                        OneOrMany::Many(l) => l.clone(),
                    };
                    if list.is_empty() {
                        return Err(file.err(
                            Some(v.span()),
                            "service.origin",
                            "needs at least one URL",
                        ));
                    }
                    list.iter()
                        .map(|s| {
                            parse_url(s).map_err(|m| file.err(Some(v.span()), "service.origin", m))
                        })
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => return Err(file.err(
                    Some(service_span),
                    "service.origin",
                    "missing; the direct platform URL, e.g. \"https://myapp-abc123.herokuapp.com\"",
                )),
            };

        let path_field =
            |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, ConfigError> {
                match v {
                    Some(p)
                        if !p.get_ref().starts_with('/')
                            || p.get_ref().chars().any(char::is_control) =>
                    {
                        Err(file.err(Some(p.span()), key, "must be a path starting with \"/\""))
                    }
                    Some(p) => Ok(Some(p.get_ref().clone())),
                    None => Ok(None),
                }
            };
        let health_path = path_field(&service.health_path, "service.health_path")?
            .unwrap_or_else(|| "/".to_owned());
        let websocket_path = path_field(&service.websocket_path, "service.websocket_path")?;
        let origin_headers = match &service.origin_headers {
            Some(h) => {
                if let Some(m) = h
                    .get_ref()
                    .iter()
                    .find_map(|(n, v)| origin_header_problem(n, v))
                {
                    return Err(file.err(Some(h.span()), "service.origin_headers", m));
                }
                h.get_ref().clone()
            }
            None => BTreeMap::new(),
        };

        let dns_target = match &service.dns_target {
            Some(t) if is_hostname(t.get_ref()) => {
                Some(t.get_ref().trim_end_matches('.').to_ascii_lowercase())
            }
            Some(t) => {
                return Err(file.err(Some(t.span()), "service.dns_target", "is not a host name"))
            }
            None => None,
        };

        let name = service
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_else(|| public_url.host_str().unwrap_or("service").to_owned());

        // DNS: the flag replaces the file's list.
        let resolvers = if !probe.resolvers.is_empty() {
            probe
                .resolvers
                .iter()
                .map(|r| ResolverSpec::parse(r).map_err(|m| ConfigError::flag("--resolver", m)))
                .collect::<Result<Vec<_>, _>>()?
        } else if let Some(list) = &raw.dns.resolvers {
            if list.get_ref().is_empty() {
                return Err(file.err(
                    Some(list.span()),
                    "dns.resolvers",
                    "needs at least one resolver",
                ));
            }
            list.get_ref()
                .iter()
                .map(|r| {
                    ResolverSpec::parse(r)
                        .map_err(|m| file.err(Some(list.span()), "dns.resolvers", m))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            DEFAULT_RESOLVERS
                .iter()
                .map(|r| ResolverSpec::parse(r).expect("default resolvers parse"))
                .collect()
        };

        let millis =
            |v: &Option<Spanned<i64>>, key: &str, default: u64| -> Result<Duration, ConfigError> {
                match v {
                    Some(ms) if (1..=600_000).contains(ms.get_ref()) => {
                        Ok(Duration::from_millis(*ms.get_ref() as u64))
                    }
                    Some(ms) => Err(file.err(
                        Some(ms.span()),
                        key,
                        "must be between 1 and 600000 milliseconds",
                    )),
                    None => Ok(Duration::from_millis(default)),
                }
            };
        let dns = DnsSettings {
            resolvers,
            timeout: millis(&raw.dns.timeout_ms, "dns.timeout_ms", 2000)?,
        };
        let pins = probe
            .resolve
            .iter()
            .map(|p| Pin::parse(p).map_err(|m| ConfigError::flag("--resolve", m)))
            .collect::<Result<Vec<_>, _>>()?;
        let probe_settings = ProbeSettings {
            timeout: millis(&raw.probe.timeout_ms, "probe.timeout_ms", 5000)?,
            deadline: millis(&raw.probe.deadline_ms, "probe.deadline_ms", 10_000)?,
            pins,
        };
        // A DNS timeout the deadline cannot outlast turns every blackholed name into an
        // unfinished check, and the outage into "the public URL check did not finish".
        if dns.timeout >= probe_settings.deadline {
            let (span, key) = match (&raw.dns.timeout_ms, &raw.probe.deadline_ms) {
                (Some(t), _) => (Some(t.span()), "dns.timeout_ms"),
                (None, Some(d)) => (Some(d.span()), "probe.deadline_ms"),
                (None, None) => (None, "dns.timeout_ms"),
            };
            return Err(file.err(
                span,
                key,
                format!(
                    "dns.timeout_ms ({} ms) must be below probe.deadline_ms ({} ms), so that a \
                     resolver that never answers is seen as a timeout before the deadline; \
                     lower dns.timeout_ms (a third of the deadline leaves room for a CNAME hop)",
                    dns.timeout.as_millis(),
                    probe_settings.deadline.as_millis()
                ),
            ));
        }

        let proxy = ProxySettings {
            timeout: millis(
                &raw.proxy.timeout_ms,
                "proxy.timeout_ms",
                DEFAULT_PROXY_TIMEOUT_MS,
            )?,
            attempt_timeout: millis(
                &raw.proxy.attempt_timeout_ms,
                "proxy.attempt_timeout_ms",
                DEFAULT_PROXY_ATTEMPT_TIMEOUT_MS,
            )?,
            cooldown: millis(
                &raw.proxy.cooldown_ms,
                "proxy.cooldown_ms",
                DEFAULT_PROXY_COOLDOWN_MS,
            )?,
        };
        if proxy.attempt_timeout > proxy.timeout {
            // Name the key the user wrote; with both written, the attempt is the one to shorten.
            let (key, value) = match (&raw.proxy.attempt_timeout_ms, &raw.proxy.timeout_ms) {
                (Some(v), _) => ("proxy.attempt_timeout_ms", v),
                (None, Some(v)) => ("proxy.timeout_ms", v),
                (None, None) => unreachable!("the defaults are ordered"),
            };
            return Err(file.err(
                Some(value.span()),
                key,
                format!(
                    "attempt_timeout_ms ({}) must not exceed timeout_ms ({}): the wait for one \
                     origin cannot be longer than the whole wait",
                    proxy.attempt_timeout.as_millis(),
                    proxy.timeout.as_millis()
                ),
            ));
        }

        let mut compare = Vec::new();
        for (i, c) in raw.compare.iter().enumerate() {
            let key = |k: &str| format!("compare[{i}].{k}");
            let c_span = c.span();
            let c = c.get_ref();
            let url_of =
                |v: &Option<Spanned<String>>, k: &str| -> Result<Option<Url>, ConfigError> {
                    v.as_ref()
                        .map(|u| {
                            parse_url(u.get_ref()).map_err(|m| file.err(Some(u.span()), &key(k), m))
                        })
                        .transpose()
                };
            let public_url = url_of(&c.public_url, "public_url")?;
            let origin = url_of(&c.origin, "origin")?;
            if public_url.is_none() && origin.is_none() {
                return Err(file.err(
                    Some(c_span),
                    &key("public_url"),
                    "a [[compare]] needs public_url, origin, or both",
                ));
            }
            compare.push(Compare {
                name: c.name.get_ref().clone(),
                public_url,
                origin,
                region: c.region.as_ref().map(|r| r.get_ref().clone()),
            });
        }

        let status_pages = raw
            .status_pages
            .iter()
            .map(|(name, u)| {
                parse_url(u.get_ref())
                    .map(|url| StatusPage {
                        name: name.clone(),
                        url,
                    })
                    .map_err(|m| file.err(Some(u.span()), &format!("status_pages.{name}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let cloudflare = resolve_cloudflare(
            env,
            api,
            raw.cloudflare
                .account_id
                .as_ref()
                .map(|v| v.get_ref().clone()),
            raw.cloudflare.zone.as_ref().map(|v| v.get_ref().clone()),
        )?;

        let watch = resolve_watch(file)?;
        let notify = raw
            .notify
            .iter()
            .enumerate()
            .map(|(i, n)| resolve_notify(file, i, n))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Settings {
            config_path: Some(file.path.clone()),
            service: Service {
                name,
                public_url,
                origins,
                health_path,
                dns_target,
                websocket_path,
                runbook: service.runbook.as_ref().map(|r| r.get_ref().clone()),
                origin_headers,
            },
            dns,
            probe: probe_settings,
            compare,
            status_pages,
            cloudflare,
            watch,
            notify,
            proxy,
        })
    }
}

/// `[watch]`: an interval such as "30s" or "500ms", and counts of cycles from 1 to 1000.
fn resolve_watch(file: &LoadedFile) -> Result<WatchSettings, ConfigError> {
    let raw = &file.raw.watch;
    let mut watch = WatchSettings::default();
    if let Some(v) = &raw.interval {
        watch.interval = crate::cli::parse_interval(v.get_ref())
            .map_err(|m| file.err(Some(v.span()), "watch.interval", m))?;
    }
    let count = |v: &Option<Spanned<i64>>, key: &str, default: u32| match v {
        Some(n) if (1..=1000).contains(n.get_ref()) => Ok(*n.get_ref() as u32),
        Some(n) => Err(file.err(
            Some(n.span()),
            key,
            "must be a count of cycles between 1 and 1000",
        )),
        None => Ok(default),
    };
    watch.deploy_after = count(&raw.deploy_after, "watch.deploy_after", watch.deploy_after)?;
    watch.rollback_after = count(
        &raw.rollback_after,
        "watch.rollback_after",
        watch.rollback_after,
    )?;
    Ok(watch)
}

/// One `[[notify]]` entry: a known kind, a URL from the file or the environment (PagerDuty's
/// own by default), and for PagerDuty the variable holding the routing key.
fn resolve_notify(
    file: &LoadedFile,
    index: usize,
    entry: &Spanned<FileNotify>,
) -> Result<NotifySpec, ConfigError> {
    let span = entry.span();
    let n = entry.get_ref();
    let key = |k: &str| format!("notify[{index}].{k}");
    let kind = match &n.kind {
        Some(k) => match k.get_ref().as_str() {
            "webhook" => NotifyKind::Webhook,
            "slack" => NotifyKind::Slack,
            "pagerduty" => NotifyKind::Pagerduty,
            other => {
                return Err(file.err(
                    Some(k.span()),
                    &key("kind"),
                    format!(
                        "{:?} is not a notifier: use \"webhook\", \"slack\" or \"pagerduty\"",
                        crate::text::sanitize(other)
                    ),
                ))
            }
        },
        None => {
            return Err(file.err(
                Some(span),
                &key("kind"),
                "missing; \"webhook\", \"slack\" or \"pagerduty\"",
            ))
        }
    };
    let env_name = |v: &Spanned<String>, k: &str| {
        let name = v.get_ref();
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(name.clone())
        } else {
            Err(file.err(
                Some(v.span()),
                &key(k),
                "must name an environment variable (letters, digits and _)",
            ))
        }
    };
    let url = match (&n.url, &n.url_env) {
        (Some(u), Some(_)) => {
            return Err(file.err(Some(u.span()), &key("url"), "give url or url_env, not both"))
        }
        (Some(u), None) => UrlSource::File(
            // A URL may hold a secret: the message does not repeat it.
            parse_url(u.get_ref()).map_err(|_| {
                file.err(
                    Some(u.span()),
                    &key("url"),
                    "is not an http(s) URL with a host",
                )
            })?,
        ),
        (None, Some(e)) => UrlSource::Env(env_name(e, "url_env")?),
        (None, None) if kind == NotifyKind::Pagerduty => UrlSource::Default,
        (None, None) => {
            return Err(file.err(
                Some(span),
                &key("url_env"),
                "missing; name the environment variable that holds the URL (or give url)",
            ))
        }
    };
    let routing_key_env = match (&n.routing_key_env, kind) {
        (Some(r), NotifyKind::Pagerduty) => Some(env_name(r, "routing_key_env")?),
        (None, NotifyKind::Pagerduty) => {
            return Err(file.err(
                Some(span),
                &key("routing_key_env"),
                "missing; name the environment variable that holds the PagerDuty routing key",
            ))
        }
        (Some(r), _) => {
            return Err(file.err(
                Some(r.span()),
                &key("routing_key_env"),
                "only a pagerduty notifier takes a routing key",
            ))
        }
        (None, _) => None,
    };
    Ok(NotifySpec {
        kind,
        url,
        routing_key_env,
        key: format!("notify[{index}]"),
        source_name: file.path.display().to_string(),
        line: Some(line_of(&file.text, span.start)),
    })
}

/// The Cloudflare part of the settings: flag > env > file, and the token never from the file.
pub fn resolve_cloudflare(
    env: &Env,
    api: &ApiArgs,
    file_account: Option<String>,
    file_zone: Option<String>,
) -> Result<CloudflareSettings, ConfigError> {
    let api_base = match &env.api_base {
        Some(b) => {
            parse_api_base(b).map_err(|m| ConfigError::flag("CLOUDFLARE_API_BASE_URL", m))?
        }
        None => Url::parse(DEFAULT_API_BASE).expect("default API base parses"),
    };
    let token = match &api.api_token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::flag(
                    "--api-token-file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            Some(ApiToken::new(&text).ok_or_else(|| {
                ConfigError::flag("--api-token-file", format!("{} is empty", path.display()))
            })?)
        }
        None => env.api_token.as_deref().and_then(ApiToken::new),
    };
    Ok(CloudflareSettings {
        account_id: env.account_id.clone().or(file_account),
        zone: file_zone,
        api_base,
        token,
    })
}

/// `CLOUDFLARE_API_BASE_URL` is used verbatim (it includes `/client/v4`), as wrangler does;
/// one trailing `/` is tolerated.
pub fn parse_api_base(s: &str) -> Result<Url, String> {
    let trimmed = s.strip_suffix('/').unwrap_or(s);
    let url = parse_url(trimmed)?;
    Ok(url)
}

/// An http(s) URL with a host, or a message saying what is wrong with it.
pub fn parse_url(s: &str) -> Result<Url, String> {
    let shown = crate::text::sanitize(s);
    let url = Url::parse(s.trim())
        .map_err(|e| format!("{shown:?} is not a URL ({e}); write it as \"https://host\""))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{shown:?} must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{shown:?} must not carry credentials"));
    }
    Ok(url)
}

pub fn is_hostname(s: &str) -> bool {
    let s = s.trim_end_matches('.');
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Which config file to read: flag > `$FAILOVER_CONFIG` > `./failover.toml`.
pub fn config_path(flag: Option<&Path>, env: &Env) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| env.config.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

/// `.failover/` beside the config file, else in the current directory; the flag or env wins.
pub fn state_dir(flag: Option<&Path>, config: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    let base = config
        .filter(|p| p.exists())
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    base.join(".failover")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Settings, ConfigError> {
        let file = LoadedFile::parse(Path::new("failover.toml"), text.to_owned())?;
        Settings::resolve(
            &file,
            &Env::default(),
            &ProbeArgs::default(),
            &ApiArgs::default(),
        )
    }

    #[track_caller]
    fn check_err(text: &str, line: usize, key: &str, needle: &str) {
        let e = load(text).expect_err("config should be rejected");
        assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
    }

    const GOOD: &str = "[service]\npublic_url = \"https://api.example.com\"\norigin = \"https://app.herokuapp.com\"\n";

    #[test]
    fn minimal_file_gets_defaults() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.service.origins.len(), 1);
        assert_eq!(s.service.health_path, "/");
        assert_eq!(s.dns.resolvers.len(), 4);
        assert_eq!(s.dns.timeout, Duration::from_millis(2000));
        assert_eq!(s.probe.deadline, Duration::from_millis(10_000));
        assert_eq!(
            s.cloudflare.api_base.as_str(),
            "https://api.cloudflare.com/client/v4"
        );
    }

    #[test]
    fn errors_name_line_and_key() {
        check_err(
            "[service]\npublic_url = \"ftp://x\"\norigin = \"https://a.b\"\n",
            2,
            "service.public_url",
            "http",
        );
        check_err(
            "[service]\npublic_url = \"https://a.b\"\norigin = [\"nope\"]\n",
            3,
            "service.origin",
            "not a URL",
        );
        check_err(
            &format!("{GOOD}[dns]\nresolvers = [\"1.1.1.1\", \"bogus\"]\n"),
            5,
            "dns.resolvers",
            "bogus",
        );
        check_err(
            &format!("{GOOD}[probe]\ndeadline_ms = 0\n"),
            5,
            "probe.deadline_ms",
            "between",
        );
        check_err(
            &format!("{GOOD}[dns]\ntimeout_ms = 3000\n[probe]\ndeadline_ms = 3000\n"),
            5,
            "dns.timeout_ms",
            "must be below probe.deadline_ms",
        );
        check_err(
            &format!("{GOOD}[probe]\ndeadline_ms = 1500\n"),
            5,
            "probe.deadline_ms",
            "must be below probe.deadline_ms",
        );
        check_err(
            &format!("{GOOD}[dns]\ntimeout = 5\n"),
            5,
            "timeout",
            "unknown field",
        );
        check_err(
            "[service]\npublic_url = \"https://a.b/path\"\norigin = \"https://c.d\"\n",
            2,
            "service.public_url",
            "no path",
        );
        check_err(
            &format!("{GOOD}health_path = \"health\"\n"),
            4,
            "service.health_path",
            "starting with",
        );
        check_err(
            &format!("{GOOD}[service.origin_headers]\nHost = \"x.example\"\n"),
            4,
            "service.origin_headers",
            "set by the proxy itself",
        );
        check_err(
            &format!("{GOOD}[service.origin_headers]\n\"X Bad\" = \"1\"\n"),
            4,
            "service.origin_headers",
            "not an HTTP header name",
        );
        check_err(
            &format!("{GOOD}[service.origin_headers]\nX-Azure-FDID = \"a\\nb\"\n"),
            4,
            "service.origin_headers",
            "control character",
        );
    }

    #[test]
    fn origin_headers_are_read() {
        let s = load(&format!(
            "{GOOD}origin_headers = {{ X-Azure-FDID = \"4c1b9d21\", x-extra = \"a b\" }}\n"
        ))
        .unwrap();
        let headers: Vec<(&str, &str)> = s
            .service
            .origin_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(headers, [("X-Azure-FDID", "4c1b9d21"), ("x-extra", "a b")]);
        assert!(load(GOOD).unwrap().service.origin_headers.is_empty());
    }

    #[test]
    fn watch_and_notify_are_validated() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.watch, WatchSettings::default());
        assert!(s.notify.is_empty());
        let s = load(&format!(
            "{GOOD}[watch]\ninterval = \"5s\"\ndeploy_after = 2\nrollback_after = 7\n\
             [[notify]]\nkind = \"slack\"\nurl_env = \"SLACK_URL\"\n\
             [[notify]]\nkind = \"pagerduty\"\nrouting_key_env = \"PD_KEY\"\n"
        ))
        .unwrap();
        assert_eq!(
            s.watch,
            WatchSettings {
                interval: Duration::from_secs(5),
                deploy_after: 2,
                rollback_after: 7
            }
        );
        assert_eq!(s.notify[0].url, UrlSource::Env("SLACK_URL".into()));
        assert_eq!(s.notify[1].url, UrlSource::Default);
        check_err(
            &format!("{GOOD}[watch]\ninterval = \"soon\"\n"),
            5,
            "watch.interval",
            "not a duration",
        );
        check_err(
            &format!("{GOOD}[watch]\ninterval = \"0s\"\n"),
            5,
            "watch.interval",
            "between",
        );
        check_err(
            &format!("{GOOD}[watch]\ndeploy_after = 0\n"),
            5,
            "watch.deploy_after",
            "between 1 and 1000",
        );
        check_err(
            &format!("{GOOD}[watch]\nevery = 3\n"),
            5,
            "every",
            "unknown field",
        );
        check_err(
            &format!("{GOOD}[[notify]]\nkind = \"email\"\nurl = \"https://x.test\"\n"),
            5,
            "notify[0].kind",
            "not a notifier",
        );
        check_err(
            &format!("{GOOD}[[notify]]\nkind = \"slack\"\n"),
            4,
            "notify[0].url_env",
            "missing",
        );
        check_err(
            &format!(
                "{GOOD}[[notify]]\nkind = \"webhook\"\nurl = \"https://x.test\"\nurl_env = \"X\"\n"
            ),
            6,
            "notify[0].url",
            "not both",
        );
        check_err(
            &format!("{GOOD}[[notify]]\nkind = \"pagerduty\"\n"),
            4,
            "notify[0].routing_key_env",
            "routing key",
        );
        check_err(
            &format!("{GOOD}[[notify]]\nkind = \"slack\"\nurl_env = \"1BAD\"\n"),
            6,
            "notify[0].url_env",
            "environment variable",
        );
        check_err(
            &format!("{GOOD}[[notify]]\nkind = \"webhook\"\nurl = \"ftp://secret-hook\"\n"),
            6,
            "notify[0].url",
            "http(s)",
        );
        // A URL in the file may be a secret: the error does not repeat it.
        let e = load(&format!(
            "{GOOD}[[notify]]\nkind = \"webhook\"\nurl = \"ftp://secret-hook\"\n"
        ))
        .unwrap_err();
        assert!(!e.to_string().contains("secret-hook"), "{e}");
    }

    #[test]
    fn notifier_secrets_come_from_the_environment_and_never_print() {
        let s = load(&format!(
            "{GOOD}[[notify]]\nkind = \"pagerduty\"\nrouting_key_env = \"PD_KEY\"\nurl_env = \"PD_URL\"\n"
        ))
        .unwrap();
        let spec = &s.notify[0];
        let e = spec.secrets(|_| None).err().unwrap();
        assert_eq!(
            (e.line, e.key.as_str()),
            (Some(4), "notify[0].url_env"),
            "{e}"
        );
        let e = spec
            .secrets(|k| (k == "PD_URL").then(|| "not a url with canary-9".to_owned()))
            .err()
            .unwrap();
        assert!(!e.to_string().contains("canary"), "{e}");
        let got = spec
            .secrets(|k| match k {
                "PD_URL" => Some("http://127.0.0.1:9/v2/enqueue".to_owned()),
                "PD_KEY" => Some("canary-key".to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(got.url.as_str(), "http://127.0.0.1:9/v2/enqueue");
        assert!(!format!("{:?} {spec:?}", got.routing_key).contains("canary"));
        let e = spec
            .secrets(|k| (k == "PD_URL").then(|| "http://127.0.0.1:9/".to_owned()))
            .err()
            .unwrap();
        assert_eq!(e.key, "notify[0].routing_key_env", "{e}");
    }

    #[test]
    fn proxy_waits_default_and_validate() {
        assert_eq!(load(GOOD).unwrap().proxy, ProxySettings::default());
        let s = load(&format!(
            "{GOOD}[proxy]\ntimeout_ms = 900\nattempt_timeout_ms = 900\ncooldown_ms = 1\n"
        ))
        .unwrap();
        assert_eq!(
            (s.proxy.timeout, s.proxy.attempt_timeout, s.proxy.cooldown),
            (
                Duration::from_millis(900),
                Duration::from_millis(900),
                Duration::from_millis(1)
            )
        );
        let proxy = |body: &str| format!("{GOOD}[proxy]\n{body}");
        check_err(
            &proxy("timeout_ms = 1000\nattempt_timeout_ms = 2000\n"),
            6,
            "proxy.attempt_timeout_ms",
            "must not exceed timeout_ms",
        );
        // Only timeout_ms written, below the default attempt timeout: that is the key to fix.
        check_err(
            &proxy("timeout_ms = 1000\n"),
            5,
            "proxy.timeout_ms",
            "must not exceed timeout_ms (1000)",
        );
        check_err(
            &proxy("\ncooldown_ms = 0\n"),
            6,
            "proxy.cooldown_ms",
            "between",
        );
        check_err(
            &proxy("timeout_ms = -5\n"),
            5,
            "proxy.timeout_ms",
            "between",
        );
        check_err(&proxy("retries = 2\n"), 5, "retries", "unknown field");
    }

    #[test]
    fn syntax_error_names_line() {
        let e = load("[service]\npublic_url = = 1\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn resolver_and_pin_parsing() {
        assert_eq!(ResolverSpec::parse("system"), Ok(ResolverSpec::System));
        assert_eq!(
            ResolverSpec::parse("1.1.1.1").unwrap().to_string(),
            "1.1.1.1:53"
        );
        assert_eq!(
            ResolverSpec::parse("[::1]:5353").unwrap().to_string(),
            "[::1]:5353"
        );
        assert!(ResolverSpec::parse("1.1.1.1:99999").is_err());
        let pin = Pin::parse("api.example.com:443:127.0.0.1").unwrap();
        assert_eq!((pin.host.as_str(), pin.port), ("api.example.com", 443));
        assert!(Pin::parse("api.example.com:443:[::1]").is_ok());
        assert!(Pin::parse("api.example.com:443").is_err());
        assert!(Pin::parse("api.example.com:x:1.2.3.4").is_err());
    }

    #[test]
    fn flags_and_env_win() {
        let file = LoadedFile::parse(
            Path::new("f.toml"),
            format!("{GOOD}[cloudflare]\naccount_id = \"file\"\n"),
        )
        .unwrap();
        let env = Env {
            account_id: Some("env".into()),
            api_base: Some("http://127.0.0.1:9/client/v4/".into()),
            ..Env::default()
        };
        let probe = ProbeArgs {
            resolvers: vec!["127.0.0.1:5353".into()],
            resolve: vec![],
        };
        let s = Settings::resolve(&file, &env, &probe, &ApiArgs::default()).unwrap();
        assert_eq!(s.cloudflare.account_id.as_deref(), Some("env"));
        assert_eq!(
            s.cloudflare.api_base.as_str(),
            "http://127.0.0.1:9/client/v4"
        );
        assert_eq!(
            s.dns.resolvers,
            vec![ResolverSpec::Addr("127.0.0.1:5353".parse().unwrap())]
        );
    }
}
