//! The I/O of `failover init`: detecting the platform DNS target from the public host's CNAME,
//! and writing the config file so that a crash never leaves half of one.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::stream::{FuturesUnordered, StreamExt};

use crate::config::{DnsSettings, ResolverSpec};
use crate::probe::dns::DnsClient;
use crate::text::excerpt;
use crate::ui::Printer;

/// The platform DNS target: the first CNAME hop of the public host, from whichever resolver
/// answers first (`--resolver`, else the system's). Nothing found is not an error: diagnose
/// learns the target at run time too.
pub async fn detect_target(
    p: &Printer,
    host: &str,
    resolvers: Vec<ResolverSpec>,
) -> Option<String> {
    if host.is_empty()
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        return None;
    }
    let specs = if resolvers.is_empty() {
        vec![ResolverSpec::System]
    } else {
        resolvers
    };
    let dns = DnsClient::new(&DnsSettings {
        resolvers: specs.clone(),
        timeout: DETECT_TIMEOUT,
    });
    let mut asks: FuturesUnordered<_> = specs.iter().map(|r| dns.first_hop(r, host)).collect();
    let found = tokio::time::timeout(DETECT_TIMEOUT, async {
        while let Some(answer) = asks.next().await {
            if answer.is_some() {
                return answer;
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    match &found {
        Some(target) => p.info(format!(
            "{host} is a CNAME to {}: that is the platform DNS target",
            excerpt(target, 200)
        )),
        None => p.debug(format!(
            "{host}: no CNAME found; diagnose will learn the DNS target when it runs"
        )),
    }
    found
}

/// How long init waits for the CNAME: a missing answer only means one line less in the file.
const DETECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Write beside the target and rename over it, so a crash never leaves half a config.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("failover.toml"),
        std::process::id()
    ));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        format!(
            "cannot move {} into place at {}",
            tmp.display(),
            path.display()
        )
    })
}
