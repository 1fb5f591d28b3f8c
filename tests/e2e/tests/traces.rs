//! One audio chunk and one join through the edge produce traces that cross
//! gateway → ingest → registry (→ Redis) and gateway → registry (→ Redis),
//! exported over OTLP/HTTP to a receiver in this test (no collector binary is
//! installable here); the log lines written meanwhile carry the ids of the
//! exported spans; the stream's ffmpeg process is a trace of its own.

use actix_web::{web, App, HttpServer};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vibes_e2e::Stack;
use vibes_telemetry::LogCapture;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::edge::Reply;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

type Received = Arc<Mutex<Vec<Value>>>;

/// An OTLP/HTTP receiver that keeps every JSON export request it gets.
fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = web::Data::new(received.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        // A batch of 512 spans in JSON passes actix's default 256 KiB body
        // limit (the stack's warden and census add a span per live stream,
        // and the test Redis holds the other tests' streams): a 413 there
        // dropped the batch that carried the chunk's spans.
        App::new()
            .app_data(store.clone())
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .route(
                "/v1/traces",
                web::post().to(|body: web::Bytes, store: web::Data<Received>| async move {
                    if let Ok(export) = serde_json::from_slice::<Value>(&body) {
                        store.lock().unwrap().push(export);
                    }
                    "{}"
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (address, received)
}

/// Every span received so far, flattened out of the OTLP envelopes.
fn spans(received: &Received) -> Vec<Value> {
    let exports = received.lock().unwrap();
    let mut spans = Vec::new();
    for export in exports.iter() {
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    spans
}

fn named<'a>(spans: &'a [Value], name: &str) -> Option<&'a Value> {
    spans.iter().find(|span| span["name"] == name)
}

/// An attribute's value as text, whatever its OTLP type.
fn attribute(span: &Value, key: &str) -> Option<String> {
    let pair = span["attributes"]
        .as_array()?
        .iter()
        .find(|pair| pair["key"] == key)?;
    let value = pair["value"].as_object()?.values().next()?;
    Some(match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

/// The first log line whose message is `message`.
fn log_line<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["fields"]["message"] == message)
        .unwrap_or_else(|| panic!("no log line {message:?}"))
}

/// Waits until spans called `wanted` have all arrived.
async fn spans_named(
    telemetry: &vibes_telemetry::TelemetryGuard,
    received: &Received,
    wanted: &[&str],
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        telemetry.flush();
        let spans = spans(received);
        if wanted.iter().all(|name| named(&spans, name).is_some()) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "spans missing; received {:?}",
            spans.iter().map(|s| &s["name"]).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn by_id<'a>(spans: &'a [Value], id: &Value) -> &'a Value {
    spans
        .iter()
        .find(|span| &span["spanId"] == id)
        .unwrap_or_else(|| panic!("no span {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_and_a_join_are_each_one_trace_across_the_services() {
    let (endpoint, received) = start_receiver();
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    let logs = LogCapture::default();
    let telemetry = vibes_telemetry::init_with_sink("vibes-e2e", "info", logs.clone());
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));

    let vibe = format!("traced-{}", std::process::id());
    let pcm = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pcm.path(), sine_pcm(0.5)).unwrap();
    let mut curl = stack.edge.curl();
    curl.args(["-X", "POST", "-H", "Content-Type: application/octet-stream"])
        .args(["-H", "X-Chunk-Seq: 7", "-H", "Expect:"])
        .args(["-H", &format!("Authorization: {}", creator_bearer(&vibe))])
        .arg("--data-binary")
        .arg(format!("@{}", pcm.path().display()))
        .arg(stack.edge.url(&format!("/stream/{vibe}/audio")));
    let chunk = Reply::from_curl(curl);
    assert_eq!(
        chunk.status,
        202,
        "{}",
        String::from_utf8_lossy(&chunk.body)
    );
    let join = stack.edge.request_as(
        Some(&participant_bearer("traced-listener")),
        "POST",
        &format!("/stream/{vibe}/join"),
        None,
        &[],
    );
    assert_eq!(join.status, 200);

    let wanted = [
        "gateway_audio",
        "accept_audio",
        "register_stream",
        "redis_register_stream",
        "gateway_join",
        "join",
        "redis_seat",
    ];
    let spans = spans_named(&telemetry, &received, &wanted).await;

    // The chunk: gateway → ingest → registry, one trace, linked parent to child.
    let gateway = named(&spans, "gateway_audio").unwrap();
    let ingest = named(&spans, "accept_audio").unwrap();
    let registry = named(&spans, "register_stream").unwrap();
    assert_eq!(gateway["traceId"], ingest["traceId"]);
    assert_eq!(ingest["traceId"], registry["traceId"]);
    let ingest_request = by_id(&spans, &ingest["parentSpanId"]);
    assert_eq!(
        ingest_request["parentSpanId"], gateway["spanId"],
        "ingest's request continues the gateway's span"
    );
    let registry_request = by_id(&spans, &registry["parentSpanId"]);
    assert_eq!(
        by_id(&spans, &registry_request["parentSpanId"])["traceId"],
        ingest["traceId"]
    );
    for audio_span in [gateway, ingest] {
        assert_eq!(attribute(audio_span, "bytes").as_deref(), Some("96000"));
        assert_eq!(attribute(audio_span, "seq").as_deref(), Some("7"));
        assert_eq!(attribute(audio_span, "vibe_id"), Some(vibe.clone()));
    }
    // … and on to Redis: the registration script is a client span of its own.
    let redis_registration = named(&spans, "redis_register_stream").unwrap();
    assert_eq!(redis_registration["parentSpanId"], registry["spanId"]);
    assert_eq!(
        attribute(redis_registration, "outcome").as_deref(),
        Some("fresh")
    );
    assert_eq!(redis_registration["kind"], 3, "SPAN_KIND_CLIENT");

    // Log lines written while handling the chunk name the exported spans.
    let lines = logs.lines();
    let started = log_line(&lines, "stream started");
    assert_eq!(started["trace_id"], ingest["traceId"]);
    assert_eq!(started["span_id"], ingest["spanId"]);

    // The join: gateway → registry, a trace of its own.
    let gateway_join = named(&spans, "gateway_join").unwrap();
    let registry_join = named(&spans, "join").unwrap();
    assert_eq!(gateway_join["traceId"], registry_join["traceId"]);
    assert_ne!(gateway_join["traceId"], gateway["traceId"]);
    assert_eq!(
        by_id(&spans, &registry_join["parentSpanId"])["parentSpanId"],
        gateway_join["spanId"]
    );
    // The participant id is hashed: `printf %s traced-listener | sha256sum | cut -c1-16`.
    assert_eq!(
        attribute(registry_join, "participant_id").as_deref(),
        Some("53470effb2b5f058")
    );
    let seat = named(&spans, "redis_seat").unwrap();
    assert_eq!(seat["parentSpanId"], registry_join["spanId"]);
    assert_eq!(attribute(seat, "outcome").as_deref(), Some("admitted"));

    // Ending the stream ends its ffmpeg: that process is one root span.
    let ended = stack.edge.end_stream(&vibe);
    assert_eq!(ended.status, 200);
    let spans = spans_named(&telemetry, &received, &["encoder"]).await;
    let encoder = named(&spans, "encoder").unwrap();
    assert_eq!(attribute(encoder, "vibe_id"), Some(vibe.clone()));
    assert_eq!(attribute(encoder, "exit").as_deref(), Some("finished"));
    assert!(encoder
        .get("parentSpanId")
        .is_none_or(|parent| parent == ""));
    let lines = logs.lines();
    let encoder_started = log_line(&lines, "encoder started");
    assert_eq!(encoder_started["trace_id"], encoder["traceId"]);
    assert_eq!(encoder_started["span"]["vibe_id"], vibe.as_str());
}
