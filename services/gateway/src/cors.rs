//! CORS for the web player and the creator page: configured origins only,
//! the headers the API reads, and the rate-limit headers exposed to scripts.

use crate::configuration::CorsSettings;
use actix_cors::Cors;
use actix_web::http::{header, Method};

pub fn policy(settings: &CorsSettings) -> Cors {
    let cors = settings
        .origins()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods([Method::GET, Method::POST, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-chunk-seq"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(600)
}
