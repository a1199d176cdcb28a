//! The emergency proxy Worker: its settings ([`WorkerSpec`]), its name, and the pure rendering of
//! `templates/worker.js` into a self-contained ES module. No I/O happens here.
//!
//! The configuration enters the script as one JSON literal produced by serde_json, never as
//! text spliced into code, so any string in the config (quotes, backslashes, `</script>`,
//! U+2028, newlines) reaches the Worker exactly as written.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::Settings;

/// The Worker template shipped in the binary; `deploy-proxy --template PATH` replaces it.
pub const TEMPLATE: &str = include_str!("../../templates/worker.js");

/// The template's name for the engine (and its error messages).
pub const TEMPLATE_NAME: &str = "worker.js";

/// The compatibility date the Worker is written against; sent as `compatibility_date` on upload
/// and used by the local runtime. It must not be later than the runtime's own date.
pub const COMPATIBILITY_DATE: &str = "2025-09-01";

/// The response header by which verification and `diagnose` recognise the proxy.
pub const MARKER_HEADER: &str = "x-failover-proxy";

/// The largest request body held in memory so that an idempotent request can be retried on the
/// next origin; larger (or unsized) bodies stream to the primary only.
pub const DEFAULT_RETRY_BODY_LIMIT: u64 = 1024 * 1024;

/// The response header by which a standby Worker says which path served: `platform|direct`.
pub const PATH_HEADER: &str = "x-failover-path";

/// How the Worker serves: always from the direct origin(s), or through the platform's own path
/// first and from the direct origin(s) only when that path fails at the edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Emergency,
    Standby,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Emergency => "emergency",
            Mode::Standby => "standby",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the Worker needs to know, as it is serialized into the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerSpec {
    /// Emergency (direct origin always) or standby (platform path first).
    pub mode: Mode,
    /// The Worker's name, also the value of the marker header.
    pub script_name: String,
    /// The URL users hit: scheme, host, optional port.
    pub public_url: String,
    /// The direct origin URLs in order; the first is the primary.
    pub origins: Vec<String>,
    pub marker_header: String,
    /// Headers set on every request to an origin: what a platform's direct URL requires of
    /// a proxy, from `[service.origin_headers]`.
    pub origin_headers: BTreeMap<String, String>,
    /// The wait for response headers from the last origin tried; then 504.
    pub timeout_ms: u64,
    /// The wait for response headers before an idempotent request also tries the next origin.
    pub attempt_timeout_ms: u64,
    /// How long an origin that failed is skipped (per isolate).
    pub cooldown_ms: u64,
    pub retry_body_limit: u64,
}

impl WorkerSpec {
    pub fn from_settings(settings: &Settings) -> WorkerSpec {
        let service = &settings.service;
        WorkerSpec {
            mode: Mode::Emergency,
            script_name: script_name(service.public_host()),
            public_url: without_trailing_slash(service.public_url.as_str()),
            origins: service
                .origins
                .iter()
                .map(|o| without_trailing_slash(o.as_str()))
                .collect(),
            marker_header: MARKER_HEADER.to_owned(),
            origin_headers: service.origin_headers.clone(),
            timeout_ms: millis(settings.proxy.timeout),
            attempt_timeout_ms: millis(settings.proxy.attempt_timeout),
            cooldown_ms: millis(settings.proxy.cooldown),
            retry_body_limit: DEFAULT_RETRY_BODY_LIMIT,
        }
    }

    /// The spec with the default `[proxy]` waits, for tools that build one by hand.
    pub fn with_defaults(script_name: String, public_url: String, origins: Vec<String>) -> Self {
        let proxy = crate::config::ProxySettings::default();
        WorkerSpec {
            mode: Mode::Emergency,
            script_name,
            public_url,
            origins,
            marker_header: MARKER_HEADER.to_owned(),
            origin_headers: BTreeMap::new(),
            timeout_ms: millis(proxy.timeout),
            attempt_timeout_ms: millis(proxy.attempt_timeout),
            cooldown_ms: millis(proxy.cooldown),
            retry_body_limit: DEFAULT_RETRY_BODY_LIMIT,
        }
    }
}

/// Configuration bounds these to ten minutes, so they fit any integer the Worker reads.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn without_trailing_slash(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Renders `template_src` with the spec in strict mode: an undefined variable is an error.
///
/// The template sees `config_json` (the spec as a JavaScript-safe JSON literal),
/// `script_name` and `compatibility_date`.
pub fn render(template_src: &str, spec: &WorkerSpec) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // The template is JavaScript; values are placed deliberately, never auto-escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .context("cannot configure the template syntax")?;
    env.set_syntax(syntax);
    env.add_template(TEMPLATE_NAME, template_src)
        .context("the Worker template does not parse")?;
    let config_json = js_literal(spec).context("cannot serialize the Worker configuration")?;
    let ctx = minijinja::context! {
        config_json => minijinja::Value::from_safe_string(config_json),
        script_name => spec.script_name.clone(),
        compatibility_date => COMPATIBILITY_DATE,
    };
    env.get_template(TEMPLATE_NAME)
        .and_then(|t| t.render(ctx))
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("cannot render the Worker template")
}

/// JSON is valid JavaScript; escaping `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX` also keeps the
/// literal inert inside an HTML `<script>` and for older parsers, without changing its value.
pub fn js_literal<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The Worker's name for a public host: `failover-<host with dots as dashes>`, lowercase, at
/// most 63 characters, matching `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`. A name that would be
/// longer keeps its start and ends in a short hash of the full name, so two long hosts that
/// share a prefix still get different names.
pub fn script_name(host: &str) -> String {
    const MAX: usize = 63;
    const HASH_LEN: usize = 8;
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut slug = String::with_capacity(host.len());
    for c in host.chars() {
        // Dashes are kept as they are: punycode labels (`xn--`) must stay recognisable.
        slug.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    let slug = slug.trim_matches('-');
    let full = if slug.is_empty() {
        "failover".to_owned()
    } else {
        format!("failover-{slug}")
    };
    if full.len() <= MAX {
        return full;
    }
    let hash = format!("{:016x}", fnv1a64(full.as_bytes()));
    let keep = full[..MAX - HASH_LEN - 1].trim_end_matches('-');
    format!("{keep}-{}", &hash[..HASH_LEN])
}

/// FNV-1a: tiny, and stable across Rust versions (unlike `DefaultHasher`), so a host always maps
/// to the same name on every machine.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(origins: &[&str]) -> WorkerSpec {
        WorkerSpec::with_defaults(
            script_name("api.example.com"),
            "https://api.example.com".to_owned(),
            origins.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn is_valid_name(name: &str) -> bool {
        let b = name.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    }

    #[track_caller]
    fn check_name(host: &str, expected: &str) {
        let name = script_name(host);
        assert_eq!(name, expected, "script_name({host:?})");
        assert!(is_valid_name(&name), "{name:?} is not a valid script name");
    }

    #[test]
    fn script_names() {
        check_name("api.example.com", "failover-api-example-com");
        check_name("API.Example.COM.", "failover-api-example-com");
        check_name("my_app.example.com", "failover-my-app-example-com");
        check_name("xn--bcher-kva.example", "failover-xn--bcher-kva-example");
        check_name("a..b", "failover-a--b");
        check_name("", "failover");
        let long = format!("{}.example.com", "x".repeat(80));
        let name = script_name(&long);
        assert!(is_valid_name(&name), "{name}");
        assert_eq!(name.len(), 63);
        assert!(name.starts_with("failover-xxxx"));
        // Same prefix, different host: different name.
        let other = script_name(&format!("{}.example.org", "x".repeat(80)));
        assert_ne!(name, other);
        assert!(is_valid_name(&other));
        // A cut that lands on a dash still gives a valid name.
        let dashy = script_name(&format!("{}.b", "a-".repeat(40)));
        assert!(is_valid_name(&dashy), "{dashy}");
    }

    #[test]
    fn renders_the_embedded_template_with_config_as_one_literal() {
        let script = render(TEMPLATE, &spec(&["https://a.herokuapp.com"])).unwrap();
        assert!(script.contains("export default"));
        assert!(!script.contains("{{"), "unrendered placeholder left");
        let line = script
            .lines()
            .find(|l| l.starts_with("const CONFIG = "))
            .expect("the config line");
        let literal = line
            .trim_start_matches("const CONFIG = ")
            .trim_end_matches(';');
        let back: serde_json::Value = serde_json::from_str(literal).unwrap();
        assert_eq!(back["origins"][0], "https://a.herokuapp.com");
        assert_eq!(back["script_name"], "failover-api-example-com");
    }

    #[test]
    fn hostile_strings_round_trip_as_data() {
        let nasty = "a\"b'c\\d</script><!--\u{2028}\u{2029}\n\r\t`${x}`&<>\u{0}é😀";
        let mut s = spec(&["https://a.example"]);
        s.script_name = nasty.to_owned();
        let script = render(TEMPLATE, &s).unwrap();
        assert!(!script.contains("</script>"));
        assert!(!script.contains('\u{2028}') && !script.contains('\u{2029}'));
        let line = script
            .lines()
            .find(|l| l.starts_with("const CONFIG = "))
            .expect("config stays on one line");
        let literal = line
            .trim_start_matches("const CONFIG = ")
            .trim_end_matches(';');
        let back: WorkerSpecOwned = serde_json::from_str(literal).unwrap();
        assert_eq!(back.script_name, nasty);
    }

    #[derive(serde::Deserialize)]
    struct WorkerSpecOwned {
        script_name: String,
    }

    #[test]
    fn spec_from_settings() {
        let file = crate::config::LoadedFile::parse(
            std::path::Path::new("failover.toml"),
            "[service]\npublic_url = \"https://API.Example.com:8443/\"\n\
             origin = [\"https://a.herokuapp.com/\", \"http://b.example:8080/base/\"]\n\
             [proxy]\ntimeout_ms = 9000\nattempt_timeout_ms = 800\ncooldown_ms = 70\n"
                .to_owned(),
        )
        .unwrap();
        let settings = Settings::resolve(
            &file,
            &crate::config::Env::default(),
            &crate::cli::ProbeArgs::default(),
            &crate::cli::ApiArgs::default(),
        )
        .unwrap();
        let spec = WorkerSpec::from_settings(&settings);
        assert_eq!(spec.script_name, "failover-api-example-com");
        assert_eq!(spec.public_url, "https://api.example.com:8443");
        assert_eq!(
            spec.origins,
            ["https://a.herokuapp.com", "http://b.example:8080/base"]
        );
        assert_eq!(spec.marker_header, MARKER_HEADER);
        assert_eq!(
            (spec.timeout_ms, spec.attempt_timeout_ms, spec.cooldown_ms),
            (9000, 800, 70)
        );
    }

    #[test]
    fn strict_mode_rejects_an_unknown_variable() {
        let err = render("const X = {{ nope }};", &spec(&["https://a.example"])).unwrap_err();
        assert!(format!("{err:#}").contains("undefined"), "{err:#}");
    }

    #[test]
    fn a_custom_template_sees_the_documented_variables() {
        let out = render(
            "{{ script_name }} {{ compatibility_date }} {{ config_json }}",
            &spec(&["https://a.example"]),
        )
        .unwrap();
        assert!(out.starts_with("failover-api-example-com 2025-09-01 {"));
    }
}
