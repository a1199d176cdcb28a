//! The documents of deploy-proxy, rollback and status (`failover.deployment/v1`,
//! `failover.rollback/v1`, `failover.status/v1`) and their human renderings.

use serde::Serialize;

use crate::apply::Applied;
use crate::cloudflare::Route;
use crate::plan::Plan;

/// What one GET of the public URL showed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MarkerCheck {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The marker header's value, when present.
    pub marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Is the platform's own path healthy: does its DNS target resolve on our resolvers, does the
/// origin answer its health path?
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlatformHealth {
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_target: Option<String>,
    pub target_resolves: bool,
    pub origin_healthy: bool,
    /// One line each, for people.
    pub evidence: Vec<String>,
}

impl PlatformHealth {
    pub fn summary(&self) -> String {
        if self.evidence.is_empty() {
            format!(
                "DNS target {}; origin {}",
                if self.target_resolves {
                    "resolves"
                } else {
                    "fails"
                },
                if self.origin_healthy {
                    "answers"
                } else {
                    "fails"
                }
            )
        } else {
            self.evidence.join("; ")
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
}

/// The outcome of the checks after applying.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Verification {
    /// `None` when skipped (`--no-verify`, a dry run, or nothing was applied).
    pub verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<MarkerCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebSocketCheck>,
}

/// A WebSocket upgrade through the public URL (when `websocket_path` is configured).
#[derive(Debug, Clone, Serialize)]
pub struct WebSocketCheck {
    pub path: String,
    pub upgraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub schema: &'static str,
    pub dry_run: bool,
    pub host: String,
    pub script: String,
    pub account_id: String,
    pub zone: ZoneRef,
    pub pattern: String,
    pub plan: Plan,
    pub applied: Vec<Applied>,
    #[serde(flatten)]
    pub verification: Verification,
    pub warnings: Vec<String>,
    /// How to undo it.
    pub undo: String,
    pub api_calls: usize,
    pub started_at: String,
    pub elapsed_ms: u64,
}

impl Deployment {
    pub const SCHEMA: &'static str = "failover.deployment/v1";

    pub fn human(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            out.push_str(&format!(
                "Plan for {} (zone {}), nothing changed (--dry-run):\n",
                self.host, self.zone.name
            ));
            out.push_str(&self.plan.render());
            return out;
        }
        if self.applied.is_empty() {
            out.push_str(&format!(
                "The emergency proxy {} is already live for {}; nothing changed.\n",
                self.script, self.host
            ));
        } else {
            out.push_str(&format!(
                "Deployed the emergency proxy {} for {}:\n",
                self.script, self.host
            ));
            for a in &self.applied {
                out.push_str(&format!("  ✓ {} ({})\n", a.description, a.outcome));
            }
        }
        for same in &self.plan.unchanged {
            out.push_str(&format!("  = {same}\n"));
        }
        out.push_str(&verification_text(&self.verification, true));
        out.push_str(&format!("Undo with: {}\n", self.undo));
        out
    }
}

fn verification_text(v: &Verification, want_marker: bool) -> String {
    let mut out = String::new();
    match (v.verified, &v.public_url) {
        (None, _) => out.push_str("Verification skipped.\n"),
        (Some(ok), Some(check)) => {
            let seen = match (&check.status, &check.marker, &check.error) {
                (_, _, Some(e)) => format!("failed: {e}"),
                (Some(s), Some(m), _) => format!("HTTP {s}, x-failover-proxy: {m}"),
                (Some(s), None, _) => format!("HTTP {s}, no x-failover-proxy header"),
                (None, _, _) => "no answer".to_owned(),
            };
            let wanted = if want_marker {
                "answers through the proxy"
            } else {
                "answers through the platform path again"
            };
            out.push_str(&format!(
                "{} {} {wanted} ({seen})\n",
                if ok { "✓" } else { "✗" },
                check.url
            ));
        }
        (Some(ok), None) => out.push_str(if ok {
            "✓ verified\n"
        } else {
            "✗ not verified\n"
        }),
    }
    if let Some(ws) = &v.websocket {
        match &ws.error {
            None => out.push_str(&format!("✓ WebSocket upgrade at {} works\n", ws.path)),
            Some(e) => out.push_str(&format!("✗ WebSocket upgrade at {} failed: {e}\n", ws.path)),
        }
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    pub schema: &'static str,
    pub dry_run: bool,
    pub host: String,
    pub script: String,
    pub account_id: String,
    /// Whether a deploy of ours was found in Cloudflare.
    pub found: bool,
    pub zone_id: Option<String>,
    pub platform: Option<PlatformHealth>,
    pub forced: bool,
    pub plan: Plan,
    pub applied: Vec<Applied>,
    #[serde(flatten)]
    pub verification: Verification,
    pub warnings: Vec<String>,
    pub api_calls: usize,
    pub started_at: String,
    pub elapsed_ms: u64,
}

impl Rollback {
    pub const SCHEMA: &'static str = "failover.rollback/v1";

    pub fn human(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.platform {
            out.push_str(&format!(
                "Platform path: {} ({})\n",
                if p.healthy { "healthy" } else { "failing" },
                p.summary()
            ));
        }
        if self.dry_run {
            out.push_str(&format!(
                "Rollback plan for {}, nothing changed (--dry-run):\n",
                self.host
            ));
            out.push_str(&self.plan.render());
            return out;
        }
        if self.applied.is_empty() {
            out.push_str(&format!(
                "No emergency proxy of failover is deployed for {}; nothing changed.\n",
                self.host
            ));
        } else {
            out.push_str(&format!(
                "Removed the emergency proxy {} for {}:\n",
                self.script, self.host
            ));
            for a in &self.applied {
                out.push_str(&format!("  ✓ {} ({})\n", a.description, a.outcome));
            }
        }
        for same in &self.plan.unchanged {
            out.push_str(&format!("  = {same}\n"));
        }
        out.push_str(&verification_text(&self.verification, false));
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordState {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub proxied: Option<bool>,
    pub proxied_before: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub schema: &'static str,
    pub host: String,
    pub script: String,
    /// Whether our script is deployed.
    pub deployed: bool,
    /// When the first deploy happened (from the state the script carries).
    pub since: Option<String>,
    pub deployed_by_version: Option<String>,
    pub zone: Option<ZoneRef>,
    /// Routes pointing at our script.
    pub routes: Vec<Route>,
    /// Routes that name our script while it does not exist: requests there fail until
    /// `rollback` removes them (or `deploy-proxy` uploads the script again).
    pub orphaned_routes: bool,
    pub dns_records: Vec<RecordState>,
    pub public_url: MarkerCheck,
    pub platform: PlatformHealth,
    /// What to do next: `rollback`, `none`, or `deploy-proxy`.
    pub action: &'static str,
    pub elapsed_ms: u64,
}

impl Status {
    pub const SCHEMA: &'static str = "failover.status/v1";

    pub fn human(&self) -> String {
        let mut out = String::new();
        if self.deployed {
            out.push_str(&format!(
                "Emergency proxy {} is deployed for {} since {}",
                self.script,
                self.host,
                self.since.as_deref().unwrap_or("(unknown)")
            ));
            if let Some(v) = &self.deployed_by_version {
                out.push_str(&format!(" (failover {v})"));
            }
            out.push('\n');
        } else if self.orphaned_routes {
            out.push_str(&format!(
                "The emergency proxy {} is gone but its route(s) remain: requests to {} there \
                 fail; `failover rollback` removes them.\n",
                self.script, self.host
            ));
        } else {
            out.push_str(&format!(
                "No emergency proxy is deployed for {}.\n",
                self.host
            ));
        }
        for r in &self.routes {
            out.push_str(&format!(
                "  route {} -> {}\n",
                r.pattern,
                r.script.as_deref().unwrap_or("-")
            ));
        }
        for d in &self.dns_records {
            out.push_str(&format!(
                "  DNS {} {}: {} (before the deploy: {})\n",
                d.record_type,
                d.name,
                match d.proxied {
                    Some(true) => "proxied",
                    Some(false) => "DNS only",
                    None => "gone",
                },
                if d.proxied_before {
                    "proxied"
                } else {
                    "DNS only"
                }
            ));
        }
        let p = &self.public_url;
        out.push_str(&format!(
            "Public URL {}: {}\n",
            p.url,
            match (&p.status, &p.marker, &p.error) {
                (_, _, Some(e)) => format!("fails ({e})"),
                (Some(s), Some(m), _) => format!("HTTP {s} through the proxy ({m})"),
                (Some(s), None, _) => format!("HTTP {s}, not through the proxy"),
                (None, _, _) => "no answer".to_owned(),
            }
        ));
        out.push_str(&format!(
            "Platform path: {} ({})\n",
            if self.platform.healthy {
                "healthy"
            } else {
                "failing"
            },
            self.platform.summary()
        ));
        out.push_str(&format!(
            "Next: {}\n",
            match self.action {
                "rollback" => "failover rollback (the platform path is healthy again)",
                "deploy-proxy" =>
                    "failover deploy-proxy (the platform path fails and no proxy is live)",
                _ => "nothing",
            }
        ));
        out
    }
}
