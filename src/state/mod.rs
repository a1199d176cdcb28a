//! The journal: append-only JSON lines in the state directory, one event a line.
//!
//! Every command appends what it checked, saw, decided and changed. Mutating steps are written
//! before the API call is sent and after it returns, so an interrupted run leaves a record from
//! which re-running converges. `failover report` reads it back.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const JOURNAL_FILE: &str = "journal.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// RFC 3339, UTC.
    pub ts: String,
    /// Which invocation wrote it (one id per process run).
    pub run: String,
    /// The command that wrote it (`diagnose`, `deploy-proxy`, `drill`...).
    pub command: String,
    /// What happened: `started`, `check`, `verdict`, `step.begin`, `step.done`, `step.failed`,
    /// `verified`, `finished`, `drill.stage`...
    pub event: String,
    /// Event-specific detail.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// An open journal. Cheap to clone; writes are serialised and flushed line by line.
#[derive(Clone)]
pub struct Journal {
    path: PathBuf,
    run: String,
    command: String,
    /// `None` for a journal that records nothing (see [`Journal::open_or_skip`]).
    file: Option<Arc<Mutex<File>>>,
}

impl Journal {
    /// Opens (creating) `<dir>/journal.jsonl` for appending.
    pub fn open(dir: &Path, command: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open the journal {}", path.display()))?;
        let run = format!(
            "{}-{:04x}",
            OffsetDateTime::now_utc().unix_timestamp(),
            rand::random::<u16>()
        );
        Ok(Journal {
            path,
            run,
            command: command.to_owned(),
            file: Some(Arc::new(Mutex::new(file))),
        })
    }

    /// Opens the journal, or, when the state directory cannot be written (a read-only
    /// checkout), a journal that records nothing, with `warn` told why once. For commands
    /// that only observe: a diagnosis at 3 a.m. must not fail for want of a place to log it.
    /// Mutating commands use [`Journal::open`]: their journal is what makes re-running safe.
    pub fn open_or_skip(dir: &Path, command: &str, warn: impl FnOnce(&str)) -> Self {
        Self::open(dir, command).unwrap_or_else(|e| {
            warn(&format!(
                "{e:#}; this run is not journaled (set --state-dir or FAILOVER_STATE_DIR to a \
                 writable directory)"
            ));
            Journal {
                path: dir.join(JOURNAL_FILE),
                run: format!(
                    "{}-{:04x}",
                    OffsetDateTime::now_utc().unix_timestamp(),
                    rand::random::<u16>()
                ),
                command: command.to_owned(),
                file: None,
            }
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// The same file, with events attributed to another command (the drill runs several).
    pub fn for_command(&self, command: &str) -> Journal {
        Journal {
            command: command.to_owned(),
            ..self.clone()
        }
    }

    /// Appends one event and flushes it to disk before returning.
    pub fn append(&self, event: &str, data: serde_json::Value) -> Result<()> {
        let ev = Event {
            ts: now_rfc3339(),
            run: self.run.clone(),
            command: self.command.clone(),
            event: event.to_owned(),
            data,
        };
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut line = serde_json::to_string(&ev)?;
        line.push('\n');
        let mut file = file.lock().expect("journal lock poisoned");
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot write the journal {}", self.path.display()))
    }
}

/// Reads every event in `<dir>/journal.jsonl`; a torn last line (a crash mid-write) is skipped.
pub fn read_events(dir: &Path) -> Result<Vec<Event>> {
    let path = dir.join(JOURNAL_FILE);
    let file = File::open(&path).with_context(|| {
        format!(
            "no journal at {}: run a command (or `failover drill`) here first",
            path.display()
        )
    })?;
    let mut events = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(ev) => events.push(ev),
            Err(e) => anyhow::bail!("{}:{}: not a journal event: {e}", path.display(), n + 1),
        }
    }
    Ok(events)
}

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("UTC timestamps format")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_read_back() {
        let dir = std::env::temp_dir().join(format!("failover-journal-{}", rand::random::<u64>()));
        let j = Journal::open(&dir, "diagnose").unwrap();
        j.append("started", serde_json::json!({"x": 1})).unwrap();
        j.for_command("drill")
            .append("finished", serde_json::Value::Null)
            .unwrap();
        let evs = read_events(&dir).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(
            (evs[0].command.as_str(), evs[0].event.as_str()),
            ("diagnose", "started")
        );
        assert_eq!(evs[1].command, "drill");
        assert_eq!(evs[0].run, evs[1].run);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unwritable_state_dir_is_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the directory should be: no user, root included, can create it.
        let blocked = dir.path().join("state");
        std::fs::write(&blocked, "").unwrap();
        let mut warnings = Vec::new();
        let j = Journal::open_or_skip(&blocked, "diagnose", |w| warnings.push(w.to_owned()));
        j.append("started", serde_json::Value::Null).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("--state-dir"), "{warnings:?}");
        assert!(Journal::open(&blocked, "deploy-proxy").is_err());
    }
}
