//! Ingest as a [`Service`]: this pod's streams, its place in the ingest
//! pool, and on shutdown the hand-over of every stream, so a rolling update
//! loses no accepted audio.

use crate::configuration::Settings;
use crate::encoder::EncoderCheck;
use crate::ownership::Ownership;
use crate::publish_target::PublishTarget;
use crate::registry_client::RegistryClient;
use crate::routes;
use crate::streams::LiveStreams;
use actix_web::web;
use std::net::IpAddr;
use std::sync::Arc;
use vibes_domain::api::HealthReport;
use vibes_web::service::BoxError;
use vibes_web::{Service, Startup};

/// The running ingest pod: `Application::build(settings)`, then `run_until_stopped()`.
pub type Application = vibes_web::Application<Ingest>;

pub struct Ingest {
    /// The live streams, for tests that inspect or disturb a pipeline.
    pub streams: Arc<LiveStreams>,
    encoder: EncoderCheck,
    target: PublishTarget,
}

impl Service for Ingest {
    type Settings = Settings;
    async fn build(settings: Settings, startup: &mut Startup) -> Result<Self, BoxError> {
        let encoder = EncoderCheck::run(&settings.encoder).await;
        let target = PublishTarget::from_base_url(&settings.encoder.rtmp_base_url)?;
        let pod_id = pod_id(&settings.owner_name());
        let url = advertised_url(&settings, startup.api_port());
        let ownership = Arc::new(Ownership::new(
            settings.ownership.clone(),
            pod_id.clone(),
            url,
        )?);
        let registry =
            RegistryClient::new(&settings.registry.url, pod_id, settings.registry.timeout)?;
        let streams = LiveStreams::start(settings, registry, ownership, startup);
        startup.share_arc(streams.clone());
        Ok(Self {
            streams,
            encoder,
            target,
        })
    }

    fn configure(&self, config: &mut web::ServiceConfig) {
        config.configure(routes::configure);
    }

    async fn readiness(&self) -> HealthReport {
        vibes_web::health::report([
            ("ffmpeg", self.encoder.health()),
            ("publish_target", self.target.probe().await),
            ("ingest_pool", self.streams.pool_health()),
            ("streams", self.streams.count_health()),
        ])
    }

    /// Hands every stream over before the background tasks (the pool
    /// heartbeat among them) stop.
    async fn stop(&self) {
        self.streams.hand_over().await;
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
