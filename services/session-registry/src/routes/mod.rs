mod health;
mod participants;
mod streams;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/health/ready", web::get().to(health::ready))
        .route("/stream/{vibe_id}/join", web::post().to(participants::join))
        .route(
            "/stream/{vibe_id}/leave",
            web::post().to(participants::leave),
        )
        .route("/streams/active", web::get().to(streams::active))
        .route(
            "/internal/streams/{vibe_id}",
            web::put().to(streams::register),
        )
        .route(
            "/internal/streams/{vibe_id}",
            web::delete().to(streams::end),
        );
}
