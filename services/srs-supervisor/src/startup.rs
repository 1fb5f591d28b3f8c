use crate::configuration::Settings;
use crate::engine::srs_api::SrsApi;
use crate::engine::EngineSupervisor;
use crate::listeners::LeaseCounts;
use crate::operator::OperatorKey;
use crate::routes;
use actix_web::web;
use vibes_web::HttpService;
/// The API and metrics listeners `build_on` serves on.
pub use vibes_web::Listeners;

pub struct Application {
    http: HttpService,
    supervisor: web::Data<EngineSupervisor>,
}

impl Application {
    /// Checks the settings, then listens where they say.
    pub fn build(settings: Settings) -> Result<Self, Box<dyn std::error::Error>> {
        settings.validate()?;
        let listeners = Listeners {
            api: settings.server.bind()?,
            metrics: settings.metrics.bind()?,
        };
        Self::build_on(listeners, settings)
    }

    /// Starts supervising the engine and serves the health and status API
    /// on already bound listeners (port 0 in tests).
    pub fn build_on(
        listeners: Listeners,
        settings: Settings,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        settings.validate()?;
        let engine_api = web::Data::new(SrsApi::new(
            &settings.engine,
            settings.health.probe_timeout(),
        )?);
        let leases = web::Data::new(LeaseCounts::new(&settings.registry)?);
        let operator = web::Data::new(OperatorKey::new(&settings.operator));
        let supervisor = web::Data::new(EngineSupervisor::start(settings)?);
        let app_supervisor = supervisor.clone();
        let http = vibes_web::serve("srs-supervisor", listeners, move |config| {
            config
                .app_data(app_supervisor.clone())
                .app_data(engine_api.clone())
                .app_data(leases.clone())
                .app_data(operator.clone())
                .configure(routes::configure);
        })?;
        Ok(Self { http, supervisor })
    }

    pub fn port(&self) -> u16 {
        self.http.port()
    }

    /// Where `GET /metrics` is served.
    pub fn metrics_port(&self) -> u16 {
        self.http.metrics_port()
    }

    pub fn supervisor(&self) -> web::Data<EngineSupervisor> {
        self.supervisor.clone()
    }

    /// Serves until SIGTERM/SIGINT, then stops the engine before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.http.run_until_stopped().await;
        self.supervisor.stop().await;
        served
    }
}
