//! `/metrics` of a service served with `vibes_web::serve`, on its own
//! listener: request latency histograms by route pattern and status, and
//! audio chunk sizes.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::{expect_problem, metric};
use vibes_web::Listeners;

const SERVICE: &str = "web-metrics-test";

async fn audio(
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let pcm = vibes_web::body::read_audio(&request, payload).await?;
    Ok(HttpResponse::Accepted().body(pcm.len().to_string()))
}

/// The service's API address and its metrics address.
fn spawn_service() -> (String, String) {
    let service = vibes_web::serve(SERVICE, Listeners::loopback().unwrap(), |config| {
        config.route("/stream/{vibe_id}/audio", web::post().to(audio));
    })
    .unwrap();
    let address = format!("http://127.0.0.1:{}", service.port());
    let metrics = format!("http://127.0.0.1:{}", service.metrics_port());
    tokio::spawn(service.run_until_stopped());
    (address, metrics)
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_only() {
    let (address, metrics) = spawn_service();
    assert_ne!(address, metrics);
    let on_api = reqwest::get(format!("{address}/metrics")).await.unwrap();
    expect_problem(on_api, reqwest::StatusCode::NOT_FOUND, "not_found").await;
    let scraped = reqwest::get(format!("{metrics}/metrics")).await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(scraped
        .text()
        .await
        .unwrap()
        .contains("vibes_http_requests_total"));
    // The metrics listener serves nothing but /metrics.
    for path in ["/health/live", "/stream/v1/audio"] {
        let other = reqwest::get(format!("{metrics}{path}")).await.unwrap();
        expect_problem(other, reqwest::StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(
        reqwest::get(format!("{address}/health/live"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn requests_and_chunks_move_their_histograms() {
    let (address, metrics) = spawn_service();
    let http = reqwest::Client::new();
    let post = |content_type: &str, body: Vec<u8>| {
        http.post(format!("{address}/stream/v1/audio"))
            .header("content-type", content_type.to_owned())
            .body(body)
            .send()
    };
    let service = ("service", SERVICE);
    let accepted = [
        service,
        ("route", "/stream/{vibe_id}/audio"),
        ("status", "202"),
    ];
    let refused = [
        service,
        ("route", "/stream/{vibe_id}/audio"),
        ("status", "415"),
    ];
    let raw = [service, ("encoding", "raw")];
    let lyria = [service, ("encoding", "lyria")];
    let half_second = [service, ("encoding", "raw"), ("le", "96000")];

    let half_second_pcm = sine_pcm(0.5);
    assert_eq!(half_second_pcm.len(), 96_000);
    assert_eq!(
        post("application/octet-stream", half_second_pcm.clone())
            .await
            .unwrap()
            .status(),
        202
    );
    let lyria_body = serde_json::json!({
        "data": base64::engine::general_purpose::STANDARD.encode(sine_pcm(2.0))
    });
    let answer = post("application/json", lyria_body.to_string().into_bytes())
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    assert_eq!(
        post("audio/wav", half_second_pcm).await.unwrap().status(),
        415
    );

    assert_eq!(
        metric(&metrics, "vibes_audio_chunk_bytes_count", &raw).await,
        1.0
    );
    assert_eq!(
        metric(&metrics, "vibes_audio_chunk_bytes_sum", &raw).await,
        96_000.0
    );
    assert_eq!(
        metric(&metrics, "vibes_audio_chunk_bytes_bucket", &half_second).await,
        1.0,
        "half a second of PCM falls in the 0.5 s bucket"
    );
    assert_eq!(
        metric(&metrics, "vibes_audio_chunk_bytes_sum", &lyria).await,
        384_000.0
    );

    let latency = "vibes_http_request_duration_seconds_count";
    assert_eq!(metric(&metrics, latency, &accepted).await, 2.0);
    assert_eq!(metric(&metrics, latency, &refused).await, 1.0);
    let mut slowest_bucket = accepted.to_vec();
    slowest_bucket.push(("le", "+Inf"));
    assert_eq!(
        metric(
            &metrics,
            "vibes_http_request_duration_seconds_bucket",
            &slowest_bucket
        )
        .await,
        2.0,
        "a histogram with buckets, not a summary"
    );
}
