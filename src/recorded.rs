//! PURE data: what deploy-proxy records in the Worker's `json` binding so that rollback, from
//! any machine, knows what to undo. Written by the deploy plan, read by rollback and status.

use serde::{Deserialize, Serialize};

use crate::cloudflare::types::{ScriptSettings, STATE_BINDING};
use crate::worker::Mode;

/// What rollback needs, carried by the script itself in a `json` binding so that any machine
/// can undo a deploy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RollbackState {
    pub version: u32,
    pub host: String,
    pub zone_id: String,
    pub zone_name: String,
    /// Our routes; ids are recorded once known (after they were created).
    pub routes: Vec<RecordedRoute>,
    /// Each DNS record touched, with its `proxied` value before the first deploy.
    pub dns_records: Vec<RecordedRecord>,
    /// Routes of other scripts that `--force` replaced, restored by rollback.
    #[serde(default)]
    pub displaced_routes: Vec<RecordedRoute>,
    pub created_at: String,
    pub tool_version: String,
    /// SHA-256 of the module, to tell whether the live script is already the one wanted.
    pub script_sha256: String,
    /// How the Worker serves; states written before standby existed are emergency ones.
    #[serde(default)]
    pub mode: Mode,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRoute {
    #[serde(default)]
    pub id: Option<String>,
    pub pattern: String,
    #[serde(default)]
    pub script: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRecord {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub proxied_before: bool,
}

impl RollbackState {
    /// The state recorded in a script's settings, if it is one of ours.
    pub fn from_settings(settings: &ScriptSettings) -> Option<RollbackState> {
        settings
            .json_binding(STATE_BINDING)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state written before the mode existed reads as an emergency one.
    #[test]
    fn a_state_without_a_mode_is_an_emergency_one() {
        let old = serde_json::json!({
            "version": 1, "host": "api.example.com", "zone_id": "z", "zone_name": "example.com",
            "routes": [], "dns_records": [], "created_at": "t", "tool_version": "0.1.0",
            "script_sha256": "x"
        });
        let state: RollbackState = serde_json::from_value(old).unwrap();
        assert_eq!(state.mode, Mode::Emergency);
        let standby = RollbackState {
            mode: Mode::Standby,
            ..state
        };
        let back = serde_json::to_value(&standby).unwrap();
        assert_eq!(back["mode"], "standby");
    }
}
