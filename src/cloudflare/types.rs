//! The shapes of the API's results that failover reads, with only the fields it uses: plain
//! data that the pure planning modules may use without the client.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tag every script failover uploads carries, so rollback can find it from anywhere.
pub const MANAGED_TAG: &str = "failover-managed";
/// The name of the `json` binding that carries the rollback state.
pub const STATE_BINDING: &str = "FAILOVER_STATE";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TokenStatus {
    pub id: String,
    pub status: String,
}

/// `GET /accounts`: an account the token can reach.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ZonePlan {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub legacy_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub plan: Option<ZonePlan>,
    /// The zone-level permission groups the token holds here (`#dns_records:edit`,
    /// `#worker:edit`, ...). Deprecated by Cloudflare in favour of memberships, but still sent;
    /// absent means unknown, never "none".
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// The account that owns the zone; a token may reach zones of several accounts.
    #[serde(default)]
    pub account: Option<ZoneAccount>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ZoneAccount {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl Zone {
    /// The Free plan allows 100,000 Worker requests a day.
    pub fn is_free_plan(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| {
            p.legacy_id.as_deref() == Some("free")
                || p.name
                    .as_deref()
                    .is_some_and(|n| n.to_ascii_lowercase().contains("free"))
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct DnsRecord {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub proxied: bool,
    #[serde(default)]
    pub proxiable: bool,
    #[serde(default = "auto_ttl")]
    pub ttl: u32,
}

fn auto_ttl() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Route {
    pub id: String,
    #[serde(default)]
    pub pattern: String,
    #[serde(default)]
    pub script: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ScriptInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
}

/// `GET .../scripts/{name}/settings`: the bindings (plain_text and json values come back).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct ScriptSettings {
    #[serde(default)]
    pub bindings: Vec<Value>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub compatibility_date: Option<String>,
}

impl ScriptSettings {
    /// The value of the `json` binding called `name`.
    pub fn json_binding(&self, name: &str) -> Option<&Value> {
        self.bindings.iter().find_map(|b| {
            (b.get("name").and_then(Value::as_str) == Some(name)
                && b.get("type").and_then(Value::as_str) == Some("json"))
            .then(|| b.get("json"))
            .flatten()
        })
    }
}
