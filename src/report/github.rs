//! GitHub Actions: a Markdown summary of each command's result for `$GITHUB_STEP_SUMMARY`, and
//! workflow annotations (`::error::`, `::warning::`, `::notice::`) for incidents and failures.
//!
//! The renderings are pure (a document in, a `CiSummary` out); `GitHub::publish` is the one
//! place that appends to the summary file and writes annotations, always to stderr, so stdout
//! stays one document under `--json`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::deployment::{Deployment, MarkerCheck, Rollback, Status, Verification};
use super::diagnosis::DiagnosisDoc;
use crate::diagnose::{Status as CheckStatus, Verdict};

/// Where the CI output goes, from the environment GitHub Actions sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitHub {
    /// `GITHUB_STEP_SUMMARY`: the file each step's Markdown is appended to.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: annotation lines on stderr become workflow annotations.
    pub annotations: bool,
}

/// The severity of a workflow annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub title: String,
    pub message: String,
}

impl Annotation {
    fn new(level: Level, title: impl Into<String>, message: impl Into<String>) -> Self {
        Annotation {
            level,
            title: title.into(),
            message: message.into(),
        }
    }

    /// The workflow command, escaped as the runner expects (`%`, CR and LF in the message;
    /// also `:` and `,` in properties), so remote text cannot end it early or start another.
    pub fn line(&self) -> String {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        };
        format!(
            "::{level} title={}::{}",
            escape_property(&self.title),
            escape_data(&self.message)
        )
    }
}

/// What one command contributes to a CI run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiSummary {
    pub markdown: String,
    pub annotations: Vec<Annotation>,
}

impl GitHub {
    /// Appends the Markdown to the step summary and writes the annotations to stderr, each
    /// only when GitHub Actions asked for it.
    pub fn publish(&self, summary: &CiSummary) -> Result<()> {
        if let Some(path) = &self.step_summary {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| {
                    format!("cannot open GITHUB_STEP_SUMMARY file {}", path.display())
                })?;
            file.write_all(summary.markdown.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .with_context(|| format!("cannot write to {}", path.display()))?;
        }
        if self.annotations {
            let mut err = std::io::stderr().lock();
            for a in &summary.annotations {
                let _ = writeln!(err, "{}", a.line());
            }
        }
        Ok(())
    }

    /// An error that ended a command, as an annotation.
    pub fn failure(&self, command: &str, message: &str) -> CiSummary {
        CiSummary {
            markdown: format!("### ✗ failover {command} failed\n\n{}\n", md_block(message)),
            annotations: vec![Annotation::new(
                Level::Error,
                format!("failover {command} failed"),
                message,
            )],
        }
    }
}

/// The Markdown and annotations of a `failover.diagnosis/v1` document: what `diagnose` and
/// each cycle of a scheduled watch report.
pub fn diagnosis(doc: &DiagnosisDoc<'_>) -> CiSummary {
    let verdict = doc.verdict.as_str();
    let action = doc.action.as_str();
    let healthy = doc.verdict == Verdict::Healthy;
    let mut md = format!(
        "### {} failover diagnose: `{verdict}`\n\n{}\n\n| | |\n|---|---|\n| verdict | `{verdict}` |\n| action | `{action}` |\n| scope | `{}` |\n",
        if healthy { "✓" } else { "✗" },
        md_block(doc.summary),
        serde_plain(&doc.scope),
    );
    if let Some(next) = next_command(action) {
        md.push_str(&format!("| next | `{next}` |\n"));
    }
    md.push_str(&format!("| elapsed | {} ms |\n", doc.elapsed_ms));
    let failing: Vec<_> = doc
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Warn))
        .collect();
    if !failing.is_empty() {
        md.push_str("\n| check | target | resolver | status | error | detail |\n|---|---|---|---|---|---|\n");
        for c in failing {
            md.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                md_cell(&c.id),
                md_cell(&c.target),
                md_cell(c.resolver.as_deref().unwrap_or("")),
                serde_plain(&c.status),
                c.error.as_ref().map(serde_plain).unwrap_or_default(),
                md_cell(&c.detail),
            ));
        }
    }
    let annotations = if healthy {
        Vec::new()
    } else {
        let mut message = doc.summary.to_owned();
        if let Some(next) = next_command(action) {
            message.push_str(&format!("\nnext: {next}"));
        }
        vec![Annotation::new(
            Level::Error,
            format!("failover diagnose: {verdict} (action: {action})"),
            message,
        )]
    };
    CiSummary {
        markdown: md,
        annotations,
    }
}

/// The Markdown and annotations of a `failover.deployment/v1` document.
pub fn deployment(doc: &Deployment) -> CiSummary {
    let mut md = String::new();
    let mut annotations = Vec::new();
    let failed = doc.verification.verified == Some(false);
    let heading = if doc.dry_run {
        format!(
            "### failover deploy-proxy (dry run): plan for `{}`",
            doc.host
        )
    } else if failed {
        format!(
            "### ✗ failover deploy-proxy: `{}` applied, verification failed",
            doc.script
        )
    } else if doc.applied.is_empty() {
        format!(
            "### ✓ failover deploy-proxy: `{}` already live for `{}`",
            doc.script, doc.host
        )
    } else {
        format!(
            "### ✓ failover deploy-proxy: `{}` deployed for `{}`",
            doc.script, doc.host
        )
    };
    md.push_str(&heading);
    md.push_str("\n\n");
    md.push_str(&format!(
        "| | |\n|---|---|\n| host | `{}` |\n| zone | `{}` |\n| route | `{}` |\n| API calls | {} |\n| elapsed | {} ms |\n",
        md_cell(&doc.host),
        md_cell(&doc.zone.name),
        md_cell(&doc.pattern),
        doc.api_calls,
        doc.elapsed_ms
    ));
    steps(&mut md, doc.dry_run, &doc.plan, &doc.applied);
    verification(&mut md, &doc.verification);
    for w in &doc.warnings {
        md.push_str(&format!("\n> **warning:** {}\n", md_block(w)));
        annotations.push(Annotation::new(Level::Warning, "failover deploy-proxy", w));
    }
    if !doc.dry_run {
        md.push_str(&format!("\nUndo with `{}`\n", doc.undo));
    }
    if failed {
        annotations.push(Annotation::new(
            Level::Error,
            "failover deploy-proxy: verification failed",
            format!(
                "the proxy {} was applied but {} does not answer through it ({})",
                doc.script,
                doc.verification
                    .public_url
                    .as_ref()
                    .map_or(doc.host.as_str(), |c| c.url.as_str()),
                marker_seen(doc.verification.public_url.as_ref())
            ),
        ));
    }
    CiSummary {
        markdown: md,
        annotations,
    }
}

/// The Markdown and annotations of a `failover.rollback/v1` document.
pub fn rollback(doc: &Rollback) -> CiSummary {
    let mut md = String::new();
    let mut annotations = Vec::new();
    let failed = doc.verification.verified == Some(false);
    let heading = if doc.dry_run {
        format!("### failover rollback (dry run): plan for `{}`", doc.host)
    } else if failed {
        format!(
            "### ✗ failover rollback: `{}` removed, verification failed",
            doc.script
        )
    } else if doc.applied.is_empty() {
        format!(
            "### ✓ failover rollback: no emergency proxy for `{}`",
            doc.host
        )
    } else {
        format!(
            "### ✓ failover rollback: `{}` removed for `{}`",
            doc.script, doc.host
        )
    };
    md.push_str(&heading);
    md.push_str("\n\n");
    if let Some(p) = &doc.platform {
        md.push_str(&format!(
            "Platform path: **{}** ({})\n",
            if p.healthy { "healthy" } else { "failing" },
            md_block(&p.summary())
        ));
    }
    steps(&mut md, doc.dry_run, &doc.plan, &doc.applied);
    verification(&mut md, &doc.verification);
    for w in &doc.warnings {
        md.push_str(&format!("\n> **warning:** {}\n", md_block(w)));
        annotations.push(Annotation::new(Level::Warning, "failover rollback", w));
    }
    if failed {
        annotations.push(Annotation::new(
            Level::Error,
            "failover rollback: verification failed",
            format!(
                "{} was removed but the public URL does not answer through the platform path ({})",
                doc.script,
                marker_seen(doc.verification.public_url.as_ref())
            ),
        ));
    }
    CiSummary {
        markdown: md,
        annotations,
    }
}

/// The Markdown and annotations of a `failover.status/v1` document.
pub fn status(doc: &Status) -> CiSummary {
    let proxy = if doc.deployed {
        format!(
            "deployed (`{}`) since {}",
            md_cell(&doc.script),
            md_cell(doc.since.as_deref().unwrap_or("(unknown)"))
        )
    } else {
        "not deployed".to_owned()
    };
    let mut md = format!(
        "### failover status: `{}`\n\n| | |\n|---|---|\n| emergency proxy | {proxy} |\n| public URL | {} |\n| platform path | {} ({}) |\n",
        md_cell(&doc.host),
        md_cell(&public_seen(&doc.public_url)),
        if doc.platform.healthy { "healthy" } else { "**failing**" },
        md_cell(&doc.platform.summary()),
    );
    for r in &doc.routes {
        md.push_str(&format!(
            "| route | `{}` → `{}` |\n",
            md_cell(&r.pattern),
            md_cell(r.script.as_deref().unwrap_or("-"))
        ));
    }
    md.push_str(&format!(
        "| next | {} |\n",
        match next_command(doc.action) {
            Some(cmd) => format!("`{cmd}`"),
            None => "nothing".to_owned(),
        }
    ));
    let mut annotations = Vec::new();
    if !doc.public_url_ok() {
        annotations.push(Annotation::new(
            Level::Error,
            "failover status: users are failing",
            format!(
                "{} {}; next: {}",
                doc.public_url.url,
                public_seen(&doc.public_url),
                next_command(doc.action).unwrap_or("failover diagnose")
            ),
        ));
    } else if !doc.platform.healthy {
        annotations.push(Annotation::new(
            if doc.deployed {
                Level::Warning
            } else {
                Level::Error
            },
            "failover status: the platform path fails",
            format!(
                "{}{}",
                doc.platform.summary(),
                next_command(doc.action)
                    .map(|c| format!("; next: {c}"))
                    .unwrap_or_default()
            ),
        ));
    } else if doc.action == "rollback" {
        annotations.push(Annotation::new(
            Level::Notice,
            "failover status: the platform path is healthy again",
            "the emergency proxy can be removed: failover rollback",
        ));
    }
    CiSummary {
        markdown: md,
        annotations,
    }
}

/// The drill's outcome: one line per stage and the time to mitigation.
pub fn drill(stages: &[(String, bool)], time_to_mitigation_ms: Option<u64>) -> CiSummary {
    let ok = stages.iter().all(|(_, pass)| *pass);
    let mut md = format!(
        "### {} failover drill\n\n| stage | outcome |\n|---|---|\n",
        if ok { "✓" } else { "✗" }
    );
    for (name, pass) in stages {
        md.push_str(&format!(
            "| {} | {} |\n",
            md_cell(name),
            if *pass {
                "✓ as expected"
            } else {
                "✗ went wrong"
            }
        ));
    }
    if let Some(ms) = time_to_mitigation_ms {
        md.push_str(&format!(
            "\nTime to mitigation: {}\n",
            super::incident::human_duration(ms)
        ));
    }
    let annotations = stages
        .iter()
        .filter(|(_, pass)| !pass)
        .map(|(name, _)| {
            Annotation::new(
                Level::Error,
                "failover drill",
                format!("stage {name} went wrong"),
            )
        })
        .collect();
    CiSummary {
        markdown: md,
        annotations,
    }
}

/// The command a document's action stands for; `None` for `none`.
fn next_command(action: &str) -> Option<&'static str> {
    match action {
        "deploy-proxy" => Some("failover deploy-proxy"),
        "rollback" => Some("failover rollback"),
        "diagnose" => Some("failover diagnose"),
        "escalate" => Some("escalate to the platform or the DNS provider"),
        _ => None,
    }
}

fn steps(
    md: &mut String,
    dry_run: bool,
    plan: &crate::plan::Plan,
    applied: &[crate::apply::Applied],
) {
    if dry_run {
        md.push_str("\nPlanned calls (nothing changed):\n\n");
        for s in plan.steps() {
            md.push_str(&format!(
                "- {} (`{}`)\n",
                md_block(&s.describe()),
                md_cell(&s.call())
            ));
        }
    } else if !applied.is_empty() {
        md.push('\n');
        for a in applied {
            md.push_str(&format!(
                "- ✓ {} ({})\n",
                md_block(&a.description),
                a.outcome
            ));
        }
    }
    for same in &plan.unchanged {
        md.push_str(&format!("- = {}\n", md_block(same)));
    }
}

fn verification(md: &mut String, v: &Verification) {
    match v.verified {
        None => md.push_str("\nVerification: skipped\n"),
        Some(ok) => md.push_str(&format!(
            "\nVerification: {} ({})\n",
            if ok { "✓ passed" } else { "✗ **failed**" },
            md_block(&marker_seen(v.public_url.as_ref()))
        )),
    }
    if let Some(ws) = &v.websocket {
        md.push_str(&format!(
            "WebSocket at `{}`: {}\n",
            md_cell(&ws.path),
            match &ws.error {
                None => "✓ upgraded".to_owned(),
                Some(e) => format!("✗ {}", md_block(e)),
            }
        ));
    }
}

fn marker_seen(check: Option<&MarkerCheck>) -> String {
    match check {
        None => "not checked".to_owned(),
        Some(c) => match (&c.status, &c.marker, &c.error) {
            (_, _, Some(e)) => format!("failed: {e}"),
            (Some(s), Some(m), _) => format!("HTTP {s}, x-failover-proxy: {m}"),
            (Some(s), None, _) => format!("HTTP {s}, no x-failover-proxy header"),
            (None, _, _) => "no answer".to_owned(),
        },
    }
}

fn public_seen(p: &MarkerCheck) -> String {
    match (&p.status, &p.marker, &p.error) {
        (_, _, Some(e)) => format!("fails ({e})"),
        (Some(s), Some(m), _) => format!("HTTP {s} through the proxy ({m})"),
        (Some(s), None, _) => format!("HTTP {s}, not through the proxy"),
        (None, _, _) => "no answer".to_owned(),
    }
}

/// A serde enum's name (`dns_target_failure`, `servfail`).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Remote text as inert Markdown: control characters escaped, and the characters that would
/// start a link, an HTML tag or emphasis shown as themselves.
fn md_block(s: &str) -> String {
    let clean = crate::text::sanitize(s);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a table cell or code span: one line, no pipe, no backtick.
fn md_cell(s: &str) -> String {
    crate::text::excerpt(s, 300)
        .replace('|', "\\|")
        .replace('`', "'")
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_cannot_be_ended_early() {
        let a = Annotation::new(
            Level::Error,
            "failover diagnose: a, b",
            "50% down\n::warning::injected",
        );
        assert_eq!(
            a.line(),
            "::error title=failover diagnose%3A a%2C b::50%25 down%0A::warning::injected"
        );
    }

    #[test]
    fn remote_text_is_inert_markdown() {
        assert_eq!(
            md_block("[x](http://e) <img>"),
            "\\[x\\](http://e) \\<img\\>"
        );
        assert_eq!(md_cell("a | b\n`c`"), "a \\| b 'c'");
    }
}
