//! Deploy the proxy (emergency or standby): render the Worker, read live Cloudflare state, plan, confirm,
//! apply (journaled), verify through the public URL.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::cloudflare::preflight::{self, explain};
use crate::config::Settings;
use crate::deploy::{self, DeployInput};
use crate::exit::{Exit, Fatal};
use crate::report::deployment::{Deployment, Verification, WebSocketCheck, ZoneRef};
use crate::state::{now_rfc3339, Journal};
use crate::ui::Printer;
use crate::worker::Mode;

/// How to deploy, from the command's flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plan and show the diff; change nothing.
    pub dry_run: bool,
    /// Take over a route of another script for the host's pattern.
    pub force: bool,
    /// Check the public URL (and the WebSocket path) after applying.
    pub verify: bool,
    /// Render from this template instead of the embedded one.
    pub template: Option<PathBuf>,
    /// Emergency (direct origin always) or standby (platform path first).
    pub mode: Mode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            force: false,
            verify: true,
            template: None,
            mode: Mode::Emergency,
        }
    }
}

/// Plans, confirms, applies (journaled) and verifies; returns the document unprinted, with the
/// exit code it stands for.
pub async fn run(
    printer: &Printer,
    settings: &Settings,
    journal: &Journal,
    opts: &Options,
) -> Result<(Deployment, Exit)> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let session = preflight::session(settings)?;
    let host = settings.service.public_host().to_owned();
    let (spec, module) = super::render::script(settings, opts.template.as_deref(), opts.mode)
        .context("cannot render the Worker")?;
    let script_name = spec.script_name;
    journal.append(
        "started",
        json!({"host": host, "script": script_name, "mode": opts.mode, "dry_run": opts.dry_run, "force": opts.force}),
    )?;

    // Round 1: the token and the zone, at once.
    let spinner = printer.progress().spinner("reading Cloudflare state");
    let (verified, zone) = tokio::join!(
        preflight::verify_token(&session),
        preflight::find_zone(&session, settings, &host)
    );
    verified?;
    let zone = zone?;
    // Round 2: the record, the routes, our script (if any), at once.
    let client = &session.client;
    let (records, routes, existing) = tokio::join!(
        client.dns_records(&zone.id, &host),
        client.routes(&zone.id),
        client.script_settings(&session.account_id, &script_name)
    );
    spinner.clear();
    let records = records
        .map_err(explain)
        .context("cannot read the host's DNS record")?;
    let routes = routes
        .map_err(explain)
        .context("cannot list the zone's Worker routes")?;
    let existing = existing
        .map_err(explain)
        .context("cannot read the script's settings")?;

    let input = DeployInput {
        account_id: session.account_id.clone(),
        host: host.clone(),
        script_name: script_name.clone(),
        module,
        compatibility_date: crate::worker::COMPATIBILITY_DATE.to_owned(),
        zone: zone.clone(),
        records,
        routes,
        existing,
        now: now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        force: opts.force,
        mode: opts.mode,
    };
    let plan = match deploy::plan(&input) {
        Ok(plan) => plan,
        Err(refusal) => {
            journal.append("refused", json!({"reason": refusal.to_string()}))?;
            // Every refusal leaves Cloudflare untouched: something not ours is in the way.
            return Err(Fatal::refused(format!("{refusal}; nothing changed")).into());
        }
    };
    journal.append("planned", json!({"plan": &plan}))?;

    let mut warnings = plan.warnings.clone();
    if zone.is_free_plan() {
        warnings.push(
            "zone is on the Free plan: Workers Free allows 100,000 requests a day across the \
             account; a busy API can exhaust it (Workers Paid lifts the limit)"
                .to_owned(),
        );
        if opts.mode == Mode::Standby {
            warnings.push(
                "in standby mode the Worker runs on every request, every day, not only during \
                 an incident: count your daily requests against that limit (docs/standby.md)"
                    .to_owned(),
            );
        }
    }
    for w in &warnings {
        printer.warn(w);
    }
    let mut doc = Deployment {
        schema: Deployment::SCHEMA,
        dry_run: opts.dry_run,
        host: host.clone(),
        script: script_name.clone(),
        mode: opts.mode,
        account_id: session.account_id.clone(),
        zone: ZoneRef {
            id: zone.id.clone(),
            name: zone.name.clone(),
        },
        pattern: deploy::route_pattern(&host),
        plan: plan.clone(),
        applied: Vec::new(),
        verification: Verification::default(),
        warnings,
        undo: "failover rollback".to_owned(),
        api_calls: 0,
        started_at,
        elapsed_ms: 0,
    };

    if opts.dry_run {
        doc.api_calls = client.calls();
        doc.elapsed_ms = started.elapsed().as_millis() as u64;
        journal.append("finished", json!({"dry_run": true}))?;
        return Ok((doc, Exit::Success));
    }

    if !plan.is_empty() {
        printer.info(format!(
            "Plan for {host} (zone {}):\n{}",
            zone.name,
            crate::text::sanitize(&plan.render())
        ));
        let consent = deploy::consent_needed(&plan);
        let question = if consent.is_empty() {
            format!("Deploy the {} proxy {script_name} for {host}?", opts.mode)
        } else {
            format!(
                "Deploy the {} proxy {script_name} for {host}, and {}?",
                opts.mode,
                consent.join(", and ")
            )
        };
        doc.applied = super::apply_with_consent(
            printer,
            client,
            journal,
            &plan,
            &question,
            "failover deploy-proxy",
        )
        .await?;
    }

    if opts.verify {
        let spinner = printer
            .progress()
            .spinner(format!("verifying {}", settings.service.public_url));
        doc.verification = verify(settings, &script_name).await;
        spinner.clear();
    }
    doc.api_calls = client.calls();
    doc.elapsed_ms = started.elapsed().as_millis() as u64;
    journal.append(
        "finished",
        json!({"applied": doc.applied.len(), "verified": doc.verification.verified, "api_calls": doc.api_calls}),
    )?;
    let exit = if doc.verification.verified == Some(false) {
        Exit::Incident
    } else {
        Exit::Success
    };
    Ok((doc, exit))
}

/// The marker through the public URL, then (when configured) a WebSocket upgrade.
async fn verify(settings: &Settings, script: &str) -> Verification {
    let (ok, check) =
        super::verify::await_marker(settings, script, true, 10, Duration::from_secs(1)).await;
    let websocket = match &settings.service.websocket_path {
        Some(path) if ok => {
            let result = super::verify::websocket(settings, path).await;
            Some(WebSocketCheck {
                path: path.clone(),
                upgraded: result.is_ok(),
                error: result.err(),
            })
        }
        _ => None,
    };
    Verification {
        verified: Some(ok && websocket.as_ref().is_none_or(|w| w.upgraded)),
        public_url: Some(check),
        websocket,
    }
}
