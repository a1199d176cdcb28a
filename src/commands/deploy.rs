//! `failover deploy` (being built).

use anyhow::Result;

use crate::cli::DeployArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DeployArgs) -> Result<Exit> {
    if args.print_script {
        return super::print_script::run(ctx, args).await;
    }
    Err(Fatal::new(Exit::Failure, "`failover deploy` is not built yet").into())
}
