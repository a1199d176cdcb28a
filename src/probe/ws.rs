//! The WebSocket upgrade probe: does `websocket_path` answer 101 through the same resolvers and
//! pins as the HTTP probes?

use std::net::SocketAddr;

use tokio::net::TcpStream;
use url::Url;

use crate::observation::{HttpAnswer, HttpFailure};
use crate::probe::http::HttpProber;

/// Attempts the upgrade and closes at once; the answer is an [`HttpAnswer`] (101 on success).
pub async fn upgrade(prober: &HttpProber, url: &Url) -> HttpAnswer {
    let mut answer = HttpAnswer {
        url: url.to_string(),
        ..HttpAnswer::default()
    };
    let fail = |mut a: HttpAnswer, kind: HttpFailure, why: String| {
        a.failure = Some((kind, why));
        a
    };
    let mut ws_url = url.clone();
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    if ws_url.set_scheme(scheme).is_err() {
        return fail(answer, HttpFailure::Protocol, format!("cannot probe {url}"));
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return fail(answer, HttpFailure::Protocol, format!("{url} has no host"));
    };
    let work = async {
        let ips = prober
            .addrs(host, port)
            .await
            .map_err(|e| (HttpFailure::Unresolved(e.failure), e.message))?;
        let addrs: Vec<SocketAddr> = ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        let stream = TcpStream::connect(&addrs[..]).await.map_err(|e| {
            (
                HttpFailure::Connect,
                format!("cannot connect to {host}:{port}: {e}"),
            )
        })?;
        match tokio_tungstenite::client_async_tls(ws_url.as_str(), stream).await {
            Ok((mut ws, response)) => {
                let _ = ws.close(None).await;
                Ok((response.status().as_u16(), response.headers().clone(), None))
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned());
                Ok((response.status().as_u16(), response.headers().clone(), body))
            }
            Err(e) => {
                let tls = matches!(e, tokio_tungstenite::tungstenite::Error::Tls(_))
                    || crate::probe::http::is_tls(&e);
                match crate::probe::http::tls_words(&e) {
                    Some(words) => Err((HttpFailure::Tls, words)),
                    None if tls => Err((HttpFailure::Tls, format!("TLS failed: {e}"))),
                    None => Err((HttpFailure::Protocol, e.to_string())),
                }
            }
        }
    };
    match tokio::time::timeout(prober.timeout, work).await {
        Err(_) => fail(
            answer,
            HttpFailure::Timeout,
            format!("no upgrade within {} ms", prober.timeout.as_millis()),
        ),
        Ok(Err((kind, why))) => fail(answer, kind, why),
        Ok(Ok((status, headers, body))) => {
            answer.status = Some(status);
            answer.headers = headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            answer.body = body.unwrap_or_default();
            answer
        }
    }
}
