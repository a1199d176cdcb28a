//! `failover diagnose` against a whole world on loopback: the sandbox DNS authority (public host
//! CNAME -> platform DNS target), a fake Cloudflare edge for the public URL, the direct origin,
//! an EU compare environment and a Heroku status page, all on 127.0.0.1:0.

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use failover::sandbox::cloudflare::{CloudflareSandbox, Permission};

use failover::sandbox::dns::{Behaviour, DnsServer};
use failover::sandbox::http::{Answer, HttpServer};
use serde_json::Value;

use crate::support::{checks, failover, run, Run, Scratch};

const PUBLIC: &str = "api.example.test";
const TARGET: &str = "haiku-word-123.herokudns.test";
const ORIGIN: &str = "myapp-abc123.herokuapp.test";
const COMPARE: &str = "staging-api.example.test";

struct World {
    rt: tokio::runtime::Runtime,
    dns: DnsServer,
    edge: HttpServer,
    origin: HttpServer,
    compare: HttpServer,
    status: HttpServer,
    dir: Scratch,
}

impl World {
    /// Rewrites the world's failover.toml; an edit that changes nothing fails the test, so a
    /// case cannot quietly run against the default config.
    fn edit_config(&self, edit: impl FnOnce(&str) -> String) {
        let config = self.dir.path().join("failover.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let edited = edit(&text);
        assert_ne!(edited, text, "the config edit matched nothing");
        std::fs::write(&config, edited).unwrap();
    }

    /// The healthy world: everything answers through the normal path.
    fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (dns, edge, origin, compare, status) = rt.block_on(async {
            let dns = DnsServer::start().await.expect("dns");
            let loopback: IpAddr = "127.0.0.1".parse().unwrap();
            dns.set_cname(PUBLIC, TARGET).unwrap();
            dns.set_addrs(TARGET, &[loopback]);
            dns.set_addrs(ORIGIN, &[loopback]);
            dns.set_addrs(COMPARE, &[loopback]);
            (
                dns,
                HttpServer::start(Answer::cloudflare_ok())
                    .await
                    .expect("edge"),
                HttpServer::start(Answer::ok()).await.expect("origin"),
                HttpServer::start(Answer::cloudflare_ok())
                    .await
                    .expect("compare"),
                HttpServer::start(Answer::heroku_status("green"))
                    .await
                    .expect("status"),
            )
        });
        let dir = Scratch::new();
        dir.write(
            "failover.toml",
            &format!(
                r#"[service]
public_url = "http://{PUBLIC}:{edge}"
origin = "http://{ORIGIN}:{origin}"
health_path = "/health"

[dns]
timeout_ms = 2000

[probe]
timeout_ms = 5000
deadline_ms = 10000

[[compare]]
name = "staging-eu"
public_url = "http://{COMPARE}:{compare}"
region = "eu"

[status_pages]
heroku = "http://127.0.0.1:{status}/api/v4/current-status"
"#,
                edge = edge.port(),
                origin = origin.port(),
                compare = compare.port(),
                status = status.port(),
            ),
        );
        World {
            rt,
            dns,
            edge,
            origin,
            compare,
            status,
            dir,
        }
    }

    /// The October 2025 outage: the DNS target fails, the edge reports 1016, the app runs.
    fn outage(self, how: Behaviour) -> Self {
        self.dns.set_behaviour(TARGET, how);
        self.edge.set(Answer::cloudflare_1016());
        self.status.set(Answer::heroku_status("red"));
        self
    }

    fn resolver(&self) -> String {
        self.dns.addr().to_string()
    }

    /// Runs diagnose with the sandbox as the only resolver and the public host pinned to the
    /// edge (as a proxied Cloudflare host resolves to the edge whatever its CNAME does).
    fn diagnose(&self, extra: &[&str]) -> Run {
        run(&mut self.command(extra))
    }

    fn command(&self, extra: &[&str]) -> Command {
        let resolver = self.resolver();
        let pin = format!("{PUBLIC}:{}:127.0.0.1", self.edge.port());
        let mut cmd = failover(self.dir.path());
        cmd.args(["diagnose", "--resolver", &resolver, "--resolve", &pin])
            .args(extra);
        cmd
    }

    /// The public host proxied through Cloudflare (orange cloud): its public answer is the
    /// edge's addresses, no CNAME, so only the record in the sandbox API names the target.
    /// The edge says nothing but 502: without the target this reads as an edge failure.
    fn proxied(&self) -> Api {
        self.dns.remove(PUBLIC);
        self.dns.set_addrs(PUBLIC, &["127.0.0.1".parse().unwrap()]);
        self.edge.set(
            Answer::new(502, "error code: 502")
                .header("server", "cloudflare")
                .header("cf-ray", "1"),
        );
        let cf = self
            .rt
            .block_on(CloudflareSandbox::start(TOKEN, ACCOUNT))
            .expect("cloudflare api");
        let zone = cf.add_zone("example.test", "free");
        cf.add_dns_record(&zone, "CNAME", PUBLIC, TARGET, true);
        self.edit_config(|text| format!("{text}\n[cloudflare]\nzone = \"example.test\"\n"));
        Api { cf }
    }
}

const TOKEN: &str = "canary-5d1e-diagnose-token-NEVER-PRINT";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// The sandbox Cloudflare API of a proxied world.
struct Api {
    cf: CloudflareSandbox,
}

impl Api {
    /// Diagnose with the API reachable through the environment, `token` as the token (`None`:
    /// no token at all, the API base and account still set).
    fn diagnose(&self, world: &World, token: Option<&str>, extra: &[&str]) -> Run {
        let mut cmd = world.command(extra);
        cmd.env("CLOUDFLARE_API_BASE_URL", self.cf.base_url().as_str())
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .env("FAILOVER_RETRY_BASE_MS", "1");
        if let Some(token) = token {
            cmd.env("CLOUDFLARE_API_TOKEN", token);
        }
        run(&mut cmd)
    }
}

#[track_caller]
fn verdict(out: &Run, verdict: &str, action: &str, scope: &str, code: i32) -> Value {
    let doc = out.json();
    assert_eq!(
        (
            doc["verdict"].as_str(),
            doc["action"].as_str(),
            doc["scope"].as_str(),
            out.code
        ),
        (Some(verdict), Some(action), Some(scope), code),
        "document:\n{doc:#}\nstderr:\n{}",
        out.stderr
    );
    assert_eq!(doc["schema"], "failover.diagnosis/v1");
    // Exactly the document of CONTRACT.md: these keys, no others, in its order; `dns_target`
    // is the one optional addition, present when a target was known.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut want = vec!["schema", "verdict", "action", "scope", "summary"];
    if doc.get("dns_target").is_some() {
        want.push("dns_target");
        assert_eq!(keys(&doc["dns_target"]), ["name", "source"], "{doc:#}");
    }
    if doc.get("proxy").is_some() {
        want.push("proxy");
        assert_eq!(keys(&doc["proxy"]), ["mode", "path"], "{doc:#}");
    }
    want.extend(["checks", "started_at", "elapsed_ms"]);
    assert_eq!(keys(&doc), want);
    for check in doc["checks"].as_array().unwrap() {
        assert_eq!(
            keys(check),
            [
                "id",
                "kind",
                "target",
                "resolver",
                "status",
                "error",
                "detail",
                "elapsed_ms"
            ]
        );
        let status = check["status"].as_str().unwrap();
        assert!(
            ["pass", "fail", "warn", "skip"].contains(&status),
            "{check}"
        );
        assert_eq!(status == "fail", !check["error"].is_null(), "{check}");
    }
    assert!(doc["started_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert!(doc["elapsed_ms"].is_u64());
    doc
}

#[test]
fn october_2025_outage_servfail() {
    let world = World::new().outage(Behaviour::Servfail);
    let out = world.diagnose(&["--json"]);
    let doc = verdict(&out, "dns_target_failure", "deploy-proxy", "region", 3);
    let target = checks(&doc, "dns.target");
    assert_eq!(target.len(), 1, "{doc:#}");
    assert_eq!(target[0]["status"], "fail");
    assert_eq!(target[0]["error"], "servfail");
    assert_eq!(target[0]["target"], TARGET);
    assert_eq!(target[0]["resolver"], world.resolver());
    let public = checks(&doc, "http.public");
    assert_eq!(public[0]["error"], "edge_error", "{doc:#}");
    assert_eq!(checks(&doc, "http.origin")[0]["status"], "pass");
    assert_eq!(checks(&doc, "status.heroku")[0]["status"], "warn");
    // The chain was walked on our resolver and the origin was reached through it.
    let chain = &checks(&doc, "dns.public")[0]["detail"];
    assert!(chain.as_str().unwrap().contains(TARGET), "{chain}");
    assert!(world.dns.queries() > 0 && world.origin.hits() > 0 && world.compare.hits() > 0);
    // The run is journaled: started, each check, the verdict.
    let journal =
        std::fs::read_to_string(world.dir.path().join(".failover/journal.jsonl")).expect("journal");
    for event in ["\"started\"", "\"check\"", "\"verdict\""] {
        assert!(journal.contains(event), "journal lacks {event}:\n{journal}");
    }
}

#[test]
fn october_2025_outage_blackholed_target_human_report() {
    let world = World::new().outage(Behaviour::Blackhole);
    let out = world.diagnose(&[]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("DNS TARGET FAILURE"), "{}", out.stdout);
    assert!(out.stdout.contains("scope: region"), "{}", out.stdout);
    assert!(out.stdout.contains("(TIMEOUT)"), "{}", out.stdout);
    let dry = out
        .stdout
        .find("failover deploy-proxy --dry-run")
        .expect("next step");
    assert!(
        out.stdout[dry..].contains("\n  failover deploy-proxy "),
        "{}",
        out.stdout
    );
}

#[test]
fn healthy_exits_0() {
    let world = World::new();
    let out = world.diagnose(&["--json"]);
    let doc = verdict(&out, "healthy", "none", "unknown", 0);
    assert!(
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "pass"),
        "{doc:#}"
    );
    let human = world.diagnose(&[]);
    assert!(human.stdout.starts_with("HEALTHY"), "{}", human.stdout);
    assert_eq!(human.code, 0);
}

#[test]
fn origin_down_h10_escalates() {
    let world = World::new().outage(Behaviour::Servfail);
    world.origin.set(Answer::heroku_h10());
    let doc = verdict(
        &world.diagnose(&["--json"]),
        "origin_down",
        "escalate",
        "region",
        3,
    );
    let origin = checks(&doc, "http.origin");
    assert_eq!(origin[0]["error"], "http_status");
    assert!(
        origin[0]["detail"].as_str().unwrap().contains("H10"),
        "{doc:#}"
    );
}

#[test]
fn edge_failure_while_platform_path_healthy() {
    let world = World::new();
    world.edge.set(
        Answer::new(502, "<title>Error 502</title> Bad gateway")
            .header("server", "cloudflare")
            .header("cf-ray", "1"),
    );
    world
        .compare
        .set(Answer::new(502, "error code: 502").header("server", "cloudflare"));
    verdict(
        &world.diagnose(&["--json"]),
        "edge_failure",
        "deploy-proxy",
        "global",
        3,
    );
}

#[test]
fn edge_1016_while_target_resolves_here() {
    let world = World::new();
    world.edge.set(Answer::cloudflare_1016());
    verdict(
        &world.diagnose(&["--json"]),
        "dns_target_failure",
        "deploy-proxy",
        "region",
        3,
    );
}

#[test]
fn proxy_active_and_platform_healed_means_rollback() {
    let world = World::new();
    world.edge.set(Answer::proxied("failover-api-example-test"));
    let out = world.diagnose(&[]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(
        out.stdout.starts_with("PROXY ACTIVE  action: rollback"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("failover rollback --dry-run"),
        "{}",
        out.stdout
    );
    // While the target still fails, the proxy stays.
    world.dns.set_behaviour(TARGET, Behaviour::Nxdomain);
    verdict(
        &world.diagnose(&["--json"]),
        "proxy_active",
        "none",
        "region",
        3,
    );
    // Heal it and the verdict follows.
    world.dns.set_behaviour(TARGET, Behaviour::Answer);
    world.edge.set(Answer::cloudflare_ok());
    verdict(
        &world.diagnose(&["--json"]),
        "healthy",
        "none",
        "unknown",
        0,
    );
}

#[test]
fn refused_and_servfail_responders_are_classified() {
    let world = World::new();
    let (refused, servfail) = world.rt.block_on(async {
        (
            DnsServer::responder(Behaviour::Refused).await.unwrap(),
            DnsServer::responder(Behaviour::Servfail).await.unwrap(),
        )
    });
    let (r, s, good) = (
        refused.addr().to_string(),
        servfail.addr().to_string(),
        world.resolver(),
    );
    let pin = format!("{PUBLIC}:{}:127.0.0.1", world.edge.port());
    let out = run(failover(world.dir.path()).args([
        "diagnose",
        "--json",
        "--resolver",
        &good,
        "--resolver",
        &r,
        "--resolver",
        &s,
        "--resolve",
        &pin,
    ]));
    let doc = out.json();
    let errors: Vec<&str> = checks(&doc, "dns.target")
        .iter()
        .map(|c| c["error"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(errors, ["none", "refused", "servfail"], "{doc:#}");
    // The public URL still answers through Cloudflare, which resolves the target for users:
    // a refusing resolver and one that fails every name speak for no user.
    assert_eq!(doc["verdict"], "healthy", "{doc:#}");
    assert!(refused.queries() > 0 && servfail.queries() > 0);
}

#[test]
fn hostile_remote_text_never_reaches_the_terminal_raw() {
    let world = World::new();
    // C0 controls in the body, a C1 CSI (legal obs-text in a header) in the proxy marker, and
    // escapes in a status page's description: all remote text the report shows.
    world.edge.set(
        Answer::new(500, "\x1b[2J\x1b]0;pwned\x07 boom\r\x08")
            .header("server", "cloudflare")
            .header("x-failover-proxy", "\u{9b}31mred"),
    );
    world.status.set(Answer::new(
        200,
        r#"{"status":{"indicator":"major","description":"\u001b[2Jdown\u0007"}}"#,
    ));
    for args in [&[][..], &["-v"][..], &["--json"][..]] {
        let out = world.diagnose(args);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains("red") && all.contains("down"), "{all}");
        assert!(
            !all.chars().any(|c| c.is_control() && c != '\n'),
            "raw control character in {args:?}:\n{all:?}"
        );
    }
}

#[test]
fn websocket_upgrade_probe() {
    let world = World::new();
    world.edit_config(|text| {
        text.replace(
            "health_path = \"/health\"",
            "health_path = \"/health\"\nwebsocket_path = \"/cable\"",
        )
    });
    world.edge.set(Answer::cloudflare_ok().with_websocket());
    let doc = verdict(
        &world.diagnose(&["--json"]),
        "healthy",
        "none",
        "unknown",
        0,
    );
    let ws = checks(&doc, "ws.public");
    assert_eq!(
        (ws[0]["status"].as_str(), ws[0]["kind"].as_str()),
        (Some("pass"), Some("websocket")),
        "{doc:#}"
    );
    assert!(ws[0]["target"].as_str().unwrap().ends_with("/cable"));
    // An edge that answers the upgrade with a plain 200 fails the probe, not the verdict.
    world.edge.set(Answer::cloudflare_ok());
    let doc = verdict(
        &world.diagnose(&["--json"]),
        "healthy",
        "none",
        "unknown",
        0,
    );
    let ws = checks(&doc, "ws.public");
    assert_eq!(
        (ws[0]["status"].as_str(), ws[0]["error"].as_str()),
        (Some("fail"), Some("http_status")),
        "{doc:#}"
    );
}

#[test]
fn tls_failure_at_the_edge_is_edge_failure() {
    let world = World::new();
    // The edge speaks plain HTTP where users expect TLS: the handshake fails.
    world.edit_config(|text| {
        text.replace("public_url = \"http://api", "public_url = \"https://api")
    });
    let doc = verdict(
        &world.diagnose(&["--json"]),
        "edge_failure",
        "deploy-proxy",
        "region",
        3,
    );
    assert_eq!(checks(&doc, "http.public")[0]["error"], "tls", "{doc:#}");
}

#[test]
fn multi_hop_chain_names_the_first_hop_as_target() {
    let world = World::new();
    let elb = "edge-lb-1.platform-lb.test";
    world.dns.set_cname(TARGET, elb).unwrap();
    world.dns.set_addrs(elb, &["127.0.0.1".parse().unwrap()]);
    world.dns.set_behaviour(elb, Behaviour::Servfail);
    world.edge.set(Answer::cloudflare_1016());
    let doc = verdict(
        &world.diagnose(&["--json"]),
        "dns_target_failure",
        "deploy-proxy",
        "region",
        3,
    );
    let chain = checks(&doc, "dns.public")[0]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(chain.contains(&format!("{TARGET} -> {elb}")), "{chain}");
    let target = checks(&doc, "dns.target");
    assert_eq!(
        (target[0]["target"].as_str(), target[0]["error"].as_str()),
        (Some(TARGET), Some("servfail")),
        "{doc:#}"
    );
}

#[test]
fn deadline_cuts_off_unfinished_checks() {
    let world = World::new();
    // The edge and the origin accept connections and never answer; each HTTP probe may wait
    // 30 s, the whole diagnosis only 2 s. The backlog completes the handshake for them.
    world.edit_config(|text| {
        text.replace("timeout_ms = 5000", "timeout_ms = 30000")
            .replace("timeout_ms = 2000", "timeout_ms = 500")
            .replace("deadline_ms = 10000", "deadline_ms = 2000")
    });
    let hold = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hold.local_addr().unwrap().port();
    for (host, server) in [(PUBLIC, &world.edge), (ORIGIN, &world.origin)] {
        world.edit_config(|text| {
            text.replace(
                &format!("{host}:{}", server.port()),
                &format!("{host}:{port}"),
            )
        });
    }
    let held = format!("{PUBLIC}:{port}:127.0.0.1");
    let out = run(failover(world.dir.path()).args([
        "diagnose",
        "--json",
        "--resolver",
        &world.resolver(),
        "--resolve",
        &held,
    ]));
    let doc = verdict(&out, "inconclusive", "escalate", "region", 3);
    for id in ["http.public", "http.origin"] {
        let c = checks(&doc, id);
        assert_eq!(c[0]["status"], "skip", "{doc:#}");
        assert!(
            c[0]["detail"].as_str().unwrap().contains("deadline"),
            "{doc:#}"
        );
    }
    // The verdict says what it could not see.
    let summary = doc["summary"].as_str().unwrap();
    let (_, unseen) = summary.split_once("not seen: ").expect("what was not seen");
    assert!(
        unseen.contains("http.public") && unseen.contains("http.origin"),
        "{summary}"
    );
    drop(hold);
}

/// A second authority with the world's records, the target answering as `target` does.
fn replica(world: &World, target: Behaviour) -> DnsServer {
    let dns = world.rt.block_on(DnsServer::start()).expect("dns");
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    dns.set_cname(PUBLIC, TARGET).unwrap();
    dns.set_addrs(TARGET, &[loopback]);
    dns.set_addrs(ORIGIN, &[loopback]);
    dns.set_addrs(COMPARE, &[loopback]);
    dns.set_behaviour(TARGET, target);
    dns
}

/// Diagnose with these resolvers only, and nothing pinned: every name resolves through them.
fn diagnose_through(world: &World, resolvers: &[String], extra: &[&str]) -> Run {
    let mut cmd = failover(world.dir.path());
    cmd.arg("diagnose");
    for r in resolvers {
        cmd.args(["--resolver", r]);
    }
    run(cmd.args(extra))
}

#[track_caller]
fn summary_has(doc: &Value, words: &[&str]) {
    let summary = doc["summary"].as_str().unwrap();
    for w in words {
        assert!(summary.contains(w), "{w:?} not in the summary: {doc:#}");
    }
}

/// The public host's own zone fails (SERVFAIL, no CNAME): a Worker cannot fix a zone that does
/// not resolve, whether or not `dns_target` is configured and resolves.
#[test]
fn public_zone_failure_is_public_dns_failure() {
    for configured in [true, false] {
        let world = World::new();
        world.dns.set_behaviour(PUBLIC, Behaviour::Servfail);
        world.edge.set(Answer::cloudflare_1016());
        if configured {
            world.edit_config(|t| {
                t.replace(
                    "health_path = \"/health\"",
                    &format!("health_path = \"/health\"\ndns_target = \"{TARGET}\""),
                )
            });
        }
        let out = diagnose_through(&world, &[world.resolver()], &["--json"]);
        let doc = verdict(&out, "public_dns_failure", "escalate", "region", 3);
        summary_has(&doc, &["fails on 1/1 resolvers (SERVFAIL)", "no CNAME"]);
        assert!(
            !doc["summary"]
                .as_str()
                .unwrap()
                .contains("set service.dns_target"),
            "{doc:#}"
        );
    }
}

/// Every resolver blackholes, the only resolver refuses (with or without the question), or
/// none can be reached: this machine cannot see, whatever the deadline let run. The origin
/// was never contacted, so it is not `origin_down`.
#[test]
fn a_machine_that_cannot_see_is_inconclusive_at_any_deadline() {
    let world = World::new();
    let servers = world.rt.block_on(async {
        let mut v = Vec::new();
        for how in [
            Behaviour::Blackhole,
            Behaviour::Blackhole,
            Behaviour::Refused,
            Behaviour::RefusedBare,
        ] {
            v.push(DnsServer::responder(how).await.unwrap());
        }
        v
    });
    let addr = |i: usize| servers[i].addr().to_string();
    // A UDP port nothing listens on: the resolver cannot be reached at all.
    let nobody = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let unreachable = nobody.local_addr().unwrap().to_string();
    drop(nobody);
    let cases: [(&str, Vec<String>); 4] = [
        ("every resolver blackholes", vec![addr(0), addr(1)]),
        ("the only resolver refuses", vec![addr(2)]),
        (
            "the only resolver refuses with an empty question",
            vec![addr(3)],
        ),
        ("no resolver can be reached", vec![unreachable]),
    ];
    for (dns_ms, deadline_ms) in [(600, 1000), (2000, 3000)] {
        world.edit_config(|t| {
            let t = regex_free_set(t, "[dns]\ntimeout_ms = ", dns_ms);
            regex_free_set(&t, "deadline_ms = ", deadline_ms)
        });
        for (what, resolvers) in &cases {
            let out = diagnose_through(&world, resolvers, &["--json"]);
            let doc = verdict(&out, "inconclusive", "escalate", "unknown", 3);
            let summary = doc["summary"].as_str().unwrap();
            assert!(
                summary.contains("cannot see") && summary.contains("--resolver"),
                "{what} at {deadline_ms} ms: {doc:#}"
            );
            // The origin was never contacted: its check says why, as DNS, never as the app
            // (or, on a machine slow enough to reach the deadline first, that it was cut).
            let origin = checks(&doc, "http.origin")[0];
            let detail = origin["detail"].as_str().unwrap();
            let why = match origin["status"].as_str() {
                Some("skip") => detail.contains("deadline"),
                _ => {
                    ["timeout", "refused", "connect"]
                        .contains(&origin["error"].as_str().unwrap_or(""))
                        && detail.contains("never contacted")
                }
            };
            assert!(why, "{what} at {deadline_ms} ms: {doc:#}");
            // A timed-out question says after how long.
            for c in checks(&doc, "dns.public") {
                if c["error"] == "timeout" {
                    let after = format!("no answer within {dns_ms} ms");
                    assert!(c["detail"].as_str().unwrap().contains(&after), "{c}");
                }
            }
        }
    }
    assert!(servers.iter().all(|s| s.queries() > 0));
}

/// Replaces the number after `key` in a config text.
fn regex_free_set(text: &str, key: &str, value: u64) -> String {
    let at = text.find(key).expect("key in config") + key.len();
    let digits = text[at..].chars().take_while(char::is_ascii_digit).count();
    let mut edited = text.to_owned();
    edited.replace_range(at..at + digits, &value.to_string());
    if edited == text {
        // Same value: still an edit for `edit_config`.
        edited.push('\n');
    }
    edited
}

/// A resolver that refuses (as access control does: REFUSED, empty question) is evidence about
/// this machine, never about the target: during the outage it is not counted, it costs no
/// timeout, and after recovery it does not hold back the rollback.
#[test]
fn a_refusing_resolver_is_not_counted_and_costs_no_timeout() {
    let world = World::new().outage(Behaviour::Servfail);
    // Were the refusal missed, each query would wait a minute and then read as a timeout.
    world.edit_config(|t| {
        t.replace("timeout_ms = 2000", "timeout_ms = 60000")
            .replace("deadline_ms = 10000", "deadline_ms = 90000")
    });
    let refusing = world
        .rt
        .block_on(DnsServer::responder(Behaviour::RefusedBare))
        .unwrap();
    let both = [world.resolver(), refusing.addr().to_string()];
    let out = diagnose_through(&world, &both, &["--json"]);
    let doc = verdict(&out, "dns_target_failure", "deploy-proxy", "region", 3);
    summary_has(
        &doc,
        &[
            "fails on 1/1 resolvers (SERVFAIL)",
            "1 more resolver answered nothing here and is not counted",
        ],
    );
    let errors: Vec<&str> = checks(&doc, "dns.target")
        .iter()
        .map(|c| c["error"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(errors, ["servfail", "refused"], "{doc:#}");

    // The platform recovers while the proxy serves the public URL.
    world.dns.set_behaviour(TARGET, Behaviour::Answer);
    world.edge.set(Answer::proxied("failover-api-example-test"));
    let out = diagnose_through(&world, &both, &["--json"]);
    let doc = verdict(&out, "proxy_active", "rollback", "region", 3);
    summary_has(&doc, &["healthy again"]);
    assert!(refusing.queries() > 0);
}

/// A DNS-only host whose target fails on two of three resolvers: users on those resolvers are
/// down, though the public URL answers from here.
#[test]
fn a_dns_only_host_failing_on_some_resolvers_is_degraded() {
    let world = World::new();
    // No Cloudflare in front: users resolve the platform's target themselves.
    world.edge.set(Answer::ok());
    let (a, b) = (
        replica(&world, Behaviour::Servfail),
        replica(&world, Behaviour::Servfail),
    );
    let resolvers = [world.resolver(), a.addr().to_string(), b.addr().to_string()];
    let pin = format!("{PUBLIC}:{}:127.0.0.1", world.edge.port());
    let out = diagnose_through(&world, &resolvers, &["--json", "--resolve", &pin]);
    let doc = verdict(&out, "degraded", "deploy-proxy", "region", 3);
    let human = diagnose_through(&world, &resolvers, &["--resolve", &pin]);
    summary_has(
        &doc,
        &[
            "fails on 2/3 resolvers (SERVFAIL)",
            "users on those resolvers fail",
        ],
    );
    // The human report leads with the new verdict.
    assert!(human.stdout.starts_with("DEGRADED"), "{}", human.stdout);
    drop((a, b));
}

/// An origin whose certificate is a CA certificate: the TLS problem in words, never "the app
/// itself fails", and never a library's debug output.
#[test]
fn an_origin_certificate_problem_is_named_in_words() {
    let world = World::new().outage(Behaviour::Servfail);
    let port = world.rt.block_on(tls_server_with_a_ca_certificate());
    world.edit_config(|t| {
        t.replace(
            &format!("http://{ORIGIN}:{}", world.origin.port()),
            &format!("https://{ORIGIN}:{port}"),
        )
    });
    let doc = verdict(
        &world.diagnose(&["--json"]),
        "origin_down",
        "escalate",
        "region",
        3,
    );
    let origin = checks(&doc, "http.origin");
    assert_eq!(
        (origin[0]["error"].as_str(), origin[0]["detail"].as_str()),
        (
            Some("tls"),
            Some("TLS: a CA certificate used as the server's certificate")
        ),
        "{doc:#}"
    );
    summary_has(&doc, &["TLS fails", "certificate is the problem"]);
    let human = world.diagnose(&[]);
    assert!(
        human.stdout.starts_with("ORIGIN TLS FAILURE"),
        "{}",
        human.stdout
    );
    assert!(
        !human.stdout.contains("the app itself fails"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("OtherError"), "{}", human.stdout);
}

/// A TLS server on loopback that presents a self-signed CA certificate as its own.
async fn tls_server_with_a_ca_certificate() -> u16 {
    use std::sync::Arc;
    let mut params = rcgen::CertificateParams::new(vec![ORIGIN.to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    port
}

/// `dns.timeout_ms` not below `probe.deadline_ms` is a configuration error naming the file,
/// the line and the key, and nothing is probed.
#[test]
fn a_dns_timeout_the_deadline_cannot_outlast_exits_2() {
    let world = World::new();
    world.edit_config(|t| t.replace("deadline_ms = 10000", "deadline_ms = 2000"));
    let out = world.diagnose(&[]);
    out.expect(
        "dns timeout = deadline",
        2,
        &[
            "failover.toml:7",
            "dns.timeout_ms",
            "must be below probe.deadline_ms",
        ],
    );
    assert_eq!(world.dns.queries(), 0);
}

/// A state directory that cannot be written (a read-only checkout) is one warning: the
/// diagnosis still runs and prints.
#[test]
fn an_unwritable_state_dir_is_a_warning() {
    let world = World::new();
    // A file where the directory should be: not writable whoever runs the test.
    let blocked = world.dir.write("state", "");
    let out = world.diagnose(&["--state-dir", blocked.to_str().unwrap()]);
    let all = out.expect("unwritable state dir", 0, &["HEALTHY", "not journaled"]);
    assert_eq!(all.matches("not journaled").count(), 1, "{all}");
}

/// The October 2025 outage behind a proxied host: no CNAME in public DNS, no `dns_target` in
/// the config, so the target comes from the host's Cloudflare record, and its SERVFAIL decides.
#[test]
fn proxied_host_learns_the_target_from_the_cloudflare_record() {
    let world = World::new();
    world.dns.set_behaviour(TARGET, Behaviour::Servfail);
    let api = world.proxied();
    let out = api.diagnose(&world, Some(TOKEN), &["--json"]);
    let doc = verdict(&out, "dns_target_failure", "deploy-proxy", "region", 3);
    assert_eq!(doc["dns_target"]["name"], TARGET, "{doc:#}");
    assert_eq!(doc["dns_target"]["source"], "cloudflare", "{doc:#}");
    let target = checks(&doc, "dns.target");
    assert_eq!(target.len(), 1, "{doc:#}");
    assert_eq!(
        (target[0]["target"].as_str(), target[0]["error"].as_str()),
        (Some(TARGET), Some("servfail")),
        "{doc:#}"
    );
    assert!(doc["summary"].as_str().unwrap().contains(TARGET), "{doc:#}");
    // Public DNS showed no CNAME: the chain names only the edge's address.
    let chain = checks(&doc, "dns.public")[0]["detail"].as_str().unwrap();
    assert!(!chain.contains(TARGET), "{chain}");
    // Read-only: zones and records, nothing else.
    let calls = api.cf.calls();
    assert!(
        calls.iter().any(|c| c.path.ends_with("/dns_records")),
        "{calls:?}"
    );
    assert!(calls.iter().all(|c| !c.mutates()), "{calls:?}");
    // The human report says where the target came from.
    let human = api.diagnose(&world, Some(TOKEN), &[]);
    assert!(
        human.stdout.contains(&format!(
            "DNS target {TARGET}, from the host's Cloudflare DNS record"
        )),
        "{}",
        human.stdout
    );
    assert!(!format!("{}{}", out.stdout, human.stdout).contains(TOKEN));
}

/// What "as today" compares: the verdict and every check's id and status (timings vary).
fn shape(doc: &Value) -> (Value, Vec<String>) {
    let checks = doc["checks"].as_array().unwrap().iter();
    let ids = checks.map(|c| format!("{} {}", c["id"], c["status"]));
    (doc["verdict"].clone(), ids.collect())
}

/// One run whose Cloudflare read fails: the document `today` has (no target checks, no
/// `dns_target`), the same exit code, and a warning that says `why` without the token.
#[track_caller]
fn unreadable(world: &World, api: &Api, token: &str, today: &Value, why: &str) {
    api.cf.clear_calls();
    let out = api.diagnose(world, Some(token), &["--json"]);
    let doc = verdict(&out, "edge_failure", "deploy-proxy", "region", 3);
    assert_eq!(shape(&doc), shape(today), "{doc:#}");
    assert!(doc.get("dns_target").is_none(), "{doc:#}");
    let warning =
        "warning: cannot read the DNS target from the Cloudflare record of api.example.test";
    assert!(
        out.stderr.contains(warning) && out.stderr.contains(why),
        "{}",
        out.stderr
    );
    assert!(!format!("{}{}", out.stdout, out.stderr).contains(TOKEN));
    assert!(!api.cf.calls().is_empty(), "the API was asked");
}

/// An API that cannot be read costs a warning, never the diagnosis.
#[test]
fn unreadable_cloudflare_record_is_a_warning() {
    let world = World::new();
    world.dns.set_behaviour(TARGET, Behaviour::Servfail);
    let api = world.proxied();
    let today = api.diagnose(&world, None, &["--json"]);
    let today = verdict(&today, "edge_failure", "deploy-proxy", "region", 3);
    assert!(checks(&today, "dns.target").is_empty(), "{today:#}");
    // A token the API does not know (400, code 9109), then one without Zone Read (403).
    unreadable(&world, &api, "not-the-token", &today, "token was rejected");
    api.cf
        .set_permissions(Some(&[Permission::WorkersScriptsEdit]));
    unreadable(&world, &api, TOKEN, &today, "Zone Read");
    // An API slower than the whole diagnosis is cut off at the deadline, not at the client's
    // own minute-long timeout.
    api.cf.set_permissions(None);
    api.cf.set_latency(Duration::from_secs(120));
    world.edit_config(|text| text.replace("deadline_ms = 10000", "deadline_ms = 3000"));
    unreadable(&world, &api, TOKEN, &today, "unfinished at the deadline");
}

/// Without a token diagnose sends nothing to the API, even with its address and the account
/// configured; the same world with a token shows the API would have been asked.
#[test]
fn no_token_no_api_call() {
    let world = World::new();
    let api = world.proxied();
    let out = api.diagnose(&world, None, &["--json"]);
    let doc = verdict(&out, "edge_failure", "deploy-proxy", "region", 3);
    assert!(doc.get("dns_target").is_none(), "{doc:#}");
    assert!(checks(&doc, "dns.target").is_empty(), "{doc:#}");
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert_eq!(api.cf.calls(), []);
    let with_token = api.diagnose(&world, Some(TOKEN), &["--json"]);
    let doc = verdict(&with_token, "edge_failure", "deploy-proxy", "region", 3);
    assert_eq!(doc["dns_target"]["source"], "cloudflare", "{doc:#}");
    assert!(!api.cf.calls().is_empty());
}

/// A real recursive resolver, unbound, on a loopback port, sending each zone to its stub
/// authority. Stopped when dropped.
struct Unbound {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _dir: Scratch,
}

impl Unbound {
    /// Unbound with `stubs` (zone, authority), or `None` after saying loudly that the test is
    /// skipped; under CI a missing unbound is a failure, since the proof would silently vanish.
    fn start(stubs: &[(&str, std::net::SocketAddr)]) -> Option<Unbound> {
        let binary = ["/usr/sbin/unbound", "/usr/local/sbin/unbound"]
            .into_iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| {
                std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|d| d.join("unbound"))
                        .find(|p| p.is_file())
                })
            });
        let Some(binary) = binary else {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "CI=true and unbound is missing: .ci/run installs it");
            eprintln!("\n=== SKIPPED: unbound is not installed (apt-get install unbound) ===\n");
            return None;
        };
        // A port is free for UDP and TCP a moment before unbound binds it; another process
        // may take it in between, so a start that cannot bind tries another port.
        let mut last = String::new();
        for _ in 0..10 {
            match Self::spawn(&binary, stubs) {
                Ok(unbound) => return Some(unbound),
                Err(why) => last = why,
            }
        }
        panic!("unbound would not start: {last}");
    }

    fn spawn(
        binary: &std::path::Path,
        stubs: &[(&str, std::net::SocketAddr)],
    ) -> Result<Unbound, String> {
        let port = loop {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        let dir = Scratch::new();
        let mut config = format!(
            r#"server:
    interface: 127.0.0.1@{port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    num-threads: 1
    module-config: "iterator"
    do-not-query-localhost: no
    qname-minimisation: no
    local-zone: "test." nodefault
"#,
            dir = dir.path().display()
        );
        for (zone, authority) in stubs {
            config.push_str(&format!(
                "stub-zone:\n    name: \"{zone}.\"\n    stub-addr: {}@{}\n",
                authority.ip(),
                authority.port()
            ));
        }
        let file = dir.write("unbound.conf", &config);
        // Its log stays beside its config, out of the test output.
        let log = std::fs::File::create(dir.path().join("unbound.log")).unwrap();
        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&file)
            .stdin(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start unbound");
        let mut unbound = Unbound {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            _dir: dir,
        };
        unbound.wait_ready()?;
        Ok(unbound)
    }

    /// Waits until unbound answers a question at all (it binds its port after reading the
    /// config); gives up when the process has exited.
    fn wait_ready(&mut self) -> Result<(), String> {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::rr::{Name, RecordType};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut query = Message::query();
        query.add_query(Query::query(
            Name::from_ascii("localhost.").unwrap(),
            RecordType::A,
        ));
        let bytes = query.to_vec().unwrap();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self._dir.path().join("unbound.log"));
                return Err(format!(
                    "exited at start: {status}\n{}",
                    log.unwrap_or_default()
                ));
            }
            socket.send_to(&bytes, self.addr).unwrap();
            if socket.recv(&mut buf).is_ok() {
                return Ok(());
            }
        }
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outage and a blind machine through a real recursive resolver in front of the sandbox
/// authorities. When an authority blackholes, unbound gives no answer at all for many seconds,
/// and now and then a cached SERVFAIL: either way the verdict must not change.
#[test]
fn through_unbound_a_blackholed_authority() {
    let world = World::new();
    world.edit_config(|t| {
        t.replace("timeout_ms = 2000", "timeout_ms = 1500")
            .replace("deadline_ms = 10000", "deadline_ms = 6000")
    });
    // The platform's DNS is its own authority, as herokudns.com is.
    let platform = world.rt.block_on(DnsServer::start()).expect("dns");
    platform.set_addrs(TARGET, &["127.0.0.1".parse().unwrap()]);
    let stubs = [
        ("herokudns.test", platform.addr()),
        ("test", world.dns.addr()),
    ];

    // The October 2025 outage: the platform's authority drops every packet.
    let Some(unbound) = Unbound::start(&stubs) else {
        return;
    };
    platform.set_default(Behaviour::Blackhole);
    world.edge.set(Answer::cloudflare_1016());
    let pin = format!("{PUBLIC}:{}:127.0.0.1", world.edge.port());
    let out = diagnose_through(
        &world,
        &[unbound.addr.to_string()],
        &["--json", "--resolve", &pin],
    );
    let doc = verdict(&out, "dns_target_failure", "deploy-proxy", "region", 3);
    let target = checks(&doc, "dns.target");
    assert!(
        ["timeout", "servfail"].contains(&target[0]["error"].as_str().unwrap_or("none")),
        "{doc:#}"
    );
    assert!(
        platform.queries() > 0,
        "unbound asked the platform's authority"
    );
    drop(unbound);

    // Every authority blackholes: through unbound this machine sees nothing at all.
    let Some(unbound) = Unbound::start(&stubs) else {
        return;
    };
    world.dns.set_default(Behaviour::Blackhole);
    let out = diagnose_through(
        &world,
        &[unbound.addr.to_string()],
        &["--json", "--resolve", &pin],
    );
    let doc = verdict(&out, "inconclusive", "escalate", "unknown", 3);
    summary_has(&doc, &["cannot see", "--resolver"]);
}

/// Each platform's world: the custom domain CNAMEs to the platform's target, the app answers on
/// its direct URL. Diagnose picks the platform's runbook from the origin (no runbook in the
/// config), or from the configured target when the origin has no known shape, reaches
/// `dns_target_failure` when the target fails, and names the platform's own error page when the
/// direct URL serves one.
#[test]
fn each_platform_dns_target_failure_and_error_pages() {
    use crate::platforms::{PLATFORMS, PUBLIC};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for p in PLATFORMS {
        let (dns, edge, origin) = rt.block_on(async {
            (
                DnsServer::start().await.expect("dns"),
                HttpServer::start(Answer::cloudflare_1016())
                    .await
                    .expect("edge"),
                HttpServer::start(Answer::ok()).await.expect("origin"),
            )
        });
        p.serve_names(&dns);
        dns.set_behaviour(p.target, Behaviour::Servfail);
        let dir = Scratch::new();
        dir.write(
            "failover.toml",
            &format!(
                "[service]\npublic_url = \"http://{PUBLIC}:{edge}\"\norigin = \"{origin}\"\nhealth_path = \"/health\"\n\n[dns]\ntimeout_ms = 2000\n",
                edge = edge.port(),
                origin = p.origin_url(origin.port()),
            ),
        );
        let pin = format!("{PUBLIC}:{}:127.0.0.1", edge.port());
        let diagnose = || {
            run(failover(dir.path()).args([
                "diagnose",
                "--json",
                "--resolver",
                &dns.addr().to_string(),
                "--resolve",
                &pin,
            ]))
        };
        let out = diagnose();
        let doc = verdict(&out, "dns_target_failure", "deploy-proxy", "unknown", 3);
        let target = checks(&doc, "dns.target");
        assert_eq!(
            (target[0]["target"].as_str(), target[0]["error"].as_str()),
            (Some(p.target), Some("servfail")),
            "{}: {doc:#}",
            p.runbook
        );
        let probed = checks(&doc, "http.origin")[0]["target"].clone();
        assert_eq!(
            probed,
            format!("{}/health", p.origin_url(origin.port())),
            "{doc:#}"
        );
        let journal =
            std::fs::read_to_string(dir.path().join(".failover/journal.jsonl")).expect("journal");
        assert!(
            journal.contains(&format!("\"runbook\":\"{}\"", p.runbook)),
            "{} not picked:\n{journal}",
            p.runbook
        );

        // An origin of no known shape: the configured target (as init writes it from the
        // CNAME) picks the runbook.
        let by_target = Scratch::new();
        by_target.write(
            "failover.toml",
            &format!(
                "[service]\npublic_url = \"http://{PUBLIC}:{edge}\"\norigin = \"http://127.0.0.1:{origin}\"\ndns_target = \"{target}\"\n",
                edge = edge.port(),
                origin = origin.port(),
                target = p.target,
            ),
        );
        let out = run(failover(by_target.path()).args([
            "diagnose",
            "--json",
            "--resolver",
            &dns.addr().to_string(),
            "--resolve",
            &pin,
        ]));
        verdict(&out, "dns_target_failure", "deploy-proxy", "unknown", 3);
        let journal = std::fs::read_to_string(by_target.path().join(".failover/journal.jsonl"))
            .expect("journal");
        assert!(
            journal.contains(&format!("\"runbook\":\"{}\"", p.by_target)),
            "{} not picked by {}:\n{journal}",
            p.by_target,
            p.target
        );

        let Some(error) = &p.error else { continue };
        let mut page = Answer::new(error.status, error.body);
        for (name, value) in error.headers {
            page = page.header(name, value);
        }
        origin.set(page);
        let out = diagnose();
        let doc = verdict(&out, "origin_down", "escalate", "unknown", 3);
        let detail = checks(&doc, "http.origin")[0]["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains(error.named), "{}: {detail}", p.runbook);
    }
}

/// Azure Front Door's own failure: its endpoint still resolves, but it answers the custom
/// domain with its error page while the App Service app answers on azurewebsites.net. The
/// page is recognised as Front Door's (not the app's), so the verdict is an edge failure a
/// proxy fixes, and the evidence names it.
#[test]
fn front_door_error_page_on_the_public_path_is_an_edge_failure() {
    use crate::platforms::{PLATFORMS, PUBLIC};
    let p = PLATFORMS
        .iter()
        .find(|p| p.runbook == "azure-front-door")
        .unwrap();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (dns, edge, origin) = rt.block_on(async {
        (
            DnsServer::start().await.expect("dns"),
            HttpServer::start(
                Answer::new(
                    503,
                    "<h2>Our services aren't available right now</h2><p>We're working to restore all services as soon as possible. Please check back soon.</p>",
                )
                .header("x-azure-ref", "0WKZEYgAAAADMF2yZfE7ZTZg4DKn"),
            )
            .await
            .expect("edge"),
            HttpServer::start(Answer::ok()).await.expect("origin"),
        )
    });
    p.serve_names(&dns);
    let dir = Scratch::new();
    dir.write(
        "failover.toml",
        &format!(
            "[service]\npublic_url = \"http://{PUBLIC}:{edge}\"\norigin = \"{origin}\"\nhealth_path = \"/health\"\n",
            edge = edge.port(),
            origin = p.origin_url(origin.port()),
        ),
    );
    let pin = format!("{PUBLIC}:{}:127.0.0.1", edge.port());
    let out = run(failover(dir.path()).args([
        "diagnose",
        "--json",
        "--resolver",
        &dns.addr().to_string(),
        "--resolve",
        &pin,
    ]));
    let doc = verdict(&out, "edge_failure", "deploy-proxy", "unknown", 3);
    let public = checks(&doc, "http.public")[0]["detail"].as_str().unwrap();
    assert!(
        public.contains("via azure front door")
            && public.contains("Azure Front Door Our services aren't available right now"),
        "{public}"
    );
    assert_eq!(checks(&doc, "dns.target")[0]["status"], "pass", "{doc:#}");
}
