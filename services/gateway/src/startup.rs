use crate::configuration::Settings;
use crate::routes;
use crate::upstream::Upstream;
use actix_web::dev::Server;
use actix_web::web;
use std::net::TcpListener;

/// The internal services the gateway talks to.
#[derive(Clone)]
pub struct Upstreams {
    pub registry: Upstream,
    pub ingest: Upstream,
    pub supervisor: Upstream,
}

pub struct Application {
    port: u16,
    server: Server,
}

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
        let urls = &settings.upstreams;
        // One pooled client for all upstreams: keep-alive connections are reused per host.
        let http = reqwest::Client::builder()
            .connect_timeout(urls.connect_timeout())
            .timeout(urls.request_timeout())
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build()?;
        let upstreams = web::Data::new(Upstreams {
            registry: Upstream::new("registry", &urls.registry_url, http.clone()),
            ingest: Upstream::new("ingest", &urls.ingest_url, http.clone()),
            supervisor: Upstream::new("engine_supervisor", &urls.supervisor_url, http),
        });
        let server = vibes_web::serve(listener, move |config| {
            config
                .app_data(upstreams.clone())
                .configure(routes::configure);
        })?;
        tracing::info!(port, "gateway listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
