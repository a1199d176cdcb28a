//! Roll back: find what deploy-proxy made (from Cloudflare itself), check that the platform
//! path is healthy again, confirm, remove it and restore DNS (journaled), verify.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::cloudflare::preflight::{self, explain};
use crate::cloudflare::MANAGED_TAG;
use crate::config::Settings;
use crate::exit::{Exit, Fatal};
use crate::recorded::RollbackState;
use crate::report::deployment::{Rollback, Verification};
use crate::rollback::{self as plan_rollback, RollbackInput};
use crate::state::{now_rfc3339, Journal};
use crate::ui::Printer;

/// How to roll back, from the command's flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Plan and show the diff; change nothing.
    pub dry_run: bool,
    /// Roll back although the platform path still fails.
    pub force: bool,
}

/// Checks, confirms, applies (journaled) and verifies; returns the document unprinted, with the
/// exit code it stands for.
pub async fn run(
    printer: &Printer,
    settings: &Settings,
    journal: &Journal,
    opts: &Options,
) -> Result<(Rollback, Exit)> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let session = preflight::session(settings)?;
    let host = settings.service.public_host().to_owned();
    let script_name = crate::worker::script_name(&host);
    let client = &session.client;
    journal.append(
        "started",
        json!({"host": host, "script": script_name, "dry_run": opts.dry_run, "force": opts.force}),
    )?;

    // Round 1: the token, our script's settings (its state), the managed scripts, at once.
    let spinner = printer.progress().spinner("reading Cloudflare state");
    let (verified, settings_found, tagged) = tokio::join!(
        preflight::verify_token(&session),
        client.script_settings(&session.account_id, &script_name),
        client.scripts_tagged(&session.account_id, MANAGED_TAG)
    );
    verified?;
    let script_settings = settings_found
        .map_err(explain)
        .context("cannot read the script's settings")?;
    let tagged = tagged
        .map_err(explain)
        .context("cannot list the account's scripts")?;
    let state = script_settings
        .as_ref()
        .and_then(RollbackState::from_settings);
    let managed = tagged
        .iter()
        .any(|s| s.id.as_deref() == Some(script_name.as_str()));
    // Only a script failover made is ever deleted: it carries our state or our tag.
    let script_exists = script_settings.is_some() && (state.is_some() || managed);
    let mut warnings = Vec::new();
    if script_settings.is_some() && !script_exists {
        warnings.push(format!(
            "a script named {script_name} exists but was not deployed by failover; left alone"
        ));
    }

    // Round 2: with state, the zone's routes and the recorded records; with no script of our
    // name at all, the host's zone's routes (one may still name the script: an orphan).
    let mut zone_id = state.as_ref().map(|s| s.zone_id.clone());
    let (routes, records) = match &state {
        Some(st) => {
            let names: Vec<String> = {
                let mut n: Vec<String> = st.dns_records.iter().map(|r| r.name.clone()).collect();
                n.dedup();
                n
            };
            let (routes, records) = tokio::join!(
                client.routes(&st.zone_id),
                futures::future::join_all(names.iter().map(|n| client.dns_records(&st.zone_id, n)))
            );
            let routes = routes
                .map_err(explain)
                .context("cannot list the zone's Worker routes")?;
            let mut all = Vec::new();
            for r in records {
                all.extend(r.map_err(explain).context("cannot read the DNS records")?);
            }
            (routes, all)
        }
        None if script_settings.is_none() => {
            let zone = preflight::find_zone(&session, settings, &host).await?;
            let routes = client
                .routes(&zone.id)
                .await
                .map_err(explain)
                .context("cannot list the zone's Worker routes")?;
            zone_id = Some(zone.id);
            (routes, Vec::new())
        }
        None => (Vec::new(), Vec::new()),
    };
    spinner.clear();

    let input = RollbackInput {
        account_id: session.account_id.clone(),
        script_name: script_name.clone(),
        script_exists,
        state: state.clone(),
        routes,
        zone_id: zone_id.clone(),
        records: records.clone(),
    };
    let plan = plan_rollback::plan(&input);
    warnings.extend(plan.warnings.iter().cloned());
    journal.append("planned", json!({"plan": &plan}))?;

    // The platform's own DNS target: configured, else what the record pointed at.
    let target = settings.service.dns_target.clone().or_else(|| {
        records
            .iter()
            .find(|r| r.record_type == "CNAME")
            .map(|r| r.content.clone())
    });
    let platform = if plan.is_empty() {
        None
    } else {
        let spinner = printer.progress().spinner("checking the platform path");
        let health = super::verify::platform_health(settings, target.as_deref()).await;
        spinner.clear();
        journal.append("platform", json!(&health))?;
        Some(health)
    };

    let mut doc = Rollback {
        schema: Rollback::SCHEMA,
        dry_run: opts.dry_run,
        host: host.clone(),
        script: script_name.clone(),
        account_id: session.account_id.clone(),
        found: script_exists || !plan.is_empty(),
        zone_id,
        mode: state.as_ref().map(|s| s.mode),
        platform: platform.clone(),
        forced: opts.force,
        plan: plan.clone(),
        applied: Vec::new(),
        verification: Verification::default(),
        warnings,
        api_calls: 0,
        started_at,
        elapsed_ms: 0,
    };
    for w in &doc.warnings {
        printer.warn(w);
    }

    if opts.dry_run && !opts.force {
        if let Some(p) = platform.as_ref().filter(|p| !p.healthy) {
            doc.warnings.push(format!(
                "the platform path still fails ({}): rollback would be refused without --force",
                p.summary()
            ));
            printer.warn(doc.warnings.last().expect("just pushed"));
        }
    }
    if opts.dry_run || plan.is_empty() {
        doc.api_calls = client.calls();
        doc.elapsed_ms = started.elapsed().as_millis() as u64;
        journal.append("finished", json!({"dry_run": opts.dry_run, "applied": 0}))?;
        return Ok((doc, Exit::Success));
    }

    if let Some(p) = platform.as_ref().filter(|p| !p.healthy) {
        if opts.force {
            printer.warn(format!(
                "the platform path still fails ({}); rolling back anyway (--force)",
                p.summary()
            ));
        } else {
            journal.append("refused", json!({"reason": "platform path still fails"}))?;
            return Err(Fatal::refused(format!(
                "the platform path still fails ({}): removing the proxy now would take {host} down again; \
                 wait for the platform to recover (`failover status`), or rerun with --force",
                p.summary()
            ))
            .into());
        }
    }

    printer.info(format!(
        "Rollback plan for {host}:\n{}",
        crate::text::sanitize(&plan.render())
    ));
    let question = format!("Remove the emergency proxy {script_name} and restore DNS for {host}?");
    doc.applied = super::apply_with_consent(
        printer,
        client,
        journal,
        &plan,
        &question,
        "failover rollback",
    )
    .await?;

    let spinner = printer.progress().spinner("verifying");
    let (ok, check) =
        super::verify::await_marker(settings, &script_name, false, 10, Duration::from_secs(1))
            .await;
    spinner.clear();
    doc.verification = Verification {
        verified: Some(ok),
        public_url: Some(check),
        websocket: None,
    };
    doc.api_calls = client.calls();
    doc.elapsed_ms = started.elapsed().as_millis() as u64;
    journal.append(
        "finished",
        json!({"applied": doc.applied.len(), "verified": ok, "api_calls": doc.api_calls}),
    )?;
    Ok((doc, if ok { Exit::Success } else { Exit::Incident }))
}
