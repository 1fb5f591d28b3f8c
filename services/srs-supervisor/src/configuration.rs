use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use vibes_config::{ServerSettings, SettingsError};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_level: String,
    pub server: ServerSettings,
    pub engine: EngineSettings,
    pub health: HealthSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Xiu,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub kind: EngineKind,
    pub binary: String,
    pub work_dir: PathBuf,
    pub host: String,
    pub rtmp_port: u16,
    pub httpflv_port: u16,
    pub hls_port: u16,
    pub api_port: u16,
    pub log_level: String,
    pub hooks_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HealthSettings {
    pub probe_interval_ms: u64,
    pub probe_timeout_ms: u64,
    pub failures_before_restart: u32,
    pub startup_timeout_ms: u64,
    pub restart_backoff_ms: Vec<u64>,
    pub crash_loop_failures: usize,
    pub crash_loop_window_ms: u64,
}

impl HealthSettings {
    pub fn probe_interval(&self) -> Duration {
        Duration::from_millis(self.probe_interval_ms)
    }

    pub fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.probe_timeout_ms)
    }

    pub fn startup_timeout(&self) -> Duration {
        Duration::from_millis(self.startup_timeout_ms)
    }

    /// Wait before restart number `attempt` (0-based) in a row, ±20 %
    /// jitter so restarts of many supervisors do not march in step.
    pub fn restart_backoff(&self, attempt: u32) -> Duration {
        let steps = &self.restart_backoff_ms;
        let millis = steps
            .get(attempt as usize)
            .or(steps.last())
            .copied()
            .unwrap_or(1000);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let jitter = 0.8 + f64::from(nanos % 401) / 1000.0;
        Duration::from_millis(millis).mul_f64(jitter)
    }

    pub fn crash_loop_window(&self) -> Duration {
        Duration::from_millis(self.crash_loop_window_ms)
    }
}

/// The compiled-in defaults (`config/default.toml`).
pub const DEFAULTS: &str = include_str!("../config/default.toml");

pub fn load() -> Result<Settings, SettingsError> {
    vibes_config::load(DEFAULTS)
}
