//! The standby drill (`failover drill --standby`): the same incident with the standby Worker
//! armed beforehand and a steady stream of GET and POST requests through the edge during the
//! break and the recovery. It counts the requests that failed (the story wants none) and says
//! when the path switched to the direct origin and back, with no command run in between.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use super::{Drill, Outcome};
use crate::diagnose::{Action, Verdict};
use crate::engine;
use crate::exit::Exit;
use crate::report::incident::human_duration;
use crate::sandbox::world::{Sent, Traffic};
use crate::state::Journal;
use crate::ui::{Paint, Printer};
use crate::worker::Mode;

/// How long the drill waits for the Worker to switch paths before the stage fails: the
/// cool-down of the drill's config (1 s) many times over, for a loaded machine.
const SWITCH_WAIT: Duration = Duration::from_secs(60);

/// What the stream of requests saw, in the drill's document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StandbyReport {
    pub sent: usize,
    pub get: usize,
    pub post: usize,
    pub failed: usize,
    /// From the break to the first answer served from the direct origin.
    pub switched_to_direct_ms: Option<u64>,
    /// From the recovery to the first answer through the platform path again.
    pub switched_to_platform_ms: Option<u64>,
    /// The first failures, as they were seen.
    pub failures: Vec<Sent>,
}

impl StandbyReport {
    /// Lines for the drill's summary.
    pub fn human(&self, p: &Printer) -> String {
        let when = |ms: Option<u64>| ms.map_or("never".to_owned(), human_duration);
        let failed = format!("{} failed", self.failed);
        let mut out = format!(
            "{} {} sent through the break and the recovery ({} GET, {} POST), {}\n",
            p.paint("Requests:", Paint::Bold),
            self.sent,
            self.get,
            self.post,
            p.paint(
                &failed,
                if self.failed == 0 {
                    Paint::Green
                } else {
                    Paint::Red
                }
            ),
        );
        out.push_str(&format!(
            "{} to direct {} after the break, back to platform {} after the recovery, with no command run\n",
            p.paint("Path switched:", Paint::Bold),
            when(self.switched_to_direct_ms),
            when(self.switched_to_platform_ms),
        ));
        for s in &self.failures {
            out.push_str(&format!(
                "  ✗ {} at +{}: {}\n",
                s.method,
                human_duration(s.at_ms),
                s.error
                    .clone()
                    .unwrap_or_else(|| format!("HTTP {}", s.status.unwrap_or_default()))
            ));
        }
        out
    }
}

impl Drill<'_> {
    /// The standby incident, stage by stage; `Ok(false)` stops at the first stage that goes
    /// wrong. The stream of requests stops with it, whatever happens.
    pub(super) async fn play_standby(&mut self) -> Result<bool> {
        let host = crate::sandbox::world::PUBLIC_HOST;
        self.announce(
            1,
            "All is well",
            &format!(
                "{host} is proxied at the edge (here a stand-in for Cloudflare's); its record\n\
                 CNAMEs to the platform's DNS target {}. A baseline first.",
                self.world.target
            ),
            Some("failover diagnose"),
        )?;
        if !self
            .diagnose("healthy", (Verdict::Healthy, Action::None))
            .await?
        {
            return Ok(false);
        }

        self.announce(
            2,
            "Arm the standby proxy, before any incident",
            "A Worker on the public host's route sends every request the normal way, through\n\
             the platform path, and serves it from the direct origin only when that path fails\n\
             at the edge. Nobody will run anything during the incident.",
            Some("failover deploy-proxy --standby --yes"),
        )?;
        if !self
            .deploy_stage(
                "arm",
                "failover deploy-proxy --standby --yes",
                Mode::Standby,
            )
            .await?
        {
            return Ok(false);
        }

        let traffic = self.world.traffic()?;
        self.journal.append(
            "event",
            json!({"what": "a steady stream of GET and POST requests starts through the public URL"}),
        )?;
        let played = self.incident(&traffic).await;
        let sent = traffic.stop().await;
        let report = self.standby.get_or_insert_with(StandbyReport::default);
        report.sent = sent.len();
        report.get = sent.iter().filter(|s| s.method == "GET").count();
        report.post = sent.iter().filter(|s| s.method == "POST").count();
        report.failed = sent.iter().filter(|s| !s.ok).count();
        report.failures = sent.iter().filter(|s| !s.ok).take(5).cloned().collect();
        if !played? {
            return Ok(false);
        }

        self.announce(
            6,
            "Count the requests",
            "Every request sent through the break and the recovery, and what it got back.",
            None,
        )?;
        let started = Instant::now();
        let report = self.standby.clone().unwrap_or_default();
        self.journal
            .append("traffic", serde_json::to_value(&report)?)?;
        if !self.record(
            "traffic",
            Outcome {
                pass: report.failed == 0 && report.get > 0 && report.post > 0,
                expected: "0 failed requests, GET and POST".to_owned(),
                observed: format!(
                    "{} failed out of {} ({} GET, {} POST)",
                    report.failed, report.sent, report.get, report.post
                ),
                diagnosis: None,
                exit: None,
            },
            started,
        )? {
            return Ok(false);
        }

        self.announce(
            7,
            "Diagnose",
            "Back on the platform path, with the standby Worker still in front of it.",
            Some("failover diagnose"),
        )?;
        if !self
            .diagnose("standby_healthy", (Verdict::Healthy, Action::None))
            .await?
        {
            return Ok(false);
        }

        self.announce(
            8,
            "Remove the standby proxy",
            "rollback removes a standby Worker as it does an emergency one.",
            Some("failover rollback --yes"),
        )?;
        let started = Instant::now();
        let journal = Journal::open(self.state_dir, "rollback")?;
        let opts = engine::rollback::Options::default();
        let (rollback, exit) = self
            .running(
                "failover rollback --yes",
                engine::rollback::run(&self.inner, self.settings, &journal, &opts),
            )
            .await?;
        self.show(&crate::text::sanitize(&rollback.human()));
        self.record(
            "rollback",
            Outcome {
                pass: exit == Exit::Success && rollback.verification.verified == Some(true),
                expected: "removed and verified".to_owned(),
                observed: super::applied(rollback.applied.len(), rollback.verification.verified),
                diagnosis: None,
                exit: Some(exit),
            },
            started,
        )
    }

    /// The break and the recovery while `traffic` runs: stages 3 to 5.
    async fn incident(&mut self, traffic: &Traffic) -> Result<bool> {
        let target = self.world.target.clone();
        self.announce(
            3,
            "The platform's DNS target stops resolving",
            &format!(
                "{target} now answers SERVFAIL; the edge answers 530 \"error code: 1016\" for\n\
                 the platform path. The requests keep coming."
            ),
            None,
        )?;
        let started = Instant::now();
        let broke_at = traffic.started.elapsed().as_millis() as u64;
        self.world.break_target();
        self.detected = Some(Instant::now());
        self.journal.append(
            "event",
            json!({"what": format!("the platform DNS target {target} starts answering SERVFAIL (simulated); the app runs on")}),
        )?;
        let switched = switch(traffic, broke_at, "direct").await;
        if let Some(ms) = switched {
            self.ttm_ms = Some(ms);
            self.journal.append(
                "event",
                json!({"what": format!("the standby proxy serves from the direct origin, {} after the break", human_duration(ms))}),
            )?;
        }
        self.standby
            .get_or_insert_with(StandbyReport::default)
            .switched_to_direct_ms = switched;
        if !self.record(
            "switch_direct",
            switched_outcome(switched, "direct"),
            started,
        )? {
            return Ok(false);
        }

        self.announce(
            4,
            "Diagnose",
            "The standby Worker serves from the direct origin: our proxy at work, nothing to do.",
            Some("failover diagnose"),
        )?;
        if !self
            .diagnose("standby_direct", (Verdict::ProxyActive, Action::None))
            .await?
        {
            return Ok(false);
        }

        self.announce(
            5,
            "The platform recovers",
            &format!(
                "{target} resolves again. After its cool-down the Worker tries the platform path\n\
                 again and stays on it."
            ),
            None,
        )?;
        let started = Instant::now();
        let healed_at = traffic.started.elapsed().as_millis() as u64;
        self.world.heal_target();
        self.journal.append(
            "event",
            json!({"what": format!("the platform DNS target {target} resolves again (simulated)")}),
        )?;
        let switched = switch(traffic, healed_at, "platform").await;
        if let Some(ms) = switched {
            self.journal.append(
                "event",
                json!({"what": format!("the standby proxy is back on the platform path, {} after the recovery", human_duration(ms))}),
            )?;
        }
        self.standby
            .get_or_insert_with(StandbyReport::default)
            .switched_to_platform_ms = switched;
        self.record(
            "switch_platform",
            switched_outcome(switched, "platform"),
            started,
        )
    }
}

fn switched_outcome(switched: Option<u64>, path: &str) -> Outcome {
    Outcome {
        pass: switched.is_some(),
        expected: format!("answers through the {path} path, with no command run"),
        observed: match switched {
            Some(ms) => format!("x-failover-path: {path} {} later", human_duration(ms)),
            None => format!("no answer through the {path} path within {SWITCH_WAIT:?}"),
        },
        diagnosis: None,
        exit: None,
    }
}

/// How long after `since_ms` (on the stream's clock) the first answer through `path` came; it
/// waits for one at most [`SWITCH_WAIT`].
async fn switch(traffic: &Traffic, since_ms: u64, path: &str) -> Option<u64> {
    let deadline = Instant::now() + SWITCH_WAIT;
    loop {
        let first = traffic
            .seen()
            .into_iter()
            .find(|s| s.at_ms >= since_ms && s.path.as_deref() == Some(path));
        if let Some(s) = first {
            return Some(s.at_ms - since_ms);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
