//! Listener counts from the session registry's leases. The engine sees only
//! connected players (FLV); an HLS viewer is a series of file requests it
//! cannot tell apart, but every listener holds a lease, renewed by each
//! authorized media request.

use crate::configuration::RegistrySettings;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
struct ActiveStreams {
    streams: Vec<ActiveStream>,
}

#[derive(Deserialize)]
struct ActiveStream {
    vibe_id: String,
    participant_count: u64,
}

#[derive(Clone)]
pub struct LeaseCounts {
    http: reqwest::Client,
    url: Option<String>,
}

impl LeaseCounts {
    pub fn new(registry: &RegistrySettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(registry.timeout)
            .build()?;
        let url = (!registry.url.is_empty())
            .then(|| format!("{}/streams/active", registry.url.trim_end_matches('/')));
        Ok(Self { http, url })
    }

    /// Listeners holding a lease, per live stream; `None` when the registry
    /// is not configured or does not answer (the engine's counts stand then).
    pub async fn per_stream(&self) -> Option<HashMap<String, u64>> {
        let url = self.url.as_ref()?;
        let answer = async {
            let response = self.http.get(url).send().await?.error_for_status()?;
            response.json::<ActiveStreams>().await
        };
        match answer.await {
            Ok(active) => Some(
                active
                    .streams
                    .into_iter()
                    .map(|stream| (stream.vibe_id, stream.participant_count))
                    .collect(),
            ),
            Err(error) => {
                tracing::warn!(%error, "registry leases unavailable; listener counts from the engine");
                None
            }
        }
    }
}
