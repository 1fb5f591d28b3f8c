//! The packager as a [`Service`]: the streams it packages and the engine it
//! reads them from.

use crate::configuration::Settings;
use crate::input::EngineInput;
use crate::routes;
use crate::streams::Streams;
use actix_web::web;
use std::sync::Arc;
use vibes_domain::api::HealthReport;
use vibes_web::service::BoxError;
use vibes_web::{Service, Startup};

/// The running packager: `Application::build(settings)`, then `run_until_stopped()`.
pub type Application = vibes_web::Application<Packager>;

pub struct Packager {
    /// The streams being packaged (tests look at them).
    pub streams: Arc<Streams>,
    engine: EngineInput,
}

impl Service for Packager {
    type Settings = Settings;
    async fn build(settings: Settings, startup: &mut Startup) -> Result<Self, BoxError> {
        let engine = EngineInput::new(&settings.engine)?;
        let streams = Streams::start(engine.clone(), settings.hls, settings.streams, startup);
        startup.share(streams.clone());
        startup.share(engine.clone());
        Ok(Self { streams, engine })
    }

    fn configure(&self, config: &mut web::ServiceConfig) {
        config.configure(routes::configure);
    }

    /// Ready while the engine's HTTP server answers and a stream slot is free.
    async fn readiness(&self) -> HealthReport {
        vibes_web::health::report([
            ("engine", self.engine.health().await),
            ("capacity", self.streams.capacity_health()),
        ])
    }
}
