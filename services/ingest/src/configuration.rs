use crate::publish_target::PublishTarget;
use serde::Deserialize;
use std::time::Duration;
use vibes_config::duration::{require_nonzero, ZeroDuration};
use vibes_config::ServerSettings;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub instance_id: String,
    pub server: ServerSettings,
    /// The Prometheus `/metrics` listener, apart from the API.
    pub metrics: ServerSettings,
    pub registry: RegistrySettings,
    pub encoder: EncoderSettings,
    pub buffer: BufferSettings,
    pub stream: StreamSettings,
    pub ownership: OwnershipSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OwnershipSettings {
    pub redis_url: String,
    #[serde(with = "vibes_config::duration")]
    pub redis_timeout: Duration,
    pub pool: String,
    pub advertise_url: String,
    #[serde(with = "vibes_config::duration")]
    pub lease: Duration,
    #[serde(with = "vibes_config::duration")]
    pub heartbeat_interval: Duration,
    #[serde(with = "vibes_config::duration")]
    pub heartbeat_ttl: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamSettings {
    #[serde(with = "vibes_config::duration")]
    pub idle_end: Duration,
}

/// Why settings that parsed cannot run.
#[derive(Debug, thiserror::Error)]
pub enum InvalidSettings {
    #[error(transparent)]
    Zero(#[from] ZeroDuration),
    #[error("ownership.heartbeat_ttl must be longer than ownership.heartbeat_interval, or the pod drops out of the pool between heartbeats")]
    HeartbeatTtl,
    #[error("buffer.max_queued_chunks must be at least 1")]
    NoChunks,
    #[error("encoder.restart_backoff must name at least one wait")]
    NoBackoff,
    #[error("encoder.rtmp_base_url {url:?} is neither rtmp://host[:port]/app nor file:/folder: {reason}")]
    PublishTarget { url: String, reason: String },
}

impl Settings {
    /// Checks what the types cannot, before anything starts.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let (buffer, ownership) = (&self.buffer, &self.ownership);
        require_nonzero(&[
            ("registry.timeout", self.registry.timeout),
            ("buffer.max_queued", buffer.max_queued),
            ("buffer.max_added_latency", buffer.max_added_latency),
            ("stream.idle_end", self.stream.idle_end),
            ("ownership.redis_timeout", ownership.redis_timeout),
            ("ownership.lease", ownership.lease),
            ("ownership.heartbeat_interval", ownership.heartbeat_interval),
        ])?;
        if self.ownership.heartbeat_ttl <= self.ownership.heartbeat_interval {
            return Err(InvalidSettings::HeartbeatTtl);
        }
        if self.buffer.max_queued_chunks == 0 {
            return Err(InvalidSettings::NoChunks);
        }
        if self.encoder.restart_backoff.is_empty() {
            return Err(InvalidSettings::NoBackoff);
        }
        if let Err(error) = PublishTarget::from_base_url(&self.encoder.rtmp_base_url) {
            return Err(InvalidSettings::PublishTarget {
                url: self.encoder.rtmp_base_url.clone(),
                reason: error.to_string(),
            });
        }
        Ok(())
    }

    /// This instance's name as a stream owner.
    pub fn owner_name(&self) -> String {
        if !self.instance_id.is_empty() {
            return self.instance_id.clone();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|name| !name.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|name| name.trim().to_owned())
            })
            .unwrap_or_else(|| "ingest".to_owned())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegistrySettings {
    pub url: String,
    #[serde(with = "vibes_config::duration")]
    pub timeout: Duration,
    #[serde(with = "vibes_config::duration")]
    pub reregister_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncoderSettings {
    pub ffmpeg: String,
    pub rtmp_base_url: String,
    pub aac_bitrate: String,
    #[serde(with = "vibes_config::duration::list")]
    pub restart_backoff: Vec<Duration>,
}

impl EncoderSettings {
    /// How long to wait before restart number `attempt` (0-based): the
    /// waits grow from the first step to the last, which then repeats.
    pub fn wait_before_restart(&self, attempt: usize) -> Duration {
        let steps = &self.restart_backoff;
        steps
            .get(attempt)
            .or(steps.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BufferSettings {
    pub max_queued_chunks: usize,
    #[serde(with = "vibes_config::duration")]
    pub max_queued: Duration,
    #[serde(with = "vibes_config::duration")]
    pub max_added_latency: Duration,
}

vibes_web::service_settings!(Settings, include_str!("../config/default.toml"));
