//! `failover report`: the latest incident in the journal as a postmortem timeline, Markdown
//! (from `templates/report.md.j2`) or the `failover.report/v1` document.

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{ReportArgs, ReportFormat};
use crate::exit::Exit;
use crate::report::incident::{self, Incident};
use crate::state::read_events;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &ReportArgs) -> Result<Exit> {
    let incident = latest(&ctx.state_dir())?;
    let json = ctx.printer.json || args.format == ReportFormat::Json;
    let text = if json {
        let mut doc = serde_json::to_string_pretty(&incident)?;
        doc.push('\n');
        doc
    } else {
        incident::markdown(&incident).context("cannot render the report template")?
    };
    match &args.output {
        Some(path) => {
            write(path, &text)?;
            ctx.printer
                .info(format!("wrote the incident report to {}", path.display()));
            // Under --json stdout still carries the one document.
            if ctx.printer.json {
                ctx.printer.raw(&text)?;
            }
        }
        None => ctx.printer.raw(&text)?,
    }
    Ok(Exit::Success)
}

/// The latest incident in the journal of `state_dir`.
pub fn latest(state_dir: &Path) -> Result<Incident> {
    let events = read_events(state_dir)?;
    Ok(incident::build(&events))
}

/// Writes the Markdown report of the latest incident in `state_dir` to `path`.
pub fn write_markdown(state_dir: &Path, path: &Path) -> Result<Incident> {
    let incident = latest(state_dir)?;
    let text = incident::markdown(&incident).context("cannot render the report template")?;
    write(path, &text)?;
    Ok(incident)
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
