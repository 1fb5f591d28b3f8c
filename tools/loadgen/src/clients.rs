//! HTTP clients for the scenarios. Listeners use HTTP/1.1, so every listener
//! holds its own connection (and TLS session) as separate players do, instead
//! of sharing one multiplexed HTTP/2 connection.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Plain HTTP on loopback (the engine, the services' own ports).
pub fn plain() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .http1_only()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// The TLS edge at `https://localhost:<port>`: its (dev) certificate is
/// trusted, and `localhost` is pinned to 127.0.0.1, where nginx listens.
pub fn edge(
    edge_url: &str,
    certificate: &Path,
) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let url = reqwest::Url::parse(edge_url)?;
    let host = url.host_str().ok_or("the edge URL has no host")?.to_owned();
    let port = url
        .port_or_known_default()
        .ok_or("the edge URL has no port")?;
    let pem = std::fs::read(certificate)?;
    Ok(reqwest::Client::builder()
        .http1_only()
        .connect_timeout(CONNECT_TIMEOUT)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
        .resolve(&host, SocketAddr::from(([127, 0, 0, 1], port)))
        .build()?)
}

/// The whole body of a 200 answer to GET `url` within `limit`; `None` for
/// any other answer, an error or a timeout (a poll that found nothing).
pub async fn body_of_ok(
    client: &reqwest::Client,
    url: &reqwest::Url,
    limit: Duration,
) -> Option<bytes::Bytes> {
    let request = async {
        let response = client.get(url.clone()).send().await.ok()?;
        if response.status() != 200 {
            return None;
        }
        response.bytes().await.ok()
    };
    tokio::time::timeout(limit, request).await.ok().flatten()
}
