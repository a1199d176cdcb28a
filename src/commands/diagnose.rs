//! `failover diagnose`: pick the runbook, turn its steps into checks, gather (every check at
//! once under one deadline), decide (the pure verdict), report (human or
//! `failover.diagnosis/v1`), journal. Exit 0 healthy, 3 otherwise.
//!
//! On a terminal the run is a walk-through: each step's title and why, a spinner while its
//! checks run, one line of result with the evidence a keypress away, then the verdict and an
//! offer to deploy the proxy. The checks still all run at once in the background; the walk
//! only paces what is shown.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::json;
use tokio::sync::mpsc;

use crate::cli::{ApiArgs, DeployArgs, DiagnoseArgs};
use crate::cloudflare::preflight::{self, Session};
use crate::cloudflare::DnsRecord;
use crate::config::Settings;
use crate::diagnose::{self, evidence_line, Action, CheckReport, ErrorKind, Status, Verdict};
use crate::exit::{Exit, Fatal};
use crate::observation::{Check, DnsTarget, Observation, Outcome};
use crate::probe::{self, Prober, Watch};
use crate::report::diagnosis::{render, DiagnosisDoc};
use crate::runbook::{self, Runbook, StepPlan};
use crate::state::{now_rfc3339, Journal};
use crate::text::{excerpt, sanitize};
use crate::ui::{Paint, Printer, Progress, Spinner, StepKey, Verbosity};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DiagnoseArgs) -> Result<Exit> {
    let done = execute(ctx, args).await?;
    let doc = DiagnosisDoc::new(&done.diagnosis, &done.started_at, done.elapsed_ms);
    let verbose = ctx.printer.verbosity == Verbosity::Verbose;
    ctx.printer.result(&doc, || {
        render(&ctx.printer, &done.diagnosis, done.elapsed_ms, verbose)
    })?;
    if walks(&ctx.printer) && done.diagnosis.action == Action::DeployProxy {
        return offer_deploy(ctx, args).await;
    }
    Ok(done.exit())
}

/// A person at a terminal who asked for neither `--yes` nor quiet gets the walk-through.
fn walks(printer: &Printer) -> bool {
    printer.interactive && !printer.yes && printer.verbosity != Verbosity::Quiet
}

/// A finished diagnosis, journaled and not yet printed (the drill prints it its own way).
pub struct Diagnosed {
    pub diagnosis: diagnose::Diagnosis,
    pub started_at: String,
    pub elapsed_ms: u64,
}

impl Diagnosed {
    /// 0 when healthy, 3 for any incident.
    pub fn exit(&self) -> Exit {
        if self.diagnosis.verdict == Verdict::Healthy {
            Exit::Success
        } else {
            Exit::Incident
        }
    }
}

/// Picks the runbook, gathers, decides and journals; prints only progress (and, on a terminal,
/// the walk-through).
pub async fn execute(ctx: &Ctx, args: &DiagnoseArgs) -> Result<Diagnosed> {
    // The deadline bounds the whole command, reading the config and the journal included.
    let start = Instant::now();
    let settings = ctx.settings(&args.probe, &ApiArgs::default())?;
    let rb = select_runbook(ctx, args, &settings)?;
    let plans = runbook::plan(&rb, &settings);
    let journal = ctx.journal("diagnose")?;
    let started_at = now_rfc3339();
    journal.append(
        "started",
        json!({
            "public_url": settings.service.public_url.as_str(),
            "origins": settings.service.origins.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            "resolvers": settings.dns.resolvers.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "deadline_ms": settings.probe.deadline.as_millis() as u64,
            "runbook": rb.id,
            "runbook_source": rb.source,
        }),
    )?;

    let checks: Vec<Check> = plans.iter().flat_map(|p| p.checks.clone()).collect();
    let layout = Layout::new(&plans);
    // A twentieth of the deadline (at most 250 ms) is kept for deciding, journaling, printing
    // and leaving, so the process as a whole ends by the deadline.
    let reserve = (settings.probe.deadline / 20).min(Duration::from_millis(250));
    let deadline = settings
        .probe
        .deadline
        .saturating_sub(start.elapsed() + reserve);
    let walk = walks(&ctx.printer);
    // A team's `cloudflare_record` steps read the zone beside the probes, under the same deadline.
    let wanted: Vec<(usize, String)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.cloudflare_record.clone().map(|name| (i, name)))
        .collect();
    let ids: Vec<String> = plans.iter().map(|p| p.step.id.clone()).collect();
    let reading = tokio::spawn(read_records(settings.clone(), ids, wanted, deadline));
    let records: Records = async move { reading.await.unwrap_or_default() }
        .boxed()
        .shared();
    let lookup = lookup_target(&settings, deadline);
    let from_record = lookup
        .clone()
        .map(|l| l.map(|read| read.ok().flatten()).boxed());
    let (observations, target, elapsed) = if walk {
        let steps = Steps {
            rb: &rb,
            plans: &plans,
            layout: &layout,
            records: &records,
        };
        walk_through(
            &ctx.printer,
            &settings,
            &steps,
            checks,
            from_record,
            deadline,
        )
        .await?
    } else {
        let watch = Spinners {
            progress: ctx.printer.progress(),
            live: Mutex::new(HashMap::new()),
        };
        let prober = Prober::new(&settings);
        let (observations, target) =
            probe::gather(&settings, &prober, checks, from_record, deadline, &watch).await;
        (observations, target, start.elapsed())
    };
    // Bounded by the deadline like the probes, so this wait is over by the time they are.
    if let Some(lookup) = lookup {
        if let Err(why) = lookup.await {
            let warning = format!(
                "cannot read the DNS target from the Cloudflare record of {}: {}",
                settings.service.public_host(),
                excerpt(&why, 300)
            );
            ctx.printer.warn(&warning);
            journal.append("warning", json!({ "message": warning }))?;
        }
    }
    let records = records.await;
    let diagnosis = conclude(&plans, &layout, &observations, target.as_ref(), &records);
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);

    record(&journal, &diagnosis, elapsed_ms)?;
    Ok(Diagnosed {
        diagnosis,
        started_at,
        elapsed_ms,
    })
}

/// `--runbook NAME|PATH`, else `service.runbook`, else the one whose suffixes match the
/// origins or the DNS target, else the generic one.
fn select_runbook(ctx: &Ctx, args: &DiagnoseArgs, settings: &Settings) -> Result<Runbook> {
    let flag = args.runbook.as_deref();
    let path = flag.filter(|f| f.ends_with(".toml") || f.contains('/') || Path::new(f).is_file());
    let catalog = super::runbook::catalog(ctx, path.map(Path::new))?;
    let configured = match (flag, path) {
        // A file given by path is the runbook to run, whatever its id.
        (Some(_), Some(p)) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Fatal::usage(format!("--runbook {}: {e}", excerpt(p, 200))))?;
            let rb = runbook::parse(p, &text).map_err(|e| Fatal::usage(e.to_string()))?;
            return Ok(rb);
        }
        (Some(name), None) => Some(name),
        (None, _) => settings.service.runbook.as_deref(),
    };
    let origins: Vec<&str> = settings
        .service
        .origins
        .iter()
        .filter_map(|u| u.host_str())
        .collect();
    catalog
        .pick(configured, &origins, settings.service.dns_target.as_deref())
        .cloned()
        .map_err(|m| Fatal::usage(m).into())
}

/// Which step each check belongs to: the planned checks in order, then the target checks
/// the probe layer adds once it learns the DNS target (they belong to the step that asked).
struct Layout {
    owner: Vec<usize>,
    learner: Option<usize>,
}

impl Layout {
    fn new(plans: &[StepPlan]) -> Self {
        Layout {
            owner: plans
                .iter()
                .enumerate()
                .flat_map(|(i, p)| std::iter::repeat_n(i, p.checks.len()))
                .collect(),
            learner: plans.iter().position(|p| p.learns_target),
        }
    }

    fn step_of(&self, index: usize) -> Option<usize> {
        self.owner.get(index).copied().or(self.learner)
    }
}

/// The verdict, then what the runbook adds: a team's expected statuses, and the steps that
/// could not run here as skipped checks.
fn conclude(
    plans: &[StepPlan],
    layout: &Layout,
    observations: &[Observation],
    target: Option<&DnsTarget>,
    records: &[(usize, CheckReport)],
) -> diagnose::Diagnosis {
    let mut d = diagnose::decide(observations, target);
    for (index, observation) in observations.iter().enumerate() {
        let Some(step) = layout.owner.get(index) else {
            continue;
        };
        let Some(want) = plans[*step].expect_status else {
            continue;
        };
        let before = evidence_line(&d.checks[index]);
        expect_status(&mut d.checks[index], want, observation);
        let after = evidence_line(&d.checks[index]);
        if let Some(line) = d.evidence.iter_mut().find(|e| **e == before) {
            *line = after;
        }
    }
    let added = plans.iter().enumerate().flat_map(|(step, p)| {
        records
            .iter()
            .filter(move |(s, _)| *s == step)
            .map(|(_, r)| r)
            .chain(&p.skipped)
    });
    for report in added {
        d.evidence.push(evidence_line(report));
        d.checks.push(report.clone());
    }
    d
}

/// The Cloudflare record reads of a run, by step: awaited by the walk-through at their step
/// and by the diagnosis at the end.
type Records = Shared<BoxFuture<'static, Vec<(usize, CheckReport)>>>;

/// Reads the host's DNS record in its Cloudflare zone for each `cloudflare_record` step:
/// evidence only, read-only, bounded by the deadline. A record that cannot be read is skipped
/// with the reason; no record at all is a failed check.
async fn read_records(
    settings: Settings,
    step_ids: Vec<String>,
    wanted: Vec<(usize, String)>,
    deadline: Duration,
) -> Vec<(usize, CheckReport)> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let start = Instant::now();
    let session = preflight::session(&settings);
    let reads = futures::future::join_all(
        wanted
            .iter()
            .map(|(_, name)| zone_records(&session, &settings, name)),
    );
    let results = tokio::time::timeout(deadline, reads).await;
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    wanted
        .iter()
        .enumerate()
        .map(|(i, (step, name))| {
            let (status, error, detail) = match results.as_ref().map(|r| &r[i]) {
                Err(_) => (
                    Status::Skip,
                    None,
                    "unfinished at the deadline (probe.deadline_ms)".to_owned(),
                ),
                Ok(Err(why)) => (Status::Skip, None, format!("cannot read it: {why}")),
                Ok(Ok((zone, records))) if records.is_empty() => (
                    Status::Fail,
                    Some(ErrorKind::NoRecords),
                    format!("no DNS record named {name} in zone {zone}"),
                ),
                Ok(Ok((zone, records))) => (
                    Status::Pass,
                    None,
                    records
                        .iter()
                        .map(|r| {
                            format!(
                                "{} {} ({}) in zone {zone}",
                                r.record_type,
                                r.content,
                                if r.proxied { "proxied" } else { "DNS only" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            };
            let report = CheckReport {
                id: format!("extra.{}", step_ids[*step]),
                kind: "cloudflare_record",
                target: excerpt(name, 200),
                resolver: None,
                status,
                error,
                // Names and contents come from the API: untrusted on a terminal.
                detail: excerpt(&detail, 200),
                elapsed_ms,
            };
            (*step, report)
        })
        .collect()
}

/// The DNS records named `name` in the Cloudflare zone that holds it, with the zone's name, or
/// why they cannot be read (the token cannot print, so the reason carries no secret).
async fn zone_records(
    session: &Result<Session>,
    settings: &Settings,
    name: &str,
) -> Result<(String, Vec<DnsRecord>), String> {
    let session = session.as_ref().map_err(|e| format!("{e:#}"))?;
    let zone = preflight::find_zone(session, settings, name)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let records = session
        .client
        .dns_records(&zone.id, name)
        .await
        .map_err(|e| e.to_string())?;
    Ok((zone.name, records))
}

/// What the public host's Cloudflare record says of the DNS target: a CNAME's content, `None`
/// for any other record (an address names no target), or why it could not be read.
type TargetLookup = Shared<BoxFuture<'static, Result<Option<String>, String>>>;

/// Reads the public host's Cloudflare record beside the probes, bounded by the deadline, when
/// the config names no DNS target and a token is at hand: a proxied host answers with the
/// edge's addresses, so only the record still names the platform's target. Without a token
/// nothing is sent (diagnose never asks for one).
fn lookup_target(settings: &Settings, deadline: Duration) -> Option<TargetLookup> {
    let host = settings.service.public_host();
    let named = host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_err();
    if settings.service.dns_target.is_some() || settings.cloudflare.token.is_none() || !named {
        return None;
    }
    let settings = settings.clone();
    let reading = tokio::spawn(async move {
        let session = preflight::session(&settings);
        let host = settings.service.public_host();
        match tokio::time::timeout(deadline, zone_records(&session, &settings, host)).await {
            Err(_) => Err("unfinished at the deadline (probe.deadline_ms)".to_owned()),
            Ok(read) => read.map(|(_, records)| {
                records
                    .into_iter()
                    .find(|r| r.record_type == "CNAME")
                    .map(|r| r.content)
            }),
        }
    });
    Some(
        async move {
            reading
                .await
                .unwrap_or_else(|e| Err(format!("the read stopped unexpectedly: {e}")))
        }
        .boxed()
        .shared(),
    )
}

/// A team's own HTTP step passes on exactly the status it expects.
fn expect_status(report: &mut CheckReport, want: u16, observation: &Observation) {
    let Outcome::Http(answer) = &observation.outcome else {
        return;
    };
    let Some(got) = answer.status.filter(|_| answer.failure.is_none()) else {
        return;
    };
    if got == want {
        report.status = Status::Pass;
        report.error = None;
    } else {
        report.status = Status::Fail;
        report.error = Some(ErrorKind::HttpStatus);
        report.detail = format!("{}; expected {want}", report.detail);
    }
}

fn record(journal: &Journal, d: &diagnose::Diagnosis, elapsed_ms: u64) -> Result<()> {
    for check in &d.checks {
        journal.append("check", serde_json::to_value(check)?)?;
    }
    journal.append(
        "verdict",
        json!({
            "verdict": d.verdict,
            "action": d.action,
            "scope": d.scope,
            "summary": d.summary,
            "dns_target": d.dns_target,
            "elapsed_ms": elapsed_ms,
        }),
    )
}

/// After a `deploy-proxy` verdict on a terminal: offer to deploy there and then. The deploy
/// shows its plan and asks again before it changes anything.
async fn offer_deploy(ctx: &Ctx, args: &DiagnoseArgs) -> Result<Exit> {
    let p = &ctx.printer;
    let yes = p.confirm(
        "Deploy the emergency proxy now? (the plan is shown first; nothing changes before you confirm it)",
        "",
    )?;
    if !yes {
        p.info(format!(
            "\nWhen you are ready:\n  {}  show the plan and the diff; change nothing\n  {}            put the emergency proxy in front of the direct origin",
            p.paint("failover deploy-proxy --dry-run", Paint::Cyan),
            p.paint("failover deploy-proxy", Paint::Cyan),
        ));
        return Ok(Exit::Incident);
    }
    // The plain command, as the walk-through offered it.
    let deploy = DeployArgs {
        probe: args.probe.clone(),
        ..DeployArgs::default()
    };
    super::deploy::run(ctx, &deploy).await
}

/// What the background run tells the walk-through.
enum Event {
    Started(usize),
    Finished(usize, Box<Observation>),
}

struct Events(mpsc::UnboundedSender<Event>);

impl Watch for Events {
    fn started(&self, index: usize, _check: &Check) {
        let _ = self.0.send(Event::Started(index));
    }
    fn finished(&self, index: usize, observation: &Observation) {
        let _ = self
            .0
            .send(Event::Finished(index, Box::new(observation.clone())));
    }
}

/// What the walk-through walks: the runbook, its steps made concrete, which check is whose,
/// and the Cloudflare record reads.
struct Steps<'a> {
    rb: &'a Runbook,
    plans: &'a [StepPlan],
    layout: &'a Layout,
    records: &'a Records,
}

/// The interactive run: every check starts at once in the background, and the steps are shown
/// one after the other as their checks finish.
async fn walk_through(
    p: &Printer,
    settings: &Settings,
    steps: &Steps<'_>,
    checks: Vec<Check>,
    from_record: Option<probe::CloudflareTarget<'static>>,
    deadline: Duration,
) -> Result<(Vec<Observation>, Option<DnsTarget>, Duration)> {
    let Steps {
        rb,
        plans,
        layout,
        records,
    } = *steps;
    let start = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let background = {
        let settings = settings.clone();
        let prober = Prober::new(&settings);
        tokio::spawn(async move {
            let events = Events(tx);
            let (observations, target) =
                probe::gather(&settings, &prober, checks, from_record, deadline, &events).await;
            (observations, target, start.elapsed())
        })
    };
    // Dropping the walk (Ctrl-C) must not leave probes running behind the exit.
    let _abort = AbortOnDrop(background.abort_handle());

    p.info(format!(
        "{}\n{}\n",
        p.paint(&sanitize(&rb.title), Paint::Bold),
        p.paint(
            &format!("runbook {} · {}", rb.id, sanitize(&rb.source)),
            Paint::Dim
        )
    ));
    let mut seen = Seen::default();
    let mut stop = true;
    let total = plans.len();
    for (step, plan) in plans.iter().enumerate() {
        p.info(format!(
            "{} {}\n    {}",
            p.paint(&format!("[{}/{total}]", step + 1), Paint::Dim),
            p.paint(&sanitize(&plan.step.title), Paint::Bold),
            p.paint(&sanitize(&plan.step.why), Paint::Dim)
        ));
        let runs =
            !plan.checks.is_empty() || plan.learns_target || plan.cloudflare_record.is_some();
        if !runs && plan.skipped.is_empty() {
            let note = plan
                .note
                .as_deref()
                .unwrap_or("skipped: nothing to check here");
            p.info(format!(
                "    {} {}\n",
                p.paint("-", Paint::Dim),
                sanitize(note)
            ));
            continue;
        }
        let spinner = runs.then(|| p.progress().spinner("checking…"));
        while !seen.step_done(step, layout) {
            match rx.recv().await {
                Some(Event::Started(index)) => {
                    if index >= layout.owner.len() {
                        seen.learned.insert(index);
                    }
                }
                Some(Event::Finished(index, observation)) => {
                    seen.finished.insert(index, *observation);
                }
                None => seen.all_done = true,
            }
        }
        let mut reports = seen.reports(step, plans, layout);
        if plan.cloudflare_record.is_some() {
            let read = records.clone().await;
            reports.extend(read.into_iter().filter(|(s, _)| *s == step).map(|(_, r)| r));
        }
        if let Some(s) = spinner {
            s.clear();
        }
        p.info(format!("    {}", step_line(p, plan, &reports)));
        if !stop {
            continue;
        }
        loop {
            let key = {
                let p = p.clone();
                tokio::task::spawn_blocking(move || {
                    p.step_key("e: evidence · Enter: next step · a: run to the end")
                })
                .await??
            };
            match key {
                StepKey::Evidence => {
                    for r in &reports {
                        p.info(format!("      {}", sanitize(&evidence_line(r))));
                    }
                }
                StepKey::All => {
                    stop = false;
                    break;
                }
                StepKey::Next => break,
            }
        }
        p.info("");
    }
    drop(rx);
    background
        .await
        .map_err(|e| anyhow::anyhow!("the checks stopped unexpectedly: {e}"))
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the walk-through has heard from the background run so far.
#[derive(Default)]
struct Seen {
    finished: HashMap<usize, Observation>,
    /// Target checks added at run time (indices past the planned ones).
    learned: BTreeSet<usize>,
    all_done: bool,
}

impl Seen {
    fn step_done(&self, step: usize, layout: &Layout) -> bool {
        if self.all_done {
            return true;
        }
        let planned = layout
            .owner
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == step)
            .all(|(i, _)| self.finished.contains_key(&i));
        let learned = layout.learner != Some(step)
            || (!self.learned.is_empty()
                && self.learned.iter().all(|i| self.finished.contains_key(i)));
        planned && learned
    }

    fn reports(&self, step: usize, plans: &[StepPlan], layout: &Layout) -> Vec<CheckReport> {
        let mut indices: Vec<&usize> = self
            .finished
            .keys()
            .filter(|i| layout.step_of(**i) == Some(step))
            .collect();
        indices.sort();
        let mut reports: Vec<CheckReport> = indices
            .into_iter()
            .map(|i| {
                let observation = &self.finished[i];
                let mut report = diagnose::check_report(observation);
                if let Some(want) = plans[step].expect_status {
                    expect_status(&mut report, want, observation);
                }
                report
            })
            .collect();
        reports.extend(plans[step].skipped.iter().cloned());
        reports
    }
}

/// One line: the worst status among the step's checks, what it means, and the count.
fn step_line(p: &Printer, plan: &StepPlan, reports: &[CheckReport]) -> String {
    let worst = [Status::Fail, Status::Warn, Status::Pass, Status::Skip]
        .into_iter()
        .find(|s| reports.iter().any(|r| r.status == *s));
    let passed = reports.iter().filter(|r| r.status == Status::Pass).count();
    let count = format!("({passed}/{} checks pass)", reports.len());
    let step = &plan.step;
    match worst {
        Some(Status::Fail) => format!(
            "{} {} {}",
            p.paint("✗", Paint::Red),
            sanitize(&step.fail),
            p.paint(&count, Paint::Dim)
        ),
        Some(Status::Warn) => format!(
            "{} {} {}",
            p.paint("!", Paint::Yellow),
            sanitize(&step.fail),
            p.paint(&count, Paint::Dim)
        ),
        Some(Status::Pass) => format!(
            "{} {} {}",
            p.paint("✓", Paint::Green),
            sanitize(&step.pass),
            p.paint(&count, Paint::Dim)
        ),
        _ => format!(
            "{} skipped: {}",
            p.paint("-", Paint::Dim),
            reports
                .first()
                .map(|r| r.detail.clone())
                .unwrap_or_else(|| "the checks did not run".to_owned())
        ),
    }
}

/// One spinner per running check, on a terminal only (the printer decides).
struct Spinners {
    progress: Progress,
    live: Mutex<HashMap<usize, Spinner>>,
}

fn label(check: &Check) -> String {
    let resolver = check
        .resolver()
        .map(|r| format!(" @{r}"))
        .unwrap_or_default();
    excerpt(&format!("{} {}{resolver}", check.id, check.target()), 100)
}

impl Watch for Spinners {
    fn started(&self, index: usize, check: &Check) {
        let spinner = self.progress.spinner(label(check));
        if let Ok(mut live) = self.live.lock() {
            live.insert(index, spinner);
        }
    }

    fn finished(&self, index: usize, observation: &Observation) {
        let Some(spinner) = self.live.lock().ok().and_then(|mut l| l.remove(&index)) else {
            return;
        };
        let report = diagnose::check_report(observation);
        let mark = match report.status {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "-",
        };
        // One terminal line each: a wrapped line would tear the spinners redrawn below it.
        spinner.finish(excerpt(
            &format!("{mark} {}: {}", label(&observation.check), report.detail),
            78,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::HttpAnswer;
    use crate::observation::{Role, Spec};
    use crate::runbook::{Check as StepCheck, Step};

    fn step(id: &str) -> Step {
        Step {
            id: id.into(),
            title: "t".into(),
            why: "w".into(),
            pass: "p".into(),
            fail: "f".into(),
            check: StepCheck::Compare { name: None },
        }
    }

    fn http_check(id: &str, role: Role) -> Check {
        Check {
            id: id.into(),
            role,
            spec: Spec::Http {
                url: "http://a.test/".parse().unwrap(),
            },
            env: None,
        }
    }

    fn plan(id: &str, checks: usize, learns_target: bool) -> StepPlan {
        StepPlan {
            step: step(id),
            checks: (0..checks)
                .map(|_| http_check(&format!("extra.{id}"), Role::Extra))
                .collect(),
            learns_target,
            skipped: Vec::new(),
            note: None,
            expect_status: None,
            cloudflare_record: None,
        }
    }

    fn answered(check: Check, status: u16) -> Observation {
        Observation {
            outcome: Outcome::Http(HttpAnswer {
                url: check.target(),
                status: Some(status),
                headers: Vec::new(),
                body: String::new(),
                failure: None,
            }),
            check,
            elapsed: Duration::from_millis(1),
        }
    }

    /// A step is shown once all of its checks are in; the step that learns the DNS target
    /// waits for the target checks the run adds, or for the end of the run.
    #[test]
    fn steps_wait_for_their_own_checks() {
        let plans = [plan("a", 2, false), plan("t", 0, true), plan("c", 1, false)];
        let layout = Layout::new(&plans);
        assert_eq!(layout.owner, [0, 0, 2]);
        assert_eq!(layout.step_of(3), Some(1), "a learned target check");
        let mut seen = Seen::default();
        let obs = |i: usize| answered(plans[layout.owner[i]].checks[0].clone(), 200);
        seen.finished.insert(0, obs(0));
        assert!(!seen.step_done(0, &layout));
        seen.finished.insert(1, obs(1));
        assert!(seen.step_done(0, &layout));
        assert!(!seen.step_done(1, &layout), "the target is not known yet");
        seen.learned.insert(3);
        assert!(!seen.step_done(1, &layout));
        seen.finished.insert(3, obs(0));
        assert!(seen.step_done(1, &layout));
        assert!(!seen.step_done(2, &layout));
        seen.all_done = true;
        assert!(seen.step_done(2, &layout), "the deadline ends every step");
        assert_eq!(seen.reports(1, &plans, &layout).len(), 1);
    }

    /// A team's expected status decides its own check, and never the verdict; steps that cannot
    /// run here join the document as skipped.
    #[test]
    fn expected_status_and_skips_join_the_diagnosis() {
        let mut ours = plan("ping", 1, false);
        ours.expect_status = Some(204);
        let mut record = plan("record", 0, false);
        record.skipped.push(CheckReport {
            id: "extra.record".into(),
            kind: "cloudflare_record",
            target: "api.example.com".into(),
            resolver: None,
            status: Status::Skip,
            error: None,
            detail: "needs a token".into(),
            elapsed_ms: 0,
        });
        let mut public = plan("public", 0, false);
        public.checks = vec![http_check("http.public", Role::Public)];
        let plans = [public, ours, record];
        let layout = Layout::new(&plans);
        let observations = vec![
            answered(plans[0].checks[0].clone(), 200),
            answered(plans[1].checks[0].clone(), 200),
        ];
        let d = conclude(&plans, &layout, &observations, None, &[]);
        assert_eq!(d.verdict, Verdict::Healthy);
        let ping = &d.checks[1];
        assert_eq!(
            (ping.status, ping.error),
            (Status::Fail, Some(ErrorKind::HttpStatus))
        );
        assert!(ping.detail.ends_with("expected 204"), "{}", ping.detail);
        assert!(
            d.evidence.contains(&evidence_line(ping)),
            "{:?}",
            d.evidence
        );
        assert_eq!(d.checks[2].id, "extra.record");
        assert!(d
            .evidence
            .iter()
            .any(|e| e.starts_with("skip extra.record")));

        let observations = vec![
            answered(plans[0].checks[0].clone(), 200),
            answered(plans[1].checks[0].clone(), 204),
        ];
        let d = conclude(&plans, &layout, &observations, None, &[]);
        assert_eq!(d.checks[1].status, Status::Pass);
    }
}
