//! PURE: the deploy plan from (what we want, what Cloudflare has), and the rollback state the
//! script carries. No clock, no network: the caller passes both in.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cloudflare::types::{
    DnsRecord, Route, ScriptSettings, Zone, MANAGED_TAG, STATE_BINDING,
};
use crate::plan::{Plan, Step};
use crate::recorded::{RecordedRecord, RecordedRoute, RollbackState};
use crate::worker::Mode;

/// The file name (and so the part name and `main_module`) of the uploaded ES module.
pub const MODULE_NAME: &str = "worker.js";

/// The metadata part of the upload: module, compatibility date, bindings, tags.
pub fn metadata(state: &RollbackState, compatibility_date: &str) -> Value {
    json!({
        "main_module": MODULE_NAME,
        "compatibility_date": compatibility_date,
        "bindings": [
            {"type": "json", "name": STATE_BINDING, "json": state},
        ],
        "tags": [MANAGED_TAG, format!("failover-host-{}", state.host)],
    })
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Everything a deploy plan depends on, gathered by the command.
#[derive(Debug, Clone)]
pub struct DeployInput {
    pub account_id: String,
    pub host: String,
    pub script_name: String,
    pub module: String,
    pub compatibility_date: String,
    pub zone: Zone,
    /// The host's DNS records as Cloudflare has them.
    pub records: Vec<DnsRecord>,
    /// Every Worker route of the zone.
    pub routes: Vec<Route>,
    /// The settings of a live script of our name, if there is one.
    pub existing: Option<ScriptSettings>,
    /// The time to record as `created_at` when nothing is recorded yet.
    pub now: String,
    pub tool_version: String,
    pub force: bool,
    /// The mode the module was rendered in, recorded in the state.
    pub mode: Mode,
}

/// Why a deploy will not go ahead (exit 4 or 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("route {pattern} belongs to script {owner}, not to failover; rerun with --force to take it over (rollback gives it back)")]
    ForeignRoute { pattern: String, owner: String },
    #[error("a script named {name} exists and was not deployed by failover (no {MANAGED_TAG} state); rename or delete it first")]
    ForeignScript { name: String },
    #[error("{host} has no A, AAAA or CNAME record in zone {zone}: a Worker route only sees traffic for a proxied record; create the record first")]
    NoRecord { host: String, zone: String },
    #[error("DNS record {record_type} {name} cannot be proxied by Cloudflare (proxiable: false)")]
    NotProxiable { name: String, record_type: String },
}

/// The route pattern for a host.
pub fn route_pattern(host: &str) -> String {
    format!("{host}/*")
}

/// The deploy plan, and the steps that need the person's consent beyond the plan itself.
pub fn plan(input: &DeployInput) -> Result<Plan, Refusal> {
    let pattern = route_pattern(&input.host);
    let recorded = match &input.existing {
        Some(settings) => match RollbackState::from_settings(settings) {
            Some(state) => Some(state),
            None => {
                return Err(Refusal::ForeignScript {
                    name: input.script_name.clone(),
                })
            }
        },
        None => None,
    };

    let proxiable_types = ["A", "AAAA", "CNAME"];
    let records: Vec<&DnsRecord> = input
        .records
        .iter()
        .filter(|r| {
            r.name.eq_ignore_ascii_case(&input.host)
                && proxiable_types.contains(&r.record_type.as_str())
        })
        .collect();
    if records.is_empty() {
        return Err(Refusal::NoRecord {
            host: input.host.clone(),
            zone: input.zone.name.clone(),
        });
    }
    if let Some(r) = records.iter().find(|r| !r.proxied && !r.proxiable) {
        return Err(Refusal::NotProxiable {
            name: r.name.clone(),
            record_type: r.record_type.clone(),
        });
    }

    let mut plan = Plan {
        warnings: uncaught_traffic(input, &pattern),
        ..Plan::default()
    };

    // The original `proxied` of each record: what an earlier (perhaps partial) deploy recorded
    // wins over what is live now, since that run may already have switched it.
    let dns_records: Vec<RecordedRecord> = records
        .iter()
        .map(|r| RecordedRecord {
            id: r.id.clone(),
            name: r.name.clone(),
            record_type: r.record_type.clone(),
            proxied_before: recorded
                .as_ref()
                .and_then(|s| s.dns_records.iter().find(|d| d.id == r.id))
                .map_or(r.proxied, |d| d.proxied_before),
        })
        .collect();
    let mut first_changes = Vec::new();
    for r in &records {
        if r.proxied {
            plan.unchanged.push(format!(
                "DNS record {} {} is proxied",
                r.record_type, r.name
            ));
        } else {
            first_changes.push(Step::SetProxied {
                zone_id: input.zone.id.clone(),
                record: (*r).clone(),
                proxied: true,
            });
        }
    }

    let same_pattern: Vec<&Route> = input
        .routes
        .iter()
        .filter(|r| r.pattern == pattern)
        .collect();
    let ours: Vec<&Route> = same_pattern
        .iter()
        .copied()
        .filter(|r| r.script.as_deref() == Some(input.script_name.as_str()))
        .collect();
    let foreign: Vec<&Route> = same_pattern
        .iter()
        .copied()
        .filter(|r| r.script.as_deref() != Some(input.script_name.as_str()))
        .collect();
    let mut displaced = recorded
        .as_ref()
        .map(|s| s.displaced_routes.clone())
        .unwrap_or_default();
    if let Some(f) = foreign.first() {
        if !input.force {
            return Err(Refusal::ForeignRoute {
                pattern: pattern.clone(),
                owner: f.script.clone().unwrap_or_else(|| "(none)".to_owned()),
            });
        }
    }
    for f in &foreign {
        displaced.push(RecordedRoute {
            id: Some(f.id.clone()),
            pattern: f.pattern.clone(),
            script: f.script.clone(),
        });
    }
    let routes: Vec<RecordedRoute> = ours
        .iter()
        .map(|r| RecordedRoute {
            id: Some(r.id.clone()),
            pattern: r.pattern.clone(),
            script: r.script.clone(),
        })
        .collect();

    let sha = sha256_hex(&input.module);
    let state = RollbackState {
        version: 1,
        host: input.host.clone(),
        zone_id: input.zone.id.clone(),
        zone_name: input.zone.name.clone(),
        routes,
        dns_records,
        displaced_routes: displaced,
        created_at: recorded
            .as_ref()
            .map_or_else(|| input.now.clone(), |s| s.created_at.clone()),
        tool_version: input.tool_version.clone(),
        script_sha256: sha.clone(),
        mode: input.mode,
    };
    let upload = |state: RollbackState, with_created_routes: bool| Step::UploadScript {
        account_id: input.account_id.clone(),
        name: input.script_name.clone(),
        module_name: MODULE_NAME.to_owned(),
        module: input.module.clone(),
        compatibility_date: input.compatibility_date.clone(),
        state,
        with_created_routes,
    };

    // Phase 1: the script, carrying the state, before anything it records is changed.
    let script_current = recorded.as_ref() == Some(&state)
        && input
            .existing
            .as_ref()
            .and_then(|s| s.compatibility_date.as_deref())
            .is_none_or(|d| d == input.compatibility_date);
    if script_current {
        plan.unchanged.push(format!(
            "script {} is deployed and current",
            input.script_name
        ));
    } else {
        plan.push_phase(vec![upload(state.clone(), false)]);
    }

    // Phase 2: proxy the record(s), clear a foreign route (with --force).
    for f in &foreign {
        first_changes.push(Step::DeleteRoute {
            zone_id: input.zone.id.clone(),
            route_id: f.id.clone(),
            pattern: f.pattern.clone(),
            script: f.script.clone(),
        });
    }
    let create = ours.is_empty().then(|| Step::CreateRoute {
        zone_id: input.zone.id.clone(),
        pattern: pattern.clone(),
        script: Some(input.script_name.clone()),
    });
    if let Some(route) = &ours.first() {
        plan.unchanged
            .push(format!("route {} -> {}", route.pattern, input.script_name));
    }
    match create {
        // The route does not depend on the DNS change, so they go together unless a foreign
        // route must be deleted first.
        Some(c) if foreign.is_empty() => {
            first_changes.push(c);
            plan.push_phase(first_changes);
        }
        Some(c) => {
            plan.push_phase(first_changes);
            plan.push_phase(vec![c]);
        }
        None => plan.push_phase(first_changes),
    }
    // Last: record the new route's id in the script's state.
    if ours.is_empty() {
        plan.push_phase(vec![upload(state, true)]);
    }
    Ok(plan)
}

/// What the route `<host>/*` will not catch, or catches from someone else: other routes on the
/// zone that match the host. Cloudflare sends a request to the most specific matching route, so
/// a longer path on the same host keeps its traffic, while a wildcard host loses this one.
fn uncaught_traffic(input: &DeployInput, ours: &str) -> Vec<String> {
    let host = input.host.to_ascii_lowercase();
    let mut warnings = Vec::new();
    for r in &input.routes {
        let owned_by_us = r.script.as_deref() == Some(input.script_name.as_str());
        if owned_by_us || r.pattern == ours {
            continue;
        }
        let (r_host, r_path) = r.pattern.split_once('/').unwrap_or((&r.pattern, ""));
        let r_host = r_host.to_ascii_lowercase();
        let wildcard = match r_host.strip_prefix('*') {
            Some(suffix) => host.ends_with(suffix),
            None => false,
        };
        if !(wildcard || r_host == host) {
            continue;
        }
        let owner = match &r.script {
            Some(s) => format!("script {}", crate::text::sanitize(s)),
            None => "no Worker".to_owned(),
        };
        let pattern = crate::text::sanitize(&r.pattern);
        let paths = crate::text::sanitize(r_path);
        warnings.push(match (wildcard, r_path == "*") {
            (false, _) => format!(
                "route {pattern} ({owner}) is more specific than {ours}: requests to /{paths} on \
                 {host} keep going to {owner}, not through the proxy"
            ),
            (true, true) => format!(
                "route {pattern} ({owner}) also matches {host}: the more specific {ours} takes \
                 {host}'s traffic from it while the proxy is up (rollback gives it back)"
            ),
            (true, false) => format!(
                "route {pattern} ({owner}) also matches /{paths} on {host}; Cloudflare sends a \
                 request to the most specific matching route, so some of those requests may \
                 keep going to {owner}, not through the proxy"
            ),
        });
    }
    warnings
}

/// The state to upload when the live script already carries one, read just before the upload:
/// what was recorded first wins. A deploy plans from a read that may predate another run's
/// upload, and may then have seen that run's own change (a record it switched to proxied) as
/// the original state. Every run uploads its state before changing DNS, so a run that saw such
/// a change finds, at upload time, the state that recorded the value before it.
pub fn merge_recorded(planned: &RollbackState, live: &RollbackState) -> RollbackState {
    let mut out = planned.clone();
    for rec in &mut out.dns_records {
        if let Some(first) = live.dns_records.iter().find(|l| l.id == rec.id) {
            rec.proxied_before = first.proxied_before;
        }
    }
    for l in &live.dns_records {
        if !out.dns_records.iter().any(|r| r.id == l.id) {
            out.dns_records.push(l.clone());
        }
    }
    for l in &live.displaced_routes {
        if !out
            .displaced_routes
            .iter()
            .any(|d| d.pattern == l.pattern && d.id == l.id)
        {
            out.displaced_routes.push(l.clone());
        }
    }
    for l in &live.routes {
        if !out.routes.iter().any(|r| r.pattern == l.pattern) {
            out.routes.push(l.clone());
        }
    }
    out.created_at = live.created_at.clone();
    out
}

/// The steps of `plan` that need explicit consent beyond "apply this plan".
pub fn consent_needed(plan: &Plan) -> Vec<String> {
    plan.steps()
        .filter_map(|s| match s {
            Step::SetProxied { .. } | Step::DeleteRoute { .. } => Some(s.describe()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        Zone {
            id: "z1".into(),
            name: "example.com".into(),
            status: Some("active".into()),
            plan: None,
            permissions: None,
            account: None,
        }
    }

    fn record(proxied: bool) -> DnsRecord {
        DnsRecord {
            id: "r1".into(),
            name: "api.example.com".into(),
            record_type: "CNAME".into(),
            content: "t.herokudns.com".into(),
            proxied,
            proxiable: true,
            ttl: 1,
        }
    }

    fn route(id: &str, script: &str) -> Route {
        Route {
            id: id.into(),
            pattern: "api.example.com/*".into(),
            script: Some(script.into()),
        }
    }

    fn input(proxied: bool, routes: Vec<Route>) -> DeployInput {
        DeployInput {
            account_id: "a1".into(),
            host: "api.example.com".into(),
            script_name: "failover-api-example-com".into(),
            module: "export default {}".into(),
            compatibility_date: "2025-09-01".into(),
            zone: zone(),
            records: vec![record(proxied)],
            routes,
            existing: None,
            now: "2026-01-01T00:00:00Z".into(),
            tool_version: "0.1.0".into(),
            force: false,
            mode: Mode::Emergency,
        }
    }

    fn actions(plan: &Plan) -> Vec<Vec<&'static str>> {
        plan.phases
            .iter()
            .map(|p| {
                p.iter()
                    .map(|s| match s {
                        Step::UploadScript {
                            with_created_routes: false,
                            ..
                        } => "upload",
                        Step::UploadScript { .. } => "record",
                        Step::SetProxied { .. } => "proxy",
                        Step::CreateRoute { .. } => "route+",
                        Step::DeleteRoute { .. } => "route-",
                        Step::DeleteScript { .. } => "script-",
                    })
                    .collect()
            })
            .collect()
    }

    /// What a live script looks like after `plan` ran to the end.
    fn settings_after(p: &Plan, route_id: &str) -> ScriptSettings {
        let mut state = p
            .steps()
            .find_map(|s| match s {
                Step::UploadScript { state, .. } => Some(state.clone()),
                _ => None,
            })
            .unwrap();
        state.routes = vec![RecordedRoute {
            id: Some(route_id.into()),
            pattern: "api.example.com/*".into(),
            script: Some("failover-api-example-com".into()),
        }];
        ScriptSettings {
            bindings: vec![json!({"type": "json", "name": STATE_BINDING, "json": state})],
            tags: None,
            compatibility_date: Some("2025-09-01".into()),
        }
    }

    #[track_caller]
    fn check(input: DeployInput, want: &[&[&str]]) {
        let p = plan(&input).expect("a plan");
        assert_eq!(actions(&p), want, "{}", p.render());
    }

    #[test]
    fn plans() {
        check(
            input(true, vec![]),
            &[&["upload"], &["route+"], &["record"]],
        );
        check(
            input(false, vec![]),
            &[&["upload"], &["proxy", "route+"], &["record"]],
        );
        let mut forced = input(true, vec![route("x", "someone-else")]);
        forced.force = true;
        check(
            forced,
            &[&["upload"], &["route-"], &["route+"], &["record"]],
        );
    }

    #[test]
    fn second_run_changes_nothing() {
        let first = plan(&input(false, vec![])).unwrap();
        let mut again = input(true, vec![route("r9", "failover-api-example-com")]);
        again.existing = Some(settings_after(&first, "r9"));
        again.now = "2026-02-02T00:00:00Z".into();
        let p = plan(&again).unwrap();
        assert!(p.is_empty(), "{}", p.render());
        // The original proxied value survives: the record was DNS-only before the first run.
        let state = RollbackState::from_settings(again.existing.as_ref().unwrap()).unwrap();
        assert!(!state.dns_records[0].proxied_before);
    }

    #[test]
    fn partial_run_resumes_with_original_dns_value() {
        let first = plan(&input(false, vec![])).unwrap();
        let mut again = input(true, vec![]);
        again.existing = Some(settings_after(&first, "gone"));
        let p = plan(&again).unwrap();
        let state = p
            .steps()
            .find_map(|s| match s {
                Step::UploadScript { state, .. } => Some(state.clone()),
                _ => None,
            })
            .unwrap();
        assert!(!state.dns_records[0].proxied_before);
        assert_eq!(state.created_at, "2026-01-01T00:00:00Z");
    }

    #[track_caller]
    fn check_warning(pattern: &str, script: Option<&str>, needle: Option<&str>) {
        let mut i = input(true, vec![]);
        i.routes.push(Route {
            id: "x".into(),
            pattern: pattern.into(),
            script: script.map(str::to_owned),
        });
        let p = plan(&i).unwrap();
        match needle {
            Some(n) => assert!(
                p.warnings.len() == 1 && p.warnings[0].contains(n),
                "{pattern}: {:?}",
                p.warnings
            ),
            None => assert!(p.warnings.is_empty(), "{pattern}: {:?}", p.warnings),
        }
    }

    #[test]
    fn warns_about_traffic_it_does_not_catch() {
        check_warning(
            "api.example.com/admin/*",
            Some("admin"),
            Some("requests to /admin/* on api.example.com keep going to script admin"),
        );
        check_warning(
            "api.example.com/static/*",
            None,
            Some("keep going to no Worker"),
        );
        check_warning(
            "*.example.com/*",
            Some("edge"),
            Some("takes api.example.com's traffic"),
        );
        check_warning("*example.com/v2/*", Some("edge"), Some("may keep going"));
        check_warning("www.example.com/*", Some("web"), None);
        check_warning("*.other.com/*", Some("web"), None);
    }

    #[test]
    fn the_first_recorded_proxied_value_wins() {
        let first = plan(&input(false, vec![])).unwrap();
        let live = RollbackState::from_settings(&settings_after(&first, "r1")).unwrap();
        // A second deploy that read the record after the first one proxied it.
        let second = plan(&input(true, vec![])).unwrap();
        let planned = second
            .steps()
            .find_map(|s| match s {
                Step::UploadScript { state, .. } => Some(state.clone()),
                _ => None,
            })
            .unwrap();
        assert!(planned.dns_records[0].proxied_before);
        let merged = merge_recorded(&planned, &live);
        assert!(!merged.dns_records[0].proxied_before);
        assert_eq!(merged.routes, live.routes);
    }

    #[test]
    fn refusals() {
        let e = plan(&input(true, vec![route("x", "someone-else")])).unwrap_err();
        assert!(matches!(e, Refusal::ForeignRoute { .. }), "{e}");
        let mut no_record = input(true, vec![]);
        no_record.records.clear();
        assert!(matches!(plan(&no_record), Err(Refusal::NoRecord { .. })));
        let mut foreign_script = input(true, vec![]);
        foreign_script.existing = Some(ScriptSettings::default());
        assert!(matches!(
            plan(&foreign_script),
            Err(Refusal::ForeignScript { .. })
        ));
    }
}
