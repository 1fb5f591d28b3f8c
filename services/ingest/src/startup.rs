use crate::configuration::Settings;
use crate::registry_client::RegistryClient;
use crate::routes;
use crate::streams::LiveStreams;
use actix_web::web;
use std::net::TcpListener;
use std::time::Duration;
use vibes_web::HttpService;

pub struct Application {
    http: HttpService,
    streams: web::Data<LiveStreams>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, Box<dyn std::error::Error>> {
        let listener = settings.server.bind()?;
        Self::build_on(listener, settings).await
    }

    pub async fn build_on(
        listener: TcpListener,
        settings: Settings,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let encoder_check =
            web::Data::new(routes::health::EncoderCheck::run(&settings.encoder).await);
        let target = web::Data::new(routes::health::PublishTarget::from_base_url(
            &settings.encoder.rtmp_base_url,
        )?);
        let registry = RegistryClient::new(
            &settings.registry.url,
            settings.owner_name(),
            Duration::from_millis(settings.registry.timeout_ms),
        )?;
        let streams = web::Data::from(LiveStreams::start(settings, registry));
        let app_streams = streams.clone();
        let http = vibes_web::serve("ingest", listener, move |config| {
            config
                .app_data(app_streams.clone())
                .app_data(encoder_check.clone())
                .app_data(target.clone())
                .configure(routes::configure);
        })?;
        Ok(Self { http, streams })
    }

    pub fn port(&self) -> u16 {
        self.http.port()
    }

    /// The live streams, for tests that inspect or disturb a pipeline.
    pub fn streams(&self) -> web::Data<LiveStreams> {
        self.streams.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.http.run_until_stopped().await
    }
}
