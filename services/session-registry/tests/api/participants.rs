use crate::helpers::{expect_problem, spawn_app, spawn_app_with, unique_vibe, PUBLIC_BASE_URL};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn join_returns_a_participant_id_count_and_playback_urls() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;

    let response = app.join(&vibe, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["vibe_id"], vibe.as_str());
    assert_eq!(body["participant_count"], 1);
    assert_eq!(body["max_participants"], 1000);
    assert_eq!(body["lease_seconds"], 30);
    let generated = body["participant_id"].as_str().unwrap();
    assert_eq!(
        generated.len(),
        32,
        "a generated id is a simple UUID: {generated}"
    );
    let flv = body["playback"]["flv"].as_str().unwrap();
    let token = flv.split('/').nth(4).expect("a token segment");
    assert!(token.starts_with(&format!("{generated}.")), "{flv}");
    assert_eq!(flv, format!("{PUBLIC_BASE_URL}/live/{token}/{vibe}.flv"));
    let hls = format!("{PUBLIC_BASE_URL}/live/{token}/{vibe}/{vibe}.m3u8");
    assert_eq!(body["playback"]["hls"], hls);
}

#[tokio::test]
async fn join_without_a_body_is_allowed() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let response = app
        .http
        .post(format!("{}/stream/{vibe}/join", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["participant_count"], 1);
}

#[tokio::test]
async fn rejoining_renews_without_counting_twice() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    for _ in 0..3 {
        let body: Value = app
            .join(&vibe, Some("same-listener"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["participant_count"], 1);
        assert_eq!(body["participant_id"], "same-listener");
    }
}

#[tokio::test]
async fn joining_a_stream_that_is_not_live_is_404() {
    let app = spawn_app().await;
    expect_problem(
        app.join(&unique_vibe(), None).await,
        StatusCode::NOT_FOUND,
        "stream_not_live",
    )
    .await;
}

#[tokio::test]
async fn a_full_stream_answers_409_with_the_count() {
    let app = spawn_app_with(|settings| settings.participants.max_per_stream = 2).await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    app.join(&vibe, Some("a")).await;
    app.join(&vibe, Some("b")).await;
    let problem = expect_problem(
        app.join(&vibe, Some("c")).await,
        StatusCode::CONFLICT,
        "stream_full",
    )
    .await;
    assert_eq!(problem["participant_count"], 2);
    assert_eq!(problem["max_participants"], 2);
}

#[tokio::test]
async fn leave_drops_the_count_and_is_idempotent() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    app.join(&vibe, Some("a")).await;
    app.join(&vibe, Some("b")).await;

    let first: Value = app.leave(&vibe, "a").await.json().await.unwrap();
    assert_eq!(first["left"], true);
    assert_eq!(first["participant_count"], 1);
    let second: Value = app.leave(&vibe, "a").await.json().await.unwrap();
    assert_eq!(second["left"], false);
    assert_eq!(second["participant_count"], 1);
}

#[tokio::test]
async fn malformed_requests_get_their_own_problem_codes() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let join_url = format!("{}/stream/{vibe}/join", app.address);

    let bad_id = app.join("no.dots", None).await;
    expect_problem(bad_id, StatusCode::BAD_REQUEST, "invalid_vibe_id").await;
    let bad_participant = app.join(&vibe, Some("has space")).await;
    expect_problem(bad_participant, StatusCode::BAD_REQUEST, "invalid_json").await;
    let unknown_field = app
        .http
        .post(&join_url)
        .json(&serde_json::json!({"seat": 1}))
        .send()
        .await
        .unwrap();
    expect_problem(unknown_field, StatusCode::BAD_REQUEST, "invalid_json").await;
    let not_json = app
        .http
        .post(&join_url)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    expect_problem(
        not_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_content_type",
    )
    .await;
    let leave_without_id = app
        .http
        .post(format!("{}/stream/{vibe}/leave", app.address))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(leave_without_id, StatusCode::BAD_REQUEST, "invalid_json").await;

    let count = app.participant_count(&vibe).await;
    assert_eq!(count, 0, "refused requests change nothing");
}
