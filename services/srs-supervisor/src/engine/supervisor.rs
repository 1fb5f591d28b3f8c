//! Owns the engine process: spawns it, waits until it answers, probes it,
//! restarts it with backoff when it exits or stops answering, stops it.

use crate::configuration::{EngineKind, Settings};
use crate::engine::probe::probe;
use crate::engine::status::{EngineState, EngineStatus};
use crate::engine::xiu;
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Time the engine gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
const STARTUP_POLL: Duration = Duration::from_millis(100);

pub struct EngineSupervisor {
    status: Arc<RwLock<EngineStatus>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl EngineSupervisor {
    /// Writes the engine's configuration and starts supervising it.
    pub fn start(settings: Settings) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.engine.work_dir)?;
        let config = match settings.engine.kind {
            EngineKind::Xiu => xiu::render_config(&settings.engine),
        };
        std::fs::write(settings.engine.work_dir.join("engine.toml"), config)?;
        let status = Arc::new(RwLock::new(EngineStatus::default()));
        let (stop, stop_requested) = watch::channel(false);
        let worker = Worker {
            settings,
            status: status.clone(),
            stop_requested,
        };
        let task = tokio::spawn(worker.supervise());
        Ok(Self {
            status,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    pub fn status(&self) -> EngineStatus {
        self.status.read().expect("status lock").clone()
    }

    /// Stops the engine gracefully (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().expect("task lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

enum RunOutcome {
    StopRequested,
    Failed(String),
}

struct Worker {
    settings: Settings,
    status: Arc<RwLock<EngineStatus>>,
    stop_requested: watch::Receiver<bool>,
}

impl Worker {
    async fn supervise(mut self) {
        let mut failures_in_a_row = 0;
        let mut recent_failures = VecDeque::new();
        loop {
            let outcome = match self.spawn() {
                Ok(mut child) => {
                    let outcome = self.watch(&mut child).await;
                    match outcome {
                        RunOutcome::StopRequested => terminate(&mut child).await,
                        RunOutcome::Failed(_) => {
                            let _ = child.kill().await;
                        }
                    }
                    outcome
                }
                Err(error) => RunOutcome::Failed(format!(
                    "could not start {}: {error}",
                    self.settings.engine.binary
                )),
            };
            let reason = match outcome {
                RunOutcome::StopRequested => {
                    self.update(|status| {
                        status.state = EngineState::Stopped;
                        status.pid = None;
                    });
                    tracing::info!("engine stopped");
                    return;
                }
                RunOutcome::Failed(reason) => reason,
            };
            if self.status.read().expect("status lock").state == EngineState::Running {
                failures_in_a_row = 0;
            }
            let backoff = self.settings.health.restart_backoff(failures_in_a_row);
            failures_in_a_row += 1;
            let crash_loop = self.note_failure(&mut recent_failures);
            metrics::counter!("vibes_engine_restarts_total").increment(1);
            metrics::gauge!("vibes_engine_up").set(0.0);
            tracing::warn!(%reason, ?backoff, failures_in_a_row, crash_loop, "engine failed; restarting");
            self.update(|status| {
                status.state = EngineState::Restarting;
                status.pid = None;
                status.restarts += 1;
                status.last_failure = Some(reason);
                status.crash_loop = crash_loop;
            });
            if self.sleep_unless_stopped(backoff).await {
                self.update(|status| status.state = EngineState::Stopped);
                return;
            }
        }
    }

    /// Records a failure; true when the window now holds a crash loop.
    fn note_failure(&self, recent: &mut VecDeque<Instant>) -> bool {
        let now = Instant::now();
        let window = self.settings.health.crash_loop_window();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|failed| now.duration_since(*failed) > window)
        {
            recent.pop_front();
        }
        recent.len() >= self.settings.health.crash_loop_failures
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let engine = &self.settings.engine;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(engine.work_dir.join("engine.log"))?;
        let child = Command::new(&engine.binary)
            .args(["--config", "engine.toml"])
            .current_dir(&engine.work_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        tracing::info!(pid = child.id(), binary = %engine.binary, "engine process started");
        self.update(|status| {
            status.state = EngineState::Starting;
            status.pid = child.id();
            status.started_at = Some(std::time::SystemTime::now());
        });
        Ok(child)
    }

    /// Waits for the engine to answer, then probes it until it fails or a stop is requested.
    async fn watch(&mut self, child: &mut Child) -> RunOutcome {
        let health = self.settings.health.clone();
        let deadline = Instant::now() + health.startup_timeout();
        loop {
            if let Some(outcome) = self.exited_or_stopped(child).await {
                return outcome;
            }
            match probe(&self.settings.engine, health.probe_timeout()).await {
                Ok(()) => break,
                Err(reason) if Instant::now() >= deadline => {
                    return RunOutcome::Failed(format!(
                        "not answering after {:?}: {reason}",
                        health.startup_timeout()
                    ))
                }
                Err(_) => tokio::time::sleep(STARTUP_POLL).await,
            }
        }
        self.update(|status| status.state = EngineState::Running);
        metrics::gauge!("vibes_engine_up").set(1.0);
        tracing::info!(pid = child.id(), "engine running");

        let mut failed_probes = 0;
        let mut interval = tokio::time::interval(health.probe_interval());
        loop {
            tokio::select! {
                exit = child.wait() => {
                    return RunOutcome::Failed(match exit {
                        Ok(status) => format!("engine exited: {status}"),
                        Err(error) => format!("engine wait failed: {error}"),
                    });
                }
                _ = self.stop_requested.changed() => return RunOutcome::StopRequested,
                _ = interval.tick() => {
                    match probe(&self.settings.engine, health.probe_timeout()).await {
                        Ok(()) => failed_probes = 0,
                        Err(reason) => {
                            failed_probes += 1;
                            tracing::warn!(%reason, failed_probes, "engine probe failed");
                            if failed_probes >= health.failures_before_restart {
                                return RunOutcome::Failed(format!("{failed_probes} probes failed: {reason}"));
                            }
                        }
                    }
                }
            }
        }
    }

    async fn exited_or_stopped(&self, child: &mut Child) -> Option<RunOutcome> {
        if *self.stop_requested.borrow() {
            return Some(RunOutcome::StopRequested);
        }
        match child.try_wait() {
            Ok(Some(status)) => Some(RunOutcome::Failed(format!(
                "engine exited during start: {status}"
            ))),
            Ok(None) => None,
            Err(error) => Some(RunOutcome::Failed(format!("engine wait failed: {error}"))),
        }
    }

    /// Returns true if a stop was requested while sleeping.
    async fn sleep_unless_stopped(&mut self, duration: Duration) -> bool {
        if *self.stop_requested.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = self.stop_requested.changed() => true,
        }
    }

    fn update(&self, change: impl FnOnce(&mut EngineStatus)) {
        change(&mut self.status.write().expect("status lock"));
    }
}

/// SIGTERM first so the engine closes its connections; SIGKILL if it lingers.
async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: plain syscall on a pid we own and have not reaped yet.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}
