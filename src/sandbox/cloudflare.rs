//! A stateful stand-in for the Cloudflare API on loopback, for tests and `failover drill`.
//!
//! It keeps zones, DNS records, Worker scripts (content, bindings, tags) and routes, and checks
//! requests the way the real API does: the envelope, authentication (10000 / 9109), the
//! multipart upload's shape and metadata, route patterns (10022), duplicate patterns (10020),
//! missing scripts and routes (10007 / 10009), pagination with `result_info`. Faults can be
//! injected per call (500, 429 with Retry-After, a dropped connection, a garbled body,
//! `success: false`, any status and code), a latency added to every answer, error messages
//! made to echo the request's Authorization header (as some real answers do), and calls held
//! at a chosen point until the test releases them, so that races between two clients are
//! played out deterministically.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Notify;
use url::Url;

/// The path prefix of every API call, as on the real API.
pub const API_PREFIX: &str = "/client/v4";

/// A permission a token may hold (the sandbox's view of the dashboard's permission groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Permission {
    ZoneRead,
    DnsRead,
    DnsEdit,
    WorkersScriptsRead,
    WorkersScriptsEdit,
    WorkersRoutesRead,
    WorkersRoutesEdit,
}

impl Permission {
    /// The permission that also grants this one (Edit includes Read).
    fn edit(self) -> Permission {
        match self {
            Permission::DnsRead => Permission::DnsEdit,
            Permission::WorkersScriptsRead => Permission::WorkersScriptsEdit,
            Permission::WorkersRoutesRead => Permission::WorkersRoutesEdit,
            other => other,
        }
    }
}

/// How an injected fault answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FaultKind {
    /// HTTP 500 with the envelope; nothing is changed.
    ServerError,
    /// HTTP 429 with `Retry-After` (seconds) and code 971; nothing is changed.
    RateLimited { retry_after_secs: u64 },
    /// The call is carried out, then the connection drops mid-answer.
    DropConnection,
    /// The call is carried out, then the answer is not JSON.
    MalformedBody,
    /// HTTP 200 with `success: false` (code 10013); nothing is changed.
    Unsuccessful,
    /// Any HTTP status with this error code (401, 403...); nothing is changed.
    Status { status: u16, code: u32 },
}

impl FaultKind {
    /// One of each kind, for fault matrices.
    pub fn all() -> Vec<FaultKind> {
        vec![
            FaultKind::ServerError,
            FaultKind::RateLimited {
                retry_after_secs: 0,
            },
            FaultKind::DropConnection,
            FaultKind::MalformedBody,
            FaultKind::Unsuccessful,
        ]
    }
}

/// A fault for calls of `method` on `path` (below `/client/v4`, without the query): the first
/// `skip` matching calls pass, the next `times` fail.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Method,
    pub path: String,
    pub skip: usize,
    pub times: usize,
    pub kind: FaultKind,
}

/// Where a held call waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAt {
    /// Before it is carried out: whatever happens meanwhile, it acts on the state after.
    Before,
    /// After it was carried out, before its answer leaves: it answers with the state before.
    After,
}

/// A call parked by the sandbox until released: the deterministic way to let another client
/// act in the middle of a run.
#[derive(Clone)]
pub struct Hold(Arc<HoldInner>);

struct HoldInner {
    reached: Notify,
    release: Notify,
}

impl Hold {
    /// Waits until the held call has arrived (and, for [`HoldAt::After`], was carried out).
    pub async fn reached(&self) {
        self.0.reached.notified().await;
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        self.0.release.notify_one();
    }

    async fn park(&self) {
        self.0.reached.notify_one();
        self.0.release.notified().await;
    }
}

struct ArmedHold {
    method: Method,
    path: String,
    skip: usize,
    at: HoldAt,
    seen: usize,
    hold: Hold,
    fired: bool,
}

/// A call the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub method: String,
    /// Below `/client/v4`, without the query.
    pub path: String,
    pub query: String,
}

impl Call {
    pub fn mutates(&self) -> bool {
        self.method != "GET"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneRec {
    pub id: String,
    /// The account that owns it (the token may reach several).
    pub account_id: String,
    pub name: String,
    pub status: String,
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsRec {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub record_type: String,
    pub content: String,
    pub proxied: bool,
    pub ttl: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptRec {
    pub name: String,
    /// Module name -> source.
    pub modules: BTreeMap<String, String>,
    pub main_module: String,
    pub compatibility_date: String,
    pub bindings: Vec<Value>,
    pub tags: Vec<String>,
    pub created_on: String,
    pub modified_on: String,
}

impl ScriptRec {
    /// The main module's source.
    pub fn main_source(&self) -> &str {
        self.modules
            .get(&self.main_module)
            .map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteRec {
    pub id: String,
    pub zone_id: String,
    pub pattern: String,
    pub script: Option<String>,
}

/// Everything the sandbox holds that a deploy or rollback could change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub dns: Vec<DnsRec>,
    pub scripts: BTreeMap<String, ScriptRec>,
    pub routes: Vec<RouteRec>,
}

struct Armed {
    fault: Fault,
    seen: usize,
    fired: usize,
}

struct World {
    token: String,
    account_id: String,
    zones: Vec<ZoneRec>,
    dns: Vec<DnsRec>,
    scripts: BTreeMap<String, ScriptRec>,
    routes: Vec<RouteRec>,
    faults: Vec<Armed>,
    holds: Vec<ArmedHold>,
    echo_authorization: bool,
    calls: Vec<Call>,
    latency: Duration,
    permissions: Option<BTreeSet<Permission>>,
    page_cap: u32,
}

type Shared = Arc<Mutex<World>>;

/// A running sandbox API. Dropping it stops the server.
pub struct CloudflareSandbox {
    addr: SocketAddr,
    world: Shared,
    _server: super::Served,
}

fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn now() -> String {
    crate::state::now_rfc3339()
}

impl CloudflareSandbox {
    /// Starts on 127.0.0.1 on a free port, accepting `token` for `account_id`.
    pub async fn start(token: &str, account_id: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let world: Shared = Arc::new(Mutex::new(World {
            token: token.to_owned(),
            account_id: account_id.to_owned(),
            zones: Vec::new(),
            dns: Vec::new(),
            scripts: BTreeMap::new(),
            routes: Vec::new(),
            faults: Vec::new(),
            holds: Vec::new(),
            echo_authorization: false,
            calls: Vec::new(),
            latency: Duration::ZERO,
            permissions: None,
            page_cap: 1000,
        }));
        let app = Router::new().fallback(handle).with_state(world.clone());
        Ok(CloudflareSandbox {
            addr,
            world,
            _server: super::Served::spawn(listener, app),
        })
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("sandbox state lock")
    }

    /// The API base to hand to failover (`CLOUDFLARE_API_BASE_URL`), ending in `/client/v4`.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}{API_PREFIX}", self.addr)).expect("a valid URL")
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn account_id(&self) -> String {
        self.world().account_id.clone()
    }

    /// Adds an active zone on `plan` ("free", "pro"...); returns its id.
    pub fn add_zone(&self, name: &str, plan: &str) -> String {
        let account = self.account_id();
        self.add_zone_in(&account, name, plan)
    }

    /// Adds an active zone owned by `account` (another account the token also reaches).
    pub fn add_zone_in(&self, account: &str, name: &str, plan: &str) -> String {
        let id = new_id();
        self.world().zones.push(ZoneRec {
            id: id.clone(),
            account_id: account.to_owned(),
            name: name.to_owned(),
            status: "active".to_owned(),
            plan: plan.to_owned(),
        });
        id
    }

    /// Adds a DNS record; returns its id.
    pub fn add_dns_record(
        &self,
        zone_id: &str,
        record_type: &str,
        name: &str,
        content: &str,
        proxied: bool,
    ) -> String {
        let id = new_id();
        self.world().dns.push(DnsRec {
            id: id.clone(),
            zone_id: zone_id.to_owned(),
            name: name.to_owned(),
            record_type: record_type.to_owned(),
            content: content.to_owned(),
            proxied,
            ttl: 1,
        });
        id
    }

    /// Adds a route (for another script, say); returns its id.
    pub fn add_route(&self, zone_id: &str, pattern: &str, script: Option<&str>) -> String {
        let id = new_id();
        self.world().routes.push(RouteRec {
            id: id.clone(),
            zone_id: zone_id.to_owned(),
            pattern: pattern.to_owned(),
            script: script.map(str::to_owned),
        });
        id
    }

    /// Adds a script as if uploaded by someone else.
    pub fn add_script(&self, name: &str, source: &str, tags: &[&str]) {
        let t = now();
        self.world().scripts.insert(
            name.to_owned(),
            ScriptRec {
                name: name.to_owned(),
                modules: BTreeMap::from([("index.js".to_owned(), source.to_owned())]),
                main_module: "index.js".to_owned(),
                compatibility_date: "2024-01-01".to_owned(),
                bindings: Vec::new(),
                tags: tags.iter().map(|s| (*s).to_owned()).collect(),
                created_on: t.clone(),
                modified_on: t,
            },
        );
    }

    pub fn snapshot(&self) -> Snapshot {
        let w = self.world();
        Snapshot {
            dns: w.dns.clone(),
            scripts: w.scripts.clone(),
            routes: w.routes.clone(),
        }
    }

    pub fn script(&self, name: &str) -> Option<ScriptRec> {
        self.world().scripts.get(name).cloned()
    }

    /// The script a request for `host` + `path` runs, as the edge decides: a route whose
    /// pattern matches (the most specific), on a host whose DNS record is proxied. The script
    /// may be missing (deleted while its route stayed): the edge then fails as Cloudflare's does.
    pub fn script_for(&self, host: &str, path: &str) -> Option<String> {
        let w = self.world();
        let host = host.to_ascii_lowercase();
        let proxied = w
            .dns
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case(&host) && r.proxied);
        if !proxied {
            return None;
        }
        let url = format!("{host}{path}");
        w.routes
            .iter()
            .filter(|r| pattern_matches(&r.pattern, &url))
            .max_by_key(|r| r.pattern.len())
            .and_then(|r| r.script.clone())
    }

    pub fn inject(&self, fault: Fault) {
        self.world().faults.push(Armed {
            fault,
            seen: 0,
            fired: 0,
        });
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Holds the call of `method` on `path` that comes after `skip` matching ones, at `at`,
    /// until [`Hold::release`].
    pub fn hold(&self, method: Method, path: &str, skip: usize, at: HoldAt) -> Hold {
        let hold = Hold(Arc::new(HoldInner {
            reached: Notify::new(),
            release: Notify::new(),
        }));
        self.world().holds.push(ArmedHold {
            method,
            path: path.to_owned(),
            skip,
            at,
            seen: 0,
            hold: hold.clone(),
            fired: false,
        });
        hold
    }

    /// Makes every error message quote the request's Authorization header, as some answers
    /// of the real API do: what a client prints of an error must not leak the token.
    pub fn echo_authorization(&self, on: bool) {
        self.world().echo_authorization = on;
    }

    /// Every call received so far.
    pub fn calls(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.world().calls.clear();
    }

    /// Delay every answer by this much (to measure sequential round trips).
    pub fn set_latency(&self, latency: Duration) {
        self.world().latency = latency;
    }

    /// Restrict the token to these permissions (`None`: all).
    pub fn set_permissions(&self, permissions: Option<&[Permission]>) {
        self.world().permissions = permissions.map(|p| p.iter().copied().collect());
    }

    /// The most items a list call returns per page, whatever `per_page` asks.
    pub fn set_page_cap(&self, cap: u32) {
        self.world().page_cap = cap.max(1);
    }
}

/// Whether a route pattern (`*.example.com/api/*`) matches `host/path`.
fn pattern_matches(pattern: &str, url: &str) -> bool {
    let (p_host, p_path) = pattern.split_once('/').unwrap_or((pattern, ""));
    let (u_host, u_path) = url.split_once('/').unwrap_or((url, ""));
    let host_ok = match p_host.strip_prefix('*') {
        Some(suffix) => u_host.ends_with(suffix),
        None => p_host.eq_ignore_ascii_case(u_host),
    };
    let path_ok = match p_path.strip_suffix('*') {
        Some(prefix) => u_path.starts_with(prefix),
        None => p_path == u_path,
    };
    host_ok && path_ok
}

/// A route pattern the API accepts for `zone`: no scheme, a host in the zone (optionally with
/// a leading `*`), a path whose only `*` is the last character.
fn valid_pattern(pattern: &str, zone: &str) -> bool {
    if pattern.contains("://") || pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let (host, path) = match pattern.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (pattern, None),
    };
    let bare = host.strip_prefix('*').unwrap_or(host);
    let bare = bare.strip_prefix('.').unwrap_or(bare);
    let in_zone = bare.eq_ignore_ascii_case(zone)
        || bare
            .to_ascii_lowercase()
            .ends_with(&format!(".{}", zone.to_ascii_lowercase()))
        || (host.starts_with('*') && bare.is_empty());
    let host_chars = bare
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let path_ok = path.is_none_or(|p| p.find('*').is_none_or(|i| i == p.len() - 1));
    in_zone && host_chars && !bare.is_empty() && path_ok
}

// ---------------------------------------------------------------------------------------------
// The server.

fn envelope(status: StatusCode, result: Value) -> Response {
    (
        status,
        axum::Json(json!({"success": true, "errors": [], "messages": [], "result": result})),
    )
        .into_response()
}

fn paged(items: Vec<Value>, page: u32, per_page: u32) -> Response {
    let total = items.len() as u32;
    let per_page = per_page.max(1);
    let total_pages = total.div_ceil(per_page).max(1);
    let start = ((page.max(1) - 1) * per_page) as usize;
    let slice: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .collect();
    let body = json!({
        "success": true, "errors": [], "messages": [],
        "result_info": {"page": page.max(1), "per_page": per_page, "count": slice.len(),
                        "total_count": total, "total_pages": total_pages},
        "result": slice,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn failure(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "success": false,
            "errors": [{"code": code, "message": message}],
            "messages": [],
            "result": null,
        })),
    )
        .into_response()
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

async fn handle(State(world): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path()
        .strip_prefix(API_PREFIX)
        .unwrap_or("")
        .to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (latency, fault, hold, echo) = {
        let mut w = world.lock().expect("sandbox state lock");
        w.calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
        });
        let mut fault = None;
        for armed in &mut w.faults {
            if armed.fault.method == method && armed.fault.path == path {
                armed.seen += 1;
                if armed.seen > armed.fault.skip && armed.fired < armed.fault.times {
                    armed.fired += 1;
                    fault = Some(armed.fault.kind.clone());
                    break;
                }
            }
        }
        let mut hold = None;
        for armed in w.holds.iter_mut().filter(|h| !h.fired) {
            if armed.method == method && armed.path == path {
                armed.seen += 1;
                if armed.seen > armed.skip {
                    armed.fired = true;
                    hold = Some((armed.hold.clone(), armed.at));
                    break;
                }
            }
        }
        (w.latency, fault, hold, w.echo_authorization)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some((hold, HoldAt::Before)) = &hold {
        hold.park().await;
    }
    let resp = answer(&world, fault, method, &path, &query, req).await;
    if let Some((hold, HoldAt::After)) = &hold {
        hold.park().await;
    }
    match (echo, authorization) {
        (true, Some(auth)) => echo_into_errors(resp, &auth).await,
        _ => resp,
    }
}

/// Appends the request's Authorization header to every error message of a failed answer.
async fn echo_into_errors(resp: Response, authorization: &str) -> Response {
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut doc: Value = match serde_json::from_slice(&bytes) {
        Ok(doc) => doc,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    if let Some(errors) = doc.get_mut("errors").and_then(Value::as_array_mut) {
        for e in errors {
            if let Some(Value::String(m)) = e.get_mut("message") {
                m.push_str(&format!(" (request had Authorization: {authorization})"));
            }
        }
    }
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(doc.to_string()))
}

/// The answer to one call: an injected fault, or the call carried out.
async fn answer(
    world: &Shared,
    fault: Option<FaultKind>,
    method: Method,
    path: &str,
    query: &str,
    req: Request,
) -> Response {
    match fault {
        Some(FaultKind::ServerError) => {
            return failure(StatusCode::INTERNAL_SERVER_ERROR, 10013, "internal error")
        }
        Some(FaultKind::Status { status, code }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return failure(status, code, "injected failure");
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let mut resp = failure(
                StatusCode::TOO_MANY_REQUESTS,
                971,
                "Please wait and consider throttling your request speed",
            );
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                retry_after_secs
                    .to_string()
                    .parse()
                    .expect("a header value"),
            );
            return resp;
        }
        Some(FaultKind::Unsuccessful) => {
            return failure(StatusCode::OK, 10013, "the request could not be completed")
        }
        _ => {}
    }
    let resp = route(world, method, path, query, req).await;
    match fault {
        Some(FaultKind::DropConnection) => {
            // Headers go out, then the body fails: the client sees the connection drop.
            let stream = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped by fault injection",
                ))
            });
            let mut broken = Response::new(Body::from_stream(stream));
            *broken.status_mut() = resp.status();
            broken
        }
        Some(FaultKind::MalformedBody) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html>upstream hiccup</html>",
        )
            .into_response(),
        _ => resp,
    }
}

fn permission_for(method: &Method, segments: &[&str]) -> Option<Permission> {
    let get = *method == Method::GET;
    match segments {
        ["user", "tokens", "verify"] | ["accounts", _, "tokens", "verify"] => None,
        ["zones"] | ["zones", _] => Some(Permission::ZoneRead),
        ["zones", _, "dns_records", ..] if get => Some(Permission::DnsRead),
        ["zones", _, "dns_records", ..] => Some(Permission::DnsEdit),
        ["zones", _, "workers", "routes", ..] if get => Some(Permission::WorkersRoutesRead),
        ["zones", _, "workers", "routes", ..] => Some(Permission::WorkersRoutesEdit),
        ["accounts", _, "workers", ..] if get => Some(Permission::WorkersScriptsRead),
        ["accounts", _, "workers", ..] => Some(Permission::WorkersScriptsEdit),
        _ => None,
    }
}

async fn route(world: &Shared, method: Method, path: &str, query: &str, req: Request) -> Response {
    let auth = auth_check(world, req.headers());
    if let Some(resp) = auth {
        return resp;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some(needed) = permission_for(&method, &segments) {
        let w = world.lock().expect("sandbox state lock");
        let allowed = w
            .permissions
            .as_ref()
            .is_none_or(|p| p.contains(&needed) || p.contains(&needed.edit()));
        if !allowed {
            return failure(StatusCode::FORBIDDEN, 10000, "Authentication error");
        }
    }
    let q = query_map(query);
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["user", "tokens", "verify"]) if is_account_token(world) => {
            // Account-owned tokens verify only at their account's endpoint.
            failure(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token")
        }
        (Method::GET, ["user", "tokens", "verify"]) => envelope(
            StatusCode::OK,
            json!({"id": "0123456789abcdef0123456789abcdef", "status": "active"}),
        ),
        (Method::GET, ["accounts", a, "tokens", "verify"]) => {
            if !account_ok(world, a) {
                return no_account(a);
            }
            envelope(
                StatusCode::OK,
                json!({"id": "0123456789abcdef0123456789abcdef", "status": "active"}),
            )
        }
        (Method::GET, ["accounts"]) => {
            // The accounts the token can reach: the sandbox has one.
            let w = world.lock().expect("sandbox state lock");
            let items = vec![json!({
                "id": w.account_id, "name": "sandbox", "type": "standard",
                "settings": {"enforce_twofactor": false},
                "created_on": "2024-01-01T00:00:00Z",
            })];
            let (page, per_page) = page_params(&q, w.page_cap);
            paged(items, page, per_page)
        }
        (Method::GET, ["zones"]) => list_zones(world, &q),
        (Method::GET, ["zones", z]) => {
            let w = world.lock().expect("sandbox state lock");
            match w.zones.iter().find(|zone| zone.id == *z) {
                Some(zone) => envelope(
                    StatusCode::OK,
                    zone_json(zone, &zone.account_id, w.permissions.as_ref()),
                ),
                None => failure(
                    StatusCode::NOT_FOUND,
                    7003,
                    "Could not route to /zones, perhaps your object identifier is invalid?",
                ),
            }
        }
        (Method::GET, ["zones", z, "dns_records"]) => list_dns(world, z, &q),
        (Method::PATCH, ["zones", z, "dns_records", id]) => {
            let body = match json_body(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            patch_dns(world, z, id, &body)
        }
        (Method::GET, ["zones", z, "workers", "routes"]) => {
            let w = world.lock().expect("sandbox state lock");
            if !w.zones.iter().any(|zone| zone.id == *z) {
                return failure(
                    StatusCode::NOT_FOUND,
                    7003,
                    "Could not route to /zones, perhaps your object identifier is invalid?",
                );
            }
            let items: Vec<Value> = w
                .routes
                .iter()
                .filter(|r| r.zone_id == *z)
                .map(route_json)
                .collect();
            envelope(StatusCode::OK, Value::Array(items))
        }
        (Method::POST, ["zones", z, "workers", "routes"]) => {
            let body = match json_body(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            create_route(world, z, &body)
        }
        (Method::DELETE, ["zones", z, "workers", "routes", id]) => {
            let mut w = world.lock().expect("sandbox state lock");
            let before = w.routes.len();
            w.routes.retain(|r| !(r.zone_id == *z && r.id == *id));
            if w.routes.len() == before {
                failure(
                    StatusCode::NOT_FOUND,
                    10009,
                    "workers.api.error.route_not_found",
                )
            } else {
                envelope(StatusCode::OK, json!({"id": id}))
            }
        }
        (_, ["accounts", a, ..]) if !account_ok(world, a) => no_account(a),
        (Method::GET, ["accounts", _, "workers", "scripts"]) => list_scripts(world, &q),
        (Method::PUT, ["accounts", _, "workers", "scripts", name]) => {
            upload_script(world, name, req).await
        }
        (Method::GET, ["accounts", _, "workers", "scripts", name, "settings"]) => {
            let w = world.lock().expect("sandbox state lock");
            match w.scripts.get(*name) {
                Some(s) => envelope(StatusCode::OK, settings_json(s)),
                None => script_missing(),
            }
        }
        (Method::DELETE, ["accounts", _, "workers", "scripts", name]) => {
            let mut w = world.lock().expect("sandbox state lock");
            match w.scripts.remove(*name) {
                Some(_) => envelope(StatusCode::OK, Value::Null),
                None => script_missing(),
            }
        }
        (Method::PUT, ["accounts", _, "workers", "scripts", _, "routes"]) => failure(
            StatusCode::BAD_REQUEST,
            10000,
            "the sandbox refuses PUT .../routes: it replaces every route of the script",
        ),
        _ => failure(StatusCode::NOT_FOUND, 7000, "No route for that URI"),
    }
}

fn auth_check(world: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = world.lock().expect("sandbox state lock").token.clone();
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => Some(failure(
            StatusCode::BAD_REQUEST,
            10000,
            "Authentication error",
        )),
        Some(v) if v.strip_prefix("Bearer ") == Some(token.as_str()) => None,
        Some(_) => Some(failure(
            StatusCode::BAD_REQUEST,
            9109,
            "Invalid access token",
        )),
    }
}

fn is_account_token(world: &Shared) -> bool {
    world
        .lock()
        .expect("sandbox state lock")
        .token
        .starts_with("cfat_")
}

fn account_ok(world: &Shared, account: &str) -> bool {
    world.lock().expect("sandbox state lock").account_id == account
}

fn no_account(account: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        7003,
        &format!(
            "Could not route to /accounts/{account}, perhaps your object identifier is invalid?"
        ),
    )
}

fn script_missing() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        10007,
        "This Worker does not exist on your account.",
    )
}

async fn json_body(req: Request) -> Result<Value, Response> {
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|_| failure(StatusCode::BAD_REQUEST, 10001, "cannot read the body"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| failure(StatusCode::BAD_REQUEST, 10026, "request body is not JSON"))
}

/// The zone's `permissions` list as the API shows it to a token: the zone-level permission
/// groups it holds, in the dashboard's `#group:level` form (account-level groups are absent).
fn zone_permissions(permissions: Option<&BTreeSet<Permission>>) -> Vec<&'static str> {
    let holds = |p: Permission| permissions.is_none_or(|set| set.contains(&p));
    let mut out = Vec::new();
    if holds(Permission::ZoneRead) {
        out.push("#zone:read");
    }
    if holds(Permission::DnsRead) || holds(Permission::DnsEdit) {
        out.push("#dns_records:read");
    }
    if holds(Permission::DnsEdit) {
        out.push("#dns_records:edit");
    }
    if holds(Permission::WorkersRoutesEdit) {
        out.extend(["#worker:read", "#worker:edit"]);
    }
    out
}

fn zone_json(z: &ZoneRec, account: &str, permissions: Option<&BTreeSet<Permission>>) -> Value {
    let plan_name = match z.plan.as_str() {
        "free" => "Free Website",
        "pro" => "Pro Website",
        "business" => "Business Website",
        _ => "Enterprise Website",
    };
    json!({
        "id": z.id, "name": z.name, "status": z.status, "paused": false, "type": "full",
        "development_mode": 0,
        "account": {"id": account, "name": "sandbox"},
        "owner": {"id": account, "name": "sandbox", "type": "organization"},
        "meta": {"cdn_only": false, "dns_only": false, "foundation_dns": false, "page_rule_quota": 3, "phishing_detected": false, "step": 2},
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": ["ns1.registrar.test"], "original_registrar": "sandbox registrar",
        "original_dnshost": "sandbox",
        "plan": {"id": z.plan, "name": plan_name, "legacy_id": z.plan, "can_subscribe": false,
                 "currency": "USD", "externally_managed": false, "frequency": "monthly",
                 "is_subscribed": true, "legacy_discount": false, "price": 0},
        "created_on": "2024-01-01T00:00:00Z", "modified_on": "2024-01-01T00:00:00Z",
        "activated_on": "2024-01-01T00:00:00Z",
        "permissions": zone_permissions(permissions),
    })
}

fn list_zones(world: &Shared, q: &BTreeMap<String, String>) -> Response {
    let w = world.lock().expect("sandbox state lock");
    let items: Vec<Value> = w
        .zones
        .iter()
        .filter(|z| q.get("name").is_none_or(|n| z.name.eq_ignore_ascii_case(n)))
        .filter(|z| q.get("account.id").is_none_or(|a| *a == z.account_id))
        .map(|z| zone_json(z, &z.account_id, w.permissions.as_ref()))
        .collect();
    let (page, per_page) = page_params(q, w.page_cap);
    paged(items, page, per_page)
}

fn page_params(q: &BTreeMap<String, String>, cap: u32) -> (u32, u32) {
    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: u32 = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    (page, per_page.min(cap))
}

fn dns_json(r: &DnsRec, zone_name: &str) -> Value {
    json!({
        "id": r.id, "zone_id": r.zone_id, "zone_name": zone_name, "name": r.name,
        "type": r.record_type, "content": r.content, "proxied": r.proxied,
        "proxiable": matches!(r.record_type.as_str(), "A" | "AAAA" | "CNAME"),
        "ttl": r.ttl, "settings": {}, "meta": {}, "comment": "", "tags": [], "data": {},
        "created_on": "2024-01-01T00:00:00Z", "modified_on": "2024-01-01T00:00:00Z",
    })
}

fn list_dns(world: &Shared, zone: &str, q: &BTreeMap<String, String>) -> Response {
    let w = world.lock().expect("sandbox state lock");
    let Some(z) = w.zones.iter().find(|z| z.id == zone) else {
        return failure(
            StatusCode::NOT_FOUND,
            7003,
            "Could not route to /zones, perhaps your object identifier is invalid?",
        );
    };
    let items: Vec<Value> = w
        .dns
        .iter()
        .filter(|r| r.zone_id == zone)
        .filter(|r| q.get("name").is_none_or(|n| r.name.eq_ignore_ascii_case(n)))
        .map(|r| dns_json(r, &z.name))
        .collect();
    let (page, per_page) = page_params(q, w.page_cap);
    paged(items, page, per_page)
}

fn patch_dns(world: &Shared, zone: &str, id: &str, body: &Value) -> Response {
    let mut w = world.lock().expect("sandbox state lock");
    let zone_name = w
        .zones
        .iter()
        .find(|z| z.id == zone)
        .map(|z| z.name.clone())
        .unwrap_or_default();
    let Some(rec) = w.dns.iter_mut().find(|r| r.zone_id == zone && r.id == id) else {
        return failure(StatusCode::NOT_FOUND, 81044, "Record does not exist.");
    };
    if let Some(t) = body.get("type").and_then(Value::as_str) {
        if t != rec.record_type {
            return failure(
                StatusCode::BAD_REQUEST,
                9000,
                "DNS record type cannot be changed by this call",
            );
        }
    }
    if let Some(p) = body.get("proxied") {
        let Some(p) = p.as_bool() else {
            return failure(StatusCode::BAD_REQUEST, 9003, "proxied must be a boolean");
        };
        if p && !matches!(rec.record_type.as_str(), "A" | "AAAA" | "CNAME") {
            return failure(
                StatusCode::BAD_REQUEST,
                9004,
                "This record type cannot be proxied.",
            );
        }
        rec.proxied = p;
    }
    if let Some(c) = body.get("content").and_then(Value::as_str) {
        rec.content = c.to_owned();
    }
    if let Some(t) = body.get("ttl").and_then(Value::as_u64) {
        rec.ttl = t as u32;
    }
    envelope(StatusCode::OK, dns_json(rec, &zone_name))
}

fn route_json(r: &RouteRec) -> Value {
    match &r.script {
        Some(s) => json!({"id": r.id, "pattern": r.pattern, "script": s}),
        None => json!({"id": r.id, "pattern": r.pattern}),
    }
}

fn create_route(world: &Shared, zone: &str, body: &Value) -> Response {
    let mut w = world.lock().expect("sandbox state lock");
    let Some(z) = w.zones.iter().find(|z| z.id == zone).cloned() else {
        return failure(
            StatusCode::NOT_FOUND,
            7003,
            "Could not route to /zones, perhaps your object identifier is invalid?",
        );
    };
    let Some(pattern) = body.get("pattern").and_then(Value::as_str) else {
        return failure(StatusCode::BAD_REQUEST, 10022, "pattern is required");
    };
    if !valid_pattern(pattern, &z.name) {
        return failure(StatusCode::BAD_REQUEST, 10022, "Invalid URL pattern");
    }
    if w.routes
        .iter()
        .any(|r| r.zone_id == zone && r.pattern == pattern)
    {
        return failure(
            StatusCode::CONFLICT,
            10020,
            "A route with the same pattern already exists.",
        );
    }
    let script = body
        .get("script")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let rec = RouteRec {
        id: new_id(),
        zone_id: zone.to_owned(),
        pattern: pattern.to_owned(),
        script,
    };
    w.routes.push(rec.clone());
    envelope(StatusCode::OK, route_json(&rec))
}

fn script_json(s: &ScriptRec) -> Value {
    json!({
        "id": s.name, "etag": format!("{:x}", s.modified_on.len() + s.main_source().len()),
        "handlers": ["fetch"], "has_modules": true, "has_assets": false,
        "compatibility_date": s.compatibility_date, "compatibility_flags": [],
        "tags": s.tags, "created_on": s.created_on, "modified_on": s.modified_on,
        "usage_model": "standard", "logpush": false, "startup_time_ms": 4,
    })
}

fn settings_json(s: &ScriptRec) -> Value {
    // Secret values never come back, as on the real API.
    let bindings: Vec<Value> = s
        .bindings
        .iter()
        .map(|b| match b.get("type").and_then(Value::as_str) {
            Some("secret_text") => json!({"type": "secret_text", "name": b.get("name")}),
            _ => b.clone(),
        })
        .collect();
    json!({
        "bindings": bindings, "compatibility_date": s.compatibility_date,
        "compatibility_flags": [], "tags": s.tags, "logpush": false,
        "usage_model": "standard", "tail_consumers": [],
    })
}

fn list_scripts(world: &Shared, q: &BTreeMap<String, String>) -> Response {
    let w = world.lock().expect("sandbox state lock");
    // `tags=a:yes,b:no`: must carry every `yes` tag and none of the `no` ones.
    let wanted: Vec<(String, bool)> = q
        .get("tags")
        .map(|t| {
            t.split(',')
                .filter_map(|pair| {
                    let (tag, yn) = pair.split_once(':')?;
                    Some((tag.to_owned(), yn == "yes"))
                })
                .collect()
        })
        .unwrap_or_default();
    let items: Vec<Value> = w
        .scripts
        .values()
        .filter(|s| wanted.iter().all(|(t, yes)| s.tags.contains(t) == *yes))
        .map(script_json)
        .collect();
    envelope(StatusCode::OK, Value::Array(items))
}

fn bad_script(message: &str) -> Response {
    failure(StatusCode::BAD_REQUEST, 10021, message)
}

async fn upload_script(world: &Shared, name: &str, req: Request) -> Response {
    let valid_name = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        return failure(StatusCode::BAD_REQUEST, 10016, "Invalid Worker name");
    }
    let mut multipart = match Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(_) => return bad_script("the upload must be multipart/form-data"),
    };
    let mut metadata: Option<Value> = None;
    let mut parts: BTreeMap<String, (String, String)> = BTreeMap::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let part_name = field.name().unwrap_or_default().to_owned();
                let content_type = field.content_type().unwrap_or_default().to_owned();
                let Ok(text) = field.text().await else {
                    return bad_script("a part could not be read");
                };
                if part_name == "metadata" {
                    match serde_json::from_str(&text) {
                        Ok(v) => metadata = Some(v),
                        Err(_) => return bad_script("metadata is not JSON"),
                    }
                } else {
                    parts.insert(part_name, (content_type, text));
                }
            }
            Ok(None) => break,
            Err(_) => return bad_script("malformed multipart body"),
        }
    }
    let Some(meta) = metadata else {
        return bad_script("the metadata part is missing");
    };
    let Some(main) = meta.get("main_module").and_then(Value::as_str) else {
        return bad_script("metadata.main_module is required for an ES module Worker");
    };
    let Some((content_type, _)) = parts.get(main) else {
        return bad_script(&format!("main_module {main} names no part of the upload"));
    };
    if content_type != "application/javascript+module" {
        return bad_script(&format!(
            "module {main} has content type {content_type:?}, not application/javascript+module"
        ));
    }
    let date = meta
        .get("compatibility_date")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let date_ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !date_ok {
        return bad_script("metadata.compatibility_date must be YYYY-MM-DD");
    }
    let bindings = meta
        .get("bindings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for b in &bindings {
        let ok = match (
            b.get("type").and_then(Value::as_str),
            b.get("name").and_then(Value::as_str),
        ) {
            (Some("plain_text" | "secret_text"), Some(_)) => {
                b.get("text").is_some_and(Value::is_string)
            }
            (Some("json"), Some(_)) => b.get("json").is_some(),
            _ => false,
        };
        if !ok {
            return bad_script("a binding is malformed (type, name and its value are required)");
        }
    }
    let tags: Vec<String> = meta
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if tags.len() > 10
        || tags
            .iter()
            .any(|t| t.len() > 1024 || t.contains([':', ',']))
    {
        return bad_script("tags: at most 10, each at most 1024 characters, without ':' or ','");
    }
    let mut w = world.lock().expect("sandbox state lock");
    let t = now();
    let created_on = w
        .scripts
        .get(name)
        .map_or_else(|| t.clone(), |s| s.created_on.clone());
    let rec = ScriptRec {
        name: name.to_owned(),
        modules: parts.into_iter().map(|(k, (_, v))| (k, v)).collect(),
        main_module: main.to_owned(),
        compatibility_date: date.to_owned(),
        bindings,
        tags,
        created_on,
        modified_on: t,
    };
    let body = script_json(&rec);
    w.scripts.insert(name.to_owned(), rec);
    envelope(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(pattern: &str, ok: bool) {
        assert_eq!(valid_pattern(pattern, "example.com"), ok, "{pattern}");
    }

    #[test]
    fn patterns() {
        check("api.example.com/*", true);
        check("*.example.com/*", true);
        check("example.com/api/*", true);
        check("https://api.example.com/*", false);
        check("api.other.com/*", false);
        check("api.example.com/*/x", false);
        check("api example.com/*", false);
        assert!(pattern_matches("api.example.com/*", "api.example.com/x/y"));
        assert!(!pattern_matches("api.example.com/*", "www.example.com/"));
    }
}
