//! `failover deploy` (being built).

use anyhow::Result;

use crate::cli::DeployArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &DeployArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover deploy` is not built yet").into())
}
