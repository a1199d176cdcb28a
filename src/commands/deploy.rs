//! `failover deploy-proxy`: the flags to options, the operation, the document printed.
//! `--print-script` prints the rendered Worker (inside one JSON document under `--json`) and
//! touches nothing: no token, no network, no state.

use anyhow::Result;

use crate::cli::DeployArgs;
use crate::engine::{self, deploy::Options};
use crate::exit::Exit;
use crate::worker;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DeployArgs) -> Result<Exit> {
    let settings = ctx.settings(&args.probe, &args.api)?;
    if args.print_script {
        return print_script(ctx, &settings, args);
    }
    let journal = ctx.journal("deploy-proxy")?;
    let (doc, exit) =
        engine::deploy::run(&ctx.printer, &settings, &journal, &options(args)).await?;
    // Names, patterns and record contents come from the API: untrusted on a terminal.
    ctx.printer
        .result(&doc, || crate::text::sanitize(&doc.human()))?;
    ctx.publish_ci(&crate::report::github::deployment(&doc));
    Ok(exit)
}

fn mode(args: &DeployArgs) -> worker::Mode {
    if args.standby {
        worker::Mode::Standby
    } else {
        worker::Mode::Emergency
    }
}

fn options(args: &DeployArgs) -> Options {
    Options {
        mode: mode(args),
        dry_run: args.dry_run,
        force: args.force,
        verify: !args.no_verify,
        template: args.template.clone(),
    }
}

fn print_script(ctx: &Ctx, settings: &crate::config::Settings, args: &DeployArgs) -> Result<Exit> {
    let (spec, script) = engine::render::script(settings, args.template.as_deref(), mode(args))?;
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
