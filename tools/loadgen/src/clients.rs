//! HTTP clients for the scenarios. Listeners use HTTP/1.1, so every listener
//! holds its own connection (and TLS session) as separate players do, instead
//! of sharing one multiplexed HTTP/2 connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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
    edge_from(edge_url, certificate, None)
}

/// Like [`edge`], connecting from `source` (a loopback address such as
/// 127.1.0.7): the edge and the gateway limit requests per client address,
/// and simulated clients behind distinct addresses meet those limits as
/// listeners on separate networks would. Any edge on the same host name
/// and certificate is reachable through it.
pub fn edge_from(
    edge_url: &str,
    certificate: &Path,
    source: Option<IpAddr>,
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
        .local_address(source)
        // Only the dev certificate: no copy of the system's roots per client.
        .tls_built_in_root_certs(false)
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

/// The `index`th simulated client address: 127.1.0.1, 127.1.0.2, … (250 per
/// third byte), apart from 127.0.0.1, where the services and the creators are.
pub fn loopback_source(index: usize) -> IpAddr {
    let third = u8::try_from(index / 250).unwrap_or(u8::MAX);
    let fourth = (index % 250) as u8 + 1;
    IpAddr::V4(Ipv4Addr::new(127, 1, third, fourth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_sources_are_distinct_loopback_addresses() {
        assert_eq!(loopback_source(0), IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)));
        assert_eq!(
            loopback_source(249),
            IpAddr::V4(Ipv4Addr::new(127, 1, 0, 250))
        );
        assert_eq!(
            loopback_source(250),
            IpAddr::V4(Ipv4Addr::new(127, 1, 1, 1))
        );
        let sources: std::collections::HashSet<IpAddr> = (0..2000).map(loopback_source).collect();
        assert_eq!(sources.len(), 2000);
        assert!(sources.iter().all(|source| source.is_loopback()));
    }
}
