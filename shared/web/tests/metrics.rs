//! `/metrics` of a service served with `vibes_web::serve`: request latency
//! histograms by route pattern and status, and audio chunk sizes.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use std::net::TcpListener;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::metric;

const SERVICE: &str = "web-metrics-test";

async fn audio(
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let pcm = vibes_web::body::read_audio(&request, payload).await?;
    Ok(HttpResponse::Accepted().body(pcm.len().to_string()))
}

fn spawn_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let service = vibes_web::serve(SERVICE, listener, |config| {
        config.route("/stream/{vibe_id}/audio", web::post().to(audio));
    })
    .unwrap();
    let address = format!("http://127.0.0.1:{}", service.port());
    tokio::spawn(service.run_until_stopped());
    address
}

#[tokio::test]
async fn requests_and_chunks_move_their_histograms() {
    let address = spawn_service();
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
        metric(&address, "vibes_audio_chunk_bytes_count", &raw).await,
        1.0
    );
    assert_eq!(
        metric(&address, "vibes_audio_chunk_bytes_sum", &raw).await,
        96_000.0
    );
    assert_eq!(
        metric(&address, "vibes_audio_chunk_bytes_bucket", &half_second).await,
        1.0,
        "half a second of PCM falls in the 0.5 s bucket"
    );
    assert_eq!(
        metric(&address, "vibes_audio_chunk_bytes_sum", &lyria).await,
        384_000.0
    );

    let latency = "vibes_http_request_duration_seconds_count";
    assert_eq!(metric(&address, latency, &accepted).await, 2.0);
    assert_eq!(metric(&address, latency, &refused).await, 1.0);
    let mut slowest_bucket = accepted.to_vec();
    slowest_bucket.push(("le", "+Inf"));
    assert_eq!(
        metric(
            &address,
            "vibes_http_request_duration_seconds_bucket",
            &slowest_bucket
        )
        .await,
        2.0,
        "a histogram with buckets, not a summary"
    );
}
