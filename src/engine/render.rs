//! The Worker for a configuration: what `deploy-proxy` uploads and `--print-script` prints.

use std::path::Path;

use anyhow::{Context, Result};

use crate::config::Settings;
use crate::exit::Fatal;
use crate::worker::{self, Mode, WorkerSpec};

/// The Worker for these settings, in `mode`, from `template` (`--template PATH`) or the embedded one. A
/// template the user names that cannot be read or rendered is a usage error (exit 2); the
/// embedded one failing would be a bug (exit 1).
pub fn script(
    settings: &Settings,
    template: Option<&Path>,
    mode: Mode,
) -> Result<(WorkerSpec, String)> {
    let mut spec = WorkerSpec::from_settings(settings);
    spec.mode = mode;
    let script = match template {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the template {}", path.display()))
            .and_then(|text| worker::render(&text, &spec))
            .map_err(|e| Fatal::usage(format!("{e:#}")))?,
        None => worker::render(worker::TEMPLATE, &spec)?,
    };
    Ok((spec, script))
}
