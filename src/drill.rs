//! The drill: the whole incident of October 2025 on this machine. It stands up the world on
//! loopback (`sandbox::world`), then plays the incident with the engineer's operations (the
//! same ones the commands run, against the sandbox Cloudflare API and the stand-in edge):
//! healthy, the DNS target breaks, diagnose, deploy-proxy, checks through the public URL, the
//! platform recovers, diagnose, rollback, healthy. It ends with the timeline, the time to
//! mitigation and the incident report written from the journal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cli::{ApiArgs, ProbeArgs};
use crate::config::{Env, LoadedFile, Settings};
use crate::diagnose::{Action, Verdict};
use crate::engine;
use crate::engine::watch::{Options as WatchOptions, Pace};
use crate::exit::{Exit, Fatal};
use crate::report::incident::{human_duration, Incident};
use crate::runbook::Runbook;
use crate::sandbox::workerd;
use crate::sandbox::world::{FeatureCheck, World};
use crate::state::{now_rfc3339, Journal};
use crate::ui::{Paint, Printer};
use crate::watch::{Act, Event, Outcome as WatchOutcome, Policy};
use crate::worker::Mode;

mod standby;

pub const SCHEMA: &str = "failover.drill/v1";

/// What the story's team took from the first alert to a working mitigation (83 minutes).
const STORY_TTM_MS: u64 = 83 * 60 * 1000;

/// The report the drill leaves in the state directory.
pub const REPORT_FILE: &str = "drill-report.md";

/// The `failover.drill/v1` document.
#[derive(Debug, Serialize)]
pub struct DrillDoc {
    pub schema: &'static str,
    /// Every stage went as the story says.
    pub ok: bool,
    pub public_url: String,
    pub workerd: String,
    pub stages: Vec<Stage>,
    /// What users got through the public URL while the proxy served it.
    pub features: Vec<FeatureCheck>,
    /// Outage detected (first non-healthy verdict) to proxy verified through the public URL;
    /// with `--standby`, the break to the first answer from the direct origin.
    pub time_to_mitigation_ms: Option<u64>,
    /// The same span in the story (October 2025).
    pub story_time_to_mitigation_ms: u64,
    /// With `--watch`: how fast `watch --auto` mitigated and rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchTimes>,
    pub report: Option<String>,
    /// `drill --standby`: the requests sent through the incident and when the path switched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standby: Option<standby::StandbyReport>,
    pub state_dir: String,
    pub started_at: String,
    pub elapsed_ms: u64,
}

/// What `drill --watch` measured of `watch --auto`.
#[derive(Debug, Clone, Serialize)]
pub struct WatchTimes {
    pub interval_ms: u64,
    pub deploy_after: u32,
    pub rollback_after: u32,
    /// The DNS target broke -> the watch's proxy deployed and verified through the public URL.
    pub break_to_verified_ms: Option<u64>,
    /// What the watch promises for that span: interval × deploy_after + 5 s.
    pub budget_ms: u64,
    /// The platform recovered -> the watch's rollback done and verified.
    pub recovery_to_rollback_ms: Option<u64>,
}

/// One step of the incident: what was expected and what was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: &'static str,
    pub title: &'static str,
    /// The command the engineer runs at this step, if any.
    pub command: Option<&'static str>,
    /// `pass` when the observed outcome is the expected one, else `fail`.
    pub outcome: &'static str,
    pub expected: String,
    pub observed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<u8>,
    pub at: String,
    pub elapsed_ms: u64,
}

/// Stands up the world, plays the story, writes the report; the document and the incident
/// come back unprinted. `binary` is the workerd to run; `state_dir` takes the journal and the
/// report.
pub async fn run(
    printer: &Printer,
    env: &Env,
    state_dir: &Path,
    binary: PathBuf,
    watch: Option<Duration>,
) -> Result<(DrillDoc, Incident)> {
    run_story(printer, env, state_dir, binary, false, watch).await
}

/// [`run`], with the standby Worker armed before the incident and requests flowing through it
/// (`drill --standby`).
pub async fn run_standby(
    printer: &Printer,
    env: &Env,
    state_dir: &Path,
    binary: PathBuf,
) -> Result<(DrillDoc, Incident)> {
    run_story(printer, env, state_dir, binary, true, None).await
}

async fn run_story(
    printer: &Printer,
    env: &Env,
    state_dir: &Path,
    binary: PathBuf,
    standby: bool,
    watch: Option<Duration>,
) -> Result<(DrillDoc, Incident)> {
    let started = Instant::now();
    let started_at = now_rfc3339();

    let spinner = printer
        .progress()
        .spinner("standing up the world on loopback");
    let world = World::start(binary.clone())
        .await
        .context("cannot stand up the drill's world")?;
    spinner.clear();
    let journal = Journal::open(state_dir, "drill")?;
    journal.append(
        "started",
        json!({
            "public_url": world.public_url(),
            "dns_target": world.target,
            "workerd": binary.display().to_string(),
            "world": world.path().display().to_string(),
        }),
    )?;
    // The engineer's commands as they would run them: the world's config, its sandbox API
    // and token, and the pin a real user does not need (the public host at the stand-in edge).
    let inner_env = Env {
        config: None,
        api_token: Some(world.token.clone()),
        account_id: None,
        api_base: Some(world.cf.base_url().to_string()),
        workerd: Some(binary.display().to_string()),
        ci: env.ci,
        no_color: env.no_color,
        // The inner commands publish nothing to CI: the drill's summary stands for them.
        ..Env::default()
    };
    let probe = ProbeArgs {
        resolvers: Vec::new(),
        resolve: vec![world.pin()],
    };
    let file = LoadedFile::read(&world.config)?;
    let settings = Settings::resolve(&file, &inner_env, &probe, &ApiArgs::default())?;
    let runbook_dir = world
        .config
        .parent()
        .unwrap_or(world.path())
        .join("runbooks");
    let catalog = engine::load_runbooks(Some(&runbook_dir), None)
        .map_err(|e| anyhow::anyhow!("the drill's runbooks: {e}"))?;
    let runbook = engine::diagnose::select_runbook(&catalog, None, &settings)?;
    let mut drill = Drill {
        printer,
        inner: inner_printer(printer),
        world: &world,
        settings: &settings,
        runbook: &runbook,
        state_dir,
        journal: journal.clone(),
        stages: Vec::new(),
        features: Vec::new(),
        detected: None,
        ttm_ms: None,
        current: ("", None),
        standby: None,
        watch,
        watch_times: None,
    };
    drill.intro();
    let played = if standby {
        drill.play_standby().await
    } else {
        drill.play().await
    };
    journal.append(
        "finished",
        json!({
            "outcome": match &played {
                Ok(true) => "pass".to_owned(),
                Ok(false) => "fail".to_owned(),
                Err(e) => format!("error: {e:#}"),
            },
            "time_to_mitigation_ms": drill.ttm_ms,
            "watch": drill.watch_times,
        }),
    )?;
    let Drill {
        stages,
        features,
        ttm_ms,
        standby,
        watch_times,
        ..
    } = drill;
    let public_url = world.public_url();
    // The world stops before the report is written: nothing of it outlives the drill's answer.
    drop(world);

    let report_path = state_dir.join(REPORT_FILE);
    let incident = engine::report::write_markdown(state_dir, &report_path)
        .with_context(|| format!("cannot write the drill's report {}", report_path.display()));
    // A command that could not run at all is the error (one error document under --json).
    let ok = played?;
    let incident = incident?;
    let doc = DrillDoc {
        schema: SCHEMA,
        ok,
        public_url,
        workerd: binary.display().to_string(),
        stages,
        features,
        time_to_mitigation_ms: ttm_ms,
        story_time_to_mitigation_ms: STORY_TTM_MS,
        watch: watch_times,
        report: Some(report_path.display().to_string()),
        standby,
        state_dir: state_dir.display().to_string(),
        started_at,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    Ok((doc, incident))
}

/// The inner commands ask nothing (the drill consents for the engineer) and print nothing of
/// their own (no plan lines, no spinners): the drill shows each one's result under its stage,
/// and under `--json` its one document is the result.
fn inner_printer(outer: &Printer) -> Printer {
    Printer {
        json: true,
        yes: true,
        interactive: false,
        ..outer.clone()
    }
}

/// workerd from `--workerd`, `FAILOVER_WORKERD`, node_modules, `PATH` or the user's cache; when
/// absent, the pinned npm package is installed into that cache.
pub async fn find_workerd(printer: &Printer, explicit: Option<String>) -> Result<PathBuf> {
    match workerd::locate(explicit.as_deref()) {
        Ok(path) => return Ok(path),
        // An explicit path that is wrong is an error, not a reason to install another.
        Err(e) if explicit.is_some() => return Err(Fatal::usage(e.to_string()).into()),
        Err(_) => {}
    }
    let spinner = printer.progress().spinner(format!(
        "installing workerd {} (the Workers runtime) with npm into your cache",
        workerd::PINNED_VERSION
    ));
    printer.info(format!(
        "workerd not found: installing the pinned npm package workerd@{} into {}",
        workerd::PINNED_VERSION,
        workerd::cached_binary()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));
    let installed = tokio::task::spawn_blocking(workerd::install_pinned)
        .await
        .context("the workerd install task failed")?;
    spinner.clear();
    let path = installed.context("cannot install workerd")?;
    printer.info(format!("installed workerd at {}", path.display()));
    Ok(path)
}

struct Drill<'a> {
    printer: &'a Printer,
    /// The printer of the engineer's commands: see [`inner_printer`].
    inner: Printer,
    world: &'a World,
    settings: &'a Settings,
    runbook: &'a Runbook,
    state_dir: &'a Path,
    journal: Journal,
    stages: Vec<Stage>,
    features: Vec<FeatureCheck>,
    detected: Option<Instant>,
    ttm_ms: Option<u64>,
    /// The title and command of the stage announced last, which the next record belongs to.
    current: (&'static str, Option<&'static str>),
    /// What the stream of requests saw (`drill --standby`).
    standby: Option<standby::StandbyReport>,
    /// `--watch`: the watch's interval; it detects, deploys and rolls back.
    watch: Option<Duration>,
    watch_times: Option<WatchTimes>,
}

/// What a stage observed against what the story expects.
struct Outcome {
    pass: bool,
    expected: String,
    observed: String,
    diagnosis: Option<(Verdict, Action)>,
    exit: Option<Exit>,
}

/// How many stages the story has (for "3/8"), and with `--watch`.
const STAGES: usize = 8;
const WATCHED_STAGES: usize = 6;

impl Drill<'_> {
    fn p(&self) -> &Printer {
        self.printer
    }

    fn intro(&self) {
        let p = self.p();
        // Prose wraps to the terminal (to 90 columns without one); the facts below it keep
        // their column when they wrap.
        let cols = Some(p.stderr_cols().unwrap_or(90));
        let prose = crate::ui::wrap(
            "A platform's DNS target stops resolving while the app behind it runs on. \
             Everything below runs on this machine: a DNS server, the app, a staging copy in \
             another region, status pages, a sandbox Cloudflare API and a stand-in for \
             Cloudflare's edge that runs Workers in workerd. No account, no network.",
            "",
            cols,
        );
        let facts = [
            format!(
                "public URL  {}  (CNAME {} via the edge)",
                self.world.public_url(),
                self.world.target
            ),
            format!("origin      {}  (the app, direct)", self.world.origin.url()),
            format!("world       {}", self.world.path().display()),
        ]
        .map(|line| crate::ui::wrap(&line, "            ", p.stderr_cols()))
        .join("\n");
        p.info(format!(
            "{}\n{prose}\n\n{facts}",
            p.paint("failover drill: October 2025, on loopback", Paint::Bold),
        ));
    }

    /// Says what is happening and what the engineer does, then waits on a terminal.
    fn announce(
        &mut self,
        n: usize,
        title: &'static str,
        story: &str,
        command: Option<&'static str>,
    ) -> Result<()> {
        self.current = (title, command);
        let p = self.p();
        let mut text = format!(
            "\n{} {}\n",
            p.paint(
                &format!(
                    "[{n}/{}]",
                    if self.watch.is_some() {
                        WATCHED_STAGES
                    } else {
                        STAGES
                    }
                ),
                Paint::Cyan
            ),
            p.paint(title, Paint::Bold)
        );
        // The story is prose: it wraps to the terminal, in its column.
        for line in story.lines() {
            let _ = writeln!(
                text,
                "{}",
                crate::ui::wrap(&format!("      {line}"), "      ", p.stderr_cols())
            );
        }
        if let Some(cmd) = command {
            let _ = writeln!(
                text,
                "      The engineer runs: {}",
                p.paint(cmd, Paint::Bold)
            );
        }
        p.info(text.trim_end());
        p.pause("      Press Enter to go on…")
    }

    /// Runs one of the engineer's commands under a spinner named after it.
    async fn running<T>(
        &self,
        command: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let spinner = self.p().progress().spinner(command);
        let done = work.await;
        spinner.clear();
        done.with_context(|| format!("{command} could not run"))
    }

    /// Shows a command's own human output, indented under its stage.
    fn show(&self, output: &str) {
        let bar = self.p().paint("│", Paint::Dim);
        // A long line of the command's output wraps under its own gutter.
        let cols = self.p().stderr_cols();
        let text: Vec<String> = output
            .trim_end()
            .lines()
            .map(|l| {
                crate::ui::wrap(
                    &format!("      {bar} {l}"),
                    &format!("      {bar}   "),
                    cols,
                )
            })
            .collect();
        self.p().info(text.join("\n"));
    }

    /// Records the stage announced last, journals it, says how it went; `false` when it went
    /// against the story.
    fn record(&mut self, name: &'static str, o: Outcome, started: Instant) -> Result<bool> {
        let (title, command) = self.current;
        let pass = o.pass;
        let stage = Stage {
            name,
            title,
            command,
            outcome: if pass { "pass" } else { "fail" },
            expected: o.expected,
            observed: crate::text::excerpt(&o.observed, 300),
            verdict: o.diagnosis.map(|d| d.0),
            action: o.diagnosis.map(|d| d.1),
            exit: o.exit.map(Exit::code),
            at: now_rfc3339(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        self.journal
            .append("stage", serde_json::to_value(&stage)?)?;
        let p = self.p();
        let line = if pass {
            format!(
                "      {} {} ({})",
                p.paint("✓", Paint::Green),
                stage.observed,
                human_duration(stage.elapsed_ms)
            )
        } else {
            format!(
                "      {} expected {}, saw {}",
                p.paint("✗", Paint::Red),
                stage.expected,
                stage.observed
            )
        };
        p.info(crate::ui::wrap(&line, "        ", p.stderr_cols()));
        self.stages.push(stage);
        Ok(pass)
    }

    /// Runs `failover diagnose` and checks its verdict and action.
    /// The last stage of every story: back on the normal path, with nothing of the proxy left.
    async fn healthy_again(&mut self, stage: usize) -> Result<bool> {
        self.announce(
            stage,
            "Healthy again",
            "Back on the normal path, with nothing of the proxy left behind.",
            Some("failover diagnose"),
        )?;
        self.diagnose("healthy_again", (Verdict::Healthy, Action::None))
            .await
    }

    async fn diagnose(&mut self, name: &'static str, want: (Verdict, Action)) -> Result<bool> {
        let started = Instant::now();
        let journal = Journal::open(self.state_dir, "diagnose")?;
        let done = self
            .running(
                "failover diagnose",
                engine::diagnose::run(
                    &self.inner,
                    self.settings,
                    self.runbook,
                    &journal,
                    Instant::now(),
                ),
            )
            .await?;
        let d = &done.diagnosis;
        self.show(&crate::report::diagnosis::render(
            &self.inner,
            d,
            done.elapsed_ms,
            false,
        ));
        let outcome = Outcome {
            pass: (d.verdict, d.action) == want,
            expected: format!("{} -> {}", verdict_name(want.0), action_name(want.1)),
            observed: format!(
                "{} -> {}: {}",
                verdict_name(d.verdict),
                action_name(d.action),
                d.summary
            ),
            diagnosis: Some((d.verdict, d.action)),
            exit: Some(done.exit()),
        };
        self.record(name, outcome, started)
    }

    /// What users get through the public URL while the proxy serves it; the time to mitigation
    /// is taken when every check passes.
    async fn features_stage(&mut self) -> Result<bool> {
        let started = Instant::now();
        let features = self.world.exercise().await;
        let all_ok = features.iter().all(|f| f.ok);
        self.journal
            .append("verified", json!({"ok": all_ok, "checks": &features}))?;
        if all_ok {
            self.ttm_ms = self.detected.map(|d| d.elapsed().as_millis() as u64);
        }
        let p = self.p();
        let lines: Vec<String> = features
            .iter()
            .map(|f| {
                format!(
                    "{} {:<9} {}",
                    if f.ok {
                        p.paint("✓", Paint::Green)
                    } else {
                        p.paint("✗", Paint::Red)
                    },
                    f.name,
                    f.detail
                )
            })
            .collect();
        self.show(&lines.join("\n"));
        let failed: Vec<&str> = features
            .iter()
            .filter(|f| !f.ok)
            .map(|f| f.name.as_str())
            .collect();
        let observed = if all_ok {
            format!(
                "REST, redirect, cookie, CORS and WebSocket work through the proxy; mitigated {} after detection",
                self.ttm_ms.map(human_duration).unwrap_or_default()
            )
        } else {
            format!("failing: {}", failed.join(", "))
        };
        self.features = features;
        self.record(
            "verify",
            Outcome {
                pass: all_ok,
                expected: "every check passes".to_owned(),
                observed,
                diagnosis: None,
                exit: None,
            },
            started,
        )
    }

    /// Stages 3 to 6 with `--watch`: `watch --auto` runs in the background against the world
    /// and does the engineer's work; the drill only breaks and heals the world, waits for the
    /// watch's changes and checks what users get. `broke` is when the DNS target broke.
    async fn play_watched(&mut self, interval: Duration, broke: Instant) -> Result<bool> {
        let settings: &Settings = self.settings;
        let runbook: &Runbook = self.runbook;
        let inner = self.inner.clone();
        let policy = Policy {
            auto: true,
            deploy_after: settings.watch.deploy_after,
            rollback_after: settings.watch.rollback_after,
        };
        let budget = interval * policy.deploy_after + Duration::from_secs(5);
        self.watch_times = Some(WatchTimes {
            interval_ms: interval.as_millis() as u64,
            deploy_after: policy.deploy_after,
            rollback_after: policy.rollback_after,
            break_to_verified_ms: None,
            budget_ms: budget.as_millis() as u64,
            recovery_to_rollback_ms: None,
        });
        let journal = Journal::open(self.state_dir, "watch")?;
        let stop = CancellationToken::new();
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let watching = engine::watch::run(
            &inner,
            settings,
            runbook,
            &journal,
            WatchOptions {
                policy,
                once: false,
                notifiers: Vec::new(),
                metrics: None,
            },
            Pace::Every(interval),
            stop.clone(),
            move |e: &Event| {
                let _ = tx.send(e.clone());
            },
        );
        let story = async {
            let played = self
                .watched_story(interval, broke, budget, &mut events)
                .await;
            stop.cancel();
            played
        };
        let (watched, played) = tokio::join!(watching, story);
        watched.context("the watch could not run")?;
        if !played? {
            return Ok(false);
        }
        self.healthy_again(6).await
    }

    async fn watched_story(
        &mut self,
        interval: Duration,
        broke: Instant,
        budget: Duration,
        events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    ) -> Result<bool> {
        let policy = self
            .watch_times
            .clone()
            .expect("set before the story plays");
        // A bound on each wait, far beyond the promise, so a watch that never acts ends the
        // drill instead of hanging it.
        let deploy_wait = budget * 4 + Duration::from_secs(60);
        let rollback_wait = interval * policy.rollback_after * 4 + Duration::from_secs(60);
        let command = "failover watch --auto";
        self.announce(
            3,
            "watch --auto takes over",
            &format!(
                "No engineer this time: the watch diagnoses every {}, and after {} cycles in a\n\
                 row that call for the proxy it deploys it and verifies it through the public URL.",
                humantime::format_duration(interval),
                policy.deploy_after
            ),
            Some(command),
        )?;
        let started = Instant::now();
        let deployed = wait_for(events, Act::DeployProxy, deploy_wait, |e| {
            if self.detected.is_none() && e.acted.is_none() && e.verdict != "healthy" {
                self.detected = Some(Instant::now());
            }
            self.show(&crate::text::sanitize(&e.line()));
        })
        .await;
        let took = broke.elapsed();
        if let (Some(t), Some(_)) = (self.watch_times.as_mut(), &deployed) {
            t.break_to_verified_ms = Some(took.as_millis() as u64);
        }
        if !self.record(
            "watch_deploy",
            Outcome {
                pass: deployed.is_some(),
                expected: format!(
                    "deploy-proxy ok within {} of the break",
                    human_duration(budget.as_millis() as u64)
                ),
                observed: match &deployed {
                    Some(e) => format!(
                        "deploy-proxy ok at cycle {}, {} after the break ({} the promise of {})",
                        e.cycle,
                        human_duration(took.as_millis() as u64),
                        if took <= budget { "within" } else { "OUTSIDE" },
                        human_duration(budget.as_millis() as u64)
                    ),
                    None => format!(
                        "no verified deploy within {}",
                        human_duration(deploy_wait.as_millis() as u64)
                    ),
                },
                diagnosis: None,
                exit: None,
            },
            started,
        )? {
            return Ok(false);
        }

        self.announce(
            4,
            "What do users get now?",
            "Through the public URL: a REST call with JSON, a redirect to the app's own host, a\n\
             cookie scoped to that host, a CORS preflight and a WebSocket echo.",
            None,
        )?;
        if !self.features_stage().await? {
            return Ok(false);
        }

        let target = self.world.target.clone();
        self.announce(
            5,
            "The platform recovers; the watch rolls back",
            &format!(
                "{target} resolves again. After {} cycles in a row with the platform path\n\
                 healthy behind the proxy, the watch removes it and verifies the normal path.",
                policy.rollback_after
            ),
            Some(command),
        )?;
        let started = Instant::now();
        self.world.heal_target();
        self.journal.append(
            "event",
            json!({"what": format!("the platform DNS target {target} resolves again (simulated)")}),
        )?;
        let rolled_back = wait_for(events, Act::Rollback, rollback_wait, |e| {
            self.show(&crate::text::sanitize(&e.line()));
        })
        .await;
        let took = started.elapsed();
        if let (Some(t), Some(_)) = (self.watch_times.as_mut(), &rolled_back) {
            t.recovery_to_rollback_ms = Some(took.as_millis() as u64);
        }
        let running = self.world.edge.runtime_pids().await;
        self.record(
            "watch_rollback",
            Outcome {
                pass: rolled_back.is_some() && running.is_empty(),
                expected: "rollback ok, the Worker stopped at the edge".to_owned(),
                observed: match &rolled_back {
                    Some(e) => format!(
                        "rollback ok at cycle {}, {} after the recovery; Workers running at the edge: {}",
                        e.cycle,
                        human_duration(took.as_millis() as u64),
                        running.len()
                    ),
                    None => format!(
                        "no verified rollback within {}",
                        human_duration(rollback_wait.as_millis() as u64)
                    ),
                },
                diagnosis: None,
                exit: None,
            },
            started,
        )
    }

    /// Runs deploy-proxy in `mode` as the engineer would, shows its output and records it as
    /// the stage `name`; `false` when it was not applied and verified.
    async fn deploy_stage(
        &mut self,
        name: &'static str,
        command: &'static str,
        mode: Mode,
    ) -> Result<bool> {
        let started = Instant::now();
        let journal = Journal::open(self.state_dir, "deploy-proxy")?;
        let opts = engine::deploy::Options {
            mode,
            ..engine::deploy::Options::default()
        };
        let (deployment, exit) = self
            .running(
                command,
                engine::deploy::run(&self.inner, self.settings, &journal, &opts),
            )
            .await?;
        self.show(&crate::text::sanitize(&deployment.human()));
        self.record(
            name,
            Outcome {
                pass: exit == Exit::Success && deployment.verification.verified == Some(true),
                expected: "applied and verified".to_owned(),
                observed: applied(deployment.applied.len(), deployment.verification.verified),
                diagnosis: None,
                exit: Some(exit),
            },
            started,
        )
    }

    /// The incident, stage by stage; `Ok(false)` stops at the first stage that goes wrong.
    async fn play(&mut self) -> Result<bool> {
        let host = crate::sandbox::world::PUBLIC_HOST;
        let target = self.world.target.clone();

        self.announce(
            1,
            "All is well",
            &format!(
                "{host} is proxied at the edge (here a stand-in for Cloudflare's); its record\n\
                 CNAMEs to the platform's DNS target {target}.\n\
                 Users reach the app through that target. A baseline first."
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
            "The platform's DNS target stops resolving",
            &format!(
                "{target} now answers SERVFAIL.\n\
                 The app itself runs on, but the edge cannot find it: every user gets\n\
                 530 \"error code: 1016\". The pager goes off."
            ),
            None,
        )?;
        let started = Instant::now();
        self.world.break_target();
        self.journal.append(
            "event",
            json!({"what": format!("the platform DNS target {target} starts answering SERVFAIL (simulated); the app runs on")}),
        )?;
        let visit = self.world.visit("/health").await?;
        self.show(&format!(
            "GET {}/health -> {} (server: {}) {}",
            self.world.public_url(),
            visit.status,
            visit.server.as_deref().unwrap_or("-"),
            visit.body
        ));
        if !self.record(
            "outage",
            Outcome {
                pass: visit.status == 530 && visit.body.contains("1016"),
                expected: "530 error code: 1016 for users".to_owned(),
                observed: format!("{} {}", visit.status, visit.body),
                diagnosis: None,
                exit: None,
            },
            started,
        )? {
            return Ok(false);
        }
        if let Some(interval) = self.watch {
            return self.play_watched(interval, started).await;
        }

        self.announce(
            3,
            "Diagnose",
            "Is it the platform's DNS, the app, or the edge? diagnose asks every resolver about\n\
             the target, the app directly, the edge, the staging copy in the EU and the status\n\
             pages, at once, under one deadline.",
            Some("failover diagnose"),
        )?;
        let ok = self
            .diagnose("diagnose", (Verdict::DnsTargetFailure, Action::DeployProxy))
            .await?;
        self.detected = Some(Instant::now());
        if !ok {
            return Ok(false);
        }

        self.announce(
            4,
            "Deploy the emergency proxy",
            "A Worker on the public host's route fetches every request from the direct origin,\n\
             keeping the custom domain. deploy-proxy plans against live Cloudflare state,\n\
             applies (journaled) and verifies through the public URL.",
            Some("failover deploy-proxy --yes"),
        )?;
        if !self
            .deploy_stage("deploy", "failover deploy-proxy --yes", Mode::Emergency)
            .await?
        {
            return Ok(false);
        }

        self.announce(
            5,
            "What do users get now?",
            "Through the public URL: a REST call with JSON, a redirect to the app's own host, a\n\
             cookie scoped to that host, a CORS preflight and a WebSocket echo.",
            None,
        )?;
        if !self.features_stage().await? {
            return Ok(false);
        }

        self.announce(
            6,
            "The platform recovers",
            &format!(
                "{target} resolves again.\n\
                 The proxy still serves {host}; diagnose sees it, checks the platform\n\
                 path behind it, and says when to roll back."
            ),
            Some("failover diagnose"),
        )?;
        self.world.heal_target();
        self.journal.append(
            "event",
            json!({"what": format!("the platform DNS target {target} resolves again (simulated)")}),
        )?;
        if !self
            .diagnose("recovered", (Verdict::ProxyActive, Action::Rollback))
            .await?
        {
            return Ok(false);
        }

        self.announce(
            7,
            "Roll back",
            "rollback finds what deploy-proxy made (from Cloudflare itself), checks the platform\n\
             path is healthy, removes the Worker and its route, restores DNS and verifies.",
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
        let running = self.world.edge.runtime_pids().await;
        if !self.record(
            "rollback",
            Outcome {
                pass: exit == Exit::Success
                    && rollback.verification.verified == Some(true)
                    && running.is_empty(),
                expected: "removed, verified, the Worker stopped at the edge".to_owned(),
                observed: format!(
                    "{}, Workers running at the edge: {}",
                    applied(rollback.applied.len(), rollback.verification.verified),
                    running.len()
                ),
                diagnosis: None,
                exit: Some(exit),
            },
            started,
        )? {
            return Ok(false);
        }

        self.healthy_again(8).await
    }
}

/// Waits for the watch's change `act` done and verified; shows every event on the way.
/// `None` when the watch stopped, or `within` passed, first.
async fn wait_for(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    act: Act,
    within: Duration,
    mut seen: impl FnMut(&Event),
) -> Option<Event> {
    let until = tokio::time::Instant::now() + within;
    loop {
        let event = tokio::time::timeout_at(until, events.recv()).await.ok()??;
        seen(&event);
        if event.acted == Some(act) && event.result == Some(WatchOutcome::Ok) {
            return Some(event);
        }
    }
}

/// What a deploy or rollback stage saw: `N change(s) applied, verified: true|false|skipped`.
pub(crate) fn applied(changes: usize, verified: Option<bool>) -> String {
    format!(
        "{changes} change(s) applied, verified: {}",
        verified.map_or("skipped".to_owned(), |v| v.to_string())
    )
}

fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn action_name(a: Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The drill's human result: the timeline, the time to mitigation, where the report is.
pub fn summary(p: &Printer, doc: &DrillDoc, incident: &Incident) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.paint("Timeline", Paint::Bold));
    for m in &incident.milestones {
        let since = m
            .since_detected_ms
            .map(|ms| format!("+{}", human_duration(ms)))
            .unwrap_or_default();
        let _ = writeln!(out, "  {}  {:>9}  {}", clock(&m.at), since, m.label);
    }
    let _ = writeln!(out);
    match doc.time_to_mitigation_ms {
        Some(ms) => {
            let span = if doc.standby.is_some() {
                "the break -> the first answer from the direct origin, with no command run"
            } else {
                "outage detected -> proxy verified through the public URL"
            };
            let _ = writeln!(
                out,
                "{} {} ({span})",
                p.paint("Time to mitigation:", Paint::Bold),
                p.paint(&human_duration(ms), Paint::Green)
            );
            let _ = writeln!(
                out,
                "In October 2025 the story's team took {} minutes.",
                STORY_TTM_MS / 60_000
            );
        }
        None => {
            let _ = writeln!(
                out,
                "{} not reached",
                p.paint("Time to mitigation:", Paint::Bold)
            );
        }
    }
    if let Some(report) = &doc.standby {
        out.push_str(&report.human(p));
    }
    if let Some(w) = &doc.watch {
        let _ = writeln!(
            out,
            "{} break -> verified proxy {} (promise: interval × deploy_after + 5 s = {}); recovery -> rollback {}",
            p.paint("watch --auto:", Paint::Bold),
            w.break_to_verified_ms
                .map(human_duration)
                .unwrap_or_else(|| "not reached".to_owned()),
            human_duration(w.budget_ms),
            w.recovery_to_rollback_ms
                .map(human_duration)
                .unwrap_or_else(|| "not reached".to_owned()),
        );
    }
    let failed = doc.stages.iter().find(|s| s.outcome != "pass");
    let _ = match failed {
        None => writeln!(
            out,
            "{} all {} stages went as expected",
            p.paint("✓", Paint::Green),
            doc.stages.len()
        ),
        Some(s) => writeln!(
            out,
            "{} stage {:?} went wrong: expected {}, saw {}",
            p.paint("✗", Paint::Red),
            s.name,
            s.expected,
            s.observed
        ),
    };
    if let Some(report) = &doc.report {
        let _ = writeln!(
            out,
            "Incident report: {report}  (again any time: failover report)"
        );
    }
    crate::ui::wrap(&out, "  ", p.stdout_cols())
}

/// `07:12:03.456` from an RFC 3339 timestamp.
fn clock(ts: &str) -> String {
    ts.split_once('T')
        .map(|(_, t)| t.trim_end_matches('Z').chars().take(12).collect())
        .unwrap_or_else(|| ts.to_owned())
}
