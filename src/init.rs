//! PURE: the answers `failover init` gathered -> the commented `failover.toml` it writes.
//!
//! The file comes from an embedded template; every value passes through a TOML serializer, so
//! a quote or newline in an answer cannot break the file.

use anyhow::{Context, Result};
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

use crate::runbook::{Catalog, DirectHeader, StatusPageRef, GENERIC};

const TEMPLATE: &str = include_str!("../templates/failover.toml.j2");

/// What init knows about the service, from flags, prompts and detection.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Answers {
    pub name: String,
    pub public_url: String,
    pub origins: Vec<String>,
    pub health_path: String,
    pub websocket_path: Option<String>,
    pub dns_target: Option<String>,
    /// The target came from the public host's CNAME, not from the user.
    pub detected_target: bool,
    pub runbook: Option<String>,
    /// The platform of the runbook picked (`generic` when none fits).
    pub platform: String,
    /// The platform's status page, from its runbook.
    pub status_page: Option<StatusPageRef>,
    /// Headers the platform's direct URL may need from the proxy, from its runbook.
    pub direct_headers: Vec<DirectHeader>,
    pub compare: Vec<CompareAnswer>,
    pub zone: Option<String>,
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CompareAnswer {
    pub name: String,
    pub public_url: Option<String>,
    pub origin: Option<String>,
    pub region: Option<String>,
}

impl Answers {
    /// Fills what follows from the answers: the platform's runbook (by the origin's or the DNS
    /// target's shape, from `catalog`), its status page and direct-URL headers, the name.
    pub fn infer(mut self, catalog: &Catalog) -> Self {
        let hosts: Vec<String> = self.origins.iter().filter_map(|o| host_of(o)).collect();
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let picked = catalog
            .pick(self.runbook.as_deref(), &hosts, self.dns_target.as_deref())
            .ok();
        if let Some(rb) = picked {
            if self.runbook.is_none() && rb.id != GENERIC {
                self.runbook = Some(rb.id.clone());
            }
            self.platform = rb.platform.clone();
            self.status_page = rb.status_page.clone();
            self.direct_headers = rb.direct_headers.clone();
        }
        if self.name.is_empty() {
            self.name = host_of(&self.public_url)
                .map(|h| h.split('.').next().unwrap_or(&h).to_owned())
                .unwrap_or_else(|| "api".to_owned());
        }
        if self.health_path.is_empty() {
            self.health_path = "/".to_owned();
        }
        self
    }
}

/// A path as the config takes it: starting with `/`, no control characters.
pub fn check_path(s: &str) -> Result<(), String> {
    if s.starts_with('/') && !s.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a path starting with \"/\""))
    }
}

/// `--compare NAME=URL[,origin=URL,region=R]`: a comparison environment on one line. The URL
/// after the name is the environment's public URL; `origin` and `region` are optional.
pub fn parse_compare(spec: &str) -> Result<CompareAnswer, String> {
    let usage = "expected NAME=URL[,origin=URL,region=R], e.g. \
                 staging-eu=https://staging-api.example.com,origin=https://myapp-staging.herokuapp.com,region=eu";
    let mut parts = spec.split(',').map(str::trim);
    let (name, public_url) = parts
        .next()
        .and_then(|first| first.split_once('='))
        .ok_or_else(|| format!("{spec:?}: {usage}"))?;
    if name.trim().is_empty() || public_url.trim().is_empty() {
        return Err(format!("{spec:?}: {usage}"));
    }
    let mut answer = CompareAnswer {
        name: name.trim().to_owned(),
        public_url: Some(public_url.trim().to_owned()),
        ..CompareAnswer::default()
    };
    for part in parts {
        match part.split_once('=') {
            Some(("origin", v)) if !v.trim().is_empty() => {
                answer.origin = Some(v.trim().to_owned())
            }
            Some(("region", v)) if !v.trim().is_empty() => {
                answer.region = Some(v.trim().to_owned())
            }
            _ => {
                return Err(format!(
                    "{spec:?}: {part:?} is not origin=URL or region=R; {usage}"
                ))
            }
        }
    }
    Ok(answer)
}

/// The zone a host most likely lives in: its last two labels (the user can correct it).
pub fn guess_zone(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    (labels.len() >= 2).then(|| labels[labels.len() - 2..].join("."))
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.host_str().map(str::to_owned)
}

/// Renders the commented config file.
pub fn render(answers: &Answers) -> Result<String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("toml", toml_string);
    env.add_filter("line", one_line);
    env.add_template("failover.toml", TEMPLATE)
        .context("the embedded config template is invalid")?;
    env.get_template("failover.toml")?
        .render(Value::from(minijinja::value::Serde(answers)))
        .context("cannot render failover.toml")
}

/// Text for a `#` comment: a runbook's words on one line, so they cannot end the comment.
fn one_line(value: String) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A TOML basic string, escaped by the TOML serializer itself.
fn toml_string(value: String) -> String {
    toml::Value::String(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{ApiArgs, ProbeArgs};
    use crate::config::{Env, LoadedFile, Settings};
    use std::path::Path;

    fn catalog() -> Catalog {
        Catalog::from_files(Vec::new()).unwrap()
    }

    fn resolve(text: &str) -> Settings {
        let file = LoadedFile::parse(Path::new("failover.toml"), text.to_owned())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        Settings::resolve(
            &file,
            &Env::default(),
            &ProbeArgs::default(),
            &ApiArgs::default(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn minimal_answers_render_a_valid_file() {
        let a = Answers {
            public_url: "https://api.example.com".into(),
            origins: vec!["https://app-1.herokuapp.com".into()],
            ..Answers::default()
        }
        .infer(&catalog());
        let s = resolve(&render(&a).unwrap());
        assert_eq!(s.service.name, "api");
        assert_eq!(
            s.status_pages.len(),
            2,
            "heroku origin enables the heroku status page"
        );
        assert!(s.compare.is_empty());
    }

    #[test]
    fn the_commented_proxy_section_uncommented_gives_the_defaults() {
        let a = Answers {
            public_url: "https://api.example.com".into(),
            origins: vec!["https://app-1.herokuapp.com".into()],
            ..Answers::default()
        }
        .infer(&catalog());
        let text = render(&a).unwrap();
        let mut in_proxy = false;
        let uncommented: String = text
            .lines()
            .map(|line| {
                if line == "# [proxy]" {
                    in_proxy = true;
                } else if !line.starts_with("# ") || line.starts_with("# [") {
                    in_proxy = line == "# [proxy]";
                }
                let line = match line.strip_prefix("# ") {
                    Some(rest) if in_proxy => rest,
                    _ => line,
                };
                format!("{line}\n")
            })
            .collect();
        assert!(
            uncommented.contains("\n[proxy]\ntimeout_ms = 30000"),
            "{uncommented}"
        );
        let s = resolve(&uncommented);
        assert_eq!(s.proxy, crate::config::ProxySettings::default());
    }

    #[test]
    fn everything_round_trips_even_hostile_strings() {
        let a = Answers {
            name: "a \"quoted\" \\ name\nwith newline".into(),
            public_url: "https://api.example.com".into(),
            origins: vec![
                "https://a.herokuapp.com".into(),
                "https://b.example.net".into(),
            ],
            health_path: "/health?x=\"1\"".into(),
            websocket_path: Some("/cable".into()),
            dns_target: Some("haiku-1.herokudns.com".into()),
            detected_target: true,
            compare: vec![CompareAnswer {
                name: "staging-eu".into(),
                origin: Some("https://s.herokuapp.com".into()),
                region: Some("eu".into()),
                public_url: None,
            }],
            zone: Some("example.com".into()),
            account_id: Some("abc123".into()),
            ..Answers::default()
        }
        .infer(&catalog());
        let s = resolve(&render(&a).unwrap());
        assert_eq!(s.service.name, a.name);
        assert_eq!(s.service.health_path, a.health_path);
        assert_eq!(s.service.websocket_path.as_deref(), Some("/cable"));
        assert_eq!(s.service.origins.len(), 2);
        assert_eq!(s.service.runbook.as_deref(), Some("heroku-dns-target"));
        assert_eq!(
            s.service.dns_target.as_deref(),
            Some("haiku-1.herokudns.com")
        );
        assert_eq!(s.compare[0].region.as_deref(), Some("eu"));
        assert_eq!(s.cloudflare.zone.as_deref(), Some("example.com"));
        assert_eq!(s.cloudflare.account_id.as_deref(), Some("abc123"));
    }

    #[test]
    fn compare_flags_parse() {
        let c = parse_compare(
            "staging-eu=https://s.example.com,origin=https://s.herokuapp.com,region=eu",
        )
        .unwrap();
        assert_eq!(c.name, "staging-eu");
        assert_eq!(c.public_url.as_deref(), Some("https://s.example.com"));
        assert_eq!(c.origin.as_deref(), Some("https://s.herokuapp.com"));
        assert_eq!(c.region.as_deref(), Some("eu"));
        let c = parse_compare("eu=https://eu.example.com").unwrap();
        assert_eq!((c.origin, c.region), (None, None));
        for bad in [
            "eu",
            "=https://x",
            "eu=",
            "eu=https://x,zone=y",
            "eu=https://x,origin=",
        ] {
            assert!(parse_compare(bad).is_err(), "{bad}");
        }
        assert!(check_path("/health").is_ok());
        assert!(check_path("health").is_err());
    }

    #[test]
    fn zone_guess() {
        assert_eq!(
            guess_zone("api.example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(guess_zone("example.com").as_deref(), Some("example.com"));
        assert_eq!(guess_zone("localhost"), None);
    }
}
