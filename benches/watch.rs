//! A soak of `failover watch`: the real binary diagnoses the drill's loopback world cycle after
//! cycle at a short interval, and its resident memory and open file descriptors are read from
//! /proc after 100 cycles and at the end (the least of ten samples, so a cycle's own sockets do
//! not count). Memory must stay flat (RSS at the end within 10% of
//! RSS after 100 cycles) and descriptors must not grow. Prints figures; exits 1 when either
//! grows beyond that.
//!
//! Run: `cargo bench --bench watch` (CYCLES=10000 INTERVAL=10ms MAX_SECS=10800 by default; set
//! any in the environment for a shorter run). Linux only (it reads /proc). Cycles are counted from the
//! watch's own `failover_cycles_total` on `/metrics`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_failover");

fn main() {
    let cycles: u64 = std::env::var("CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10_000);
    let interval = std::env::var("INTERVAL").unwrap_or_else(|_| "10ms".to_owned());
    // A bound in time as well as in count: the soak always ends on its own (3 h by default).
    let max = Duration::from_secs(
        std::env::var("MAX_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3 * 3600),
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // No change is made in a healthy world, so the Workers runtime is never started: any path
    // will do when none is installed.
    let workerd = failover::sandbox::workerd::locate(None).unwrap_or_else(|_| "workerd".into());
    let world = rt
        .block_on(failover::sandbox::world::World::start(workerd))
        .expect("the world");
    let state = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(BIN)
        .env("CLOUDFLARE_API_TOKEN", &world.token)
        .env("CLOUDFLARE_API_BASE_URL", world.cf.base_url().as_str())
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(&world.config)
        .arg("--state-dir")
        .arg(state.path())
        .args(["watch", "--resolve", &world.pin(), "--interval", &interval])
        .args(["--metrics", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the watch");
    let pid = child.id();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = None;
    for line in stderr.lines() {
        let line = line.expect("stderr");
        if let Some(rest) = line.strip_prefix("serving metrics at ") {
            url = Some(rest.to_owned());
            break;
        }
    }
    let url = url.expect("the metrics address");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let mut early: Option<(u64, u64, usize)> = None;
    let last;
    let mut reported = 0;
    loop {
        let done = rt.block_on(scrape_cycles(&client, &url));
        if done / 1000 > reported {
            reported = done / 1000;
            let (rss, fds) = sample(pid);
            println!(
                "after {done} cycles: RSS {rss} KiB, {fds} open fds ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
        if early.is_none() && done >= 100 {
            let (rss, fds) = sample(pid);
            early = Some((done, rss, fds));
            println!(
                "after {done} cycles: RSS {} KiB, {} open fds ({:.1} s)",
                early.unwrap().1,
                early.unwrap().2,
                started.elapsed().as_secs_f64()
            );
        }
        if done >= cycles {
            let (rss, fds) = sample(pid);
            last = (done, rss, fds);
            break;
        }
        if started.elapsed() > max {
            println!(
                "stopped at the time bound ({} s) after {done} cycles",
                max.as_secs()
            );
            let (rss, fds) = sample(pid);
            last = (done, rss, fds);
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let elapsed = started.elapsed();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let status = child.wait().expect("the watch ends");
    let (n, rss0, fd0) = early.expect("100 cycles ran");
    let (end, rss1, fd1) = last;
    let ratio = rss1 as f64 / rss0 as f64;
    println!(
        "after {end} cycles: RSS {rss1} KiB, {fd1} open fds ({:.1} s)",
        elapsed.as_secs_f64()
    );
    println!(
        "RSS end / RSS at {n} cycles = {ratio:.3}; fds {fd0} -> {fd1}; {:.1} ms per cycle; exit {:?}",
        elapsed.as_secs_f64() * 1000.0 / end as f64,
        status.code()
    );
    let ok = ratio <= 1.10 && fd1 <= fd0;
    println!("{}", if ok { "flat: ok" } else { "GROWTH: not ok" });
    drop(world);
    if !ok {
        std::process::exit(1);
    }
}

async fn scrape_cycles(client: &reqwest::Client, url: &str) -> u64 {
    let Ok(resp) = client.get(url).send().await else {
        return 0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("failover_cycles_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// RSS and open descriptors of the watch between its cycles' requests: the least of ten samples
/// a tenth of a second apart (a cycle's sockets come and go; what stays is what could leak).
fn sample(pid: u32) -> (u64, usize) {
    let mut least = (u64::MAX, usize::MAX);
    for _ in 0..10 {
        least = (least.0.min(rss_kib(pid)), least.1.min(fds(pid)));
        std::thread::sleep(Duration::from_millis(100));
    }
    least
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}
