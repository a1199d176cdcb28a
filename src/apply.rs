//! The only code that turns a plan step into an API call. Every step is journaled before it
//! is sent and after it returns, so an interrupted run leaves a record and re-running converges.

use futures::future::join_all;
use serde::Serialize;
use serde_json::json;

use crate::cloudflare::{code, ApiError, Client, ScriptDeletion};
use crate::deploy::{merge_recorded, metadata};
use crate::exit::Fatal;
use crate::plan::{Plan, Step};
use crate::recorded::{RecordedRoute, RollbackState};
use crate::state::Journal;

/// A step that was carried out, and what it produced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Applied {
    pub action: String,
    pub call: String,
    pub description: String,
    /// `done`, or `already` when Cloudflare showed it had been done before (a lost answer).
    pub outcome: &'static str,
    /// The id of what was created (a route), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The route a `create_route` step made, for the state recorded after it.
    #[serde(skip)]
    pub route: Option<RecordedRoute>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The journal could not record the step, so it was not sent: re-runs rely on the record.
    #[error("cannot journal the step, so it was not sent: {0}")]
    Journal(String),
    /// Another run changed the script since this one read it (a concurrent deploy-proxy): it
    /// is left as that run made it.
    #[error("script {name} was uploaded again by another run since this one read it (a deploy-proxy from elsewhere?); left in place: check `failover status`, then run `failover rollback` again to remove it")]
    ChangedMeanwhile { name: String },
    /// A script of our name appeared that failover did not upload: never overwritten.
    #[error("a script named {name} appeared that failover did not deploy (it carries no failover state); not overwritten: rename or delete it, then run deploy-proxy again")]
    ForeignScript { name: String },
}

/// A plan that stopped part way: what was done, and the step that failed.
#[derive(Debug, thiserror::Error)]
#[error("{failed}")]
pub struct ApplyError {
    pub done: Vec<Applied>,
    pub failed: String,
    #[source]
    pub source: StepError,
}

impl ApplyError {
    /// Nothing changed, because the token lacks what the step needs: a setup error (exit 2).
    fn refused_token_before_any_change(&self) -> bool {
        self.done.is_empty()
            && matches!(
                self.source,
                StepError::Api(ApiError::Permission { .. } | ApiError::Auth { .. })
            )
    }
}

/// The error a command ends with when `apply` stopped part way. When the token was refused
/// before anything changed, it is a setup error naming the missing permission (exit 2);
/// otherwise exit 5, saying what was done and how to converge. Journaled either way.
pub fn failure(journal: &Journal, e: ApplyError, rerun: &str) -> anyhow::Error {
    if e.refused_token_before_any_change() {
        let _ = journal.append(
            "refused",
            json!({"reason": format!("{}: {}; nothing changed", e.failed, e.source)}),
        );
        // The Fatal is the root of the chain (so the exit code is found); the cause, which
        // names the permission, is in its text.
        return Fatal::usage(format!(
            "{}: {}; nothing changed, fix the token and run `{rerun}` again",
            e.failed, e.source
        ))
        .into();
    }
    let done: Vec<String> = e.done.iter().map(|a| a.description.clone()).collect();
    let _ = journal.append(
        "partial",
        json!({"done": done, "failed": e.failed, "error": e.source.to_string()}),
    );
    let msg = format!(
        "partially applied ({} step(s) done{}); the journal {} records them; run `{rerun}` again, or `failover rollback`, to converge",
        done.len(),
        if done.is_empty() {
            String::new()
        } else {
            format!(": {}", done.join("; "))
        },
        journal.path().display()
    );
    Fatal::partial(format!("{}: {}; {msg}", e.failed, e.source)).into()
}

/// Runs the phases in order, the steps of a phase concurrently. Stops after the first phase
/// with a failure (its other steps still finish and are journaled).
pub async fn apply(
    client: &Client,
    journal: &Journal,
    plan: &Plan,
) -> Result<Vec<Applied>, ApplyError> {
    let mut done: Vec<Applied> = Vec::new();
    for phase in &plan.phases {
        let created: Vec<RecordedRoute> = done.iter().filter_map(|a| a.route.clone()).collect();
        let results = join_all(phase.iter().map(|s| run_step(client, journal, s, &created))).await;
        let mut first_err = None;
        for (step, result) in phase.iter().zip(results) {
            match result {
                Ok(applied) => done.push(applied),
                Err(e) if first_err.is_none() => first_err = Some((step.describe(), e)),
                Err(_) => {}
            }
        }
        if let Some((failed, source)) = first_err {
            return Err(ApplyError {
                done,
                failed: format!("could not {failed}"),
                source,
            });
        }
    }
    Ok(done)
}

fn action(step: &Step) -> &'static str {
    match step {
        Step::UploadScript { .. } => "upload_script",
        Step::SetProxied { .. } => "set_proxied",
        Step::CreateRoute { .. } => "create_route",
        Step::DeleteRoute { .. } => "delete_route",
        Step::DeleteScript { .. } => "delete_script",
    }
}

async fn run_step(
    client: &Client,
    journal: &Journal,
    step: &Step,
    created: &[RecordedRoute],
) -> Result<Applied, StepError> {
    let record =
        json!({"action": action(step), "call": step.call(), "description": step.describe()});
    // A journal that cannot be written must stop the change: it is the record re-runs rely on.
    journal
        .append("step.begin", record.clone())
        .map_err(|e| StepError::Journal(format!("{e:#}")))?;
    // Dropped before the call returns (Ctrl-C ends the run by dropping its future), the guard
    // journals that the outcome is unknown, so the journal never ends on a bare step.begin.
    let guard = Interrupted {
        journal,
        step: Some(record),
    };
    let result = send(client, step, created).await;
    guard.defuse();
    let (event, data) = match &result {
        Ok((outcome, id)) => (
            "step.done",
            json!({"action": action(step), "call": step.call(), "outcome": outcome, "id": id}),
        ),
        Err(e) => (
            "step.failed",
            json!({"action": action(step), "call": step.call(), "error": e.to_string()}),
        ),
    };
    // Best effort after the call: the change happened (or not) whatever the disk says.
    let _ = journal.append(event, data);
    let (outcome, id) = result?;
    let route = match step {
        Step::CreateRoute {
            pattern, script, ..
        } => Some(RecordedRoute {
            id: id.clone(),
            pattern: pattern.clone(),
            script: script.clone(),
        }),
        _ => None,
    };
    Ok(Applied {
        route,
        action: action(step).to_owned(),
        call: step.call(),
        description: step.describe(),
        outcome,
        id,
    })
}

/// Journals `step.interrupted` unless defused: see `run_step`.
struct Interrupted<'a> {
    journal: &'a Journal,
    step: Option<serde_json::Value>,
}

impl Interrupted<'_> {
    fn defuse(mut self) {
        self.step = None;
    }
}

impl Drop for Interrupted<'_> {
    fn drop(&mut self) {
        if let Some(mut step) = self.step.take() {
            step["outcome"] = json!(
                "unknown: interrupted before the answer came; the call may or may not have \
                 taken effect, so run the same command again, or `failover rollback`, to converge"
            );
            let _ = self.journal.append("step.interrupted", step);
        }
    }
}

async fn send(
    client: &Client,
    step: &Step,
    created: &[RecordedRoute],
) -> Result<(&'static str, Option<String>), StepError> {
    match step {
        Step::UploadScript {
            account_id,
            name,
            module_name,
            module,
            compatibility_date,
            state,
            with_created_routes,
        } => {
            // Re-read just before the upload: another run may have uploaded since the plan
            // was made, and what it recorded first wins (see `merge_recorded`).
            let mut state = match client.script_settings(account_id, name).await? {
                None => state.clone(),
                Some(live) => match RollbackState::from_settings(&live) {
                    Some(live) => merge_recorded(state, &live),
                    None => return Err(StepError::ForeignScript { name: name.clone() }),
                },
            };
            if *with_created_routes {
                for r in created {
                    state.routes.retain(|old| old.pattern != r.pattern);
                    state.routes.push(r.clone());
                }
            }
            let meta = metadata(&state, compatibility_date);
            client
                .put_script(account_id, name, module_name, module, &meta)
                .await?;
            Ok(("done", None))
        }
        Step::SetProxied {
            zone_id,
            record,
            proxied,
        } => {
            client.set_proxied(zone_id, record, *proxied).await?;
            Ok(("done", None))
        }
        Step::CreateRoute {
            zone_id,
            pattern,
            script,
        } => match client
            .create_route(zone_id, pattern, script.as_deref())
            .await
        {
            Ok(route) => Ok(("done", Some(route.id))),
            // A retry after a lost answer finds the route it created: ours, so done.
            Err(e) if e.has_code(code::DUPLICATE_ROUTE) => {
                let routes = client.routes(zone_id).await?;
                match routes
                    .into_iter()
                    .find(|r| &r.pattern == pattern && r.script == *script)
                {
                    Some(r) => Ok(("already", Some(r.id))),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        },
        Step::DeleteRoute {
            zone_id, route_id, ..
        } => {
            let deleted = client.delete_route(zone_id, route_id).await?;
            Ok((if deleted { "done" } else { "already" }, None))
        }
        Step::DeleteScript {
            account_id,
            name,
            expect,
        } => {
            let unchanged = |live: &crate::cloudflare::ScriptSettings| {
                RollbackState::from_settings(live) == *expect
            };
            match client.delete_script_if(account_id, name, unchanged).await? {
                ScriptDeletion::Deleted => Ok(("done", None)),
                ScriptDeletion::AlreadyGone => Ok(("already", None)),
                ScriptDeletion::Changed => Err(StepError::ChangedMeanwhile { name: name.clone() }),
            }
        }
    }
}
