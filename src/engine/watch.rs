//! The watch loop: diagnose every interval (each cycle bounded by the deadline), decide with the
//! pure state machine (`crate::watch`), and for each change of verdict and each change made:
//! hand the event to the caller, journal it, notify, count it in the metrics. With `--auto` it
//! deploys and rolls back through the same operations as the commands, consenting for the user.
//! A stop request ends a cycle's diagnosis at once, but never a change in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::exit::Exit;
use crate::metrics::Metrics;
use crate::notify::{self, Dispatch, Notifier, Sent};
use crate::runbook::Runbook;
use crate::state::{now_rfc3339, Journal};
use crate::text::{excerpt, sanitize};
use crate::ui::Printer;
use crate::watch::{self, Act, Decision, Event, Outcome, Policy, Seen, State};

/// How long queued notifications may still take once the watch stops.
const NOTIFY_GRACE: Duration = Duration::from_secs(15);

/// How the cycles are paced.
pub enum Pace {
    /// One cycle every interval, counted from the start of the one before (a cycle that takes
    /// longer is followed at once by the next).
    Every(Duration),
    /// One cycle per message, the first included; the watch answers each with the cycle's
    /// number once it is over (its change included), and ends when the sender is dropped. For
    /// callers that step the watch themselves, one cycle at a time.
    Steps(mpsc::Receiver<oneshot::Sender<u64>>),
}

/// What the watch does besides watching.
pub struct Options {
    pub policy: Policy,
    /// One cycle, then stop.
    pub once: bool,
    pub notifiers: Vec<Notifier>,
    pub metrics: Option<Arc<Metrics>>,
}

/// How the watch ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub cycles: u64,
    /// The verdict of the last cycle that ran.
    pub verdict: Option<String>,
    /// A stop request ended it.
    pub stopped: bool,
    /// The last cycle's diagnosis, when one ran (what `--once` reports to CI).
    pub last: Option<Last>,
}

/// A cycle's diagnosis, as the documents take it.
#[derive(Debug, Clone)]
pub struct Last {
    pub diagnosis: crate::diagnose::Diagnosis,
    pub started_at: String,
    pub elapsed_ms: u64,
}

impl Finished {
    /// `--once`: 0 when healthy, 3 otherwise.
    pub fn exit(&self) -> Exit {
        if self.verdict.as_deref() == Some("healthy") {
            Exit::Success
        } else {
            Exit::Incident
        }
    }
}

/// Runs the watch until `stop` is cancelled (or the steps end, or after one cycle with
/// `once`). `sink` receives every event as it happens. Errors only when the journal cannot be
/// written: a failed check is data, and a failed change is an event.
#[allow(clippy::too_many_arguments)] // Reason: each is a separate concern the caller decides.
pub async fn run(
    printer: &Printer,
    settings: &Settings,
    rb: &Runbook,
    journal: &Journal,
    opts: Options,
    mut pace: Pace,
    stop: CancellationToken,
    mut sink: impl FnMut(&Event),
) -> Result<Finished> {
    // The operations ask nothing (--auto is the consent) and draw no progress; their warnings
    // still reach stderr.
    let quiet = Printer {
        json: true,
        yes: true,
        interactive: false,
        ..printer.clone()
    };
    let interval = match &pace {
        Pace::Every(d) => Some(*d),
        Pace::Steps(_) => None,
    };
    journal.append(
        "started",
        json!({
            "public_url": settings.service.public_url.as_str(),
            "interval_ms": interval.map(|d| d.as_millis() as u64),
            "auto": opts.policy.auto,
            "deploy_after": opts.policy.deploy_after,
            "rollback_after": opts.policy.rollback_after,
            "notifiers": opts.notifiers.iter().map(|n| n.name.clone()).collect::<Vec<_>>(),
            "runbook": rb.id,
        }),
    )?;
    let service = notify::Service {
        name: settings.service.name.clone(),
        host: settings.service.public_host().to_owned(),
    };
    let dispatch = Dispatch::start(
        opts.notifiers,
        service,
        report_sends(printer.clone(), journal.clone(), opts.metrics.clone()),
    );
    let metrics = opts.metrics;
    let mut state = State::default();
    let mut stopped = false;
    let mut last_start: Option<Instant> = None;
    let mut last: Option<Last> = None;

    loop {
        let mut reply = None;
        let turn = async {
            match (&mut pace, last_start) {
                (Pace::Every(_), None) => true,
                (Pace::Every(d), Some(previous)) => {
                    tokio::time::sleep_until((previous + *d).into()).await;
                    true
                }
                (Pace::Steps(rx), _) => match rx.recv().await {
                    Some(tx) => {
                        reply = Some(tx);
                        true
                    }
                    None => false,
                },
            }
        };
        let go = tokio::select! {
            // A stop asked before the first cycle still wins.
            biased;
            _ = stop.cancelled() => { stopped = true; false }
            go = turn => go,
        };
        if !go {
            break;
        }
        let started = Instant::now();
        last_start = Some(started);
        // A stop ends the diagnosis at once: nothing has changed yet.
        let done = tokio::select! {
            done = super::diagnose::observe(&quiet, settings, rb, started) => done,
            _ = stop.cancelled() => { stopped = true; break; }
        };
        let d = &done.diagnosis;
        let (next, decision) = watch::observe(
            &state,
            &opts.policy,
            Seen {
                verdict: d.verdict.as_str(),
                action: d.action.as_str(),
            },
        );
        state = next;
        if let Some(m) = &metrics {
            m.cycle(
                d.verdict.as_str(),
                &d.checks,
                started.elapsed().as_secs_f64(),
                unix_now(),
            );
        }
        if decision.changed {
            let event = Event {
                schema: watch::SCHEMA,
                at: now_rfc3339(),
                cycle: state.cycle,
                verdict: d.verdict.as_str().to_owned(),
                previous: decision.previous.clone(),
                action: d.action.as_str().to_owned(),
                summary: d.summary.clone(),
                acted: None,
                result: None,
            };
            // The checks are kept for the postmortem; the verdict is what the report reads.
            let mut extra = serde_json::Map::new();
            extra.insert("cycle".into(), json!(state.cycle));
            extra.insert("previous".into(), json!(decision.previous));
            super::diagnose::record(journal, d, done.elapsed_ms, extra)?;
            sink(&event);
            if decision.notify {
                dispatch.send(&event);
            }
        }
        if let Some(act) = decision.act {
            // A change in flight is never raced against the stop request: it completes, is
            // journaled, and only then does the watch stop.
            let (outcome, summary) = change(&quiet, settings, journal, act).await;
            state = watch::acted(&state, act, outcome);
            if let Some(m) = &metrics {
                m.action(act.as_str(), outcome.as_str());
            }
            let event = Event {
                schema: watch::SCHEMA,
                at: now_rfc3339(),
                cycle: state.cycle,
                verdict: d.verdict.as_str().to_owned(),
                previous: decision_previous(&decision, d.verdict.as_str()),
                action: d.action.as_str().to_owned(),
                summary,
                acted: Some(act),
                result: Some(outcome),
            };
            journal.append(
                "acted",
                json!({
                    "acted": act,
                    "result": outcome,
                    "summary": event.summary,
                    "cycle": state.cycle,
                }),
            )?;
            sink(&event);
            dispatch.send(&event);
        }
        if let Some(tx) = reply {
            let _ = tx.send(state.cycle);
        }
        if opts.once {
            last = Some(Last {
                diagnosis: done.diagnosis,
                started_at: done.started_at,
                elapsed_ms: done.elapsed_ms,
            });
            break;
        }
    }
    dispatch.finish(NOTIFY_GRACE).await;
    journal.append(
        "finished",
        json!({"cycles": state.cycle, "verdict": state.verdict, "stopped": stopped}),
    )?;
    Ok(Finished {
        cycles: state.cycle,
        verdict: state.verdict,
        stopped,
        last,
    })
}

/// The verdict before this cycle's, for an action's event: the cycle's own previous when it
/// changed, else the verdict itself (it held).
fn decision_previous(decision: &Decision, verdict: &str) -> Option<String> {
    if decision.changed {
        decision.previous.clone()
    } else {
        Some(verdict.to_owned())
    }
}

/// Deploys or rolls back with the commands' own operations, journaled as those commands (so
/// `failover report` finds them), and says how it went in one line.
async fn change(
    quiet: &Printer,
    settings: &Settings,
    journal: &Journal,
    act: Act,
) -> (Outcome, String) {
    let journal = journal.for_command(act.as_str());
    let result = match act {
        Act::DeployProxy => {
            let opts = super::deploy::Options::default();
            super::deploy::run(quiet, settings, &journal, &opts)
                .await
                .map(|(doc, exit)| {
                    let what = format!("{} in front of {}", doc.script, doc.host);
                    summarize(exit, what, doc.applied.len(), &doc.verification)
                })
        }
        Act::Rollback => {
            let opts = super::rollback::Options::default();
            super::rollback::run(quiet, settings, &journal, &opts)
                .await
                .map(|(doc, exit)| {
                    let what = format!("{} removed from {}", doc.script, doc.host);
                    summarize(exit, what, doc.applied.len(), &doc.verification)
                })
        }
    };
    match result {
        Ok((Exit::Success, true, summary)) => (Outcome::Ok, summary),
        Ok((_, _, summary)) => (Outcome::Unverified, summary),
        // The chain says why (refused, partly applied, the API); it has no secret in it.
        Err(e) => (Outcome::Failed, excerpt(&sanitize(&format!("{e:#}")), 500)),
    }
}

/// A change's exit, whether it was verified, and its one-line summary.
fn summarize(
    exit: Exit,
    what: String,
    applied: usize,
    verification: &crate::report::deployment::Verification,
) -> (Exit, bool, String) {
    let verified = verification.verified == Some(true);
    let how = if verified {
        "verified through the public URL"
    } else {
        "NOT verified through the public URL"
    };
    (
        exit,
        verified,
        format!("{what}: {applied} change(s) applied, {how}"),
    )
}

/// What happens to each notification's outcome: a failure is a warning on stderr and a journal
/// line; both are counted.
fn report_sends(
    printer: Printer,
    journal: Journal,
    metrics: Option<Arc<Metrics>>,
) -> notify::Report {
    Arc::new(move |sent: Sent| {
        if let Some(m) = &metrics {
            m.notified(&sent.notifier, sent.error.is_none());
        }
        if let Some(error) = &sent.error {
            let message = format!(
                "{} failed after {} attempt(s): {}",
                sent.notifier, sent.attempts, error
            );
            printer.warn(&message);
            let _ = journal.append(
                "notify.failed",
                json!({"notifier": sent.notifier, "error": error, "attempts": sent.attempts}),
            );
        }
    })
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
