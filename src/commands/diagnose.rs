//! `failover diagnose`: gather (every check at once under one deadline), decide (the pure
//! verdict), report (human or `failover.diagnosis/v1`), journal. Exit 0 healthy, 3 otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::{ApiArgs, DiagnoseArgs};
use crate::diagnose::{self, Status, Verdict};
use crate::exit::Exit;
use crate::probe::{self, Check, Observation, Prober, Watch};
use crate::report::diagnosis::{render, DiagnosisDoc};
use crate::state::{now_rfc3339, Journal};
use crate::ui::{excerpt, Progress, Spinner, Verbosity};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DiagnoseArgs) -> Result<Exit> {
    let done = execute(ctx, args).await?;
    let doc = DiagnosisDoc::new(&done.diagnosis, &done.started_at, done.elapsed_ms);
    let verbose = ctx.printer.verbosity == Verbosity::Verbose;
    ctx.printer.result(&doc, || {
        render(&ctx.printer, &done.diagnosis, done.elapsed_ms, verbose)
    })?;
    Ok(done.exit())
}

/// A finished diagnosis, journaled and not yet printed (the drill prints it its own way).
pub struct Diagnosed {
    pub diagnosis: diagnose::Diagnosis,
    pub started_at: String,
    pub elapsed_ms: u64,
}

impl Diagnosed {
    /// 0 when healthy, 3 for any incident.
    pub fn exit(&self) -> Exit {
        if self.diagnosis.verdict == Verdict::Healthy {
            Exit::Success
        } else {
            Exit::Incident
        }
    }
}

/// Gathers, decides and journals; prints only progress.
pub async fn execute(ctx: &Ctx, args: &DiagnoseArgs) -> Result<Diagnosed> {
    // The deadline bounds the whole command, reading the config and the journal included.
    let start = Instant::now();
    let settings = ctx.settings(&args.probe, &ApiArgs::default())?;
    if let Some(runbook) = &args.runbook {
        ctx.printer.warn(format!(
            "--runbook {}: runbook-driven checks are not applied by diagnose yet; running the standard checks",
            excerpt(runbook, 80)
        ));
    }
    let journal = ctx.journal("diagnose")?;
    let started_at = now_rfc3339();
    journal.append(
        "started",
        json!({
            "public_url": settings.service.public_url.as_str(),
            "origins": settings.service.origins.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            "resolvers": settings.dns.resolvers.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "deadline_ms": settings.probe.deadline.as_millis() as u64,
        }),
    )?;

    let prober = Prober::new(&settings);
    let watch = Spinners {
        progress: ctx.printer.progress(),
        live: Mutex::new(HashMap::new()),
    };
    let checks = probe::standard_checks(&settings);
    // A twentieth of the deadline (at most 250 ms) is kept for deciding, journaling, printing
    // and leaving, so the process as a whole ends by the deadline.
    let reserve = (settings.probe.deadline / 20).min(std::time::Duration::from_millis(250));
    let deadline = settings
        .probe
        .deadline
        .saturating_sub(start.elapsed() + reserve);
    let observations = probe::gather(&settings, &prober, checks, deadline, &watch).await;
    let diagnosis = diagnose::decide(&observations);
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);

    record(&journal, &diagnosis, elapsed_ms)?;
    Ok(Diagnosed {
        diagnosis,
        started_at,
        elapsed_ms,
    })
}

fn record(journal: &Journal, d: &diagnose::Diagnosis, elapsed_ms: u64) -> Result<()> {
    for check in &d.checks {
        journal.append("check", serde_json::to_value(check)?)?;
    }
    journal.append(
        "verdict",
        json!({
            "verdict": d.verdict,
            "action": d.action,
            "scope": d.scope,
            "summary": d.summary,
            "elapsed_ms": elapsed_ms,
        }),
    )
}

/// One spinner per running check, on a terminal only (the printer decides).
struct Spinners {
    progress: Progress,
    live: Mutex<HashMap<usize, Spinner>>,
}

fn label(check: &Check) -> String {
    let resolver = check
        .resolver()
        .map(|r| format!(" @{r}"))
        .unwrap_or_default();
    excerpt(&format!("{} {}{resolver}", check.id, check.target()), 100)
}

impl Watch for Spinners {
    fn started(&self, index: usize, check: &Check) {
        let spinner = self.progress.spinner(label(check));
        if let Ok(mut live) = self.live.lock() {
            live.insert(index, spinner);
        }
    }

    fn finished(&self, index: usize, observation: &Observation) {
        let Some(spinner) = self.live.lock().ok().and_then(|mut l| l.remove(&index)) else {
            return;
        };
        let report = diagnose::check_report(observation);
        let mark = match report.status {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "-",
        };
        // One terminal line each: a wrapped line would tear the spinners redrawn below it.
        spinner.finish(excerpt(
            &format!("{mark} {}: {}", label(&observation.check), report.detail),
            78,
        ));
    }
}
