use crate::helpers::{expect_problem, spawn_app, unique_vibe};
use reqwest::StatusCode;
use serde_json::Value;

fn find<'a>(active: &'a Value, vibe: &str) -> Option<&'a Value> {
    active["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stream| stream["vibe_id"] == vibe)
}

#[tokio::test]
async fn registration_is_fresh_once_and_keeps_the_start_time() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    let first = app.register(&vibe).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.json::<Value>().await.unwrap()["fresh"], true);
    let started = find(&app.active().await, &vibe).unwrap()["started_at"].clone();

    let again = app.register(&vibe).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["fresh"], false);
    assert_eq!(
        find(&app.active().await, &vibe).unwrap()["started_at"],
        started
    );
}

#[tokio::test]
async fn active_streams_list_counts_creator_and_urls() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    app.join(&vibe, Some("a")).await;
    app.join(&vibe, Some("b")).await;

    let active = app.active().await;
    let stream = find(&active, &vibe).expect("listed");
    assert_eq!(stream["participant_count"], 2);
    assert_eq!(stream["max_participants"], 1000);
    assert_eq!(stream["creator"], "creator-1");
    assert!(
        stream["started_at"].as_str().unwrap().ends_with('Z'),
        "{stream}"
    );
    assert!(stream["playback"]["flv"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/live/{vibe}.flv")));
}

#[tokio::test]
async fn ending_a_stream_removes_it_and_its_participants() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    app.join(&vibe, Some("a")).await;

    let ended: Value = app.end(&vibe).await.json().await.unwrap();
    assert_eq!(ended["was_live"], true);
    assert!(find(&app.active().await, &vibe).is_none());
    expect_problem(
        app.join(&vibe, Some("a")).await,
        StatusCode::NOT_FOUND,
        "stream_not_live",
    )
    .await;
    let again: Value = app.end(&vibe).await.json().await.unwrap();
    assert_eq!(again["was_live"], false);
}

#[tokio::test]
async fn unknown_routes_answer_problem_json() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/nope", app.address))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}
