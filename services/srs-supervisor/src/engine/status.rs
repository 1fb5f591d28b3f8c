use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineState {
    Starting,
    Running,
    Restarting,
    Stopped,
}

/// What the supervisor knows about the engine, as served on `/engine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineStatus {
    pub state: EngineState,
    pub pid: Option<u32>,
    pub restarts: u64,
    pub last_failure: Option<String>,
    /// Too many failures in the crash-loop window: readiness stays red.
    pub crash_loop: bool,
    /// When the running engine process started.
    #[serde(skip)]
    pub started_at: Option<std::time::SystemTime>,
}

impl Default for EngineStatus {
    fn default() -> Self {
        Self {
            state: EngineState::Starting,
            pid: None,
            restarts: 0,
            last_failure: None,
            crash_loop: false,
            started_at: None,
        }
    }
}
