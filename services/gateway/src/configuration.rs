use crate::client_address::TrustedProxies;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use vibes_config::secrets::{self, SecretRefused};
use vibes_config::{RedisSettings, ServerSettings};
use vibes_tokens::{SigningKey, TokenRules};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    /// The Prometheus `/metrics` listener, apart from the API.
    pub metrics: ServerSettings,
    pub upstreams: UpstreamSettings,
    pub auth: AuthSettings,
    pub trust: TrustSettings,
    pub redis: RedisSettings,
    pub rate_limits: RateLimitSettings,
    pub cors: CorsSettings,
}

/// Whom the gateway believes about a client's address.
#[derive(Debug, Clone, Deserialize)]
pub struct TrustSettings {
    /// Peers (the edge) whose `X-Real-IP` names the client.
    pub proxies: TrustedProxies,
}

/// Why settings that parsed cannot run.
#[derive(Debug, thiserror::Error)]
pub enum InvalidSettings {
    #[error(transparent)]
    Secret(#[from] SecretRefused),
    #[error("auth.previous_secret is set but auth.previous_kid is empty: name the previous key or drop it")]
    PreviousSecretWithoutKid,
    #[error("auth.previous_kid must differ from auth.kid")]
    SameKid,
    #[error("auth.{0} must not be empty")]
    Empty(&'static str),
    #[error("auth.max_lifetime must be longer than 0s")]
    NoLifetime,
}

impl Settings {
    /// Checks what the types cannot, before anything starts: the token keys
    /// (no placeholder, no guessable value) and the token rules.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let auth = &self.auth;
        secrets::require_strong(
            "auth.secret",
            auth.secret.expose_secret(),
            secrets::GENERATE_BASE64,
        )?;
        let previous_secret = auth.previous_secret.expose_secret();
        match auth.previous_kid.as_str() {
            "" if !previous_secret.is_empty() => {
                return Err(InvalidSettings::PreviousSecretWithoutKid)
            }
            "" => {}
            kid if kid == auth.kid => return Err(InvalidSettings::SameKid),
            _ => secrets::require_strong(
                "auth.previous_secret",
                previous_secret,
                secrets::GENERATE_BASE64,
            )?,
        }
        for (name, value) in [
            ("kid", &auth.kid),
            ("audience", &auth.audience),
            ("issuer", &auth.issuer),
        ] {
            if value.trim().is_empty() {
                return Err(InvalidSettings::Empty(name));
            }
        }
        if auth.max_lifetime.is_zero() {
            return Err(InvalidSettings::NoLifetime);
        }
        Ok(())
    }
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
    /// The `aud` every token must carry.
    pub audience: String,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The longest `exp - iat` accepted.
    #[serde(with = "vibes_config::duration")]
    pub max_lifetime: Duration,
}

impl AuthSettings {
    /// What tokens must say about their issuer, audience and lifetime.
    pub fn rules(&self) -> TokenRules {
        TokenRules {
            audience: self.audience.clone(),
            issuer: self.issuer.clone(),
            max_lifetime: self.max_lifetime,
        }
    }

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
    #[serde(with = "vibes_config::duration")]
    pub connect_timeout: Duration,
    #[serde(with = "vibes_config::duration")]
    pub request_timeout: Duration,
    #[serde(with = "vibes_config::duration")]
    pub ingest_timeout: Duration,
}

vibes_web::service_settings!(Settings, include_str!("../config/default.toml"));
