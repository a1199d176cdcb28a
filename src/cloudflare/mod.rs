//! The only module that knows Cloudflare's URLs and JSON: a typed client for exactly the calls
//! failover makes, with the envelope, error codes as data, pagination and bounded retries.

pub mod preflight;
pub mod types;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{header, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::secret::ApiToken;

pub use types::{
    Account, DnsRecord, Route, ScriptInfo, ScriptSettings, TokenStatus, Zone, ZoneAccount,
    ZonePlan, MANAGED_TAG, STATE_BINDING,
};

/// Codes the API uses that callers branch on.
pub mod code {
    /// Too many requests: slow down (also sent with HTTP 429).
    pub const RATE_LIMITED: u32 = 971;
    /// Authentication error (missing or wrong credentials, or a permission the token lacks).
    pub const AUTH: u32 = 10000;
    /// Invalid access token.
    pub const INVALID_TOKEN: u32 = 9109;
    /// The script does not exist.
    pub const SCRIPT_NOT_FOUND: u32 = 10007;
    /// The route does not exist.
    pub const ROUTE_NOT_FOUND: u32 = 10009;
    /// The script is not visible to the routes API yet (eventual consistency): retry.
    pub const SCRIPT_NOT_VISIBLE: u32 = 10019;
    /// A route with this pattern exists already.
    pub const DUPLICATE_ROUTE: u32 = 10020;
    /// The route pattern is malformed.
    pub const BAD_PATTERN: u32 = 10022;
}

/// Which call this is: names the permission it needs and labels the journal and call counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    VerifyToken,
    ListAccounts,
    ListZones,
    GetZone,
    ListDnsRecords,
    PatchDnsRecord,
    PutScript,
    ListScripts,
    GetScriptSettings,
    DeleteScript,
    ListRoutes,
    CreateRoute,
    DeleteRoute,
}

impl Op {
    /// The token permission (as the dashboard names it) this call needs.
    pub fn permission(self) -> &'static str {
        match self {
            Op::VerifyToken => "a valid API token",
            Op::ListAccounts => "Account Settings Read (account)",
            Op::ListZones | Op::GetZone => "Zone Read (zone)",
            Op::ListDnsRecords => "DNS Read or DNS Edit (zone)",
            Op::PatchDnsRecord => "DNS Edit (zone)",
            Op::PutScript | Op::ListScripts | Op::GetScriptSettings | Op::DeleteScript => {
                "Workers Scripts Edit (account)"
            }
            Op::ListRoutes | Op::CreateRoute | Op::DeleteRoute => "Workers Routes Edit (zone)",
        }
    }

    /// Whether the call changes anything in Cloudflare.
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Op::PatchDnsRecord
                | Op::PutScript
                | Op::DeleteScript
                | Op::CreateRoute
                | Op::DeleteRoute
        )
    }
}

/// One `{code, message}` from the envelope. Codes exceed 65535 (100117), hence u32.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct ApiMessage {
    pub code: u32,
    #[serde(default)]
    pub message: String,
}

/// What went wrong with a call; the variants are the cases callers branch on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("rate limited by the Cloudflare API{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("not found ({}): {message}", codes_text(codes))]
    NotFound { codes: Vec<u32>, message: String },
    #[error("conflict (code {code}): {message}")]
    Conflict { code: u32, message: String },
    #[error("the API token was rejected ({}): {message}; check CLOUDFLARE_API_TOKEN or --api-token-file", codes_text(codes))]
    Auth { codes: Vec<u32>, message: String },
    #[error("the API token lacks the permission {permission} ({message}); add it to the token in the dashboard (My Profile > API Tokens)")]
    Permission {
        permission: &'static str,
        message: String,
    },
    #[error(
        "Cloudflare API error (HTTP {status}, {}): {message}",
        codes_text(codes)
    )]
    Api {
        status: u16,
        codes: Vec<u32>,
        message: String,
    },
    #[error("cannot reach the Cloudflare API: {0}")]
    Network(String),
    #[error("unexpected response from the Cloudflare API (HTTP {status}): {detail}")]
    Malformed { status: u16, detail: String },
}

fn codes_text(codes: &[u32]) -> String {
    if codes.is_empty() {
        "no code".to_owned()
    } else {
        let list: Vec<String> = codes.iter().map(u32::to_string).collect();
        format!("code {}", list.join(", "))
    }
}

impl ApiError {
    /// Worth another try: rate limits, server errors, 971, the network, a garbled answer.
    /// Every call failover makes is idempotent or made so by its caller (a duplicate route
    /// after a lost answer is recognised as ours), so a garbled answer is retried too.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } | ApiError::Network(_) | ApiError::Malformed { .. } => {
                true
            }
            ApiError::Api { status, codes, .. } => {
                *status >= 500 || codes.contains(&code::RATE_LIMITED)
            }
            ApiError::Conflict { code, .. } => *code == code::SCRIPT_NOT_VISIBLE,
            _ => false,
        }
    }

    pub fn has_code(&self, wanted: u32) -> bool {
        match self {
            ApiError::NotFound { codes, .. }
            | ApiError::Auth { codes, .. }
            | ApiError::Api { codes, .. } => codes.contains(&wanted),
            ApiError::Conflict { code, .. } => *code == wanted,
            _ => false,
        }
    }
}

/// Receives one line for a person whenever the client waits long: before a retry that waits a
/// few seconds or more (Retry-After, backoff), and while an answer is slow to come.
pub type WaitNotice = Arc<dyn Fn(&str) + Send + Sync>;

/// A retry wait at least this long is announced.
const ANNOUNCE_RETRY_WAIT: Duration = Duration::from_secs(3);
/// A call still unanswered after this long is announced, and again at this interval.
const ANNOUNCE_SLOW_ANSWER: Duration = Duration::from_secs(5);
/// The request timeout (each attempt), said in the slow-answer line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a guarded script delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptDeletion {
    Deleted,
    /// There was no such script (any more).
    AlreadyGone,
    /// The script is no longer the one the caller meant (another run uploaded it): left alone.
    Changed,
}

/// How hard to retry. Bounded: a person at 3 a.m. needs an answer, not a hang.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Retry-After is honoured up to this long (wrangler: 60 s).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default policy, with the base delay shortened by `FAILOVER_RETRY_BASE_MS` (for the
    /// test suite's fault matrix; never needed in real use).
    pub fn from_env() -> Self {
        let mut p = RetryPolicy::default();
        if let Some(ms) = std::env::var("FAILOVER_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            p.base_delay = Duration::from_millis(ms);
            p.max_delay = Duration::from_millis(ms.saturating_mul(8).max(1));
        }
        p
    }
}

/// A page of results and the paging information that came with it.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
struct ResultInfo {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    total_pages: Option<u32>,
}

/// A request body, rebuilt on each attempt (a multipart form is consumed by sending).
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Script {
        module_name: String,
        module: String,
        metadata: Value,
    },
}

/// The Cloudflare API client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: ApiToken,
    retry: RetryPolicy,
    calls: Arc<AtomicUsize>,
    notice: Option<WaitNotice>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .finish()
    }
}

impl Client {
    pub fn new(base: Url, token: ApiToken, retry: RetryPolicy) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "failover/",
                env!("CARGO_PKG_VERSION"),
                " (emergency proxy deployer)"
            ))
            .connect_timeout(Duration::from_secs(10))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Ok(Client {
            http,
            base,
            token,
            retry,
            calls: Arc::new(AtomicUsize::new(0)),
            notice: None,
        })
    }

    /// Says what the client waits for whenever it waits long (see [`WaitNotice`]).
    pub fn announce_waits(mut self, notice: WaitNotice) -> Self {
        self.notice = Some(notice);
        self
    }

    /// HTTP requests sent so far, retries included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("the API base is an http(s) URL");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    /// One call with retries; returns the envelope's result and paging info.
    async fn call(
        &self,
        op: Op,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Body,
    ) -> Result<(Value, Option<ResultInfo>), ApiError> {
        let url = self.url(segments, query);
        let what = format!("{method} {}", url.path());
        self.retrying(&what, || {
            self.send_once(op, method.clone(), url.clone(), body.clone())
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out; a long wait
    /// before a retry is announced, naming `what` and why.
    async fn retrying<T, Fut>(
        &self,
        what: &str,
        attempt: impl FnMut() -> Fut,
    ) -> Result<T, ApiError>
    where
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.base_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let max_after = self.retry.max_retry_after;
        attempt
            .retry(backoff)
            .when(ApiError::is_transient)
            .adjust(move |err, dur| match err {
                ApiError::RateLimited {
                    retry_after: Some(after),
                } => dur.map(|d| d.max((*after).min(max_after))),
                _ => dur,
            })
            .notify(|err, dur| {
                if let Some(notice) = self.notice.as_ref().filter(|_| dur >= ANNOUNCE_RETRY_WAIT) {
                    let why = match err {
                        ApiError::RateLimited {
                            retry_after: Some(_),
                        } => "the Cloudflare API asked to wait (rate limited, Retry-After)"
                            .to_owned(),
                        other => other.to_string(),
                    };
                    notice(&format!(
                        "waiting {} s before retrying {what}: {why}",
                        dur.as_secs_f64().round()
                    ));
                }
            })
            .await
    }

    /// Awaits `fut`; while it takes long, says so every few seconds (an API that hangs must
    /// not look like a tool that hangs).
    async fn announcing_slowness<T>(&self, what: &str, fut: impl Future<Output = T>) -> T {
        let Some(notice) = &self.notice else {
            return fut.await;
        };
        let started = tokio::time::Instant::now();
        let mut next = started + ANNOUNCE_SLOW_ANSWER;
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return out,
                () = tokio::time::sleep_until(next) => {
                    notice(&format!(
                        "still waiting for the Cloudflare API to answer {what} ({} s so far; each attempt gives up after {} s)",
                        started.elapsed().as_secs(),
                        REQUEST_TIMEOUT.as_secs()
                    ));
                    next += ANNOUNCE_SLOW_ANSWER;
                }
            }
        }
    }

    async fn send_once(
        &self,
        op: Op,
        method: Method,
        url: Url,
        body: Body,
    ) -> Result<(Value, Option<ResultInfo>), ApiError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.token.expose())
            .header(header::ACCEPT, "application/json");
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Script {
                module_name,
                module,
                metadata,
            } => {
                let part = reqwest::multipart::Part::text(module)
                    .file_name(module_name.clone())
                    .mime_str("application/javascript+module")
                    .expect("a valid MIME type");
                let meta = reqwest::multipart::Part::text(metadata.to_string())
                    .mime_str("application/json")
                    .expect("a valid MIME type");
                req.multipart(
                    reqwest::multipart::Form::new()
                        .part("metadata", meta)
                        .part(module_name, part),
                )
            }
        };
        let what = format!("{method} {}", url.path());
        let exchange = async {
            let resp = req.send().await.map_err(|e| network(&e))?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let bytes = resp.bytes().await.map_err(|e| network(&e))?;
            Ok::<_, ApiError>((status, retry_after, bytes))
        };
        let (status, retry_after, bytes) = self.announcing_slowness(&what, exchange).await?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited { retry_after });
        }
        // Whatever the API sends back may echo the Authorization header (some error messages
        // quote the request): the token leaves no trace beyond this point, in errors, results,
        // the journal or the terminal.
        let text = String::from_utf8_lossy(&bytes);
        let text = self.token.redact(&text);
        let env: Envelope = serde_json::from_str(&text).map_err(|e| ApiError::Malformed {
            status: status.as_u16(),
            detail: format!("not the API's JSON envelope ({e})"),
        })?;
        if env.success && status.is_success() {
            return Ok((env.result, env.result_info));
        }
        Err(classify(op, status, env.errors))
    }

    /// A list call, following `result_info` page by page.
    async fn list<T: DeserializeOwned>(
        &self,
        op: Op,
        segments: &[&str],
        query: &[(&str, String)],
        per_page: Option<u32>,
    ) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let mut page = 1u32;
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            if let Some(n) = per_page {
                q.push(("page", page.to_string()));
                q.push(("per_page", n.to_string()));
            }
            let (result, info) = self.call(op, Method::GET, segments, &q, Body::None).await?;
            let items: Vec<T> = decode(result)?;
            out.extend(items);
            match info {
                Some(ResultInfo {
                    page: Some(p),
                    total_pages: Some(total),
                }) if per_page.is_some() && p < total => page = p + 1,
                _ => return Ok(out),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The calls.

    /// `GET /user/tokens/verify`, or the account endpoint for account tokens (`cfat_`).
    pub async fn verify_token(&self, account_id: Option<&str>) -> Result<TokenStatus, ApiError> {
        let (result, _) = match (self.token.is_account_token(), account_id) {
            (true, Some(a)) => {
                self.call(
                    Op::VerifyToken,
                    Method::GET,
                    &["accounts", a, "tokens", "verify"],
                    &[],
                    Body::None,
                )
                .await?
            }
            _ => {
                self.call(
                    Op::VerifyToken,
                    Method::GET,
                    &["user", "tokens", "verify"],
                    &[],
                    Body::None,
                )
                .await?
            }
        };
        decode(result)
    }

    /// `GET /accounts`: the accounts the token reaches.
    pub async fn accounts(&self) -> Result<Vec<Account>, ApiError> {
        self.list(Op::ListAccounts, &["accounts"], &[], Some(50))
            .await
    }

    /// `GET /zones?name=` (and `account.id=` when known).
    pub async fn zones_named(
        &self,
        name: &str,
        account_id: Option<&str>,
    ) -> Result<Vec<Zone>, ApiError> {
        let mut q = vec![("name", name.to_owned())];
        if let Some(a) = account_id {
            q.push(("account.id", a.to_owned()));
        }
        self.list(Op::ListZones, &["zones"], &q, Some(50)).await
    }

    /// `GET /zones/{id}`.
    pub async fn zone(&self, zone_id: &str) -> Result<Zone, ApiError> {
        let (result, _) = self
            .call(
                Op::GetZone,
                Method::GET,
                &["zones", zone_id],
                &[],
                Body::None,
            )
            .await?;
        decode(result)
    }

    /// `GET /zones/{z}/dns_records?name=`.
    pub async fn dns_records(&self, zone_id: &str, name: &str) -> Result<Vec<DnsRecord>, ApiError> {
        self.list(
            Op::ListDnsRecords,
            &["zones", zone_id, "dns_records"],
            &[("name", name.to_owned())],
            Some(100),
        )
        .await
    }

    /// `PATCH /zones/{z}/dns_records/{id}`, sending type, name and ttl too (the spec wants them).
    pub async fn set_proxied(
        &self,
        zone_id: &str,
        record: &DnsRecord,
        proxied: bool,
    ) -> Result<DnsRecord, ApiError> {
        let body = json!({
            "type": record.record_type,
            "name": record.name,
            "content": record.content,
            "ttl": record.ttl,
            "proxied": proxied,
        });
        let (result, _) = self
            .call(
                Op::PatchDnsRecord,
                Method::PATCH,
                &["zones", zone_id, "dns_records", &record.id],
                &[],
                Body::Json(body),
            )
            .await?;
        decode(result)
    }

    /// `PUT /accounts/{a}/workers/scripts/{name}`: one ES module plus the metadata part.
    pub async fn put_script(
        &self,
        account_id: &str,
        name: &str,
        module_name: &str,
        module: &str,
        metadata: &Value,
    ) -> Result<ScriptInfo, ApiError> {
        let (result, _) = self
            .call(
                Op::PutScript,
                Method::PUT,
                &["accounts", account_id, "workers", "scripts", name],
                &[],
                Body::Script {
                    module_name: module_name.to_owned(),
                    module: module.to_owned(),
                    metadata: metadata.clone(),
                },
            )
            .await?;
        decode(result)
    }

    /// `GET /accounts/{a}/workers/scripts?tags=<tag>:yes`.
    pub async fn scripts_tagged(
        &self,
        account_id: &str,
        tag: &str,
    ) -> Result<Vec<ScriptInfo>, ApiError> {
        self.list(
            Op::ListScripts,
            &["accounts", account_id, "workers", "scripts"],
            &[("tags", format!("{tag}:yes"))],
            None,
        )
        .await
    }

    /// `GET /accounts/{a}/workers/scripts/{name}/settings`; `None` when there is no such script.
    pub async fn script_settings(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<ScriptSettings>, ApiError> {
        match self
            .call(
                Op::GetScriptSettings,
                Method::GET,
                &[
                    "accounts", account_id, "workers", "scripts", name, "settings",
                ],
                &[],
                Body::None,
            )
            .await
        {
            Ok((result, _)) => decode(result).map(Some),
            Err(e) if is_gone(&e, code::SCRIPT_NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /accounts/{a}/workers/scripts/{name}`, but only while `unchanged` holds for the
    /// script's settings, read afresh before every attempt: a retry after a failed or lost
    /// answer must not delete a script that another run uploaded in the meantime. The API's
    /// delete is unconditional, so a window of one round trip remains between the read and the
    /// delete.
    pub async fn delete_script_if(
        &self,
        account_id: &str,
        name: &str,
        unchanged: impl Fn(&ScriptSettings) -> bool,
    ) -> Result<ScriptDeletion, ApiError> {
        let settings_url = self.url(
            &[
                "accounts", account_id, "workers", "scripts", name, "settings",
            ],
            &[],
        );
        let script_url = self.url(&["accounts", account_id, "workers", "scripts", name], &[]);
        let what = format!("DELETE {}", script_url.path());
        let unchanged = &unchanged;
        self.retrying(&what, || {
            let (settings_url, script_url) = (settings_url.clone(), script_url.clone());
            async move {
                let found = match self
                    .send_once(Op::GetScriptSettings, Method::GET, settings_url, Body::None)
                    .await
                {
                    Ok((result, _)) => decode::<ScriptSettings>(result)?,
                    Err(e) if is_gone(&e, code::SCRIPT_NOT_FOUND) => {
                        return Ok(ScriptDeletion::AlreadyGone)
                    }
                    Err(e) => return Err(e),
                };
                if !unchanged(&found) {
                    return Ok(ScriptDeletion::Changed);
                }
                match self
                    .send_once(Op::DeleteScript, Method::DELETE, script_url, Body::None)
                    .await
                {
                    Ok(_) => Ok(ScriptDeletion::Deleted),
                    Err(e) if is_gone(&e, code::SCRIPT_NOT_FOUND) => {
                        Ok(ScriptDeletion::AlreadyGone)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await
    }

    /// `GET /zones/{z}/workers/routes`.
    pub async fn routes(&self, zone_id: &str) -> Result<Vec<Route>, ApiError> {
        self.list(
            Op::ListRoutes,
            &["zones", zone_id, "workers", "routes"],
            &[],
            None,
        )
        .await
    }

    /// `POST /zones/{z}/workers/routes`; without a script, the route disables Workers on its
    /// pattern. Never `PUT .../scripts/{name}/routes`, which replaces every route of the script.
    pub async fn create_route(
        &self,
        zone_id: &str,
        pattern: &str,
        script: Option<&str>,
    ) -> Result<Route, ApiError> {
        let body = match script {
            Some(script) => json!({"pattern": pattern, "script": script}),
            None => json!({"pattern": pattern}),
        };
        let (result, _) = self
            .call(
                Op::CreateRoute,
                Method::POST,
                &["zones", zone_id, "workers", "routes"],
                &[],
                Body::Json(body),
            )
            .await?;
        let mut route: Route = decode(result)?;
        // The API answers with the id only; fill in what we asked for.
        if route.pattern.is_empty() {
            route.pattern = pattern.to_owned();
        }
        if route.script.is_none() {
            route.script = script.map(str::to_owned);
        }
        Ok(route)
    }

    /// `DELETE /zones/{z}/workers/routes/{id}`; `false` when it was already gone.
    pub async fn delete_route(&self, zone_id: &str, route_id: &str) -> Result<bool, ApiError> {
        match self
            .call(
                Op::DeleteRoute,
                Method::DELETE,
                &["zones", zone_id, "workers", "routes", route_id],
                &[],
                Body::None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_gone(&e, code::ROUTE_NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn is_gone(e: &ApiError, wanted: u32) -> bool {
    matches!(e, ApiError::NotFound { .. }) || e.has_code(wanted)
}

fn network(e: &reqwest::Error) -> ApiError {
    // reqwest's message names the URL (never the token) and the underlying cause.
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    ApiError::Network(msg)
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Malformed {
        status: 200,
        detail: format!("the result has an unexpected shape ({e})"),
    })
}

/// Turns a failed envelope into the error a caller can branch on.
fn classify(op: Op, status: StatusCode, errors: Vec<ApiMessage>) -> ApiError {
    let codes: Vec<u32> = errors.iter().map(|e| e.code).collect();
    let message = if errors.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        errors
            .iter()
            .map(|e| crate::text::excerpt(&e.message, 200))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let has = |c: u32| codes.contains(&c);
    match status {
        StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited { retry_after: None },
        StatusCode::UNAUTHORIZED => ApiError::Auth { codes, message },
        StatusCode::FORBIDDEN => ApiError::Permission {
            permission: op.permission(),
            message,
        },
        StatusCode::BAD_REQUEST if has(code::INVALID_TOKEN) => ApiError::Auth { codes, message },
        StatusCode::NOT_FOUND => ApiError::NotFound { codes, message },
        StatusCode::CONFLICT => ApiError::Conflict {
            code: codes.first().copied().unwrap_or_default(),
            message,
        },
        _ if has(code::DUPLICATE_ROUTE) || has(code::SCRIPT_NOT_VISIBLE) => ApiError::Conflict {
            code: if has(code::DUPLICATE_ROUTE) {
                code::DUPLICATE_ROUTE
            } else {
                code::SCRIPT_NOT_VISIBLE
            },
            message,
        },
        _ if has(code::SCRIPT_NOT_FOUND) || has(code::ROUTE_NOT_FOUND) => {
            ApiError::NotFound { codes, message }
        }
        _ => ApiError::Api {
            status: status.as_u16(),
            codes,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(status: u16, codes: &[u32], transient: bool, shape: &str) {
        let errors = codes
            .iter()
            .map(|&code| ApiMessage {
                code,
                message: "m".into(),
            })
            .collect();
        let e = classify(
            Op::CreateRoute,
            StatusCode::from_u16(status).unwrap(),
            errors,
        );
        assert_eq!(e.is_transient(), transient, "{e:?}");
        assert!(format!("{e:?}").starts_with(shape), "{e:?}");
    }

    #[test]
    fn classification() {
        check(500, &[10013], true, "Api");
        check(429, &[971], true, "RateLimited");
        check(400, &[971], true, "Api");
        check(401, &[10000], false, "Auth");
        check(400, &[9109], false, "Auth");
        check(403, &[10000], false, "Permission");
        check(409, &[10020], false, "Conflict");
        check(400, &[10020], false, "Conflict");
        check(409, &[10019], true, "Conflict");
        check(404, &[10009], false, "NotFound");
        check(400, &[10022], false, "Api");
        check(400, &[100117], false, "Api");
    }

    #[test]
    fn permission_named() {
        let e = classify(Op::PatchDnsRecord, StatusCode::FORBIDDEN, vec![]);
        assert!(e.to_string().contains("DNS Edit"), "{e}");
    }

    #[test]
    fn urls_keep_the_base_path() {
        let c = Client::new(
            Url::parse("http://127.0.0.1:9/client/v4").unwrap(),
            ApiToken::new("t").unwrap(),
            RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            c.url(&["zones", "a b"], &[("name", "x.y".into())]).as_str(),
            "http://127.0.0.1:9/client/v4/zones/a%20b?name=x.y"
        );
    }
}
