//! `failover status`: is an emergency proxy live, since when, which routes, and is the
//! platform path healthy yet.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::cli::StatusArgs;
use crate::cloudflare::preflight::{self, explain};
use crate::exit::Exit;
use crate::recorded::RollbackState;
use crate::report::deployment::{RecordState, Status, ZoneRef};
use crate::worker::Mode;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &StatusArgs) -> Result<Exit> {
    let started = Instant::now();
    let settings = ctx.settings(&args.probe, &args.api)?;
    let session = preflight::session(&settings)?;
    let host = settings.service.public_host().to_owned();
    let script_name = crate::worker::script_name(&host);
    let client = &session.client;

    let spinner = ctx.printer.progress().spinner("reading Cloudflare state");
    // Everything at once: our script, the zone, the public URL, the platform path.
    let (script, zone, public, platform) = tokio::join!(
        client.script_settings(&session.account_id, &script_name),
        preflight::find_zone(&session, &settings, &host),
        crate::engine::verify::public_marker(&settings),
        crate::engine::verify::platform_health(&settings, None)
    );
    let script = script
        .map_err(explain)
        .context("cannot read the script's settings")?;
    let zone = zone?;
    let state = script.as_ref().and_then(RollbackState::from_settings);
    let (routes, records) =
        tokio::join!(client.routes(&zone.id), client.dns_records(&zone.id, &host));
    spinner.clear();
    let routes = routes
        .map_err(explain)
        .context("cannot list the zone's Worker routes")?;
    let records = records
        .map_err(explain)
        .context("cannot read the DNS records")?;
    // Without a configured target, the platform path is judged by the record's CNAME target.
    let platform = match (
        &settings.service.dns_target,
        records.iter().find(|r| r.record_type == "CNAME"),
    ) {
        (None, Some(cname)) => {
            crate::engine::verify::platform_health(&settings, Some(&cname.content)).await
        }
        _ => platform,
    };

    let dns_records = match &state {
        Some(st) => st
            .dns_records
            .iter()
            .map(|rec| RecordState {
                name: rec.name.clone(),
                record_type: rec.record_type.clone(),
                proxied: records.iter().find(|r| r.id == rec.id).map(|r| r.proxied),
                proxied_before: rec.proxied_before,
            })
            .collect(),
        None => records
            .iter()
            .map(|r| RecordState {
                name: r.name.clone(),
                record_type: r.record_type.clone(),
                proxied: Some(r.proxied),
                proxied_before: r.proxied,
            })
            .collect(),
    };
    let deployed = script.is_some() && state.is_some();
    let routes: Vec<_> = routes
        .into_iter()
        .filter(|r| r.script.as_deref() == Some(script_name.as_str()))
        .collect();
    // A route naming our script after the script was deleted (a rollback that raced a
    // deploy): requests there fail at the edge, whatever the platform does.
    let orphaned_routes = script.is_none() && !routes.is_empty();
    let standby = state.as_ref().is_some_and(|s| s.mode == Mode::Standby);
    let action = if orphaned_routes {
        // Removing the orphan helps only once the platform answers; until then a deploy
        // puts the proxy back behind the route.
        if platform.healthy {
            "rollback"
        } else {
            "deploy-proxy"
        }
    } else if deployed && standby {
        // A standby proxy is meant to stay through health and failure alike.
        "none"
    } else {
        Status::next_action(
            deployed,
            platform.healthy,
            crate::report::deployment::public_ok(&public),
        )
    };
    let doc = Status {
        schema: Status::SCHEMA,
        host: host.clone(),
        script: script_name.clone(),
        deployed,
        mode: state.as_ref().map(|s| s.mode),
        since: state.as_ref().map(|s| s.created_at.clone()),
        deployed_by_version: state.as_ref().map(|s| s.tool_version.clone()),
        zone: Some(ZoneRef {
            id: zone.id.clone(),
            name: zone.name.clone(),
        }),
        routes,
        orphaned_routes,
        dns_records,
        public_url: public,
        platform,
        action,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    if let Ok(journal) = ctx.journal("status") {
        let _ = journal.append(
            "status",
            serde_json::json!({"deployed": doc.deployed, "action": doc.action}),
        );
    }
    // Names, patterns and record contents come from the API: untrusted on a terminal.
    ctx.printer
        .result(&doc, || crate::text::sanitize(&doc.human()))?;
    ctx.publish_ci(&crate::report::github::status(&doc));
    Ok(Exit::Success)
}
