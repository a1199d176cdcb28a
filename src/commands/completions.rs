//! `failover completions SHELL`: shell completions generated from the clap definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Exit;
use crate::Ctx;

pub fn run(ctx: &Ctx, args: &CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    // Generated into memory first: clap_complete panics when its writer fails, and a closed
    // stdout (`| head -1`) must be a quiet exit.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "failover", &mut script);
    ctx.printer.raw(&String::from_utf8_lossy(&script))?;
    Ok(Exit::Success)
}
