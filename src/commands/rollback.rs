//! `failover rollback`: the flags to options, the operation, the document printed.

use anyhow::Result;

use crate::cli::RollbackArgs;
use crate::engine::{self, rollback::Options};
use crate::exit::Exit;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &RollbackArgs) -> Result<Exit> {
    let settings = ctx.settings(&args.probe, &args.api)?;
    let journal = ctx.journal("rollback")?;
    let opts = Options {
        dry_run: args.dry_run,
        force: args.force,
    };
    let (doc, exit) = engine::rollback::run(&ctx.printer, &settings, &journal, &opts).await?;
    // Names, patterns and record contents come from the API: untrusted on a terminal.
    ctx.printer
        .result(&doc, || crate::text::sanitize(&doc.human()))?;
    ctx.publish_ci(&crate::report::github::rollback(&doc));
    Ok(exit)
}
