//! Prometheus metrics: one recorder per process, served as text on
//! `GET /metrics` (the services' internal port), plus request counts and
//! latencies by route pattern and status. Labels are bounded: route patterns,
//! not paths, so stream ids never become label values.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// The process's recorder (installed on first use).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
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
