use crate::configuration::Settings;
use crate::input::EngineInput;
use crate::routes;
use crate::streams::Streams;
use actix_web::web;
use std::sync::Arc;
use vibes_web::HttpService;
/// The API and metrics listeners `build_on` serves on.
pub use vibes_web::Listeners;

pub struct Application {
    http: HttpService,
    streams: Arc<Streams>,
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

    /// Checks the settings and serves on already bound listeners (port 0 in
    /// tests). Call from within a tokio runtime.
    pub fn build_on(
        listeners: Listeners,
        settings: Settings,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        settings.validate()?;
        let engine = EngineInput::new(&settings.engine)?;
        let streams = Streams::new(
            engine.clone(),
            settings.hls.clone(),
            settings.streams.clone(),
        );
        let app_streams = web::Data::new(streams.clone());
        let engine = web::Data::new(engine);
        let http = vibes_web::serve("hls-packager", listeners, move |config| {
            config
                .app_data(app_streams.clone())
                .app_data(engine.clone())
                .configure(routes::configure);
        })?;
        Ok(Self { http, streams })
    }

    pub fn port(&self) -> u16 {
        self.http.port()
    }

    /// Where `GET /metrics` is served.
    pub fn metrics_port(&self) -> u16 {
        self.http.metrics_port()
    }

    /// Stops serving (as SIGTERM would): a lost replica, in tests.
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.http.stop_handle()
    }

    /// The streams being packaged (tests look at them).
    pub fn streams(&self) -> Arc<Streams> {
        self.streams.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.http.run_until_stopped().await
    }
}
