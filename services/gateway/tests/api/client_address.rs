//! Per-client rate limits count against the TCP peer, unless the peer is a
//! configured proxy (the edge), whose `X-Real-IP` then names the client. The
//! test clients connect from their own loopback addresses (all of
//! 127.0.0.0/8 is local), so each test has budgets nobody else touches; the
//! `RateLimit-Remaining` header tells which budget a request was counted in.

use crate::helpers::{spawn_gateway_with, TestGateway};
use gateway::configuration::{self, Settings};
use reqwest::StatusCode;
use std::net::IpAddr;
use vibes_testkit::http::expect_problem;

/// Reads cost 10 s of budget each, three at once: nothing refills during a test.
fn tight(settings: &mut Settings, proxies: &str) {
    settings.rate_limits.reads = configuration::Budget {
        per_second: 0.1,
        burst: 3,
    };
    settings.trust.proxies = gateway::client_address::TrustedProxies::parse([proxies]).unwrap();
}

/// Four addresses `<first>.a.b.{1..4}` no other run of this test uses soon.
fn fresh_addresses(first: u8) -> [IpAddr; 4] {
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
    let [_, _, a, b] = seed.to_be_bytes();
    [1, 2, 3, 4].map(|last| IpAddr::from([first, a, b.max(1), last]))
}

/// A client connecting from `local`.
fn client_from(local: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local)
        .build()
        .unwrap()
}

/// Lists streams claiming to be `real_ip` (or nothing); returns the budget
/// left, or `None` when refused.
async fn listing(
    gateway: &TestGateway,
    client: &reqwest::Client,
    real_ip: Option<&str>,
) -> Option<u64> {
    let mut request = client.get(format!("{}/streams/active", gateway.address));
    if let Some(real_ip) = real_ip {
        request = request.header("x-real-ip", real_ip);
    }
    let response = request.send().await.unwrap();
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        expect_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        return None;
    }
    Some(
        response.headers()["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap(),
    )
}

#[tokio::test]
async fn an_untrusted_peer_cannot_pick_its_budget_with_x_real_ip() {
    let [peer, other_peer, ..] = fresh_addresses(127);
    // Only the "edge" (127.0.0.1) is trusted; the test client is not it.
    let gateway = spawn_gateway_with(|settings| tight(settings, "127.0.0.1/32")).await;
    let client = client_from(peer);
    let spoofed = [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ];
    assert_eq!(listing(&gateway, &client, Some(spoofed[0])).await, Some(2));
    assert_eq!(listing(&gateway, &client, Some(spoofed[1])).await, Some(1));
    assert_eq!(listing(&gateway, &client, None).await, Some(0));
    assert_eq!(
        listing(&gateway, &client, Some(spoofed[3])).await,
        None,
        "every request counted against the peer, whatever it claimed"
    );
    assert_eq!(
        listing(&gateway, &client_from(other_peer), Some(&peer.to_string())).await,
        Some(2),
        "another peer naming the first one still has its own budget"
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_in_x_real_ip() {
    let [proxy, ..] = fresh_addresses(127);
    let clients = fresh_addresses(10).map(|address| address.to_string());
    let gateway = spawn_gateway_with(|settings| tight(settings, &format!("{proxy}/32"))).await;
    let edge = client_from(proxy);
    assert_eq!(listing(&gateway, &edge, Some(&clients[0])).await, Some(2));
    assert_eq!(listing(&gateway, &edge, Some(&clients[0])).await, Some(1));
    assert_eq!(
        listing(&gateway, &edge, Some(&clients[1])).await,
        Some(2),
        "each client behind the proxy has its own budget"
    );
    assert_eq!(listing(&gateway, &edge, Some(&clients[0])).await, Some(0));
    assert_eq!(listing(&gateway, &edge, Some(&clients[0])).await, None);
    // Without a usable header the proxy itself is the client.
    assert_eq!(listing(&gateway, &edge, None).await, Some(2));
    assert_eq!(
        listing(&gateway, &edge, Some("not an address")).await,
        Some(1)
    );
}

#[test]
fn the_proxies_setting_takes_a_list_or_one_comma_separated_string() {
    let settings = configuration::load().unwrap();
    let defaults: Vec<String> = settings
        .trust
        .proxies
        .networks()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(defaults, ["127.0.0.1/32", "::1/128"]);
}
