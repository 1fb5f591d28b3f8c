use crate::input::EngineInput;
use crate::streams::Streams;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use std::sync::Arc;
use vibes_domain::api::{HealthReport, PartHealth};

/// Ready while the engine's HTTP server answers (every stream reads from it)
/// and a stream slot is free.
pub async fn ready(
    engine: web::Data<EngineInput>,
    streams: web::Data<Arc<Streams>>,
) -> HttpResponse {
    let engine = match engine.reachable().await {
        Ok(()) => PartHealth::up(),
        Err(reason) => PartHealth::down(reason),
    };
    let max = streams.settings().max_streams;
    let capacity = if streams.count() < max {
        PartHealth::up()
    } else {
        PartHealth::down(format!("all {max} stream slots are taken"))
    };
    let report = HealthReport::from_parts(BTreeMap::from([
        ("engine".to_owned(), engine),
        ("capacity".to_owned(), capacity),
    ]));
    vibes_web::health::report_response(&report)
}
