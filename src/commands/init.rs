//! `failover init` (being built).

use anyhow::Result;

use crate::cli::InitArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &InitArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover init` is not built yet").into())
}
