//! `GET /streams/active`: budgets shared by every gateway, and a registry
//! that comes up a moment late.

use crate::helpers::spawn_gateway_with;
use gateway::configuration;
use reqwest::StatusCode;
use serde_json::Value;
use session_registry::startup::Registry;
use std::net::TcpListener;
use vibes_testkit::http::expect_problem;
use vibes_web::Listeners;

#[tokio::test]
async fn two_gateways_share_one_rate_limit_budget_per_client() {
    let tight = |settings: &mut configuration::Settings| {
        // Slow enough that no request is refunded while the others wait
        // (each retries the dead registry for ~0.75 s).
        settings.rate_limits.reads = configuration::Budget {
            per_second: 0.1,
            burst: 3,
        };
    };
    let gateways = [
        spawn_gateway_with(tight).await.address,
        spawn_gateway_with(tight).await.address,
    ];
    let client = reqwest::Client::new();
    let client_ip = format!(
        "10.1.{}.{}",
        std::process::id() % 250,
        std::process::id() % 199
    );
    let listing = |gateway: &str, ip: &str| {
        client
            .get(format!("{gateway}/streams/active"))
            .header("x-real-ip", ip.to_owned())
            .send()
    };

    for (index, remaining) in [2, 1, 0].into_iter().enumerate() {
        let response = listing(&gateways[index % 2], &client_ip).await.unwrap();
        assert_ne!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "request {index} is within the burst"
        );
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["ratelimit-remaining"],
            remaining.to_string()
        );
    }
    let refused = listing(&gateways[1], &client_ip).await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=10).contains(&retry_after),
        "about one emission interval: {retry_after}"
    );
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    let other_client = listing(&gateways[0], &format!("{client_ip}0"))
        .await
        .unwrap();
    assert_ne!(
        other_client.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "another client has its own budget"
    );
}

#[tokio::test]
async fn a_registry_that_comes_up_a_moment_later_still_answers_the_request() {
    let registry_port = vibes_testkit::free_port();
    let address = spawn_gateway_with(|settings| {
        settings.upstreams.registry_url = format!("http://127.0.0.1:{registry_port}");
    })
    .await
    .address;
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let mut settings = session_registry::configuration::load().unwrap();
        settings.redis.url = vibes_testkit::redis_server::redis_url();
        settings.playback.token_secret = vibes_testkit::tokens::PLAYBACK_TOKEN_SECRET
            .to_owned()
            .into();
        let listeners = Listeners {
            api: TcpListener::bind(("127.0.0.1", registry_port)).unwrap(),
            metrics: TcpListener::bind("127.0.0.1:0").unwrap(),
        };
        vibes_testkit::service::spawn_on::<Registry>(listeners, settings).await;
    });
    let response = reqwest::get(format!("{address}/streams/active"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let active: Value = response.json().await.unwrap();
    assert!(active["streams"].is_array(), "{active}");
}
