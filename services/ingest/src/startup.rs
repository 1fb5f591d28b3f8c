use crate::configuration::Settings;
use crate::ownership::Ownership;
use crate::registry_client::RegistryClient;
use crate::routes;
use crate::streams::LiveStreams;
use actix_web::web;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use vibes_web::HttpService;
/// The API and metrics listeners `build_on` serves on.
pub use vibes_web::Listeners;

pub struct Application {
    http: HttpService,
    streams: web::Data<LiveStreams>,
}

impl Application {
    /// Listens where the settings say.
    pub async fn build(settings: Settings) -> Result<Self, Box<dyn std::error::Error>> {
        let listeners = Listeners {
            api: settings.server.bind()?,
            metrics: settings.metrics.bind()?,
        };
        Self::build_on(listeners, settings).await
    }

    /// Serves on already bound listeners (port 0 in tests).
    pub async fn build_on(
        listeners: Listeners,
        settings: Settings,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let encoder_check =
            web::Data::new(routes::health::EncoderCheck::run(&settings.encoder).await);
        let target = web::Data::new(routes::health::PublishTarget::from_base_url(
            &settings.encoder.rtmp_base_url,
        )?);
        let pod_id = pod_id(&settings.owner_name());
        let url = advertised_url(&settings, listeners.api.local_addr()?.port());
        let ownership = Arc::new(Ownership::new(
            settings.ownership.clone(),
            pod_id.clone(),
            url,
        )?);
        let registry = RegistryClient::new(
            &settings.registry.url,
            pod_id,
            Duration::from_millis(settings.registry.timeout_ms),
        )?;
        let streams = web::Data::from(LiveStreams::start(settings, registry, ownership));
        let app_streams = streams.clone();
        let http = vibes_web::serve("ingest", listeners, move |config| {
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

    /// Where `GET /metrics` is served.
    pub fn metrics_port(&self) -> u16 {
        self.http.metrics_port()
    }

    /// The live streams, for tests that inspect or disturb a pipeline.
    pub fn streams(&self) -> web::Data<LiveStreams> {
        self.streams.clone()
    }

    /// Serves until SIGTERM/SIGINT, then hands every stream over before
    /// returning, so a rolling update loses no accepted audio.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.http.run_until_stopped().await;
        self.streams.hand_over().await;
        served
    }
}

/// Unique per process: a restarted pod under the same name must not pass for
/// its previous life, whose leases it does not hold.
fn pod_id(name: &str) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{name}#{}", &nonce[..8])
}

/// How gateways reach this pod: the configured address, else the bound one
/// (the host name when bound to every interface).
fn advertised_url(settings: &Settings, port: u16) -> String {
    let configured = settings.ownership.advertise_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = &settings.server.host;
    let unspecified = host
        .parse::<IpAddr>()
        .is_ok_and(|address| address.is_unspecified());
    if unspecified {
        format!("http://{}:{port}", settings.owner_name())
    } else {
        format!("http://{host}:{port}")
    }
}
