//! The gateway's Prometheus metrics are on their own listener, not on the API.

use crate::helpers::spawn_gateway_without_backends;
use reqwest::StatusCode;
use vibes_testkit::http::{expect_problem, metric};

#[tokio::test]
async fn metrics_are_served_on_the_metrics_port_only() {
    let gateway = spawn_gateway_without_backends().await;
    let on_api = reqwest::get(format!("{}/metrics", gateway.address))
        .await
        .unwrap();
    expect_problem(on_api, StatusCode::NOT_FOUND, "not_found").await;

    let health = reqwest::get(format!("{}/health", gateway.address))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let scraped = reqwest::get(format!("{}/metrics", gateway.metrics_address))
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let labels = [
        ("service", "gateway"),
        ("route", "/health"),
        ("status", "503"),
    ];
    assert!(
        metric(
            &gateway.metrics_address,
            "vibes_http_requests_total",
            &labels
        )
        .await
            >= 1.0
    );
    // Nothing but /metrics there.
    let api_on_metrics = reqwest::get(format!("{}/health", gateway.metrics_address))
        .await
        .unwrap();
    expect_problem(api_on_metrics, StatusCode::NOT_FOUND, "not_found").await;
}
