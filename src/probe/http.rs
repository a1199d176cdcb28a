//! The only user of reqwest for probes: one GET through our own resolvers and `--resolve` pins,
//! answered as a plain [`HttpAnswer`] (status, headers, the start of the body, or why it failed).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::Pin;
use crate::observation::{HttpAnswer, HttpFailure, BODY_LIMIT};
use crate::probe::dns::{DnsClient, Unresolved};

/// Everything an HTTP probe needs: our resolvers, the pins, the per-request timeout.
#[derive(Clone)]
pub struct HttpProber {
    pub dns: Arc<DnsClient>,
    pub pins: Vec<Pin>,
    pub timeout: Duration,
}

impl HttpProber {
    /// GET `url` without following redirects (the first hop is what tells the path).
    pub async fn get(&self, url: &Url) -> HttpAnswer {
        self.get_up_to(url, BODY_LIMIT).await
    }

    /// GET keeping up to `limit` bytes of the body (a status page summary is larger than any
    /// error page).
    pub async fn get_up_to(&self, url: &Url, limit: usize) -> HttpAnswer {
        let mut answer = HttpAnswer {
            url: url.to_string(),
            ..HttpAnswer::default()
        };
        let client = match self.client(url) {
            Ok(c) => c,
            Err(e) => {
                answer.failure = Some((HttpFailure::Protocol, chain(&e)));
                return answer;
            }
        };
        let response = match client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                answer.failure = Some(classify(&e, self.timeout));
                return answer;
            }
        };
        answer.status = Some(response.status().as_u16());
        answer.headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut response = response;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= limit {
                        break;
                    }
                }
                Ok(None) => break,
                // A body cut short still leaves a status and headers worth reporting.
                Err(_) => break,
            }
        }
        answer.body = String::from_utf8_lossy(&body).into_owned();
        answer
    }

    fn client(&self, url: &Url) -> reqwest::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .dns_resolver(Arc::new(ProbeResolver(self.dns.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .no_proxy()
            .user_agent(concat!("failover/", env!("CARGO_PKG_VERSION")));
        if let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) {
            let pinned: Vec<SocketAddr> = pins_for(&self.pins, host, port)
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
            if !pinned.is_empty() {
                builder = builder.resolve_to_addrs(host, &pinned);
            }
        }
        builder.build()
    }

    /// Addresses for `host:port`: the pins when there are any, else our resolvers.
    pub async fn addrs(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, Unresolved> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let pinned: Vec<IpAddr> = pins_for(&self.pins, host, port).collect();
        if !pinned.is_empty() {
            return Ok(pinned);
        }
        self.dns.lookup_any(host).await
    }
}

/// The pinned addresses for `host:port`, as curl's `--resolve` applies them.
pub fn pins_for<'a>(
    pins: &'a [Pin],
    host: &'a str,
    port: u16,
) -> impl Iterator<Item = IpAddr> + 'a {
    pins.iter()
        .filter(move |p| p.port == port && p.host.eq_ignore_ascii_case(host))
        .map(|p| p.addr)
}

/// reqwest's resolver, answered by our hickory resolvers so that `--resolver` redirects HTTP too.
struct ProbeResolver(Arc<DnsClient>);

impl reqwest::dns::Resolve for ProbeResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Kept typed so the probe can tell "never contacted" from "refused the connection".
            let ips = dns
                .lookup_any(&host)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The error chain in one line, without the wrappers that only repeat the URL or say
/// "client error", so the cause a person acts on comes first.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let s = c.to_string();
        let wrapper = s.starts_with("error sending request") || s.starts_with("client error (");
        if !wrapper && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

/// Whether a rustls error sits anywhere in the chain. io::Errors hide their inner error from
/// `source()` and nest (tokio-rustls wraps the rustls error, the connector wraps that), so they
/// are opened by hand.
pub(crate) fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        let mut io = c.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(|e| e.get_ref()) {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        cur = c.source();
    }
    false
}

/// The rustls error anywhere in the chain, opening io::Errors as [`is_tls`] does.
fn find_tls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let mut io = c.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(|e| e.get_ref()) {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        cur = c.source();
    }
    None
}

/// The certificate problem in words a person acts on, instead of the library's debug output.
pub(crate) fn tls_words(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::CertificateError as C;
    let words = match find_tls(e)? {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "certificate is not valid for this host"
            }
            C::UnknownIssuer => "certificate signed by an unknown authority",
            C::Expired | C::ExpiredContext { .. } => "certificate expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not valid yet",
            C::Revoked => "certificate revoked",
            C::BadSignature | C::BadEncoding => "certificate is malformed or badly signed",
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "certificate is not meant for a server"
            }
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                "a CA certificate used as the server's certificate"
            }
            _ => "the server's certificate is not accepted",
        },
        rustls::Error::AlertReceived(_) => "the server refused the TLS handshake",
        rustls::Error::NoCertificatesPresented => "the server presented no certificate",
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server does not speak TLS here"
        }
        _ => "the TLS handshake failed",
    };
    Some(format!("TLS: {words}"))
}

/// The resolver's verdict on the host, when the request failed because the name did not resolve.
fn find_unresolved<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Unresolved> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(u) = c.downcast_ref::<Unresolved>() {
            return Some(u);
        }
        cur = c.source();
    }
    None
}

fn classify(e: &reqwest::Error, timeout: Duration) -> (HttpFailure, String) {
    if let Some(unresolved) = find_unresolved(e) {
        return (
            HttpFailure::Unresolved(unresolved.failure),
            unresolved.message.clone(),
        );
    }
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    if e.is_timeout() {
        return (
            HttpFailure::Timeout,
            format!("no response within {} ms", timeout.as_millis()),
        );
    }
    if let Some(words) = tls_words(e) {
        return (HttpFailure::Tls, words);
    }
    let kind = if is_tls(e)
        || ["certificate", "tls handshake"]
            .iter()
            .any(|w| lower.contains(w))
    {
        HttpFailure::Tls
    } else if e.is_connect() {
        HttpFailure::Connect
    } else {
        HttpFailure::Protocol
    };
    (kind, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError as C;

    /// A rustls error as the connector hands it over: inside an io::Error inside another.
    fn wrapped(e: rustls::Error) -> std::io::Error {
        std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn certificate_problems_in_words() {
        for (error, words) in [
            (
                C::NotValidForName,
                "TLS: certificate is not valid for this host",
            ),
            (
                C::UnknownIssuer,
                "TLS: certificate signed by an unknown authority",
            ),
            (C::Expired, "TLS: certificate expired"),
        ] {
            let e = wrapped(rustls::Error::InvalidCertificate(error));
            assert_eq!(tls_words(&e).as_deref(), Some(words));
        }
        let plain = std::io::Error::other("connection reset");
        assert_eq!(tls_words(&plain), None);
    }
}
