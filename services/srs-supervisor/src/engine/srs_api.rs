//! SRS's own HTTP API, whose GET answers the stats API passes through.

use crate::configuration::EngineSettings;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EngineApiError {
    #[error("the engine API did not answer")]
    Unreachable(#[from] reqwest::Error),
    #[error("the engine API refused: {0}")]
    Refused(String),
}

#[derive(Clone)]
pub struct SrsApi {
    http: reqwest::Client,
    base_url: String,
    /// SRS lists 10 streams or clients unless asked for more: ask for as
    /// many as it can hold, so a listing is whole.
    list_count: u32,
}

impl SrsApi {
    pub fn new(engine: &EngineSettings, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let base_url = format!("http://{}:{}", engine.host, engine.api_port);
        Ok(Self {
            http,
            base_url,
            list_count: engine.capacity.max_connections(),
        })
    }

    /// `GET /api/v1/<resource>` as SRS answers it (`code` 0 checked).
    pub async fn get(&self, resource: &str) -> Result<Value, EngineApiError> {
        self.fetch(format!("{}/api/v1/{resource}", self.base_url))
            .await
    }

    /// `GET /api/v1/<resource>/` (`streams`, `clients`): every item, not
    /// SRS's first page of 10. The trailing slash is where SRS serves lists.
    pub async fn list(&self, resource: &str) -> Result<Value, EngineApiError> {
        self.fetch(format!(
            "{}/api/v1/{resource}/?start=0&count={}",
            self.base_url, self.list_count
        ))
        .await
    }

    async fn fetch(&self, url: String) -> Result<Value, EngineApiError> {
        let answer: Value = self.http.get(url).send().await?.json().await?;
        match answer["code"].as_i64() {
            Some(0) => Ok(answer),
            code => Err(EngineApiError::Refused(format!(
                "SRS answered code {code:?}"
            ))),
        }
    }
}
