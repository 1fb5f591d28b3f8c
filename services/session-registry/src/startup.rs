use crate::census::StreamCensus;
use crate::configuration::Settings;
use crate::engine::EngineClients;
use crate::playback::Playback;
use crate::routes;
use crate::store::SessionStore;
use crate::warden::FlvWarden;
use actix_web::web;
use vibes_redis::RedisConnector;
use vibes_tokens::{EdgeRelayKey, PlaybackTokens};
use vibes_web::HttpService;
/// The API and metrics listeners `build_on` serves on.
pub use vibes_web::Listeners;

pub struct Application;

impl Application {
    /// Checks the settings, then listens where they say.
    pub fn build(settings: Settings) -> Result<HttpService, Box<dyn std::error::Error>> {
        settings.validate()?;
        let listeners = Listeners {
            api: settings.server.bind()?,
            metrics: settings.metrics.listen.bind()?,
        };
        Self::build_on(listeners, settings)
    }

    /// Checks the settings and serves on already bound listeners (port 0 in tests).
    pub fn build_on(
        listeners: Listeners,
        settings: Settings,
    ) -> Result<HttpService, Box<dyn std::error::Error>> {
        settings.validate()?;
        vibes_telemetry::show_participant_ids(settings.telemetry.participant_ids);
        let redis = RedisConnector::new(&settings.redis.url, settings.redis.timeout())?;
        let store = SessionStore::new(redis, &settings.participants, &settings.playback);
        let store = web::Data::new(store);
        let engine = EngineClients::new(&settings.engine.api_url, settings.redis.timeout() * 2)?;
        let warden = FlvWarden::new(store.clone().into_inner(), engine.clone());
        tokio::spawn(warden.run(settings.warden_interval()));
        let census = StreamCensus::new(store.clone().into_inner());
        tokio::spawn(census.run(settings.metrics.stream_census_interval()));
        let engine = web::Data::new(engine);
        let tokens = PlaybackTokens::new(
            settings.playback.token_secret.clone(),
            settings.playback.token_ttl(),
        )
        .map_err(|error| format!("playback.token_secret: {error}"))?;
        let relay_key = EdgeRelayKey::new(&settings.playback.edge_relay_key)
            .map_err(|error| format!("playback.edge_relay_key: {error}"))?;
        let playback = web::Data::new(Playback::new(
            &settings.playback.public_base_url,
            tokens,
            relay_key,
        ));
        let service = vibes_web::serve("session-registry", listeners, move |config| {
            config
                .app_data(store.clone())
                .app_data(playback.clone())
                .app_data(engine.clone())
                .configure(routes::configure);
        })?;
        Ok(service)
    }
}
