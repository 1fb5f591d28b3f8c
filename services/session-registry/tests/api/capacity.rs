use crate::helpers::{expect_problem, spawn_app, spawn_app_with, unique_vibe};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Joins in flight at once: enough to contend on every seat, few enough for
/// the default socket backlog of one test process.
const IN_FLIGHT: usize = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_concurrent_joins_through_two_instances_admit_exactly_the_cap() {
    let instances = [
        spawn_app_with(|settings| settings.participants.max_per_stream = 1000).await,
        spawn_app_with(|settings| settings.participants.max_per_stream = 1000).await,
    ];
    let vibe = unique_vibe();
    instances[0].register(&vibe).await;
    // Idle connections are dropped before the server's 5 s keep-alive ends
    // them: reusing one the server is closing fails the request (seen when a
    // busy machine stretches this test past 5 s).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    let limit = Arc::new(Semaphore::new(IN_FLIGHT));

    let mut joins = Vec::with_capacity(5000);
    for index in 0..5000 {
        let url = format!("{}/stream/{vibe}/join", instances[index % 2].address);
        let (client, limit) = (client.clone(), limit.clone());
        joins.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            let body = json!({ "participant_id": format!("listener-{index}") });
            client.post(url).json(&body).send().await.unwrap().status()
        }));
    }
    let mut admitted = 0;
    let mut full = 0;
    for join in joins {
        match join.await.unwrap() {
            StatusCode::OK => admitted += 1,
            StatusCode::CONFLICT => full += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((admitted, full), (1000, 4000));
    for instance in &instances {
        assert_eq!(instance.participant_count(&vibe).await, 1000);
    }
}

#[tokio::test]
async fn operators_can_override_one_streams_cap() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let url = format!("{}/internal/streams/{vibe}/max-participants", app.address);
    let response = app
        .http
        .put(&url)
        .json(&json!({ "max_participants": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["max_participants"],
        1
    );

    app.join(&vibe, Some("a")).await;
    let problem = expect_problem(
        app.join(&vibe, Some("b")).await,
        StatusCode::CONFLICT,
        "stream_full",
    )
    .await;
    assert_eq!(problem["max_participants"], 1);

    let not_live = format!(
        "{}/internal/streams/{}/max-participants",
        app.address,
        unique_vibe()
    );
    let response = app
        .http
        .put(&not_live)
        .json(&json!({ "max_participants": 5 }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "stream_not_live").await;
    let negative = app
        .http
        .put(&url)
        .json(&json!({ "max_participants": -1 }))
        .send()
        .await
        .unwrap();
    expect_problem(negative, StatusCode::BAD_REQUEST, "invalid_json").await;
}
