//! `failover runbook list` / `show NAME`: the runbooks known, embedded plus the user's own.

use anyhow::Result;
use serde_json::json;

use crate::cli::RunbookCommand;
use crate::exit::{Exit, Fatal};
use crate::runbook::to_markdown;
use crate::Ctx;

pub async fn run(ctx: &Ctx, cmd: &RunbookCommand) -> Result<Exit> {
    let p = &ctx.printer;
    match cmd {
        RunbookCommand::List(args) => {
            let cat = ctx.runbooks(args.runbook.as_deref())?;
            let doc = json!({
                "schema": "failover.runbooks/v1",
                "runbooks": cat.runbooks.iter().map(|r| json!({
                    "id": r.id, "title": r.title, "platform": r.platform,
                    "origin_suffixes": r.origin_suffixes, "target_suffixes": r.target_suffixes,
                    "steps": r.steps.len(), "source": r.source,
                })).collect::<Vec<_>>(),
            });
            p.result(&doc, || {
                let width = cat.runbooks.iter().map(|r| r.id.len()).max().unwrap_or(0);
                let mut out = String::new();
                for r in &cat.runbooks {
                    out.push_str(&format!(
                        "{:width$}  {}\n{:width$}  platform {} · {} steps · {}\n",
                        r.id,
                        r.title,
                        "",
                        r.platform,
                        r.steps.len(),
                        r.source
                    ));
                }
                out.push_str(
                    "\nshow one: failover runbook show ID   (Markdown, ready for a wiki)\n",
                );
                out
            })?;
        }
        RunbookCommand::Show(args) => {
            let cat = ctx.runbooks(args.runbook.as_deref())?;
            let rb = cat
                .get(&args.name)
                .ok_or_else(|| Fatal::usage(cat.unknown(&args.name)))?;
            let mut doc = serde_json::to_value(rb)?;
            doc.as_object_mut()
                .expect("a runbook serializes to an object")
                .insert("schema".into(), json!("failover.runbook/v1"));
            p.result(&doc, || to_markdown(rb))?;
        }
    }
    Ok(Exit::Success)
}
