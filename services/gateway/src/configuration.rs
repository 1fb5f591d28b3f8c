use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;
use vibes_config::{ServerSettings, SettingsError};
use vibes_tokens::SigningKey;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    pub upstreams: UpstreamSettings,
    pub auth: AuthSettings,
    pub redis: RedisSettings,
    pub rate_limits: RateLimitSettings,
    pub cors: CorsSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CorsSettings {
    pub allowed_origins: String,
}

impl CorsSettings {
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub audio: Budget,
    pub membership: Budget,
    pub reads: Budget,
}

/// At most `per_second` requests on average, `burst` at once.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Budget {
    pub per_second: f64,
    pub burst: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub kid: String,
    pub secret: SecretString,
    pub previous_kid: String,
    pub previous_secret: SecretString,
    pub anonymous_join: bool,
}

impl AuthSettings {
    /// The signing keys, current first.
    pub fn keys(&self) -> Vec<SigningKey> {
        let mut keys = vec![SigningKey {
            kid: self.kid.clone(),
            secret: self.secret.clone(),
        }];
        if !self.previous_kid.is_empty() {
            keys.push(SigningKey {
                kid: self.previous_kid.clone(),
                secret: self.previous_secret.clone(),
            });
        }
        keys
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamSettings {
    pub registry_url: String,
    /// The ingest pods' pool in Redis (`[redis]`), where each stream's owner is found.
    pub ingest_pool: String,
    pub supervisor_url: String,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub ingest_timeout_ms: u64,
}

impl UpstreamSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn ingest_timeout(&self) -> Duration {
        Duration::from_millis(self.ingest_timeout_ms)
    }
}

/// The compiled-in defaults (`config/default.toml`).
pub const DEFAULTS: &str = include_str!("../config/default.toml");

pub fn load() -> Result<Settings, SettingsError> {
    vibes_config::load(DEFAULTS)
}
