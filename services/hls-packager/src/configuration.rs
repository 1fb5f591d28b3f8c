use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use vibes_config::secrets::{self, SecretRefused};
use vibes_config::ServerSettings;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    /// `/metrics` alone, on a listener of its own.
    pub metrics: ServerSettings,
    pub engine: EngineSettings,
    pub hls: HlsSettings,
    pub streams: StreamSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub flv_base_url: String,
    pub relay_key: SecretString,
    #[serde(with = "vibes_config::duration")]
    pub connect_timeout: Duration,
    #[serde(with = "vibes_config::duration")]
    pub silence_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HlsSettings {
    #[serde(with = "vibes_config::duration")]
    pub part_duration: Duration,
    #[serde(with = "vibes_config::duration")]
    pub segment_duration: Duration,
    pub window_segments: usize,
    pub part_hold_back_parts: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamSettings {
    #[serde(with = "vibes_config::duration")]
    pub first_segment_wait: Duration,
    #[serde(with = "vibes_config::duration")]
    pub reconnect_for: Duration,
    #[serde(with = "vibes_config::duration")]
    pub idle_stop: Duration,
    #[serde(with = "vibes_config::duration")]
    pub ended_retention: Duration,
    pub max_streams: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsRefused {
    #[error(transparent)]
    Secret(#[from] SecretRefused),
    #[error("{setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: &'static str,
    },
}

impl Settings {
    /// Checks everything before anything starts, naming the setting at fault.
    pub fn validate(&self) -> Result<(), SettingsRefused> {
        // Shown to the engine in a URL: hex keeps it to [0-9a-f].
        secrets::require_strong(
            "engine.relay_key",
            self.engine.relay_key.expose_secret(),
            secrets::GENERATE_HEX,
        )?;
        let invalid = |setting, reason| Err(SettingsRefused::Invalid { setting, reason });
        let hls = &self.hls;
        if hls.part_duration < Duration::from_millis(100)
            || hls.part_duration > Duration::from_secs(2)
        {
            return invalid("hls.part_duration", "must be 100ms to 2s");
        }
        if hls.segment_duration < hls.part_duration
            || hls.segment_duration > Duration::from_secs(10)
        {
            return invalid(
                "hls.segment_duration",
                "must be at least hls.part_duration and at most 10s",
            );
        }
        if hls.window_segments < 3 {
            // RFC 8216bis 6.2.2: a live playlist never gets shorter than three
            // target durations.
            return invalid("hls.window_segments", "must be at least 3");
        }
        if hls.part_hold_back_parts < 3 {
            return invalid(
                "hls.part_hold_back_parts",
                "must be at least 3 (RFC 8216bis: PART-HOLD-BACK is at least 3 part targets)",
            );
        }
        if self.streams.max_streams == 0 {
            return invalid("streams.max_streams", "must be at least 1");
        }
        if self.engine.flv_base_url.is_empty() {
            return invalid("engine.flv_base_url", "must name the engine's HTTP server");
        }
        Ok(())
    }
}

vibes_web::service_settings!(Settings, include_str!("../config/default.toml"));
