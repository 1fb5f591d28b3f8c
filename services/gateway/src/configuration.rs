use serde::Deserialize;
use std::time::Duration;
use vibes_config::{ServerSettings, SettingsError};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    pub upstreams: UpstreamSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamSettings {
    pub registry_url: String,
    pub ingest_url: String,
    pub supervisor_url: String,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
}

impl UpstreamSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

pub fn load() -> Result<Settings, SettingsError> {
    vibes_config::load(include_str!("../config/default.toml"))
}
