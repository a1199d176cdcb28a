//! `failover drill` (being built).

use anyhow::Result;

use crate::cli::DrillArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &DrillArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover drill` is not built yet").into())
}
