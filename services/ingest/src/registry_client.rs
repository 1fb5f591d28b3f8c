//! Calls to the session-registry: a stream's owner registers it while it is
//! live and removes it when it ends.

use crate::error::IngestError;
use std::time::Duration;
use vibes_domain::api::StreamRegistration;
use vibes_domain::VibeId;

#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base_url: String,
    owner: String,
}

impl RegistryClient {
    pub fn new(base_url: &str, owner: String, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(vibes_web::CLIENT_IDLE_TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            owner,
        })
    }

    fn stream_url(&self, vibe: &VibeId) -> String {
        format!("{}/internal/streams/{vibe}", self.base_url)
    }

    pub async fn register(&self, vibe: &VibeId, creator: Option<&str>) -> Result<(), IngestError> {
        let registration = StreamRegistration {
            creator: creator.map(str::to_owned),
            owner: self.owner.clone(),
        };
        let request = self.http.put(self.stream_url(vibe)).json(&registration);
        let response = with_trace(request).send().await?;
        ensure_success(response).await
    }

    pub async fn end(&self, vibe: &VibeId) -> Result<(), IngestError> {
        let response = with_trace(self.http.delete(self.stream_url(vibe)))
            .send()
            .await?;
        ensure_success(response).await
    }
}

/// Carries the current trace to the registry.
fn with_trace(mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    for (name, value) in vibes_telemetry::trace_headers() {
        request = request.header(name, value);
    }
    request
}

async fn ensure_success(response: reqwest::Response) -> Result<(), IngestError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(IngestError::RegistryRefused {
        status: status.as_u16(),
        body,
    })
}
