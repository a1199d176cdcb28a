//! PURE: the steps a deploy or a rollback would take, in phases, printable for `--dry-run`.
//!
//! Steps in one phase are independent and run concurrently; a phase starts only when the one
//! before it succeeded, so a failure leaves a prefix of the plan applied and re-running converges.

use serde::Serialize;

use crate::cloudflare::types::DnsRecord;

/// One change to make in Cloudflare. `apply` is the only code that turns it into an API call.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// `PUT` the script with its metadata. When `with_created_routes`, the route ids created by
    /// earlier phases are added to the recorded state first (they are known only then).
    UploadScript {
        account_id: String,
        name: String,
        module_name: String,
        #[serde(skip)]
        module: String,
        compatibility_date: String,
        /// The rollback state the script will carry.
        state: crate::recorded::RollbackState,
        with_created_routes: bool,
    },
    /// `PATCH` the record's `proxied` flag.
    SetProxied {
        zone_id: String,
        record: DnsRecord,
        proxied: bool,
    },
    /// `POST` a route; without a script it disables Workers on its pattern (a route given back
    /// as it was).
    CreateRoute {
        zone_id: String,
        pattern: String,
        script: Option<String>,
    },
    /// `DELETE` a route.
    DeleteRoute {
        zone_id: String,
        route_id: String,
        pattern: String,
        script: Option<String>,
    },
    /// `DELETE` the script, unless it changed since the plan was made: `expect` is the state
    /// it carried then (`None`: it carried none), compared again before each attempt.
    DeleteScript {
        account_id: String,
        name: String,
        #[serde(skip)]
        expect: Option<crate::recorded::RollbackState>,
    },
}

impl Step {
    /// The API call, as a person reads it in a plan.
    pub fn call(&self) -> String {
        match self {
            Step::UploadScript {
                account_id, name, ..
            } => format!("PUT /accounts/{account_id}/workers/scripts/{name}"),
            Step::SetProxied {
                zone_id, record, ..
            } => format!("PATCH /zones/{zone_id}/dns_records/{}", record.id),
            Step::CreateRoute { zone_id, .. } => format!("POST /zones/{zone_id}/workers/routes"),
            Step::DeleteRoute {
                zone_id, route_id, ..
            } => format!("DELETE /zones/{zone_id}/workers/routes/{route_id}"),
            Step::DeleteScript {
                account_id, name, ..
            } => {
                format!("DELETE /accounts/{account_id}/workers/scripts/{name}")
            }
        }
    }

    /// What the step changes, in words.
    pub fn describe(&self) -> String {
        match self {
            Step::UploadScript {
                name,
                module,
                with_created_routes,
                ..
            } if *with_created_routes => format!(
                "record the new route ids in script {name}'s rollback state ({} bytes)",
                module.len()
            ),
            Step::UploadScript {
                name,
                module,
                state,
                ..
            } => format!(
                "upload Worker script {name} ({} mode, {} bytes, tagged {})",
                state.mode,
                module.len(),
                crate::cloudflare::types::MANAGED_TAG
            ),
            Step::SetProxied {
                record, proxied, ..
            } => format!(
                "switch DNS record {} {} {} to {}",
                record.record_type,
                record.name,
                record.content,
                if *proxied {
                    "proxied (orange cloud)"
                } else {
                    "DNS only (grey cloud)"
                }
            ),
            Step::CreateRoute {
                pattern, script, ..
            } => format!(
                "create route {pattern} -> {}",
                script.as_deref().unwrap_or("(no script)")
            ),
            Step::DeleteRoute {
                pattern, script, ..
            } => format!(
                "delete route {pattern} -> {}",
                script.as_deref().unwrap_or("(no script)")
            ),
            Step::DeleteScript { name, .. } => format!("delete Worker script {name}"),
        }
    }
}

/// A plan: phases of steps, plus what was found already as wanted.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Plan {
    pub phases: Vec<Vec<Step>>,
    /// Traffic the plan will not catch, or takes from someone: said before applying.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Things already in the wanted state (the diff's "unchanged" side).
    pub unchanged: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.phases.iter().all(Vec::is_empty)
    }

    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flatten()
    }

    /// Adds a phase unless it is empty.
    pub fn push_phase(&mut self, steps: Vec<Step>) {
        if !steps.is_empty() {
            self.phases.push(steps);
        }
    }

    /// The plan as lines: `+`/`~`/`-` for changes, `=` for what stays.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, phase) in self.phases.iter().enumerate() {
            for step in phase {
                let sign = match step {
                    Step::UploadScript { .. } | Step::CreateRoute { .. } => '+',
                    Step::SetProxied { .. } => '~',
                    Step::DeleteRoute { .. } | Step::DeleteScript { .. } => '-',
                };
                out.push_str(&format!(
                    "  {sign} [{}] {}\n        {}\n",
                    i + 1,
                    step.describe(),
                    step.call()
                ));
            }
        }
        for same in &self.unchanged {
            out.push_str(&format!("  = {same}\n"));
        }
        if self.is_empty() {
            out.push_str("  nothing to change\n");
        }
        out
    }
}
