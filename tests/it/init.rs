//! `failover init` without a terminal: flags in, a commented config that validates out; never
//! overwrites without --force; never waits for input.

use failover::sandbox::dns::{Behaviour, DnsServer};

use crate::support::{failover, run, Scratch};

/// A scratch directory, and a loopback resolver that knows no CNAME: init asks it for the
/// public host's CNAME, so the tests never send a DNS question off the machine.
struct Here {
    dir: Scratch,
    _rt: tokio::runtime::Runtime,
    dns: DnsServer,
}

impl Here {
    fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let dns = rt
            .block_on(DnsServer::responder(Behaviour::Nxdomain))
            .expect("dns");
        Here {
            dir: Scratch::new(),
            _rt: rt,
            dns,
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn init(&self) -> std::process::Command {
        let mut cmd = failover(self.path());
        cmd.args(["init", "--resolver", &self.dns.addr().to_string()]);
        cmd
    }
}

#[track_caller]
fn check(dir: &Here, args: &[&str], code: i32, needle: &str) {
    run(dir.init().args(args)).expect(&format!("init {args:?}"), code, &[needle]);
}

#[test]
fn init_without_a_terminal() {
    let dir = Here::new();
    let good = [
        "--public-url",
        "https://api.example.com",
        "--origin",
        "https://app-1.herokuapp.com",
    ];
    check(&dir, &[], 2, "init needs --public-url URL and --origin URL");
    check(
        &dir,
        &[
            "--public-url",
            "https://api.example.com",
            "--origin",
            "nope",
        ],
        2,
        "--origin: \"nope\" is not a URL",
    );
    assert!(
        !dir.path().join("failover.toml").exists(),
        "a rejected init wrote a file"
    );
    check(&dir, &good, 0, "next: failover diagnose");
    let first = std::fs::read_to_string(dir.path().join("failover.toml")).unwrap();
    assert!(
        first.contains("origin = [\"https://app-1.herokuapp.com\"]"),
        "{first}"
    );
    assert!(
        first.contains("heroku = \"https://status.heroku.com/api/v4/current-status\""),
        "{first}"
    );
    assert!(first.contains("zone = \"example.com\""), "{first}");

    check(
        &dir,
        &[
            "--public-url",
            "https://other.example.com",
            "--origin",
            "https://b.example.net",
        ],
        4,
        "pass --force",
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("failover.toml")).unwrap(),
        first,
        "overwrote without --force"
    );

    check(
        &dir,
        &[
            "--force",
            "--json",
            "--public-url",
            "https://other.example.com",
            "--origin",
            "https://b.example.net",
            "--zone",
            "example.com",
            "--account-id",
            "acc1",
        ],
        0,
        "\"schema\": \"failover.init/v1\"",
    );
    let second = std::fs::read_to_string(dir.path().join("failover.toml")).unwrap();
    assert!(
        second.contains("account_id = \"acc1\"") && second.contains("# heroku ="),
        "{second}"
    );
}

#[test]
fn init_json_document() {
    let dir = Here::new();
    let out = run(dir.init().args([
        "--json",
        "--public-url",
        "https://api.example.com",
        "--origin",
        "https://a.herokuapp.com",
        "--origin",
        "https://b.herokuapp.com",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["schema"], "failover.init/v1");
    assert_eq!(doc["written"], true);
    assert_eq!(
        doc["service"]["origin"],
        serde_json::json!(["https://a.herokuapp.com", "https://b.herokuapp.com"])
    );
    assert_eq!(doc["next"], "failover diagnose");
    assert!(dir.dns.queries() > 0, "init did not look for the CNAME");
}

/// Everything a terminal would ask, as flags: health and WebSocket paths, comparison
/// environments; a bad value is exit 2 before anything is written.
#[test]
fn init_takes_paths_and_comparisons_as_flags() {
    let dir = Here::new();
    let base = [
        "--public-url",
        "https://api.example.com",
        "--origin",
        "https://a.herokuapp.com",
    ];
    for (bad, needle) in [
        (
            &["--health-path", "health"][..],
            "--health-path: \"health\" is not a path",
        ),
        (
            &["--websocket-path", "cable"],
            "--websocket-path: \"cable\" is not a path",
        ),
        (
            &["--compare", "staging-eu"],
            "--compare: \"staging-eu\": expected NAME=URL",
        ),
        (
            &["--compare", "eu=nope"],
            "--compare: \"nope\" is not a URL",
        ),
        (
            &["--compare", "eu=https://eu.example.com,zone=x"],
            "is not origin=URL or region=R",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(bad).copied().collect();
        check(&dir, &args, 2, needle);
        assert!(
            !dir.path().join("failover.toml").exists(),
            "{bad:?} wrote a file"
        );
    }
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain([
            "--health-path",
            "/health",
            "--websocket-path",
            "/cable",
            "--compare",
            "staging-eu=https://staging-api.example.com,origin=https://s.herokuapp.com,region=eu",
            "--compare",
            "us=https://us-api.example.com",
        ])
        .collect();
    check(&dir, &args, 0, "next: failover diagnose");
    let file = std::fs::read_to_string(dir.path().join("failover.toml")).unwrap();
    for line in [
        "health_path = \"/health\"",
        "websocket_path = \"/cable\"",
        "name = \"staging-eu\"\npublic_url = \"https://staging-api.example.com\"\norigin = \"https://s.herokuapp.com\"\nregion = \"eu\"",
        "name = \"us\"\npublic_url = \"https://us-api.example.com\"",
    ] {
        assert!(file.contains(line), "lacks {line:?}:\n{file}");
    }
}

/// Each platform's runbook from the public host's CNAME and the origin's shape, with what the
/// runbook brings into the file: its status page and, commented, the header its direct URL may
/// need. From the CNAME alone (an origin of no known platform), the target's shape decides.
#[test]
fn init_picks_each_platforms_runbook() {
    use crate::platforms::{PLATFORMS, PUBLIC};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for p in PLATFORMS {
        let dns = rt.block_on(DnsServer::start()).expect("dns");
        p.serve_names(&dns);
        let resolver = dns.addr().to_string();
        let public = format!("https://{PUBLIC}");
        for (origin, want) in [
            (format!("https://{}{}", p.origin, p.base_path), p.runbook),
            ("https://203.0.113.10".to_owned(), p.by_target),
        ] {
            let dir = Scratch::new();
            let out = run(failover(dir.path()).args([
                "init",
                "--json",
                "--resolver",
                &resolver,
                "--public-url",
                &public,
                "--origin",
                &origin,
            ]));
            assert_eq!(out.code, 0, "{}: {}", p.runbook, out.stderr);
            let doc = out.json();
            assert_eq!(doc["service"]["runbook"], want, "{origin}: {doc}");
            assert_eq!(doc["service"]["dns_target"], p.target, "{doc}");
            let file = std::fs::read_to_string(dir.path().join("failover.toml")).unwrap();
            assert!(file.contains(&format!("runbook = \"{want}\"")), "{file}");
            if want != p.runbook {
                continue;
            }
            let catalog = failover::runbook::Catalog::from_files(Vec::new()).unwrap();
            let rb = catalog.get(p.runbook).unwrap();
            if let Some(page) = &rb.status_page {
                let line = format!("{} = \"{}\"", page.name, page.url);
                assert!(file.contains(&line), "{line} missing:\n{file}");
            }
            if let Some((name, _)) = p.header {
                let line = format!("# \"{name}\" = \"...\"");
                assert!(file.contains(&line), "{line} missing:\n{file}");
            }
        }
    }
}
