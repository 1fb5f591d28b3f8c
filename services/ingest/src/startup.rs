use crate::configuration::Settings;
use crate::registry_client::RegistryClient;
use crate::routes;
use crate::streams::LiveStreams;
use actix_web::dev::Server;
use actix_web::web;
use std::net::TcpListener;
use std::time::Duration;

pub struct Application {
    port: u16,
    server: Server,
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
        let port = listener.local_addr()?.port();
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
        let streams = web::Data::new(LiveStreams::new(settings, registry));
        let app_streams = streams.clone();
        let server = vibes_web::serve(listener, move |config| {
            config
                .app_data(app_streams.clone())
                .app_data(encoder_check.clone())
                .app_data(target.clone())
                .configure(routes::configure);
        })?;
        tracing::info!(port, "ingest listening");
        Ok(Self {
            port,
            server,
            streams,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The live streams, for tests that inspect or disturb a pipeline.
    pub fn streams(&self) -> web::Data<LiveStreams> {
        self.streams.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
