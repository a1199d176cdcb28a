//! `failover init`: gather answers (prompts on a terminal, flags otherwise), render the commented
//! `failover.toml`, validate it exactly as every other command will, then write it atomically.

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{ApiArgs, InitArgs, ProbeArgs};
use crate::config::{parse_url, Env, LoadedFile, ResolverSpec, Settings};
use crate::exit::{Exit, Fatal};
use crate::init::{check_path, guess_zone, parse_compare, render, Answers, CompareAnswer};
use crate::runbook::Catalog;
use crate::ui::Printer;
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &InitArgs) -> Result<Exit> {
    let path = ctx.config_path();
    let p = &ctx.printer;
    if path.exists() && !args.force {
        let question = format!("{} exists; overwrite it?", path.display());
        let consent =
            p.interactive && !p.yes && p.confirm(&question, "pass --force to overwrite")?;
        if !consent {
            return Err(Fatal::refused(format!(
                "{} exists and was left as it is; pass --force to overwrite it",
                path.display()
            ))
            .into());
        }
    }

    // A team's own runbook may claim this platform by its suffixes; a broken runbook file is
    // reported by `runbook list` and `diagnose`, not here, and the embedded ones still apply.
    let catalog = ctx
        .runbooks(None)
        .or_else(|_| Catalog::from_files(Vec::new()))
        .context("the embedded runbooks do not load (a bug: please report it)")?;
    let answers = gather(p, args).await?.infer(&catalog);
    let text = render(&answers)?;
    // The file must load exactly as `diagnose` will load it, before it replaces anything.
    let loaded = LoadedFile::parse(&path, text.clone()).and_then(|f| {
        Settings::resolve(
            &f,
            &Env::default(),
            &ProbeArgs::default(),
            &ApiArgs::default(),
        )
        .map(|_| ())
    });
    loaded.context("the generated config does not validate (a bug: please report it)")?;
    crate::engine::init::write_atomically(&path, &text)?;

    let doc = json!({
        "schema": "failover.init/v1",
        "path": path.display().to_string(),
        "written": true,
        "service": {
            "name": answers.name,
            "public_url": answers.public_url,
            "origin": answers.origins,
            "dns_target": answers.dns_target,
            "runbook": answers.runbook,
            "platform": answers.platform,
        },
        "compare": answers.compare.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "next": "failover diagnose",
    });
    p.result(&doc, || {
        let runbook = answers
            .runbook
            .as_deref()
            .map(|r| format!(" (runbook {r}; see: failover runbook show {r})"))
            .unwrap_or_default();
        format!(
            "wrote {}{runbook}\n\nnext: failover diagnose          see whether {} is healthy\n      failover deploy-proxy --print-script   see the Worker it would deploy\n",
            path.display(),
            answers.public_url
        )
    })?;
    Ok(Exit::Success)
}

/// Flags first; prompts for the rest on a terminal; without one, missing flags are a usage error.
async fn gather(p: &Printer, args: &InitArgs) -> Result<Answers> {
    // A mistyped --resolver is reported before any question is asked.
    let resolvers = args
        .resolvers
        .iter()
        .map(|r| ResolverSpec::parse(r).map_err(|m| Fatal::usage(format!("--resolver: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let url_ok = |s: &String| parse_url(s).map(|_| ());
    // Every flag is checked before any question is asked.
    for (flag, value) in [
        ("--health-path", &args.health_path),
        ("--websocket-path", &args.websocket_path),
    ] {
        if let Some(v) = value {
            check_path(v).map_err(|m| Fatal::usage(format!("{flag}: {m}")))?;
        }
    }
    let mut compare = args
        .compare
        .iter()
        .map(|c| {
            let answer = parse_compare(c).map_err(|m| Fatal::usage(format!("--compare: {m}")))?;
            for url in answer.public_url.iter().chain(&answer.origin) {
                checked_url("--compare", url)?;
            }
            Ok(answer)
        })
        .collect::<Result<Vec<_>>>()?;
    let public_url = match &args.public_url {
        Some(u) => checked_url("--public-url", u)?,
        None if p.interactive => {
            p.info("  e.g. https://api.example.com");
            p.input("Public URL users hit", None, url_ok)?
        }
        None => return Err(missing_flags(args)),
    };
    let host = url::Url::parse(&public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let dns_target = crate::engine::init::detect_target(p, &host, resolvers).await;
    let origins = if !args.origin.is_empty() {
        args.origin
            .iter()
            .map(|o| checked_url("--origin", o))
            .collect::<Result<Vec<_>>>()?
    } else if p.interactive {
        p.info("  e.g. https://myapp-abc123.herokuapp.com; several: comma-separated");
        let list = p.input("Direct origin URL", None, |s: &String| {
            s.split(',')
                .try_for_each(|u| parse_url(u.trim()).map(|_| ()))
        })?;
        list.split(',').map(|u| u.trim().to_owned()).collect()
    } else {
        return Err(missing_flags(args));
    };
    let path_ok = |s: &String| check_path(s.trim());
    let health_path = match &args.health_path {
        Some(h) => h.clone(),
        None if p.interactive => p
            .input("Health check path", Some("/"), path_ok)?
            .trim()
            .to_owned(),
        None => "/".to_owned(),
    };
    let websocket_path = match &args.websocket_path {
        Some(w) => Some(w.clone()),
        None if p.interactive => {
            Some(
                p.input("WebSocket path (empty: none)", Some(""), |s: &String| {
                    if s.trim().is_empty() {
                        Ok(())
                    } else {
                        check_path(s.trim())
                    }
                })?,
            )
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
        }
        None => None,
    };

    if p.interactive
        && args.compare.is_empty()
        && p.confirm(
            "Add a comparison environment (e.g. staging in another region)?",
            "",
        )?
    {
        let name = p.input("Its name", Some("staging-eu"), |s: &String| {
            if s.trim().is_empty() {
                Err("a name, please".to_owned())
            } else {
                Ok(())
            }
        })?;
        let public = p.input("Its public URL (empty: none)", Some(""), |s: &String| {
            if s.trim().is_empty() {
                Ok(())
            } else {
                parse_url(s.trim()).map(|_| ())
            }
        })?;
        let origin = p.input("Its direct origin URL", None, url_ok)?;
        let region = p.input("Its region", Some("eu"), |_: &String| Ok(()))?;
        compare.push(CompareAnswer {
            name,
            origin: Some(origin),
            region: Some(region),
            public_url: Some(public.trim().to_owned()).filter(|u| !u.is_empty()),
        });
    }

    let zone = match &args.zone {
        Some(z) => Some(z.clone()),
        None if p.interactive => {
            let guess = guess_zone(&host);
            Some(p.input(
                "Cloudflare zone (name or id)",
                guess.as_deref(),
                |s: &String| {
                    if s.trim().is_empty() {
                        Err("a zone, please".to_owned())
                    } else {
                        Ok(())
                    }
                },
            )?)
        }
        None => guess_zone(&host),
    };
    let account_id = match &args.account_id {
        Some(a) => Some(a.clone()),
        None if p.interactive => Some(p.input(
            "Cloudflare account id (empty: use CLOUDFLARE_ACCOUNT_ID)",
            Some(""),
            |_: &String| Ok(()),
        )?)
        .filter(|a| !a.trim().is_empty()),
        None => None,
    };

    Ok(Answers {
        public_url,
        origins,
        health_path,
        websocket_path,
        detected_target: dns_target.is_some(),
        dns_target,
        compare,
        zone,
        account_id,
        ..Answers::default()
    })
}

fn checked_url(flag: &str, value: &str) -> Result<String> {
    parse_url(value).map_err(|m| Fatal::usage(format!("{flag}: {m}")))?;
    Ok(value.trim().to_owned())
}

fn missing_flags(args: &InitArgs) -> anyhow::Error {
    let mut missing = Vec::new();
    if args.public_url.is_none() {
        missing.push("--public-url URL");
    }
    if args.origin.is_empty() {
        missing.push("--origin URL");
    }
    Fatal::usage(format!(
        "no terminal to ask on, so init needs {}; e.g. failover init --public-url https://api.example.com --origin https://myapp.herokuapp.com --zone example.com",
        missing.join(" and ")
    ))
    .into()
}
