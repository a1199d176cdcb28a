//! `failover watch` against the drill's world on loopback (DNS, the app, the sandbox Cloudflare
//! API, the edge running the Worker in workerd). The cycles that must line up with changes to
//! the world are stepped one at a time (`Pace::Steps`), so no case depends on timing; the
//! binary is run for what only a process shows: exit codes, JSON lines, signals, `/metrics`.
//!
//! Without workerd each case fails under CI=true and skips loudly otherwise.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use failover::cli::{ApiArgs, ProbeArgs};
use failover::config::{Env, LoadedFile, Settings};
use failover::engine;
use failover::engine::watch::{Options, Pace};
use failover::notify::Notifier;
use failover::sandbox::world::World;
use failover::state::Journal;
use failover::ui::{Printer, Verbosity};
use failover::watch::{Event, Policy};

use crate::support::{failover, workerd_binary, Scratch};

/// The drill's world with `extra` appended to its failover.toml, and a state directory.
struct Sandbox {
    rt: tokio::runtime::Runtime,
    world: World,
    state: Scratch,
}

impl Sandbox {
    fn new(workerd: PathBuf, extra: &str) -> Sandbox {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let world = rt.block_on(World::start(workerd)).expect("the world");
        let mut text = std::fs::read_to_string(&world.config).unwrap();
        text.push_str(extra);
        std::fs::write(&world.config, text).unwrap();
        Sandbox {
            rt,
            world,
            state: Scratch::new(),
        }
    }

    fn settings(&self) -> Settings {
        let env = Env {
            api_token: Some(self.world.token.clone()),
            api_base: Some(self.world.cf.base_url().to_string()),
            ..Env::default()
        };
        let probe = ProbeArgs {
            resolvers: Vec::new(),
            resolve: vec![self.world.pin()],
        };
        let file = LoadedFile::read(&self.world.config).unwrap();
        Settings::resolve(&file, &env, &probe, &ApiArgs::default()).unwrap()
    }

    /// The engine's watch loop in the background, one cycle per [`Stepped::step`].
    fn watch(&self, policy: Policy, notifiers: Vec<Notifier>) -> Stepped {
        let settings = self.settings();
        let catalog = engine::load_runbooks(None, None).unwrap();
        let rb = engine::diagnose::select_runbook(&catalog, None, &settings).unwrap();
        let journal = Journal::open(self.state.path(), "watch").unwrap();
        let (tx, rx) = mpsc::channel(1);
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let task = self.rt.spawn(async move {
            let opts = Options {
                policy,
                once: false,
                notifiers,
                metrics: None,
            };
            // Quiet: the failures a case provokes on purpose are read from the journal.
            let printer = Printer {
                verbosity: Verbosity::Quiet,
                ..Printer::plain(true)
            };
            engine::watch::run(
                &printer,
                &settings,
                &rb,
                &journal,
                opts,
                Pace::Steps(rx),
                CancellationToken::new(),
                move |e: &Event| seen.lock().unwrap().push(e.clone()),
            )
            .await
            .map(|f| f.cycles)
        });
        Stepped {
            tx: Some(tx),
            events,
            task: Some(task),
        }
    }

    /// The Cloudflare calls that changed something.
    fn writes(&self) -> Vec<String> {
        self.world
            .cf
            .calls()
            .iter()
            .filter(|c| c.mutates())
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }
}

struct Stepped {
    tx: Option<mpsc::Sender<oneshot::Sender<u64>>>,
    events: Arc<Mutex<Vec<Event>>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<u64>>>,
}

impl Stepped {
    /// Runs one cycle (and the change it makes) to its end; returns its number.
    fn step(&self, sb: &Sandbox) -> u64 {
        let tx = self.tx.as_ref().unwrap();
        sb.rt.block_on(async {
            let (done, cycle) = oneshot::channel();
            tx.send(done).await.expect("the watch is running");
            cycle.await.expect("the cycle ran")
        })
    }

    /// `(cycle, verdict, acted and result)` of every event so far.
    fn table(&self) -> Vec<(u64, String, String)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                let acted = match (e.acted, e.result) {
                    (Some(a), Some(r)) => format!("{} {}", a.as_str(), r.as_str()),
                    _ => "-".to_owned(),
                };
                (e.cycle, e.verdict.clone(), acted)
            })
            .collect()
    }

    /// Ends the watch (it lets queued notifications go out first); returns its cycle count.
    fn finish(mut self, sb: &Sandbox) -> u64 {
        drop(self.tx.take());
        let task = self.task.take().unwrap();
        sb.rt.block_on(task).unwrap().unwrap()
    }
}

fn row(cycle: u64, verdict: &str, acted: &str) -> (u64, String, String) {
    (cycle, verdict.to_owned(), acted.to_owned())
}

const AUTO: Policy = Policy {
    auto: true,
    deploy_after: 2,
    rollback_after: 2,
};

/// The incident unattended: two failing cycles, then the deploy (verified); two recovered
/// cycles, then the rollback (verified); and `failover report` finds every milestone.
#[test]
fn deploys_after_deploy_after_cycles_and_rolls_back_after_rollback_after() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(workerd, "");
    let w = sb.watch(AUTO, Vec::new());
    sb.world.break_target();
    assert_eq!(w.step(&sb), 1);
    assert!(
        sb.writes().is_empty(),
        "acted after one cycle: {:?}",
        sb.writes()
    );
    w.step(&sb);
    w.step(&sb);
    sb.world.heal_target();
    w.step(&sb);
    w.step(&sb);
    w.step(&sb);
    assert_eq!(
        w.table(),
        [
            row(1, "dns_target_failure", "-"),
            row(2, "dns_target_failure", "deploy-proxy ok"),
            row(3, "proxy_active", "-"),
            row(5, "proxy_active", "rollback ok"),
            row(6, "healthy", "-"),
        ]
    );
    assert_eq!(w.finish(&sb), 6);
    assert!(
        sb.world.cf.snapshot().scripts.is_empty(),
        "the proxy is gone"
    );

    let events = failover::state::read_events(sb.state.path()).unwrap();
    let report = failover::report::incident::build(&events);
    let names: Vec<&str> = report.milestones.iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        [
            "detected",
            "mitigation_started",
            "mitigated",
            "platform_recovered",
            "rolled_back",
            "healthy_again"
        ]
    );
    let acted: Vec<&str> = report
        .timeline
        .iter()
        .filter(|e| e.event == "acted")
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(acted.len(), 2, "{acted:?}");
    assert!(
        acted[0].starts_with("watch --auto ran deploy-proxy: ok"),
        "{acted:?}"
    );
}

/// Fail, pass, fail: no streak of two, no change. The fourth cycle, a second failure in a row,
/// shows the same watch does act on a streak.
#[test]
fn flapping_does_not_act() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(workerd, "");
    let w = sb.watch(AUTO, Vec::new());
    sb.world.break_target();
    w.step(&sb);
    sb.world.heal_target();
    w.step(&sb);
    sb.world.break_target();
    w.step(&sb);
    assert!(sb.writes().is_empty(), "acted on a flap: {:?}", sb.writes());
    assert_eq!(
        w.table(),
        [
            row(1, "dns_target_failure", "-"),
            row(2, "healthy", "-"),
            row(3, "dns_target_failure", "-"),
        ]
    );
    w.step(&sb);
    assert_eq!(
        w.table()[3],
        row(4, "dns_target_failure", "deploy-proxy ok")
    );
    w.finish(&sb);
}

/// The app itself is down: a proxy cannot help, and the watch never tries, whatever the streak.
#[test]
fn origin_down_does_not_act() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(workerd, "");
    let w = sb.watch(
        Policy {
            deploy_after: 1,
            ..AUTO
        },
        Vec::new(),
    );
    sb.world.origin.set_failing(true);
    sb.world.break_target();
    for _ in 0..3 {
        w.step(&sb);
    }
    assert_eq!(w.table(), [row(1, "origin_down", "-")]);
    assert!(sb.writes().is_empty(), "acted: {:?}", sb.writes());
    w.finish(&sb);
}

/// A receiver on loopback that records what it is sent and fails the first `fail_first`.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Value>>>,
    fail_first: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Receiver, String, failover::sandbox::Served) {
        let r = Receiver {
            fail_first: Arc::new(Mutex::new(fail_first)),
            ..Receiver::default()
        };
        let app = axum::Router::new()
            .fallback(
                |State(r): State<Receiver>, body: axum::body::Bytes| async move {
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    r.got.lock().unwrap().push(json);
                    let mut fail = r.fail_first.lock().unwrap();
                    if *fail > 0 {
                        *fail -= 1;
                        return (StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned());
                    }
                    (StatusCode::ACCEPTED, r#"{"status":"success"}"#.to_owned())
                },
            )
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        (r, url, failover::sandbox::Served::spawn(listener, app))
    }

    fn got(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

/// Each notifier's receiver sees the outage and the recovery, in order: the webhook the watch
/// events (its first attempt failed and was retried once), Slack a line of text (its first
/// event failed twice: journaled, and the watch went on), PagerDuty an Events v2 `trigger` and
/// then a `resolve` under one dedup_key. No URL and no key reaches the journal.
#[test]
fn notifier_receivers_see_the_events() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(
        workerd,
        "\n[[notify]]\nkind = \"webhook\"\nurl_env = \"HOOK_URL\"\n\
         \n[[notify]]\nkind = \"slack\"\nurl_env = \"SLACK_URL\"\n\
         \n[[notify]]\nkind = \"pagerduty\"\nurl_env = \"PD_URL\"\nrouting_key_env = \"PD_KEY\"\n",
    );
    let ((hook, hook_url, _h), (slack, slack_url, _s), (pd, pd_url, _p)) = sb.rt.block_on(async {
        (
            Receiver::start(1).await,
            Receiver::start(2).await,
            Receiver::start(0).await,
        )
    });
    let notifiers = Notifier::from_specs(&sb.settings().notify, |name| match name {
        "HOOK_URL" => Some(hook_url.clone()),
        "SLACK_URL" => Some(slack_url.clone()),
        "PD_URL" => Some(pd_url.clone()),
        "PD_KEY" => Some("routing-key-canary".to_owned()),
        _ => None,
    })
    .unwrap();
    let w = sb.watch(
        Policy {
            auto: false,
            ..AUTO
        },
        notifiers,
    );
    w.step(&sb); // healthy at the start: nothing to say
    sb.world.break_target();
    w.step(&sb);
    sb.world.heal_target();
    w.step(&sb);
    w.finish(&sb);

    let hook = hook.got();
    assert_eq!(
        hook.len(),
        3,
        "one failed attempt, its retry, the recovery: {hook:#?}"
    );
    assert_eq!(hook[0], hook[1], "the retry sends the same event");
    let verdicts: Vec<&str> = hook
        .iter()
        .map(|e| e["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["dns_target_failure", "dns_target_failure", "healthy"]
    );
    assert_eq!(hook[0]["schema"], "failover.watch-event/v1");
    assert_eq!(hook[2]["previous"], "dns_target_failure");

    // Slack failed twice on the first event: logged, never retried again, the watch went on.
    let slack = slack.got();
    assert_eq!(slack.len(), 3, "{slack:#?}");
    assert!(slack[2]["text"]
        .as_str()
        .unwrap()
        .contains("healthy (was dns_target_failure)"));
    let journal = failover::state::read_events(sb.state.path()).unwrap();
    let failed: Vec<&Value> = journal
        .iter()
        .filter(|e| e.event == "notify.failed")
        .map(|e| &e.data)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["notifier"], "notify[1] slack");
    assert_eq!(failed[0]["attempts"], 2);
    let written = std::fs::read_to_string(sb.state.path().join("journal.jsonl")).unwrap();
    for secret in [
        "routing-key-canary",
        slack_url.as_str(),
        hook_url.as_str(),
        pd_url.as_str(),
    ] {
        assert!(!written.contains(secret), "the journal holds {secret}");
    }
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .contains("dns_target_failure (was healthy)"),
        "{slack:#?}"
    );

    let pd = pd.got();
    assert_eq!(pd.len(), 2, "{pd:#?}");
    let (trigger, resolve) = (&pd[0], &pd[1]);
    assert_eq!(trigger["routing_key"], "routing-key-canary");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(resolve["event_action"], "resolve");
    let key = trigger["dedup_key"].as_str().unwrap();
    assert!(!key.is_empty());
    assert_eq!(resolve["dedup_key"], key);
    let payload = &trigger["payload"];
    assert!(payload["summary"]
        .as_str()
        .unwrap()
        .contains("dns_target_failure"));
    assert_eq!(payload["source"], failover::sandbox::world::PUBLIC_HOST);
    assert!(
        ["critical", "error", "warning", "info"].contains(&payload["severity"].as_str().unwrap()),
        "{payload:#}"
    );
}

/// The binary against the world: its config, token, API base and the pin to the edge.
fn binary(sb: &Sandbox, api_base: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = failover(sb.state.path());
    cmd.env("CLOUDFLARE_API_TOKEN", &sb.world.token)
        .env("CLOUDFLARE_API_BASE_URL", api_base)
        .arg("--config")
        .arg(&sb.world.config)
        .arg("--state-dir")
        .arg(sb.state.path())
        .arg("watch")
        .arg("--resolve")
        .arg(sb.world.pin())
        .args(args);
    cmd
}

/// `--once`: one cycle, one JSON line, the verdict's exit code; a notifier whose secret is not
/// in the environment is a configuration error naming the key, before anything is sent.
#[test]
fn once_exits_with_the_verdict() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(workerd, "");
    let base = sb.world.cf.base_url().to_string();
    let healthy = crate::support::run(&mut binary(&sb, &base, &["--once", "--json"]));
    healthy.expect("healthy", 0, &[]);
    let lines: Vec<Value> = healthy
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", healthy.stdout);
    assert_eq!(
        (
            lines[0]["schema"].as_str(),
            lines[0]["verdict"].as_str(),
            lines[0]["cycle"].as_u64()
        ),
        (Some("failover.watch-event/v1"), Some("healthy"), Some(1))
    );
    sb.world.break_target();
    let summary = sb.state.path().join("step-summary.md");
    let broken =
        crate::support::run(binary(&sb, &base, &["--once"]).env("GITHUB_STEP_SUMMARY", &summary));
    broken.expect(
        "broken",
        3,
        &["cycle 1: dns_target_failure -> deploy-proxy"],
    );
    // A scheduled `--once` reports its cycle to the CI step, as diagnose does.
    let written = std::fs::read_to_string(&summary).expect("a step summary");
    assert!(written.contains("`dns_target_failure`"), "{written}");

    let mut text = std::fs::read_to_string(&sb.world.config).unwrap();
    text.push_str("\n[[notify]]\nkind = \"slack\"\nurl_env = \"FAILOVER_TEST_UNSET_SLACK\"\n");
    std::fs::write(&sb.world.config, text).unwrap();
    let unset = crate::support::run(&mut binary(&sb, &base, &["--once"]));
    unset.expect(
        "a notifier without its secret",
        2,
        &["notify[0].url_env", "FAILOVER_TEST_UNSET_SLACK"],
    );
}

/// Lines of a child's pipe, as they come.
fn lines(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A bound on waits for a child, far beyond need: a hung watch fails the case instead of
/// hanging the suite.
const PATIENCE: Duration = Duration::from_secs(120);

/// A child that is killed if the case fails before it ends: no watch outlives its test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn terminate(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

/// `/metrics` is Prometheus text with the contract's names and a help line each; SIGTERM with
/// nothing in flight ends the watch with 0.
#[test]
fn metrics_parse_as_prometheus_text() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(workerd, "");
    let base = sb.world.cf.base_url().to_string();
    let mut child = Running(
        binary(
            &sb,
            &base,
            &["--interval", "1h", "--metrics", "127.0.0.1:0"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let child = &mut child.0;
    let stderr = lines(child.stderr.take().unwrap());
    let stdout = lines(child.stdout.take().unwrap());
    let url = loop {
        let line = stderr.recv_timeout(PATIENCE).expect("the metrics address");
        if let Some(rest) = line.strip_prefix("serving metrics at ") {
            break rest.to_owned();
        }
    };
    // The first cycle's line is printed after its metrics are set.
    let first = stdout.recv_timeout(PATIENCE).expect("the first cycle");
    assert!(first.contains("cycle 1: healthy"), "{first}");
    let text = sb
        .rt
        .block_on(async { reqwest::get(&url).await?.text().await })
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    assert_eq!(
        value("failover_verdict", &[("verdict", "healthy")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("failover_verdict", &[("verdict", "dns_target_failure")]),
        Some(0.0)
    );
    assert_eq!(value("failover_cycles_total", &[]), Some(1.0), "{text}");
    assert!(value("failover_last_cycle_timestamp_seconds", &[]).is_some_and(|t| t > 1.0e9));
    assert!(
        value("failover_check_up", &[("check", "http.public")]).is_some(),
        "{text}"
    );
    assert!(
        value("failover_check_duration_seconds", &[]).is_some(),
        "{text}"
    );
    for name in [
        "failover_verdict",
        "failover_check_up",
        "failover_check_duration_seconds",
        "failover_cycles",
        "failover_actions",
        "failover_last_cycle_timestamp_seconds",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {name} "))),
            "no help line for {name}:\n{text}"
        );
    }
    terminate(&*child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stopped by SIGTERM");
}

/// SIGTERM while the deploy is under way: the deploy completes (verified), is journaled, and
/// the watch exits 0. The script upload is held at a loopback relay in front of the sandbox
/// API until the signal has been sent.
#[test]
fn sigterm_during_a_deploy_completes_it_and_exits_0() {
    let Some(workerd) = workerd_binary() else {
        return;
    };
    let sb = Sandbox::new(workerd, "\n[watch]\ndeploy_after = 1\n");
    let (relay, arrived, release, _served) = sb.rt.block_on(Relay::start(sb.world.cf.base_url()));
    sb.world.break_target();
    let mut child = Running(
        binary(&sb, &relay, &["--auto", "--json", "--interval", "1h"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    let stdout = lines(child.stdout.take().unwrap());
    arrived
        .recv_timeout(PATIENCE)
        .expect("the upload reached the relay");
    terminate(&*child);
    // The signal is delivered before the upload goes on: the watch is mid-deploy.
    let _ = release.send(());
    let mut events = Vec::new();
    while let Ok(line) = stdout.recv_timeout(PATIENCE) {
        events.push(serde_json::from_str::<Value>(&line).expect("a JSON line"));
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{events:#?}");
    let acted: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| Some((e["acted"].as_str()?, e["result"].as_str()?)))
        .collect();
    assert_eq!(acted, [("deploy-proxy", "ok")], "{events:#?}");
    assert!(
        sb.world.cf.snapshot().scripts.len() == 1,
        "the proxy was deployed"
    );
    let journal = failover::state::read_events(sb.state.path()).unwrap();
    let tail: Vec<(&str, &Value)> = journal
        .iter()
        .filter(|e| e.command == "watch" && ["acted", "finished"].contains(&e.event.as_str()))
        .map(|e| (e.event.as_str(), &e.data))
        .collect();
    assert_eq!(tail.len(), 2, "{tail:?}");
    assert_eq!(
        (tail[0].0, tail[0].1["result"].as_str()),
        ("acted", Some("ok"))
    );
    assert_eq!(
        (tail[1].0, tail[1].1["stopped"].as_bool()),
        ("finished", Some(true))
    );
}

/// A relay in front of the sandbox API that holds the first script upload until released,
/// telling the test when it arrived.
struct Relay {
    upstream: url::Url,
    client: reqwest::Client,
    arrived: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    release: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Relay {
    async fn start(
        upstream: url::Url,
    ) -> (
        String,
        std::sync::mpsc::Receiver<()>,
        oneshot::Sender<()>,
        failover::sandbox::Served,
    ) {
        let (arrived_tx, arrived) = std::sync::mpsc::channel();
        let (release, release_rx) = oneshot::channel();
        let relay = Arc::new(Relay {
            upstream,
            client: reqwest::Client::new(),
            arrived: Mutex::new(Some(arrived_tx)),
            release: Mutex::new(Some(release_rx)),
        });
        let app = axum::Router::new().fallback(forward).with_state(relay);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/client/v4", listener.local_addr().unwrap());
        (
            base,
            arrived,
            release,
            failover::sandbox::Served::spawn(listener, app),
        )
    }
}

async fn forward(
    State(relay): State<Arc<Relay>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap();
    let upload = method == axum::http::Method::PUT
        && path_and_query.contains("/workers/scripts/")
        && !path_and_query.contains("/settings");
    if upload {
        let waiting = relay.release.lock().unwrap().take();
        if let Some(waiting) = waiting {
            if let Some(tx) = relay.arrived.lock().unwrap().take() {
                let _ = tx.send(());
            }
            let _ = waiting.await;
        }
    }
    let host = relay.upstream.host_str().unwrap().to_owned();
    let port = relay.upstream.port().unwrap();
    let url = format!("http://{host}:{port}{path_and_query}");
    let mut out = relay.client.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let resp = out.send().await.unwrap();
    let status = resp.status();
    let content_type = resp.headers().get("content-type").cloned();
    let bytes = resp.bytes().await.unwrap();
    let mut answer = axum::response::Response::new(axum::body::Body::from(bytes));
    *answer.status_mut() = status;
    if let Some(ct) = content_type {
        answer.headers_mut().insert("content-type", ct);
    }
    answer
}
