//! The process exit codes: one documented variant each (CONTRACT.md "Exit codes").

use std::fmt;

/// How the process ends. Every exit path goes through this enum; no literals elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Success; for diagnose, the verdict is `healthy`.
    Success,
    /// Runtime failure: network, API error after retries, a bug.
    Failure,
    /// Usage or configuration error; nothing was changed or sent.
    Usage,
    /// Diagnose found an incident, or deploy/rollback ran but verification failed.
    Incident,
    /// Refused for safety: confirmation needed, foreign resource in the way, platform still failing.
    Refused,
    /// Partially applied; the journal holds what was done and re-running converges.
    Partial,
    /// Interrupted by Ctrl-C.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Incident => 3,
            Exit::Refused => 4,
            Exit::Partial => 5,
            Exit::Interrupted => 130,
        }
    }

    /// The `kind` an error document carries for this exit.
    pub fn kind(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Failure => "runtime",
            Exit::Usage => "usage",
            Exit::Incident => "incident",
            Exit::Refused => "refused",
            Exit::Partial => "partial",
            Exit::Interrupted => "interrupted",
        }
    }
}

/// An error that decides the exit code. Anything else in an error chain exits [`Exit::Failure`].
#[derive(Debug, thiserror::Error)]
pub struct Fatal {
    pub exit: Exit,
    pub message: String,
}

impl Fatal {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Fatal {
            exit,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(Exit::Refused, message)
    }
    pub fn partial(message: impl Into<String>) -> Self {
        Self::new(Exit::Partial, message)
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code an error chain asks for: the first [`Fatal`] or config error in it, else 1.
pub fn exit_of(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(fatal) = cause.downcast_ref::<Fatal>() {
            return fatal.exit;
        }
        if cause.downcast_ref::<crate::config::ConfigError>().is_some() {
            return Exit::Usage;
        }
    }
    Exit::Failure
}
