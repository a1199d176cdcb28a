//! The drill's whole world on loopback, as in October 2025: a DNS server where the public host
//! points at the edge and the platform DNS target resolves (until it breaks), the app behind the
//! platform, a comparison environment in another region, status pages, the sandbox Cloudflare
//! API, the stand-in edge running Workers in workerd, and a `failover.toml` describing it all.
//! Everything stops when the [`World`] drops.
//!
//! It also holds the user's-eye checks the drill makes through the public URL (REST, redirect,
//! cookie, CORS, WebSocket), since only the world knows what its app should answer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use serde::Serialize;

use super::cloudflare::CloudflareSandbox;
use super::dns::{Behaviour, DnsServer};
use super::edge::Edge;
use super::http::{Answer, HttpServer};
use super::origin::OriginHandle;

/// The public host users reach, in a zone of its own.
pub const ZONE: &str = "drill.test";
pub const PUBLIC_HOST: &str = "api.drill.test";
pub const COMPARE_HOST: &str = "staging-api.drill.test";

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A running world; dropping it stops every server and runtime in it.
pub struct World {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The platform DNS target of the public host (`haiku-<n>.herokudns.test`).
    pub target: String,
    pub token: String,
    // Field order is drop order: the edge (and its workerd runtimes) first.
    pub edge: Edge,
    pub cf: Arc<CloudflareSandbox>,
    pub dns: DnsServer,
    pub origin: OriginHandle,
    pub compare_origin: OriginHandle,
    pub heroku_status: HttpServer,
    pub cloudflare_status: HttpServer,
}

impl World {
    /// Builds the healthy world, with `workerd` to run Workers in, in a fresh temp dir.
    pub async fn start(workerd: PathBuf) -> Result<World> {
        let dir = tempfile::Builder::new()
            .prefix("failover-drill-")
            .tempdir()
            .context("cannot create the drill's directory")?;
        let n = rand::random::<u32>() % 9000 + 1000;
        let target = format!("haiku-{n}.herokudns.test");
        let compare_target = format!("haiku-eu-{n}.herokudns.test");
        let token = format!("drill-{:032x}", rand::random::<u128>());
        let account = format!("{:032x}", rand::random::<u128>());

        let dns = DnsServer::start().await?;
        // A proxied host resolves to the edge whatever its record's target does.
        dns.set_addrs(PUBLIC_HOST, &[LOOPBACK]);
        dns.set_addrs(COMPARE_HOST, &[LOOPBACK]);
        dns.set_addrs(&target, &[LOOPBACK]);
        dns.set_addrs(&compare_target, &[LOOPBACK]);

        let origin = OriginHandle::start("api").await?;
        let compare_origin = OriginHandle::start("staging-eu").await?;
        let heroku_status = HttpServer::start(Answer::heroku_status("green")).await?;
        let cloudflare_status = HttpServer::start(Answer::statuspage("none")).await?;

        let cf = Arc::new(
            CloudflareSandbox::start(&token, &account)
                .await
                .context("cannot start the sandbox Cloudflare API")?,
        );
        let zone = cf.add_zone(ZONE, "pro");
        cf.add_dns_record(&zone, "CNAME", PUBLIC_HOST, &target, true);
        cf.add_dns_record(&zone, "CNAME", COMPARE_HOST, &compare_target, true);

        let edge = Edge::start(cf.clone(), dns.addr(), Some(workerd)).await?;
        edge.add_platform(&target, origin.addr().port());
        edge.add_platform(&compare_target, compare_origin.addr().port());

        let config = dir.path().join("failover.toml");
        std::fs::write(
            &config,
            format!(
                r#"# The drill's world: every address below is on this machine.
[service]
name = "api"
public_url = "http://{PUBLIC_HOST}:{edge}"
origin = ["{origin}"]
health_path = "/health"
dns_target = "{target}"
websocket_path = "/ws"

[dns]
resolvers = ["{dns}"]
timeout_ms = 1000

[probe]
timeout_ms = 3000
deadline_ms = 8000

# Short, so that the standby drill sees the platform path come back within seconds.
[proxy]
cooldown_ms = 1000

[[compare]]
name = "staging-eu"
public_url = "http://{COMPARE_HOST}:{edge}"
origin = "{compare_origin}"
region = "eu"

[status_pages]
heroku = "{heroku}/api/v4/current-status"
cloudflare = "{cloudflare}/api/v2/summary.json"

[cloudflare]
account_id = "{account}"
zone = "{ZONE}"
"#,
                edge = edge.port(),
                origin = origin.url(),
                dns = dns.addr(),
                compare_origin = compare_origin.url(),
                heroku = heroku_status.url(),
                cloudflare = cloudflare_status.url(),
            ),
        )
        .context("cannot write the drill's failover.toml")?;
        Ok(World {
            dir,
            config,
            target,
            token,
            edge,
            cf,
            dns,
            origin,
            compare_origin,
            heroku_status,
            cloudflare_status,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `http://api.drill.test:<edge port>`
    pub fn public_url(&self) -> String {
        format!("http://{PUBLIC_HOST}:{}", self.edge.port())
    }

    /// The `--resolve` pin a user's machine would not need: the public host at the edge.
    pub fn pin(&self) -> String {
        format!("{PUBLIC_HOST}:{}:127.0.0.1", self.edge.port())
    }

    /// The platform's DNS target stops answering (SERVFAIL, as in October 2025); the app runs on.
    pub fn break_target(&self) {
        self.dns.set_behaviour(&self.target, Behaviour::Servfail);
        self.heroku_status.set(Answer::heroku_status("red"));
    }

    /// The platform recovers: its target resolves again.
    pub fn heal_target(&self) {
        self.dns.set_behaviour(&self.target, Behaviour::Answer);
        self.heroku_status.set(Answer::heroku_status("green"));
    }

    /// What a user sees at `path` on the public URL right now.
    pub async fn visit(&self, path: &str) -> Result<Visit> {
        let resp = self
            .client()?
            .get(format!("{}{path}", self.public_url()))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status().as_u16();
        let server = header(&resp, "server");
        let body = resp.text().await.unwrap_or_default();
        Ok(Visit {
            path: path.to_owned(),
            status,
            server,
            body: crate::text::excerpt(&body, 80),
        })
    }

    fn client(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .resolve(PUBLIC_HOST, self.edge.addr())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build an HTTP client")
    }

    /// A steady stream of requests through the public URL, GET and POST in turn, each recorded,
    /// until [`Traffic::stop`].
    pub fn traffic(&self) -> Result<Traffic> {
        let client = self.client()?;
        let base = self.public_url();
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let started = std::time::Instant::now();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = log.clone();
        let task = tokio::spawn(async move {
            for n in 0u64.. {
                let post = n % 2 == 1;
                let one = send_one(&client, &base, post, n, started);
                tokio::select! {
                    () = stopped.notified() => break,
                    s = one => sent.lock().expect("traffic log").push(s),
                }
                // A steady pace, not a flood: the drill's machine runs the whole world.
                tokio::select! {
                    () = stopped.notified() => break,
                    () = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
            }
        });
        Ok(Traffic {
            started,
            stop,
            log,
            task,
        })
    }

    /// The user's-eye checks through the public URL, each passing or saying why not.
    pub async fn exercise(&self) -> Vec<FeatureCheck> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return vec![FeatureCheck::fail("client", format!("{e:#}"))],
        };
        let base = self.public_url();
        let public = format!("{PUBLIC_HOST}:{}", self.edge.port());
        let origin_host = self.origin.addr().ip().to_string();
        let (rest, redirect, cookie, cors, ws) = tokio::join!(
            check_rest(&client, &base),
            check_redirect(&client, &base, &public),
            check_cookie(&client, &base, &origin_host),
            check_cors(&client, &base),
            check_websocket(self.edge.addr(), &public),
        );
        vec![
            FeatureCheck::from("rest", rest),
            FeatureCheck::from("redirect", redirect),
            FeatureCheck::from("cookie", cookie),
            FeatureCheck::from("cors", cors),
            FeatureCheck::from("websocket", ws),
        ]
    }
}

/// The stream of requests of [`World::traffic`].
pub struct Traffic {
    pub started: std::time::Instant,
    stop: Arc<tokio::sync::Notify>,
    log: Arc<std::sync::Mutex<Vec<Sent>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    /// Every request answered so far, in order.
    pub fn seen(&self) -> Vec<Sent> {
        self.log.lock().expect("traffic log").clone()
    }

    /// Stops the stream; every request answered, in order. One in flight then is not counted.
    pub async fn stop(self) -> Vec<Sent> {
        self.stop.notify_one();
        let _ = self.task.await;
        let sent = self.log.lock().expect("traffic log").clone();
        sent
    }
}

/// One request of the stream and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub method: &'static str,
    /// Since the stream started.
    pub at_ms: u64,
    pub status: Option<u16>,
    /// `x-failover-path`, when the answer had one.
    pub path: Option<String>,
    /// A 2xx answer from the app, with the body it was sent echoed back.
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn send_one(
    client: &reqwest::Client,
    base: &str,
    post: bool,
    n: u64,
    started: std::time::Instant,
) -> Sent {
    let at_ms = started.elapsed().as_millis() as u64;
    let body = format!("{{\"n\":{n}}}");
    let req = if post {
        client.post(format!("{base}/api/orders")).body(body.clone())
    } else {
        client.get(format!("{base}/api/orders?n={n}"))
    };
    let method = if post { "POST" } else { "GET" };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Sent {
                method,
                at_ms,
                status: None,
                path: None,
                ok: false,
                error: Some(e.to_string()),
            }
        }
    };
    let status = resp.status().as_u16();
    let path = header(&resp, crate::worker::PATH_HEADER);
    let echo: serde_json::Value = resp.json().await.unwrap_or_default();
    let intact = if post {
        echo["body"].as_str() == Some(body.as_str())
    } else {
        echo["method"] == "GET"
    };
    Sent {
        method,
        at_ms,
        status: Some(status),
        path,
        ok: (200..300).contains(&status) && intact,
        error: None,
    }
}

/// One GET of the public URL, as a user would see it.
#[derive(Debug, Clone, Serialize)]
pub struct Visit {
    pub path: String,
    pub status: u16,
    pub server: Option<String>,
    pub body: String,
}

/// One user-facing behaviour checked through the public URL.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl FeatureCheck {
    fn fail(name: &str, detail: String) -> Self {
        FeatureCheck {
            name: name.to_owned(),
            ok: false,
            detail,
        }
    }

    fn from(name: &str, r: Result<String, String>) -> Self {
        match r {
            Ok(detail) => FeatureCheck {
                name: name.to_owned(),
                ok: true,
                detail,
            },
            Err(detail) => FeatureCheck::fail(name, detail),
        }
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(crate::text::sanitize)
}

fn marker(resp: &reqwest::Response) -> Result<String, String> {
    header(resp, crate::worker::MARKER_HEADER)
        .ok_or_else(|| "no x-failover-proxy header: not served by the proxy".to_owned())
}

async fn check_rest(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let sent = serde_json::json!({"order": 42, "items": ["tea", "toast"]});
    let resp = client
        .post(format!("{base}/api/orders?source=drill"))
        .json(&sent)
        .send()
        .await
        .map_err(|e| format!("POST /api/orders: {e}"))?;
    let status = resp.status().as_u16();
    let script = marker(&resp)?;
    let echo: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| format!("not JSON back: {e}"))?;
    let body: serde_json::Value = echo["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    if status != 200 || echo["method"] != "POST" || body != sent {
        return Err(format!(
            "POST /api/orders answered {status}; the origin saw {} with body {}",
            echo["method"], echo["body"]
        ));
    }
    Ok(format!(
        "POST /api/orders -> 200 JSON, body intact at the origin, via {script}"
    ))
}

async fn check_redirect(
    client: &reqwest::Client,
    base: &str,
    public: &str,
) -> Result<String, String> {
    let resp = client
        .get(format!("{base}/redirect/absolute"))
        .send()
        .await
        .map_err(|e| format!("GET /redirect/absolute: {e}"))?;
    let location = header(&resp, "location").unwrap_or_default();
    let want = format!("http://{public}/");
    if resp.status().as_u16() != 302 || !location.starts_with(&want) {
        return Err(format!(
            "GET /redirect/absolute answered {} to {location:?}; wanted 302 to {want}…",
            resp.status().as_u16()
        ));
    }
    Ok(format!("302 to {location}, the public host"))
}

async fn check_cookie(
    client: &reqwest::Client,
    base: &str,
    origin_host: &str,
) -> Result<String, String> {
    let resp = client
        .get(format!("{base}/cookies"))
        .send()
        .await
        .map_err(|e| format!("GET /cookies: {e}"))?;
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("session="))
        .ok_or_else(|| format!("no session cookie among {} Set-Cookie", cookies.len()))?;
    if cookies.iter().any(|c| {
        c.to_ascii_lowercase()
            .contains(&format!("domain={origin_host}"))
    }) {
        return Err(format!("a cookie still names the origin host: {session}"));
    }
    Ok(format!(
        "{} Set-Cookie kept; {}",
        cookies.len(),
        crate::text::excerpt(session, 60)
    ))
}

async fn check_cors(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let site = "https://app.drill.test";
    let resp = client
        .request(reqwest::Method::OPTIONS, format!("{base}/api/orders"))
        .header("origin", site)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .map_err(|e| format!("OPTIONS /api/orders: {e}"))?;
    let allowed = header(&resp, "access-control-allow-origin").unwrap_or_default();
    if allowed != site {
        return Err(format!(
            "preflight answered {} with Access-Control-Allow-Origin {allowed:?}",
            resp.status().as_u16()
        ));
    }
    Ok(format!(
        "preflight {} allows {site}",
        resp.status().as_u16()
    ))
}

async fn check_websocket(edge: SocketAddr, public: &str) -> Result<String, String> {
    let url = format!("ws://{public}/ws");
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect(edge)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut ws, resp) = tokio_tungstenite::client_async(url.as_str(), tcp)
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        let via = resp
            .headers()
            .get(crate::worker::MARKER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(crate::text::sanitize);
        let text = "ping from the drill";
        ws.send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))?;
        let back = loop {
            match ws.next().await {
                Some(Ok(m)) if m.is_text() => break m.into_text().map_err(|e| e.to_string())?,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("receive: {e}")),
                None => return Err("closed before the echo".to_owned()),
            }
        };
        let _ = ws.close(None).await;
        if back.as_str() != text {
            return Err(format!("echo {back:?}, wanted {text:?}"));
        }
        Ok(match via {
            Some(s) => format!("101, echo intact, via {s}"),
            None => "101, echo intact".to_owned(),
        })
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| "no echo within 10 s".to_owned())?
}
