//! `failover runbook` (being built).

use anyhow::Result;

use crate::cli::RunbookCommand;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &RunbookCommand) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover runbook` is not built yet").into())
}
