//! How fast `failover diagnose` knows: the October 2025 outage on loopback, a diagnosis whose
//! every resolver blackholes (bounded by `probe.deadline_ms`), and `dig` against the same
//! blackholing server for comparison. Prints figures; asserts nothing.
//!
//! Run: `cargo bench --bench diagnose` (add `--profile dev` to skip the release build).
//! The figures include starting the process; the blackholed runs are bounded by the smaller
//! of `dns.timeout_ms` and `probe.deadline_ms`.

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use failover::sandbox::dns::{Behaviour, DnsServer};
use failover::sandbox::http::{Answer, HttpServer};

const BIN: &str = env!("CARGO_BIN_EXE_failover");
const RUNS: usize = 5;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (dns, edge, origin, compare, blackholes) = rt.block_on(async {
        let dns = DnsServer::start().await.expect("dns");
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        dns.set_cname("api.example.test", "haiku-word-123.herokudns.test")
            .unwrap();
        dns.set_addrs("haiku-word-123.herokudns.test", &[lo]);
        dns.set_addrs("myapp.herokuapp.test", &[lo]);
        dns.set_addrs("staging.example.test", &[lo]);
        dns.set_behaviour("haiku-word-123.herokudns.test", Behaviour::Servfail);
        let mut blackholes = Vec::new();
        for _ in 0..4 {
            blackholes.push(DnsServer::responder(Behaviour::Blackhole).await.unwrap());
        }
        (
            dns,
            HttpServer::start(Answer::cloudflare_1016()).await.unwrap(),
            HttpServer::start(Answer::ok()).await.unwrap(),
            HttpServer::start(Answer::cloudflare_ok()).await.unwrap(),
            blackholes,
        )
    });
    let write_config = |name: &str, timeout_ms: u64, deadline_ms: u64| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "[service]\npublic_url = \"http://api.example.test:{}\"\n\
                 origin = \"http://myapp.herokuapp.test:{}\"\nhealth_path = \"/health\"\n\n\
                 [dns]\ntimeout_ms = {timeout_ms}\n\n[probe]\ntimeout_ms = 5000\ndeadline_ms = {deadline_ms}\n\n\
                 [[compare]]\nname = \"staging-eu\"\npublic_url = \"http://staging.example.test:{}\"\n\
                 region = \"eu\"\n",
                edge.port(),
                origin.port(),
                compare.port()
            ),
        )
        .unwrap();
        path
    };
    let normal = write_config("failover.toml", 2000, 3000);
    let tight = write_config("tight.toml", 600, 1000);
    let quick = write_config("quick.toml", 500, 3000);
    let pin = format!("api.example.test:{}:127.0.0.1", edge.port());
    let diagnose = |config: &std::path::Path, resolvers: &[String], json: bool| {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env("NO_COLOR", "1")
            .arg("--config")
            .arg(config)
            .arg("diagnose");
        if json {
            cmd.arg("--json");
        }
        for r in resolvers {
            cmd.args(["--resolver", r]);
        }
        cmd.args(["--resolve", &pin]);
        let start = Instant::now();
        let out = cmd.output().expect("run failover");
        (start.elapsed(), out)
    };

    println!("== the October 2025 outage (target SERVFAIL, edge 1016, origin up, EU healthy)");
    let (_, out) = diagnose(&normal, &[dns.addr().to_string()], false);
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let (t, out) = diagnose(&normal, &[dns.addr().to_string()], true);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(doc["verdict"], "dns_target_failure", "{doc:#}");
        times.push(t);
    }
    report("outage diagnosed (wall, whole process)", &mut times);

    println!("\n== the same outage with the target blackholing (dns.timeout_ms 500)");
    dns.set_behaviour("haiku-word-123.herokudns.test", Behaviour::Blackhole);
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let (t, out) = diagnose(&quick, &[dns.addr().to_string()], true);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(doc["verdict"], "dns_target_failure", "{doc:#}");
        times.push(t);
    }
    report("outage diagnosed, target timing out (wall)", &mut times);

    let holes: Vec<String> = blackholes.iter().map(|b| b.addr().to_string()).collect();
    for (config, timeout, deadline) in [(&normal, 2000, 3000), (&tight, 600, 1000)] {
        println!(
            "\n== every resolver blackholes (4 resolvers, dns.timeout_ms {timeout}, probe.deadline_ms {deadline})"
        );
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let (t, out) = diagnose(config, &holes, true);
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            // Whatever the deadline: this machine sees nothing, and says so.
            assert_eq!(doc["verdict"], "inconclusive", "{doc:#}");
            times.push(t);
        }
        report(
            &format!(
                "blackholed diagnosis (wall; bound {deadline} ms + 10% = {} ms)",
                deadline * 11 / 10
            ),
            &mut times,
        );
    }

    println!("\n== dig against the same blackholing server");
    let hole = blackholes[0].addr();
    for args in [vec!["+tries=1", "+time=2"], vec![]] {
        let mut cmd = Command::new("dig");
        cmd.args(["@127.0.0.1", "-p", &hole.port().to_string()])
            .args(&args)
            .arg("haiku-word-123.herokudns.test");
        let start = Instant::now();
        match cmd.output() {
            Ok(_) => println!(
                "dig {:<22} {:>6} ms",
                if args.is_empty() {
                    "(defaults)".to_owned()
                } else {
                    args.join(" ")
                },
                start.elapsed().as_millis()
            ),
            Err(e) => {
                println!("dig not available ({e}): apt-get install -y bind9-dnsutils");
                break;
            }
        }
    }
    drop(dir);
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_millis();
    println!(
        "{what}: min {} ms, median {} ms, max {} ms over {} runs",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
}
