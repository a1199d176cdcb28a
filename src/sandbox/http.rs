//! A tiny loopback HTTP server with one switchable fixed answer (status, headers, body): a
//! healthy or crashed origin, a Cloudflare edge answering 530/1016, a status page. It accepts
//! WebSocket upgrades when its answer says so. Stops when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// What the server answers to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Accept WebSocket upgrades (answering 101) instead of the fixed answer.
    pub websocket: bool,
}

impl Answer {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
            websocket: false,
        }
    }

    /// A healthy origin: 200 with a short body.
    pub fn ok() -> Self {
        Self::new(200, "ok\n")
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with_websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Heroku's router with a crashed app: 503, H10, the "Application error" page.
    pub fn heroku_h10() -> Self {
        Self::new(
            503,
            "<!DOCTYPE html><html><head><title>Application Error</title></head><body>\
             <p>An error occurred in the application and your page could not be served.</p>\
             <!-- code=H10 desc=\"App crashed\" --></body></html>",
        )
        .header("server", "heroku-router")
        .header("via", "1.1 heroku-router")
    }

    /// Cloudflare's edge when the origin's DNS name does not resolve: 530 with error 1016.
    pub fn cloudflare_1016() -> Self {
        Self::new(530, "error code: 1016")
            .header("server", "cloudflare")
            .header("cf-ray", "8f00000000000000-AMS")
    }

    /// Cloudflare's edge passing a healthy response through.
    pub fn cloudflare_ok() -> Self {
        Self::ok()
            .header("server", "cloudflare")
            .header("cf-ray", "8f00000000000001-AMS")
    }

    /// Our own emergency proxy answering through the edge.
    pub fn proxied(script: &str) -> Self {
        Self::cloudflare_ok().header("x-failover-proxy", script)
    }

    /// An Atlassian Statuspage v2 summary with this indicator (none, minor, major, critical).
    pub fn statuspage(indicator: &str) -> Self {
        Self::new(
            200,
            serde_json::json!({"status": {"indicator": indicator, "description": indicator}})
                .to_string(),
        )
        .header("content-type", "application/json")
    }

    /// A Heroku v4 current-status document with the Apps system in this colour.
    pub fn heroku_status(apps: &str) -> Self {
        Self::new(
            200,
            serde_json::json!({"status": [
                {"system": "Apps", "status": apps},
                {"system": "Data", "status": "green"},
                {"system": "Tools", "status": "green"},
            ], "incidents": []})
            .to_string(),
        )
        .header("content-type", "application/json")
    }
}

struct Shared {
    answer: Mutex<Answer>,
    hits: AtomicUsize,
}

/// A running server. Stops when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    pub async fn start(answer: Answer) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the sandbox HTTP listener")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            answer: Mutex::new(answer),
            hits: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HttpServer { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the answer for every later request.
    pub fn set(&self, answer: Answer) {
        *self.shared.answer.lock().expect("sandbox answer lock") = answer;
    }

    /// How many requests arrived: proof that the server was hit.
    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let answer = shared.answer.lock().expect("sandbox answer lock").clone();
    if let (true, Ok(upgrade)) = (answer.websocket, upgrade) {
        let mut response = upgrade
            .on_upgrade(|mut socket| async move {
                // Echo until the client closes, so a probe sees a live socket.
                while let Some(Ok(msg)) = socket.recv().await {
                    if socket.send(msg).await.is_err() {
                        break;
                    }
                }
            })
            .into_response();
        add_headers(&mut response, &answer.headers);
        return response;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    add_headers(&mut response, &answer.headers);
    response
}

fn add_headers(response: &mut Response, headers: &[(String, String)]) {
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
}
