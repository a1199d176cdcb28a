//! The manners people expect of a command-line tool: colour decided per stream, a closed stdout
//! as a quiet exit, `--help` that separates global options from a command's own.

use std::io::Read;
use std::process::{Command, Stdio};

use nix::sys::wait::WaitStatus;
use rexpect::session::{spawn_with_options, Options};

use crate::support::{failover, run, Scratch, BIN};

/// Probes that fail at once on loopback (nothing listens on port 9): an incident, its
/// headline painted red, without any network.
const UNREACHABLE: &str = "[service]\npublic_url = \"http://api.example.test:9\"\n\
     origin = \"http://127.0.0.1:9\"\n[dns]\nresolvers = [\"127.0.0.1:9\"]\ntimeout_ms = 300\n\
     [probe]\ntimeout_ms = 500\ndeadline_ms = 2000\n";

/// Runs `sh -c script` in a pseudo-terminal (so stderr is a terminal) with colour allowed, and
/// returns the exit code and the screen, escape codes kept.
fn on_terminal(dir: &Scratch, script: &str) -> (i32, String) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env("TERM", "xterm")
        .env("FAILOVER", BIN)
        .env_remove("NO_COLOR")
        .env_remove("CI");
    let options = Options::new()
        .timeout_ms(Some(90_000))
        .strip_ansi_escape_codes(false);
    let mut session = spawn_with_options(cmd, options).expect("spawn in a pseudo-terminal");
    let screen = session.exp_eof().expect("the command ends");
    let code = match session.process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("not a normal exit: {other:?}\n{screen}"),
    };
    (code, screen)
}

/// From a terminal, `diagnose > file` writes plain text to the file while the terminal keeps
/// its colour; with stdout the terminal, the result is coloured there.
#[test]
fn colour_is_decided_per_stream() {
    let dir = Scratch::new();
    dir.write("failover.toml", UNREACHABLE);
    let (code, screen) = on_terminal(
        &dir,
        "\"$FAILOVER\" diagnose --no-input > out.txt; echo \"exit=$?\"",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("exit=3"), "{screen}");
    let file = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(file.contains("action: escalate"), "{file}");
    assert!(
        !file.contains('\u{1b}'),
        "escape codes in the file: {file:?}"
    );

    let (_, screen) = on_terminal(&dir, "\"$FAILOVER\" diagnose --no-input 2>/dev/null");
    assert!(screen.contains("action: escalate"), "{screen}");
    assert!(
        screen.contains("\u{1b}["),
        "no colour on a terminal: {screen:?}"
    );

    // `--color always` paints a file too; NO_COLOR keeps a terminal plain.
    let (_, screen) = on_terminal(
        &dir,
        "\"$FAILOVER\" diagnose --no-input --color always > out.txt 2>/dev/null; \
         NO_COLOR=1 \"$FAILOVER\" diagnose --no-input 2>/dev/null",
    );
    assert!(!screen.contains("\u{1b}[1"), "{screen:?}");
    let file = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(file.contains('\u{1b}'), "--color always: {file:?}");
}

/// The reader of stdout has gone before anything is written (`| head -1` that already
/// exited): every command ends quietly with its own exit code, never a panic.
#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let dir = Scratch::new();
    dir.write("failover.toml", UNREACHABLE);
    for (args, code) in [
        (&["completions", "zsh"][..], 0),
        (&["completions", "bash"], 0),
        (&["runbook", "show", "heroku-dns-target"], 0),
        (&["diagnose", "--json"], 3),
        (&["diagnose"], 3),
        (&["deploy-proxy", "--print-script"], 0),
    ] {
        let mut child = failover(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The only read end closes before the child writes: its writes fail with EPIPE.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// Global options under their own heading; `--yes` and `--dry-run` only where they mean
/// something, and `--yes` still accepted anywhere, as the contract's global flag.
#[test]
fn help_separates_global_options() {
    let dir = Scratch::new();
    for (command, yes, dry_run) in [
        ("diagnose", true, false),
        ("deploy-proxy", true, true),
        ("rollback", true, true),
        ("drill", true, false),
        ("init", true, false),
        ("status", false, false),
        ("report", false, false),
        ("whoami", false, false),
        ("completions", false, false),
    ] {
        let help = run(failover(dir.path()).args([command, "--help"]));
        let all = help.expect(command, 0, &["Global options:", "--config <PATH>"]);
        let own = &all[..all.find("Global options:").unwrap()];
        assert!(!own.contains("--config"), "{command}: {all}");
        assert_eq!(all.contains("--yes"), yes, "{command} --yes: {all}");
        assert_eq!(
            all.contains("--dry-run"),
            dry_run,
            "{command} --dry-run: {all}"
        );
    }
    // The global flag before the command, and after a command that asks nothing.
    dir.write(
        "failover.toml",
        "[service]\npublic_url = \"https://api.example.com\"\norigin = \"https://app.herokuapp.com\"\n",
    );
    run(failover(dir.path()).args(["--yes", "runbook", "list"])).expect("--yes first", 0, &[]);
    run(failover(dir.path()).args(["runbook", "list", "--yes"])).expect("--yes after", 0, &[]);
}

/// Without a token, the dry run says what works offline.
#[test]
fn a_dry_run_without_a_token_points_offline() {
    let dir = Scratch::new();
    dir.write(
        "failover.toml",
        "[service]\npublic_url = \"https://api.example.com\"\norigin = \"https://app.herokuapp.com\"\n",
    );
    run(failover(dir.path()).args(["deploy-proxy", "--dry-run"])).expect(
        "dry run without a token",
        2,
        &[
            "no Cloudflare API token",
            "failover deploy-proxy --print-script",
        ],
    );
}

/// The drill on an 80-column terminal: its story and the commands' output (evidence lines
/// included) wrap at word boundaries under their gutter; no line runs past the edge for the
/// terminal to break mid-word.
#[test]
fn long_lines_wrap_to_the_terminal() {
    let Some(workerd) = crate::support::workerd_binary() else {
        return;
    };
    let dir = Scratch::new();
    let script = format!(
        "stty cols 80 rows 50; FAILOVER_WORKERD='{}' \"$FAILOVER\" drill --yes",
        workerd.display()
    );
    let (code, screen) = on_terminal(&dir, &script);
    assert_eq!(code, 0, "{screen}");
    let rows = std::num::NonZeroU16::new(4000).unwrap();
    let cols = std::num::NonZeroU16::new(80).unwrap();
    let mut terminal = vt100::Parser::new(rows, cols, 0);
    // The session hands back one char per byte read: the bytes themselves are the screen's.
    let bytes: Vec<u8> = screen.chars().map(|c| c as u32 as u8).collect();
    terminal.process(&bytes);
    let drawn = terminal.screen();
    let overflowing: Vec<String> = (0..4000)
        .filter(|r| drawn.row_wrapped(*r))
        .filter_map(|r| drawn.rows(0, 80).nth(r as usize))
        .collect();
    assert!(
        overflowing.is_empty(),
        "lines ran past 80 columns:\n{}",
        overflowing.join("\n")
    );
    let contents = drawn.contents();
    assert!(
        contents.lines().any(|l| l.starts_with("      │   ")),
        "nothing was long enough to wrap under the gutter:\n{contents}"
    );
}
