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

/// `diagnose` in CI: the verdict and the failing checks in the summary, an error annotation
/// for the incident; stdout is the document alone.
#[test]
fn diagnose_summarises_the_verdict() {
    let dir = Scratch::new();
    // Nothing answers on loopback port 9: an incident, without any network.
    dir.write(
        "failover.toml",
        "[service]\npublic_url = \"http://api.example.test:9\"\norigin = \"http://127.0.0.1:9\"\n\
         [dns]\nresolvers = [\"127.0.0.1:9\"]\ntimeout_ms = 300\n[probe]\ntimeout_ms = 500\ndeadline_ms = 2000\n",
    );
    let summary = dir.path().join("summary.md");
    let out = run(failover(dir.path())
        .args(["diagnose", "--json"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary));
    assert_eq!(out.code, 3, "{}", out.stderr);
    let doc = out.json();
    let verdict = doc["verdict"].as_str().unwrap();
    let text = std::fs::read_to_string(&summary).unwrap();
    contains_all(
        "summary",
        &text,
        &[
            &format!("### ✗ failover diagnose: `{verdict}`"),
            "| check | target | resolver | status | error | detail |",
            "| `http.origin` |",
        ],
    );
    contains_all(
        "stderr",
        &out.stderr,
        &[&format!(
            "::error title=failover diagnose%3A {verdict} (action%3A "
        )],
    );
}

/// deploy-proxy and rollback in CI: a dry run's plan; a failed verification as a failure in
/// the summary, the annotation and the human heading (which never says "Deployed"); a
/// rollback's changes.
#[test]
fn deploy_and_rollback_summaries() {
    let w = World::new(true, true);
    let (out, summary) = in_actions(&w, &["deploy-proxy", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    contains_all(
        "dry-run summary",
        &summary,
        &[
            "### failover deploy-proxy (dry run): plan for `api.example.com`",
            "Planned calls (nothing changed):",
            "Verification: skipped",
        ],
    );

    // A WebSocket path the app does not serve: applied, but not verified.
    let config = std::fs::read_to_string(w.dir.path().join("failover.toml")).unwrap();
    w.dir.write(
        "failover.toml",
        &config.replace("/cable", "/no-websocket-here"),
    );
    let (out, summary) = in_actions(&w, &["deploy-proxy", "--yes"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(!out.stdout.contains("Deployed"), "{}", out.stdout);
    contains_all(
        "stdout",
        &out.stdout,
        &["Applied the emergency proxy failover-api-example-com for api.example.com, but verification FAILED"],
    );
    contains_all(
        "failed summary",
        &summary,
        &[
            "### ✗ failover deploy-proxy: `failover-api-example-com` applied, verification failed",
            "WebSocket at `/no-websocket-here`: ✗",
        ],
    );
    contains_all(
        "stderr",
        &out.stderr,
        &["::error title=failover deploy-proxy%3A verification failed::"],
    );

    w.dir.write("failover.toml", &config);
    let (out, summary) = in_actions(&w, &["rollback", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    contains_all(
        "rollback summary",
        &summary,
        &[
            "### ✓ failover rollback: `failover-api-example-com` removed for `api.example.com`",
            "Platform path: **healthy**",
            "Verification: ✓ passed",
        ],
    );
    assert!(!out.stderr.contains("::error"), "{}", out.stderr);
}
