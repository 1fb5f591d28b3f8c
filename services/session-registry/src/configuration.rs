use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use vibes_config::duration::{require_nonzero, ZeroDuration};
use vibes_config::secrets::{self, SecretRefused};
use vibes_config::{RedisSettings, ServerSettings};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    pub redis: RedisSettings,
    pub participants: ParticipantSettings,
    pub playback: PlaybackSettings,
    pub engine: EngineSettings,
    pub streams: StreamSettings,
    pub metrics: MetricsSettings,
    pub telemetry: TelemetrySettings,
}

/// The Prometheus listener (`host`, `port`: `/metrics` alone, apart from the
/// API and its `/internal/*` routes) and the census behind some gauges.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    #[serde(flatten)]
    pub listen: ServerSettings,
    #[serde(with = "vibes_config::duration")]
    pub stream_census_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub participant_ids: vibes_telemetry::ParticipantIds,
}

/// When a stream nobody carries any more is ended (the reaper).
#[derive(Debug, Clone, Deserialize)]
pub struct StreamSettings {
    #[serde(with = "vibes_config::duration")]
    pub stale_after: Duration,
    #[serde(with = "vibes_config::duration")]
    pub reap_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub api_url: String,
    /// `0s`: a third of the participants' lease.
    #[serde(with = "vibes_config::duration")]
    pub warden_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParticipantSettings {
    pub max_per_stream: u64,
    #[serde(with = "vibes_config::duration")]
    pub lease: Duration,
    /// How long listeners of a stream whose record Redis lost keep playing
    /// before "not live" is believed: a few of ingest's re-registration
    /// intervals (5 s), which bring the record back.
    #[serde(with = "vibes_config::duration")]
    pub unconfirmed_grace: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlaybackSettings {
    pub public_base_url: String,
    pub token_secret: SecretString,
    #[serde(with = "vibes_config::duration")]
    pub token_ttl: Duration,
    pub edge_relay_key: SecretString,
}

/// Why settings that parsed cannot run.
#[derive(Debug, thiserror::Error)]
pub enum InvalidSettings {
    #[error(transparent)]
    Secret(#[from] SecretRefused),
    #[error(transparent)]
    Zero(#[from] ZeroDuration),
    #[error("participants.max_per_stream must be at least 1")]
    NoSeats,
}

impl Settings {
    /// Checks what the types cannot, before anything starts: the keys (no
    /// placeholder, nothing guessable; an empty edge relay key is allowed:
    /// no edge relays), the intervals and the cap.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let census = self.metrics.stream_census_interval;
        require_nonzero(&[
            ("redis.timeout", self.redis.timeout),
            ("participants.lease", self.participants.lease),
            ("playback.token_ttl", self.playback.token_ttl),
            ("metrics.stream_census_interval", census),
            ("streams.stale_after", self.streams.stale_after),
            ("streams.reap_interval", self.streams.reap_interval),
        ])?;
        if self.participants.max_per_stream == 0 {
            return Err(InvalidSettings::NoSeats);
        }
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
        match self.engine.warden_interval {
            Duration::ZERO => self.participants.lease / 3,
            interval => interval,
        }
    }
}

vibes_web::service_settings!(
    Settings,
    include_str!("../config/default.toml"),
    metrics = metrics.listen
);
