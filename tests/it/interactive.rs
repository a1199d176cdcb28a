//! The 3 a.m. path, for real: `failover init` and the `failover diagnose` walk-through driven
//! in a pseudo-terminal (answering prompts, reading the screen), the same commands without a
//! terminal never waiting, a newcomer going from nothing to a verdict, and a team's own runbook
//! steps showing as evidence without ever deciding the verdict. Everything runs against the
//! loopback sandbox (DNS authority, edge, origin).

use std::net::IpAddr;
use std::process::{Command, Stdio};

use failover::sandbox::cloudflare::CloudflareSandbox;
use failover::sandbox::dns::{Behaviour, DnsServer};
use failover::sandbox::http::{Answer, HttpServer};
use nix::sys::wait::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};

use crate::support::{checks, failover, run, Run, Scratch, BIN};

const PUBLIC: &str = "api.example.test";
// A Heroku-shaped world, so that detection picks the Heroku runbook; the names exist only in
// the sandbox authority, which is the only resolver any of these runs asks.
const TARGET: &str = "haiku-word-123.herokudns.com";
const ORIGIN: &str = "myapp-abc123.herokuapp.com";

const TOKEN: &str = "interactive-test-token";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// Hang guard for every wait on the screen: generous, never a measure of speed.
const SCREEN_TIMEOUT_MS: u64 = 90_000;

struct World {
    _rt: tokio::runtime::Runtime,
    dns: DnsServer,
    edge: HttpServer,
    origin: HttpServer,
    dir: Scratch,
}

impl World {
    /// Users served through the normal path; no config written yet.
    fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (dns, edge, origin) = rt.block_on(async {
            let dns = DnsServer::start().await.expect("dns");
            let loopback: IpAddr = "127.0.0.1".parse().unwrap();
            dns.set_cname(PUBLIC, TARGET).unwrap();
            dns.set_addrs(TARGET, &[loopback]);
            dns.set_addrs(ORIGIN, &[loopback]);
            dns.set_addrs("db.example.test", &[loopback]);
            (
                dns,
                HttpServer::start(Answer::cloudflare_ok())
                    .await
                    .expect("edge"),
                HttpServer::start(Answer::ok()).await.expect("origin"),
            )
        });
        World {
            _rt: rt,
            dns,
            edge,
            origin,
            dir: Scratch::new(),
        }
    }

    /// The October 2025 outage: the DNS target fails, the edge reports 1016, the app runs.
    fn outage(self) -> Self {
        self.dns.set_behaviour(TARGET, Behaviour::Servfail);
        self.edge.set(Answer::cloudflare_1016());
        self
    }

    fn public_url(&self) -> String {
        format!("http://{PUBLIC}:{}", self.edge.port())
    }

    fn origin_url(&self) -> String {
        format!("http://{ORIGIN}:{}", self.origin.port())
    }

    fn resolver(&self) -> String {
        self.dns.addr().to_string()
    }

    /// The sandbox Cloudflare API with the zone `example.test`, where the public host is a
    /// proxied CNAME to the DNS target.
    fn cloudflare(&self) -> CloudflareSandbox {
        let cf = self
            ._rt
            .block_on(CloudflareSandbox::start(TOKEN, ACCOUNT))
            .expect("cloudflare sandbox");
        let zone = cf.add_zone("example.test", "free");
        cf.add_dns_record(&zone, "CNAME", PUBLIC, TARGET, true);
        cf
    }

    /// What `failover init` would write, without asking it: the service and a tight deadline.
    fn write_config(&self, extra_service: &str) {
        self.dir.write(
            "failover.toml",
            &format!(
                "[service]\npublic_url = \"{}\"\norigin = \"{}\"\nhealth_path = \"/health\"\n{extra_service}\n[probe]\ndeadline_ms = 10000\n",
                self.public_url(),
                self.origin_url()
            ),
        );
    }

    /// diagnose's probe flags: the sandbox as the only resolver, the public host pinned to the
    /// edge (as a proxied Cloudflare host resolves to the edge whatever its CNAME does).
    fn probe_args(&self) -> Vec<String> {
        vec![
            "--resolver".into(),
            self.resolver(),
            "--resolve".into(),
            format!("{PUBLIC}:{}:127.0.0.1", self.edge.port()),
        ]
    }

    fn diagnose(&self, extra: &[&str]) -> Run {
        run(failover(self.dir.path())
            .arg("diagnose")
            .args(self.probe_args())
            .args(extra))
    }

    /// `failover ARGS` in a pseudo-terminal: stdin, stdout and stderr all a terminal.
    fn pty(&self, args: &[String]) -> Screen {
        Screen::spawn(on_terminal(failover(self.dir.path()).args(args)))
    }
}

/// The command pointed at the sandbox Cloudflare API.
fn with_api<'c>(cmd: &'c mut Command, cf: &CloudflareSandbox) -> &'c mut Command {
    cmd.env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CLOUDFLARE_API_BASE_URL", cf.base_url().as_str())
}

/// A pseudo-terminal session: wait for text (with a hang guard), type keys, read the exit.
struct Screen {
    session: PtySession,
    /// Everything read so far, for failure messages.
    seen: String,
}

/// The command with the pseudo-terminal as its stdin too (the harness default closes it), and
/// without `CI` (which means "never prompt", and is set when CI runs these very tests).
fn on_terminal(cmd: &mut Command) -> Command {
    cmd.stdin(Stdio::inherit())
        .env("TERM", "xterm")
        .env_remove("CI");
    std::mem::replace(cmd, Command::new(BIN))
}

impl Screen {
    fn spawn(cmd: Command) -> Self {
        Screen::spawn_with(cmd, true)
    }

    /// `strip`: read the screen's text without its escape sequences.
    fn spawn_with(cmd: Command, strip: bool) -> Self {
        let options = Options::new()
            .timeout_ms(Some(SCREEN_TIMEOUT_MS))
            .strip_ansi_escape_codes(strip);
        Screen {
            session: spawn_with_options(cmd, options).expect("spawn in a pseudo-terminal"),
            seen: String::new(),
        }
    }

    #[track_caller]
    fn wait_for(&mut self, text: &str) -> String {
        match self.session.exp_string(text) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(text);
                before
            }
            Err(e) => panic!(
                "the screen never showed {text:?} ({e}); it showed:\n{}",
                self.seen
            ),
        }
    }

    fn keys(&mut self, keys: &str) {
        self.session.send(keys).expect("type");
        self.session.flush().expect("flush");
    }

    fn line(&mut self, line: &str) {
        self.keys(&format!("{line}\r"));
    }

    /// Reads to the end and returns the exit code and the rest of the screen.
    #[track_caller]
    fn exit(mut self) -> (i32, String) {
        let rest = self
            .session
            .exp_eof()
            .unwrap_or_else(|e| panic!("no exit ({e}); the screen showed:\n{}", self.seen));
        self.seen.push_str(&rest);
        let code = match self.session.process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("not a normal exit: {other:?}\n{}", self.seen),
        };
        (code, self.seen)
    }
}

/// A newcomer with no config: `init` (flags, no terminal) detects the DNS target and the
/// Heroku runbook from the CNAME, writes a file that validates, and `diagnose` gives a verdict.
#[test]
fn newcomer_init_then_diagnose_gets_a_verdict() {
    let world = World::new().outage();
    let out = run(failover(world.dir.path()).args([
        "init",
        "--public-url",
        &world.public_url(),
        "--origin",
        &world.origin_url(),
        "--resolver",
        &world.resolver(),
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{PUBLIC} is a CNAME to {TARGET}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.starts_with(
            "wrote failover.toml (runbook heroku-dns-target; see: failover runbook show heroku-dns-target)"
        ),
        "{}",
        out.stdout
    );
    let file = std::fs::read_to_string(world.dir.path().join("failover.toml")).unwrap();
    for line in [
        "# The platform DNS target the custom domain points at (detected from the CNAME).",
        &format!("dns_target = \"{TARGET}\""),
        "runbook = \"heroku-dns-target\"",
    ] {
        assert!(file.contains(line), "lacks {line:?}:\n{file}");
    }

    let out = world.diagnose(&["--json"]);
    let doc = out.json();
    assert_eq!(
        (doc["verdict"].as_str(), doc["action"].as_str(), out.code),
        (Some("dns_target_failure"), Some("deploy-proxy"), 3),
        "{doc:#}\n{}",
        out.stderr
    );
    assert_eq!(
        checks(&doc, "dns.target")[0]["error"],
        "servfail",
        "{doc:#}"
    );
    let journal =
        std::fs::read_to_string(world.dir.path().join(".failover/journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"runbook\":\"heroku-dns-target\""),
        "{journal}"
    );
}

/// A team's own steps, in runbooks/ beside the config: each shows as a check in the document
/// and a line of evidence, and never flips the verdict, pass or fail.
#[test]
fn a_teams_own_steps_are_evidence_only() {
    let world = World::new();
    let db = world
        ._rt
        .block_on(HttpServer::start(Answer::new(503, "db pool exhausted")))
        .unwrap();
    world.write_config("runbook = \"ours\"");
    let embedded =
        run(failover(world.dir.path()).args(["runbook", "show", "heroku-dns-target", "--json"]))
            .json();
    assert_eq!(embedded["id"], "heroku-dns-target");
    std::fs::create_dir(world.dir.path().join("runbooks")).unwrap();
    let ours = format!(
        r#"id = "ours"
title = "Our API"
summary = "The Heroku runbook, plus our database and the admin host."

[[step]]
id = "public-dns"
title = "Resolve the custom domain"
why = "w"
pass = "p"
fail = "f"
check = {{ kind = "dns", role = "public", name = "{{public_host}}" }}

[[step]]
id = "public-http"
title = "Probe the public URL"
why = "w"
pass = "p"
fail = "f"
check = {{ kind = "http", role = "public", url = "{{public_url}}{{health_path}}" }}

[[step]]
id = "origin-http"
title = "Probe the origin"
why = "w"
pass = "p"
fail = "f"
check = {{ kind = "http", role = "origin", url = "{{origin}}{{health_path}}" }}

[[step]]
id = "db-health"
title = "Our database answers through the app"
why = "An outage of our own database looks like a platform outage from outside."
pass = "The database answers."
fail = "The database fails: page the database on-call."
check = {{ kind = "http", url = "http://127.0.0.1:{db}/db", expect_status = 200 }}

[[step]]
id = "admin-dns"
title = "Resolve the admin host"
why = "The admin host has its own record."
pass = "It resolves."
fail = "It does not resolve."
check = {{ kind = "dns", name = "db.example.test" }}

[[step]]
id = "record"
title = "Read the Cloudflare record"
why = "Is it proxied?"
pass = "p"
fail = "f"
check = {{ kind = "cloudflare_record", name = "{{public_host}}" }}
"#,
        db = db.port()
    );
    world.dir.write("runbooks/ours.toml", &ours);

    let out = world.diagnose(&["--json"]);
    let doc = out.json();
    assert_eq!(
        (doc["verdict"].as_str(), out.code),
        (Some("healthy"), 0),
        "a failing extra step flipped the verdict:\n{doc:#}"
    );
    let db_check = checks(&doc, "extra.db-health");
    assert_eq!(db_check.len(), 1, "{doc:#}");
    assert_eq!(
        (
            db_check[0]["status"].as_str(),
            db_check[0]["error"].as_str()
        ),
        (Some("fail"), Some("http_status")),
        "{doc:#}"
    );
    assert!(db_check[0]["detail"]
        .as_str()
        .unwrap()
        .contains("expected 200"));
    assert_eq!(checks(&doc, "extra.admin-dns")[0]["status"], "pass");
    let record = checks(&doc, "extra.record");
    assert_eq!(
        (record[0]["kind"].as_str(), record[0]["status"].as_str()),
        (Some("cloudflare_record"), Some("skip")),
        "{doc:#}"
    );
    assert!(db.hits() > 0, "the team's endpoint was never asked");

    let human = world.diagnose(&[]);
    assert_eq!(human.code, 0, "{}", human.stdout);
    assert!(human.stdout.starts_with("HEALTHY"), "{}", human.stdout);
    for line in [
        "FAIL extra.db-health http://127.0.0.1:",
        "ok   extra.admin-dns db.example.test @",
        "skip extra.record api.example.test: reading the Cloudflare record needs CLOUDFLARE_API_TOKEN",
    ] {
        assert!(human.stdout.contains(line), "lacks {line:?}:\n{}", human.stdout);
    }

    // With the Cloudflare API configured, the record step reads the record, and changes nothing.
    let cf = world.cloudflare();
    let out = run(with_api(
        failover(world.dir.path())
            .arg("diagnose")
            .arg("--json")
            .args(world.probe_args()),
        &cf,
    ));
    let doc = out.json();
    assert_eq!(
        (doc["verdict"].as_str(), out.code),
        (Some("healthy"), 0),
        "{doc:#}"
    );
    let record = checks(&doc, "extra.record");
    assert_eq!(
        (record[0]["status"].as_str(), record[0]["detail"].as_str()),
        (
            Some("pass"),
            Some(format!("CNAME {TARGET} (proxied) in zone example.test").as_str())
        ),
        "{doc:#}"
    );
    assert!(!cf.calls().is_empty(), "the API was never asked");
    assert!(
        cf.calls().iter().all(|c| !c.mutates()),
        "diagnose changed Cloudflare"
    );

    // The database heals: the same step passes, and the verdict is still the platform's.
    db.set(Answer::ok());
    world.edge.set(Answer::cloudflare_1016());
    world.dns.set_behaviour(TARGET, Behaviour::Nxdomain);
    let doc = world.diagnose(&["--json"]).json();
    assert_eq!(doc["verdict"], "dns_target_failure", "{doc:#}");
    assert_eq!(checks(&doc, "extra.db-health")[0]["status"], "pass");

    // --runbook picks another one for one run; a name nobody knows is a usage error.
    let doc = world
        .diagnose(&["--json", "--runbook", "generic-dns-target"])
        .json();
    assert!(checks(&doc, "extra.db-health").is_empty(), "{doc:#}");
    let doc = world
        .diagnose(&["--json", "--runbook", "runbooks/ours.toml"])
        .json();
    assert_eq!(checks(&doc, "extra.db-health").len(), 1, "{doc:#}");
    let out = world.diagnose(&["--runbook", "nope"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no runbook \"nope\""), "{}", out.stderr);
    let journal =
        std::fs::read_to_string(world.dir.path().join(".failover/journal.jsonl")).unwrap();
    assert!(journal.contains("\"runbook\":\"ours\""), "{journal}");
}

/// `failover init` on a terminal: the prompts, the detected target, the file written.
#[test]
fn init_interactive_in_a_terminal() {
    let world = World::new();
    let mut screen = world.pty(&["init".into(), "--resolver".into(), world.resolver()]);
    screen.wait_for("Public URL users hit");
    screen.line(&world.public_url());
    screen.wait_for(&format!("{PUBLIC} is a CNAME to {TARGET}"));
    screen.wait_for("Direct origin URL");
    screen.line("not a url");
    // The answer is checked on the spot and asked again.
    screen.wait_for("is not a URL");
    screen.line(&world.origin_url());
    screen.wait_for("Health check path");
    screen.line("health");
    screen.wait_for("is not a path starting with");
    screen.line("/health");
    screen.wait_for("WebSocket path");
    screen.line("/cable");
    screen.wait_for("Add a comparison environment");
    screen.keys("y");
    screen.wait_for("Its name");
    screen.line("");
    screen.wait_for("Its public URL");
    screen.line("https://staging-api.example.com");
    screen.wait_for("Its direct origin URL");
    screen.line("https://myapp-staging.herokuapp.com");
    screen.wait_for("Its region");
    screen.line("");
    screen.wait_for("Cloudflare zone");
    screen.line("");
    screen.wait_for("Cloudflare account id");
    screen.line("acc-123");
    screen.wait_for("next: failover diagnose");
    let (code, shown) = screen.exit();
    assert_eq!(code, 0, "{shown}");

    let file = std::fs::read_to_string(world.dir.path().join("failover.toml")).unwrap();
    for line in [
        &format!("public_url = \"{}\"", world.public_url()),
        &format!("origin = [\"{}\"]", world.origin_url()),
        "health_path = \"/health\"",
        "websocket_path = \"/cable\"",
        "public_url = \"https://staging-api.example.com\"",
        &format!("dns_target = \"{TARGET}\""),
        "runbook = \"heroku-dns-target\"",
        "name = \"staging-eu\"",
        "origin = \"https://myapp-staging.herokuapp.com\"",
        "region = \"eu\"",
        "zone = \"example.test\"",
        "account_id = \"acc-123\"",
    ] {
        assert!(file.contains(line), "lacks {line:?}:\n{file}");
    }
}

/// A terminal emulator, 80 columns wide, to see the screen as a person would.
fn eighty_columns() -> vt100::Parser {
    let rows = std::num::NonZeroU16::new(200).unwrap();
    let cols = std::num::NonZeroU16::new(80).unwrap();
    vt100::Parser::new(rows, cols, 0)
}

/// An answer wider than the terminal wraps; once entered, the screen (as an 80-column
/// terminal draws it) shows the prompt once, with the whole answer.
#[test]
fn init_prompt_that_wraps_shows_once() {
    let world = World::new();
    let long = format!(
        "http://a-very-long-public-host-name-for-the-wrapping-check.example.test:{}",
        world.edge.port()
    );
    let mut screen = Screen::spawn_with(
        on_terminal(failover(world.dir.path()).args(["init", "--resolver", &world.resolver()])),
        false,
    );
    screen.wait_for("Public URL users hit");
    screen.line(&long);
    screen.wait_for("Direct origin URL");
    screen.line(&world.origin_url());
    screen.wait_for("Health check path");
    screen.line("");
    screen.wait_for("WebSocket path");
    screen.line("");
    screen.wait_for("Add a comparison environment");
    screen.keys("n");
    screen.wait_for("Cloudflare zone");
    screen.line("");
    screen.wait_for("Cloudflare account id");
    screen.line("");
    screen.wait_for("next: failover diagnose");
    let (code, raw) = screen.exit();
    assert_eq!(code, 0, "{raw}");
    let mut terminal = eighty_columns();
    terminal.process(raw.as_bytes());
    let drawn = terminal.screen().contents();
    assert_eq!(
        drawn.matches("Public URL users hit").count(),
        1,
        "the prompt shows twice:\n{drawn}"
    );
    let joined = drawn.replace('\n', "");
    assert!(
        joined.contains(&format!("Public URL users hit: {long}")),
        "{drawn}"
    );
}

/// The verdict first, then the walk-through when asked for (`w`): step titles and whys, a
/// result line each, the evidence on `e`; then the offer to deploy (declined here).
#[test]
fn diagnose_walk_through_in_a_terminal() {
    let world = World::new().outage();
    world.write_config("");
    let mut args = vec!["diagnose".to_owned()];
    args.extend(world.probe_args());
    let mut screen = world.pty(&args);
    screen.wait_for("DNS TARGET FAILURE  action: deploy-proxy");
    screen.wait_for("failover deploy-proxy --dry-run");
    screen.wait_for("w: walk through the 7 steps and their evidence");
    screen.keys("w");
    screen.wait_for("Heroku: the custom domain's DNS target fails while the app still runs");
    screen.wait_for("[1/7] Resolve the custom domain");
    screen.wait_for("The custom domain must CNAME to the platform's DNS target");
    screen.wait_for("e: evidence");
    screen.keys("e");
    // The evidence line wraps to the terminal's width, so the target may start a new line.
    screen.wait_for(&format!("dns.public {PUBLIC} @{}: CNAME", world.resolver()));
    screen.wait_for(TARGET);
    screen.wait_for("e: evidence");
    screen.keys("\r");
    screen.wait_for("[2/7] Resolve the Heroku DNS target on every resolver");
    screen.wait_for("The DNS target fails: the platform's DNS layer is down.");
    screen.wait_for("(0/1 checks pass)");
    screen.wait_for("e: evidence");
    screen.keys("e");
    screen.wait_for(&format!(
        "FAIL dns.target {TARGET} @{}: SERVFAIL",
        world.resolver()
    ));
    screen.wait_for("e: evidence");
    screen.keys("\r");
    screen.wait_for("[3/7] Probe the public URL");
    screen.wait_for("e: evidence");
    screen.keys("\r");
    screen.wait_for("[4/7] Probe the app on its direct herokuapp.com URL");
    screen.wait_for("The app is up on its direct URL: a proxy can help.");
    screen.wait_for("e: evidence");
    // The rest without stopping; steps with nothing configured say why.
    screen.keys("a");
    screen.wait_for("[5/7] Open a WebSocket on the public URL");
    screen.wait_for("skipped: {websocket_path} has no value in this configuration");
    screen.wait_for("[7/7] Read the Heroku and Cloudflare status pages");
    screen.wait_for("Deploy the emergency proxy now?");
    screen.keys("n");
    screen.wait_for("When you are ready:");
    let (code, shown) = screen.exit();
    assert_eq!(code, 3, "{shown}");
    assert!(world.origin.hits() > 0);
}

/// Ctrl-C at a walk-through prompt: exit 130 and the terminal handed back as it was.
#[test]
fn diagnose_walk_through_ctrl_c_exits_130() {
    let world = World::new();
    world.write_config("");
    let mut args = vec!["diagnose".to_owned()];
    args.extend(world.probe_args());
    // The escape sequences are kept, to see the cursor shown again after the interrupt.
    let mut screen = Screen::spawn_with(on_terminal(failover(world.dir.path()).args(&args)), false);
    screen.wait_for("HEALTHY");
    screen.wait_for("w: walk through");
    screen.keys("w");
    screen.wait_for("[1/7] Resolve the custom domain");
    screen.wait_for("e: evidence");
    screen.keys("\x03");
    let (code, shown) = screen.exit();
    assert_eq!(code, 130, "{shown}");
    let after = &shown[shown.rfind("e: evidence").unwrap()..];
    assert!(!after.contains("[2/7]"), "{shown}");
    assert!(
        after.contains("\x1b[?25h"),
        "cursor not shown again: {after:?}"
    );
    // The shell's prompt will start on a fresh line, below a word saying what happened.
    let mut terminal = eighty_columns();
    terminal.process(shown.as_bytes());
    assert_eq!(terminal.screen().cursor_position().1, 0, "{shown:?}");
    let drawn = terminal.screen().contents();
    assert_eq!(
        drawn.trim_end().lines().last(),
        Some("interrupted"),
        "{drawn}"
    );

    // And at the offer to deploy, after the verdict (the walk-through declined with Enter).
    let world = world.outage();
    let mut screen = world.pty(&args);
    screen.wait_for("w: walk through");
    screen.keys("\r");
    screen.wait_for("Deploy the emergency proxy now?");
    screen.keys("\x03");
    let (code, shown) = screen.exit();
    assert_eq!(code, 130, "{shown}");
    assert!(!shown.contains("When you are ready"), "{shown}");
    assert!(shown.trim_end().ends_with("interrupted"), "{shown}");
    assert!(!shown.contains("[1/7]"), "{shown}");
}

/// With a terminal but --no-input, --yes, --json, -q or CI set, or with stdin not a terminal:
/// no prompt ever appears, nothing waits, and the output is the usual report.
#[test]
fn diagnose_never_prompts_without_a_person() {
    let world = World::new().outage();
    world.write_config("");
    let probe = world.probe_args().join(" ");
    let cases: [(&str, Vec<String>); 6] = [
        (
            "CI set",
            [vec!["diagnose".into()], world.probe_args()].concat(),
        ),
        (
            "-q",
            [vec!["diagnose".into(), "-q".into()], world.probe_args()].concat(),
        ),
        (
            "--no-input",
            [
                vec!["diagnose".into(), "--no-input".into()],
                world.probe_args(),
            ]
            .concat(),
        ),
        (
            "--yes",
            [vec!["diagnose".into(), "--yes".into()], world.probe_args()].concat(),
        ),
        (
            "--json",
            [vec!["diagnose".into(), "--json".into()], world.probe_args()].concat(),
        ),
        // stdin from /dev/null while stdout and stderr stay on the terminal.
        (
            "stdin /dev/null",
            vec![
                "-c".into(),
                format!("exec \"$0\" diagnose {probe} < /dev/null"),
                BIN.into(),
            ],
        ),
    ];
    for (name, args) in cases {
        let mut cmd = if name == "stdin /dev/null" {
            let mut sh = Command::new("sh");
            sh.current_dir(world.dir.path()).env("NO_COLOR", "1");
            sh
        } else {
            failover(world.dir.path())
        };
        let mut cmd = on_terminal(cmd.args(&args));
        if name == "CI set" {
            cmd.env("CI", "true");
        }
        let mut screen = Screen::spawn(cmd);
        let expected = if name == "--json" {
            "\"verdict\": \"dns_target_failure\""
        } else {
            "DNS TARGET FAILURE"
        };
        screen.wait_for(expected);
        let (code, shown) = screen.exit();
        assert_eq!(code, 3, "{name}: {shown}");
        for prompt in [
            "w: walk through",
            "e: evidence",
            "Deploy the emergency proxy now?",
            "[1/7]",
        ] {
            assert!(
                !shown.contains(prompt),
                "{name} showed {prompt:?}:\n{shown}"
            );
        }
    }
    // stdout to a file while stdin and stderr stay on the terminal: the verdict is in the file
    // and nothing waits for a key.
    let mut sh = Command::new("sh");
    sh.current_dir(world.dir.path()).env("NO_COLOR", "1").args([
        "-c".to_owned(),
        format!("exec \"$0\" diagnose {probe} > out.txt"),
        BIN.to_owned(),
    ]);
    let (code, shown) = Screen::spawn(on_terminal(&mut sh)).exit();
    assert_eq!(code, 3, "stdout to a file: {shown}");
    for prompt in ["w: walk through", "Deploy the emergency proxy now?"] {
        assert!(
            !shown.contains(prompt),
            "stdout to a file showed {prompt:?}:\n{shown}"
        );
    }
    let written = std::fs::read_to_string(world.dir.path().join("out.txt")).unwrap();
    assert!(written.contains("DNS TARGET FAILURE"), "{written}");

    // And with no terminal at all (the test harness's own pipes), the same document as before.
    let out = world.diagnose(&["--json"]);
    assert_eq!(out.json()["verdict"], "dns_target_failure");
}

/// A broken runbook beside the config stops diagnose before anything is sent: exit 2, with the
/// file, line and field.
#[test]
fn a_broken_runbook_stops_diagnose_before_any_probe() {
    let world = World::new();
    world.write_config("");
    std::fs::create_dir(world.dir.path().join("runbooks")).unwrap();
    world.dir.write(
        "runbooks/ours.toml",
        "id = \"ours\"\ntitle = \"T\"\nsummary = \"S\"\n\n[[step]]\nid = \"a\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\ncheck = { kind = \"http\", url = \"{origin}{helth}\" }\n",
    );
    let out = world.diagnose(&[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("ours.toml:5: `step[0].check.url`: unknown placeholder {helth}"),
        "{}",
        out.stderr
    );
    assert_eq!(world.dns.queries(), 0, "a probe was sent");
    assert_eq!(
        world.origin.hits() + world.edge.hits(),
        0,
        "a probe was sent"
    );
}

/// Yes to the offer runs `failover deploy-proxy` there and then: its plan first, then its own
/// question; declined here, so nothing changes in Cloudflare (exit 4, as deploy refuses).
#[test]
fn diagnose_offer_runs_deploy_with_the_plan_first() {
    let world = World::new().outage();
    world.write_config("");
    let cf = world.cloudflare();
    let mut args = vec!["diagnose".to_owned()];
    args.extend(world.probe_args());
    let mut cmd = failover(world.dir.path());
    with_api(cmd.args(&args), &cf);
    let mut screen = Screen::spawn(on_terminal(&mut cmd));
    screen.wait_for("DNS TARGET FAILURE  action: deploy-proxy");
    screen.wait_for("w: walk through");
    screen.keys("\r");
    screen.wait_for("Deploy the emergency proxy now?");
    screen.keys("y");
    screen.wait_for(&format!("Plan for {PUBLIC} (zone example.test):"));
    screen.wait_for(&format!(
        "Deploy the emergency proxy failover-api-example-test for {PUBLIC}"
    ));
    screen.keys("n");
    screen.wait_for("declined; nothing changed");
    let (code, shown) = screen.exit();
    assert_eq!(code, 4, "{shown}");
    assert!(
        cf.calls().iter().any(|c| !c.mutates()),
        "deploy never read Cloudflare"
    );
    assert!(
        cf.calls().iter().all(|c| !c.mutates()),
        "a declined deploy changed Cloudflare"
    );
}
