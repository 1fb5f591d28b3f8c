use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;
use vibes_config::{ServerSettings, SettingsError};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    pub redis: RedisSettings,
    pub participants: ParticipantSettings,
    pub playback: PlaybackSettings,
    pub engine: EngineSettings,
    pub metrics: MetricsSettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    pub stream_census_interval_ms: u64,
}

impl MetricsSettings {
    pub fn stream_census_interval(&self) -> Duration {
        Duration::from_millis(self.stream_census_interval_ms.max(1))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub participant_ids: vibes_telemetry::ParticipantIds,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub api_url: String,
    pub warden_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    pub timeout_ms: u64,
}

impl RedisSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParticipantSettings {
    pub max_per_stream: u64,
    pub lease_seconds: u64,
}

impl ParticipantSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlaybackSettings {
    pub public_base_url: String,
    pub token_secret: SecretString,
    pub token_ttl_seconds: u64,
    pub edge_relay_key: SecretString,
}

impl PlaybackSettings {
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_seconds)
    }
}

impl Settings {
    /// How often the FLV warden runs: as configured, or a third of the lease.
    pub fn warden_interval(&self) -> Duration {
        match self.engine.warden_interval_ms {
            0 => self.participants.lease() / 3,
            millis => Duration::from_millis(millis),
        }
    }
}

/// The compiled-in defaults (`config/default.toml`).
pub const DEFAULTS: &str = include_str!("../config/default.toml");

pub fn load() -> Result<Settings, SettingsError> {
    vibes_config::load(DEFAULTS)
}
