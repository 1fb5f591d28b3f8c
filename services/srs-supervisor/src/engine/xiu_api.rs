//! The parts of xiu's own HTTP API the supervisor maps to SRS's shape.

use crate::configuration::EngineSettings;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EngineApiError {
    #[error("the engine API did not answer: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("the engine API refused: {0}")]
    Refused(String),
}

#[derive(Clone)]
pub struct XiuApi {
    http: reqwest::Client,
    base_url: String,
}

/// `GET /api/query_whole_streams`: `{"error_code":0,"desp":"succ","data":[…]}`.
#[derive(Debug, Deserialize)]
struct WholeStreams {
    error_code: i64,
    #[serde(default)]
    desp: String,
    /// A list of streams, or `{}` when there are none.
    #[serde(default, deserialize_with = "streams_or_none")]
    data: Vec<XiuStream>,
}

fn streams_or_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<XiuStream>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Array(items) => serde_json::from_value(serde_json::Value::Array(items))
            .map_err(serde::de::Error::custom),
        _ => Ok(Vec::new()),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct XiuStream {
    pub publisher: XiuPublisher,
    #[serde(default)]
    pub subscribers: HashMap<String, XiuSubscriber>,
    #[serde(default)]
    pub total_recv_bytes: i64,
    #[serde(default)]
    pub total_send_bytes: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct XiuPublisher {
    pub id: String,
    pub identifier: XiuIdentifier,
    #[serde(default)]
    pub remote_address: String,
    /// RFC 3339.
    #[serde(default)]
    pub start_time: String,
    #[serde(default)]
    pub audio: Option<XiuAudio>,
    #[serde(rename = "recv_bitrate(kbits/s)", default)]
    pub recv_kbps: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct XiuAudio {
    #[serde(default)]
    pub sound_format: String,
    #[serde(default)]
    pub profile: String,
    #[serde(default)]
    pub samplerate: i64,
    #[serde(default)]
    pub channels: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct XiuIdentifier {
    pub rtmp: XiuRtmpName,
}

#[derive(Debug, Clone, Deserialize)]
pub struct XiuRtmpName {
    pub app_name: String,
    pub stream_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct XiuSubscriber {
    pub id: String,
    #[serde(default)]
    pub remote_address: String,
    #[serde(default)]
    pub sub_type: String,
}

impl XiuApi {
    pub fn new(engine: &EngineSettings, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let base_url = format!("http://{}:{}", engine.host, engine.api_port);
        Ok(Self { http, base_url })
    }

    pub async fn streams(&self) -> Result<Vec<XiuStream>, EngineApiError> {
        let url = format!("{}/api/query_whole_streams", self.base_url);
        let answer: WholeStreams = self.http.get(url).send().await?.json().await?;
        if answer.error_code != 0 {
            return Err(EngineApiError::Refused(answer.desp));
        }
        Ok(answer.data)
    }

    /// Closes one publisher's or player's connection.
    pub async fn kick(&self, client_id: &str) -> Result<(), EngineApiError> {
        let url = format!("{}/api/kick_off_client", self.base_url);
        let response = self
            .http
            .post(url)
            .json(&json!({ "uuid": client_id }))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(EngineApiError::Refused(response.status().to_string()));
        }
        Ok(())
    }
}
