//! The interactive walk-through of a finished diagnosis, for a person at a terminal: after the
//! verdict, the runbook's steps one at a time (title, why, a result line, the evidence on a
//! key), then the offer to deploy the proxy there and then. It shows what was already
//! gathered; it never holds the verdict back and never waits without a terminal.

use std::path::Path;

use anyhow::Result;

use crate::config::Settings;
use crate::diagnose::{evidence_line, CheckReport, Status};
use crate::engine::{self, diagnose::Diagnosed};
use crate::exit::Exit;
use crate::runbook::StepPlan;
use crate::state::Journal;
use crate::text::sanitize;
use crate::ui::{Paint, Printer, StepKey, Verbosity};

/// A person at a terminal (stdin and stdout both) who asked for neither `--yes` nor quiet.
pub fn wanted(printer: &Printer) -> bool {
    printer.interactive
        && !printer.yes
        && printer.verbosity != Verbosity::Quiet
        && crate::ui::stdout_is_tty()
}

/// Offers the walk-through (one key) and, when taken, walks the steps.
pub fn offer(p: &Printer, done: &Diagnosed) -> Result<()> {
    let steps = done.steps.len();
    let hint = format!("w: walk through the {steps} steps and their evidence · Enter: go on");
    if p.step_key(&hint)? != StepKey::Walk {
        return Ok(());
    }
    walk(p, done)
}

/// The steps one at a time, paced by keys: `e` shows a step's evidence, `a` shows the rest
/// without stopping, anything else goes to the next step.
fn walk(p: &Printer, done: &Diagnosed) -> Result<()> {
    let rb = &done.runbook;
    p.info(format!(
        "\n{}\n{}\n",
        p.paint(&sanitize(&rb.title), Paint::Bold),
        p.paint(
            &format!("runbook {} · {}", rb.id, sanitize(&rb.source)),
            Paint::Dim
        )
    ));
    let total = done.steps.len();
    let mut stop = true;
    for (step, plan) in done.steps.iter().enumerate() {
        p.info(format!(
            "{} {}\n    {}",
            p.paint(&format!("[{}/{total}]", step + 1), Paint::Dim),
            p.paint(&sanitize(&plan.step.title), Paint::Bold),
            p.paint(&sanitize(&plan.step.why), Paint::Dim)
        ));
        let reports = done.step_reports(step);
        let runs =
            !plan.checks.is_empty() || plan.learns_target || plan.cloudflare_record.is_some();
        if !runs && plan.skipped.is_empty() {
            let note = plan
                .note
                .as_deref()
                .unwrap_or("skipped: nothing to check here");
            p.info(format!(
                "    {} {}\n",
                p.paint("-", Paint::Dim),
                sanitize(note)
            ));
            continue;
        }
        p.info(format!("    {}", step_line(p, plan, &reports)));
        if !stop {
            continue;
        }
        loop {
            match p.step_key("e: evidence · Enter: next step · a: show the rest")? {
                StepKey::Evidence => {
                    for r in &reports {
                        let line = format!("      {}", sanitize(&evidence_line(r)));
                        p.info(crate::ui::wrap(&line, "          ", p.stderr_cols()));
                    }
                }
                StepKey::All => {
                    stop = false;
                    break;
                }
                StepKey::Next | StepKey::Walk => break,
            }
        }
        p.info("");
    }
    Ok(())
}

/// One line: the worst status among the step's checks, what it means, and the count.
fn step_line(p: &Printer, plan: &StepPlan, reports: &[&CheckReport]) -> String {
    let worst = [Status::Fail, Status::Warn, Status::Pass, Status::Skip]
        .into_iter()
        .find(|s| reports.iter().any(|r| r.status == *s));
    let passed = reports.iter().filter(|r| r.status == Status::Pass).count();
    let count = format!("({passed}/{} checks pass)", reports.len());
    let step = &plan.step;
    match worst {
        Some(Status::Fail) => format!(
            "{} {} {}",
            p.paint("✗", Paint::Red),
            sanitize(&step.fail),
            p.paint(&count, Paint::Dim)
        ),
        Some(Status::Warn) => format!(
            "{} {} {}",
            p.paint("!", Paint::Yellow),
            sanitize(&step.fail),
            p.paint(&count, Paint::Dim)
        ),
        Some(Status::Pass) => format!(
            "{} {} {}",
            p.paint("✓", Paint::Green),
            sanitize(&step.pass),
            p.paint(&count, Paint::Dim)
        ),
        _ => format!(
            "{} skipped: {}",
            p.paint("-", Paint::Dim),
            reports
                .first()
                .map(|r| r.detail.clone())
                .unwrap_or_else(|| "the checks did not run".to_owned())
        ),
    }
}

/// After a `deploy-proxy` verdict: offer to deploy there and then. The deploy shows its plan
/// and asks again before it changes anything; its document is printed as `deploy-proxy`
/// prints it.
pub async fn offer_deploy(p: &Printer, settings: &Settings, state_dir: &Path) -> Result<Exit> {
    let yes = p.confirm(
        "Deploy the emergency proxy now? (the plan is shown first; nothing changes before you confirm it)",
        "",
    )?;
    if !yes {
        p.info(format!(
            "\nWhen you are ready:\n  {}  show the plan and the diff; change nothing\n  {}            put the emergency proxy in front of the direct origin",
            p.paint("failover deploy-proxy --dry-run", Paint::Cyan),
            p.paint("failover deploy-proxy", Paint::Cyan),
        ));
        return Ok(Exit::Incident);
    }
    let journal = Journal::open(state_dir, "deploy-proxy")?;
    let opts = engine::deploy::Options::default();
    let (doc, exit) = engine::deploy::run(p, settings, &journal, &opts).await?;
    p.result(&doc, || sanitize(&doc.human()))?;
    Ok(exit)
}
