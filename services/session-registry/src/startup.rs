use crate::configuration::Settings;
use crate::routes;
use crate::store::SessionStore;
use actix_web::web;
use std::net::TcpListener;
use vibes_redis::RedisConnector;
use vibes_web::HttpService;

/// Base of the playback URLs handed to listeners.
pub struct PlaybackBase(pub String);

pub struct Application;

impl Application {
    pub fn build(settings: Settings) -> Result<HttpService, Box<dyn std::error::Error>> {
        let listener = settings.server.bind()?;
        Self::build_on(listener, settings)
    }

    pub fn build_on(
        listener: TcpListener,
        settings: Settings,
    ) -> Result<HttpService, Box<dyn std::error::Error>> {
        let redis = RedisConnector::new(&settings.redis.url, settings.redis.timeout())?;
        let store = web::Data::new(SessionStore::new(redis, &settings.participants));
        let playback = web::Data::new(PlaybackBase(settings.playback.public_base_url.clone()));
        let service = vibes_web::serve("session-registry", listener, move |config| {
            config
                .app_data(store.clone())
                .app_data(playback.clone())
                .configure(routes::configure);
        })?;
        Ok(service)
    }
}
