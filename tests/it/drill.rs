//! `failover drill` end to end: the whole incident on loopback with the real binary and the real
//! Workers runtime, then `failover report` over the journal it left, then proof that nothing of
//! the drill's world outlives it (no process started from its temp dir, its ports closed).
//!
//! Without workerd the test fails under CI=true and skips loudly otherwise; install it with
//! `npm install` (package.json) or point FAILOVER_WORKERD at it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{failover, run, workerd_binary, Run, Scratch};

/// Runs `failover ARGS` in `dir` with its own TMPDIR (so every temp dir of the drill's world,
/// workerd's included, is under it) and the given workerd.
/// The drill as a GitHub Actions step would run it: its step summary goes to
/// `step-summary.md` in its directory.
fn drill(dir: &Scratch, tmp: &Path, workerd: &Path, args: &[&str]) -> Run {
    run(failover(dir.path())
        .env("TMPDIR", tmp)
        .env("FAILOVER_WORKERD", workerd)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.path().join("step-summary.md"))
        .args(args))
}

/// Processes whose command line mentions `needle` (Linux /proc; elsewhere none are seen).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline
                .contains(needle)
                .then(|| format!("{}: {cmdline}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// Nothing of the drill survives it: no process from its temp dir, the edge's port closed.
#[track_caller]
fn nothing_left(tmp: &Path, public_url: &str) {
    let left = processes_mentioning(&tmp.display().to_string());
    assert!(left.is_empty(), "processes left running: {left:#?}");
    let url = url::Url::parse(public_url).expect("public_url is a URL");
    let port = url.port().expect("the edge's port");
    let refused = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(
        refused.is_err(),
        "the edge's port {port} still accepts connections"
    );
    let worlds: Vec<_> = std::fs::read_dir(tmp)
        .expect("read TMPDIR")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(worlds.is_empty(), "temp dirs left behind: {worlds:?}");
}

#[track_caller]
fn stage(doc: &Value, name: &str, verdict: Option<&str>, action: Option<&str>) {
    let stage = doc["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name:?} in {doc:#}"));
    assert_eq!(
        (
            stage["outcome"].as_str(),
            stage["verdict"].as_str(),
            stage["action"].as_str()
        ),
        (Some("pass"), verdict, action),
        "stage {name}: {stage:#}"
    );
}

#[test]
fn drill_plays_the_incident_and_leaves_a_report_and_nothing_running() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let dir = Scratch::new();
    let tmp = Scratch::new();

    let out = drill(&dir, tmp.path(), &workerd, &["drill", "--yes", "--json"]);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let doc = out.json();
    assert_eq!(doc["schema"], "failover.drill/v1");
    assert_eq!(doc["ok"], true);
    // One summary for the step, the drill's: the commands it plays publish nothing of their own.
    let summary = std::fs::read_to_string(dir.path().join("step-summary.md")).unwrap();
    assert_eq!(summary.matches("### ").count(), 1, "{summary}");
    assert!(summary.contains("### ✓ failover drill"), "{summary}");
    assert!(summary.contains("Time to mitigation:"), "{summary}");
    assert!(!out.stderr.contains("::error"), "{}", out.stderr);
    let names: Vec<&str> = doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "healthy",
            "outage",
            "diagnose",
            "deploy",
            "verify",
            "recovered",
            "rollback",
            "healthy_again"
        ]
    );
    stage(&doc, "healthy", Some("healthy"), Some("none"));
    stage(&doc, "outage", None, None);
    stage(
        &doc,
        "diagnose",
        Some("dns_target_failure"),
        Some("deploy-proxy"),
    );
    stage(&doc, "deploy", None, None);
    stage(&doc, "verify", None, None);
    stage(&doc, "recovered", Some("proxy_active"), Some("rollback"));
    stage(&doc, "rollback", None, None);
    stage(&doc, "healthy_again", Some("healthy"), Some("none"));
    assert!(
        doc["stages"][1]["observed"]
            .as_str()
            .unwrap()
            .contains("error code: 1016"),
        "{doc:#}"
    );
    let features: Vec<(&str, bool)> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["ok"] == true))
        .collect();
    assert_eq!(
        features,
        [
            ("rest", true),
            ("redirect", true),
            ("cookie", true),
            ("cors", true),
            ("websocket", true)
        ],
        "{doc:#}"
    );
    let ttm = doc["time_to_mitigation_ms"]
        .as_u64()
        .expect("a time to mitigation");
    assert!(ttm < doc["story_time_to_mitigation_ms"].as_u64().unwrap());
    let public_url = doc["public_url"].as_str().unwrap().to_owned();
    nothing_left(tmp.path(), &public_url);

    // The report the drill wrote, and `failover report` in the same place afterwards.
    let report_path = PathBuf::from(doc["report"].as_str().unwrap());
    let written = std::fs::read_to_string(dir.path().join(&report_path))
        .or_else(|_| std::fs::read_to_string(&report_path))
        .expect("the drill's report exists");
    let md = run(failover(dir.path()).arg("report"));
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert_eq!(
        md.stdout, written,
        "`failover report` differs from the drill's report"
    );
    for needle in [
        "# Incident report: http://api.drill.test:",
        "A drill:",
        "Time to mitigation | **",
        "| Outage detected (first non-healthy verdict) |",
        "| Proxy verified through the public URL |",
        "| Proxy rolled back and verified |",
        "`dns_target_failure` -> `deploy-proxy`",
        "done: create route api.drill.test/* -> failover-api-drill-test",
        "done: delete Worker script failover-api-drill-test",
    ] {
        assert!(
            md.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            md.stdout
        );
    }
    let to_file = run(failover(dir.path()).args(["report", "-o", "postmortem/incident.md"]));
    assert_eq!(
        (to_file.code, to_file.stdout.as_str()),
        (0, ""),
        "{}",
        to_file.stderr
    );
    let file = std::fs::read_to_string(dir.path().join("postmortem/incident.md")).unwrap();
    assert_eq!(file, written);
    let json = run(failover(dir.path()).args(["report", "--format", "json"]));
    assert_eq!(json.code, 0, "{}", json.stderr);
    let report = json.json();
    assert_eq!(report["schema"], "failover.report/v1");
    assert_eq!(report["drill"], true);
    let milestones: Vec<&str> = report["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        milestones,
        [
            "detected",
            "mitigation_started",
            "mitigated",
            "platform_recovered",
            "rolled_back",
            "healthy_again"
        ]
    );
    assert!(report["time_to_mitigation_ms"].as_u64().is_some());
    assert_eq!(report["changes"].as_array().unwrap().len(), 5, "{report:#}");
    // --json is the same document as --format json.
    let global = run(failover(dir.path()).args(["report", "--json"]));
    assert_eq!(global.json(), report);

    // The human run, without a terminal: no pauses, every stage, the result on stdout.
    let human = drill(&dir, tmp.path(), &workerd, &["drill"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    for needle in [
        "[1/8] All is well",
        "[8/8] Healthy again",
        "│ DNS TARGET FAILURE",
    ] {
        assert!(
            human.stderr.contains(needle),
            "no {needle:?} in stderr:\n{}",
            human.stderr
        );
    }
    assert!(
        human.stdout.contains("Time to mitigation:") && human.stdout.contains("drill-report.md"),
        "stdout:\n{}",
        human.stdout
    );
    let url_line = human
        .stderr
        .lines()
        .find(|l| l.starts_with("public URL"))
        .expect("the intro names the public URL");
    let url = url_line.split_whitespace().nth(2).unwrap();
    nothing_left(tmp.path(), url);
}

#[track_caller]
fn check_refused(args: &[&str], code: i32, needle: &str) {
    let dir = Scratch::new();
    let out = run(failover(dir.path()).args(args));
    assert_eq!(out.code, code, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains(needle) || out.stdout.contains(needle),
        "no {needle:?} in:\n{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn drill_and_report_explain_what_is_missing() {
    check_refused(
        &["drill", "--workerd", "/nonexistent/workerd"],
        2,
        "/nonexistent/workerd",
    );
    check_refused(&["report"], 1, "no journal at");
    check_refused(&["report", "--json"], 1, "failover.error/v1");
}

/// `drill --standby`: the standby Worker armed before the incident, requests flowing through the
/// break and the recovery; none fails, and the path switches both ways with no command run.
#[test]
fn standby_drill_loses_no_request_and_switches_paths_by_itself() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let dir = Scratch::new();
    let tmp = Scratch::new();

    let out = drill(
        &dir,
        tmp.path(),
        &workerd,
        &["drill", "--standby", "--yes", "--json"],
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let doc = out.json();
    assert_eq!(doc["ok"], true, "{doc:#}");
    let names: Vec<&str> = doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "healthy",
            "arm",
            "switch_direct",
            "standby_direct",
            "switch_platform",
            "traffic",
            "standby_healthy",
            "rollback"
        ]
    );
    stage(&doc, "healthy", Some("healthy"), Some("none"));
    stage(&doc, "arm", None, None);
    stage(&doc, "switch_direct", None, None);
    stage(&doc, "standby_direct", Some("proxy_active"), Some("none"));
    stage(&doc, "switch_platform", None, None);
    stage(&doc, "traffic", None, None);
    stage(&doc, "standby_healthy", Some("healthy"), Some("none"));
    stage(&doc, "rollback", None, None);
    let standby = &doc["standby"];
    assert_eq!(standby["failed"], 0, "{standby:#}");
    assert!(standby["get"].as_u64().unwrap() > 0, "{standby:#}");
    assert!(standby["post"].as_u64().unwrap() > 0, "{standby:#}");
    assert!(standby["switched_to_direct_ms"].is_u64(), "{standby:#}");
    assert!(standby["switched_to_platform_ms"].is_u64(), "{standby:#}");
    nothing_left(tmp.path(), doc["public_url"].as_str().unwrap());
}

/// `drill --watch`: the watch detects, deploys and rolls back; the document gives both spans
/// (break -> verified proxy, recovery -> rollback) and the promise they are measured against.
#[test]
fn drill_with_the_watch_doing_the_work() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let dir = Scratch::new();
    let tmp = Scratch::new();
    let out = drill(
        &dir,
        tmp.path(),
        &workerd,
        &["drill", "--watch", "--interval", "1s", "--json"],
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let doc = out.json();
    let names: Vec<&str> = doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "healthy",
            "outage",
            "watch_deploy",
            "verify",
            "watch_rollback",
            "healthy_again"
        ]
    );
    stage(&doc, "watch_deploy", None, None);
    stage(&doc, "watch_rollback", None, None);
    let watch = &doc["watch"];
    assert_eq!(
        (
            watch["interval_ms"].as_u64(),
            watch["deploy_after"].as_u64()
        ),
        (Some(1000), Some(3)),
        "{doc:#}"
    );
    assert_eq!(watch["budget_ms"].as_u64(), Some(8000));
    assert!(watch["break_to_verified_ms"].as_u64().is_some(), "{doc:#}");
    assert!(
        watch["recovery_to_rollback_ms"].as_u64().is_some(),
        "{doc:#}"
    );
    nothing_left(tmp.path(), doc["public_url"].as_str().unwrap());
    let report = run(failover(dir.path()).args(["report", "--format", "json"]));
    let report = report.json();
    let milestones: Vec<&str> = report["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        milestones,
        [
            "detected",
            "mitigation_started",
            "mitigated",
            "platform_recovered",
            "rolled_back",
            "healthy_again"
        ]
    );
}

/// The stand-in edge answers for a platform path it cannot get a response from as Cloudflare
/// does, for users and for a Worker's own fetches alike: 524 when the app takes the request and
/// sends no headers within the origin timeout (100 s on Cloudflare, shortened here), 521 when
/// the platform's router refuses the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_answers_524_and_521_as_cloudflare_does() {
    let Some(bin) = workerd_binary() else {
        return;
    };
    let world = ::failover::sandbox::world::World::start(bin).await.unwrap();
    assert_eq!(world.visit("/health").await.unwrap().status, 200);

    world
        .edge
        .set_origin_timeout(std::time::Duration::from_millis(300));
    world.origin.set_stalled(true);
    let hung = world.visit("/health").await.unwrap();
    assert_eq!(hung.status, 524, "{hung:?}");
    assert!(hung.body.starts_with("error code: 524"), "{hung:?}");
    world.origin.set_stalled(false);

    // The target's router now listens nowhere: a port bound and let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    world.edge.add_platform(&world.target, closed);
    let refused = world.visit("/health").await.unwrap();
    assert_eq!(refused.status, 521, "{refused:?}");
    assert!(refused.body.starts_with("error code: 521"), "{refused:?}");
}
