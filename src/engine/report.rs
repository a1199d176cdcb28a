//! The incident report from the journal: the latest incident read back, and its Markdown
//! written to a file (the drill leaves one; `failover report --output` writes one).

use std::path::Path;

use anyhow::{Context, Result};

use crate::report::incident::{self, Incident};
use crate::state::read_events;

/// The latest incident in the journal of `state_dir`.
pub fn latest(state_dir: &Path) -> Result<Incident> {
    let events = read_events(state_dir)?;
    Ok(incident::build(&events))
}

/// Writes the Markdown report of the latest incident in `state_dir` to `path`.
pub fn write_markdown(state_dir: &Path, path: &Path) -> Result<Incident> {
    let incident = latest(state_dir)?;
    let text = incident::markdown(&incident).context("cannot render the report template")?;
    write(path, &text)?;
    Ok(incident)
}

pub fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
