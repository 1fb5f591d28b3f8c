use actix_web::HttpResponse;
use vibes_domain::api::{HealthReport, HealthStatus, PartHealth};

/// Liveness: the process answers. Never checks dependencies, so a Redis outage
/// does not make an orchestrator restart healthy pods.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(PartHealth {
        status: HealthStatus::Up,
        detail: None,
    })
}

/// A report of named parts: up when every part is.
pub fn report<'name>(parts: impl IntoIterator<Item = (&'name str, PartHealth)>) -> HealthReport {
    HealthReport::from_parts(
        parts
            .into_iter()
            .map(|(name, part)| (name.to_owned(), part))
            .collect(),
    )
}

/// Readiness and aggregate health: 200 when every part is up, 503 otherwise,
/// with the per-part detail in the body either way.
pub fn report_response(report: &HealthReport) -> HttpResponse {
    if report.is_up() {
        HttpResponse::Ok().json(report)
    } else {
        HttpResponse::ServiceUnavailable().json(report)
    }
}
