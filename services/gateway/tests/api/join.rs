//! `POST /stream/{vibe_id}/join` and `/leave`: who may join, as whom, and
//! what an unknown route answers.

use crate::helpers::{spawn_gateway, spawn_gateway_without_backends};
use reqwest::StatusCode;
use vibes_testkit::http::expect_problem;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

#[tokio::test]
async fn join_with_a_bad_id_and_unknown_routes_are_problems() {
    let address = spawn_gateway_without_backends().await.address;
    let client = reqwest::Client::new();
    let join = client
        .post(format!("{address}/stream/{}/join", "x".repeat(65)))
        .send()
        .await
        .unwrap();
    expect_problem(join, StatusCode::BAD_REQUEST, "invalid_vibe_id").await;
    let unknown = client
        .get(format!("{address}/stream/v1/whatever"))
        .send()
        .await
        .unwrap();
    expect_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn joins_need_a_participant_token_naming_the_caller() {
    let address = spawn_gateway_without_backends().await.address;
    let client = reqwest::Client::new();
    let url = format!("{address}/stream/v1/join");
    let anonymous = client.post(&url).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "token_missing").await;
    let as_creator = client
        .post(&url)
        .header("authorization", creator_bearer("v1"))
        .send()
        .await
        .unwrap();
    expect_problem(as_creator, StatusCode::FORBIDDEN, "wrong_role").await;
    let someone_else = client
        .post(&url)
        .header("authorization", participant_bearer("alice"))
        .json(&serde_json::json!({ "participant_id": "mallory" }))
        .send()
        .await
        .unwrap();
    expect_problem(someone_else, StatusCode::FORBIDDEN, "wrong_participant").await;
    // A valid token gets as far as the (unreachable) registry.
    let alice = client
        .post(&url)
        .header("authorization", participant_bearer("alice"))
        .send()
        .await
        .unwrap();
    expect_problem(
        alice,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
}

#[tokio::test]
async fn anonymous_joins_pass_only_where_configured() {
    let address = spawn_gateway(true).await.address;
    let client = reqwest::Client::new();
    let join = client
        .post(format!("{address}/stream/v1/join"))
        .send()
        .await
        .unwrap();
    expect_problem(
        join,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
    let leave_without_id = client
        .post(format!("{address}/stream/v1/leave"))
        .send()
        .await
        .unwrap();
    expect_problem(leave_without_id, StatusCode::BAD_REQUEST, "invalid_json").await;
}
