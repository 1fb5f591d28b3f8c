use crate::configuration::EngineMode;
use serde::Serialize;
use vibes_domain::api::PartHealth;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineState {
    Starting,
    Running,
    Restarting,
    /// Observe mode: the engine does not answer; someone else restarts it.
    Down,
    Stopped,
}

/// What the supervisor knows about the engine, as served on `/engine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineStatus {
    pub mode: &'static str,
    pub state: EngineState,
    pub pid: Option<u32>,
    /// Docker mode: the engine container's id.
    pub container: Option<String>,
    pub restarts: u64,
    pub last_failure: Option<String>,
    /// Too many failures in the crash-loop window: readiness stays red.
    pub crash_loop: bool,
    /// When the running engine process started.
    #[serde(skip)]
    pub started_at: Option<std::time::SystemTime>,
}

impl EngineStatus {
    /// Up while the engine runs and answers its probes (readiness).
    pub fn health(&self) -> PartHealth {
        let reason = self.last_failure.as_deref().unwrap_or_default();
        if self.crash_loop {
            PartHealth::down(format!("engine in a crash loop; last failure: {reason}"))
        } else if self.state == EngineState::Running {
            PartHealth::up()
        } else {
            PartHealth::down(
                format!("engine is {:?}; last failure: {reason}", self.state).to_lowercase(),
            )
        }
    }

    pub fn new(mode: EngineMode) -> Self {
        Self {
            mode: mode.name(),
            state: EngineState::Starting,
            pid: None,
            container: None,
            restarts: 0,
            last_failure: None,
            crash_loop: false,
            started_at: None,
        }
    }
}
