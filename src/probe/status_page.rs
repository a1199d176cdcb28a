//! Provider status pages read into one fact each: is the provider reporting trouble?
//!
//! Four formats, told apart by the body: Atlassian Statuspage v2 (`/api/v2/summary.json`,
//! `status.indicator` none, minor, major, critical); Heroku v4 (`/api/v4/current-status`,
//! `status[]` of `{system, status}` green, yellow, red); Google Cloud's `incidents.json` (an
//! array of incidents; one without `end` is ongoing); and an RSS or Atom feed that lists only
//! active events (Azure's status feed is empty when nothing is wrong).

use crate::observation::PageAnswer;

/// Reads any of the formats; `Err` says why it is none of them.
pub fn parse(body: &str) -> Result<PageAnswer, String> {
    if body.trim_start().starts_with('<') {
        return parse_feed(body);
    }
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
    if let Some(incidents) = doc.as_array() {
        let ongoing: Vec<String> = incidents
            .iter()
            .filter(|i| i.get("begin").is_some() && i.get("end").is_none_or(|e| e.is_null()))
            .map(|i| {
                i.get("external_desc")
                    .and_then(|d| d.as_str())
                    .unwrap_or("an incident")
                    .to_owned()
            })
            .collect();
        return Ok(PageAnswer {
            degraded: !ongoing.is_empty(),
            detail: match ongoing.first() {
                None => "no ongoing incident".to_owned(),
                Some(first) => format!("{} ongoing: {first}", ongoing.len()),
            },
        });
    }
    Err(
        "none of Statuspage v2, Heroku v4, Google Cloud incidents.json or an RSS/Atom feed"
            .to_owned(),
    )
}

/// An RSS (`<item>`) or Atom (`<entry>`) feed of active events: any entry is trouble; the first
/// entry's title is the detail.
fn parse_feed(body: &str) -> Result<PageAnswer, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let (mut entries, mut depth_in_entry, mut in_title) = (0usize, 0usize, false);
    let (mut first_title, mut is_feed, mut open) = (None::<String>, false, 0usize);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                open += 1;
                let name = e.local_name();
                match name.as_ref() {
                    b"rss" | b"feed" => is_feed = true,
                    b"item" | b"entry" => {
                        entries += 1;
                        depth_in_entry += 1;
                    }
                    b"title" if depth_in_entry > 0 && first_title.is_none() => in_title = true,
                    _ => {}
                }
            }
            Ok(Event::End(e)) => {
                open = open.saturating_sub(1);
                match e.local_name().as_ref() {
                    b"item" | b"entry" => depth_in_entry = depth_in_entry.saturating_sub(1),
                    b"title" => in_title = false,
                    _ => {}
                }
            }
            Ok(Event::Text(t)) if in_title => {
                first_title = Some(String::from_utf8_lossy(t.as_ref()).trim().to_owned());
            }
            Ok(Event::CData(t)) if in_title => {
                first_title = Some(String::from_utf8_lossy(t.as_ref()).trim().to_owned());
            }
            // A cut-off feed says nothing reliable about what it would have listed.
            Ok(Event::Eof) if open > 0 => return Err("the feed is cut off".to_owned()),
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("not a feed: {e}")),
            _ => {}
        }
    }
    if !is_feed {
        return Err("XML, but neither an RSS nor an Atom feed".to_owned());
    }
    Ok(PageAnswer {
        degraded: entries > 0,
        detail: match (entries, first_title) {
            (0, _) => "no active event in the feed".to_owned(),
            (n, Some(t)) => format!("{n} active: {t}"),
            (n, None) => format!("{n} active"),
        },
    })
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
        // Google Cloud incidents.json: only an incident without an end is ongoing.
        check(
            r#"[{"begin":"2025-06-12T17:51:00+00:00","end":"2025-06-13T01:18:00+00:00","external_desc":"old"}]"#,
            Some(false),
        );
        check(
            r#"[{"begin":"2026-11-30T10:00:00+00:00","external_desc":"Cloud Run: elevated errors"},{"begin":"2025-01-01T00:00:00+00:00","end":"2025-01-02T00:00:00+00:00"}]"#,
            Some(true),
        );
        check("[]", Some(false));
        // Azure's RSS feed lists only active events.
        check(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Azure Status</title></channel></rss>"#,
            Some(false),
        );
        check(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Azure Status</title><item><title><![CDATA[Azure Front Door - Connectivity issues]]></title></item></channel></rss>"#,
            Some(true),
        );
        check(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><title>Outage</title></entry></feed>"#,
            Some(true),
        );
        check("<rss><channel><item>", None);
        assert_eq!(
            parse(r#"<rss><channel><item><title>AFD: errors</title></item></channel></rss>"#)
                .unwrap()
                .detail,
            "1 active: AFD: errors"
        );
    }
}
