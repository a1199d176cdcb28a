//! `failover report`: the latest incident in the journal as a postmortem timeline, Markdown
//! (from `templates/report.md.j2`) or the `failover.report/v1` document.

use anyhow::{Context, Result};

use crate::cli::{ReportArgs, ReportFormat};
use crate::engine;
use crate::exit::Exit;
use crate::report::incident;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &ReportArgs) -> Result<Exit> {
    let incident = engine::report::latest(&ctx.state_dir())?;
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
            engine::report::write(path, &text)?;
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
