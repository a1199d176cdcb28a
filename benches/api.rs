//! API calls and wall time of deploy-proxy and rollback against the sandbox Cloudflare API
//! with 50 ms of latency on every answer: `cargo bench --bench api`.
//!
//! Runs the real binary. Sequential round trips dominate the wall time, so the time divided
//! by the latency is about the number of rounds the client waited for.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use failover::sandbox::cloudflare::CloudflareSandbox;
use failover::sandbox::dns::DnsServer;

const TOKEN: &str = "bench-token";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "api.example.com";
const LATENCY: Duration = Duration::from_millis(50);

async fn edge(State(cf): State<Arc<CloudflareSandbox>>, req: Request) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(':').next())
        .unwrap_or_default()
        .to_owned();
    match cf.script_for(&host, req.uri().path()) {
        Some(script) => ([("x-failover-proxy", script)], "proxied").into_response(),
        None => "platform".into_response(),
    }
}

async fn serve(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

struct Measure {
    label: &'static str,
    api_calls: usize,
    mutating: usize,
    wall: Duration,
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for proxied in [true, false] {
        let cf = Arc::new(
            rt.block_on(CloudflareSandbox::start(TOKEN, ACCOUNT))
                .unwrap(),
        );
        let edge_port = rt.block_on(serve(
            axum::Router::new().fallback(edge).with_state(cf.clone()),
        ));
        let origin_port = rt.block_on(serve(axum::Router::new().fallback(|| async { "ok" })));
        let dns = rt.block_on(DnsServer::start()).unwrap();
        dns.set_addrs("target.platform.test", &["127.0.0.1".parse().unwrap()]);
        let zone = cf.add_zone("example.com", "pro");
        cf.add_dns_record(&zone, "CNAME", HOST, "target.platform.test", proxied);
        let config = dir.path().join(format!("failover-{proxied}.toml"));
        std::fs::write(
            &config,
            format!(
                "[service]\npublic_url = \"http://{HOST}:{edge_port}\"\norigin = \"http://127.0.0.1:{origin_port}\"\ndns_target = \"target.platform.test\"\n[dns]\nresolvers = [\"{}\"]\n[cloudflare]\naccount_id = \"{ACCOUNT}\"\n",
                dns.addr()
            ),
        )
        .unwrap();
        cf.set_latency(LATENCY);
        let run = |args: &[&str]| {
            cf.clear_calls();
            let started = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_failover"))
                .current_dir(dir.path())
                .env("CLOUDFLARE_API_TOKEN", TOKEN)
                .env("CLOUDFLARE_API_BASE_URL", cf.base_url().as_str())
                .env_remove("CLOUDFLARE_ACCOUNT_ID")
                .arg("--config")
                .arg(&config)
                .args(args)
                .arg("--resolve")
                .arg(format!("{HOST}:{edge_port}:127.0.0.1"))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let wall = started.elapsed();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let calls = cf.calls();
            (
                calls.len(),
                calls.iter().filter(|c| c.mutates()).count(),
                wall,
            )
        };
        let record = if proxied {
            "proxied record"
        } else {
            "DNS-only record"
        };
        for (label, args) in [
            (
                "deploy-proxy (fresh)",
                &["deploy-proxy", "--yes", "--json"][..],
            ),
            (
                "deploy-proxy (again, no-op)",
                &["deploy-proxy", "--yes", "--json"][..],
            ),
            ("rollback", &["rollback", "--yes", "--json"][..]),
        ] {
            let (api_calls, mutating, wall) = run(args);
            rows.push((
                record,
                Measure {
                    label,
                    api_calls,
                    mutating,
                    wall,
                },
            ));
        }
    }
    println!(
        "sandbox latency {} ms per API answer; release binary timings include process start",
        LATENCY.as_millis()
    );
    println!(
        "| record | command | API calls | of which mutating | wall time | ≈ sequential rounds |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for (record, m) in rows {
        println!(
            "| {record} | {} | {} | {} | {} ms | {:.1} |",
            m.label,
            m.api_calls,
            m.mutating,
            m.wall.as_millis(),
            m.wall.as_secs_f64() / LATENCY.as_secs_f64()
        );
    }
}
