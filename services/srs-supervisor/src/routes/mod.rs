mod srs_api;

use crate::engine::EngineSupervisor;
use actix_web::{web, HttpResponse};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/engine", web::get().to(engine_status))
        .route("/api/v1/versions", web::get().to(srs_api::versions))
        .route("/api/v1/summaries", web::get().to(srs_api::summaries))
        .route("/api/v1/streams", web::get().to(srs_api::streams))
        .route("/api/v1/clients", web::get().to(srs_api::clients));
}

async fn engine_status(supervisor: web::Data<EngineSupervisor>) -> HttpResponse {
    HttpResponse::Ok().json(supervisor.status())
}
