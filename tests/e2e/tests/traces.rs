//! One audio chunk and one join through the edge produce traces that cross
//! gateway → ingest → registry and gateway → registry, exported over OTLP/HTTP
//! to a receiver in this test (no collector binary is installable here).

use actix_web::{web, App, HttpServer};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vibes_e2e::Stack;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

type Received = Arc<Mutex<Vec<Value>>>;

/// An OTLP/HTTP receiver that keeps every JSON export request it gets.
fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = web::Data::new(received.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().app_data(store.clone()).route(
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
    let telemetry = vibes_telemetry::init_with_sink("vibes-e2e", "info", std::io::sink);
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));

    let vibe = format!("traced-{}", std::process::id());
    let chunk = stack.edge.request_as(
        Some(&creator_bearer(&vibe)),
        "POST",
        &format!("/stream/{vibe}/audio"),
        Some("application/octet-stream"),
        &sine_pcm(0.5),
    );
    assert_eq!(chunk.status, 202);
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
        "gateway_join",
        "join",
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    let spans = loop {
        telemetry.flush();
        let spans = spans(&received);
        if wanted.iter().all(|name| named(&spans, name).is_some()) {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "spans missing; received {:?}",
            spans.iter().map(|s| &s["name"]).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

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

    // The join: gateway → registry, a trace of its own.
    let gateway_join = named(&spans, "gateway_join").unwrap();
    let registry_join = named(&spans, "join").unwrap();
    assert_eq!(gateway_join["traceId"], registry_join["traceId"]);
    assert_ne!(gateway_join["traceId"], gateway["traceId"]);
    assert_eq!(
        by_id(&spans, &registry_join["parentSpanId"])["parentSpanId"],
        gateway_join["spanId"]
    );
}
