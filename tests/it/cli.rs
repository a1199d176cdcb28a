//! The command line's outside: help, usage errors, config errors (exit 2, nothing sent).

use crate::support::{failover, run, Scratch};

#[track_caller]
fn check(args: &[&str], config: Option<&str>, code: i32, needle: &str) {
    let dir = Scratch::new();
    if let Some(text) = config {
        dir.write("failover.toml", text);
    }
    let all =
        run(failover(dir.path()).args(args)).expect(&format!("args {args:?}"), code, &[needle]);
    assert!(
        !all.contains('\u{1b}'),
        "args {args:?}: raw escape in output:\n{all:?}"
    );
}

const GOOD: &str =
    "[service]\npublic_url = \"https://api.example.com\"\norigin = \"https://app.herokuapp.com\"\n";

#[test]
fn help_and_usage() {
    check(&["--help"], None, 0, "failover drill");
    check(&["diagnose", "--help"], None, 0, "--resolver");
    check(&["deploy-proxy", "--help"], None, 0, "--dry-run");
    check(&["rollback", "--help"], None, 0, "--force");
    check(&["--bogus"], None, 2, "--bogus");
    check(
        &["diagnose", "--json", "--bogus"],
        None,
        2,
        "failover.error/v1",
    );
    check(&["completions", "bash"], None, 0, "failover");
}

#[test]
fn config_errors_exit_2_naming_file_line_key() {
    check(
        &["diagnose"],
        None,
        2,
        "failover.toml: no such file; run `failover init`",
    );
    check(
        &["diagnose"],
        Some("[service]\npublic_url = \"nope\"\norigin = \"https://a.b\"\n"),
        2,
        "failover.toml:2: `service.public_url`",
    );
    check(
        &["diagnose", "--json"],
        Some("[service\n"),
        2,
        "\"kind\": \"usage\"",
    );
    check(
        &["diagnose", "--resolver", "not-an-ip"],
        Some(GOOD),
        2,
        "--resolver: \"not-an-ip\" is not a resolver",
    );
    check(
        &["diagnose", "--resolve", "x"],
        Some(GOOD),
        2,
        "--resolve: \"x\" is not HOST:PORT:ADDR",
    );
    check(
        &["diagnose"],
        Some("[service]\npublic_url = \"https://a.b\x1b[2J\"\norigin = \"https://a.b\"\n"),
        2,
        "service.public_url",
    );
}
