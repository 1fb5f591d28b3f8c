//! The supervisor as a [`Service`]: it starts supervising the engine when
//! built and stops the engine when the application stops.

use crate::configuration::Settings;
use crate::engine::srs_api::SrsApi;
use crate::engine::EngineSupervisor;
use crate::listeners::LeaseCounts;
use crate::operator::OperatorKey;
use crate::routes;
use actix_web::web;
use std::sync::Arc;
use vibes_domain::api::HealthReport;
use vibes_web::service::BoxError;
use vibes_web::{Service, Startup};

/// The running supervisor: `Application::build(settings)`, then `run_until_stopped()`.
pub type Application = vibes_web::Application<Supervisor>;

pub struct Supervisor {
    /// The engine's supervisor, for tests that watch or stop the engine.
    pub engine: Arc<EngineSupervisor>,
}

impl Service for Supervisor {
    type Settings = Settings;
    async fn build(settings: Settings, startup: &mut Startup) -> Result<Self, BoxError> {
        startup.share(SrsApi::new(
            &settings.engine,
            settings.health.probe_timeout,
        )?);
        startup.share(LeaseCounts::new(&settings.registry)?);
        startup.share(OperatorKey::new(&settings.operator));
        let engine = startup.share(EngineSupervisor::start(settings)?);
        Ok(Self {
            engine: engine.into_inner(),
        })
    }

    fn configure(&self, config: &mut web::ServiceConfig) {
        config.configure(routes::configure);
    }

    async fn readiness(&self) -> HealthReport {
        vibes_web::health::report([("engine", self.engine.status().health())])
    }

    /// Stops the engine (child mode: SIGTERM, then SIGKILL after a grace period).
    async fn stop(&self) {
        self.engine.stop().await;
    }
}
