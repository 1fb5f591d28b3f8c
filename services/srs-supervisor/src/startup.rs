use crate::configuration::Settings;
use crate::engine::EngineSupervisor;
use crate::routes;
use actix_web::dev::Server;
use actix_web::web;
use std::net::TcpListener;

pub struct Application {
    port: u16,
    server: Server,
    supervisor: web::Data<EngineSupervisor>,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Self, Box<dyn std::error::Error>> {
        let listener = settings.server.bind()?;
        Self::build_on(listener, settings)
    }

    /// Starts supervising the engine and serves the health and status API.
    pub fn build_on(
        listener: TcpListener,
        settings: Settings,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let port = listener.local_addr()?.port();
        let supervisor = web::Data::new(EngineSupervisor::start(settings)?);
        let app_supervisor = supervisor.clone();
        let server = vibes_web::serve(listener, move |config| {
            config
                .app_data(app_supervisor.clone())
                .configure(routes::configure);
        })?;
        tracing::info!(port, "srs-supervisor listening");
        Ok(Self {
            port,
            server,
            supervisor,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn supervisor(&self) -> web::Data<EngineSupervisor> {
        self.supervisor.clone()
    }

    /// Serves until SIGTERM/SIGINT, then stops the engine before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.supervisor.stop().await;
        served
    }
}
