//! `failover whoami` against the sandbox API: the account, the zone, each needed permission
//! judged from read-only calls, and the exit code (0 ready, 2 not). Nothing is ever changed.

use failover::sandbox::cloudflare::Permission;

use crate::cloudflare::World;
use crate::support::{failover, run};

const TOKEN: &str = "canary-7f3a9c1e-token-NEVER-PRINT";

/// `failover whoami ARGS` in the world, with its token.
fn whoami(w: &World, args: &[&str]) -> std::process::Command {
    let mut cmd = failover(w.dir.path());
    cmd.env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_BASE_URL", w.cf.base_url().as_str())
        .arg("whoami")
        .args(args);
    cmd
}

const ALL: &[Permission] = &[
    Permission::ZoneRead,
    Permission::DnsEdit,
    Permission::WorkersScriptsEdit,
    Permission::WorkersRoutesEdit,
];

/// Each case: the token's permissions, the exit code, and `(permission, state)` pairs.
#[track_caller]
fn check(w: &mut World, permissions: &[Permission], code: i32, want: &[(&str, &str)]) {
    w.cf.set_permissions(Some(permissions));
    let calls = w.cf.calls().len();
    let out = run(&mut whoami(w, &["--json"]));
    assert_eq!(
        out.code, code,
        "{permissions:?}\n{}\n{}",
        out.stdout, out.stderr
    );
    let doc = out.json();
    assert_eq!(doc["schema"], "failover.whoami/v1");
    assert_eq!(doc["ready"], code == 0, "{doc:#}");
    for (permission, state) in want {
        let found = doc["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["permission"] == *permission)
            .unwrap_or_else(|| panic!("{permission} not judged: {doc:#}"));
        assert_eq!(found["state"], *state, "{permission}: {doc:#}");
    }
    let new_calls = &w.cf.calls()[calls..];
    assert!(!new_calls.is_empty());
    assert!(
        new_calls.iter().all(|c| !c.mutates()),
        "whoami changed something: {new_calls:?}"
    );
}

#[test]
fn whoami_reports_account_zone_and_permissions() {
    let mut w = World::new(true, true);
    check(
        &mut w,
        ALL,
        0,
        &[
            ("Zone Read (zone)", "granted"),
            ("DNS Edit (zone)", "granted"),
            ("Workers Routes Edit (zone)", "granted"),
            // Only an upload would prove it; whoami uploads nothing.
            ("Workers Scripts Edit (account)", "unverified"),
        ],
    );
    let human = run(&mut whoami(&w, &[]));
    let all = human.expect(
        "whoami",
        0,
        &[
            "Account  0123456789abcdef0123456789abcdef (sandbox)",
            "Zone     example.com",
            "✓ DNS Edit (zone)",
            "? Workers Scripts Edit (account)",
            "Deploy and rollback can run with this token.",
        ],
    );
    assert!(!all.contains("canary"), "{all}");

    // DNS Read instead of DNS Edit: readable, but not enough to switch the record.
    check(
        &mut w,
        &[
            Permission::ZoneRead,
            Permission::DnsRead,
            Permission::WorkersScriptsEdit,
            Permission::WorkersRoutesEdit,
        ],
        2,
        &[
            ("DNS Edit (zone)", "missing"),
            ("Workers Routes Edit (zone)", "granted"),
        ],
    );
    check(
        &mut w,
        &[
            Permission::ZoneRead,
            Permission::DnsEdit,
            Permission::WorkersRoutesEdit,
        ],
        2,
        &[("Workers Scripts Edit (account)", "missing")],
    );
    check(
        &mut w,
        &[
            Permission::ZoneRead,
            Permission::DnsEdit,
            Permission::WorkersScriptsEdit,
        ],
        2,
        &[("Workers Routes Edit (zone)", "missing")],
    );
    check(
        &mut w,
        &[
            Permission::DnsEdit,
            Permission::WorkersScriptsEdit,
            Permission::WorkersRoutesEdit,
        ],
        2,
        &[("Zone Read (zone)", "missing")],
    );
    let out = run(&mut whoami(&w, &[]));
    out.expect(
        "no zone read",
        2,
        &["add Zone Read", "cannot run with this token"],
    );

    // A token the API rejects: exit 2, saying how to fix it, and the token never printed.
    w.cf.set_permissions(None);
    let out = run(whoami(&w, &[]).env("CLOUDFLARE_API_TOKEN", "canary-wrong-token"));
    let all = out.expect("wrong token", 2, &["refused the token"]);
    assert!(!all.contains("canary-wrong-token"), "{all}");
}
