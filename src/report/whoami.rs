//! `failover.whoami/v1`: which account and zone the token reaches and which of the permissions
//! deploy and rollback need it holds, judged from read-only answers (pure), and its rendering.

use serde::Serialize;

use super::deployment::ZoneRef;

pub const SCHEMA: &str = "failover.whoami/v1";

/// What a read-only look can say about one permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionState {
    /// Cloudflare lists it for this token.
    Granted,
    /// Refused, or absent from what Cloudflare lists for this token.
    Missing,
    /// Reads work; only a change would prove the edit permission, and whoami changes nothing.
    Unverified,
}

/// What one read-only call said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// 403 or an authentication error: the API's words.
    Refused(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct PermissionCheck {
    /// As the dashboard names it.
    pub permission: &'static str,
    pub state: PermissionState,
    /// How it was judged, for people.
    pub how: String,
}

/// Judges one permission from the zone's `permissions` list (when Cloudflare sent one) and
/// the read-only call that needs it.
pub fn judge(
    permission: &'static str,
    listed: Option<&[String]>,
    edit_tag: Option<&str>,
    access: &Access,
) -> PermissionCheck {
    let (state, how) = match (access, listed, edit_tag) {
        (Access::Refused(message), _, _) => (
            PermissionState::Missing,
            format!("refused: {}", crate::text::excerpt(message, 160)),
        ),
        (Access::Allowed, Some(list), Some(tag)) if list.iter().any(|p| p == tag) => (
            PermissionState::Granted,
            format!("the zone lists {tag} for this token"),
        ),
        (Access::Allowed, Some(_), Some(tag)) => (
            PermissionState::Missing,
            format!("readable, but the zone does not list {tag} for this token"),
        ),
        (Access::Allowed, _, Some(_)) => (
            PermissionState::Unverified,
            "readable; only a change would prove edit, and whoami changes nothing".to_owned(),
        ),
        (Access::Allowed, _, None) => (PermissionState::Granted, "read".to_owned()),
    };
    PermissionCheck {
        permission,
        state,
        how,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub id: String,
    /// `None` when the token cannot list its accounts (names need Account Settings Read).
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Whoami {
    pub schema: &'static str,
    pub token: TokenInfo,
    pub account: AccountInfo,
    pub host: String,
    pub zone: Option<ZoneRef>,
    pub permissions: Vec<PermissionCheck>,
    /// Deploy and rollback could succeed: an active token, the zone found, nothing missing.
    pub ready: bool,
    /// What stands in the way, each with how to fix it.
    pub problems: Vec<String>,
    pub api_calls: usize,
    pub elapsed_ms: u64,
}

impl Whoami {
    /// Whether deploy and rollback could succeed with what was seen.
    pub fn is_ready(token_active: bool, zone_found: bool, checks: &[PermissionCheck]) -> bool {
        token_active && zone_found && checks.iter().all(|c| c.state != PermissionState::Missing)
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "Token    {} ({})\n",
            self.token.id, self.token.status
        ));
        out.push_str(&format!(
            "Account  {}{}\n",
            self.account.id,
            self.account
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
        match &self.zone {
            Some(z) => out.push_str(&format!(
                "Zone     {} ({}) for {}\n",
                z.name, z.id, self.host
            )),
            None => out.push_str(&format!("Zone     none found for {}\n", self.host)),
        }
        out.push_str("Permissions deploy-proxy and rollback need:\n");
        let width = self
            .permissions
            .iter()
            .map(|c| c.permission.len())
            .max()
            .unwrap_or(0);
        for c in &self.permissions {
            let mark = match c.state {
                PermissionState::Granted => "✓",
                PermissionState::Missing => "✗",
                PermissionState::Unverified => "?",
            };
            out.push_str(&format!("  {mark} {:<width$}  {}\n", c.permission, c.how));
        }
        for p in &self.problems {
            out.push_str(&format!("✗ {p}\n"));
        }
        if self.ready {
            out.push_str("Deploy and rollback can run with this token.\n");
        } else {
            out.push_str("Deploy and rollback cannot run with this token as it is.\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(listed: Option<&[&str]>, access: Access, want: PermissionState) {
        let listed: Option<Vec<String>> =
            listed.map(|l| l.iter().map(|s| (*s).to_owned()).collect());
        let got = judge(
            "DNS Edit (zone)",
            listed.as_deref(),
            Some("#dns_records:edit"),
            &access,
        );
        assert_eq!(got.state, want, "{listed:?} {access:?}: {}", got.how);
    }

    #[test]
    fn permissions_are_judged_from_read_only_answers() {
        check(
            Some(&["#dns_records:edit"]),
            Access::Allowed,
            PermissionState::Granted,
        );
        check(
            Some(&["#dns_records:read"]),
            Access::Allowed,
            PermissionState::Missing,
        );
        check(None, Access::Allowed, PermissionState::Unverified);
        check(
            Some(&["#dns_records:edit"]),
            Access::Refused("Authentication error".into()),
            PermissionState::Missing,
        );
        let unverified = judge("x", None, Some("#t"), &Access::Allowed);
        assert!(Whoami::is_ready(
            true,
            true,
            std::slice::from_ref(&unverified)
        ));
        assert!(!Whoami::is_ready(
            false,
            true,
            std::slice::from_ref(&unverified)
        ));
        assert!(!Whoami::is_ready(true, false, &[unverified]));
        let missing = judge("x", None, None, &Access::Refused("no".into()));
        assert!(!Whoami::is_ready(true, true, &[missing]));
    }
}
