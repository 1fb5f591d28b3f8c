use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use session_registry::configuration::{self, Settings};
use session_registry::startup::Registry;
use vibes_domain::ParticipantId;
pub use vibes_testkit::http::expect_problem;

pub struct TestApp {
    pub address: String,
    /// Where the registry's `/metrics` is (its own listener).
    pub metrics_address: String,
    pub http: reqwest::Client,
}

pub const PUBLIC_BASE_URL: &str = "https://edge.test:8443";
pub const TOKEN_SECRET: &str = vibes_testkit::tokens::PLAYBACK_TOKEN_SECRET;

/// The real registry on a free port against the test Redis.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = configuration::load().expect("settings");
    settings.redis.url = vibes_testkit::redis_server::redis_url();
    settings.playback.public_base_url = PUBLIC_BASE_URL.to_owned();
    settings.playback.token_secret = TOKEN_SECRET.to_owned().into();
    // No engine runs here; should one answer on the default port (a local
    // stack), its reaper must not end these tests' streams.
    settings.streams.stale_after = std::time::Duration::from_secs(3600);
    customize(&mut settings);
    let registry = vibes_testkit::service::spawn::<Registry>(settings).await;
    TestApp {
        address: registry.address,
        metrics_address: registry.metrics_address,
        http: reqwest::Client::new(),
    }
}

pub fn unique_vibe() -> String {
    format!("vibe-{}", ParticipantId::generate())
}

impl TestApp {
    pub async fn register(&self, vibe: &str) -> Response {
        self.http
            .put(format!("{}/internal/streams/{vibe}", self.address))
            .json(&json!({ "owner": "ingest-test", "creator": "creator-1" }))
            .send()
            .await
            .unwrap()
    }

    pub async fn join(&self, vibe: &str, participant: Option<&str>) -> Response {
        let body = match participant {
            Some(id) => json!({ "participant_id": id }),
            None => json!({}),
        };
        self.http
            .post(format!("{}/stream/{vibe}/join", self.address))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn leave(&self, vibe: &str, participant: &str) -> Response {
        self.http
            .post(format!("{}/stream/{vibe}/leave", self.address))
            .json(&json!({ "participant_id": participant }))
            .send()
            .await
            .unwrap()
    }

    pub async fn active(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/streams/active", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// What nginx asks before serving `media_path` (FLV, playlist or
    /// segment): the token and the stream it parsed from the path (the
    /// second segment and the third without `.flv`), never the path itself.
    pub async fn playback_auth(&self, media_path: &str) -> Response {
        let mut segments = media_path.trim_start_matches("/live/").split('/');
        let token = segments.next().unwrap_or_default();
        let stream = segments.next().unwrap_or_default();
        self.http
            .get(format!("{}/internal/playback-auth", self.address))
            .header("x-playback-token", token)
            .header("x-playback-stream", stream.trim_end_matches(".flv"))
            .send()
            .await
            .unwrap()
    }

    /// The edge's batched seat re-check of its FLV listeners of `vibe`.
    pub async fn renew_seats(&self, vibe: &str, tokens: &[&str]) -> Response {
        self.http
            .post(format!("{}/internal/playback-seats", self.address))
            .header("x-playback-stream", vibe)
            .header("content-type", "text/plain")
            .body(
                tokens
                    .iter()
                    .map(|token| format!("{token}\n"))
                    .collect::<String>(),
            )
            .send()
            .await
            .unwrap()
    }

    /// Joins and returns the participant id and the FLV path (with its token).
    pub async fn join_for_playback(&self, vibe: &str, participant: &str) -> String {
        let body: Value = self
            .join(vibe, Some(participant))
            .await
            .json()
            .await
            .unwrap();
        let flv = body["playback"]["flv"].as_str().expect("FLV URL");
        flv.strip_prefix(PUBLIC_BASE_URL)
            .expect("under the edge")
            .to_owned()
    }

    /// The stream's participant count in `GET /streams/active`.
    pub async fn participant_count(&self, vibe: &str) -> u64 {
        let active = self.active().await;
        let streams = active["streams"].as_array().expect("streams array");
        let stream = streams
            .iter()
            .find(|stream| stream["vibe_id"] == vibe)
            .expect("stream listed");
        stream["participant_count"].as_u64().expect("a count")
    }

    pub async fn end(&self, vibe: &str) -> Response {
        self.http
            .delete(format!("{}/internal/streams/{vibe}", self.address))
            .send()
            .await
            .unwrap()
    }
}
