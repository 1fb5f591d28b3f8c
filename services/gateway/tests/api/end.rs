//! `DELETE /stream/{vibe_id}`: only the stream's creator ends it.

use crate::helpers::{creator_of_v1, spawn_gateway_without_backends};
use reqwest::StatusCode;
use vibes_testkit::http::expect_problem;
use vibes_testkit::tokens::creator_bearer;

#[tokio::test]
async fn ending_a_stream_needs_its_creator() {
    let address = spawn_gateway_without_backends().await.address;
    let client = reqwest::Client::new();
    let url = format!("{address}/stream/v1");
    let anonymous = client.delete(&url).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "token_missing").await;
    let other_stream = client
        .delete(&url)
        .header("authorization", creator_bearer("v2"))
        .send()
        .await
        .unwrap();
    expect_problem(other_stream, StatusCode::FORBIDDEN, "wrong_vibe").await;
    let creator = creator_of_v1().delete(&url).send().await.unwrap();
    expect_problem(
        creator,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingest_unavailable",
    )
    .await;
}
