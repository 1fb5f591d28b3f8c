use crate::configuration::Settings;
use crate::routes;
use crate::store::SessionStore;
use actix_web::dev::Server;
use actix_web::web;
use std::net::TcpListener;
use vibes_redis::RedisConnector;

pub struct Application {
    port: u16,
    server: Server,
}

/// Settings the handlers read.
pub struct PlaybackBase(pub String);

impl Application {
    pub fn build(settings: Settings) -> Result<Self, Box<dyn std::error::Error>> {
        let listener = settings.server.bind()?;
        Self::build_on(listener, settings)
    }

    pub fn build_on(
        listener: TcpListener,
        settings: Settings,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let port = listener.local_addr()?.port();
        let redis = RedisConnector::new(&settings.redis.url, settings.redis.timeout())?;
        let store = web::Data::new(SessionStore::new(redis, &settings.participants));
        let playback = web::Data::new(PlaybackBase(settings.playback.public_base_url.clone()));
        let server = vibes_web::serve(listener, move |config| {
            config
                .app_data(store.clone())
                .app_data(playback.clone())
                .configure(routes::configure);
        })?;
        tracing::info!(port, "session-registry listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
