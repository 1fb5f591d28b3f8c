mod media;

use actix_web::{guard, web};

pub fn configure(config: &mut web::ServiceConfig) {
    config.route(
        "/live/{vibe_id}/{file}",
        web::route()
            .guard(guard::Any(guard::Get()).or(guard::Head()))
            .to(media::serve),
    );
}
