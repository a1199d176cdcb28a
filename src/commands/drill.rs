//! `failover drill`: workerd found (or installed), the drill played (`crate::drill`), its
//! document printed. Exit 0 when every stage went as the story says, 1 otherwise.

use anyhow::Result;

use crate::cli::DrillArgs;
use crate::drill;
use crate::exit::Exit;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DrillArgs) -> Result<Exit> {
    let explicit = args
        .workerd
        .as_ref()
        .map(|p| p.display().to_string())
        .or_else(|| ctx.env.workerd.clone());
    let binary = drill::find_workerd(&ctx.printer, explicit).await?;
    let (doc, incident) = if args.standby {
        drill::run_standby(&ctx.printer, &ctx.env, &ctx.state_dir(), binary).await?
    } else {
        drill::run(
            &ctx.printer,
            &ctx.env,
            &ctx.state_dir(),
            binary,
            args.watch.then_some(args.interval),
        )
        .await?
    };
    ctx.printer
        .result(&doc, || drill::summary(&ctx.printer, &doc, &incident))?;
    let stages: Vec<(String, bool)> = doc
        .stages
        .iter()
        .map(|s| (s.title.to_owned(), s.outcome == "pass"))
        .collect();
    ctx.publish_ci(&crate::report::github::drill(
        &stages,
        doc.time_to_mitigation_ms,
    ));
    // A stage against the story: the document (or the summary) says which; exit 1.
    Ok(if doc.ok { Exit::Success } else { Exit::Failure })
}
