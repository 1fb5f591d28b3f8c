use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use vibes_config::duration::{require_nonzero, ZeroDuration};
use vibes_config::ServerSettings;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    /// The Prometheus `/metrics` listener, apart from the API.
    pub metrics: ServerSettings,
    pub engine: EngineSettings,
    pub health: HealthSettings,
    pub docker: DockerSettings,
    pub registry: RegistrySettings,
    pub operator: OperatorSettings,
}

/// Who may see SRS's whole stats through the public API.
#[derive(Debug, Clone, Deserialize)]
pub struct OperatorSettings {
    pub token: secrecy::SecretString,
}

/// How the supervisor relates to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineMode {
    /// Spawns the engine as its child process and restarts it.
    Child,
    /// Manages the engine's container through the Docker Engine API.
    Docker,
    /// Probes the engine and serves its stats; something else (the kubelet) restarts it.
    Observe,
}

impl EngineMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Child => "child",
            Self::Docker => "docker",
            Self::Observe => "observe",
        }
    }
}

/// Where SRS writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    /// `engine.log` in the engine's folder (child mode).
    File,
    /// Standard output, which a container runtime collects.
    Console,
}

/// SRS (the only engine): its ports, hooks, HLS and connection limit. The
/// same settings render its config file in every environment.
#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub mode: EngineMode,
    pub binary: String,
    pub work_dir: PathBuf,
    pub host: String,
    pub listen_host: String,
    pub rtmp_port: u16,
    pub http_port: u16,
    pub api_port: u16,
    pub log_level: String,
    pub log_to: LogTarget,
    pub hooks_url: String,
    pub hls: HlsSettings,
    pub capacity: CapacitySettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HlsSettings {
    #[serde(with = "vibes_config::duration")]
    pub fragment: Duration,
    #[serde(with = "vibes_config::duration")]
    pub window: Duration,
    #[serde(with = "vibes_config::duration")]
    pub dispose: Duration,
}

/// What SRS's `max_connections` must hold: SRS drops connections past it.
#[derive(Debug, Clone, Deserialize)]
pub struct CapacitySettings {
    pub streams: u32,
    pub relays_per_stream: u32,
    pub headroom: u32,
}

impl CapacitySettings {
    /// Every stream's publisher and edge relays, plus headroom.
    pub fn max_connections(&self) -> u32 {
        self.streams
            .saturating_mul(self.relays_per_stream.saturating_add(1))
            .saturating_add(self.headroom)
    }
}

/// Why settings that parsed cannot run.
#[derive(Debug, thiserror::Error)]
pub enum InvalidSettings {
    #[error("engine.{0} must be a port (1-65535), not 0")]
    Port(&'static str),
    #[error("engine.rtmp_port, http_port and api_port must differ")]
    SamePorts,
    #[error("engine.log_level must be one of verbose, info, trace, warn, error, not {0:?}")]
    LogLevel(String),
    #[error("engine.hls.fragment must be at least 1s and engine.hls.window at least one fragment")]
    HlsTiming,
    #[error("engine.capacity.streams must be at least 1")]
    NoStreams,
    #[error("engine.hooks_url must be an http:// URL (SRS posts no https), not {0:?}")]
    HooksUrl(String),
    #[error(transparent)]
    OperatorToken(#[from] vibes_config::secrets::SecretRefused),
    #[error(transparent)]
    Zero(#[from] ZeroDuration),
    #[error("health.restart_backoff must name at least one wait")]
    NoBackoff,
}

impl Settings {
    /// Checks what the types cannot: called at startup, so a bad value stops
    /// the service with the setting's name instead of failing later in SRS.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let engine = &self.engine;
        for (name, port) in [
            ("rtmp_port", engine.rtmp_port),
            ("http_port", engine.http_port),
            ("api_port", engine.api_port),
        ] {
            if port == 0 {
                return Err(InvalidSettings::Port(name));
            }
        }
        if engine.rtmp_port == engine.http_port
            || engine.rtmp_port == engine.api_port
            || engine.http_port == engine.api_port
        {
            return Err(InvalidSettings::SamePorts);
        }
        if !["verbose", "info", "trace", "warn", "error"].contains(&engine.log_level.as_str()) {
            return Err(InvalidSettings::LogLevel(engine.log_level.clone()));
        }
        if engine.hls.fragment < Duration::from_secs(1) || engine.hls.window < engine.hls.fragment {
            return Err(InvalidSettings::HlsTiming);
        }
        if engine.capacity.streams == 0 {
            return Err(InvalidSettings::NoStreams);
        }
        if !engine.hooks_url.is_empty() && !engine.hooks_url.starts_with("http://") {
            return Err(InvalidSettings::HooksUrl(engine.hooks_url.clone()));
        }
        let health = &self.health;
        require_nonzero(&[
            ("health.probe_interval", health.probe_interval),
            ("health.probe_timeout", health.probe_timeout),
            ("health.startup_timeout", health.startup_timeout),
            ("health.crash_loop_window", health.crash_loop_window),
        ])?;
        if health.restart_backoff.is_empty() {
            return Err(InvalidSettings::NoBackoff);
        }
        let operator_token = secrecy::ExposeSecret::expose_secret(&self.operator.token);
        if !operator_token.is_empty() {
            vibes_config::secrets::require_strong(
                "operator.token",
                operator_token,
                vibes_config::secrets::GENERATE_HEX,
            )?;
        }
        Ok(())
    }
}

/// The SRS container of the `docker` mode.
#[derive(Debug, Clone, Deserialize)]
pub struct DockerSettings {
    /// The Docker Engine API's unix socket.
    pub socket: PathBuf,
    /// The API version every request names (`/v<version>/...`).
    pub api_version: String,
    /// Name of the engine's container: inspected, started, restarted, and
    /// created from the settings below when it is missing.
    pub container: String,
    pub image: String,
    /// The container's command, split on whitespace.
    pub command: String,
    /// Host path of the SRS config file mounted into a created container;
    /// empty = a missing container is reported, not created.
    pub config_host_path: String,
    /// Named volume for the HLS files of a created container (empty = none).
    pub hls_volume: String,
    /// Networks a created container joins (space-separated), under `network_alias`.
    pub networks: String,
    pub network_alias: String,
    /// How long the engine gets to stop before Docker kills it on a
    /// restart (Docker counts whole seconds).
    #[serde(with = "vibes_config::duration")]
    pub stop_timeout: Duration,
}

impl DockerSettings {
    pub fn command_words(&self) -> Vec<String> {
        self.command.split_whitespace().map(str::to_owned).collect()
    }

    pub fn network_names(&self) -> Vec<String> {
        self.networks
            .split([' ', ','])
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The session registry, whose leases count listeners the engine cannot see.
#[derive(Debug, Clone, Deserialize)]
pub struct RegistrySettings {
    /// Base URL of its API (`GET /streams/active`); empty = engine counts only.
    pub url: String,
    #[serde(with = "vibes_config::duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HealthSettings {
    #[serde(with = "vibes_config::duration")]
    pub probe_interval: Duration,
    #[serde(with = "vibes_config::duration")]
    pub probe_timeout: Duration,
    pub failures_before_restart: u32,
    #[serde(with = "vibes_config::duration")]
    pub startup_timeout: Duration,
    #[serde(with = "vibes_config::duration::list")]
    pub restart_backoff: Vec<Duration>,
    pub crash_loop_failures: usize,
    #[serde(with = "vibes_config::duration")]
    pub crash_loop_window: Duration,
}

impl HealthSettings {
    /// Wait before restart number `attempt` (0-based) in a row, ±20 %
    /// jitter so restarts of many supervisors do not march in step.
    pub fn wait_before_restart(&self, attempt: u32) -> Duration {
        let steps = &self.restart_backoff;
        let wait = steps
            .get(attempt as usize)
            .or(steps.last())
            .copied()
            .unwrap_or(Duration::from_secs(1));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let jitter = 0.8 + f64::from(nanos % 401) / 1000.0;
        wait.mul_f64(jitter)
    }
}

vibes_web::service_settings!(Settings, include_str!("../config/default.toml"));
