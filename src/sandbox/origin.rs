//! A loopback origin that behaves like an app on a platform: REST echo, redirects, cookies,
//! CORS, SSE, large streaming transfers, WebSocket echo, a health check and a switch to make it
//! fail. Tests and the drill put it behind the proxy and check what arrives on both sides.
//!
//! Routes:
//! - `/health`: `ok` (503 while failing)
//! - `/redirect/relative`, `/redirect/absolute`, `/redirect/foreign`, `/redirect/protocol-relative`:
//!   302 to `/echo/after?x=1#frag` relative, on this origin's host, on `foreign.example`, or `//host/...`
//! - `/cookies`: several `Set-Cookie`, some with `Domain=` of this host
//! - `/sse?n=N&interval_ms=MS`: N events, spaced; with `gated=1`, each event after the first waits
//!   for [`OriginHandle::release_sse_event`], so a test can prove events are not buffered
//! - `/download?bytes=N`: N bytes of [`pattern_byte`], streamed in chunks
//! - `/upload`: counts and checks a streamed body of [`pattern_byte`]s; answers `{"bytes","intact"}`
//! - `/status/CODE`: answers with that status
//! - `/held`: the echo, sent only once [`OriginHandle::release_held`] lets it (one request per
//!   call), so a test decides which of two origins answers first
//! - `/hop-by-hop`: a response with every hop-by-hop header: `Connection` (naming
//!   `x-conn-private`, which it also sends), `Keep-Alive`, `Proxy-Connection`,
//!   `Proxy-Authenticate`, `TE`, `Trailer`, `Upgrade`; and `x-end-to-end`, which must pass
//! - `/ws`: WebSocket echo (text and binary); subprotocols `chat` and `superchat`; a text message
//!   `close CODE REASON` makes it close with that code
//! - anything else: a JSON echo of method, path, query, headers and body
//!
//! [`OriginHandle::set_failing`] makes every route answer 503; [`OriginHandle::set_stalled`] makes
//! requests hang unanswered.
//!
//! Every response carries `x-origin: <name>`; requests with `Origin` get credentialed CORS headers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::Semaphore;

/// The byte at `offset` of every download and expected upload: not constant, so a reordered or
/// truncated stream shows.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

struct Shared {
    name: String,
    addr: SocketAddr,
    failing: AtomicBool,
    stalled: AtomicBool,
    hits: AtomicU64,
    stalled_now: AtomicU64,
    sse_gate: Semaphore,
    held_gate: Semaphore,
}

/// A running origin; dropping it stops the server.
pub struct OriginHandle {
    shared: Arc<Shared>,
    _server: super::Served,
}

impl OriginHandle {
    /// Starts an origin named `name` (echoed in `x-origin`) on `127.0.0.1:<free port>`.
    /// Must run inside a tokio runtime.
    pub async fn start(name: &str) -> Result<OriginHandle> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the origin to loopback")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            addr,
            failing: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            stalled_now: AtomicU64::new(0),
            sse_gate: Semaphore::new(0),
            held_gate: Semaphore::new(0),
        });
        let app = router(shared.clone());
        Ok(OriginHandle {
            shared,
            _server: super::Served::spawn(listener, app),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// While failing, every request (health included) answers 503.
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// While stalled, requests are accepted and never answered: a hung app, for timeouts.
    pub fn set_stalled(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Requests received so far: proof that a request did (or did not) reach this origin.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// Requests held unanswered by the stall right now: one leaves the count when whoever sent
    /// it gives up and closes the connection.
    pub fn stalled_now(&self) -> u64 {
        self.shared.stalled_now.load(Ordering::SeqCst)
    }

    /// Lets one request to `/held` be answered.
    pub fn release_held(&self) {
        self.shared.held_gate.add_permits(1);
    }

    /// Lets a gated SSE stream send its next event.
    pub fn release_sse_event(&self) {
        self.shared.sse_gate.add_permits(1);
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/redirect/{kind}", any(redirect))
        .route("/cookies", any(cookies))
        .route("/sse", get(sse))
        .route("/download", get(download))
        .route("/upload", any(upload))
        .route("/status/{code}", any(status))
        .route("/hop-by-hop", any(hop_by_hop))
        .route("/ws", get(websocket))
        .route("/held", any(held))
        .fallback(echo)
        .layer(middleware::from_fn_with_state(shared.clone(), common))
        .with_state(shared)
}

/// One in a count for as long as it lives.
struct Counted<'a>(&'a AtomicU64);

impl<'a> Counted<'a> {
    fn enter(count: &'a AtomicU64) -> Counted<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Counted(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the hit, applies the failure switch, answers CORS, labels the response.
async fn common(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    if s.stalled.load(Ordering::SeqCst) {
        // Counted while held: the server drops this future when the connection closes.
        let _held = Counted::enter(&s.stalled_now);
        std::future::pending::<()>().await;
    }
    let cors_origin = req.headers().get(header::ORIGIN).cloned();
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if s.failing.load(Ordering::SeqCst) {
        // Read the request before answering, as an app does: answering mid-upload resets the
        // connection, and the proxy would then see a reset instead of this 503.
        let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
        (StatusCode::SERVICE_UNAVAILABLE, "origin failing\n").into_response()
    } else if preflight && cors_origin.is_some() {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, PATCH, OPTIONS"),
        );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    if let Some(origin) = cors_origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-origin"),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Ok(v) = HeaderValue::from_str(&s.name) {
        h.insert("x-origin", v);
    }
    resp
}

async fn echo(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &parts.headers {
        headers
            .entry(k.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    axum::Json(serde_json::json!({
        "origin": s.name,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "body_len": body.len(),
    }))
    .into_response()
}

async fn held(State(s): State<Arc<Shared>>, req: Request) -> Response {
    match s.held_gate.acquire().await {
        Ok(permit) => permit.forget(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    echo(State(s), req).await
}

async fn redirect(State(s): State<Arc<Shared>>, Path(kind): Path<String>) -> Response {
    let target = match kind.as_str() {
        "relative" => "/echo/after?x=1#frag".to_owned(),
        "absolute" => format!("http://{}/echo/after?x=1#frag", s.addr),
        "protocol-relative" => format!("//{}/echo/after?x=1#frag", s.addr),
        "foreign" => "https://foreign.example/elsewhere?q=1#top".to_owned(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}

async fn cookies(State(s): State<Arc<Shared>>) -> Response {
    let host = s.addr.ip().to_string();
    let mut r = axum::Json(serde_json::json!({"cookies": 4})).into_response();
    for c in [
        format!("session=abc; Path=/; Domain={host}; HttpOnly; Secure; SameSite=None"),
        format!("pref=dark; domain=.{host}; Path=/"),
        // A comma inside Expires: joined cookies would split here.
        "theme=x; Expires=Wed, 21 Oct 2099 07:28:00 GMT; Path=/".to_owned(),
        "other=1; Domain=other.example; Path=/".to_owned(),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[derive(Deserialize)]
struct SseParams {
    n: Option<u32>,
    interval_ms: Option<u64>,
    gated: Option<u8>,
}

async fn sse(State(s): State<Arc<Shared>>, Query(p): Query<SseParams>) -> Response {
    let n = p.n.unwrap_or(3);
    let interval = Duration::from_millis(p.interval_ms.unwrap_or(100));
    let gated = p.gated == Some(1);
    let stream = futures::stream::unfold(0u32, move |i| {
        let s = s.clone();
        async move {
            if i >= n {
                return None;
            }
            if i > 0 {
                if gated {
                    s.sse_gate.acquire().await.ok()?.forget();
                } else {
                    tokio::time::sleep(interval).await;
                }
            }
            let event = format!("id: {i}\nevent: tick\ndata: {{\"n\":{i}}}\n\n");
            Some((Ok::<_, std::io::Error>(Bytes::from(event)), i + 1))
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Deserialize)]
struct DownloadParams {
    bytes: u64,
}

async fn download(Query(p): Query<DownloadParams>) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let total = p.bytes;
    let stream = futures::stream::unfold(0u64, move |offset| async move {
        if offset >= total {
            return None;
        }
        let len = CHUNK.min(total - offset);
        let chunk: Vec<u8> = (offset..offset + len).map(pattern_byte).collect();
        Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), offset + len))
    });
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, total.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn upload(req: Request) -> Response {
    let mut stream = req.into_body().into_data_stream();
    let mut offset = 0u64;
    let mut intact = true;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        };
        if intact {
            intact = chunk
                .iter()
                .enumerate()
                .all(|(i, b)| *b == pattern_byte(offset + i as u64));
        }
        offset += chunk.len() as u64;
    }
    axum::Json(serde_json::json!({"bytes": offset, "intact": intact})).into_response()
}

/// A response carrying connection-level headers a proxy must not pass on.
async fn hop_by_hop() -> Response {
    (
        [
            ("connection", "keep-alive, X-Conn-Private, not a token"),
            ("x-conn-private", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authenticate", "Basic realm=\"origin\""),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("upgrade", "h2c"),
            ("x-end-to-end", "kept"),
        ],
        "hop\n",
    )
        .into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(c) => (c, format!("status {code}\n")).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn websocket(ws: WebSocketUpgrade) -> Response {
    ws.protocols(["chat", "superchat"])
        .max_message_size(64 * 1024 * 1024)
        .max_frame_size(64 * 1024 * 1024)
        .on_upgrade(ws_echo)
}

async fn ws_echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        let reply = match msg {
            Message::Text(t) => {
                if let Some(rest) = t.as_str().strip_prefix("close ") {
                    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                    let code = code.parse().unwrap_or(1000);
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.to_owned().into(),
                        })))
                        .await;
                    // Wait for the peer's closing frame, as the protocol asks.
                    while let Some(Ok(m)) = socket.recv().await {
                        if matches!(m, Message::Close(_)) {
                            break;
                        }
                    }
                    return;
                }
                Message::Text(t)
            }
            Message::Binary(b) => Message::Binary(b),
            Message::Close(frame) => {
                let _ = socket.send(Message::Close(frame)).await;
                return;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}
