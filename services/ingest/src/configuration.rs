use serde::Deserialize;
use std::time::Duration;
use vibes_config::{ServerSettings, SettingsError};

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
    pub redis_timeout_ms: u64,
    pub pool: String,
    pub advertise_url: String,
    pub lease_ms: u64,
    pub heartbeat_interval_ms: u64,
    pub heartbeat_ttl_ms: u64,
}

impl OwnershipSettings {
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub fn heartbeat_ttl(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ttl_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamSettings {
    pub idle_end_seconds: u64,
}

impl Settings {
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
    pub timeout_ms: u64,
    pub reregister_interval_ms: u64,
}

impl RegistrySettings {
    pub fn reregister_interval(&self) -> Duration {
        Duration::from_millis(self.reregister_interval_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncoderSettings {
    pub ffmpeg: String,
    pub rtmp_base_url: String,
    pub aac_bitrate: String,
    pub restart_backoff_ms: Vec<u64>,
}

impl EncoderSettings {
    /// How long to wait before restart number `attempt` (0-based).
    pub fn restart_backoff(&self, attempt: usize) -> Duration {
        let steps = &self.restart_backoff_ms;
        let millis = steps.get(attempt).or(steps.last()).copied().unwrap_or(1000);
        Duration::from_millis(millis)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BufferSettings {
    pub max_queued_chunks: usize,
    pub max_queued_ms: u64,
    pub max_added_latency_ms: u64,
}

/// The compiled-in defaults (`config/default.toml`).
pub const DEFAULTS: &str = include_str!("../config/default.toml");

pub fn load() -> Result<Settings, SettingsError> {
    vibes_config::load(DEFAULTS)
}
