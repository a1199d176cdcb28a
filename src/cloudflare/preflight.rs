//! Before anything changes: a client from the settings, a token that works, the zone that
//! holds the host. Whatever is missing is explained with how to fix it (exit 2).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Result;

use super::{ApiError, Client, RetryPolicy, Zone};
use crate::config::Settings;
use crate::exit::Fatal;

const PERMISSIONS: &str =
    "Workers Scripts Edit (account), Workers Routes Edit, DNS Edit and Zone Read (zone)";

/// A client and the account it acts in.
pub struct Session {
    pub client: Client,
    pub account_id: String,
}

/// Builds the client, or says which setting is missing (exit 2, nothing sent).
pub fn session(settings: &Settings) -> Result<Session> {
    let cf = &settings.cloudflare;
    let Some(token) = cf.token.clone() else {
        return Err(Fatal::usage(format!(
            "no Cloudflare API token: set CLOUDFLARE_API_TOKEN or pass --api-token-file PATH \
             (create one under My Profile > API Tokens with {PERMISSIONS}); even --dry-run reads \
             live Cloudflare state. Offline, `failover deploy-proxy --print-script` shows the \
             Worker it would deploy"
        ))
        .into());
    };
    let Some(account_id) = cf.account_id.clone().filter(|a| !a.trim().is_empty()) else {
        return Err(Fatal::usage(
            "no Cloudflare account id: set [cloudflare].account_id in failover.toml or \
             CLOUDFLARE_ACCOUNT_ID (the dashboard shows it on any zone's overview page)",
        )
        .into());
    };
    let mut client = Client::new(cf.api_base.clone(), token, RetryPolicy::from_env())?;
    // On a terminal the spinner shows that work goes on; elsewhere (CI, a pipe) a long silent
    // wait looks like a hang, so each one gets a line on stderr saying what it waits for.
    if !std::io::stderr().is_terminal() {
        client = client.announce_waits(Arc::new(|line: &str| {
            let _ = writeln!(std::io::stderr(), "failover: {line}");
        }));
    }
    Ok(Session { client, account_id })
}

/// Turns an authentication or permission failure during preflight into exit 2: nothing
/// changed, and the fix is in the token's configuration.
pub fn explain(err: ApiError) -> anyhow::Error {
    match &err {
        ApiError::Auth { .. } | ApiError::Permission { .. } => {
            // The Fatal is the root of the chain so that the exit code is found; the API's
            // own words go into its message.
            Fatal::usage(format!(
                "the Cloudflare API refused the token: {err}; it needs {PERMISSIONS}"
            ))
            .into()
        }
        _ => err.into(),
    }
}

/// Checks the token is valid and active (this proves validity, not permissions).
pub async fn verify_token(session: &Session) -> Result<()> {
    let status = session
        .client
        .verify_token(Some(&session.account_id))
        .await
        .map_err(explain)?;
    if status.status != "active" {
        return Err(Fatal::usage(format!(
            "the Cloudflare API token is {}, not active; create a new one with {PERMISSIONS}",
            crate::text::sanitize(&status.status)
        ))
        .into());
    }
    Ok(())
}

/// The zone that holds `host`: `[cloudflare].zone` (a name or an id) when set, else the
/// longest active zone among the host's parent names, all asked at once.
pub async fn find_zone(session: &Session, settings: &Settings, host: &str) -> Result<Zone> {
    let client = &session.client;
    let account = Some(session.account_id.as_str());
    if let Some(z) = settings.cloudflare.zone.as_deref() {
        let zone = if is_zone_id(z) {
            match client.zone(z).await {
                Ok(zone) => Some(zone),
                Err(ApiError::NotFound { .. }) => None,
                Err(e) => return Err(explain(e)),
            }
        } else {
            client
                .zones_named(z, account)
                .await
                .map_err(explain)?
                .into_iter()
                .next()
        };
        return match zone {
            // A zone id reaches any zone the token can see, in any account: writes would then
            // go to two accounts (the script to ours, the route and the record to the zone's).
            Some(zone)
                if zone
                    .account
                    .as_ref()
                    .is_some_and(|a| a.id != session.account_id) =>
            {
                Err(Fatal::usage(format!(
                    "[cloudflare].zone = {z:?} is zone {} of account {}, not of account {} \
                     (account_id): set account_id to the zone's account, or zone to a zone of \
                     account {}; nothing was changed",
                    crate::text::sanitize(&zone.name),
                    crate::text::sanitize(zone.account.as_ref().map_or("", |a| a.id.as_str())),
                    session.account_id,
                    session.account_id
                ))
                .into())
            }
            Some(zone) if zone.status.as_deref().is_none_or(|s| s == "active") => Ok(zone),
            Some(zone) => Err(Fatal::usage(format!(
                "zone {} is {}, not active: a Worker route needs an active zone",
                zone.name,
                crate::text::sanitize(zone.status.as_deref().unwrap_or("unknown"))
            ))
            .into()),
            None => Err(Fatal::usage(format!(
                "[cloudflare].zone = {z:?} is not a zone of account {}: set it to the zone's name \
                 (e.g. example.com) or its id",
                session.account_id
            ))
            .into()),
        };
    }
    let labels: Vec<&str> = host.split('.').collect();
    // Every parent name with at least two labels, longest first: api.eu.example.com,
    // eu.example.com, example.com.
    let candidates: Vec<String> = (0..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect();
    let answers = futures::future::join_all(
        candidates
            .iter()
            .map(|name| client.zones_named(name, account)),
    )
    .await;
    for answer in answers {
        let zones = answer.map_err(explain)?;
        // The query names the account already; checking again costs nothing and keeps a zone
        // of another account out even if the filter were ignored.
        if let Some(zone) = zones.into_iter().find(|z| {
            z.status.as_deref().is_none_or(|s| s == "active")
                && z.account
                    .as_ref()
                    .is_none_or(|a| a.id == session.account_id)
        }) {
            return Ok(zone);
        }
    }
    Err(Fatal::usage(format!(
        "no active zone of account {} holds {host}: add the domain to Cloudflare, or set \
         [cloudflare].zone in failover.toml to the zone's name or id",
        session.account_id
    ))
    .into())
}

fn is_zone_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
