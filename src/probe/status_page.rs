//! Provider status pages read into one fact each: is the provider reporting trouble?
//!
//! Two formats: Atlassian Statuspage v2 (`/api/v2/summary.json`, `status.indicator` none, minor,
//! major, critical) and Heroku v4 (`/api/v4/current-status`, `status[]` of `{system, status}`
//! green, yellow, red).

use crate::observation::PageAnswer;

/// Reads either format from a JSON body; `Err` says why it is neither.
pub fn parse(body: &str) -> Result<PageAnswer, String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let status = doc.get("status");
    if let Some(indicator) = status
        .and_then(|s| s.get("indicator"))
        .and_then(|i| i.as_str())
    {
        let description = status
            .and_then(|s| s.get("description"))
            .and_then(|d| d.as_str())
            .unwrap_or(indicator);
        return Ok(PageAnswer {
            degraded: indicator != "none",
            detail: format!("{indicator}: {description}"),
        });
    }
    if let Some(systems) = status.and_then(|s| s.as_array()) {
        let bad: Vec<String> = systems
            .iter()
            .filter_map(|s| {
                let state = s.get("status")?.as_str()?;
                (state != "green").then(|| {
                    let system = s.get("system").and_then(|n| n.as_str()).unwrap_or("?");
                    format!("{system}: {state}")
                })
            })
            .collect();
        return Ok(PageAnswer {
            degraded: !bad.is_empty(),
            detail: if bad.is_empty() {
                "all systems green".to_owned()
            } else {
                bad.join(", ")
            },
        });
    }
    Err("neither a Statuspage v2 summary nor a Heroku v4 status".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, degraded: Option<bool>) {
        assert_eq!(parse(body).ok().map(|p| p.degraded), degraded, "{body}");
    }

    #[test]
    fn status_page_formats() {
        check(
            r#"{"status":{"indicator":"none","description":"All Systems Operational"}}"#,
            Some(false),
        );
        check(
            r#"{"status":{"indicator":"major","description":"Partial outage"}}"#,
            Some(true),
        );
        check(
            r#"{"status":[{"system":"Apps","status":"green"},{"system":"Data","status":"green"}]}"#,
            Some(false),
        );
        check(
            r#"{"status":[{"system":"Apps","status":"red"}],"incidents":[]}"#,
            Some(true),
        );
        check(r#"{"status":"fine"}"#, None);
        check("<html>", None);
    }
}
