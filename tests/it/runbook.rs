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
        &[
            "heroku-dns-target",
            "platform heroku · 7 steps · embedded:heroku-dns-target.toml",
            "platform azure-front-door",
            "platform google-cloud-run",
            "platform google-app-engine",
            "platform vercel",
            "platform railway",
            "platform aws-api-gateway",
            "generic-dns-target",
            "platform generic",
        ],
    );
    // The document names each runbook's platform and the shapes that pick it.
    let out = run(failover(dir.path()).args(["runbook", "list", "--json"]));
    let doc = out.json();
    let platforms: Vec<(&str, &str)> = doc["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["platform"].as_str().unwrap()))
        .collect();
    assert_eq!(
        platforms,
        [
            ("heroku-dns-target", "heroku"),
            ("azure-front-door", "azure-front-door"),
            ("google-cloud-run", "google-cloud-run"),
            ("google-app-engine", "google-app-engine"),
            ("vercel", "vercel"),
            ("railway", "railway"),
            ("aws-api-gateway", "aws-api-gateway"),
            ("generic-dns-target", "generic"),
        ]
    );
    assert_eq!(
        doc["runbooks"][4]["target_suffixes"],
        serde_json::json!([".vercel-dns*.com"])
    );
    check(
        &dir,
        &["runbook", "show", "vercel"],
        0,
        &[
            "## The platform",
            "Custom domain's DNS target: `cname.vercel-dns.com or <hash>.vercel-dns-<n>.com`",
            "Direct URL (the proxy's origin): `<project>.vercel.app`",
            "`x-vercel-protection-bypass`",
            "\"DEPLOYMENT_NOT_FOUND\"",
        ],
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
        &["no runbook \"nope\"; known: heroku-dns-target, azure-front-door, google-cloud-run, google-app-engine, vercel, railway, aws-api-gateway, generic-dns-target"],
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

/// The platform facts of a runbook are validated like its steps: file, line and field.
#[test]
fn platform_facts_are_validated() {
    let dir = Scratch::new();
    let head = "id = \"x\"\ntitle = \"t\"\nsummary = \"s\"\n";
    let step = "[[step]]\nid = \"a\"\ntitle = \"t\"\nwhy = \"w\"\npass = \"p\"\nfail = \"f\"\ncheck = { kind = \"compare\" }\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "status_page = { name = \"acme\", url = \"not a url\" }\n",
            &["bad.toml:4", "`status_page.url`", "must be a URL"],
        ),
        (
            "status_page = { name = \"a b\", url = \"https://status.example.com\" }\n",
            &["bad.toml:4", "`status_page.name`"],
        ),
        (
            "[[direct_header]]\nname = \"X Bad\"\nwhy = \"w\"\n",
            &["bad.toml:4", "`direct_header[0].name`", "HTTP header name"],
        ),
        (
            "[signature]\nname = \"P\"\nvia = \"p\"\nerror = [{ min_status = 500 }]\n",
            &[
                "bad.toml:4",
                "`signature.error[0]`",
                "needs `code`, `text` or `header`",
            ],
        ),
        (
            "[signature]\nname = \"P\"\nvia = \"p\"\ncolour = 1\n",
            &["bad.toml:", "unknown field `colour`"],
        ),
    ];
    for (facts, needles) in cases {
        let bad = dir.write("bad.toml", &format!("{head}{facts}{step}"));
        check(
            &dir,
            &["runbook", "list", "--runbook", bad.to_str().unwrap()],
            2,
            needles,
        );
    }
}
