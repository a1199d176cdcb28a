//! `failover diagnose` (being built).

use anyhow::Result;

use crate::cli::DiagnoseArgs;
use crate::exit::{Exit, Fatal};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _args: &DiagnoseArgs) -> Result<Exit> {
    Err(Fatal::new(Exit::Failure, "`failover diagnose` is not built yet").into())
}
