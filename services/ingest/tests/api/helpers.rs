use ingest::configuration::{self, Settings};
use ingest::startup::Ingest;
use ingest::streams::LiveStreams;
use reqwest::Response;
use session_registry::startup::Registry;
use std::sync::Arc;
use tempfile::TempDir;
use vibes_domain::{ParticipantId, VibeId};
use vibes_testkit::service::spawn;

pub struct TestApp {
    pub address: String,
    /// Where ingest's `/metrics` is (its own listener).
    pub metrics_address: String,
    pub http: reqwest::Client,
    pub streams: Arc<LiveStreams>,
    /// Where encoders write: each stream's FLV lands in a file named by its vibe id.
    pub output_dir: TempDir,
    pub registry_url: String,
}

/// Ingest with a real registry (on the test Redis) and real ffmpeg. Instead of
/// RTMP, encoders write FLV files: the same muxer, without needing an engine.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let registry_url = spawn_registry().await;
    let output_dir = tempfile::tempdir().unwrap();
    let mut settings = configuration::load().expect("settings");
    settings.instance_id = "ingest-test".to_owned();
    settings.registry.url = registry_url.clone();
    settings.encoder.rtmp_base_url = format!("file:{}", output_dir.path().display());
    settings.ownership.redis_url = vibes_testkit::redis_server::redis_url();
    settings.ownership.pool = format!("ingest-tests-{}", ParticipantId::generate());
    customize(&mut settings);
    let ingest = spawn::<Ingest>(settings).await;
    TestApp {
        address: ingest.address,
        metrics_address: ingest.metrics_address,
        http: reqwest::Client::new(),
        streams: ingest.service.streams.clone(),
        output_dir,
        registry_url,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

async fn spawn_registry() -> String {
    let mut settings = session_registry::configuration::load().expect("registry settings");
    settings.redis.url = vibes_testkit::redis_server::redis_url();
    settings.playback.token_secret = vibes_testkit::tokens::PLAYBACK_TOKEN_SECRET
        .to_owned()
        .into();
    spawn::<Registry>(settings).await.address
}

pub fn unique_vibe() -> VibeId {
    VibeId::parse(&format!("ingest-{}", ParticipantId::generate())).unwrap()
}

impl TestApp {
    pub async fn post_audio(&self, vibe: &str, content_type: &str, body: Vec<u8>) -> Response {
        self.http
            .post(format!("{}/stream/{vibe}/audio", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Whether the registry lists `vibe` as live.
    pub async fn registry_lists(&self, vibe: &str) -> bool {
        let active: serde_json::Value = self
            .http
            .get(format!("{}/streams/active", self.registry_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        active["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|stream| stream["vibe_id"] == vibe)
    }

    pub async fn end(&self, vibe: &str) -> Response {
        self.http
            .delete(format!("{}/stream/{vibe}", self.address))
            .send()
            .await
            .unwrap()
    }
}
