//! `failover status` (being built).

use anyhow::Result;

use crate::cli::StatusArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &StatusArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover status` is not built yet").into())
}
