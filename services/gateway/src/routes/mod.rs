pub mod health;
pub mod openapi;
pub mod participants;
pub mod streams;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/health", web::get().to(health::aggregate))
        .route("/stream/{vibe_id}/audio", web::post().to(streams::audio))
        .route("/stream/{vibe_id}", web::delete().to(streams::end))
        .route("/stream/{vibe_id}/join", web::post().to(participants::join))
        .route(
            "/stream/{vibe_id}/leave",
            web::post().to(participants::leave),
        )
        .route("/streams/active", web::get().to(streams::active))
        .route(openapi::OPENAPI_PATH, web::get().to(openapi::serve));
}
