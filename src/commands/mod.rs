//! One thin imperative shell per subcommand: gather, decide, act, report.

pub mod completions;
pub mod deploy;
pub mod diagnose;
pub mod drill;
pub mod init;
pub mod report;
pub mod rollback;
pub mod runbook;
pub mod status;
pub mod watch;
pub mod whoami;
