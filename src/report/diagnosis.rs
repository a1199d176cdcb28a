//! The diagnosis for people (verdict first, then the evidence, then the exact next command) and
//! the `failover.diagnosis/v1` document.

use serde::Serialize;

use crate::diagnose::{
    Action, CheckReport, Diagnosis, ErrorKind, ProxySeen, Scope, Status, Verdict,
};
use crate::observation::DnsTarget;
use crate::text::sanitize;
use crate::ui::{Paint, Printer};

pub const SCHEMA: &str = "failover.diagnosis/v1";

/// The `failover.diagnosis/v1` document, exactly as CONTRACT.md shows it.
#[derive(Debug, Serialize)]
pub struct DiagnosisDoc<'a> {
    pub schema: &'static str,
    pub verdict: Verdict,
    pub action: Action,
    pub scope: Scope,
    pub summary: &'a str,
    /// Added to v1 (optional): the DNS target checked and where it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_target: Option<&'a DnsTarget>,
    /// Added to v1 (optional): our Worker, when it answered the public URL (mode and path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<&'a ProxySeen>,
    pub checks: &'a [CheckReport],
    pub started_at: &'a str,
    pub elapsed_ms: u64,
}

impl<'a> DiagnosisDoc<'a> {
    pub fn new(d: &'a Diagnosis, started_at: &'a str, elapsed_ms: u64) -> Self {
        DiagnosisDoc {
            schema: SCHEMA,
            verdict: d.verdict,
            action: d.action,
            scope: d.scope,
            summary: &d.summary,
            dns_target: d.dns_target.as_ref(),
            proxy: d.proxy.as_ref(),
            checks: &d.checks,
            started_at,
            elapsed_ms,
        }
    }
}

fn headline(d: &Diagnosis) -> &'static str {
    // An origin that fails only its TLS handshake may well run: the heading says what failed.
    let origin_tls = d
        .checks
        .iter()
        .filter(|c| c.id == "http.origin")
        .all(|c| c.error == Some(ErrorKind::Tls));
    match d.verdict {
        Verdict::Healthy => "HEALTHY",
        Verdict::DnsTargetFailure => "DNS TARGET FAILURE",
        Verdict::OriginDown if origin_tls => "ORIGIN TLS FAILURE",
        Verdict::OriginDown => "ORIGIN DOWN",
        Verdict::EdgeFailure => "EDGE FAILURE",
        Verdict::ProxyActive => "PROXY ACTIVE",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::PublicDnsFailure => "PUBLIC DNS FAILURE",
        Verdict::Degraded => "DEGRADED",
    }
}

fn explain(step: &str) -> &'static str {
    match step {
        "failover deploy-proxy --dry-run" | "failover rollback --dry-run" => {
            "show the plan and the diff; change nothing"
        }
        "failover deploy-proxy" => "put the emergency proxy in front of the direct origin",
        "failover rollback" => "remove the proxy and restore the normal path",
        "failover status" => "watch for the platform path to heal",
        "failover diagnose -v" => "every check, with details",
        _ => "",
    }
}

/// The human report. Every remote string in it was sanitized when the diagnosis was built;
/// it is sanitized again here so that no caller can forget.
pub fn render(p: &Printer, d: &Diagnosis, elapsed_ms: u64, all_checks: bool) -> String {
    let paint = match d.verdict {
        Verdict::Healthy => Paint::Green,
        Verdict::ProxyActive | Verdict::Degraded => Paint::Yellow,
        _ => Paint::Red,
    };
    let scope = match d.scope {
        Scope::Region => "  scope: region (another region is healthy)",
        Scope::Global => "  scope: global (every environment fails)",
        Scope::Unknown => "",
    };
    let mut out = format!(
        "{}  action: {}{scope}\n{}\n",
        p.paint(headline(d), paint),
        d.action.as_str(),
        sanitize(&d.summary)
    );
    if let Some(t) = &d.dns_target {
        out.push_str(&p.paint(
            &format!(
                "DNS target {}, from {}",
                sanitize(&t.name),
                t.source.describe()
            ),
            Paint::Dim,
        ));
        out.push('\n');
    }
    if !d.evidence.is_empty() {
        out.push_str(&format!("\n{}\n", p.paint("Evidence", Paint::Bold)));
        for e in &d.evidence {
            let line = format!("  {}", sanitize(e));
            out.push_str(&crate::ui::wrap(&line, "      ", p.stdout_cols()));
            out.push('\n');
        }
    }
    if all_checks {
        out.push_str(&format!("\n{}\n", p.paint("Checks", Paint::Bold)));
        for c in &d.checks {
            let mark = match c.status {
                Status::Pass => p.paint("pass", Paint::Green),
                Status::Warn => p.paint("warn", Paint::Yellow),
                Status::Fail => p.paint("fail", Paint::Red),
                Status::Skip => p.paint("skip", Paint::Dim),
            };
            let resolver = c
                .resolver
                .as_deref()
                .map(|r| format!(" @{r}"))
                .unwrap_or_default();
            let error = c
                .error
                .map(|e| format!(" [{}]", e.as_str()))
                .unwrap_or_default();
            // Only the remote parts are sanitized: the mark carries our own colour codes.
            let text = sanitize(&format!(
                "{} {}{resolver}{error}: {} ({} ms)",
                c.id, c.target, c.detail, c.elapsed_ms
            ));
            out.push_str(&format!("  {mark} {text}\n"));
        }
    }
    if !d.next.is_empty() {
        out.push_str(&format!("\n{}\n", p.paint("Next", Paint::Bold)));
        let width = d.next.iter().map(|s| s.len()).max().unwrap_or(0);
        for step in &d.next {
            let why = explain(step);
            if why.is_empty() {
                out.push_str(&format!("  {}\n", sanitize(step)));
            } else {
                out.push_str(&format!(
                    "  {}  {}\n",
                    p.paint(&format!("{step:<width$}"), Paint::Cyan),
                    p.paint(why, Paint::Dim)
                ));
            }
        }
    }
    let failed = d.checks.iter().filter(|c| c.status == Status::Fail).count();
    out.push_str(&p.paint(
        &format!(
            "\n{} checks, {failed} failed, in {elapsed_ms} ms{}",
            d.checks.len(),
            if all_checks {
                ""
            } else {
                "; -v shows every check"
            }
        ),
        Paint::Dim,
    ));
    out.push('\n');
    out
}
