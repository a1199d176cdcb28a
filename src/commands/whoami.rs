//! `failover whoami`: which account and zone the token reaches and which of the permissions
//! deploy and rollback need it holds. Read-only calls only; exit 0 when deploy and rollback
//! could succeed, 2 when not.

use std::time::Instant;

use anyhow::Result;

use crate::cli::{ProbeArgs, WhoamiArgs};
use crate::cloudflare::preflight::{self, explain};
use crate::cloudflare::ApiError;
use crate::exit::{exit_of, Exit};
use crate::report::deployment::ZoneRef;
use crate::report::whoami::{self, judge, Access, AccountInfo, TokenInfo, Whoami};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &WhoamiArgs) -> Result<Exit> {
    let started = Instant::now();
    let settings = ctx.settings(&ProbeArgs::default(), &args.api)?;
    let session = preflight::session(&settings)?;
    let client = &session.client;
    let host = settings.service.public_host().to_owned();
    let spinner = ctx
        .printer
        .progress()
        .spinner("asking Cloudflare who this token is");

    // An invalid token ends here (exit 2, with how to fix it): nothing else can be asked.
    let (token, accounts, zone) = tokio::join!(
        client.verify_token(Some(&session.account_id)),
        client.accounts(),
        preflight::find_zone(&session, &settings, &host),
    );
    let token = token.map_err(explain)?;
    let mut problems = Vec::new();
    if token.status != "active" {
        problems.push(format!(
            "the token is {}, not active: create a new one",
            crate::text::sanitize(&token.status)
        ));
    }
    // Account names need a permission deploy does not; without it the id alone is shown.
    let name = match accounts {
        Ok(list) => list
            .into_iter()
            .find(|a| a.id == session.account_id)
            .map(|a| a.name),
        Err(e) if refused(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let zone_read = match zone {
        Ok(zone) => Ok(zone),
        // A zone that is not there, or not readable, is the answer, not a failure to run.
        Err(e) if exit_of(&e) == Exit::Usage => Err(format!("{e:#}")),
        Err(e) => return Err(e),
    };

    let mut checks = Vec::new();
    let (dns, routes, scripts) = match &zone_read {
        Ok(zone) => {
            let (dns, routes, scripts) = tokio::join!(
                client.dns_records(&zone.id, &host),
                client.routes(&zone.id),
                client.scripts_tagged(&session.account_id, crate::cloudflare::MANAGED_TAG),
            );
            (Some(access(dns)?), Some(access(routes)?), access(scripts)?)
        }
        Err(_) => (
            None,
            None,
            access(
                client
                    .scripts_tagged(&session.account_id, crate::cloudflare::MANAGED_TAG)
                    .await,
            )?,
        ),
    };
    spinner.clear();
    let listed = zone_read
        .as_ref()
        .ok()
        .and_then(|z| z.permissions.as_deref());
    checks.push(judge(
        "Workers Scripts Edit (account)",
        None,
        Some("Workers Scripts Edit"),
        &scripts,
    ));
    match &zone_read {
        Ok(_) => checks.push(judge("Zone Read (zone)", listed, None, &Access::Allowed)),
        Err(message) if message.contains("refused the token") => {
            checks.push(whoami::PermissionCheck {
                permission: "Zone Read (zone)",
                state: whoami::PermissionState::Missing,
                how: "refused: the zones cannot be read".to_owned(),
            });
            problems.push(
                "add Zone Read (zone) to the token (My Profile > API Tokens > Edit)".to_owned(),
            );
        }
        // No zone holds the host: a configuration matter, said as the config error says it.
        Err(message) => problems.push(message.clone()),
    }
    if let Some(routes) = &routes {
        checks.push(judge(
            "Workers Routes Edit (zone)",
            listed,
            Some("#worker:edit"),
            routes,
        ));
    }
    if let Some(dns) = &dns {
        checks.push(judge(
            "DNS Edit (zone)",
            listed,
            Some("#dns_records:edit"),
            dns,
        ));
    }
    for c in &checks {
        if c.state == whoami::PermissionState::Missing && zone_read.is_ok() {
            problems.push(format!(
                "add {} to the token (My Profile > API Tokens > Edit)",
                c.permission
            ));
        }
    }
    let ready = Whoami::is_ready(token.status == "active", zone_read.is_ok(), &checks);
    let doc = Whoami {
        schema: whoami::SCHEMA,
        token: TokenInfo {
            id: token.id,
            status: token.status,
        },
        account: AccountInfo {
            id: session.account_id.clone(),
            name,
        },
        host,
        zone: zone_read.as_ref().ok().map(|z| ZoneRef {
            id: z.id.clone(),
            name: z.name.clone(),
        }),
        permissions: checks,
        ready,
        problems,
        api_calls: client.calls(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    // Names and messages come from the API: untrusted on a terminal.
    ctx.printer
        .result(&doc, || crate::text::sanitize(&doc.human()))?;
    Ok(if ready { Exit::Success } else { Exit::Usage })
}

fn refused(e: &ApiError) -> bool {
    matches!(e, ApiError::Auth { .. } | ApiError::Permission { .. })
}

/// A read's answer as access: a refusal is the answer; anything else that failed is an error.
fn access<T>(answer: Result<T, ApiError>) -> Result<Access> {
    match answer {
        Ok(_) => Ok(Access::Allowed),
        Err(e) if refused(&e) => Ok(Access::Refused(e.to_string())),
        Err(e) => Err(e.into()),
    }
}
