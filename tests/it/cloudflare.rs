//! deploy-proxy, status and rollback against the sandbox Cloudflare API, with a loopback edge
//! that answers with the marker exactly when the sandbox routes the host to a live script.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use failover::sandbox::cloudflare::{
    CloudflareSandbox, Fault, FaultKind, Hold, HoldAt, Permission, Snapshot,
};
use failover::sandbox::dns::DnsServer;
use serde_json::Value;

use crate::support::{failover, run, Run, Scratch};

const TOKEN: &str = "canary-7f3a9c1e-token-NEVER-PRINT";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "api.example.com";
const SCRIPT: &str = "failover-api-example-com";
const TARGET: &str = "target.platform.test";

/// A sandbox API, an edge and an origin on loopback, a config pointing at them.
pub(crate) struct World {
    rt: tokio::runtime::Runtime,
    pub(crate) cf: Arc<CloudflareSandbox>,
    /// The platform's DNS, where its target resolves.
    _dns: DnsServer,
    pub(crate) dir: Scratch,
    edge_port: u16,
    zone: String,
    record: String,
    outputs: Vec<String>,
    /// Other machines' directories (their own state and journal, the same config).
    machines: Vec<Scratch>,
}

async fn edge(State(cf): State<Arc<CloudflareSandbox>>, req: Request) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default().to_owned();
    match cf.script_for(&host, req.uri().path()) {
        // As Cloudflare's edge: a route naming a script that does not exist fails.
        Some(script) if cf.script(&script).is_none() => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "error 1101: the routed Worker does not exist",
        )
            .into_response(),
        Some(script) if script.starts_with("failover-") => {
            ([("x-failover-proxy", script)], "through the proxy").into_response()
        }
        Some(_) => "through another Worker".into_response(),
        None => "through the platform".into_response(),
    }
}

/// The app's WebSocket endpoint, reached through the edge.
async fn cable(ws: axum::extract::WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        let _ = socket
            .send(axum::extract::ws::Message::Text("welcome".into()))
            .await;
    })
}

async fn serve(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

impl World {
    /// `proxied`: the host's record starts proxied (orange) or DNS only (grey).
    /// `origin_up`: whether the platform's origin answers.
    pub(crate) fn new(proxied: bool, origin_up: bool) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cf = Arc::new(
            rt.block_on(CloudflareSandbox::start(TOKEN, ACCOUNT))
                .unwrap(),
        );
        let edge_port = rt.block_on(serve(
            axum::Router::new()
                .route("/cable", axum::routing::get(cable))
                .fallback(edge)
                .with_state(cf.clone()),
        ));
        let origin_port = if origin_up {
            rt.block_on(serve(axum::Router::new().fallback(|| async { "ok" })))
        } else {
            // A port nothing listens on: bound, then closed.
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let dns = rt.block_on(DnsServer::start()).unwrap();
        dns.set_addrs(TARGET, &["127.0.0.1".parse().unwrap()]);
        let zone = cf.add_zone("example.com", "free");
        cf.add_zone("other.org", "pro");
        let record = cf.add_dns_record(&zone, "CNAME", HOST, TARGET, proxied);
        cf.add_dns_record(&zone, "A", "www.example.com", "192.0.2.1", true);
        // Foreign things that must never be touched.
        cf.add_script("someone-else", "export default {}", &["team-web"]);
        cf.add_route(&zone, "www.example.com/*", Some("someone-else"));
        let dir = Scratch::new();
        dir.write(
            "failover.toml",
            &format!(
                "[service]\npublic_url = \"http://{HOST}:{edge_port}\"\norigin = \"http://127.0.0.1:{origin_port}\"\ndns_target = \"{TARGET}\"\nwebsocket_path = \"/cable\"\n\n[dns]\nresolvers = [\"{}\"]\n\n[cloudflare]\naccount_id = \"{ACCOUNT}\"\n",
                dns.addr()
            ),
        );
        World {
            rt,
            cf,
            _dns: dns,
            dir,
            edge_port,
            zone,
            record,
            outputs: Vec::new(),
            machines: Vec::new(),
        }
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in(self.dir.path(), args)
    }

    /// Another machine: its own directory (state, journal) with the same configuration.
    fn second_machine(&mut self) -> PathBuf {
        let other = Scratch::new();
        let config = std::fs::read_to_string(self.dir.path().join("failover.toml")).unwrap();
        other.write("failover.toml", &config);
        let path = other.path().to_owned();
        self.machines.push(other);
        path
    }

    /// Starts the command in `dir` in the background (another engineer, at the same time).
    fn spawn_in(&self, dir: &Path, args: &[&str]) -> Child {
        self.cmd_in(dir, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start failover")
    }

    /// Waits for a background run; remembers its output for the canary check.
    fn finish(&mut self, child: Child) -> Run {
        let out = child.wait_with_output().expect("wait for failover");
        self.remember(out.into())
    }

    fn remember(&mut self, out: Run) -> Run {
        self.outputs.push(out.stdout.clone());
        self.outputs.push(out.stderr.clone());
        out
    }

    #[track_caller]
    fn expect_in(&mut self, dir: &Path, args: &[&str], code: i32) -> Run {
        let out = run(&mut self.cmd_in(dir, args));
        let out = self.remember(out);
        assert_eq!(
            out.code,
            code,
            "failover {args:?} (in {})\nstdout:\n{}\nstderr:\n{}",
            dir.display(),
            out.stdout,
            out.stderr
        );
        out
    }

    /// Blocks until the held call has arrived.
    fn reached(&self, hold: &Hold) {
        self.rt.block_on(hold.reached());
    }

    /// The command, run in `dir` (another machine's directory).
    fn cmd_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = failover(dir);
        cmd.env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CLOUDFLARE_API_BASE_URL", self.cf.base_url().as_str())
            .env("FAILOVER_RETRY_BASE_MS", "1")
            .args(args)
            .arg("--resolve")
            .arg(format!("{HOST}:{}:127.0.0.1", self.edge_port));
        cmd
    }

    /// Runs the binary; remembers its output for the canary check.
    fn run(&mut self, args: &[&str]) -> Run {
        let out = run(&mut self.cmd(args));
        self.remember(out)
    }

    #[track_caller]
    pub(crate) fn expect(&mut self, args: &[&str], code: i32) -> Run {
        let dir = self.dir.path().to_owned();
        self.expect_in(&dir, args, code)
    }

    fn snapshot(&self) -> Snapshot {
        self.cf.snapshot()
    }

    fn mutating_calls(&self) -> usize {
        self.cf.calls().iter().filter(|c| c.mutates()).count()
    }

    fn journal(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(".failover/journal.jsonl")).unwrap_or_default()
    }

    /// The canary token appears in no output, no file of the state directory, nothing stored.
    #[track_caller]
    fn assert_no_canary(&self) {
        for out in &self.outputs {
            assert!(!out.contains(TOKEN), "token printed:\n{out}");
        }
        let dirs = std::iter::once(&self.dir).chain(&self.machines);
        for entry in dirs.flat_map(|d| walk(&d.path().join(".failover"))) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(!text.contains(TOKEN), "token in {}", entry.display());
        }
        let stored = serde_json::to_string(&self.snapshot()).unwrap();
        assert!(!stored.contains(TOKEN), "token stored in Cloudflare");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The parts of a snapshot that matter for "the same state", comparable across worlds: ids,
/// timestamps, ports (in the module) and hashes vary.
fn shape(s: &Snapshot) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    match k.as_str() {
                        "id" | "zone_id" | "created_on" | "modified_on" | "created_at"
                        | "script_sha256" | "modules" => *val = Value::Null,
                        _ => strip(val),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(s).unwrap();
    strip(&mut v);
    v
}

#[test]
fn deploy_status_rollback_restores_the_prior_state() {
    let mut w = World::new(true, true);
    let before = w.snapshot();

    let human = w.expect(&["deploy-proxy", "--dry-run"], 0);
    println!("{}", human.stdout);
    for needle in [
        "PUT /accounts/",
        "POST /zones/",
        "--dry-run",
        "create route api.example.com/*",
    ] {
        assert!(
            human.stdout.contains(needle),
            "dry run lacks {needle:?}:\n{}",
            human.stdout
        );
    }
    let dry = w.expect(&["deploy-proxy", "--dry-run", "--json"], 0).json();
    assert_eq!(dry["schema"], "failover.deployment/v1");
    assert_eq!(dry["dry_run"], true);
    assert!(!dry["plan"]["phases"].as_array().unwrap().is_empty());
    assert_eq!(w.mutating_calls(), 0, "a dry run changed something");

    let doc = w.expect(&["deploy-proxy", "--yes", "--json"], 0).json();
    assert_eq!(doc["verified"], true, "{doc:#}");
    assert_eq!(doc["websocket"]["upgraded"], true, "{doc:#}");
    assert_eq!(doc["script"], SCRIPT);
    assert!(doc["warnings"][0].as_str().unwrap().contains("100,000"));
    let after_deploy = w.snapshot();
    let script = after_deploy.scripts.get(SCRIPT).expect("script uploaded");
    assert!(script.tags.contains(&"failover-managed".to_owned()));
    assert_eq!(script.main_module, "worker.js");
    let state = &script.bindings[0]["json"];
    assert_eq!(state["zone_id"], w.zone.as_str());
    assert_eq!(state["dns_records"][0]["proxied_before"], true);
    let route = after_deploy
        .routes
        .iter()
        .find(|r| r.pattern == "api.example.com/*")
        .expect("route created");
    assert_eq!(state["routes"][0]["id"], route.id.as_str());

    println!("{}", w.expect(&["status"], 0).stdout);
    let status = w.expect(&["status", "--json"], 0).json();
    assert_eq!(status["schema"], "failover.status/v1");
    assert_eq!(status["deployed"], true);
    assert_eq!(status["routes"][0]["pattern"], "api.example.com/*");
    assert_eq!(status["public_url"]["marker"], SCRIPT);
    assert_eq!(status["platform"]["healthy"], true);
    assert_eq!(status["action"], "rollback");

    // Twice changes nothing the second time.
    let calls = w.mutating_calls();
    let again = w.expect(&["deploy-proxy", "--yes", "--json"], 0).json();
    assert_eq!(again["applied"].as_array().unwrap().len(), 0, "{again:#}");
    assert_eq!(w.mutating_calls(), calls);
    assert_eq!(w.snapshot(), after_deploy);

    let human = w.expect(&["rollback", "--dry-run"], 0);
    println!("{}\n{}", human.stdout, human.stderr);
    let rb = w.expect(&["rollback", "--yes", "--json"], 0).json();
    assert_eq!(rb["schema"], "failover.rollback/v1");
    assert_eq!(rb["verified"], true, "{rb:#}");
    assert_eq!(w.snapshot(), before);

    let calls = w.mutating_calls();
    let again = w.expect(&["rollback", "--yes", "--json"], 0).json();
    assert_eq!(again["found"], false);
    assert_eq!(
        w.mutating_calls(),
        calls,
        "a second rollback changed something"
    );
    let status = w.expect(&["status"], 0);
    assert!(
        status.stdout.contains("No emergency proxy"),
        "{}",
        status.stdout
    );

    let journal = w.journal();
    for event in ["step.begin", "step.done", "finished"] {
        assert!(journal.contains(event), "journal lacks {event}:\n{journal}");
    }
    w.assert_no_canary();
}

#[test]
fn dns_only_record_needs_consent_and_is_restored() {
    let mut w = World::new(false, true);
    let before = w.snapshot();
    let out = w.expect(&["deploy-proxy"], 4);
    assert!(out.stderr.contains("proxied"), "{}", out.stderr);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(w.snapshot(), before);

    w.expect(&["deploy-proxy", "--yes"], 0);
    let record = |w: &World| {
        w.snapshot()
            .dns
            .into_iter()
            .find(|r| r.id == w.record)
            .unwrap()
    };
    assert!(record(&w).proxied);
    w.expect(&["rollback", "--yes"], 0);
    assert!(!record(&w).proxied);
    assert_eq!(w.snapshot(), before);
    w.assert_no_canary();
}

#[test]
fn a_route_owned_by_another_script_stops_the_deploy() {
    let mut w = World::new(true, true);
    // Remote text reaches the terminal escaped.
    w.cf.add_route(&w.zone, "api.example.com/*", Some("legacy-router\u{1b}[2J"));
    w.cf.add_script("legacy-router\u{1b}[2J", "export default {}", &[]);
    let before = w.snapshot();
    let out = w.expect(&["deploy-proxy", "--yes"], 4);
    assert!(out.stderr.contains("legacy-router"), "{}", out.stderr);
    assert!(
        !out.stderr.contains('\u{1b}'),
        "raw escape: {:?}",
        out.stderr
    );
    assert_eq!(w.mutating_calls(), 0);
    assert_eq!(w.snapshot(), before);

    // --force takes it over; rollback gives it back.
    w.expect(&["deploy-proxy", "--yes", "--force"], 0);
    assert!(w
        .snapshot()
        .routes
        .iter()
        .any(|r| r.pattern == "api.example.com/*" && r.script.as_deref() == Some(SCRIPT)));
    w.expect(&["rollback", "--yes"], 0);
    assert_eq!(shape(&w.snapshot()), shape(&before));
}

#[test]
fn rollback_refuses_while_the_platform_still_fails() {
    let mut w = World::new(true, false);
    w.expect(&["deploy-proxy", "--yes"], 0);
    let deployed = w.snapshot();
    let out = w.expect(&["rollback", "--yes"], 4);
    assert!(
        out.stderr.contains("platform path still fails"),
        "{}",
        out.stderr
    );
    assert_eq!(w.snapshot(), deployed);
    let status = w.expect(&["status", "--json"], 0).json();
    assert_eq!(status["platform"]["healthy"], false);
    assert_eq!(status["action"], "none");
    w.expect(&["rollback", "--yes", "--force"], 0);
    assert!(!w.snapshot().scripts.contains_key(SCRIPT));
}

#[test]
fn verification_failure_exits_3() {
    let mut w = World::new(true, true);
    let config = std::fs::read_to_string(w.dir.path().join("failover.toml")).unwrap();
    w.dir.write(
        "failover.toml",
        &config.replace("/cable", "/no-websocket-here"),
    );
    let doc = w.expect(&["deploy-proxy", "--yes", "--json"], 3).json();
    assert_eq!(doc["verified"], false, "{doc:#}");
    assert_eq!(doc["websocket"]["upgraded"], false, "{doc:#}");
    // Applied all the same; rollback cleans up.
    assert_eq!(doc["applied"].as_array().unwrap().len(), 3);
    w.expect(&["rollback", "--yes"], 0);
}

#[test]
fn account_tokens_verify_at_the_account_endpoint() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cf = rt
        .block_on(CloudflareSandbox::start(
            "cfat_canary-account-token",
            ACCOUNT,
        ))
        .unwrap();
    let zone = cf.add_zone("example.com", "pro");
    cf.add_dns_record(&zone, "CNAME", HOST, TARGET, true);
    let dir = Scratch::new();
    dir.write(
        "failover.toml",
        &format!("[service]\npublic_url = \"https://{HOST}\"\norigin = \"http://127.0.0.1:9\"\n[cloudflare]\naccount_id = \"{ACCOUNT}\"\n"),
    );
    let out = run(failover(dir.path())
        .env("CLOUDFLARE_API_TOKEN", "cfat_canary-account-token")
        .env("CLOUDFLARE_API_BASE_URL", cf.base_url().as_str())
        .args(["deploy-proxy", "--dry-run", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(cf
        .calls()
        .iter()
        .any(|c| c.path == format!("/accounts/{ACCOUNT}/tokens/verify")));
    assert!(!format!("{}{}", out.stdout, out.stderr).contains("cfat_canary"));
}

#[track_caller]
fn check_setup(
    w: &mut World,
    args: &[&str],
    env: &[(&str, Option<&str>)],
    code: i32,
    needle: &str,
) {
    let mut cmd = w.cmd(args);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = run(&mut cmd);
    w.outputs.push(out.stdout.clone());
    w.outputs.push(out.stderr.clone());
    out.expect(&format!("{args:?}"), code, &[needle]);
}

#[test]
fn setup_errors_explain_the_fix() {
    let mut w = World::new(true, true);
    check_setup(
        &mut w,
        &["deploy-proxy"],
        &[("CLOUDFLARE_API_TOKEN", None)],
        2,
        "CLOUDFLARE_API_TOKEN",
    );
    check_setup(
        &mut w,
        &["rollback", "--json"],
        &[("CLOUDFLARE_API_TOKEN", None)],
        2,
        "\"kind\": \"usage\"",
    );
    check_setup(
        &mut w,
        &["status"],
        &[("CLOUDFLARE_API_TOKEN", Some("wrong"))],
        2,
        "refused the token",
    );
    w.dir.write(
        "other.toml",
        &format!("[service]\npublic_url = \"http://api.nowhere.net\"\norigin = \"http://127.0.0.1:9\"\n[cloudflare]\naccount_id = \"{ACCOUNT}\"\n"),
    );
    check_setup(
        &mut w,
        &["--config", "other.toml", "deploy-proxy", "--yes"],
        &[],
        2,
        "no active zone",
    );
    w.dir.write(
        "noacct.toml",
        "[service]\npublic_url = \"http://api.example.com\"\norigin = \"http://127.0.0.1:9\"\n",
    );
    check_setup(
        &mut w,
        &["--config", "noacct.toml", "deploy-proxy"],
        &[],
        2,
        "CLOUDFLARE_ACCOUNT_ID",
    );
    w.cf.set_permissions(Some(&[
        Permission::ZoneRead,
        Permission::DnsEdit,
        Permission::WorkersScriptsEdit,
    ]));
    check_setup(
        &mut w,
        &["deploy-proxy", "--yes"],
        &[],
        2,
        "Workers Routes Edit",
    );
    assert_eq!(w.mutating_calls(), 0);
    w.assert_no_canary();
}

/// Every mutating call of a run, as (method, path, occurrence) for fault injection.
fn mutating_calls(w: &World) -> Vec<(String, String, usize)> {
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for c in w.cf.calls().into_iter().filter(|c| c.mutates()) {
        let n = seen
            .iter()
            .filter(|(m, p, _)| *m == c.method && *p == c.path)
            .count();
        seen.push((c.method, c.path, n));
    }
    seen
}

fn inject(w: &World, call: &(String, String, usize), kind: &FaultKind, times: usize) {
    fault(w, &call.0, &call.1, call.2, times, kind.clone());
}

/// Runs `args` under the fault; it must succeed or exit 5 with a journal, and re-running must
/// converge. Returns whether it needed the re-run.
#[track_caller]
fn converges(w: &mut World, args: &[&str], label: &str) -> bool {
    let out = w.run(args);
    match out.code {
        0 => false,
        5 => {
            let journal = w.journal();
            assert!(
                journal.contains("\"partial\""),
                "{label}: no partial event:\n{journal}"
            );
            assert!(
                out.stderr.contains("partially applied"),
                "{label}: {}",
                out.stderr
            );
            w.cf.clear_faults();
            let again = w.run(args);
            assert_eq!(
                again.code, 0,
                "{label}: re-run did not converge:\n{}",
                again.stderr
            );
            true
        }
        other => panic!(
            "{label}: exit {other}, want 0 or 5\n{}\n{}",
            out.stdout, out.stderr
        ),
    }
}

/// A line that shows in `cargo test` output even when the test passes (the harness captures
/// print macros, not direct writes to stderr).
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[test]
fn fault_matrix_converges() {
    // The calls of a clean deploy and rollback, with the record DNS-only so that both flip it.
    let mut probe = World::new(false, true);
    let pristine = probe.snapshot();
    probe.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
    let deployed = shape(&probe.snapshot());
    let deploy_calls = mutating_calls(&probe);
    probe.cf.clear_calls();
    probe.expect(&["rollback", "--yes"], 0);
    let rollback_calls = mutating_calls(&probe);
    assert_eq!(probe.snapshot(), pristine);
    assert_eq!(deploy_calls.len(), 4, "{deploy_calls:?}");
    assert_eq!(rollback_calls.len(), 3, "{rollback_calls:?}");

    let kinds = FaultKind::all();
    let persistence = [1usize, 100];
    let size = (deploy_calls.len() + rollback_calls.len()) * kinds.len() * persistence.len();
    report!("fault matrix: {size} cases ({} deploy calls + {} rollback calls) x {} fault kinds x {:?} repeats",
        deploy_calls.len(), rollback_calls.len(), kinds.len(), persistence);
    let mut reruns = 0;
    for call in &deploy_calls {
        for kind in &kinds {
            for &times in &persistence {
                let label = format!(
                    "deploy: {} {} #{} {kind:?} x{times}",
                    call.0, call.1, call.2
                );
                let mut w = World::new(false, true);
                let before = w.snapshot();
                inject(&w, call, kind, times);
                reruns += usize::from(converges(
                    &mut w,
                    &["deploy-proxy", "--yes", "--no-verify"],
                    &label,
                ));
                assert_eq!(
                    shape(&w.snapshot()),
                    deployed,
                    "{label}: deploy did not converge"
                );
                // Nothing leaked: rollback restores exactly what was there.
                w.expect(&["rollback", "--yes"], 0);
                assert_eq!(
                    w.snapshot(),
                    before,
                    "{label}: rollback left something behind"
                );
                w.assert_no_canary();
            }
        }
    }
    for call in &rollback_calls {
        for kind in &kinds {
            for &times in &persistence {
                let label = format!(
                    "rollback: {} {} #{} {kind:?} x{times}",
                    call.0, call.1, call.2
                );
                let mut w = World::new(false, true);
                let before = w.snapshot();
                w.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
                inject(&w, call, kind, times);
                reruns += usize::from(converges(&mut w, &["rollback", "--yes"], &label));
                assert_eq!(w.snapshot(), before, "{label}: rollback did not converge");
                w.assert_no_canary();
            }
        }
    }
    report!("fault matrix: {size} cases converged ({reruns} needed a re-run after exit 5)");
    assert!(reruns > 0, "no case exercised exit 5");
}

#[test]
fn client_follows_pages_and_honours_retry_after() {
    let w = World::new(true, true);
    for i in 0..4 {
        w.cf.add_dns_record(
            &w.zone,
            "A",
            "multi.example.com",
            &format!("192.0.2.{i}"),
            false,
        );
    }
    w.cf.set_page_cap(1);
    let client = failover::cloudflare::Client::new(
        w.cf.base_url(),
        failover::secret::ApiToken::new(TOKEN).unwrap(),
        failover::cloudflare::RetryPolicy::default(),
    )
    .unwrap();
    let records =
        w.rt.block_on(client.dns_records(&w.zone, "multi.example.com"))
            .unwrap();
    assert_eq!(records.len(), 4);
    w.cf.inject(Fault {
        method: "GET".parse().unwrap(),
        path: format!("/zones/{}/workers/routes", w.zone),
        skip: 0,
        times: 1,
        kind: FaultKind::RateLimited {
            retry_after_secs: 1,
        },
    });
    let started = std::time::Instant::now();
    let routes = w.rt.block_on(client.routes(&w.zone)).unwrap();
    assert_eq!(routes.len(), 1);
    // A lower bound only: Retry-After was waited for before the retry.
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let err = w.rt.block_on(client.delete_route(&w.zone, "nope")).unwrap();
    assert!(!err, "a missing route counts as already gone");
}

/// OpenAPI 3.0's `nullable: true` is `type: [T, "null"]` in JSON Schema.
fn nullable_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = map.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            map.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// The sandbox answers in the official schemas' shapes (openapi-subset.json), so it cannot
/// drift from the real API.
#[test]
fn sandbox_answers_match_the_official_schemas() {
    let mut w = World::new(true, true);
    w.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
    let mut spec: Value =
        serde_json::from_str(include_str!("../fixtures/cloudflare-openapi-subset.json")).unwrap();
    nullable_to_json_schema(&mut spec);
    let http = reqwest::Client::new();
    let base = w.cf.base_url();
    let zone = w.zone.clone();
    let get = |path: String| {
        let url = format!("{base}{path}");
        let http = http.clone();
        w.rt.block_on(async move {
            http.get(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let post_route = {
        let url = format!("{base}/zones/{zone}/workers/routes");
        let http = http.clone();
        w.rt.block_on(async move {
            http.post(url)
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({"pattern": "shop.example.com/*", "script": SCRIPT}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let put_script = {
        let url = format!("{base}/accounts/{ACCOUNT}/workers/scripts/another-one");
        let http = http.clone();
        w.rt.block_on(async move {
            let module = reqwest::multipart::Part::text("export default {}")
                .file_name("worker.js")
                .mime_str("application/javascript+module")
                .unwrap();
            let meta = serde_json::json!({"main_module": "worker.js", "compatibility_date": "2025-09-01", "tags": ["x"]});
            let form = reqwest::multipart::Form::new()
                .text("metadata", meta.to_string())
                .part("worker.js", module);
            http.put(url)
                .bearer_auth(TOKEN)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let cases = [
        ("/zones/{zone_id}/workers/routes", "post", "200", post_route),
        (
            "/accounts/{account_id}/workers/scripts/{script_name}",
            "put",
            "200",
            put_script,
        ),
        (
            "/zones",
            "get",
            "200",
            get("/zones?name=example.com".into()),
        ),
        (
            "/zones/{zone_id}/dns_records",
            "get",
            "200",
            get(format!("/zones/{zone}/dns_records?name={HOST}")),
        ),
        (
            "/zones/{zone_id}/workers/routes",
            "get",
            "200",
            get(format!("/zones/{zone}/workers/routes")),
        ),
        (
            "/accounts/{account_id}/workers/scripts",
            "get",
            "200",
            get(format!("/accounts/{ACCOUNT}/workers/scripts")),
        ),
        (
            "/accounts/{account_id}/workers/scripts/{script_name}/settings",
            "get",
            "200",
            get(format!(
                "/accounts/{ACCOUNT}/workers/scripts/{SCRIPT}/settings"
            )),
        ),
        (
            "/user/tokens/verify",
            "get",
            "200",
            get("/user/tokens/verify".into()),
        ),
        (
            "/zones/{zone_id}/workers/routes/{route_id}",
            "delete",
            "4XX",
            get("/zones/x/workers/routes/y".into()),
        ),
    ];
    for (path, method, status, body) in cases {
        let pointer = format!(
            "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            path.replace('~', "~0")
                .replace('/', "~1")
                .replace('{', "%7B")
                .replace('}', "%7D")
        );
        let mut schema = spec.clone();
        schema["$ref"] = Value::String(pointer.clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{pointer}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{method} {path}: {errors:#?}\n{body:#}");
    }
}

/// One raw call to the sandbox: (HTTP status, first error code).
fn raw(
    w: &World,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<reqwest::multipart::Form>,
    json: Option<Value>,
) -> (u16, Option<u64>) {
    let url = format!("{}{path}", w.cf.base_url());
    let method: reqwest::Method = method.parse().unwrap();
    w.rt.block_on(async move {
        let mut req = reqwest::Client::new().request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(form) = body {
            req = req.multipart(form);
        }
        if let Some(j) = json {
            req = req.json(&j);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        (status, v["errors"][0]["code"].as_u64())
    })
}

fn upload(meta: Value, part: &str, content_type: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("metadata", meta.to_string())
        .part(
            part.to_owned(),
            reqwest::multipart::Part::text("export default {}")
                .file_name(part.to_owned())
                .mime_str(content_type)
                .unwrap(),
        )
}

/// `what` names the request, for tables whose rows share one line.
#[track_caller]
fn check_rejects(what: &str, got: (u16, Option<u64>), status: u16, code: u64) {
    assert_eq!(got, (status, Some(code)), "{what}");
}

#[test]
fn sandbox_rejects_what_the_real_api_rejects() {
    use serde_json::json;
    let w = World::new(true, true);
    let script = format!("/accounts/{ACCOUNT}/workers/scripts/s1");
    let routes = format!("/zones/{}/workers/routes", w.zone);
    let js = "application/javascript+module";
    let t = Some(TOKEN);
    check_rejects(
        "no token",
        raw(&w, "GET", "/user/tokens/verify", None, None, None),
        400,
        10000,
    );
    check_rejects(
        "a wrong token",
        raw(&w, "GET", "/user/tokens/verify", Some("nope"), None, None),
        400,
        9109,
    );

    let put = |meta: Value, part: &str, content_type: &str| {
        let form = upload(meta, part, content_type);
        raw(&w, "PUT", &script, t, Some(form), None)
    };
    let date = "2025-09-01";
    let good = json!({"main_module": "worker.js", "compatibility_date": date});
    assert_eq!(put(good.clone(), "worker.js", js).0, 200);
    // Uploads the real API refuses with 10021: (metadata, part name, content type).
    let bad_uploads = [
        (json!({"compatibility_date": date}), "worker.js", js),
        (good.clone(), "other.js", js),
        (good.clone(), "worker.js", "application/javascript"),
        (json!({"main_module": "worker.js"}), "worker.js", js),
        (
            json!({"main_module": "worker.js", "compatibility_date": date, "tags": ["a:b"]}),
            "worker.js",
            js,
        ),
        (
            json!({"main_module": "worker.js", "compatibility_date": date, "bindings": [{"type": "json", "name": "X"}]}),
            "worker.js",
            js,
        ),
    ];
    for (meta, part, content_type) in bad_uploads {
        let what = format!("{meta} as {part} ({content_type})");
        check_rejects(&what, put(meta, part, content_type), 400, 10021);
    }

    let route = |pattern: &str| {
        let body = json!({"pattern": pattern, "script": "s1"});
        raw(&w, "POST", &routes, t, None, Some(body))
    };
    for (pattern, status, code) in [
        ("https://api.example.com/*", 400, 10022),
        ("api.other.org/*", 400, 10022),
        ("www.example.com/*", 409, 10020),
    ] {
        check_rejects(pattern, route(pattern), status, code);
    }

    let missing = format!("/accounts/{ACCOUNT}/workers/scripts/nope");
    let cases = [
        ("DELETE", format!("{routes}/0000"), None, 404, 10009),
        ("DELETE", missing.clone(), None, 404, 10007),
        ("GET", format!("{missing}/settings"), None, 404, 10007),
        (
            "PUT",
            format!("{script}/routes"),
            Some(json!([])),
            400,
            10000,
        ),
    ];
    for (method, path, body, status, code) in cases {
        let what = format!("{method} {path}");
        check_rejects(&what, raw(&w, method, &path, t, None, body), status, code);
    }
    // Only the good upload changed anything.
    let snap = w.snapshot();
    assert!(snap.scripts.contains_key("s1"));
    assert_eq!(snap.routes.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Two engineers at once, an API that echoes secrets, tokens that lack permissions.

fn script_path() -> String {
    format!("/accounts/{ACCOUNT}/workers/scripts/{SCRIPT}")
}

fn settings_path() -> String {
    format!("{}/settings", script_path())
}

fn hold(w: &World, method: &str, path: &str, skip: usize, at: HoldAt) -> Hold {
    w.cf.hold(method.parse().unwrap(), path, skip, at)
}

fn fault(w: &World, method: &str, path: &str, skip: usize, times: usize, kind: FaultKind) {
    w.cf.inject(Fault {
        method: method.parse().unwrap(),
        path: path.to_owned(),
        skip,
        times,
        kind,
    });
}

/// The `proxied_before` our script records for the host's record.
fn recorded_proxied_before(w: &World) -> Value {
    let snap = w.snapshot();
    snap.scripts.get(SCRIPT).expect("our script").bindings[0]["json"]["dns_records"][0]
        ["proxied_before"]
        .clone()
}

#[test]
fn a_rollback_retry_never_deletes_a_script_deployed_meanwhile() {
    let mut w = World::new(false, true);
    let pristine = w.snapshot();
    w.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
    let laptop2 = w.second_machine();

    // The rollback's script DELETE fails once (500); its retry begins by reading the script
    // again: held there while a deploy from another machine runs to the end.
    fault(&w, "DELETE", &script_path(), 0, 1, FaultKind::ServerError);
    // Reads of the settings: the plan's (1st), the first attempt's (2nd), the retry's (3rd).
    let gap = hold(&w, "GET", &settings_path(), 2, HoldAt::Before);
    let rollback = w.spawn_in(w.dir.path(), &["rollback", "--yes", "--json"]);
    w.reached(&gap);
    w.expect_in(&laptop2, &["deploy-proxy", "--yes", "--no-verify"], 0);
    let redeployed = w.snapshot();
    gap.release();
    let out = w.finish(rollback);
    out.expect(
        "the rollback that raced a deploy",
        5,
        &["uploaded again by another run", "left in place"],
    );
    // The deploy made from the other machine is whole: script, route, proxied record, and the
    // record's original value.
    assert_eq!(w.snapshot(), redeployed);
    assert!(w.cf.script_for(HOST, "/").as_deref() == Some(SCRIPT));
    assert_eq!(recorded_proxied_before(&w), false);
    // One more rollback converges to the state before any deploy.
    w.expect(&["rollback", "--yes"], 0);
    assert_eq!(w.snapshot(), pristine);
    w.assert_no_canary();
}

#[test]
fn a_script_deleted_under_its_route_is_found_reported_and_removed() {
    let mut w = World::new(true, true);
    let pristine = w.snapshot();
    w.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
    let laptop2 = w.second_machine();

    // The window no client can close (the API's DELETE is unconditional): the retry's own
    // DELETE, held after its check, lands after a deploy from another machine.
    fault(&w, "DELETE", &script_path(), 0, 1, FaultKind::ServerError);
    let gap = hold(&w, "DELETE", &script_path(), 1, HoldAt::Before);
    let rollback = w.spawn_in(w.dir.path(), &["rollback", "--yes", "--json"]);
    w.reached(&gap);
    w.expect_in(&laptop2, &["deploy-proxy", "--yes", "--no-verify"], 0);
    gap.release();
    let out = w.finish(rollback);
    // A route names a script that is gone: the edge fails, so the rollback is not verified.
    out.expect("the rollback whose delete landed late", 3, &[]);
    assert_eq!(out.json()["verified"], false, "{}", out.stdout);
    assert!(w
        .snapshot()
        .routes
        .iter()
        .any(|r| r.pattern == "api.example.com/*"));

    let status = w.expect(&["status", "--json"], 0).json();
    assert_eq!(status["deployed"], false);
    assert_eq!(status["orphaned_routes"], true, "{status:#}");
    assert_eq!(status["action"], "rollback");
    assert_eq!(status["routes"][0]["pattern"], "api.example.com/*");

    let rb = w.expect(&["rollback", "--yes", "--json"], 0).json();
    assert_eq!(rb["found"], true, "{rb:#}");
    assert_eq!(rb["verified"], true, "{rb:#}");
    assert!(rb["warnings"][0]
        .as_str()
        .unwrap()
        .contains("no longer exists"));
    assert_eq!(w.snapshot(), pristine);
    w.assert_no_canary();
}

#[test]
fn two_deploys_at_once_keep_the_first_recorded_dns_value() {
    let mut w = World::new(false, true);
    let pristine = w.snapshot();
    let laptop2 = w.second_machine();
    let zone = w.zone.clone();

    // The second machine reads our script (none yet) and the routes, then its read of the
    // record waits until the first machine's deploy has proxied it.
    let settings = hold(&w, "GET", &settings_path(), 0, HoldAt::After);
    let routes = hold(
        &w,
        "GET",
        &format!("/zones/{zone}/workers/routes"),
        0,
        HoldAt::After,
    );
    let record = hold(
        &w,
        "GET",
        &format!("/zones/{zone}/dns_records"),
        0,
        HoldAt::Before,
    );
    let second = w.spawn_in(&laptop2, &["deploy-proxy", "--yes", "--no-verify"]);
    for h in [&settings, &routes, &record] {
        w.reached(h);
    }
    w.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
    for h in [&settings, &routes, &record] {
        h.release();
    }
    let out = w.finish(second);
    out.expect("the second deploy", 0, &[]);
    // One proxy, live, with the record's value from before either deploy.
    assert_eq!(w.cf.script_for(HOST, "/").as_deref(), Some(SCRIPT));
    let ours = |r: &&failover::sandbox::cloudflare::RouteRec| r.script.as_deref() == Some(SCRIPT);
    assert_eq!(w.snapshot().routes.iter().filter(ours).count(), 1);
    assert_eq!(
        recorded_proxied_before(&w),
        false,
        "the first value was overwritten"
    );
    w.expect(&["rollback", "--yes"], 0);
    assert_eq!(w.snapshot(), pristine);
    w.assert_no_canary();
}

#[test]
fn a_token_echoed_by_the_api_is_nowhere() {
    let zone_path = "/zones".to_owned();
    // (call, fault, exit code): 401 and 400 refuse the token (exit 2); a persistent 500 on the
    // upload stops the deploy (exit 5).
    let cases = [
        ("GET", "/user/tokens/verify".to_owned(), 401, 10000, 2),
        ("GET", zone_path, 400, 9109, 2),
        ("PUT", script_path(), 500, 10013, 5),
    ];
    for (method, path, status, code, exit) in cases {
        for json in [false, true] {
            let mut w = World::new(true, true);
            w.cf.echo_authorization(true);
            fault(
                &w,
                method,
                &path,
                0,
                100,
                FaultKind::Status { status, code },
            );
            let mut args = vec!["deploy-proxy", "--yes"];
            if json {
                args.push("--json");
            }
            let out = w.run(&args);
            let what = format!("{method} {path} answering {status} ({code}), --json {json}");
            let all = out.expect(&what, exit, &["<redacted>"]);
            assert!(!all.contains(TOKEN), "{what}: token printed:\n{all}");
            if json {
                assert_eq!(out.json()["schema"], "failover.error/v1", "{what}");
            }
            w.assert_no_canary();
        }
    }
}

#[test]
fn a_zone_id_of_another_account_is_refused_before_any_write() {
    let mut w = World::new(true, true);
    let theirs =
        w.cf.add_zone_in("fedcba9876543210fedcba9876543210", "example.com", "pro");
    let config = std::fs::read_to_string(w.dir.path().join("failover.toml")).unwrap();
    w.dir
        .write("failover.toml", &format!("{config}zone = \"{theirs}\"\n"));
    let before = w.snapshot();
    for args in [
        &["deploy-proxy", "--yes"][..],
        &["deploy-proxy", "--yes", "--json"],
    ] {
        let out = w.run(args);
        out.expect(
            &format!("{args:?}"),
            2,
            &["fedcba9876543210fedcba9876543210", "not of account"],
        );
    }
    assert_eq!(w.mutating_calls(), 0);
    assert_eq!(w.snapshot(), before);
    w.assert_no_canary();
}

#[test]
fn a_displaced_route_without_a_script_comes_back_without_one() {
    let mut w = World::new(true, true);
    w.cf.add_route(&w.zone, "api.example.com/*", None);
    let before = w.snapshot();
    w.expect(&["deploy-proxy", "--yes", "--force"], 0);
    w.expect(&["rollback", "--yes"], 0);
    let back: Vec<_> = w
        .snapshot()
        .routes
        .into_iter()
        .filter(|r| r.pattern == "api.example.com/*")
        .collect();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].script, None, "{back:?}");
    assert_eq!(shape(&w.snapshot()), shape(&before));
    w.assert_no_canary();
}

#[test]
fn deploy_warns_about_traffic_it_will_not_catch() {
    let mut w = World::new(true, true);
    w.cf.add_route(&w.zone, "api.example.com/admin/*", Some("someone-else"));
    w.cf.add_route(&w.zone, "*.example.com/*", Some("someone-else"));
    let out = w.run(&["deploy-proxy", "--yes", "--json"]);
    out.expect(
        "deploy beside other routes",
        0,
        &[
            "warning: route api.example.com/admin/* (script someone-else) is more specific",
            "warning: route *.example.com/* (script someone-else) also matches api.example.com",
        ],
    );
    let warnings = out.json()["warnings"].to_string();
    assert!(warnings.contains("/admin/*"), "{warnings}");
    assert!(
        warnings.contains("takes api.example.com's traffic"),
        "{warnings}"
    );
    // Warned about, not touched.
    let foreign: Vec<_> = w
        .snapshot()
        .routes
        .into_iter()
        .filter(|r| r.script.as_deref() == Some("someone-else"))
        .map(|r| r.pattern)
        .collect();
    assert_eq!(
        foreign,
        [
            "www.example.com/*",
            "api.example.com/admin/*",
            "*.example.com/*"
        ]
    );
    w.assert_no_canary();
}

#[test]
fn a_token_that_cannot_write_is_a_setup_error_naming_the_permission() {
    let mut w = World::new(false, true);
    let before = w.snapshot();
    let read_only = [
        Permission::ZoneRead,
        Permission::DnsRead,
        Permission::WorkersScriptsRead,
        Permission::WorkersRoutesRead,
    ];
    w.cf.set_permissions(Some(&read_only));
    let out = w.run(&["deploy-proxy", "--yes", "--json"]);
    out.expect(
        "a read-only token",
        2,
        &["Workers Scripts Edit", "nothing changed"],
    );
    assert_eq!(out.json()["error"]["kind"], "usage");
    assert_eq!(w.snapshot(), before);

    // Rollback with a token that can edit scripts but not routes or DNS.
    w.cf.set_permissions(None);
    w.expect(&["deploy-proxy", "--yes", "--no-verify"], 0);
    let deployed = w.snapshot();
    w.cf.set_permissions(Some(&[
        Permission::ZoneRead,
        Permission::DnsRead,
        Permission::WorkersScriptsEdit,
        Permission::WorkersRoutesRead,
    ]));
    w.run(&["rollback", "--yes"]).expect(
        "a rollback without Routes Edit",
        2,
        &["Workers Routes Edit"],
    );
    assert_eq!(w.snapshot(), deployed);
    w.assert_no_canary();
}

#[test]
fn an_interrupted_deploy_journals_the_interruption() {
    let mut w = World::new(false, true);
    let upload = hold(&w, "PUT", &script_path(), 0, HoldAt::Before);
    let deploy = w.spawn_in(w.dir.path(), &["deploy-proxy", "--yes", "--no-verify"]);
    w.reached(&upload);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(deploy.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = w.finish(deploy);
    out.expect("a deploy interrupted mid-upload", 130, &[]);
    upload.release();
    let journal = w.journal();
    let last: Value = serde_json::from_str(journal.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "step.interrupted", "{journal}");
    assert_eq!(last["data"]["action"], "upload_script", "{journal}");
    // Running it again converges.
    w.expect(&["deploy-proxy", "--yes"], 0);
    w.assert_no_canary();
}

/// Reads a background run's stderr line by line until one holds `needle`.
fn wait_for_line(child: &mut Child, needle: &str) -> String {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    loop {
        // A bound against a hang only; the line is expected within seconds.
        match rx.recv_timeout(std::time::Duration::from_secs(180)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(e) => panic!("no line with {needle:?} ({e}); stderr so far:\n{seen}"),
        }
    }
}

#[test]
fn long_waits_are_announced_without_a_terminal() {
    let w = World::new(true, true);
    let before = w.snapshot();
    // Rate limited with Retry-After: 60.
    fault(
        &w,
        "GET",
        "/zones",
        0,
        1,
        FaultKind::RateLimited {
            retry_after_secs: 60,
        },
    );
    let mut limited = w.spawn_in(w.dir.path(), &["deploy-proxy", "--dry-run"]);
    let line = wait_for_line(&mut limited, "waiting 60 s before retrying GET");
    assert!(line.contains("Retry-After"), "{line}");
    assert!(!line.contains(TOKEN), "{line}");
    limited.kill().unwrap();
    let _ = limited.wait();

    // An API that does not answer.
    let hung = hold(&w, "GET", "/user/tokens/verify", 0, HoldAt::Before);
    let mut slow = w.spawn_in(w.dir.path(), &["deploy-proxy", "--dry-run"]);
    w.reached(&hung);
    let line = wait_for_line(
        &mut slow,
        "still waiting for the Cloudflare API to answer GET",
    );
    assert!(line.contains("/user/tokens/verify"), "{line}");
    assert!(!line.contains(TOKEN), "{line}");
    hung.release();
    assert!(slow.wait().unwrap().success());
    // Both were dry runs: nothing changed.
    assert_eq!(w.mutating_calls(), 0);
    assert_eq!(w.snapshot(), before);
}

/// The mode lives in the state the script carries: switching standby <-> emergency is one run of
/// deploy-proxy (the module changes, so it is uploaded again, nothing else), a second run
/// changes nothing, and rollback removes either mode.
#[test]
fn standby_and_emergency_switch_in_one_run_and_rollback_removes_either() {
    let mut w = World::new(true, true);
    let before = w.snapshot();
    let mode_of = |w: &World| {
        w.snapshot()
            .scripts
            .get(SCRIPT)
            .expect("script uploaded")
            .bindings[0]["json"]["mode"]
            .as_str()
            .map(str::to_owned)
    };

    let dry = w.expect(&["deploy-proxy", "--standby", "--dry-run"], 0);
    assert!(dry.stdout.contains("(standby mode, "), "{}", dry.stdout);
    let doc = w
        .expect(&["deploy-proxy", "--standby", "--yes", "--json"], 0)
        .json();
    assert_eq!(
        (doc["mode"].as_str(), &doc["verified"]),
        (Some("standby"), &Value::Bool(true)),
        "{doc:#}"
    );
    assert_eq!(mode_of(&w).as_deref(), Some("standby"));
    let status = w.expect(&["status", "--json"], 0).json();
    // A standby proxy is meant to stay while the platform is healthy.
    assert_eq!(
        (status["mode"].as_str(), status["action"].as_str()),
        (Some("standby"), Some("none"))
    );
    let human = w.expect(&["status"], 0);
    assert!(human.stdout.contains("Standby proxy"), "{}", human.stdout);

    for (args, mode) in [
        (&["deploy-proxy", "--yes", "--json"][..], "emergency"),
        (
            &["deploy-proxy", "--standby", "--yes", "--json"][..],
            "standby",
        ),
    ] {
        let switched = w.expect(args, 0).json();
        let applied: Vec<&str> = switched["applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["description"].as_str().unwrap())
            .collect();
        assert_eq!(applied.len(), 1, "{switched:#}");
        assert!(
            applied[0].starts_with("upload Worker script"),
            "{applied:?}"
        );
        assert_eq!(switched["mode"], mode);
        assert_eq!(mode_of(&w).as_deref(), Some(mode));
        let calls = w.mutating_calls();
        let again = w.expect(args, 0).json();
        assert_eq!(again["applied"].as_array().unwrap().len(), 0, "{again:#}");
        assert_eq!(w.mutating_calls(), calls);
        let routes = w
            .snapshot()
            .routes
            .iter()
            .filter(|r| r.pattern == "api.example.com/*")
            .count();
        assert_eq!(routes, 1);
    }

    let rb = w.expect(&["rollback", "--yes", "--json"], 0).json();
    assert_eq!(
        (rb["mode"].as_str(), &rb["verified"]),
        (Some("standby"), &Value::Bool(true)),
        "{rb:#}"
    );
    assert_eq!(w.snapshot(), before);
    w.assert_no_canary();
}
