//! In CI: the GitHub Actions step summary and workflow annotations, with `GITHUB_STEP_SUMMARY`
//! pointing at a temporary file, and stdout unchanged (one document under `--json`).

use crate::cloudflare::World;
use crate::support::{failover, run, Run, Scratch};

/// Runs `args` in `w` as a GitHub Actions step: the summary goes to a fresh file, returned
/// with the run.
fn in_actions(w: &World, args: &[&str]) -> (Run, String) {
    let summary = w.dir.path().join("step-summary.md");
    let _ = std::fs::remove_file(&summary);
    let out = run(w
        .cmd(args)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary));
    let text = std::fs::read_to_string(&summary).unwrap_or_default();
    (out, text)
}

#[track_caller]
fn contains_all(what: &str, text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{what} lacks {needle:?}:\n{text}");
    }
}

/// `status` while the platform fails: the summary names the next command, an error
/// annotation says so, and stdout is still exactly the JSON document.
#[test]
fn status_writes_a_step_summary_and_annotations() {
    // The platform's origin is down: the platform path fails and no proxy is live.
    let mut w = World::new(true, false);
    let (out, summary) = in_actions(&w, &["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["action"], "deploy-proxy");
    contains_all(
        "summary",
        &summary,
        &[
            "### failover status: `api.example.com`",
            "| emergency proxy | not deployed |",
            "| platform path | **failing**",
            "| next | `failover deploy-proxy` |",
        ],
    );
    contains_all(
        "stderr",
        &out.stderr,
        &[
            "::error title=failover status%3A the platform path fails::",
            "next: failover deploy-proxy",
        ],
    );
    assert!(!out.stdout.contains("::error"), "{}", out.stdout);

    // With the proxy live and users served, a warning (the platform still fails), no error.
    w.expect(&["deploy-proxy", "--yes"], 0);
    let (out, summary) = in_actions(&w, &["status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    contains_all(
        "summary",
        &summary,
        &[
            "| emergency proxy | deployed (`failover-api-example-com`)",
            "| route | `api.example.com/*` → `failover-api-example-com` |",
            "| next | nothing |",
        ],
    );
    contains_all(
        "stderr",
        &out.stderr,
        &["::warning title=failover status%3A the platform path fails::"],
    );
    assert!(!out.stderr.contains("::error"), "{}", out.stderr);
    contains_all(
        "stdout",
        &out.stdout,
        &["Next: nothing yet: the proxy serves users"],
    );

    // Outside GitHub Actions nothing of this appears.
    let plain = run(&mut w.cmd(&["status"]));
    assert!(!plain.stderr.contains("::"), "{}", plain.stderr);
}

/// A command that fails before it has a result still reports: an error annotation and a
/// summary that says what failed; the summary appends, never replaces.
#[test]
fn a_failure_is_annotated_and_summaries_append() {
    let dir = Scratch::new();
    dir.write(
        "failover.toml",
        "[service]\npublic_url = \"https://api.example.com\"\norigin = \"https://app.herokuapp.com\"\n",
    );
    let summary = dir.write("summary.md", "earlier step\n");
    let out = run(failover(dir.path())
        .args(["status", "--json"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.json()["schema"], "failover.error/v1");
    contains_all(
        "stderr",
        &out.stderr,
        &["::error title=failover status failed::no Cloudflare API token"],
    );
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n"), "{text}");
    contains_all(
        "summary",
        &text,
        &["### ✗ failover status failed", "no Cloudflare API token"],
    );
}
