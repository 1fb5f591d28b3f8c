//! The registry as a [`Service`]: the session store, the playback URLs and
//! tokens, and three background tasks: the FLV warden, the stream census
//! and the stream reaper.

use crate::census::StreamCensus;
use crate::configuration::Settings;
use crate::engine::EngineClients;
use crate::playback::Playback;
use crate::reaper::StreamReaper;
use crate::routes;
use crate::store::SessionStore;
use crate::warden::FlvWarden;
use actix_web::web;
use std::sync::Arc;
use vibes_domain::api::HealthReport;
use vibes_redis::RedisConnector;
use vibes_tokens::{EdgeRelayKey, PlaybackTokens};
use vibes_web::service::BoxError;
use vibes_web::{Service, Startup};

/// The running registry: `Application::build(settings)`, then `run_until_stopped()`.
pub type Application = vibes_web::Application<Registry>;

pub struct Registry {
    store: Arc<SessionStore>,
}

impl Service for Registry {
    type Settings = Settings;
    async fn build(settings: Settings, startup: &mut Startup) -> Result<Self, BoxError> {
        vibes_telemetry::show_participant_ids(settings.telemetry.participant_ids);
        let redis = RedisConnector::new(&settings.redis.url, settings.redis.timeout)?;
        let store = SessionStore::new(redis, &settings.participants, &settings.playback);
        let store = startup.share(store).into_inner();
        let engine = EngineClients::new(&settings.engine.api_url, settings.redis.timeout * 2)?;
        let warden = FlvWarden::new(store.clone(), engine.clone());
        startup.spawn("flv_warden", warden.run(settings.warden_interval()));
        let census = StreamCensus::new(store.clone());
        let census_interval = settings.metrics.stream_census_interval;
        startup.spawn("stream_census", census.run(census_interval));
        let reaper = StreamReaper::new(store.clone(), engine.clone(), settings.streams.stale_after);
        startup.spawn("stream_reaper", reaper.run(settings.streams.reap_interval));
        startup.share(engine);
        let tokens = PlaybackTokens::new(
            settings.playback.token_secret.clone(),
            settings.playback.token_ttl,
        )
        .map_err(|error| format!("playback.token_secret: {error}"))?;
        let relay_key = EdgeRelayKey::new(&settings.playback.edge_relay_key)
            .map_err(|error| format!("playback.edge_relay_key: {error}"))?;
        let playback = Playback::new(&settings.playback.public_base_url, tokens, relay_key);
        startup.share(playback);
        Ok(Self { store })
    }

    fn configure(&self, config: &mut web::ServiceConfig) {
        config.configure(routes::configure);
    }

    async fn readiness(&self) -> HealthReport {
        vibes_web::health::report([("redis", self.store.health().await)])
    }
}
