//! The standby Worker in the real Workers runtime: the platform path first, the direct origin
//! when the edge says that path failed, and back. The runtime's fetches leave through a stand-in
//! of Cloudflare's egress, as on the sandbox edge: the public host goes to the platform (whose
//! failure each case picks: an edge error answer, a dropped connection), any other host is
//! reached as it is.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use failover::sandbox::origin::OriginHandle;
use failover::sandbox::workerd::{WorkerScript, Workerd};
use failover::worker::{self, Mode, WorkerSpec, COMPATIBILITY_DATE, MARKER_HEADER, PATH_HEADER};
use futures::{SinkExt, StreamExt};

use crate::support::workerd_binary;

const PUBLIC_HOST: &str = "api.example.com";
const SCRIPT: &str = "failover-api-example-com";
/// A hang guard, not a timing assertion.
const GUARD: Duration = Duration::from_secs(120);

/// What the platform path does with the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Platform {
    /// Reaches the platform's origin.
    Healthy,
    /// The edge answers this status itself (`error code: N`), as Cloudflare does.
    Edge(u16),
    /// The connection closes with no answer: the Worker's fetch throws.
    Dropped,
    /// The request is taken and left unanswered until the test lets the edge give up on it
    /// (Cloudflare's 524): a hung platform path.
    Hung,
}

struct Rig {
    platform_origin: OriginHandle,
    direct: OriginHandle,
    platform: Arc<Mutex<Platform>>,
    hung: Arc<HungGate>,
    runtime: Workerd,
    client: reqwest::Client,
    _egress: tokio::task::JoinHandle<()>,
}

impl Rig {
    async fn start(tweak: impl FnOnce(&mut WorkerSpec)) -> Option<Rig> {
        let bin = workerd_binary()?;
        let platform_origin = OriginHandle::start("platform").await.unwrap();
        let direct = OriginHandle::start("direct").await.unwrap();
        let platform = Arc::new(Mutex::new(Platform::Healthy));
        let hung = Arc::new(HungGate {
            held: AtomicU64::new(0),
            gate: tokio::sync::Semaphore::new(0),
        });
        let (egress, egress_addr) =
            egress(platform.clone(), platform_origin.addr(), hung.clone()).await;
        let mut spec = WorkerSpec::with_defaults(
            worker::script_name(PUBLIC_HOST),
            format!("http://{PUBLIC_HOST}"),
            vec![direct.url()],
        );
        spec.mode = Mode::Standby;
        spec.attempt_timeout_ms = spec.timeout_ms;
        tweak(&mut spec);
        let script = worker::render(worker::TEMPLATE, &spec).unwrap();
        let runtime = Workerd::start_routed(
            &bin,
            &WorkerScript {
                script,
                bindings: vec![],
                compatibility_date: COMPATIBILITY_DATE.to_owned(),
            },
            egress_addr,
        )
        .unwrap();
        Some(Rig {
            platform_origin,
            direct,
            platform,
            hung,
            runtime,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(GUARD)
                .build()
                .unwrap(),
            _egress: egress,
        })
    }

    fn set(&self, p: Platform) {
        *self.platform.lock().unwrap() = p;
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.runtime.url())
    }

    fn hits(&self) -> (u64, u64) {
        (self.platform_origin.hits(), self.direct.hits())
    }

    /// Sends a request through the Worker: (status, path header, the body).
    async fn send(&self, method: reqwest::Method, path: &str, body: &str) -> (u16, String, String) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("host", PUBLIC_HOST);
        if !body.is_empty() {
            req = req.body(body.to_owned());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        assert_eq!(
            r.headers().get(MARKER_HEADER).and_then(|v| v.to_str().ok()),
            Some(SCRIPT),
            "every answer carries the marker"
        );
        let path = r
            .headers()
            .get(PATH_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_owned();
        (status, path, r.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        self.send(reqwest::Method::GET, path, "").await
    }
}

/// Requests the hung platform path holds, and the gate that lets the edge give up on them.
struct HungGate {
    held: AtomicU64,
    gate: tokio::sync::Semaphore,
}

/// The egress stand-in: the public host is the platform path, in the state `platform` holds;
/// any other host is an origin on loopback, reached as it is.
async fn egress(
    platform: Arc<Mutex<Platform>>,
    platform_addr: SocketAddr,
    hung: Arc<HungGate>,
) -> (tokio::task::JoinHandle<()>, SocketAddr) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let platform = platform.clone();
            let hung = hung.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = *platform.lock().unwrap();
                    let hung = hung.clone();
                    async move {
                        let host = req
                            .headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let req = req.map(Body::new);
                        if host != PUBLIC_HOST {
                            let to: SocketAddr = host.parse().expect("an origin on loopback");
                            return Ok(failover::sandbox::edge::forward(req, to).await);
                        }
                        match state {
                            Platform::Healthy => {
                                Ok(failover::sandbox::edge::forward(req, platform_addr).await)
                            }
                            Platform::Edge(status) => Ok(axum::http::Response::builder()
                                .status(status)
                                .header("server", "cloudflare")
                                .body(Body::from(format!("error code: {status}\n")))
                                .unwrap()),
                            // An error from the service makes hyper close the connection
                            // without an answer.
                            Platform::Dropped => Err(std::io::Error::other("dropped")),
                            Platform::Hung => {
                                hung.held.fetch_add(1, Ordering::SeqCst);
                                hung.gate.acquire().await.unwrap().forget();
                                Ok(axum::http::Response::builder()
                                    .status(524)
                                    .header("server", "cloudflare")
                                    .body(Body::from("error code: 524\n"))
                                    .unwrap())
                            }
                        }
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (task, addr)
}

fn origin_of(body: &str) -> String {
    let echo: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    echo["origin"]
        .as_str()
        .unwrap_or("(not an echo)")
        .to_owned()
}

/// Each of the edge's own failures sends a GET to the direct origin; an answer of the app, or an
/// edge error that means the origin had the request (520, 524), is the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_edge_failure_falls_back_and_app_answers_do_not() {
    // No cool-down: every request tries the platform path first.
    let Some(rig) = Rig::start(|s| s.cooldown_ms = 0).await else {
        return;
    };
    #[track_caller]
    fn check(seen: &(u16, String, String), status: u16, path: &str, origin: &str) {
        assert_eq!(seen.0, status, "{seen:?}");
        assert_eq!(seen.1, path, "{seen:?}");
        if !origin.is_empty() {
            assert_eq!(origin_of(&seen.2), origin, "{seen:?}");
        }
    }
    check(&rig.get("/echo").await, 200, "platform", "platform");
    for code in [530, 521, 522, 523, 525, 526] {
        rig.set(Platform::Edge(code));
        check(&rig.get("/echo").await, 200, "direct", "direct");
    }
    for code in [500, 502, 503, 520, 524] {
        rig.set(Platform::Edge(code));
        check(&rig.get("/echo").await, code, "platform", "");
    }
    rig.set(Platform::Dropped);
    check(&rig.get("/echo").await, 200, "direct", "direct");
    rig.set(Platform::Healthy);
    check(&rig.get("/status/503").await, 503, "platform", "");
    assert_eq!(rig.hits(), (2, 7));
}

/// A body is sent again to the direct origin only when the edge says no server got it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_is_replayed_only_when_no_server_got_it() {
    let Some(rig) = Rig::start(|s| {
        s.cooldown_ms = 0;
        s.retry_body_limit = 64;
    })
    .await
    else {
        return;
    };
    let post = reqwest::Method::POST;
    let small = "{\"order\":1}";
    // The platform's own path takes it.
    let (status, path, body) = rig.send(post.clone(), "/echo", small).await;
    assert_eq!(
        (status, path.as_str(), origin_of(&body).as_str()),
        (200, "platform", "platform")
    );
    // 530/1016: nothing received it, so the direct origin gets it, body and all.
    rig.set(Platform::Edge(530));
    let (status, path, body) = rig.send(post.clone(), "/echo", small).await;
    assert_eq!((status, path.as_str()), (200, "direct"), "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (echo["origin"].as_str(), echo["body"].as_str()),
        (Some("direct"), Some(small))
    );
    assert_eq!(rig.hits(), (1, 1));
    // A dropped connection may have delivered it: a 502, and no second delivery.
    rig.set(Platform::Dropped);
    let (status, path, _) = rig.send(post.clone(), "/echo", small).await;
    assert_eq!((status, path.as_str()), (502, "platform"));
    assert_eq!(rig.hits(), (1, 1));
    // A body too large to keep streams to the platform path alone, whose answer is the answer.
    let large = "x".repeat(65);
    rig.set(Platform::Healthy);
    let (status, path, body) = rig.send(post.clone(), "/echo", &large).await;
    assert_eq!((status, path.as_str()), (200, "platform"), "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["body"].as_str(), Some(large.as_str()));
    assert_eq!(rig.hits(), (2, 1));
    rig.set(Platform::Edge(530));
    let (status, path, _) = rig.send(post.clone(), "/echo", &large).await;
    assert_eq!((status, path.as_str()), (530, "platform"));
    assert_eq!(rig.hits(), (2, 1));
    // An answer of the app (here a 503 from the platform's origin) is never replayed.
    rig.set(Platform::Healthy);
    let (status, path, _) = rig.send(post.clone(), "/status/503", small).await;
    assert_eq!((status, path.as_str()), (503, "platform"));
    assert_eq!(rig.hits(), (3, 1));
}

/// A platform path that takes requests and answers none trips the breaker with no timer: the
/// first request to find it silent for longer than `attempt_timeout_ms` goes direct, body and
/// all (nothing was sent yet), and so does every request in the cool-down. The request already
/// held gets the edge's own answer when the edge gives up (Cloudflare's 524), not a second
/// delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_platform_path_trips_the_breaker() {
    let Some(rig) = Rig::start(|s| {
        s.attempt_timeout_ms = 200;
        s.cooldown_ms = 600_000;
        s.retry_body_limit = 4;
    })
    .await
    else {
        return;
    };
    rig.set(Platform::Hung);
    let held = rig
        .client
        .get(rig.url("/echo"))
        .header("host", PUBLIC_HOST)
        .send();
    let held = tokio::spawn(held);
    tokio::time::timeout(GUARD, async {
        while rig.hung.held.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    // Longer than attempt_timeout_ms since the held request was sent, and nothing answered.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, path, body) = rig.get("/echo").await;
    assert_eq!(
        (status, path.as_str(), origin_of(&body).as_str()),
        (200, "direct", "direct")
    );
    for body in ["kept", "streamed"] {
        let (status, path, text) = rig.send(reqwest::Method::POST, "/echo", body).await;
        assert_eq!((status, path.as_str()), (200, "direct"), "{body}: {text}");
        let echo: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(echo["body"].as_str(), Some(body));
    }
    assert_eq!(rig.hung.held.load(Ordering::SeqCst), 1);
    rig.hung.gate.add_permits(1);
    let r = tokio::time::timeout(GUARD, held)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.status(), 524);
    assert_eq!(r.headers()[PATH_HEADER], "platform");
    assert_eq!(rig.hits(), (0, 3));
}

/// A request body that breaks off on the client's side is the client's 400 on the platform path,
/// whether it was kept for a replay or streamed, and never sends anything to the direct origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_request_body_is_the_clients_400_in_standby() {
    for limit in [1024, 4] {
        let Some(rig) = Rig::start(|s| s.retry_body_limit = limit).await else {
            return;
        };
        let request = format!(
            "POST /upload HTTP/1.1\r\nHost: {PUBLIC_HOST}\r\nContent-Length: 100\r\n\r\n0123456789"
        );
        let (head, body) = crate::worker::raw_half_closed(rig.runtime.addr(), &request).await;
        assert!(
            head.starts_with("http/1.1 400"),
            "limit {limit}: {head}\n{body}"
        );
        assert!(
            head.contains(&format!("{PATH_HEADER}: platform")),
            "limit {limit}: {head}"
        );
        assert!(
            body.starts_with("400 Bad Request: the request body did not arrive whole"),
            "limit {limit}: {body}"
        );
        assert_eq!(rig.direct.hits(), 0, "limit {limit}");
    }
}

/// After a failure the platform path is skipped for the cool-down, large bodies included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_path_cools_down_after_a_failure() {
    let Some(rig) = Rig::start(|s| {
        s.cooldown_ms = 600_000;
        s.retry_body_limit = 4;
    })
    .await
    else {
        return;
    };
    rig.set(Platform::Edge(530));
    assert_eq!(rig.get("/echo").await.1, "direct");
    // Healthy again, but within the cool-down: still direct, the platform untouched.
    rig.set(Platform::Healthy);
    for _ in 0..3 {
        assert_eq!(rig.get("/echo").await.1, "direct");
    }
    let (status, path, _) = rig
        .send(
            reqwest::Method::POST,
            "/echo",
            "a body longer than four bytes",
        )
        .await;
    assert_eq!((status, path.as_str()), (200, "direct"));
    assert_eq!(rig.hits(), (0, 5));
}

/// Once the cool-down is over, the platform path is tried again and serves, with no one acting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_path_comes_back_after_the_cool_down() {
    let Some(rig) = Rig::start(|s| s.cooldown_ms = 50).await else {
        return;
    };
    rig.set(Platform::Edge(530));
    assert_eq!(rig.get("/echo").await.1, "direct");
    rig.set(Platform::Healthy);
    // Polled, not timed: the first answer through the platform ends it.
    let back = tokio::time::timeout(GUARD, async {
        loop {
            let (status, path, _) = rig.get("/echo").await;
            assert_eq!(status, 200);
            if path == "platform" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "the platform path never came back");
    assert!(rig.platform_origin.hits() >= 1);
}

/// A WebSocket upgrade works through the platform path and, when it fails, through the direct
/// origin; the 101 says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_through_both_paths() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let Some(rig) = Rig::start(|s| s.cooldown_ms = 0).await else {
        return;
    };
    for (platform, path) in [
        (Platform::Healthy, "platform"),
        (Platform::Edge(530), "direct"),
    ] {
        rig.set(platform);
        let mut req = format!("ws://{}/ws", rig.runtime.addr())
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("host", PUBLIC_HOST.parse().unwrap());
        let (mut ws, resp) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), 101);
        assert_eq!(resp.headers()[MARKER_HEADER], SCRIPT);
        assert_eq!(resp.headers()[PATH_HEADER], path);
        ws.send(Message::text("hello")).await.unwrap();
        let echo = tokio::time::timeout(GUARD, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echo, Message::text("hello"), "through {path}");
    }
    assert_eq!(rig.hits(), (1, 1));
}
