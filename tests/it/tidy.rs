//! The shape of the code, checked by reading `src/` (as rust-analyzer's tidy tests do), so the
//! invariants ARCHITECTURE.md states stay true: commands never call commands; the pure modules
//! import neither I/O nor the screen; no two modules import each other, directly or around a
//! loop. Test code (`#[cfg(test)]` onwards) is not read: tests may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that must stay pure: no clock, no environment, no network, no files, no screen.
const PURE: &[&str] = &[
    "diagnose",
    "plan",
    "deploy",
    "rollback",
    "recorded",
    "worker",
    "runbook",
    "init",
    "observation",
    "text",
    "watch",
];

/// What a pure module may not name: our I/O and screen modules, and the outside crates and
/// std parts that reach the world. `cloudflare::types` is plain data and allowed.
const IMPURE: &[&str] = &[
    "crate::probe",
    "crate::cloudflare",
    "crate::sandbox",
    "crate::apply",
    "crate::state",
    "crate::engine",
    "crate::commands",
    "crate::drill",
    "crate::walkthrough",
    "crate::ui",
    "crate::Ctx",
    "tokio::",
    "reqwest::",
    "hickory_",
    "dialoguer::",
    "indicatif::",
    "console::",
    "std::fs",
    "std::env",
    "std::net::Tcp",
    "std::net::Udp",
    "Instant::now",
    "SystemTime::now",
    "now_utc",
    "rand::",
];

struct Source {
    path: PathBuf,
    /// The top-level module: `diagnose` for src/diagnose.rs, `engine` for src/engine/verify.rs.
    module: String,
    /// The file without its tests.
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            out.push(Source { path, module, code });
        }
    }
    assert!(out.len() > 30, "src/ not found: {} files", out.len());
    out
}

/// Lines of code only: comments say things like "never calls crate::probe".
fn code_lines(code: &str) -> impl Iterator<Item = (usize, &str)> {
    code.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.starts_with("//"))
}

/// The `crate::NAME` modules a file names (through `use` or a path in code).
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, line) in code_lines(code) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn commands_never_call_commands() {
    let mut offences = Vec::new();
    for s in sources().iter().filter(|s| s.module == "commands") {
        if s.path.ends_with("commands/mod.rs") {
            continue;
        }
        for (n, line) in code_lines(&s.code) {
            if line.contains("super::") || line.contains("crate::commands") {
                offences.push(format!("{}:{n}: {line}", s.path.display()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "a command reaches into another command; call an operation in src/engine/ instead:\n{}",
        offences.join("\n")
    );
}

#[test]
fn commands_stay_thin() {
    for s in sources().iter().filter(|s| s.module == "commands") {
        let lines = s.code.lines().count();
        assert!(
            lines <= 300,
            "{} has {lines} lines: a command is a shell (arguments, operation, print, exit code)",
            s.path.display()
        );
    }
}

#[test]
fn pure_modules_import_no_io_and_no_screen() {
    let mut offences = Vec::new();
    for s in sources()
        .iter()
        .filter(|s| PURE.contains(&s.module.as_str()))
    {
        for (n, line) in code_lines(&s.code) {
            // `crate::cloudflare::types` is data; the client and preflight are not.
            let seen = line.replace("crate::cloudflare::types", "");
            for bad in IMPURE {
                if seen.contains(bad) {
                    offences.push(format!("{}:{n}: names {bad}: {line}", s.path.display()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "a pure module does I/O or touches the screen:\n{}",
        offences.join("\n")
    );
}

#[test]
fn no_import_cycles_between_modules() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources() {
        // lib.rs is the root that declares every module; main.rs only calls it.
        if s.module == "lib" || s.module == "main" {
            continue;
        }
        let deps = imports(&s.code).into_iter().filter(|m| {
            *m != s.module && m != "Ctx" && m.chars().next().is_some_and(|c| c.is_lowercase())
        });
        graph.entry(s.module.clone()).or_default().extend(deps);
    }
    // Depth-first search for a back edge; the path to it is the cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("modules import each other: {}", cycle.join(" -> "));
        }
    }
    assert!(
        graph["engine"].contains("probe"),
        "the reader misses imports"
    );
}

/// The checks above must be able to fail: each one, fed a file that breaks its rule.
#[test]
fn the_checks_see_what_they_look_for() {
    assert_eq!(
        imports("use crate::probe::{self, Prober};\n// crate::ui in a comment\nlet x = crate::text::excerpt(a, 1);"),
        BTreeSet::from(["probe".to_owned(), "text".to_owned()])
    );
    let code = "use crate::ui::Printer;\nfn f() { std::fs::read(\"x\"); }";
    let hits: Vec<&str> = IMPURE
        .iter()
        .copied()
        .filter(|bad| code_lines(code).any(|(_, l)| l.contains(bad)))
        .collect();
    assert_eq!(hits, ["crate::ui", "std::fs"]);
}
