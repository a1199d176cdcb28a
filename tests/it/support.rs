//! Shared test plumbing: running the binary, temp dirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_failover");

/// A scratch directory removed when dropped.
pub struct Scratch(pub tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        Scratch(tempfile::tempdir().expect("temp dir"))
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

/// The binary with a clean environment: no token, no CI, no colour, stdin closed.
pub fn failover(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("CLOUDFLARE_ACCOUNT_ID")
        .env_remove("CLOUDFLARE_API_BASE_URL")
        .env_remove("FAILOVER_CONFIG")
        .env_remove("FAILOVER_STATE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code and that stdout and stderr together hold every needle; `what`
    /// names the run in failure messages. Returns the two, joined, for further checks.
    #[track_caller]
    pub fn expect(&self, what: &str, code: i32, needles: &[&str]) -> String {
        assert_eq!(
            self.code, code,
            "{what}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let all = format!("{}{}", self.stdout, self.stderr);
        for needle in needles {
            assert!(
                all.contains(needle),
                "{what}: output lacks {needle:?}:\n{all}"
            );
        }
        all
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The checks of a `failover.diagnosis/v1` document with this id.
pub fn checks<'a>(doc: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["id"] == id)
        .collect()
}

pub fn run(cmd: &mut Command) -> Run {
    cmd.output().expect("run failover").into()
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The workerd binary, or `None` after saying loudly that the test is skipped; under CI a
/// missing runtime is a failure, since the proof would silently vanish.
pub fn workerd_binary() -> Option<PathBuf> {
    match failover::sandbox::workerd::locate(std::env::var("FAILOVER_WORKERD").ok().as_deref()) {
        Ok(p) => Some(p),
        Err(e) => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            if ci {
                panic!("CI=true and the Workers runtime is missing: {e}");
            }
            eprintln!("\n=== SKIPPED: {e} ===\n");
            None
        }
    }
}
