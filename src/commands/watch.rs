//! `failover watch`: the settings, the notifiers' secrets and the runbook read once, the metrics
//! served, SIGINT/SIGTERM turned into a stop request, the loop run (`engine::watch`), each event
//! printed as it happens (a line for a person, a JSON line under `--json`). Exit 0 when stopped;
//! with `--once`, the verdict's code (0 healthy, 3 otherwise).

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::cli::WatchArgs;
use crate::engine;
use crate::engine::watch::{Options, Pace};
use crate::exit::{Exit, Fatal};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::report::diagnosis::DiagnosisDoc;
use crate::watch::{Event, Policy};
use crate::Ctx;

pub async fn run(ctx: &Ctx, args: &WatchArgs) -> Result<Exit> {
    let settings = ctx.settings(&args.probe, &args.api)?;
    // A notifier whose secret is missing is a configuration error before anything is sent.
    let notifiers = Notifier::from_specs(&settings.notify, |name| std::env::var(name).ok())?;
    let flag = args.runbook.as_deref();
    let by_path = flag.filter(|f| engine::diagnose::is_path(f)).map(Path::new);
    let catalog = ctx.runbooks(by_path)?;
    let rb = engine::diagnose::select_runbook(&catalog, flag, &settings)?;
    let journal = ctx.journal("watch")?;

    let metrics = match args.metrics {
        Some(addr) => {
            let metrics = Arc::new(Metrics::new());
            let bound = crate::metrics::serve(addr, metrics.clone())
                .await
                .map_err(|e| Fatal::usage(format!("--metrics {addr}: {e:#}")))?;
            ctx.printer
                .info(format!("serving metrics at http://{bound}/metrics"));
            Some(metrics)
        }
        None => None,
    };
    let interval = args.interval.unwrap_or(settings.watch.interval);
    let policy = Policy {
        auto: args.auto,
        deploy_after: settings.watch.deploy_after,
        rollback_after: settings.watch.rollback_after,
    };
    if !args.once {
        ctx.printer.info(format!(
            "watching {} every {}{}; Ctrl-C or SIGTERM stops (a change in flight completes first)",
            settings.service.public_url,
            humantime::format_duration(interval),
            if args.auto {
                format!(
                    ", deploying after {} failing cycles and rolling back after {} recovered ones",
                    policy.deploy_after, policy.rollback_after
                )
            } else {
                String::new()
            }
        ));
    }

    let stop = CancellationToken::new();
    stop_on_signal(stop.clone());
    let opts = Options {
        policy,
        once: args.once,
        notifiers,
        metrics,
    };
    let printer = &ctx.printer;
    let print = |event: &Event| {
        let line = if printer.json {
            serde_json::to_string(event).unwrap_or_default()
        } else {
            crate::text::sanitize(&event.line())
        };
        // A closed stdout must not stop the watch: the journal still has every event.
        let _ = printer.raw(&format!("{line}\n"));
    };
    let finished = engine::watch::run(
        printer,
        &settings,
        &rb,
        &journal,
        opts,
        Pace::Every(interval),
        stop,
        print,
    )
    .await?;
    // A scheduled `--once` reports its cycle to CI as diagnose does.
    if let Some(last) = &finished.last {
        let doc = DiagnosisDoc::new(&last.diagnosis, &last.started_at, last.elapsed_ms);
        ctx.publish_ci(&crate::report::github::diagnosis(&doc));
    }
    if finished.stopped {
        ctx.printer.info(format!(
            "stopped after {} cycle(s); `failover report` shows the timeline",
            finished.cycles
        ));
    }
    Ok(match (args.once, &finished.verdict) {
        // Stopped before its one cycle had a verdict: a scheduled job must not read it as healthy.
        (true, None) => Exit::Interrupted,
        (true, Some(_)) => finished.exit(),
        (false, _) => Exit::Success,
    })
}

/// SIGINT or SIGTERM asks the watch to stop; the watch decides when (after a change in flight).
/// The handlers are installed before this returns, so no signal sent from then on is missed.
fn stop_on_signal(stop: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::spawn(async move {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
                stop.cancel();
            });
            return;
        }
    }
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
}
