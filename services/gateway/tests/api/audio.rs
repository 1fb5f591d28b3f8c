//! `POST /stream/{vibe_id}/audio`: the gateway checks a chunk before any
//! backend is asked, and an unreachable ingest is a clear problem.

use crate::helpers::{creator_of_v1, spawn_gateway_without_backends};
use reqwest::StatusCode;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::expect_problem;

#[tokio::test]
async fn valid_audio_for_an_unreachable_ingest_is_a_503_problem() {
    let address = spawn_gateway_without_backends().await.address;
    let response = creator_of_v1()
        .post(format!("{address}/stream/v1/audio"))
        .header("content-type", "application/octet-stream")
        .body(sine_pcm(0.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingest_unavailable",
    )
    .await;
}

#[tokio::test]
async fn bad_audio_is_refused_before_any_backend_is_asked() {
    let address = spawn_gateway_without_backends().await.address;
    let client = creator_of_v1();
    let cases: [(&str, &str, Vec<u8>, StatusCode, &str); 4] = [
        (
            "a%20b",
            "application/octet-stream",
            sine_pcm(0.1),
            StatusCode::BAD_REQUEST,
            "invalid_vibe_id",
        ),
        (
            "v1",
            "application/octet-stream",
            vec![1, 2, 3],
            StatusCode::BAD_REQUEST,
            "partial_frame",
        ),
        (
            "v1",
            "text/plain",
            sine_pcm(0.1),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
        ),
        (
            "v1",
            "application/octet-stream",
            vec![0; 1024 * 1024 + 4],
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (vibe, content_type, body, status, code) in cases {
        let response = client
            .post(format!("{address}/stream/{vibe}/audio"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        expect_problem(response, status, code).await;
    }
}

#[tokio::test]
async fn a_bad_chunk_number_is_refused_and_lyria_json_passes_validation() {
    let address = spawn_gateway_without_backends().await.address;
    let client = creator_of_v1();
    let url = format!("{address}/stream/v1/audio");
    let bad_seq = client
        .post(&url)
        .header("content-type", "application/octet-stream")
        .header("x-chunk-seq", "-3")
        .body(sine_pcm(0.1))
        .send()
        .await
        .unwrap();
    expect_problem(bad_seq, StatusCode::BAD_REQUEST, "invalid_chunk_seq").await;

    // Valid Lyria JSON gets as far as the (unreachable) ingest.
    let lyria = r#"{"serverContent":{"audioChunks":[{"data":"AAAAAAAAAAA=","mimeType":"audio/l16;rate=48000;channels=2"}]}}"#;
    let forwarded = client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-chunk-seq", "7")
        .body(lyria)
        .send()
        .await
        .unwrap();
    expect_problem(
        forwarded,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingest_unavailable",
    )
    .await;
}
