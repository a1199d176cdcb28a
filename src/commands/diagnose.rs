//! `failover diagnose`: the runbook picked, the diagnosis run (`engine::diagnose`), the verdict
//! printed (human or `failover.diagnosis/v1`). Exit 0 healthy, 3 otherwise. A person at a
//! terminal is then offered the walk-through and, on a `deploy-proxy` verdict, the deploy.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::cli::{ApiArgs, DiagnoseArgs};
use crate::diagnose::Action;
use crate::engine;
use crate::exit::Exit;
use crate::report::diagnosis::{render, DiagnosisDoc};
use crate::ui::Verbosity;
use crate::walkthrough;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DiagnoseArgs) -> Result<Exit> {
    // The deadline bounds the whole command, reading the config and the journal included.
    let start = Instant::now();
    let settings = ctx.settings(&args.probe, &ApiArgs::default())?;
    let flag = args.runbook.as_deref();
    let by_path = flag.filter(|f| engine::diagnose::is_path(f)).map(Path::new);
    let catalog = ctx.runbooks(by_path)?;
    let rb = engine::diagnose::select_runbook(&catalog, flag, &settings)?;
    let journal = ctx.journal_or_skip("diagnose");
    let done = engine::diagnose::run(&ctx.printer, &settings, &rb, &journal, start).await?;

    let doc = DiagnosisDoc::new(&done.diagnosis, &done.started_at, done.elapsed_ms);
    let verbose = ctx.printer.verbosity == Verbosity::Verbose;
    ctx.printer.result(&doc, || {
        render(&ctx.printer, &done.diagnosis, done.elapsed_ms, verbose)
    })?;
    ctx.publish_ci(&crate::report::github::diagnosis(&doc));
    if !walkthrough::wanted(&ctx.printer) {
        return Ok(done.exit());
    }
    walkthrough::offer(&ctx.printer, &done)?;
    if done.diagnosis.action == Action::DeployProxy {
        return walkthrough::offer_deploy(&ctx.printer, &settings, &ctx.state_dir()).await;
    }
    Ok(done.exit())
}
