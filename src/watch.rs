//! PURE: the watch's decisions. Given what it knew after the last cycle and this cycle's verdict,
//! it says whether the verdict changed, whom to tell, and which change to make: hysteresis both
//! ways (a streak of cycles before acting), one change at a time, never on `inconclusive` or
//! `origin_down`, and a failed change retried on a later cycle, each time waiting longer. Verdicts
//! and actions are matched by name, so verdicts added later fit without a change here.

use serde::Serialize;

/// The `failover.watch-event/v1` schema: one object per JSON line.
pub const SCHEMA: &str = "failover.watch-event/v1";

/// Verdicts the watch never acts on, whatever action they carry.
const NEVER_ACT_ON: [&str; 2] = ["inconclusive", "origin_down"];

/// The longest wait, in cycles, before a failed change is tried again.
const MAX_RETRY_WAIT: u64 = 16;

/// A change the watch can make on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Act {
    DeployProxy,
    Rollback,
}

impl Act {
    pub fn as_str(self) -> &'static str {
        match self {
            Act::DeployProxy => "deploy-proxy",
            Act::Rollback => "rollback",
        }
    }
}

/// How a change went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied and verified through the public URL.
    Ok,
    /// Applied, but the public URL did not show it.
    Unverified,
    /// Refused, partly applied or could not run: the journal says why.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unverified => "unverified",
            Outcome::Failed => "failed",
        }
    }
}

/// When the watch acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--auto`: consent to deploy and roll back.
    pub auto: bool,
    pub deploy_after: u32,
    pub rollback_after: u32,
}

/// One cycle's verdict and action, by name.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub verdict: &'a str,
    pub action: &'a str,
}

/// What the watch remembers between cycles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Cycles run so far (the one just decided included).
    pub cycle: u64,
    pub verdict: Option<String>,
    /// Consecutive cycles whose action is `deploy-proxy` (on a verdict we act on).
    pub deploy_streak: u32,
    /// Consecutive cycles with the platform path healthy behind our active proxy.
    pub rollback_streak: u32,
    /// The change that failed last, how often in a row, and the first cycle to try it again.
    pub failed: Option<Failed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    pub act: Act,
    pub times: u32,
    pub retry_at: u64,
}

/// What to do after one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The verdict differs from the last cycle's (or this is the first cycle): print and journal.
    pub changed: bool,
    pub previous: Option<String>,
    /// Tell the notifiers: every change except a first verdict of `healthy` (nothing to say).
    pub notify: bool,
    /// The change to make now (only with `--auto`).
    pub act: Option<Act>,
}

/// Decides one cycle: the state after it and what to do.
pub fn observe(state: &State, policy: &Policy, seen: Seen) -> (State, Decision) {
    let cycle = state.cycle + 1;
    let actionable = !NEVER_ACT_ON.contains(&seen.verdict);
    let deploy_streak = if actionable && seen.action == "deploy-proxy" {
        state.deploy_streak.saturating_add(1)
    } else {
        0
    };
    let rollback_streak = if seen.verdict == "proxy_active" && seen.action == "rollback" {
        state.rollback_streak.saturating_add(1)
    } else {
        0
    };
    let wanted = if deploy_streak >= policy.deploy_after {
        Some(Act::DeployProxy)
    } else if rollback_streak >= policy.rollback_after {
        Some(Act::Rollback)
    } else {
        None
    };
    // A failure of another change says nothing of this one: forget it.
    let failed = state.failed.filter(|f| Some(f.act) == wanted);
    let waiting = failed.is_some_and(|f| cycle < f.retry_at);
    let act = wanted.filter(|_| policy.auto && !waiting);
    let changed = state.verdict.as_deref() != Some(seen.verdict);
    let first_healthy = state.verdict.is_none() && seen.verdict == "healthy";
    let next = State {
        cycle,
        verdict: Some(seen.verdict.to_owned()),
        deploy_streak,
        rollback_streak,
        failed,
    };
    let decision = Decision {
        changed,
        previous: state.verdict.clone(),
        notify: changed && !first_healthy,
        act,
    };
    (next, decision)
}

/// The state after a change ran: a success starts the streaks afresh (the next change needs a
/// streak of its own); a failure waits 1, 2, 4… cycles (at most 16) before it is tried again.
pub fn acted(state: &State, act: Act, outcome: Outcome) -> State {
    let mut next = state.clone();
    next.deploy_streak = 0;
    next.rollback_streak = 0;
    next.failed = match outcome {
        Outcome::Ok => None,
        Outcome::Unverified | Outcome::Failed => {
            let times = match state.failed {
                Some(f) if f.act == act => f.times.saturating_add(1),
                _ => 1,
            };
            let wait = (1u64 << (times - 1).min(8)).min(MAX_RETRY_WAIT);
            // The streak is kept, so the change is tried again once the wait is over.
            next.deploy_streak = state.deploy_streak;
            next.rollback_streak = state.rollback_streak;
            Some(Failed {
                act,
                times,
                retry_at: state.cycle + wait,
            })
        }
    };
    next
}

/// One line of the watch's output: a verdict that changed, or a change made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub schema: &'static str,
    /// RFC 3339, UTC.
    pub at: String,
    pub cycle: u64,
    pub verdict: String,
    pub previous: Option<String>,
    /// The diagnosis's action (`none`, `deploy-proxy`, `escalate`, `rollback`).
    pub action: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acted: Option<Act>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Outcome>,
}

impl Event {
    /// The line a person reads: `07:12:03 cycle 4: dns_target_failure (was healthy) -> deploy-proxy: …`.
    pub fn line(&self) -> String {
        let clock: String = self
            .at
            .split_once('T')
            .map(|(_, t)| t.trim_end_matches('Z').chars().take(8).collect())
            .unwrap_or_else(|| self.at.clone());
        match (self.acted, self.result) {
            (Some(act), Some(result)) => format!(
                "{clock} cycle {}: {} {}: {}",
                self.cycle,
                act.as_str(),
                result.as_str(),
                self.summary
            ),
            _ => format!(
                "{clock} cycle {}: {}{} -> {}: {}",
                self.cycle,
                self.verdict,
                self.previous
                    .as_deref()
                    .map(|p| format!(" (was {p})"))
                    .unwrap_or_default(),
                self.action,
                self.summary
            ),
        }
    }

    /// A recovery: healthy again after something else.
    pub fn recovered(&self) -> bool {
        self.acted.is_none() && self.verdict == "healthy" && self.previous.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTO: Policy = Policy {
        auto: true,
        deploy_after: 3,
        rollback_after: 2,
    };

    /// A cycle in the table: the verdict and action seen, and what happened if the watch acted.
    type Cycle = (&'static str, &'static str, Option<Outcome>);

    const BROKEN: (&str, &str) = ("dns_target_failure", "deploy-proxy");
    const HEALTHY: (&str, &str) = ("healthy", "none");
    const BEHIND: (&str, &str) = ("proxy_active", "none");
    const RECOVERED: (&str, &str) = ("proxy_active", "rollback");

    fn c(seen: (&'static str, &'static str)) -> Cycle {
        (seen.0, seen.1, None)
    }

    fn then(seen: (&'static str, &'static str), outcome: Outcome) -> Cycle {
        (seen.0, seen.1, Some(outcome))
    }

    /// Plays `cycles` and returns, for each, the change made (`-` for none).
    fn play(policy: Policy, cycles: &[Cycle]) -> Vec<&'static str> {
        let mut state = State::default();
        let mut made = Vec::new();
        for (i, (verdict, action, outcome)) in cycles.iter().enumerate() {
            let (next, d) = observe(&state, &policy, Seen { verdict, action });
            state = next;
            match (d.act, outcome) {
                (Some(act), Some(o)) => {
                    state = acted(&state, act, *o);
                    made.push(act.as_str());
                }
                (Some(act), None) => panic!("cycle {}: acted {act:?} without an outcome", i + 1),
                (None, Some(_)) => panic!("cycle {}: an outcome but no act", i + 1),
                (None, None) => made.push("-"),
            }
        }
        made
    }

    #[track_caller]
    fn check(policy: Policy, cycles: &[Cycle], want: &[&str]) {
        assert_eq!(play(policy, cycles), want);
    }

    #[test]
    fn deploys_after_a_streak_and_rolls_back_after_another() {
        let ok = Outcome::Ok;
        check(
            AUTO,
            &[
                c(HEALTHY),
                c(BROKEN),
                c(BROKEN),
                then(BROKEN, ok),
                c(BEHIND),
                c(RECOVERED),
                then(RECOVERED, ok),
                c(HEALTHY),
            ],
            &["-", "-", "-", "deploy-proxy", "-", "-", "rollback", "-"],
        );
    }

    #[test]
    fn flapping_never_acts() {
        check(
            AUTO,
            &[
                c(BROKEN),
                c(BROKEN),
                c(HEALTHY),
                c(BROKEN),
                c(BROKEN),
                c(HEALTHY),
            ],
            &["-"; 6],
        );
        check(
            AUTO,
            &[c(RECOVERED), c(BEHIND), c(RECOVERED), c(BEHIND)],
            &["-"; 4],
        );
    }

    #[test]
    fn never_acts_on_inconclusive_or_origin_down() {
        for verdict in ["inconclusive", "origin_down"] {
            // Whatever action such a verdict might carry, it neither acts nor builds a streak.
            check(AUTO, &[c((verdict, "deploy-proxy")); 5], &["-"; 5]);
            check(
                AUTO,
                &[c(BROKEN), c(BROKEN), c((verdict, "escalate")), c(BROKEN)],
                &["-"; 4],
            );
        }
    }

    #[test]
    fn any_verdict_whose_action_is_deploy_counts() {
        // A new verdict (`degraded`) and a change between two that call for a deploy.
        check(
            AUTO,
            &[
                c(("degraded", "deploy-proxy")),
                c(("edge_failure", "deploy-proxy")),
                then(BROKEN, Outcome::Ok),
            ],
            &["-", "-", "deploy-proxy"],
        );
        check(AUTO, &[c(("public_dns_failure", "escalate")); 4], &["-"; 4]);
    }

    #[test]
    fn without_auto_it_only_watches() {
        let watch_only = Policy {
            auto: false,
            ..AUTO
        };
        check(watch_only, &[c(BROKEN); 6], &["-"; 6]);
        check(watch_only, &[c(RECOVERED); 4], &["-"; 4]);
    }

    #[test]
    fn a_failed_change_is_retried_later_waiting_longer_each_time() {
        let failed = Outcome::Failed;
        let now = Policy {
            deploy_after: 1,
            ..AUTO
        };
        check(
            now,
            &[
                then(BROKEN, failed),              // 1: fails; next try at 2
                then(BROKEN, failed),              // 2: fails again; next at 4
                c(BROKEN),                         // 3: waits
                then(BROKEN, Outcome::Unverified), // 4: unverified counts as failed; next at 8
                c(BROKEN),
                c(BROKEN),
                c(BROKEN),
                then(BROKEN, Outcome::Ok), // 8
                c(BEHIND),
            ],
            &[
                "deploy-proxy",
                "deploy-proxy",
                "-",
                "deploy-proxy",
                "-",
                "-",
                "-",
                "deploy-proxy",
                "-",
            ],
        );
        // Recovery in between forgets the failure: the next incident starts afresh.
        check(
            now,
            &[then(BROKEN, failed), c(HEALTHY), then(BROKEN, Outcome::Ok)],
            &["deploy-proxy", "-", "deploy-proxy"],
        );
    }

    #[test]
    fn changes_are_reported_and_notified_once() {
        let mut state = State::default();
        let mut seen = Vec::new();
        for (verdict, action) in [HEALTHY, HEALTHY, BROKEN, BROKEN, BEHIND, HEALTHY] {
            let (next, d) = observe(&state, &AUTO, Seen { verdict, action });
            state = next;
            seen.push((d.changed, d.notify, d.previous));
        }
        let healthy = Some("healthy".to_owned());
        assert_eq!(
            seen,
            [
                (true, false, None),
                (false, false, healthy.clone()),
                (true, true, healthy),
                (false, false, Some("dns_target_failure".to_owned())),
                (true, true, Some("dns_target_failure".to_owned())),
                (true, true, Some("proxy_active".to_owned())),
            ]
        );
        // A first verdict that is an incident is news.
        let (_, d) = observe(
            &State::default(),
            &AUTO,
            Seen {
                verdict: BROKEN.0,
                action: BROKEN.1,
            },
        );
        assert!(d.notify);
    }

    #[test]
    fn event_lines_for_people() {
        let mut e = Event {
            schema: SCHEMA,
            at: "2026-11-24T10:00:03.123Z".to_owned(),
            cycle: 4,
            verdict: "dns_target_failure".to_owned(),
            previous: Some("healthy".to_owned()),
            action: "deploy-proxy".to_owned(),
            summary: "target fails".to_owned(),
            acted: None,
            result: None,
        };
        assert_eq!(
            e.line(),
            "10:00:03 cycle 4: dns_target_failure (was healthy) -> deploy-proxy: target fails"
        );
        assert!(!e.recovered());
        e.acted = Some(Act::DeployProxy);
        e.result = Some(Outcome::Ok);
        e.summary = "deployed".to_owned();
        assert_eq!(e.line(), "10:00:03 cycle 4: deploy-proxy ok: deployed");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            (json["acted"].as_str(), json["result"].as_str()),
            (Some("deploy-proxy"), Some("ok"))
        );
    }
}
