use crate::store::SessionStore;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use vibes_domain::api::{HealthReport, PartHealth};

pub async fn ready(store: web::Data<SessionStore>) -> HttpResponse {
    let redis = match store.ping().await {
        Ok(()) => PartHealth::up(),
        Err(error) => PartHealth::down(error.to_string()),
    };
    let report = HealthReport::from_parts(BTreeMap::from([("redis".to_owned(), redis)]));
    vibes_web::health::report_response(&report)
}
