use crate::helpers::{expect_problem, spawn_app, spawn_app_with, unique_vibe};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn ready_when_redis_answers() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["parts"]["redis"]["status"], "up");
}

#[tokio::test]
async fn without_redis_it_is_live_but_not_ready_and_joins_get_503() {
    let stopped = vibes_testkit::redis_server::start_redis();
    let url = stopped.url.clone();
    drop(stopped.process);
    let app = spawn_app_with(|settings| settings.redis.url = url).await;

    let live = app
        .http
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let ready = app
        .http
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["parts"]["redis"]["status"], "down");

    let join = app.join(&unique_vibe(), None).await;
    assert_eq!(join.headers()["retry-after"], "1");
    expect_problem(join, StatusCode::SERVICE_UNAVAILABLE, "redis_unavailable").await;
}
