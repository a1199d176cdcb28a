//! The operations the commands share: diagnose a service, plan and apply a deploy or a
//! rollback, verify through the public URL, render the Worker. Each takes validated
//! [`Settings`](crate::config::Settings), a [`Printer`] for progress and consent, and the
//! journal, and returns a typed result unprinted. The commands, the drill and `watch` call
//! these; no operation prints a result or picks an exit code for a person.

pub mod deploy;
pub mod diagnose;
pub mod init;
pub mod render;
pub mod report;
pub mod rollback;
pub mod verify;
pub mod watch;

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use crate::apply::{apply, Applied};
use crate::cloudflare::Client;
use crate::exit::Fatal;
use crate::plan::Plan;
use crate::runbook::{io_err, Catalog, RunbookError};
use crate::state::Journal;
use crate::ui::Printer;

/// The one path from a plan to API calls, for deploy-proxy and rollback alike: ask (a refusal
/// changes nothing, exit 4), then apply with the journal; a failed step ends in exit 5 naming
/// what was done and how to converge, or exit 2 when the token was refused before any change.
pub(crate) async fn apply_with_consent(
    printer: &Printer,
    client: &Client,
    journal: &Journal,
    plan: &Plan,
    question: &str,
    rerun: &str,
) -> Result<Vec<Applied>> {
    if !printer.confirm(question, "rerun with --yes to apply")? {
        journal.append("declined", json!({}))?;
        return Err(Fatal::refused("declined; nothing changed").into());
    }
    let spinner = printer.progress().spinner("applying");
    let result = apply(client, journal, plan).await;
    spinner.clear();
    result.map_err(|e| crate::apply::failure(journal, e, rerun))
}

/// Every runbook known: the embedded ones, then `*.toml` in `dir` (sorted), then `extra`;
/// later ones override earlier ones by id.
pub fn load_runbooks(dir: Option<&Path>, extra: Option<&Path>) -> Result<Catalog, RunbookError> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        paths.extend(found);
    }
    paths.extend(extra.map(Path::to_path_buf));
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        files.push((path.display().to_string(), text));
    }
    Catalog::from_files(files)
}
