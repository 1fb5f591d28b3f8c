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
    expect_problem(
        join,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_recovers_by_itself_when_redis_comes_back() {
    let redis = vibes_testkit::redis_server::start_redis();
    let (url, port) = (redis.url.clone(), redis.port);
    let app = spawn_app_with(|settings| settings.redis.url = url).await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    assert_eq!(
        app.join(&vibe, Some("before")).await.status(),
        StatusCode::OK
    );

    drop(redis.process);
    let during = app.join(&vibe, Some("during")).await;
    expect_problem(
        during,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;

    let _restarted = vibes_testkit::redis_server::start_redis_on(port);
    let ready = format!("{}/health/ready", app.address);
    let http = app.http.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while http.get(&ready).send().await.unwrap().status() != StatusCode::OK {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready again within 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The new Redis is empty, as after a restart without persistence: the
    // owning ingest re-registers the stream on its next chunk.
    app.register(&vibe).await;
    let after: Value = app.join(&vibe, Some("after")).await.json().await.unwrap();
    assert_eq!(after["participant_count"], 1);
}

#[tokio::test]
async fn metrics_count_seats_and_requests() {
    use vibes_testkit::http::metric;
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let admitted = [("request", "join"), ("outcome", "admitted")];
    let refused = [("request", "join"), ("outcome", "not_live")];
    let joins_route = [("route", "/stream/{vibe_id}/join"), ("status", "200")];
    let before = (
        metric(
            &app.metrics_address,
            "vibes_registry_seats_total",
            &admitted,
        )
        .await,
        metric(&app.metrics_address, "vibes_registry_seats_total", &refused).await,
        metric(
            &app.metrics_address,
            "vibes_http_requests_total",
            &joins_route,
        )
        .await,
    );
    app.join(&vibe, Some("counted")).await;
    app.join(&unique_vibe(), Some("counted")).await;
    let after = (
        metric(
            &app.metrics_address,
            "vibes_registry_seats_total",
            &admitted,
        )
        .await,
        metric(&app.metrics_address, "vibes_registry_seats_total", &refused).await,
        metric(
            &app.metrics_address,
            "vibes_http_requests_total",
            &joins_route,
        )
        .await,
    );
    assert!(
        after.0 >= before.0 + 1.0,
        "admitted joins counted: {before:?} → {after:?}"
    );
    assert!(
        after.1 >= before.1 + 1.0,
        "refused joins counted: {before:?} → {after:?}"
    );
    assert!(
        after.2 >= before.2 + 1.0,
        "requests counted by route pattern: {before:?} → {after:?}"
    );
    let text = vibes_testkit::http::scrape(&app.metrics_address).await;
    assert!(
        !text.contains(&vibe),
        "stream ids never become label values"
    );
    // Metrics are on their own listener only, which serves nothing else.
    vibes_testkit::http::assert_metrics_apart(
        &app.address,
        &app.metrics_address,
        reqwest::Method::GET,
        "/internal/playback-auth",
    )
    .await;
}

#[tokio::test]
async fn a_redis_outage_is_told_by_its_code_and_its_cause_stays_in_the_log() {
    let stopped = vibes_testkit::redis_server::start_redis();
    let (url, port) = (stopped.url.clone(), stopped.port);
    drop(stopped.process);
    let app = spawn_app_with(|settings| settings.redis.url = url).await;

    let join = app.join(&unique_vibe(), None).await;
    let problem = expect_problem(
        join,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
    assert!(problem.get("detail").is_none(), "{problem}");
    let text = problem.to_string();
    assert!(
        !text.contains(&port.to_string()) && !text.to_lowercase().contains("refused"),
        "{text}"
    );
}
