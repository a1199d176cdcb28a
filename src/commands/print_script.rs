//! `failover deploy-proxy --print-script`: the rendered Worker on stdout (inside one JSON
//! document under `--json`); no token, no network, no state.

use anyhow::{Context, Result};

use crate::cli::DeployArgs;
use crate::exit::Exit;
use crate::worker::{self, WorkerSpec};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DeployArgs) -> Result<Exit> {
    let settings = ctx.settings(&args.probe, &args.api)?;
    let spec = WorkerSpec::from_settings(&settings);
    let template = match &args.template {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the template {}", path.display()))?,
        None => worker::TEMPLATE.to_owned(),
    };
    let script = worker::render(&template, &spec)?;
    if ctx.printer.json {
        // Under --json stdout holds one document, so the script travels inside it.
        let doc = serde_json::json!({
            "schema": "failover.worker-script/v1",
            "script_name": spec.script_name,
            "compatibility_date": worker::COMPATIBILITY_DATE,
            "main_module": worker::TEMPLATE_NAME,
            "script": script,
        });
        ctx.printer.result(&doc, String::new)?;
    } else {
        ctx.printer.raw(&script)?;
    }
    Ok(Exit::Success)
}
