mod srs_api;

use crate::engine::{EngineState, EngineSupervisor};
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use vibes_domain::api::{HealthReport, PartHealth};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/health/ready", web::get().to(ready))
        .route("/engine", web::get().to(engine_status))
        .route("/api/v1/versions", web::get().to(srs_api::versions))
        .route("/api/v1/summaries", web::get().to(srs_api::summaries))
        .route("/api/v1/streams", web::get().to(srs_api::streams))
        .route("/api/v1/clients", web::get().to(srs_api::clients));
}

/// Ready while the engine runs and answers its probes.
async fn ready(supervisor: web::Data<EngineSupervisor>) -> HttpResponse {
    let status = supervisor.status();
    let engine = if status.crash_loop {
        let reason = status.last_failure.unwrap_or_default();
        PartHealth::down(format!("engine in a crash loop; last failure: {reason}"))
    } else if status.state == EngineState::Running {
        PartHealth::up()
    } else {
        let reason = status.last_failure.unwrap_or_default();
        PartHealth::down(
            format!("engine is {:?}; last failure: {reason}", status.state).to_lowercase(),
        )
    };
    let report = HealthReport::from_parts(BTreeMap::from([("engine".to_owned(), engine)]));
    vibes_web::health::report_response(&report)
}

async fn engine_status(supervisor: web::Data<EngineSupervisor>) -> HttpResponse {
    HttpResponse::Ok().json(supervisor.status())
}
