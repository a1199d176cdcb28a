//! `failover runbook list|show`: embedded runbooks, a team's own overriding by id, and
//! validation errors that name file, line and field (exit 2).

use crate::support::{failover, run, Scratch};

#[track_caller]
fn check(dir: &Scratch, args: &[&str], code: i32, needles: &[&str]) {
    run(failover(dir.path()).args(args)).expect(&format!("{args:?}"), code, needles);
}

#[test]
fn list_and_show() {
    let dir = Scratch::new();
    check(
        &dir,
        &["runbook", "list"],
        0,
        &["heroku-dns-target", "generic-dns-target", "embedded:"],
    );
    check(
        &dir,
        &["runbook", "show", "heroku-dns-target"],
        0,
        &[
            "# Heroku",
            "## What to run",
            "`failover deploy-proxy --dry-run`",
        ],
    );
    check(
        &dir,
        &["runbook", "show", "heroku-dns-target", "--json"],
        0,
        &["\"schema\": \"failover.runbook/v1\"", "\"kind\": \"dns\""],
    );
    check(
        &dir,
        &["runbook", "show", "nope"],
        2,
        &["no runbook \"nope\"; known: heroku-dns-target, generic-dns-target"],
    );
}

#[test]
fn a_teams_own_runbooks() {
    let dir = Scratch::new();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    dir.write(
        "runbooks/ours.toml",
        "id = \"heroku-dns-target\"\ntitle = \"Our Heroku runbook\"\nsummary = \"s\"\n\n[[step]]\nid = \"db\"\ntitle = \"Resolve the database host\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\ncheck = { kind = \"dns\", name = \"db.example.com\" }\n",
    );
    check(
        &dir,
        &["runbook", "list"],
        0,
        &["Our Heroku runbook", "runbooks/ours.toml"],
    );
    check(
        &dir,
        &["runbook", "show", "heroku-dns-target"],
        0,
        &["Resolve the database host", "resolve `db.example.com`"],
    );

    let bad = dir.write("bad.toml", "id = \"x\"\ntitle = \"t\"\nsummary = \"s\"\n[[step]]\nid = \"a\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\ncheck = { kind = \"traceroute\" }\n");
    let bad = bad.to_str().unwrap();
    check(
        &dir,
        &["runbook", "list", "--runbook", bad],
        2,
        &[
            "bad.toml:10",
            "unknown variant `traceroute`",
            "`dns`, `http`",
        ],
    );
}
