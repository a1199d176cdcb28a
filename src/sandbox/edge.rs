//! A loopback stand-in for Cloudflare's edge in front of the sandbox API's zones: it serves each
//! public host by its `Host` header the way the real edge decides. With a Worker route (as the
//! sandbox API records it) the request runs the uploaded script, with its uploaded bindings, in
//! workerd; without one it goes through the record's CNAME target, resolved on the sandbox DNS
//! server, and answers as Cloudflare does when it cannot get a response: 530 / `error code:
//! 1016` when the target does not resolve, 521 when the platform refuses the connection, 524
//! when no response headers come within the origin timeout (100 s, as on Cloudflare; a test may
//! shorten it). It is not Cloudflare: it imitates the few behaviours the drill needs.
//!
//! The Workers it runs send their own fetches through the edge's egress listener, as on
//! Cloudflare: a subrequest to a host of the zone goes to the origin its DNS record names (the
//! platform path, 530 / 1016 while the target fails), never back into the Worker; any other
//! host is reached directly (names resolved on the sandbox DNS server).
//!
//! Requests and responses stream both ways; a WebSocket upgrade is passed through byte for byte
//! once the upstream answers 101. Every answer carries `server: cloudflare` and a `cf-ray`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::TokioIo;

use super::cloudflare::CloudflareSandbox;
use super::workerd::{Binding, WorkerScript, Workerd};
use crate::config::{DnsSettings, ResolverSpec};
use crate::probe::dns::DnsClient;

/// A running edge; dropping it stops the server and every workerd it started.
pub struct Edge {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<super::Served>,
    egress: Option<super::Served>,
}

struct Shared {
    cf: Arc<CloudflareSandbox>,
    /// Where the runtimes send their outbound fetches.
    egress: SocketAddr,
    dns: DnsClient,
    resolver: ResolverSpec,
    /// DNS target -> the port its platform's router listens on (at whatever address the target
    /// resolves to).
    platforms: Mutex<HashMap<String, u16>>,
    workerd: Option<PathBuf>,
    /// One runtime per script, restarted when the uploaded script or its bindings change.
    runtimes: tokio::sync::Mutex<HashMap<String, Running>>,
    rays: AtomicU64,
    started: AtomicU64,
    /// How long the platform path may take to send response headers before the edge answers
    /// 524, in ms (Cloudflare's default: 100 s).
    origin_timeout_ms: AtomicU64,
}

struct Running {
    /// The upload this runtime runs (its `modified_on` and bindings).
    version: String,
    runtime: Workerd,
}

impl Edge {
    /// Starts on 127.0.0.1:<free port>. `dns` is the server the platform's targets resolve on;
    /// `workerd` runs routed scripts (without it a routed request answers 500).
    pub async fn start(
        cf: Arc<CloudflareSandbox>,
        dns: SocketAddr,
        workerd: Option<PathBuf>,
    ) -> Result<Edge> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the edge to loopback")?;
        let addr = listener.local_addr()?;
        let egress_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the edge's egress to loopback")?;
        let resolver = ResolverSpec::Addr(dns);
        let shared = Arc::new(Shared {
            cf,
            egress: egress_listener.local_addr()?,
            dns: DnsClient::new(&DnsSettings {
                resolvers: vec![resolver.clone()],
                timeout: Duration::from_secs(1),
            }),
            resolver,
            platforms: Mutex::new(HashMap::new()),
            workerd,
            runtimes: tokio::sync::Mutex::new(HashMap::new()),
            rays: AtomicU64::new(rand::random::<u32>() as u64),
            started: AtomicU64::new(0),
            origin_timeout_ms: AtomicU64::new(ORIGIN_TIMEOUT.as_millis() as u64),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let out = Router::new().fallback(egress).with_state(shared.clone());
        Ok(Edge {
            addr,
            shared,
            server: Some(super::Served::spawn(listener, app)),
            egress: Some(super::Served::spawn(egress_listener, out)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests whose record points at `target` reach the platform on `port` (at the address
    /// `target` resolves to).
    pub fn add_platform(&self, target: &str, port: u16) {
        self.shared
            .platforms
            .lock()
            .expect("edge platforms lock")
            .insert(target.to_ascii_lowercase(), port);
    }

    /// How long the platform path may take to send response headers before the edge gives up
    /// with 524 (100 s by default, as on Cloudflare); shorter for a test.
    pub fn set_origin_timeout(&self, timeout: Duration) {
        self.shared
            .origin_timeout_ms
            .store(timeout.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many workerd runtimes the edge has started so far.
    pub fn runtimes_started(&self) -> u64 {
        self.shared.started.load(Ordering::SeqCst)
    }

    /// The process ids of the runtimes running now.
    pub async fn runtime_pids(&self) -> Vec<u32> {
        let runtimes = self.shared.runtimes.lock().await;
        runtimes.values().map(|r| r.runtime.pid()).collect()
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        // Stop accepting first, so no request starts a runtime after they are cleared.
        drop(self.server.take());
        drop(self.egress.take());
        // The runtimes die with the last reference to the shared state; make that now, not
        // when a lingering connection task lets go.
        if let Ok(mut runtimes) = self.shared.runtimes.try_lock() {
            runtimes.clear();
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (host, _) = host_of(&req);
    let path = req.uri().path().to_owned();
    let resp = match shared.cf.script_for(&host, &path) {
        Some(script) => match shared.runtime_for(&script).await {
            Ok(addr) => forward(req, addr).await,
            // Cloudflare's "Worker threw exception" family: the script could not run.
            Err(e) => edge_error(500, 1101, &format!("{e:#}")),
        },
        None => {
            shared.stop_unrouted().await;
            shared.platform(req, &host).await
        }
    };
    shared.stamp(resp)
}

/// A Worker's own fetch. A host this edge serves goes to its origin through the DNS record (a
/// same-zone subrequest does not re-enter the Worker); any other host is the internet.
async fn egress(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (host, port) = host_of(&req);
    if shared.serves(&host) {
        return shared.stamp(shared.platform(req, &host).await);
    }
    let port = port.unwrap_or(80);
    let ip = match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => shared
            .dns
            .resolve_addrs(&shared.resolver, &host)
            .await
            .addrs
            .first()
            .copied(),
    };
    match ip {
        Some(ip) => forward(req, SocketAddr::new(ip, port)).await,
        None => edge_error(502, 502, &format!("{host} does not resolve")),
    }
}

/// The request's host (lowercase, without the port) and port, from `Host` or the URI.
fn host_of(req: &Request) -> (String, Option<u16>) {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or_default();
    match host
        .rsplit_once(':')
        .and_then(|(h, port)| port.parse::<u16>().ok().map(|p| (h, p)))
    {
        Some((h, port)) => (h.to_ascii_lowercase(), Some(port)),
        None => (host.to_ascii_lowercase(), None),
    }
}

impl Shared {
    /// Every answer of the edge's own: `server: cloudflare` and a ray id.
    fn stamp(&self, mut resp: Response) -> Response {
        let ray = self.rays.fetch_add(1, Ordering::Relaxed);
        let headers = resp.headers_mut();
        headers.insert(header::SERVER, HeaderValue::from_static("cloudflare"));
        if let Ok(v) = HeaderValue::from_str(&format!("{ray:016x}-LCL")) {
            headers.insert("cf-ray", v);
        }
        resp
    }

    /// Whether a DNS record of the sandbox's zones names `host`.
    fn serves(&self, host: &str) -> bool {
        self.cf
            .snapshot()
            .dns
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case(host))
    }

    /// The address of the runtime serving `script`, starting or restarting it as the upload
    /// requires.
    async fn runtime_for(&self, script: &str) -> Result<SocketAddr> {
        let rec = self
            .cf
            .script(script)
            .with_context(|| format!("script {script} is routed but not uploaded"))?;
        let version = format!(
            "{}|{}",
            rec.modified_on,
            serde_json::Value::Array(rec.bindings.clone())
        );
        let mut runtimes = self.runtimes.lock().await;
        if let Some(r) = runtimes.get(script).filter(|r| r.version == version) {
            return Ok(r.runtime.addr());
        }
        // The old upload's runtime stops before the new one starts.
        runtimes.remove(script);
        let binary = self
            .workerd
            .clone()
            .context("no workerd to run the Worker in")?;
        let worker = WorkerScript {
            script: rec.main_source().to_owned(),
            bindings: rec.bindings.iter().filter_map(binding).collect(),
            compatibility_date: rec.compatibility_date.clone(),
        };
        let runtime = Workerd::spawn(binary, worker, self.egress)
            .await
            .with_context(|| format!("cannot run {script} in workerd"))?;
        self.started.fetch_add(1, Ordering::SeqCst);
        let addr = runtime.addr();
        runtimes.insert(script.to_owned(), Running { version, runtime });
        Ok(addr)
    }

    /// Stops the runtimes of scripts that no route sends to any more, or that are gone
    /// (rollback deletes the route, then the script).
    async fn stop_unrouted(&self) {
        let live = self.cf.snapshot();
        let mut runtimes = self.runtimes.lock().await;
        runtimes.retain(|name, _| {
            live.scripts.contains_key(name)
                && live
                    .routes
                    .iter()
                    .any(|r| r.script.as_deref() == Some(name.as_str()))
        });
    }

    /// No Worker: through the record's target to the platform, as the edge would.
    async fn platform(&self, req: Request, host: &str) -> Response {
        let record = self
            .cf
            .snapshot()
            .dns
            .into_iter()
            .find(|r| r.name.eq_ignore_ascii_case(host) && r.record_type == "CNAME");
        let Some(record) = record else {
            // Cloudflare's "DNS points to prohibited IP" / unknown host family.
            return edge_error(530, 1001, "no such host on this edge");
        };
        let target = record.content.trim_end_matches('.').to_ascii_lowercase();
        let answer = self.dns.resolve_addrs(&self.resolver, &target).await;
        let Some(ip) = answer.addrs.first().copied() else {
            return edge_error(530, 1016, "origin DNS error");
        };
        let port = self
            .platforms
            .lock()
            .expect("edge platforms lock")
            .get(&target)
            .copied();
        let Some(port) = port else {
            return edge_error(521, 521, "web server is down");
        };
        // As Cloudflare answers when it cannot get a response from the origin: 521 when the
        // connection is refused, 524 when no response headers come in time.
        let timeout = Duration::from_millis(self.origin_timeout_ms.load(Ordering::SeqCst));
        let mut req = req;
        match tokio::time::timeout(timeout, try_forward(&mut req, SocketAddr::new(ip, port))).await
        {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) if refused(&e) => edge_error(521, 521, "web server is down"),
            Ok(Err(e)) => edge_error(502, 502, &format!("{e:#}")),
            Err(_) => edge_error(524, 524, "a timeout occurred"),
        }
    }
}

/// Cloudflare's time to wait for an origin's response headers before answering 524.
const ORIGIN_TIMEOUT: Duration = Duration::from_secs(100);

fn refused(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// An uploaded binding as workerd takes it; kinds the drill does not use are left out.
fn binding(v: &serde_json::Value) -> Option<Binding> {
    let name = v["name"].as_str()?.to_owned();
    match v["type"].as_str()? {
        "json" => Some(Binding::Json {
            name,
            json: v["json"].clone(),
        }),
        "plain_text" => Some(Binding::PlainText {
            name,
            text: v["text"].as_str()?.to_owned(),
        }),
        _ => None,
    }
}

/// A Cloudflare-style error page: `error code: N`, as the real edge answers non-browsers.
fn edge_error(status: u16, code: u16, why: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        format!("error code: {code}\n{why}\n"),
    )
        .into_response()
}

/// Sends `req` to `addr` over a fresh HTTP/1.1 connection, streaming both bodies; a 101 answer
/// joins the two upgraded connections. Public for the tests' own stand-ins of the edge's egress.
pub async fn forward(mut req: Request, addr: SocketAddr) -> Response {
    match try_forward(&mut req, addr).await {
        Ok(resp) => resp,
        Err(e) => edge_error(502, 502, &format!("{e:#}")),
    }
}

async fn try_forward(req: &mut Request, addr: SocketAddr) -> Result<Response> {
    let wants_upgrade = req.headers().contains_key(header::UPGRADE);
    let client_side = wants_upgrade.then(|| hyper::upgrade::on(&mut *req));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .context("handshake")?;
    tokio::spawn(conn.with_upgrades());
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .context("request path")?;
    let mut out = std::mem::replace(req, Request::new(Body::empty()));
    *out.uri_mut() = path;
    let mut resp = sender.send_request(out).await.context("upstream")?;
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = client_side {
            let upstream = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(a), Ok(b)) = tokio::join!(client_side, upstream) {
                    let _ =
                        tokio::io::copy_bidirectional(&mut TokioIo::new(a), &mut TokioIo::new(b))
                            .await;
                }
            });
        }
    }
    Ok(resp.map(Body::new))
}
