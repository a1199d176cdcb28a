//! `failover deploy-proxy --print-script`: the rendered Worker on stdout; no token, no network.

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
    ctx.printer.raw(&script)?;
    Ok(Exit::Success)
}
