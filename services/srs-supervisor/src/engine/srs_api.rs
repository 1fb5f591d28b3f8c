//! SRS's own HTTP API, whose GET answers the stats API passes through.

use crate::configuration::EngineSettings;
use crate::engine::xiu_api::EngineApiError;
use serde_json::Value;
use std::time::Duration;

#[derive(Clone)]
pub struct SrsApi {
    http: reqwest::Client,
    base_url: String,
}

impl SrsApi {
    pub fn new(engine: &EngineSettings, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let base_url = format!("http://{}:{}", engine.host, engine.api_port);
        Ok(Self { http, base_url })
    }

    /// `GET /api/v1/<resource>` as SRS answers it (`code` 0 checked).
    pub async fn get(&self, resource: &str) -> Result<Value, EngineApiError> {
        let url = format!("{}/api/v1/{resource}", self.base_url);
        let answer: Value = self.http.get(url).send().await?.json().await?;
        match answer["code"].as_i64() {
            Some(0) => Ok(answer),
            code => Err(EngineApiError::Refused(format!(
                "SRS answered code {code:?}"
            ))),
        }
    }
}
