use crate::ingest_router::IngestRouter;
use crate::upstream::Upstreams;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use vibes_domain::api::{HealthReport, PartHealth};

/// The gateway itself needs nothing but its own process to forward requests.
pub async fn ready() -> HttpResponse {
    let parts = BTreeMap::from([("gateway".to_owned(), PartHealth::up())]);
    vibes_web::health::report_response(&HealthReport::from_parts(parts))
}

/// `GET /health`: every part of the stack, asked at once.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Every part is up", body = HealthReport),
        (status = 503, description = "Some part is down; each says why", body = HealthReport),
    ),
)]
pub async fn aggregate(
    upstreams: web::Data<Upstreams>,
    ingest: web::Data<IngestRouter>,
) -> HttpResponse {
    let (registry, ingest, engine) = tokio::join!(
        upstreams.registry.readiness(),
        ingest.readiness(),
        upstreams.supervisor.readiness(),
    );
    let parts = BTreeMap::from([
        ("gateway".to_owned(), PartHealth::up()),
        ("session_registry".to_owned(), registry),
        ("ingest".to_owned(), ingest),
        ("media_engine".to_owned(), engine),
    ]);
    vibes_web::health::report_response(&HealthReport::from_parts(parts))
}
