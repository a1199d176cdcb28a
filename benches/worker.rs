//! What the proxy Worker costs: the same loopback origin measured direct, behind a bare
//! passthrough Worker (the floor for any Worker proxy), behind ours (emergency mode) and behind
//! ours in standby mode with the platform path healthy (its public URL is the origin here, so it
//! makes one fetch, as bare does), in one process tree and one run, at concurrency 1 and 50.
//! Prints requests/s, p50 and p99 latency, and ours/bare and standby/bare.
//!
//! Run: `npm install && cargo bench --bench worker`; options after `--`: `--requests N` (per
//! target and round at concurrency 50; a fifth of it at 1), `--rounds R` (default 24),
//! `--epochs E` (sets of fresh runtimes the rounds are spread over, default 4), `--template PATH`
//! (measure another template as "ours"), `--upload-mb M` (the size of the uploads measured at
//! the end, default 100; 0 skips them).
//!
//! Last, uploads: M MB with a declared length, POSTed through bare, ours and standby (which
//! read a sized body themselves, to tell a client's broken body from an origin's failure),
//! three times each, alternating; prints MB/s and the ratios to bare.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use failover::sandbox::origin::OriginHandle;
use failover::sandbox::workerd::{self, WorkerScript, Workerd};
use failover::worker::{self, WorkerSpec};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

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
    let mut requests: u64 = 4_000;
    let mut rounds: usize = 24;
    let mut epochs: usize = 4;
    let mut template: Option<String> = None;
    let mut upload_mb: u64 = 100;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--requests" => requests = args.next().context("--requests N")?.parse()?,
            "--rounds" => rounds = args.next().context("--rounds R")?.parse()?,
            "--epochs" => epochs = args.next().context("--epochs E")?.parse()?,
            "--template" => template = Some(args.next().context("--template PATH")?),
            "--upload-mb" => upload_mb = args.next().context("--upload-mb M")?.parse()?,
            // cargo bench passes --bench; anything else is not ours to judge.
            _ => {}
        }
    }
    // The load and the origin on one core, the runtime under test alone on the other: the
    // Worker's cost then decides its throughput, not how the scheduler shares two cores.
    let pinned = pin_self(LOAD_CPU).is_ok();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let template = match template {
        Some(path) => {
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?
        }
        None => worker::TEMPLATE.to_owned(),
    };
    rt.block_on(bench(
        requests,
        rounds.max(1),
        epochs,
        &template,
        pinned,
        upload_mb,
    ))
}

async fn bench(
    requests: u64,
    rounds: usize,
    epochs: usize,
    template: &str,
    pinned: bool,
    upload_mb: u64,
) -> Result<()> {
    let bin = workerd::locate(std::env::var("FAILOVER_WORKERD").ok().as_deref())?;
    let origin = OriginHandle::start("bench").await?;
    let origin_url = origin.url();

    let bare_src = format!(
        "const ORIGIN = {};\n\
         export default {{\n  fetch(request) {{\n    const u = new URL(request.url);\n    \
         return fetch(new Request(ORIGIN + u.pathname + u.search, request));\n  }},\n}};\n",
        serde_json::to_string(&origin_url)?
    );
    let spec = WorkerSpec::with_defaults(
        worker::script_name("api.example.com"),
        "https://api.example.com".to_owned(),
        vec![origin_url.clone()],
    );
    let ours_src = worker::render(template, &spec)?;
    // Standby with a healthy platform path: the request goes to the public URL, which is the
    // origin itself on this machine (on Cloudflare the edge sends it there by the DNS record).
    let mut standby = spec.clone();
    standby.mode = worker::Mode::Standby;
    standby.public_url = origin_url.clone();
    let standby_src = worker::render(template, &standby)?;
    let start = |script: &str| {
        Workerd::start(
            &bin,
            &WorkerScript {
                script: script.to_owned(),
                bindings: vec![],
                compatibility_date: worker::COMPATIBILITY_DATE.to_owned(),
            },
        )
    };
    // The same bare Worker twice, in two runtimes: the ratio of the second to the first is the
    // noise of this machine at this moment, printed beside ours/bare so the latter can be
    // judged.
    let scripts = [
        bare_src.as_str(),
        ours_src.as_str(),
        bare_src.as_str(),
        standby_src.as_str(),
    ];
    let names = ["direct", "bare", "ours", "bare-2", "standby"];
    let epochs = epochs.clamp(1, rounds);

    println!(
        "workerd {}; GET {PATH}; {rounds} rounds of {requests} requests per target at concurrency 50, {} at 1, in {epochs} sets of fresh runtimes",
        bin.display(),
        requests / 5,
    );
    let mut pinned_all = pinned;
    let mut rows: Vec<(&str, usize, Sample)> = Vec::new();
    let mut ratios: Vec<(&str, usize, Ratios)> = Vec::new();
    for concurrency in [1usize, 50] {
        let n = if concurrency == 1 {
            requests / 5
        } else {
            requests
        };
        let mut per_target: Vec<Vec<Sample>> = vec![Vec::new(); names.len()];
        // The origin alone, for scale; outside the rounds, since its burst of connections
        // would weigh on whichever Worker came next.
        for _ in 0..3 {
            per_target[DIRECT].push(run_load(&origin_url, concurrency, n, None).await?);
        }
        // Each runtime process runs a little faster or slower than another for the whole of
        // its life (where its memory landed), so the rounds are spread over several sets of
        // fresh runtimes and that luck averages out.
        for epoch in 0..epochs {
            let runtimes = scripts
                .iter()
                .map(|s| start(s))
                .collect::<Result<Vec<_>>>()?;
            pinned_all &= runtimes.iter().all(|w| pin(w.pid(), WORKERD_CPU).is_ok());
            // Warm each once, so the first round does not pay for compilation.
            for w in &runtimes {
                run_load(&w.url(), concurrency, n, None).await?;
            }
            // Short rounds, each running the Workers back to back: a slow spell on a
            // shared machine hits neighbours alike, and the ratios are taken within a round
            // before the median, so drift between rounds cancels out. The order rotates and
            // reverses, so every Worker runs in every position and after every other equally
            // often.
            let share = rounds / epochs + usize::from(epoch < rounds % epochs);
            for round in 0..share {
                let n_scripts = scripts.len();
                let mut order: Vec<usize> =
                    (0..n_scripts).map(|k| (round + k) % n_scripts).collect();
                if (round / n_scripts) % 2 == 1 {
                    order.reverse();
                }
                for k in order {
                    let w = &runtimes[k];
                    per_target[k + 1]
                        .push(run_load(&w.url(), concurrency, n, Some(w.pid())).await?);
                }
            }
        }
        for (i, name) in names.iter().enumerate() {
            rows.push((name, concurrency, median_sample(&per_target[i])));
        }
        for (a, b) in [(OURS, BARE), (STANDBY, BARE), (BARE_2, BARE)] {
            let r = Ratios::paired(&per_target[a], &per_target[b]);
            ratios.push((names[a], concurrency, r));
        }
    }
    println!(
        "{}",
        if pinned_all {
            "load and origin ran on CPU 0, workerd on CPU 1"
        } else {
            "not pinned to CPUs (fewer than 2, or not allowed)"
        }
    );

    println!();
    println!(
        "{:<8} {:>5} {:>12} {:>10} {:>10} {:>16}",
        "target", "conc", "requests/s", "p50 ms", "p99 ms", "workerd CPU µs/req"
    );
    for (name, c, s) in &rows {
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
    println!("median of the per-round ratios (interquartile range in brackets):");
    for (name, c, r) in &ratios {
        println!(
            "{name}/bare at concurrency {c:>2}: requests/s {}, p50 {}, p99 {}, CPU/req {}",
            r.rps, r.p50, r.p99, r.cpu
        );
    }
    if upload_mb > 0 {
        let runtimes = [bare_src.as_str(), ours_src.as_str(), standby_src.as_str()]
            .iter()
            .map(|s| start(s))
            .collect::<Result<Vec<_>>>()?;
        for w in &runtimes {
            let _ = pin(w.pid(), WORKERD_CPU);
        }
        let bytes = upload_mb * 1_000_000;
        let body = axum::body::Bytes::from(
            (0..bytes)
                .map(failover::sandbox::origin::pattern_byte)
                .collect::<Vec<u8>>(),
        );
        let mut mbps: [Vec<f64>; 3] = Default::default();
        for _ in 0..3 {
            for (i, w) in runtimes.iter().enumerate() {
                mbps[i].push(upload(&w.url(), body.clone()).await? / 1e6);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let [bare, ours, standby] = mbps.each_mut().map(median);
        println!();
        println!(
            "upload of {upload_mb} MB, median of 3: bare {bare:.0} MB/s, ours {ours:.0} MB/s ({:.3} of bare), standby {standby:.0} MB/s ({:.3} of bare)",
            ours / bare,
            standby / bare
        );
    }
    drop(origin);
    Ok(())
}

/// One POST of `body` (with its length) to the origin's `/upload`, which checks every byte;
/// returns bytes per second.
async fn upload(base: &str, body: axum::body::Bytes) -> Result<f64> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(600))
        .build()?;
    let len = body.len() as f64;
    let started = Instant::now();
    let r = client
        .post(format!("{base}/upload"))
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let got: serde_json::Value = r.json().await?;
    anyhow::ensure!(
        status == 200 && got["intact"] == true && got["bytes"].as_f64() == Some(len),
        "{base}/upload answered {status}: {got}"
    );
    Ok(len / started.elapsed().as_secs_f64())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The sample with the median throughput.
fn median_sample(samples: &[Sample]) -> Sample {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    sorted[sorted.len() / 2]
}

/// Indexes into the target list.
const DIRECT: usize = 0;
const BARE: usize = 1;
const OURS: usize = 2;
const BARE_2: usize = 3;
const STANDBY: usize = 4;

/// One target against another, round by round.
struct Ratios {
    rps: Spread,
    p50: Spread,
    p99: Spread,
    cpu: Spread,
}

impl Ratios {
    fn paired(a: &[Sample], b: &[Sample]) -> Ratios {
        let each = |f: &dyn Fn(&Sample) -> Option<f64>| {
            Spread::of(
                a.iter()
                    .zip(b)
                    .filter_map(|(a, b)| Some(f(a)? / f(b)?))
                    .collect(),
            )
        };
        Ratios {
            rps: each(&|s| Some(s.rps)),
            p50: each(&|s| Some(ms(s.p50))),
            p99: each(&|s| Some(ms(s.p99))),
            cpu: each(&|s| s.cpu_us.filter(|v| *v > 0.0)),
        }
    }
}

/// Median and quartiles of a set of ratios.
struct Spread(Option<[f64; 3]>);

impl Spread {
    fn of(mut v: Vec<f64>) -> Spread {
        if v.is_empty() {
            return Spread(None);
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Spread(Some([at(0.25), at(0.5), at(0.75)]))
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some([lo, mid, hi]) => write!(f, "{mid:.3} [{lo:.2}-{hi:.2}]"),
            None => f.write_str("-"),
        }
    }
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

const LOAD_CPU: usize = 0;
const WORKERD_CPU: usize = 1;

/// Pins the calling thread, and so every thread it starts later, to `cpu`.
fn pin_self(cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// Pins every thread of process `pid` to `cpu` (threads it starts later inherit it).
fn pin(pid: u32, cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let tid: i32 = task?
            .file_name()
            .to_str()
            .context("a task id that is not text")?
            .parse()?;
        sched_setaffinity(Pid::from_raw(tid), &set)?;
    }
    Ok(())
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
