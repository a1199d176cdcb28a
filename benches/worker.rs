//! What the proxy Worker costs: the same loopback origin measured direct, behind a bare
//! passthrough Worker (the floor for any Worker proxy), and behind ours, in one process tree and
//! one run, at concurrency 1 and 50. Prints requests/s, p50 and p99 latency, and ours/bare.
//!
//! Run: `npm install && cargo bench --bench worker`; options after `--`: `--requests N`,
//! `--rounds R`, `--template PATH` (measure another template as "ours").

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
    /// CPU time workerd spent per request (user + system), when the target is a workerd. On a
    /// shared machine this is steadier than throughput, which other processes steal from.
    cpu_us: Option<f64>,
}

fn main() -> Result<()> {
    let mut requests: u64 = 20_000;
    let mut rounds: usize = 5;
    let mut template: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--requests" => requests = args.next().context("--requests N")?.parse()?,
            "--rounds" => rounds = args.next().context("--rounds R")?.parse()?,
            "--template" => template = Some(args.next().context("--template PATH")?),
            // cargo bench passes --bench; anything else is not ours to judge.
            _ => {}
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let template = match template {
        Some(path) => {
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?
        }
        None => worker::TEMPLATE.to_owned(),
    };
    rt.block_on(bench(requests, rounds.max(1), &template))
}

async fn bench(requests: u64, rounds: usize, template: &str) -> Result<()> {
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
    let ours_src = worker::render(template, &spec)?;
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
    let bare = start(bare_src.clone())?;
    // The same bare Worker in a second runtime: its ratio to the first is the noise floor of
    // this machine at this moment, printed beside ours/bare so the latter can be judged.
    let bare_again = start(bare_src)?;
    let ours = start(ours_src)?;
    let targets = [
        ("direct", origin_url.clone(), None),
        ("bare", bare.url(), Some(bare.pid())),
        ("ours", ours.url(), Some(ours.pid())),
        ("bare-2", bare_again.url(), Some(bare_again.pid())),
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
        // Rounds interleave the targets, in alternating order, so a slow spell on a shared
        // machine hits all of them alike.
        for round in 0..rounds {
            let mut order: Vec<usize> = (0..targets.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let (_, url, pid) = &targets[i];
                run_load(url, concurrency, n / 10, None).await?; // warm-up
                per_target[i].push(run_load(url, concurrency, n, *pid).await?);
            }
        }
        for (i, (name, _, _)) in targets.iter().enumerate() {
            results.push((name, concurrency, median(&mut per_target[i])));
        }
    }

    println!();
    println!(
        "{:<8} {:>5} {:>12} {:>10} {:>10} {:>16}",
        "target", "conc", "requests/s", "p50 ms", "p99 ms", "workerd CPU µs/req"
    );
    for (name, c, s) in &results {
        println!(
            "{:<8} {:>5} {:>12.0} {:>10.3} {:>10.3} {:>16}",
            name,
            c,
            s.rps,
            ms(s.p50),
            ms(s.p99),
            s.cpu_us.map_or("-".to_owned(), |v| format!("{v:.0}"))
        );
    }
    println!();
    for (a_name, b_name) in [("ours", "bare"), ("bare-2", "bare")] {
        for c in [1usize, 50] {
            let get = |n: &str| {
                results
                    .iter()
                    .find(|(name, cc, _)| *name == n && *cc == c)
                    .map(|(_, _, s)| *s)
                    .context("missing result")
            };
            let (b, o) = (get(b_name)?, get(a_name)?);
            let cpu = match (o.cpu_us, b.cpu_us) {
                (Some(o), Some(b)) if b > 0.0 => format!("{:.3}", o / b),
                _ => "-".to_owned(),
            };
            println!(
            "{a_name}/{b_name} at concurrency {c:>2}: requests/s {:.3}, p50 {:.3}, p99 {:.3}, CPU/req {cpu}",
            o.rps / b.rps,
            ms(o.p50) / ms(b.p50),
            ms(o.p99) / ms(b.p99)
        );
        }
    }
    drop((bare, bare_again, ours, origin));
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
async fn run_load(base: &str, concurrency: usize, total: u64, pid: Option<u32>) -> Result<Sample> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = Arc::new(format!("{base}{PATH}"));
    let next = Arc::new(AtomicU64::new(0));
    let cpu_before = pid.map(cpu_ticks).transpose()?;
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
    let cpu_us = match (pid, cpu_before) {
        (Some(pid), Some(before)) => {
            let ticks = cpu_ticks(pid)? - before;
            Some(ticks as f64 * 1e6 / USER_HZ / all.len() as f64)
        }
        _ => None,
    };
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Ok(Sample {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        cpu_us,
    })
}

/// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const USER_HZ: f64 = 100.0;

/// utime + stime of a process, in ticks (fields 14 and 15 of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its closing paren do not.
    let rest = &stat[stat.rfind(')').context("malformed /proc stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}
