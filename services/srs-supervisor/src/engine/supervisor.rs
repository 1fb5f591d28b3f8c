//! The supervisor's handle and what its modes share: the engine's status,
//! the stop signal, watching the engine through its probes, and the
//! bookkeeping of a restart. Each mode (child, docker, observe) is a loop in
//! its own module that decides what "start" and "restart" mean.

use crate::configuration::{EngineMode, Settings};
use crate::engine::probe::probe;
use crate::engine::restarts::Restarts;
use crate::engine::status::{EngineState, EngineStatus};
use crate::engine::{child, docker, observe};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const STARTUP_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("the engine's folder could not be prepared: {0}")]
    WorkDir(#[from] std::io::Error),
}

pub struct EngineSupervisor {
    status: Arc<RwLock<EngineStatus>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl EngineSupervisor {
    /// Starts supervising the engine the way `engine.mode` says.
    pub fn start(settings: Settings) -> Result<Self, SupervisorError> {
        if settings.engine.mode == EngineMode::Child {
            child::prepare(&settings.engine)?;
        }
        let status = Arc::new(RwLock::new(EngineStatus::new(settings.engine.mode)));
        let (stop, stop_requested) = watch::channel(false);
        let mode = settings.engine.mode;
        let context = Context {
            settings,
            status: status.clone(),
            stop_requested,
        };
        let task = match mode {
            EngineMode::Child => tokio::spawn(child::supervise(context)),
            EngineMode::Docker => tokio::spawn(docker::supervise(context)),
            EngineMode::Observe => tokio::spawn(observe::supervise(context)),
        };
        Ok(Self {
            status,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    pub fn status(&self) -> EngineStatus {
        self.status.read().expect("status lock").clone()
    }

    /// Stops supervising; in child mode the engine is stopped gracefully
    /// (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().expect("task lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

pub(crate) enum Outcome {
    StopRequested,
    Failed(String),
}

/// What a mode's loop works with.
pub(crate) struct Context {
    pub settings: Settings,
    status: Arc<RwLock<EngineStatus>>,
    stop_requested: watch::Receiver<bool>,
}

impl Context {
    pub fn restarts(&self) -> Restarts {
        Restarts::new(self.settings.engine.mode, self.settings.health.clone())
    }

    pub fn update(&self, change: impl FnOnce(&mut EngineStatus)) {
        change(&mut self.status.write().expect("status lock"));
    }

    pub fn state(&self) -> EngineState {
        self.status.read().expect("status lock").state
    }

    /// Waits for the engine to answer its probes (up to the startup timeout),
    /// then probes it until it fails or a stop is requested. `exited`
    /// resolves, with the exit status, when the engine is known to be gone.
    pub async fn watch<Exit>(&mut self, restarts: &mut Restarts, exited: Exit) -> Outcome
    where
        Exit: Future<Output = String>,
    {
        tokio::pin!(exited);
        let health = self.settings.health.clone();
        let deadline = Instant::now() + health.startup_timeout;
        loop {
            if *self.stop_requested.borrow() {
                return Outcome::StopRequested;
            }
            let answer = tokio::select! {
                status = &mut exited => {
                    return Outcome::Failed(format!("engine exited during start: {status}"));
                }
                _ = self.stop_requested.changed() => return Outcome::StopRequested,
                answer = probe(&self.settings.engine, health.probe_timeout) => answer,
            };
            match answer {
                Ok(()) => break,
                Err(reason) if Instant::now() >= deadline => {
                    return Outcome::Failed(format!(
                        "not answering after {:?}: {reason}",
                        health.startup_timeout
                    ))
                }
                Err(_) => tokio::time::sleep(STARTUP_POLL).await,
            }
        }
        self.update(|status| status.state = EngineState::Running);
        restarts.recovered();
        tracing::info!(
            engine.mode = self.settings.engine.mode.name(),
            "engine running"
        );

        let mut failed_probes = 0;
        let mut interval = tokio::time::interval(health.probe_interval);
        loop {
            tokio::select! {
                status = &mut exited => return Outcome::Failed(format!("engine exited: {status}")),
                _ = self.stop_requested.changed() => return Outcome::StopRequested,
                _ = interval.tick() => {
                    match probe(&self.settings.engine, health.probe_timeout).await {
                        Ok(()) => failed_probes = 0,
                        Err(reason) => {
                            failed_probes += 1;
                            tracing::warn!(%reason, failed_probes, "engine probe failed");
                            if failed_probes >= health.failures_before_restart {
                                return Outcome::Failed(format!("{failed_probes} probes failed: {reason}"));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Records the failure, reports it, and waits out the backoff. Returns
    /// true if a stop was requested meanwhile (the status then says stopped).
    pub async fn restart_after(&mut self, restarts: &mut Restarts, reason: String) -> bool {
        let was_running = self.state() == EngineState::Running;
        let plan = restarts.failed(&reason, was_running);
        self.update(|status| {
            status.state = EngineState::Restarting;
            status.pid = None;
            status.restarts += 1;
            status.last_failure = Some(reason);
            status.crash_loop = plan.crash_loop;
        });
        if self.sleep_unless_stopped(plan.backoff).await {
            self.stopped(restarts);
            return true;
        }
        false
    }

    pub fn stopped(&self, restarts: &mut Restarts) {
        restarts.stopped();
        self.update(|status| {
            status.state = EngineState::Stopped;
            status.pid = None;
        });
    }

    /// Returns true if a stop was requested while sleeping.
    pub async fn sleep_unless_stopped(&mut self, duration: Duration) -> bool {
        if *self.stop_requested.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = self.stop_requested.changed() => true,
        }
    }
}
