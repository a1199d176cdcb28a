//! PURE: the rollback plan from the state our script recorded and what Cloudflare has now.

use crate::cloudflare::types::{DnsRecord, Route};
use crate::plan::{Plan, Step};
use crate::recorded::RollbackState;

/// Everything a rollback plan depends on, gathered by the command.
#[derive(Debug, Clone)]
pub struct RollbackInput {
    pub account_id: String,
    pub script_name: String,
    /// Whether a script of our name exists.
    pub script_exists: bool,
    /// The state it carries (None when there is no script, or it carries none).
    pub state: Option<RollbackState>,
    /// The zone's routes: of the recorded zone, else of the zone that holds the host (where a
    /// route may still name our script after the script itself was deleted).
    pub routes: Vec<Route>,
    /// The zone `routes` come from, when there is no recorded state to name it.
    pub zone_id: Option<String>,
    /// The recorded records as they are now (missing ones were deleted by someone).
    pub records: Vec<DnsRecord>,
}

/// Deletes our routes, gives displaced routes back, restores `proxied`, deletes the script last
/// (its state is what lets a partial rollback be re-run).
pub fn plan(input: &RollbackInput) -> Plan {
    let mut plan = Plan::default();
    let ours = |zone_id: &str| -> Vec<Step> {
        input
            .routes
            .iter()
            .filter(|r| r.script.as_deref() == Some(input.script_name.as_str()))
            .map(|r| Step::DeleteRoute {
                zone_id: zone_id.to_owned(),
                route_id: r.id.clone(),
                pattern: r.pattern.clone(),
                script: r.script.clone(),
            })
            .collect()
    };
    let delete_script = || Step::DeleteScript {
        account_id: input.account_id.clone(),
        name: input.script_name.clone(),
        expect: input.state.clone(),
    };
    let Some(state) = &input.state else {
        // Without the state, what is left is found by name: a route that still names our
        // script (the script was deleted, by a rollback that raced a deploy) is ours to remove.
        // The record's original `proxied` went with the script's state, so DNS stays as it is.
        let orphans = input.zone_id.as_deref().map(ours).unwrap_or_default();
        if !orphans.is_empty() && !input.script_exists {
            plan.warnings.push(format!(
                "route(s) name script {} that no longer exists (requests there fail): removing \
                 them; the DNS record's original proxied value was recorded in the script and \
                 is lost, so the record stays as it is",
                input.script_name
            ));
        }
        plan.push_phase(orphans);
        if input.script_exists {
            plan.push_phase(vec![delete_script()]);
        } else if plan.is_empty() {
            plan.unchanged
                .push(format!("no script {} is deployed", input.script_name));
        }
        return plan;
    };

    // Every route that points at our script goes, whatever its pattern: a script cannot be
    // deleted cleanly while routes still name it.
    let mut first = ours(&state.zone_id);
    for rec in &state.dns_records {
        match input.records.iter().find(|r| r.id == rec.id) {
            Some(live) if live.proxied != rec.proxied_before => first.push(Step::SetProxied {
                zone_id: state.zone_id.clone(),
                record: live.clone(),
                proxied: rec.proxied_before,
            }),
            Some(live) => plan.unchanged.push(format!(
                "DNS record {} {} is {}",
                live.record_type,
                live.name,
                if live.proxied { "proxied" } else { "DNS only" }
            )),
            None => plan.unchanged.push(format!(
                "DNS record {} is gone; nothing to restore",
                rec.name
            )),
        }
    }
    plan.push_phase(first);

    let give_back: Vec<Step> = state
        .displaced_routes
        .iter()
        .filter(|d| {
            !input
                .routes
                .iter()
                .any(|r| r.pattern == d.pattern && r.script != Some(input.script_name.clone()))
        })
        .map(|d| Step::CreateRoute {
            zone_id: state.zone_id.clone(),
            pattern: d.pattern.clone(),
            // A route that had no script comes back without one.
            script: d.script.clone().filter(|s| !s.is_empty()),
        })
        .collect();
    plan.push_phase(give_back);

    if input.script_exists {
        plan.push_phase(vec![delete_script()]);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorded::{RecordedRecord, RecordedRoute};

    fn state(proxied_before: bool, displaced: bool) -> RollbackState {
        RollbackState {
            version: 1,
            host: "api.example.com".into(),
            zone_id: "z1".into(),
            zone_name: "example.com".into(),
            routes: vec![],
            dns_records: vec![RecordedRecord {
                id: "r1".into(),
                name: "api.example.com".into(),
                record_type: "CNAME".into(),
                proxied_before,
            }],
            displaced_routes: if displaced {
                vec![RecordedRoute {
                    id: Some("old".into()),
                    pattern: "api.example.com/*".into(),
                    script: Some("theirs".into()),
                }]
            } else {
                vec![]
            },
            created_at: "t".into(),
            tool_version: "0.1.0".into(),
            script_sha256: "x".into(),
            mode: crate::worker::Mode::Emergency,
        }
    }

    fn input(
        state: Option<RollbackState>,
        ours: bool,
        proxied: bool,
        exists: bool,
    ) -> RollbackInput {
        RollbackInput {
            account_id: "a1".into(),
            script_name: "failover-api".into(),
            script_exists: exists,
            state,
            routes: if ours {
                vec![Route {
                    id: "rt".into(),
                    pattern: "api.example.com/*".into(),
                    script: Some("failover-api".into()),
                }]
            } else {
                vec![]
            },
            zone_id: Some("z1".into()),
            records: vec![DnsRecord {
                id: "r1".into(),
                name: "api.example.com".into(),
                record_type: "CNAME".into(),
                content: "t".into(),
                proxied,
                proxiable: true,
                ttl: 1,
            }],
        }
    }

    #[track_caller]
    fn check(input: RollbackInput, want: &[&[&str]]) {
        let p = plan(&input);
        let got: Vec<Vec<&str>> = p
            .phases
            .iter()
            .map(|ph| {
                ph.iter()
                    .map(|s| match s {
                        Step::DeleteRoute { .. } => "route-",
                        Step::CreateRoute { .. } => "route+",
                        Step::SetProxied { proxied: false, .. } => "unproxy",
                        Step::SetProxied { .. } => "proxy",
                        Step::DeleteScript { .. } => "script-",
                        Step::UploadScript { .. } => "upload",
                    })
                    .collect()
            })
            .collect();
        assert_eq!(got, want, "{}", p.render());
    }

    #[test]
    fn plans() {
        check(
            input(Some(state(false, false)), true, true, true),
            &[&["route-", "unproxy"], &["script-"]],
        );
        check(
            input(Some(state(true, false)), true, true, true),
            &[&["route-"], &["script-"]],
        );
        check(
            input(Some(state(true, true)), true, true, true),
            &[&["route-"], &["route+"], &["script-"]],
        );
        // Half done before: the route is gone, the record restored; the script remains.
        check(
            input(Some(state(false, false)), false, false, true),
            &[&["script-"]],
        );
        // All done.
        check(input(None, false, false, false), &[]);
        // A script without state (uploaded by hand under our name): only the script goes.
        check(input(None, false, true, true), &[&["script-"]]);
        // The script was deleted under a route that still names it: the route goes, DNS stays.
        let orphan = input(None, true, true, false);
        check(orphan.clone(), &[&["route-"]]);
        assert!(plan(&orphan).warnings[0].contains("no longer exists"));
    }
}
