//! Lyria RealTime messages (`application/json`, base64 PCM) are the same audio
//! as raw bodies, and malformed ones are refused with their own codes.

use crate::helpers::{spawn_app, unique_vibe, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::expect_problem;

const JSON: &str = "application/json";

fn lyria(pcm: &[u8], mime_type: &str) -> Vec<u8> {
    let half = pcm.len() / 2 / 4 * 4;
    let message = json!({
        "serverContent": { "audioChunks": [
            { "data": STANDARD.encode(&pcm[..half]), "mimeType": mime_type },
            { "data": STANDARD.encode(&pcm[half..]), "mimeType": mime_type },
        ]}
    });
    serde_json::to_vec(&message).unwrap()
}

/// The stream's recorded audio, decoded back to PCM.
fn decoded(path: &Path) -> Vec<u8> {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(output.status.success());
    output.stdout
}

async fn record(app: &TestApp, content_type: &str, body: Vec<u8>) -> Vec<u8> {
    let vibe = unique_vibe();
    let response = app.post_audio(vibe.as_str(), content_type, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.end(vibe.as_str()).await;
    decoded(&app.output_dir.path().join(vibe.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lyria_message_and_a_raw_body_produce_identical_audio() {
    let app = spawn_app().await;
    let pcm = sine_pcm(1.0);
    let raw = record(&app, "application/octet-stream", pcm.clone()).await;
    let from_lyria = record(&app, JSON, lyria(&pcm, "audio/l16;rate=48000;channels=2")).await;
    let bare = serde_json::to_vec(&json!({ "data": STANDARD.encode(&pcm) })).unwrap();
    let from_bare = record(&app, JSON, bare).await;
    assert!(
        raw.len() >= 4 * 48_000,
        "about a second of audio came out: {} bytes",
        raw.len()
    );
    assert!(raw == from_lyria, "Lyria audio differs from raw audio");
    assert!(raw == from_bare, "bare-data audio differs from raw audio");
}

#[tokio::test]
async fn malformed_lyria_messages_are_refused_and_start_nothing() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    let pcm = sine_pcm(0.1);
    let too_big = serde_json::to_vec(&json!({ "data": "A".repeat(2 * 1024 * 1024) })).unwrap();
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            br#"{"serverContent":{"audioChunks":[]}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "no_audio",
        ),
        (
            br#"{"data":"***"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_base64",
        ),
        (
            serde_json::to_vec(&json!({ "data": STANDARD.encode([1, 2, 3]) })).unwrap(),
            StatusCode::BAD_REQUEST,
            "partial_frame",
        ),
        (
            lyria(&pcm, "audio/l16;rate=44100;channels=2"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_audio_format",
        ),
        (
            lyria(&pcm, "audio/mpeg"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_audio_format",
        ),
        (too_big, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (body, status, code) in cases {
        expect_problem(
            app.post_audio(vibe.as_str(), JSON, body).await,
            status,
            code,
        )
        .await;
    }
    assert_eq!(app.streams.count(), 0);
}
