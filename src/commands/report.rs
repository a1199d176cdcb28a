//! `failover report` (being built).

use anyhow::Result;

use crate::cli::ReportArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &ReportArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover report` is not built yet").into())
}
