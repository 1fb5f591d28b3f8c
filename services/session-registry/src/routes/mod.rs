mod engine_hooks;
mod participants;
mod playback_auth;
mod playback_seats;
mod streams;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
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
        )
        .route(
            "/internal/streams/{vibe_id}/max-participants",
            web::put().to(streams::set_cap),
        )
        .route(
            "/internal/playback-auth",
            web::get().to(playback_auth::authorize),
        )
        .route(
            "/internal/playback-seats",
            web::post().to(playback_seats::renew),
        )
        .route(
            "/internal/engine-hooks/srs",
            web::post().to(engine_hooks::srs),
        );
}
