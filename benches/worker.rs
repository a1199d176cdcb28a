//! What the proxy Worker costs: the same loopback origin measured direct, behind a bare
//! passthrough Worker (the floor for any Worker proxy), and behind ours, in one process tree and
//! one run, at concurrency 1 and 50. Prints requests/s, p50 and p99 latency, and ours/bare.
//!
//! Run: `npm install && cargo bench --bench worker` (optional: `-- --requests N --rounds R`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use failover::sandbox::origin::OriginHandle;
use failover::sandbox::workerd::{self, WorkerScript, Workerd};
use failover::worker::{self, WorkerSpec};

const PATH: &str = "/health";

#[derive(Clone, Copy)]
struct Sample {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

fn main() -> Result<()> {
    let mut requests: u64 = 20_000;
    let mut rounds: usize = 3;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--requests" => requests = args.next().context("--requests N")?.parse()?,
            "--rounds" => rounds = args.next().context("--rounds R")?.parse()?,
            // cargo bench passes --bench; anything else is not ours to judge.
            _ => {}
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench(requests, rounds.max(1)))
}

async fn bench(requests: u64, rounds: usize) -> Result<()> {
    let bin = workerd::locate(std::env::var("FAILOVER_WORKERD").ok().as_deref())?;
    let origin = OriginHandle::start("bench").await?;
    let origin_url = origin.url();

    let bare_src = format!(
        "const ORIGIN = {};\n\
         export default {{\n  fetch(request) {{\n    const u = new URL(request.url);\n    \
         return fetch(new Request(ORIGIN + u.pathname + u.search, request));\n  }},\n}};\n",
        serde_json::to_string(&origin_url)?
    );
    let spec = WorkerSpec {
        script_name: worker::script_name("api.example.com"),
        public_url: "https://api.example.com".to_owned(),
        origins: vec![origin_url.clone()],
        marker_header: worker::MARKER_HEADER.to_owned(),
        attempt_timeout_ms: worker::DEFAULT_ATTEMPT_TIMEOUT.as_millis() as u64,
        retry_body_limit: worker::DEFAULT_RETRY_BODY_LIMIT,
    };
    let ours_src = worker::render(worker::TEMPLATE, &spec)?;
    let start = |script: String| {
        Workerd::start(
            &bin,
            &WorkerScript {
                script,
                bindings: vec![],
                compatibility_date: worker::COMPATIBILITY_DATE.to_owned(),
            },
        )
    };
    let bare = start(bare_src)?;
    let ours = start(ours_src)?;
    let targets = [
        ("direct", origin_url.clone()),
        ("bare", bare.url()),
        ("ours", ours.url()),
    ];

    println!(
        "workerd {}; GET {PATH}; {requests} requests per measurement at concurrency 50, {} at 1; median of {rounds} rounds",
        bin.display(),
        requests / 5
    );
    let mut results: Vec<(&str, usize, Sample)> = Vec::new();
    for concurrency in [1usize, 50] {
        let n = if concurrency == 1 {
            requests / 5
        } else {
            requests
        };
        let mut per_target: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
        // Rounds interleave the targets, so a slow spell on a shared machine hits all of them.
        for _ in 0..rounds {
            for (i, (_, url)) in targets.iter().enumerate() {
                run_load(url, concurrency, n / 10).await?; // warm-up
                per_target[i].push(run_load(url, concurrency, n).await?);
            }
        }
        for (i, (name, _)) in targets.iter().enumerate() {
            results.push((name, concurrency, median(&mut per_target[i])));
        }
    }

    println!();
    println!(
        "{:<8} {:>5} {:>12} {:>10} {:>10}",
        "target", "conc", "requests/s", "p50 ms", "p99 ms"
    );
    for (name, c, s) in &results {
        println!(
            "{:<8} {:>5} {:>12.0} {:>10.3} {:>10.3}",
            name,
            c,
            s.rps,
            ms(s.p50),
            ms(s.p99)
        );
    }
    println!();
    for c in [1usize, 50] {
        let get = |n: &str| {
            results
                .iter()
                .find(|(name, cc, _)| *name == n && *cc == c)
                .map(|(_, _, s)| *s)
                .context("missing result")
        };
        let (b, o) = (get("bare")?, get("ours")?);
        println!(
            "ours/bare at concurrency {c:>2}: requests/s {:.3}, p50 {:.3}, p99 {:.3}",
            o.rps / b.rps,
            ms(o.p50) / ms(b.p50),
            ms(o.p99) / ms(b.p99)
        );
    }
    drop((bare, ours, origin));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(samples: &mut [Sample]) -> Sample {
    samples.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    samples[samples.len() / 2]
}

/// `total` GETs spread over `concurrency` keep-alive connections; every response must be 200.
async fn run_load(base: &str, concurrency: usize, total: u64) -> Result<Sample> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = Arc::new(format!("{base}{PATH}"));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let r = client.get(url.as_str()).send().await?;
                let status = r.status();
                r.bytes().await?;
                anyhow::ensure!(status == 200, "{url} answered {status}");
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(total as usize);
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Ok(Sample {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    })
}
