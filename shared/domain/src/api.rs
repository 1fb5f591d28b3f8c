//! JSON bodies of the public API (through the edge) and of the internal calls
//! between services. Requests reject unknown fields so typos fail loudly.

use crate::{ParticipantId, VibeId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /stream/{vibeId}/join`. Without an id the registry assigns one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<ParticipantId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JoinResponse {
    pub vibe_id: VibeId,
    pub participant_id: ParticipantId,
    pub participant_count: u64,
    pub max_participants: u64,
    /// Seconds the seat stays reserved without a renewal (re-join or media request).
    pub lease_seconds: u64,
    pub playback: PlaybackUrls,
}

/// Where a listener plays the stream, under the public edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlaybackUrls {
    /// HTTP-FLV: lowest latency.
    pub flv: String,
    /// HLS playlist: 2–6 s latency, plays everywhere.
    pub hls: String,
    /// Low-latency HLS (fMP4 parts, blocking playlist reload): 1–2 s behind
    /// live in an LL-HLS player (hls.js `lowLatencyMode`, iOS's AVPlayer).
    pub ll_hls: String,
}

/// `POST /stream/{vibeId}/leave`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    pub participant_id: ParticipantId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeaveResponse {
    pub vibe_id: VibeId,
    pub participant_id: ParticipantId,
    /// False when the participant held no seat (already left or expired).
    pub left: bool,
    pub participant_count: u64,
}

/// `GET /streams/active`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActiveStreams {
    pub streams: Vec<ActiveStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActiveStream {
    pub vibe_id: VibeId,
    pub creator: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub participant_count: u64,
    pub max_participants: u64,
    pub playback: PlaybackUrls,
}

/// Internal: the ingest pod that publishes a stream registers it with the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRegistration {
    pub creator: Option<String>,
    /// Which ingest instance publishes the stream.
    pub owner: String,
}

/// Internal: one stream's participant cap, overriding the deployment default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxParticipants {
    pub max_participants: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRegistered {
    pub vibe_id: VibeId,
    /// True when the stream was not known before (201); false on a re-registration (200).
    pub fresh: bool,
}

/// `POST /stream/{vibeId}/audio` with `application/json`: a Lyria RealTime
/// server message (`serverContent.audioChunks[].data`, base64 PCM) or a bare
/// `{"data": "<base64>"}`. Other fields are ignored: the shape belongs to a
/// third party and grows new fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LyriaMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_content: Option<LyriaServerContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LyriaServerContent {
    #[serde(default)]
    pub audio_chunks: Vec<LyriaAudioChunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LyriaAudioChunk {
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

impl LyriaMessage {
    /// The base64 payloads in order, with their declared MIME types.
    pub fn chunks(&self) -> Vec<(&str, Option<&str>)> {
        let mut chunks: Vec<(&str, Option<&str>)> = self
            .server_content
            .iter()
            .flat_map(|content| &content.audio_chunks)
            .map(|chunk| (chunk.data.as_str(), chunk.mime_type.as_deref()))
            .collect();
        if let Some(data) = &self.data {
            chunks.push((data.as_str(), None));
        }
        chunks
    }
}

/// `POST /stream/{vibeId}/audio` answered 202: the chunk is queued for the encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AudioAccepted {
    pub vibe_id: VibeId,
    pub accepted_bytes: u64,
    pub accepted_ms: u64,
    /// Chunks waiting for the encoder on this stream, this one included.
    pub queued_chunks: u64,
    /// The chunk's `X-Chunk-Seq`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// True (and status 200) when this chunk was a retry of one already
    /// accepted: the answer repeats the first one and no audio was added.
    #[serde(default)]
    pub duplicate: bool,
}

/// `DELETE /stream/{vibeId}` answered 200.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamEnded {
    pub vibe_id: VibeId,
    /// False when the stream was not live on this ingest instance.
    pub was_live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartHealth {
    pub status: HealthStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl PartHealth {
    pub fn up() -> Self {
        Self {
            status: HealthStatus::Up,
            detail: None,
        }
    }

    pub fn down(detail: impl Into<String>) -> Self {
        Self {
            status: HealthStatus::Down,
            detail: Some(detail.into()),
        }
    }

    pub fn is_up(&self) -> bool {
        self.status == HealthStatus::Up
    }
}

/// Body of `/health/ready` on every service and of the aggregate `/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub parts: BTreeMap<String, PartHealth>,
}

impl HealthReport {
    pub fn from_parts(parts: BTreeMap<String, PartHealth>) -> Self {
        let status = if parts.values().all(PartHealth::is_up) {
            HealthStatus::Up
        } else {
            HealthStatus::Down
        };
        Self { status, parts }
    }

    pub fn is_up(&self) -> bool {
        self.status == HealthStatus::Up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_request_rejects_unknown_fields_and_bad_ids() {
        assert!(serde_json::from_str::<JoinRequest>(r#"{"participant":"x"}"#).is_err());
        assert!(serde_json::from_str::<JoinRequest>(r#"{"participant_id":"a b"}"#).is_err());
        let empty: JoinRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.participant_id, None);
    }

    #[test]
    fn health_is_down_when_any_part_is_down() {
        let mut parts = BTreeMap::new();
        parts.insert("redis".to_owned(), PartHealth::up());
        assert!(HealthReport::from_parts(parts.clone()).is_up());
        parts.insert("engine".to_owned(), PartHealth::down("connection refused"));
        let report = HealthReport::from_parts(parts);
        assert_eq!(report.status, HealthStatus::Down);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["parts"]["engine"]["status"], "down");
        assert_eq!(json["parts"]["engine"]["detail"], "connection refused");
    }
}
