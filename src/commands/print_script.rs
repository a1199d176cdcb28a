//! `failover deploy-proxy --print-script`: the rendered Worker on stdout (inside one JSON
//! document under `--json`); no token, no network, no state.

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::DeployArgs;
use crate::config::Settings;
use crate::exit::{Exit, Fatal};
use crate::worker::{self, WorkerSpec};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DeployArgs) -> Result<Exit> {
    let settings = ctx.settings(&args.probe, &args.api)?;
    let (spec, script) = render_script(&settings, args.template.as_deref())?;
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

/// The Worker for these settings, from `template` (`--template PATH`) or the embedded one; what
/// `deploy-proxy` uploads and `--print-script` prints. A template the user names that cannot be
/// read or rendered is a usage error (exit 2); the embedded one failing would be a bug (exit 1).
pub fn render_script(settings: &Settings, template: Option<&Path>) -> Result<(WorkerSpec, String)> {
    let spec = WorkerSpec::from_settings(settings);
    let script = match template {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the template {}", path.display()))
            .and_then(|text| worker::render(&text, &spec))
            .map_err(|e| Fatal::usage(format!("{e:#}")))?,
        None => worker::render(worker::TEMPLATE, &spec)?,
    };
    Ok((spec, script))
}
