mod audio;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/stream/{vibe_id}/audio", web::post().to(audio::accept))
        .route("/stream/{vibe_id}", web::delete().to(audio::end));
}
