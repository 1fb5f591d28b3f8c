use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use vibes_config::secrets::{self, SecretRefused};
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

/// The Prometheus listener (`host`, `port`: `/metrics` alone, apart from the
/// API and its `/internal/*` routes) and the census behind some gauges.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    #[serde(flatten)]
    pub listen: ServerSettings,
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
    /// How long listeners of a stream whose record Redis lost keep playing
    /// before "not live" is believed: a few of ingest's re-registration
    /// intervals (5 s), which bring the record back.
    #[serde(with = "vibes_config::duration")]
    pub unconfirmed_grace: Duration,
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
    /// Checks the keys before anything starts: no placeholder, nothing
    /// guessable. An empty edge relay key is allowed (no edge relays).
    pub fn validate(&self) -> Result<(), SecretRefused> {
        let playback = &self.playback;
        secrets::require_strong(
            "playback.token_secret",
            playback.token_secret.expose_secret(),
            secrets::GENERATE_BASE64,
        )?;
        let relay_key = playback.edge_relay_key.expose_secret();
        if !relay_key.is_empty() {
            // Written into the edge's nginx config: hex keeps it to [0-9a-f].
            secrets::require_strong("playback.edge_relay_key", relay_key, secrets::GENERATE_HEX)?;
        }
        Ok(())
    }

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
