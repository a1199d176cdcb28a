//! `failover rollback` (being built).

use anyhow::Result;

use crate::cli::RollbackArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &RollbackArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover rollback` is not built yet").into())
}
