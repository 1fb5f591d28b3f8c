//! Prometheus metrics: one recorder per process, served as text on
//! `GET /metrics` (the services' internal port), plus request counts and
//! latencies by route pattern and status, and the size of audio chunks.
//! Labels are bounded: route patterns, not paths, so stream ids never become
//! label values. Histograms are real Prometheus histograms (buckets), so
//! instances can be aggregated and quantiles taken over any window.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use vibes_domain::audio::BYTES_PER_SECOND;

/// Latency buckets (s) for every `*_seconds` histogram: 1 ms to 10 s.
const SECONDS_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Audio chunk sizes in seconds of PCM (0.1 s … 4 s, and the 1 MiB limit),
/// turned into byte buckets below.
const CHUNK_SECONDS_BUCKETS: [f64; 8] = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes, so memory stays flat without a Prometheus.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The name the serving service gives itself; request handlers find it in
/// the app data.
#[derive(Debug, Clone, Copy)]
pub struct ServiceName(pub &'static str);

/// The process's recorder (installed on first use).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(CHUNK_BYTES.to_owned()),
                    &chunk_byte_buckets(),
                )
            })
            .expect("bucket lists are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            })
            .expect("the metrics upkeep thread starts");
        handle
    })
}

/// Bytes of PCM in each audio chunk a service accepted.
pub const CHUNK_BYTES: &str = "vibes_audio_chunk_bytes";

fn chunk_byte_buckets() -> Vec<f64> {
    let mut buckets: Vec<f64> = CHUNK_SECONDS_BUCKETS
        .iter()
        .map(|seconds| seconds * BYTES_PER_SECOND as f64)
        .collect();
    buckets.push(vibes_domain::audio::MAX_RAW_BODY_BYTES as f64);
    buckets
}

/// Counts an accepted chunk of `bytes` PCM under the serving service and the
/// body's encoding (`raw` or `lyria`).
pub fn record_chunk(request: &HttpRequest, encoding: &'static str, bytes: usize) {
    let service = request
        .app_data::<ServiceName>()
        .map_or("unknown", |name| name.0);
    metrics::histogram!(CHUNK_BYTES, "service" => service, "encoding" => encoding)
        .record(bytes as f64);
}

pub async fn scrape() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle().render())
}

/// Counts and times every request under its route pattern.
pub async fn track_requests(
    service: &'static str,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.call(request).await?;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("service", service.to_owned()),
        ("route", route),
        ("method", method),
        ("status", status),
    ];
    metrics::counter!("vibes_http_requests_total", &labels).increment(1);
    metrics::histogram!("vibes_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}
