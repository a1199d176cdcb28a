//! The documents of deploy-proxy, rollback and status (`failover.deployment/v1`,
//! `failover.rollback/v1`, `failover.status/v1`) and their human renderings.

use serde::Serialize;

use crate::apply::Applied;
use crate::cloudflare::Route;
use crate::plan::Plan;
use crate::worker::Mode;

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
    /// `emergency` or `standby`: how the deployed Worker serves.
    pub mode: Mode,
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
                "The {} proxy {} is already live for {}; nothing changed.\n",
                self.mode, self.script, self.host
            ));
        } else if self.verification.verified == Some(false) {
            // Applied is not mitigated: the heading must not promise what verification denied.
            out.push_str(&format!(
                "Applied the emergency proxy {} for {}, but verification FAILED: users may still \
                 be failing (see below; `failover status`, then `failover deploy-proxy` again \
                 or `failover rollback`):\n",
                self.script, self.host
            ));
        } else {
            out.push_str(&format!(
                "Deployed the {} proxy {} for {}:\n",
                self.mode, self.script, self.host
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
    /// The mode of the Worker found (`emergency` or `standby`); null when none was found.
    pub mode: Option<Mode>,
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
                "No proxy of failover is deployed for {}; nothing changed.\n",
                self.host
            ));
        } else if self.verification.verified == Some(false) {
            out.push_str(&format!(
                "Removed the emergency proxy {} for {}, but verification FAILED: the public URL \
                 does not answer through the platform path yet (see below; `failover status`):\n",
                self.script, self.host
            ));
        } else {
            out.push_str(&format!(
                "Removed the {} proxy {} for {}:\n",
                self.mode.unwrap_or_default(),
                self.script,
                self.host
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

#[cfg(test)]
mod tests {
    use super::Status;

    /// `none` only while users are served; every failing case names a command.
    #[test]
    fn status_names_the_next_command_while_users_fail() {
        for (deployed, platform, public, want) in [
            (true, true, true, "rollback"),
            (true, true, false, "rollback"),
            (true, false, true, "none"),
            (true, false, false, "deploy-proxy"),
            (false, false, true, "deploy-proxy"),
            (false, false, false, "deploy-proxy"),
            (false, true, false, "diagnose"),
            (false, true, true, "none"),
        ] {
            assert_eq!(
                Status::next_action(deployed, platform, public),
                want,
                "deployed {deployed}, platform healthy {platform}, public ok {public}"
            );
        }
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
    /// `emergency` or `standby`, from the state the script carries; null when none is deployed.
    pub mode: Option<Mode>,
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
    /// What to do next: `rollback`, `deploy-proxy`, `diagnose` (users fail and the platform
    /// path looks healthy), or `none` (only while users are served).
    pub action: &'static str,
    pub elapsed_ms: u64,
}

impl Status {
    pub const SCHEMA: &'static str = "failover.status/v1";

    /// The next step from what status saw. `none` only while users are served: when the
    /// public URL fails, the answer always names a command.
    pub fn next_action(deployed: bool, platform_healthy: bool, public_ok: bool) -> &'static str {
        match (deployed, platform_healthy, public_ok) {
            (true, true, _) => "rollback",
            // The proxy is live and users still fail: deploying again converges what is
            // missing (the route, the proxied record).
            (true, false, false) => "deploy-proxy",
            (true, false, true) => "none",
            (false, false, _) => "deploy-proxy",
            (false, true, false) => "diagnose",
            (false, true, true) => "none",
        }
    }

    /// Whether the public URL answered without a server error.
    pub fn public_url_ok(&self) -> bool {
        public_ok(&self.public_url)
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        if self.deployed {
            let mode = match self.mode {
                Some(Mode::Standby) => "Standby",
                _ => "Emergency",
            };
            out.push_str(&format!(
                "{mode} proxy {} is deployed for {} since {}",
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
        let users_fail = !self.public_url_ok();
        out.push_str(&format!(
            "Next: {}\n",
            match (self.action, self.deployed, users_fail) {
                ("rollback", _, _) => "failover rollback (the platform path is healthy again)",
                ("deploy-proxy", true, _) =>
                    "failover deploy-proxy (the proxy is deployed but users fail; deploying again \
                     restores what is missing)",
                ("deploy-proxy", false, _) =>
                    "failover deploy-proxy (the platform path fails and no proxy is live)",
                ("diagnose", _, _) =>
                    "failover diagnose (users fail although the platform path looks healthy)",
                (_, true, _) =>
                    "nothing yet: the proxy serves users; run failover status again to see the \
                     platform path heal",
                _ => "nothing: users are served through the platform path",
            }
        ));
        out
    }
}

/// The public URL answered, without a server error (a 4xx at the health path is still an
/// answer from the app).
pub fn public_ok(check: &MarkerCheck) -> bool {
    check.error.is_none() && check.status.is_some_and(|s| s < 500)
}
