//! The incident report: the journal's events for the latest incident turned into milestones,
//! a timeline and the time to mitigation (`failover.report/v1`), and the Markdown for the
//! postmortem rendered from `templates/report.md.j2`. Pure: the events in, the document out.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::state::Event;
use crate::text::excerpt;

pub const SCHEMA: &str = "failover.report/v1";

const TEMPLATE: &str = include_str!("../../templates/report.md.j2");

/// The `failover.report/v1` document.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub schema: &'static str,
    /// The public URL (or host) the events speak of, when they say.
    pub service: Option<String>,
    /// The outage was simulated by `failover drill`.
    pub drill: bool,
    pub started_at: String,
    pub ended_at: String,
    pub duration_ms: u64,
    /// The first non-healthy verdict to the proxy verified through the public URL.
    pub time_to_mitigation_ms: Option<u64>,
    pub milestones: Vec<Milestone>,
    pub verdicts: Vec<VerdictEntry>,
    /// What was changed in Cloudflare, in order.
    pub changes: Vec<String>,
    pub timeline: Vec<Entry>,
    /// Events in the journal, and how many of them the incident spans.
    pub events_read: usize,
    pub events_in_incident: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Milestone {
    /// `detected`, `mitigation_started`, `mitigated`, `platform_recovered`, `rolled_back`,
    /// `healthy_again`.
    pub name: &'static str,
    pub label: &'static str,
    pub at: String,
    /// Milliseconds since detection (negative never: milestones before it are not listed).
    pub since_detected_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictEntry {
    pub at: String,
    pub verdict: String,
    pub action: String,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: String,
    /// Milliseconds since the incident window opened.
    pub offset_ms: u64,
    pub command: String,
    pub event: String,
    pub text: String,
}

fn ts(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn between(a: &str, b: &str) -> Option<u64> {
    let d = ts(b)? - ts(a)?;
    u64::try_from(d.whole_milliseconds()).ok()
}

fn verdict_of(e: &Event) -> Option<&str> {
    (e.event == "verdict")
        .then(|| e.data["verdict"].as_str())
        .flatten()
}

/// Where the latest incident begins: the last non-healthy verdict that followed a healthy one
/// (or none), widened to the start of a drill that was running then.
fn window_start(events: &[Event]) -> usize {
    let mut start = None;
    let mut previous_healthy = true;
    for (i, e) in events.iter().enumerate() {
        if let Some(v) = verdict_of(e) {
            let healthy = v == "healthy";
            if !healthy && previous_healthy {
                start = Some(i);
            }
            previous_healthy = healthy;
        }
    }
    let Some(start) = start else { return 0 };
    // A drill that started before the incident and had not finished encloses it.
    let mut drill_start = None;
    for (i, e) in events[..start].iter().enumerate() {
        if e.command == "drill" {
            match e.event.as_str() {
                "started" => drill_start = Some(i),
                "finished" => drill_start = None,
                _ => {}
            }
        }
    }
    drill_start.unwrap_or(start)
}

/// Builds the report of the latest incident in `events` (the whole journal, oldest first).
pub fn build(events: &[Event]) -> Incident {
    let start = window_start(events);
    let window = &events[start..];
    let first = window.first().map(|e| e.ts.clone()).unwrap_or_default();
    let last = window.last().map(|e| e.ts.clone()).unwrap_or_default();

    let service = window.iter().find_map(|e| {
        (e.event == "started")
            .then(|| {
                e.data["public_url"]
                    .as_str()
                    .or_else(|| e.data["host"].as_str())
            })
            .flatten()
            .map(|s| excerpt(s, 200))
    });
    let drill = window
        .iter()
        .any(|e| e.command == "drill" && e.event == "started");

    let detected = window
        .iter()
        .position(|e| verdict_of(e).is_some_and(|v| v != "healthy"));
    let after = |from: Option<usize>, pred: &dyn Fn(&Event) -> bool| -> Option<usize> {
        let from = from?;
        window[from..].iter().position(pred).map(|i| i + from)
    };
    // The deploy that started mitigation is the one that changed something: a dry run, a
    // deploy declined at the prompt or one refused before any step is not it.
    let applying: std::collections::HashSet<(&str, &str)> = window
        .iter()
        .filter(|e| e.event == "step.begin")
        .map(|e| (e.run.as_str(), e.command.as_str()))
        .collect();
    let mitigation_started = after(detected, &|e| {
        e.command == "deploy-proxy"
            && e.event == "started"
            && e.data["dry_run"] != true
            && applying.contains(&(e.run.as_str(), e.command.as_str()))
    });
    let deploy_verified = after(mitigation_started, &|e| {
        e.command == "deploy-proxy" && e.event == "finished" && e.data["verified"] == true
    });
    // The drill checks more than the marker (REST, redirect, cookie, WebSocket): its word wins.
    let mitigated = after(mitigation_started, &|e| {
        e.command == "drill" && e.event == "verified" && e.data["ok"] == true
    })
    .or(deploy_verified);
    let platform_recovered = after(mitigated, &|e| {
        (e.event == "verdict" && e.data["action"] == "rollback")
            || (e.event == "platform"
                && e.data["target_resolves"] == true
                && e.data["origin_healthy"] == true)
    });
    let rolled_back = after(mitigated, &|e| {
        e.command == "rollback"
            && e.event == "finished"
            && e.data["verified"] == true
            && e.data["applied"].as_u64().is_some_and(|n| n > 0)
    });
    let healthy_again = after(rolled_back.or(detected), &|e| {
        verdict_of(e) == Some("healthy")
    });

    let detected_at = detected.map(|i| window[i].ts.clone());
    let mut milestones = Vec::new();
    for (name, label, index) in [
        (
            "detected",
            "Outage detected (first non-healthy verdict)",
            detected,
        ),
        (
            "mitigation_started",
            "Emergency proxy deploy started",
            mitigation_started,
        ),
        (
            "mitigated",
            "Proxy verified through the public URL",
            mitigated,
        ),
        (
            "platform_recovered",
            "Platform path healthy again",
            platform_recovered,
        ),
        ("rolled_back", "Proxy rolled back and verified", rolled_back),
        (
            "healthy_again",
            "Healthy through the normal path",
            healthy_again,
        ),
    ] {
        if let Some(i) = index {
            let at = window[i].ts.clone();
            milestones.push(Milestone {
                name,
                label,
                since_detected_ms: detected_at.as_deref().and_then(|d| between(d, &at)),
                at,
            });
        }
    }
    let time_to_mitigation_ms = match (detected, mitigated) {
        (Some(d), Some(m)) => between(&window[d].ts, &window[m].ts),
        _ => None,
    };

    let verdicts = window
        .iter()
        .filter(|e| e.event == "verdict")
        .map(|e| VerdictEntry {
            at: e.ts.clone(),
            verdict: text(&e.data["verdict"]),
            action: text(&e.data["action"]),
            summary: excerpt(&text(&e.data["summary"]), 300),
        })
        .collect();
    // A step's description is journaled when it begins; its outcome when it is done.
    let mut described: std::collections::HashMap<String, String> = Default::default();
    let mut changes = Vec::new();
    let mut timeline = Vec::new();
    for e in window {
        let call = text(&e.data["call"]);
        let line = match e.event.as_str() {
            "step.begin" => {
                described.insert(call, text(&e.data["description"]));
                continue;
            }
            "step.done" | "step.failed" => {
                let what = described
                    .get(&call)
                    .cloned()
                    .unwrap_or_else(|| call.clone());
                if e.event == "step.done" {
                    changes.push(excerpt(&format!("{}: {what} (`{call}`)", e.command), 300));
                    format!("done: {what}")
                } else {
                    format!("FAILED: {what}: {}", text(&e.data["error"]))
                }
            }
            _ => match describe(e) {
                Some(line) => line,
                None => continue,
            },
        };
        timeline.push(Entry {
            at: e.ts.clone(),
            offset_ms: between(&first, &e.ts).unwrap_or(0),
            command: e.command.clone(),
            event: e.event.clone(),
            text: excerpt(&line, 300),
        });
    }
    // A deploy or rollback that started and never said how it ended stopped on an error
    // (or was interrupted): it failed, and the report says so where it stopped.
    for (run, command, at) in unfinished(window) {
        let offset_ms = between(&first, &at).unwrap_or(0);
        let position = timeline
            .iter()
            .rposition(|t: &Entry| t.offset_ms <= offset_ms)
            .map_or(0, |i| i + 1);
        timeline.insert(
            position,
            Entry {
                at,
                offset_ms,
                command: command.clone(),
                event: "failed".to_owned(),
                text: format!(
                    "{command} FAILED: it stopped before finishing (run {run}; its error was \
                     printed where it ran)"
                ),
            },
        );
    }
    Incident {
        schema: SCHEMA,
        service,
        drill,
        duration_ms: between(&first, &last).unwrap_or(0),
        started_at: first,
        ended_at: last,
        time_to_mitigation_ms,
        milestones,
        verdicts,
        changes,
        timeline,
        events_read: events.len(),
        events_in_incident: window.len(),
    }
}

/// Deploy and rollback runs in `window` that started and have no closing event (`finished`,
/// `declined`, `refused`, `partial`): each with its last event's time.
fn unfinished(window: &[Event]) -> Vec<(String, String, String)> {
    let mut open: Vec<(String, String, String)> = Vec::new();
    for e in window {
        if !matches!(e.command.as_str(), "deploy-proxy" | "rollback") {
            continue;
        }
        let key = |o: &(String, String, String)| o.0 == e.run && o.1 == e.command;
        match e.event.as_str() {
            "started" => open.push((e.run.clone(), e.command.clone(), e.ts.clone())),
            "finished" | "declined" | "refused" | "partial" => open.retain(|o| !key(o)),
            _ => {
                if let Some(o) = open.iter_mut().find(|o| key(o)) {
                    o.2 = e.ts.clone();
                }
            }
        }
    }
    open
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One line for the timeline; `None` for events too fine-grained for it (each check).
fn describe(e: &Event) -> Option<String> {
    let d = &e.data;
    Some(match (e.command.as_str(), e.event.as_str()) {
        (_, "check") => return None,
        ("drill", "started") => "drill started: the world of October 2025 on loopback".to_owned(),
        ("drill", "stage") => format!(
            "{}: {} ({})",
            text(&d["title"]),
            text(&d["observed"]),
            text(&d["outcome"])
        ),
        ("drill", "event") => text(&d["what"]),
        ("drill", "verified") => format!(
            "through the public URL: {}",
            d["checks"]
                .as_array()
                .map(|c| c
                    .iter()
                    .map(|c| format!(
                        "{} {}",
                        text(&c["name"]),
                        if c["ok"] == true { "ok" } else { "FAILED" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        ("drill", "finished") => format!("drill finished ({})", text(&d["outcome"])),
        ("diagnose", "started") => "diagnose started".to_owned(),
        ("watch", "started") => format!(
            "watch started{}",
            if d["auto"] == true {
                format!(
                    " (--auto: deploy after {} cycles, roll back after {})",
                    d["deploy_after"], d["rollback_after"]
                )
            } else {
                String::new()
            }
        ),
        ("watch", "acted") => format!(
            "watch --auto ran {}: {} ({})",
            text(&d["acted"]),
            text(&d["result"]),
            text(&d["summary"])
        ),
        ("watch", "notify.failed") => {
            format!("{} failed: {}", text(&d["notifier"]), text(&d["error"]))
        }
        ("watch", "finished") => format!("watch stopped after {} cycle(s)", d["cycles"]),
        (_, "verdict") => format!(
            "verdict {} -> {}: {}",
            text(&d["verdict"]),
            text(&d["action"]),
            text(&d["summary"])
        ),
        (_, "started") if d["dry_run"] == true => format!("{} --dry-run started", e.command),
        (_, "started") => format!("{} started", e.command),
        (_, "planned") => {
            let steps: usize = d["plan"]["phases"].as_array().map_or(0, |p| {
                p.iter().filter_map(Value::as_array).map(Vec::len).sum()
            });
            format!("planned {steps} step(s)")
        }
        (_, "platform") => format!(
            "platform path: target resolves {}, origin healthy {}",
            d["target_resolves"], d["origin_healthy"]
        ),
        (_, "finished") if d["dry_run"] == true => {
            format!("{} dry run: planned only, nothing changed", e.command)
        }
        (_, "finished") if d["verified"] == false => format!(
            "{} FAILED: {} change(s) applied, but verification through the public URL failed",
            e.command,
            d["applied"].as_u64().unwrap_or(0)
        ),
        (_, "finished") => {
            let verified = if d["verified"] == true {
                ", verified"
            } else {
                ""
            };
            format!(
                "{} finished: {} change(s) applied{verified}",
                e.command,
                d["applied"].as_u64().unwrap_or(0)
            )
        }
        (_, "refused") => format!("refused: {}", text(&d["reason"])),
        (_, "declined") => "declined at the prompt".to_owned(),
        (_, "partial") => format!(
            "{} FAILED part way (partially applied): {}",
            e.command,
            text(&d["error"])
        ),
        (_, "step.interrupted") => format!(
            "INTERRUPTED during: {} (its outcome is unknown)",
            text(&d["description"])
        ),
        (_, "status") => format!(
            "status: proxy deployed {}, action {}",
            d["deployed"],
            text(&d["action"])
        ),
        (_, other) => other.to_owned(),
    })
}

/// `131 ms`, `1.2 s`, `2 min 3 s`, `1 h 5 min`: durations for people.
pub fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// The report as Markdown, from the embedded template (strict: a missing field is an error).
pub fn markdown(incident: &Incident) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("duration", |ms: u64| human_duration(ms));
    // Table cells: a pipe or a line break would end the cell early.
    env.add_filter("cell", |s: String| s.replace('|', "\\|").replace('\n', " "));
    // `12:00:03.123`: the time of day of an RFC 3339 timestamp (the date is in the header).
    env.add_filter("clock", |s: String| {
        s.split_once('T')
            .map(|(_, t)| t.trim_end_matches('Z').chars().take(12).collect::<String>())
            .unwrap_or(s)
    });
    env.add_template("report.md", TEMPLATE)?;
    let mut text = env
        .get_template("report.md")?
        .render(minijinja::value::Value::from(minijinja::value::Serde(
            incident,
        )))?;
    // The template's last newline is dropped by the engine; a file ends with one.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(ts: &str, command: &str, event: &str, data: Value) -> Event {
        run_ev("r", ts, command, event, data)
    }

    fn run_ev(run: &str, ts: &str, command: &str, event: &str, data: Value) -> Event {
        Event {
            ts: format!("2025-10-20T07:{ts}Z"),
            run: run.to_owned(),
            command: command.to_owned(),
            event: event.to_owned(),
            data,
        }
    }

    fn verdict(ts: &str, v: &str, action: &str) -> Event {
        ev(
            ts,
            "diagnose",
            "verdict",
            json!({"verdict": v, "action": action, "summary": "s"}),
        )
    }

    fn incident() -> Vec<Event> {
        vec![
            verdict("00:00", "dns_target_failure", "deploy-proxy"),
            verdict("01:00", "healthy", "none"),
            verdict("10:00", "dns_target_failure", "deploy-proxy"),
            ev(
                "11:00",
                "deploy-proxy",
                "started",
                json!({"host": "api.example.com", "dry_run": false}),
            ),
            ev(
                "11:20",
                "deploy-proxy",
                "step.begin",
                json!({"call": "PUT /scripts/x", "description": "upload"}),
            ),
            ev(
                "11:30",
                "deploy-proxy",
                "step.done",
                json!({"call": "PUT /scripts/x", "outcome": "created"}),
            ),
            ev(
                "12:00",
                "deploy-proxy",
                "finished",
                json!({"applied": 2, "verified": true}),
            ),
            verdict("40:00", "proxy_active", "rollback"),
            ev(
                "41:00",
                "rollback",
                "finished",
                json!({"applied": 2, "verified": true}),
            ),
            verdict("42:00", "healthy", "none"),
        ]
    }

    #[track_caller]
    fn check(events: &[Event], milestones: &[&str], ttm_ms: Option<u64>, in_window: usize) {
        let r = build(events);
        let names: Vec<&str> = r.milestones.iter().map(|m| m.name).collect();
        assert_eq!(
            (
                names.as_slice(),
                r.time_to_mitigation_ms,
                r.events_in_incident
            ),
            (milestones, ttm_ms, in_window)
        );
    }

    #[test]
    fn milestones_of_the_latest_incident() {
        let all = [
            "detected",
            "mitigation_started",
            "mitigated",
            "platform_recovered",
            "rolled_back",
            "healthy_again",
        ];
        let events = incident();
        check(&events, &all, Some(120_000), 8);
        check(&events[..7], &all[..3], Some(120_000), 5);
        check(&events[..3], &["detected"], None, 1);
        check(&events[..2], &["detected", "healthy_again"], None, 2);
        check(&[], &[], None, 0);
        // A drill's own verification outranks the deploy's marker check.
        let mut drill = events.clone();
        drill.insert(
            6,
            ev(
                "13:00",
                "drill",
                "verified",
                json!({"ok": true, "checks": []}),
            ),
        );
        check(&drill, &all, Some(180_000), 9);
    }

    /// A dry run and a declined deploy before the one that applied: the milestone is the
    /// applying run; each reads as what it was.
    #[test]
    fn declined_dry_and_failed_runs_read_as_such() {
        let mut events = vec![
            verdict("10:00", "dns_target_failure", "deploy-proxy"),
            run_ev(
                "dry",
                "10:10",
                "deploy-proxy",
                "started",
                json!({"dry_run": true}),
            ),
            run_ev(
                "dry",
                "10:11",
                "deploy-proxy",
                "finished",
                json!({"dry_run": true}),
            ),
            run_ev(
                "no",
                "10:20",
                "deploy-proxy",
                "started",
                json!({"dry_run": false}),
            ),
            run_ev("no", "10:21", "deploy-proxy", "declined", json!({})),
            // Stopped on an error after it started: no closing event.
            run_ev(
                "err",
                "10:30",
                "deploy-proxy",
                "started",
                json!({"dry_run": false}),
            ),
            run_ev("err", "10:31", "deploy-proxy", "planned", json!({})),
        ];
        events.extend(incident()[3..].iter().cloned());
        let r = build(&events);
        let started = r
            .milestones
            .iter()
            .find(|m| m.name == "mitigation_started")
            .unwrap();
        assert_eq!(started.at, "2025-10-20T07:11:00Z");
        let lines: Vec<&str> = r.timeline.iter().map(|t| t.text.as_str()).collect();
        for want in [
            "deploy-proxy --dry-run started",
            "deploy-proxy dry run: planned only, nothing changed",
            "declined at the prompt",
            "deploy-proxy FAILED: it stopped before finishing (run err;",
        ] {
            assert!(
                lines.iter().any(|l| l.starts_with(want)),
                "{want}: {lines:#?}"
            );
        }
        // The failure sits where the run stopped, before the next deploy.
        let failed = lines
            .iter()
            .position(|l| l.contains("FAILED: it stopped"))
            .unwrap();
        let next = lines
            .iter()
            .rposition(|l| *l == "deploy-proxy started")
            .unwrap();
        assert!(failed < next, "{lines:#?}");

        let mut unverified = incident();
        unverified[6].data = json!({"applied": 2, "verified": false});
        let r = build(&unverified);
        assert!(
            r.timeline.iter().any(|t| t.text.contains(
                "deploy-proxy FAILED: 2 change(s) applied, but verification through the public URL failed"
            )),
            "{:#?}",
            r.timeline
        );
        assert!(!r.milestones.iter().any(|m| m.name == "mitigated"));
    }

    #[track_caller]
    fn check_duration(ms: u64, want: &str) {
        assert_eq!(human_duration(ms), want);
    }

    #[test]
    fn durations_for_people() {
        check_duration(0, "0 ms");
        check_duration(999, "999 ms");
        check_duration(1000, "1.0 s");
        check_duration(59_949, "59.9 s");
        check_duration(83 * 60_000, "1 h 23 min");
        check_duration(125_000, "2 min 5 s");
    }

    #[test]
    fn markdown_renders_strictly() {
        let md = markdown(&build(&incident())).unwrap();
        assert!(md.contains("api.example.com"), "{md}");
        assert!(md.contains("2.0 min") || md.contains("2 min 0 s"), "{md}");
        assert!(md.contains("| 07:11:30"), "{md}");
        let empty = markdown(&build(&[])).unwrap();
        assert!(empty.contains("No incident"), "{empty}");
    }
}
