//! `GET /health`: every part of the stack, each down part with its reason,
//! and what an unreachable part looks like to clients (a code, no address).

use crate::helpers::{creator_of_v1, spawn_gateway, spawn_gateway_without_backends};
use reqwest::StatusCode;
use serde_json::Value;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::expect_problem;

#[tokio::test]
async fn health_reports_each_unreachable_part() {
    let address = spawn_gateway_without_backends().await.address;
    let response = reqwest::get(format!("{address}/health")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "down");
    assert_eq!(health["parts"]["gateway"]["status"], "up");
    for part in ["session_registry", "media_engine"] {
        assert_eq!(health["parts"][part]["status"], "down", "{health}");
        assert!(health["parts"][part]["detail"]
            .as_str()
            .unwrap()
            .contains("unreachable"));
    }
    assert_eq!(health["parts"]["ingest"]["status"], "down", "{health}");
    assert!(health["parts"]["ingest"]["detail"]
        .as_str()
        .unwrap()
        .contains("no live ingest pod"));
}

#[tokio::test]
async fn an_unreachable_backend_is_told_by_its_code_not_its_address() {
    let address = spawn_gateway(true).await.address;
    let requests = [
        (
            reqwest::Client::new().post(format!("{address}/stream/v1/join")),
            "registry_unavailable",
        ),
        (
            creator_of_v1()
                .post(format!("{address}/stream/v1/audio"))
                .header("content-type", "application/octet-stream")
                .body(sine_pcm(0.1)),
            "ingest_unavailable",
        ),
    ];
    // The test's backends sit at 127.0.0.1:9.
    for (request, code) in requests {
        let response = request.send().await.unwrap();
        let problem = expect_problem(response, StatusCode::SERVICE_UNAVAILABLE, code).await;
        assert!(problem.get("detail").is_none(), "{problem}");
        assert!(!problem.to_string().contains("127.0.0.1"), "{problem}");
    }
    let health = reqwest::get(format!("{address}/health")).await.unwrap();
    let health = health.text().await.unwrap();
    assert!(!health.contains("127.0.0.1"), "{health}");
}
