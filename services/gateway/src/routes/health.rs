use crate::ingest_router::IngestRouter;
use crate::upstream::Upstreams;
use actix_web::{web, HttpResponse};
use vibes_domain::api::{HealthReport, PartHealth};

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
    vibes_web::health::report_response(&vibes_web::health::report([
        ("gateway", PartHealth::up()),
        ("session_registry", registry),
        ("ingest", ingest),
        ("media_engine", engine),
    ]))
}
