//! Diagnose a service: the runbook's steps made concrete, every check at once under one
//! deadline (`probe::gather`), the pure verdict (`diagnose::decide`) with what the runbook adds,
//! journaled. Progress only goes to the printer; the result comes back unprinted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::json;

use crate::cloudflare::preflight::{self, Session};
use crate::cloudflare::DnsRecord;
use crate::config::Settings;
use crate::diagnose::{self, evidence_line, CheckReport, ErrorKind, Status, Verdict};
use crate::exit::{Exit, Fatal};
use crate::observation::{Check, DnsTarget, Observation, Outcome};
use crate::probe::{self, Prober, Watch};
use crate::runbook::{self, Catalog, Runbook, Skipped, StepPlan};
use crate::state::{now_rfc3339, Journal};
use crate::text::excerpt;
use crate::ui::{Printer, Progress, Spinner};

/// A finished diagnosis, journaled and not yet printed, with the runbook's steps and the
/// checks each one stands for (what the walk-through shows).
pub struct Diagnosed {
    pub diagnosis: diagnose::Diagnosis,
    pub started_at: String,
    pub elapsed_ms: u64,
    pub runbook: Runbook,
    pub steps: Vec<StepPlan>,
    /// For each step, the reports of its checks (indices into `diagnosis.checks`).
    pub by_step: Vec<Vec<usize>>,
    /// What could not be read beside the checks (already shown on stderr).
    pub warnings: Vec<String>,
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

    /// The reports of one step's checks, in the order they were planned.
    pub fn step_reports(&self, step: usize) -> Vec<&CheckReport> {
        self.by_step
            .get(step)
            .map(|ix| ix.iter().map(|i| &self.diagnosis.checks[*i]).collect())
            .unwrap_or_default()
    }
}

/// Gathers, decides and journals under the deadline, which counts from `start` (the command's
/// own start, so reading the config counts too). Prints only progress.
pub async fn run(
    printer: &Printer,
    settings: &Settings,
    rb: &Runbook,
    journal: &Journal,
    start: Instant,
) -> Result<Diagnosed> {
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
    let done = observe(printer, settings, rb, start).await;
    for warning in &done.warnings {
        journal.append("warning", json!({ "message": warning }))?;
    }
    record(
        journal,
        &done.diagnosis,
        done.elapsed_ms,
        Default::default(),
    )?;
    Ok(done)
}

/// Gathers and decides under the deadline, journaling nothing: `watch` journals only the
/// cycles whose verdict changed. Prints only progress and warnings.
pub async fn observe(
    printer: &Printer,
    settings: &Settings,
    rb: &Runbook,
    start: Instant,
) -> Diagnosed {
    let plans = runbook::plan(rb, settings);
    let started_at = now_rfc3339();

    let checks: Vec<Check> = plans.iter().flat_map(|p| p.checks.clone()).collect();
    let layout = Layout::new(&plans);
    // A twentieth of the deadline (at most 250 ms) is kept for deciding, journaling, printing
    // and leaving, so the process as a whole ends by the deadline.
    let reserve = (settings.probe.deadline / 20).min(Duration::from_millis(250));
    let deadline = settings
        .probe
        .deadline
        .saturating_sub(start.elapsed() + reserve);
    // A team's `cloudflare_record` steps read the zone beside the probes, under the same deadline.
    let wanted: Vec<(usize, String)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.cloudflare_record.clone().map(|name| (i, name)))
        .collect();
    let ids: Vec<String> = plans.iter().map(|p| p.step.id.clone()).collect();
    let records = tokio::spawn(read_records(settings.clone(), ids, wanted, deadline));
    let lookup = lookup_target(settings, deadline);
    let from_record = lookup
        .clone()
        .map(|l| l.map(|read| read.ok().flatten()).boxed());
    let watch = Spinners {
        progress: printer.progress(),
        live: Mutex::new(HashMap::new()),
    };
    let prober = Prober::new(settings);
    let (observations, target) =
        probe::gather(settings, &prober, checks, from_record, deadline, &watch).await;
    let elapsed = start.elapsed();
    let mut warnings = Vec::new();
    // Bounded by the deadline like the probes, so this wait is over by the time they are.
    if let Some(lookup) = lookup {
        if let Err(why) = lookup.await {
            let warning = format!(
                "cannot read the DNS target from the Cloudflare record of {}: {}",
                settings.service.public_host(),
                excerpt(&why, 300)
            );
            printer.warn(&warning);
            warnings.push(warning);
        }
    }
    let records = records.await.unwrap_or_default();
    let (diagnosis, by_step) = conclude(&plans, &layout, &observations, target.as_ref(), &records);
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    Diagnosed {
        diagnosis,
        started_at,
        elapsed_ms,
        runbook: rb.clone(),
        steps: plans,
        by_step,
        warnings,
    }
}

/// `--runbook NAME|PATH` (`flag`), else `service.runbook`, else the one whose suffixes match
/// the origins or the DNS target, else the generic one. `catalog` knows every runbook but one
/// named by path.
pub fn select_runbook(
    catalog: &Catalog,
    flag: Option<&str>,
    settings: &Settings,
) -> Result<Runbook> {
    let configured = match flag {
        // A file given by path is the runbook to run, whatever its id.
        Some(p) if is_path(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Fatal::usage(format!("--runbook {}: {e}", excerpt(p, 200))))?;
            let rb = runbook::parse(p, &text).map_err(|e| Fatal::usage(e.to_string()))?;
            return Ok(rb);
        }
        Some(name) => Some(name),
        None => settings.service.runbook.as_deref(),
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

/// Whether `--runbook` names a file rather than a runbook id.
pub fn is_path(flag: &str) -> bool {
    flag.ends_with(".toml") || flag.contains('/') || Path::new(flag).is_file()
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
/// could not run here as skipped checks. Also which reports belong to which step.
fn conclude(
    plans: &[StepPlan],
    layout: &Layout,
    observations: &[Observation],
    target: Option<&DnsTarget>,
    records: &[(usize, CheckReport)],
) -> (diagnose::Diagnosis, Vec<Vec<usize>>) {
    let mut d = diagnose::decide(observations, target);
    let mut by_step = vec![Vec::new(); plans.len()];
    for (index, observation) in observations.iter().enumerate() {
        if let Some(step) = layout.step_of(index) {
            by_step[step].push(index);
        }
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
    for (step, p) in plans.iter().enumerate() {
        let read = records
            .iter()
            .filter(|(s, _)| *s == step)
            .map(|(_, r)| r.clone());
        for report in read.chain(p.skipped.iter().map(skipped_report)) {
            by_step[step].push(d.checks.len());
            d.evidence.push(evidence_line(&report));
            d.checks.push(report);
        }
    }
    (d, by_step)
}

/// A step's check that could not run here, as the document shows it.
fn skipped_report(s: &Skipped) -> CheckReport {
    CheckReport {
        id: s.id.clone(),
        kind: s.kind,
        target: s.target.clone(),
        resolver: None,
        status: Status::Skip,
        error: None,
        detail: s.reason.clone(),
        elapsed_ms: 0,
    }
}

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

/// Journals a diagnosis: each check, then the verdict with `extra` fields (a watch adds its
/// cycle and the previous verdict).
pub(crate) fn record(
    journal: &Journal,
    d: &diagnose::Diagnosis,
    elapsed_ms: u64,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    for check in &d.checks {
        journal.append("check", serde_json::to_value(check)?)?;
    }
    let mut verdict = json!({
        "verdict": d.verdict,
        "action": d.action,
        "scope": d.scope,
        "summary": d.summary,
        "dns_target": d.dns_target,
        "elapsed_ms": elapsed_ms,
    });
    if let Some(fields) = verdict.as_object_mut() {
        fields.extend(extra);
    }
    journal.append("verdict", verdict)
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

    /// Each report belongs to the step that planned its check; the target checks the run adds
    /// belong to the step that learns the target, and skipped checks to their own step.
    #[test]
    fn reports_are_grouped_by_step() {
        let mut skipping = plan("s", 0, false);
        skipping.skipped.push(Skipped {
            id: "extra.s".into(),
            kind: "cloudflare_record",
            target: "api.example.com".into(),
            reason: "needs a token".into(),
        });
        let plans = [
            plan("a", 2, false),
            plan("t", 0, true),
            plan("c", 1, false),
            skipping,
        ];
        let layout = Layout::new(&plans);
        assert_eq!(layout.owner, [0, 0, 2]);
        assert_eq!(layout.step_of(3), Some(1), "a learned target check");
        let learned = answered(http_check("dns.target", Role::Target), 200);
        let observations = vec![
            answered(plans[0].checks[0].clone(), 200),
            answered(plans[0].checks[1].clone(), 200),
            answered(plans[2].checks[0].clone(), 200),
            learned,
        ];
        let (d, by_step) = conclude(&plans, &layout, &observations, None, &[]);
        assert_eq!(by_step, [vec![0, 1], vec![3], vec![2], vec![4]]);
        assert_eq!(d.checks[4].id, "extra.s");
    }

    /// A team's expected status decides its own check, and never the verdict; steps that cannot
    /// run here join the document as skipped.
    #[test]
    fn expected_status_and_skips_join_the_diagnosis() {
        let mut ours = plan("ping", 1, false);
        ours.expect_status = Some(204);
        let mut record = plan("record", 0, false);
        record.skipped.push(Skipped {
            id: "extra.record".into(),
            kind: "cloudflare_record",
            target: "api.example.com".into(),
            reason: "needs a token".into(),
        });
        let mut public = plan("public", 0, false);
        public.checks = vec![http_check("http.public", Role::Public)];
        let plans = [public, ours, record];
        let layout = Layout::new(&plans);
        let observations = vec![
            answered(plans[0].checks[0].clone(), 200),
            answered(plans[1].checks[0].clone(), 200),
        ];
        let (d, _) = conclude(&plans, &layout, &observations, None, &[]);
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
        let (d, _) = conclude(&plans, &layout, &observations, None, &[]);
        assert_eq!(d.checks[1].status, Status::Pass);
    }
}
