//! `failover deploy-proxy`: render the Worker, read live Cloudflare state, plan, confirm,
//! apply (journaled), verify through the public URL.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::apply::{apply, Applied};
use crate::cli::DeployArgs;
use crate::cloudflare::preflight::{self, explain};
use crate::cloudflare::Client;
use crate::config::Settings;
use crate::deploy::{self, DeployInput};
use crate::exit::{Exit, Fatal};
use crate::plan::Plan;
use crate::report::deployment::{Deployment, Verification, WebSocketCheck, ZoneRef};
use crate::state::{now_rfc3339, Journal};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &DeployArgs) -> Result<Exit> {
    if args.print_script {
        return super::print_script::run(ctx, args).await;
    }
    let (doc, exit) = execute(ctx, args).await?;
    // Names, patterns and record contents come from the API: untrusted on a terminal.
    ctx.printer
        .result(&doc, || crate::text::sanitize(&doc.human()))?;
    Ok(exit)
}

/// Plans, confirms, applies (journaled) and verifies; returns the document unprinted, with the
/// exit code it stands for (the drill prints it its own way).
pub async fn execute(ctx: &Ctx, args: &DeployArgs) -> Result<(Deployment, Exit)> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let settings = ctx.settings(&args.probe, &args.api)?;
    let session = preflight::session(&settings)?;
    let journal = ctx.journal("deploy-proxy")?;
    let host = settings.service.public_host().to_owned();
    let (spec, module) = super::print_script::render_script(&settings, args.template.as_deref())
        .context("cannot render the Worker")?;
    let script_name = spec.script_name;
    journal.append(
        "started",
        json!({"host": host, "script": script_name, "dry_run": args.dry_run, "force": args.force}),
    )?;

    // Round 1: the token and the zone, at once.
    let spinner = ctx.printer.progress().spinner("reading Cloudflare state");
    let (verified, zone) = tokio::join!(
        preflight::verify_token(&session),
        preflight::find_zone(&session, &settings, &host)
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
        force: args.force,
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
    }
    for w in &warnings {
        ctx.printer.warn(w);
    }
    let mut doc = Deployment {
        schema: Deployment::SCHEMA,
        dry_run: args.dry_run,
        host: host.clone(),
        script: script_name.clone(),
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

    if args.dry_run {
        doc.api_calls = client.calls();
        doc.elapsed_ms = started.elapsed().as_millis() as u64;
        journal.append("finished", json!({"dry_run": true}))?;
        return Ok((doc, Exit::Success));
    }

    if !plan.is_empty() {
        ctx.printer.info(format!(
            "Plan for {host} (zone {}):\n{}",
            zone.name,
            crate::text::sanitize(&plan.render())
        ));
        let consent = deploy::consent_needed(&plan);
        let question = if consent.is_empty() {
            format!("Deploy the emergency proxy {script_name} for {host}?")
        } else {
            format!(
                "Deploy the emergency proxy {script_name} for {host}, and {}?",
                consent.join(", and ")
            )
        };
        doc.applied = confirm_and_apply(
            ctx,
            client,
            &journal,
            &plan,
            &question,
            "failover deploy-proxy",
        )
        .await?;
    }

    if !args.no_verify {
        let spinner = ctx
            .printer
            .progress()
            .spinner(format!("verifying {}", settings.service.public_url));
        doc.verification = verify(&settings, &script_name).await;
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

async fn verify(settings: &Settings, script: &str) -> Verification {
    let (ok, check) =
        crate::verify::await_marker(settings, script, true, 10, Duration::from_secs(1)).await;
    let websocket = match &settings.service.websocket_path {
        Some(path) if ok => {
            let result = crate::verify::websocket(settings, path).await;
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

/// A plan that stopped part way: exit 5, saying what was done and how to converge.
/// The one path from a plan to API calls, for deploy-proxy and rollback alike: ask (a refusal
/// changes nothing, exit 4), then apply with the journal; a failed step ends in exit 5 naming
/// what was done and how to converge.
pub(crate) async fn confirm_and_apply(
    ctx: &Ctx,
    client: &Client,
    journal: &Journal,
    plan: &Plan,
    question: &str,
    rerun: &str,
) -> Result<Vec<Applied>> {
    if !ctx.printer.confirm(question, "rerun with --yes to apply")? {
        journal.append("declined", json!({}))?;
        return Err(Fatal::refused("declined; nothing changed").into());
    }
    let spinner = ctx.printer.progress().spinner("applying");
    let result = apply(client, journal, plan).await;
    spinner.clear();
    result.map_err(|e| crate::apply::failure(journal, e, rerun))
}
